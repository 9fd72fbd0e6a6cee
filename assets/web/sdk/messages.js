// The messages of the tickwire protocol (PROTOCOL.md §4) that any game's client sends and
// reads. What is a game's own is left to the game layer: the bytes of its input (it supplies
// `encodeInput`), and the game-specific tails of Welcome (arena: the map), Event and
// MatchEnded, which it decodes with hooks, or which come out as raw bytes.
//
// The framing of Hello and of Input is each in ONE function below (`encodeHello`,
// `encodeInput`). Since protocol version 3 a Hello names its game and the schema hash it was
// built for, and an Input carries the game's input as a length-prefixed payload.

import { DecodeError, EncodeError, Reader, Writer, toBytes } from './wire.js';

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 3;
/** Largest client message the server accepts, bytes. */
export const CLIENT_MSG_LIMIT = 16 * 1024;
/** Largest server message a client accepts, bytes. */
export const SERVER_MSG_LIMIT = 8 * 1024 * 1024;
/** Length of a session secret, bytes. */
export const SECRET_LEN = 16;
/** Longest game name a Hello or Welcome carries, bytes of UTF-8 (longer does not decode). */
export const MAX_GAME_NAME_BYTES = 32;
/** Longest game input payload an Input carries, bytes (longer does not decode). */
export const MAX_INPUT_PAYLOAD_BYTES = 64;

/** Close codes (PROTOCOL.md §6). */
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  ABNORMAL: 1006,
  DECODE_ERROR: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  IDLE_TIMEOUT: 4000,
  JOIN_REJECTED: 4001,
  SESSION_REPLACED: 4002,
});

/** Match phases of the State header, by wire index. */
export const PHASES = Object.freeze(['Waiting', 'Running', 'Ended']);
/** Reasons of a Reject, by wire index. */
export const REJECT_REASONS = Object.freeze([
  'VersionMismatch', 'Full', 'NoSuchMatch', 'BadSession', 'SeatExpired', 'Draining', 'Malformed',
  'AddressLimit', 'BadReservation', 'SeatElsewhere', 'InstanceGone', 'ClusterUnavailable',
  'UnknownGame', 'SchemaMismatch',
]);
/** Join targets of a Hello, by wire index. */
export const JOIN_TARGETS = Object.freeze(['Any', 'Match', 'Spectate', 'Reserved']);
/** Bytes of a matchmaker reservation token (`{type: 'Reserved', match_id, token}`). */
export const RESERVATION_TOKEN_LEN = 16;
/** Client message tags (the first byte of each message). */
export const CLIENT_TAGS = Object.freeze({
  Hello: 0, Input: 1, Ack: 2, Ping: 3, Leave: 4, Chat: 5, Mute: 6, Request: 7,
});
const SERVER_TAGS = Object.freeze([
  'Welcome', 'Reject', 'State', 'Pong', 'Event', 'MatchEnded', 'Chat', 'ChatRefused', 'Reply',
  'RequestRefused',
]);
/** Reasons of a RequestRefused, by wire index. */
export const REQUEST_REFUSAL_REASONS = Object.freeze([
  'Malformed', 'TooLarge', 'RateLimited', 'Refused', 'NotPlayer',
]);
/**
 * Longest request payload the server hands its game, bytes; a longer one is answered
 * `RequestRefused{TooLarge}` (the wire carries it; only the message limit bounds it).
 */
export const MAX_REQUEST_BYTES = 256;
/** Reasons of a ChatRefused, by wire index. */
export const CHAT_REFUSAL_REASONS = Object.freeze([
  'Disabled', 'Empty', 'TooLong', 'RateLimited', 'Silenced', 'Spectator',
]);

/** Writes a session token: match id, player id, 16 secret bytes. */
function writeToken(w, t) {
  w.u64(t.match_id, 'session.match_id');
  w.u32(t.player_id, 'session.player_id');
  if (!(t.secret instanceof Uint8Array) || t.secret.length !== SECRET_LEN) {
    throw new EncodeError(`session.secret must be a Uint8Array of ${SECRET_LEN} bytes`);
  }
  w.bytes(t.secret);
}

/** Reads a session token. */
export function readToken(r) {
  return { match_id: r.u64(), player_id: r.u32(), secret: r.raw(SECRET_LEN) };
}

/** A reservation token as its 16 bytes, from bytes or hex (the matchmaker's JSON gives hex). */
function reservationToken(token) {
  let bytes = token;
  if (typeof token === 'string') {
    if (!/^[0-9a-f]{32}$/i.test(token)) throw new EncodeError('join.token must be 32 hex digits');
    bytes = Uint8Array.from(token.match(/../g), (h) => parseInt(h, 16));
  }
  if (bytes == null || bytes.length !== RESERVATION_TOKEN_LEN) {
    throw new EncodeError(`join.token must be ${RESERVATION_TOKEN_LEN} bytes`);
  }
  return bytes;
}

/** A schema hash as the u32 the wire carries: 8 hex digits (as `/schema.json` gives it) or a number. */
export function schemaHashValue(hash) {
  if (typeof hash === 'string') {
    if (!/^[0-9a-f]{8}$/i.test(hash)) throw new EncodeError('schemaHash must be 8 hex digits');
    return parseInt(hash, 16);
  }
  if (!Number.isInteger(hash) || hash < 0 || hash > 0xffffffff) {
    throw new EncodeError('schemaHash must be 8 hex digits or a u32');
  }
  return hash;
}

/**
 * The Hello that opens every connection. Its whole framing is here.
 *
 * Bytes: tag `00`, `version` (u16 varint), `game` (Option<String>: the game's name, at most
 * MAX_GAME_NAME_BYTES; null joins the server's default game), `schemaHash`
 * (Option<u32>: the hash of the schema the client decodes with, as `/schema.json`'s 8 hex
 * digits or a number; null skips the server's check), `name` (string), `session`
 * (Option<SessionToken>: resumes the seat, `join` is then ignored), `join` (`{type: 'Any'}`,
 * `{type: 'Match', match_id}`, `{type: 'Spectate', match_id}` or `{type: 'Reserved', match_id,
 * token}` with the 16 token bytes of a matchmaker reservation, as bytes or 32 hex digits).
 *
 * @returns {Uint8Array}
 */
export function encodeHello({ version = PROTOCOL_VERSION, name, session = null, join = { type: 'Any' }, game = null, schemaHash = null }) {
  const w = new Writer(48);
  w.u32(CLIENT_TAGS.Hello);
  w.u16(version, 'version');
  if (game == null) {
    w.byte(0);
  } else {
    if (typeof game !== 'string') throw new EncodeError('game must be a string');
    if (utf8Length(game) > MAX_GAME_NAME_BYTES) {
      throw new EncodeError(`game name is over ${MAX_GAME_NAME_BYTES} bytes`);
    }
    w.byte(1);
    w.string(game, 'game');
  }
  if (schemaHash == null) {
    w.byte(0);
  } else {
    w.byte(1);
    w.u32(schemaHashValue(schemaHash), 'schemaHash');
  }
  w.string(name, 'name');
  if (session == null) {
    w.byte(0);
  } else {
    w.byte(1);
    writeToken(w, session);
  }
  const target = JOIN_TARGETS.indexOf(join.type);
  if (target < 0) throw new EncodeError(`unknown join target ${JSON.stringify(join.type)}`);
  w.u32(target);
  if (join.type !== 'Any') w.u64(join.match_id, 'join.match_id');
  if (join.type === 'Reserved') w.bytes(reservationToken(join.token));
  return w.finish();
}

/**
 * One input of the local player. Its whole framing is here.
 *
 * Bytes: tag `01`, `seq` (u32 varint: 1, 2, 3, …), `ack` (u32 varint: the newest state tick
 * applied), then `payload`, the game's own input exactly as the game's `encodeInput` wrote it
 * (arena: move_x, move_y, aim, buttons; 4 bytes), as a byte string: its length (varint), then
 * the bytes, at most MAX_INPUT_PAYLOAD_BYTES.
 *
 * @param {{seq: number, ack: number, payload: Uint8Array}} input
 * @returns {Uint8Array}
 */
export function encodeInput({ seq, ack, payload }) {
  if (!(payload instanceof Uint8Array)) throw new EncodeError('the game input must be a Uint8Array');
  if (payload.length > MAX_INPUT_PAYLOAD_BYTES) {
    throw new EncodeError(`the game input of ${payload.length} bytes is over ${MAX_INPUT_PAYLOAD_BYTES}`);
  }
  const w = new Writer(12 + payload.length);
  w.u32(CLIENT_TAGS.Input);
  w.u32(seq, 'seq');
  w.u32(ack, 'ack');
  w.u64(payload.length, 'payload length');
  w.bytes(payload);
  return w.finish();
}

const utf8 = new TextEncoder();

/** Bytes of `s` in UTF-8. */
function utf8Length(s) {
  return utf8.encode(s).length;
}

/** A game name (Welcome), refused over MAX_GAME_NAME_BYTES as the Rust decoder does. */
function readGameName(r) {
  const name = r.string();
  if (utf8Length(name) > MAX_GAME_NAME_BYTES) {
    throw new DecodeError(`game name is over ${MAX_GAME_NAME_BYTES} bytes`);
  }
  return name;
}

/** `Ack{tick}`: what a client that sends no inputs (a spectator) acknowledges with. */
export function encodeAck(tick) {
  const w = new Writer(6);
  w.u32(CLIENT_TAGS.Ack);
  w.u32(tick, 'tick');
  return w.finish();
}

/** `Ping{client_time}`: echoed by a Pong, for the round-trip time. */
export function encodePing(clientTime) {
  const w = new Writer(10);
  w.u32(CLIENT_TAGS.Ping);
  w.u64(clientTime, 'client_time');
  return w.finish();
}

/** `Leave`: frees the seat at once. */
export function encodeLeave() {
  return Uint8Array.of(CLIENT_TAGS.Leave);
}

/**
 * `Chat{text}`: one line of in-match chat. The server cleans it (control, invisible and
 * bidirectional characters go) and answers `Chat` to everyone who hears it or `ChatRefused`.
 */
export function encodeChat(text) {
  if (typeof text !== 'string') throw new EncodeError('chat text must be a string');
  const w = new Writer(8 + text.length * 3);
  w.u32(CLIENT_TAGS.Chat);
  w.string(text, 'text');
  const bytes = w.finish();
  if (bytes.length > CLIENT_MSG_LIMIT) throw new EncodeError(`chat line of ${bytes.length} bytes is over the limit`);
  return bytes;
}

/** `Mute{player, muted}`: stops (true) or resumes (false) delivery of one player's chat to us. */
export function encodeMute(player, muted) {
  const w = new Writer(8);
  w.u32(CLIENT_TAGS.Mute);
  w.u32(player, 'player');
  w.bool(muted, 'muted');
  return w.finish();
}

/**
 * `Request{id, payload}`: a game-defined request (a team pick, an emote). `id` (u32) is ours
 * and comes back in the `Reply` or `RequestRefused`; `payload` is the game's bytes behind
 * their length.
 */
export function encodeRequest(id, payload) {
  if (!(payload instanceof Uint8Array)) throw new EncodeError('request payload must be a Uint8Array');
  const w = new Writer(12 + payload.length);
  w.u32(CLIENT_TAGS.Request);
  w.u32(id, 'id');
  w.u64(payload.length, 'payload length');
  w.bytes(payload);
  const bytes = w.finish();
  if (bytes.length > CLIENT_MSG_LIMIT) throw new EncodeError(`request of ${bytes.length} bytes is over the limit`);
  return bytes;
}

/**
 * Reads the game-specific tail of a message with the game's hook, or keeps it as raw bytes.
 * The hook gets the Reader positioned at the tail; what it leaves unread is a DecodeError.
 */
function gameTail(r, hook) {
  return hook ? hook(r) : r.rest();
}

/**
 * Decodes one server message into a plain object tagged with `type`:
 * - `Welcome` `{version, game, schema_hash, player_id, entity_id, match_id, tick_rate, tick,
 *   session, resumed, join}` (`game`: the game joined; `schema_hash`: its schema's hash as a
 *   number, the u32 of `/schema.json`'s hex), where `join` is the game's join information (`game.decodeJoinInfo(reader)`, arena:
 *   its map), or its raw bytes;
 * - `Reject` `{reason, message}`;
 * - `State` `{header: {tick, baseline_age, last_input, phase, phase_ticks_left}, body}`, the
 *   packed delta body as bytes (a Replica decodes it: it needs the baseline);
 * - `Pong` `{client_time, server_tick}`;
 * - `Event` `{event}`: `game.decodeEvent(reader)`, or raw bytes;
 * - `MatchEnded` `{results}`: `game.decodeResults(reader)`, or raw bytes;
 * - `Chat` `{seq, tick, from, name, text}`: one chat line (`from` 0: a spectator);
 * - `ChatRefused` `{reason, limit}`: our last line was not delivered (`limit`: bytes for
 *   TooLong, milliseconds to wait for RateLimited);
 * - `Reply` `{id, payload}`: the game's answer to our request `id` (payload: bytes);
 * - `RequestRefused` `{id, reason, limit, message}`: our request `id` was refused (`limit`:
 *   bytes for TooLarge, milliseconds to wait for RateLimited; `message`: the game's reason for
 *   Refused, the decoder's for Malformed).
 * Anything the server's decoder would reject is a DecodeError.
 *
 * @param {ArrayBuffer|Uint8Array} data one WebSocket message
 * @param {{decodeJoinInfo?: Function, decodeEvent?: Function, decodeResults?: Function}} game
 */
export function decodeServerMessage(data, game = {}) {
  const bytes = toBytes(data);
  if (bytes.length > SERVER_MSG_LIMIT) {
    throw new DecodeError(`message of ${bytes.length} bytes exceeds the ${SERVER_MSG_LIMIT}-byte limit`);
  }
  const r = new Reader(bytes);
  const type = r.variant(SERVER_TAGS, 'ServerMsg');
  let msg;
  switch (type) {
    case 'Welcome':
      msg = {
        type,
        version: r.u16(),
        game: readGameName(r),
        schema_hash: r.u32(),
        player_id: r.u32(),
        entity_id: r.u32(),
        match_id: r.u64(),
        tick_rate: r.u16(),
        tick: r.u32(),
        session: readToken(r),
        resumed: r.bool(),
      };
      msg.join = gameTail(r, game.decodeJoinInfo);
      break;
    case 'Reject':
      msg = { type, reason: r.variant(REJECT_REASONS, 'RejectReason'), message: r.string() };
      break;
    case 'State': {
      const header = {
        tick: r.u32(),
        baseline_age: r.u32(),
        last_input: r.u32(),
        phase: r.variant(PHASES, 'Phase'),
        phase_ticks_left: r.u32(),
      };
      // The delta: a length-prefixed byte string holding the packed body.
      const n = r.length('delta');
      msg = { type, header, body: r.raw(n) };
      break;
    }
    case 'Pong':
      msg = { type, client_time: r.u64(), server_tick: r.u32() };
      break;
    case 'Event':
      msg = { type, event: gameTail(r, game.decodeEvent) };
      break;
    case 'Chat':
      msg = { type, seq: r.u32(), tick: r.u32(), from: r.u32(), name: r.string(), text: r.string() };
      break;
    case 'ChatRefused':
      msg = { type, reason: r.variant(CHAT_REFUSAL_REASONS, 'ChatRefusalReason'), limit: r.u32() };
      break;
    case 'Reply':
      msg = { type, id: r.u32(), payload: r.raw(r.length('payload')) };
      break;
    case 'RequestRefused':
      msg = {
        type,
        id: r.u32(),
        reason: r.variant(REQUEST_REFUSAL_REASONS, 'RequestRefusalReason'),
        limit: r.u32(),
        message: r.string(),
      };
      break;
    default:
      msg = { type, results: gameTail(r, game.decodeResults) };
      break;
  }
  r.end();
  return msg;
}
