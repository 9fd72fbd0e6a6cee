// @tickwire/sdk: the browser client SDK of tickwire, for any game the server hosts. It
// connects, joins, sends the game's inputs with sequence numbers and acknowledgements, decodes
// State frames with the schema the server serves at /schema.json, keeps the replica,
// interpolates remote entities, offers a prediction hook for the local player, resumes the
// seat after a drop, and reports ping, bytes and connection state. A game's page supplies its
// input's bytes, its drawing and its prediction rules. Declarations: tickwire.d.ts.

export { DecodeError, EncodeError, Reader, Writer, fromHex, toBytes, toHex } from './wire.js';
export { BitReader, unzigzag } from './bits.js';
export { SchemaCodec } from './schema.js';
export { ApplyError, MAX_STRINGS, MAX_WORLDS, Replica, applyDelta } from './replica.js';
export { Interpolator, lerpWrapping, toWorldUnits } from './interpolation.js';
export { Predictor } from './prediction.js';
export {
  CHAT_REFUSAL_REASONS, CLIENT_MSG_LIMIT, CLIENT_TAGS, CLOSE, JOIN_TARGETS, MAX_GAME_NAME_BYTES,
  MAX_INPUT_PAYLOAD_BYTES, MAX_REQUEST_BYTES, PHASES, PROTOCOL_VERSION, REJECT_REASONS,
  REQUEST_REFUSAL_REASONS, RESERVATION_TOKEN_LEN, SECRET_LEN, SERVER_MSG_LIMIT,
  decodeServerMessage, encodeAck, encodeChat, encodeHello, encodeInput, encodeLeave, encodeMute,
  encodePing, encodeRequest, readToken, schemaHashValue,
} from './messages.js';
export {
  Connection, SESSION_KEY, STATES, backoffDelay, clearToken, loadToken, saveToken,
} from './connection.js';
export { RequestError, TickwireClient, loadSchema, pickSchema, socketUrl } from './client.js';
