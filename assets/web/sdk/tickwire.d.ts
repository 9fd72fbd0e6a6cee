// Type declarations of @tickwire/sdk (tickwire.js and the modules it re-exports).

// ---- wire.js ------------------------------------------------------------------------------

/** Bad input from the network: a message or body that is not a valid encoding. */
export class DecodeError extends Error {
  constructor(message: string);
}

/** A value the wire cannot carry (wrong type, out of range). */
export class EncodeError extends Error {
  constructor(message: string);
}

/** An unsigned 64-bit value: a number when exact (at most 2^53 - 1), else a bigint. */
export type U64 = number | bigint;

/** Appends bincode (standard configuration) values to a growing buffer. */
export class Writer {
  constructor(capacity?: number);
  byte(b: number): void;
  bytes(src: Uint8Array): void;
  varint(v: U64, max: U64, what: string): void;
  u8(v: number, what?: string): void;
  i8(v: number, what?: string): void;
  bool(v: boolean, what?: string): void;
  u16(v: number, what?: string): void;
  u32(v: number, what?: string): void;
  u64(v: U64, what?: string): void;
  i32(v: number, what?: string): void;
  string(s: string, what?: string): void;
  finish(): Uint8Array;
}

/** Reads bincode values; every malformed input is a DecodeError. */
export class Reader {
  constructor(bytes: Uint8Array);
  remaining(): number;
  u8(): number;
  i8(): number;
  bool(): boolean;
  u16(): number;
  u32(): number;
  u64(): U64;
  i32(): number;
  length(what: string): number;
  string(): string;
  raw(n: number): Uint8Array;
  rest(): Uint8Array;
  variant<T extends string>(names: readonly T[], what: string): T;
  option<T>(read: () => T): T | null;
  vec<T>(read: () => T, what: string): T[];
  end(): void;
}

export function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array;
export function toHex(bytes: Uint8Array): string;
export function fromHex(hex: string): Uint8Array;

// ---- bits.js ------------------------------------------------------------------------------

export function unzigzag(z: number): number;

/** Reads the bit strings of a delta body (PROTOCOL.md §2.2). */
export class BitReader {
  constructor(bytes: Uint8Array);
  remaining(): number;
  bits(n: number): number;
  bit(): boolean;
  eg(k: number): number;
  egSigned(k: number): number;
  finish(): void;
}

// ---- schema.js ----------------------------------------------------------------------------

/** A field's type in the served schema (`/schema.json`). */
export type FieldKindDecl =
  | { type: 'pos'; scale: number }
  | { type: 'vel'; of: string; create_order: number }
  | { type: 'u_int'; coding: { bits: number } | { exp_golomb: number } }
  | { type: 's_int'; coding: { bits: number } | { exp_golomb: number } }
  | { type: 'enum'; values: number }
  | { type: 'ref' }
  | { type: 'str'; max_bytes: number };

/** A game's declared replication schema, as the server serves it. */
export interface SchemaDecl {
  name: string;
  groups: string[];
  short_masks: string[][];
  kinds: { name: string; fields: { name: string; group: string | null; kind: FieldKindDecl }[] }[];
}

/** `GET /schema.json`: the declaration and its hash (8 hex digits). */
export interface ServedSchema {
  hash: string;
  schema: SchemaDecl;
}

/** One entity of a world: its numeric fields and its strings, by field name. */
export interface Row {
  id: number;
  /** The kind's name. */
  kind: string;
  /** The kind's code (its index in the schema). */
  kindCode: number;
  /** Numeric fields: wire values in a replica, positions and velocities in world units after `toWorldUnits`. */
  values: Record<string, number>;
  strings: Record<string, string>;
}

/** One update of a decoded delta: residuals for positions, changes for velocities, new values otherwise. */
export interface RowUpdate {
  index: number;
  mask: number;
  values: Record<string, number>;
}

/** A decoded delta body. */
export interface RowDelta {
  removed: number[];
  created: Row[];
  updated: RowUpdate[];
  strings_elided: number[];
}

/** A position field with the velocity that predicts it. */
export interface PositionField {
  name: string;
  scale: number;
  vel: string | null;
}

/** A kind of the schema as the SDK resolved it. */
export interface KindInfo {
  name: string;
  positions: PositionField[];
  mask: number;
}

/** The decoder of one served schema. */
export class SchemaCodec {
  constructor(served: ServedSchema | SchemaDecl);
  readonly name: string;
  /** The schema hash (hex), or null for a bare declaration. */
  readonly hash: string | null;
  readonly decl: SchemaDecl;
  /** True when every kind codes its updates alike (decoding needs no baseline kinds). */
  readonly uniform: boolean;
  kind(code: number): KindInfo | undefined;
  decode(bytes: Uint8Array, kindOf?: (index: number) => number | null | undefined): RowDelta;
}

// ---- replica.js ---------------------------------------------------------------------------

export type ApplyErrorKind =
  | 'Stale' | 'BadBaselineAge' | 'MissingBaseline' | 'UnknownIndex' | 'DuplicateEntity' | 'UnknownName';

/** A frame that does not apply to the replica's worlds. */
export class ApplyError extends Error {
  constructor(kind: ApplyErrorKind, message: string);
  readonly kind: ApplyErrorKind;
}

export const MAX_WORLDS: number;
export const MAX_STRINGS: number;

export type World = Map<number, Row>;

export function applyDelta(codec: SchemaCodec, base: World, delta: RowDelta, age: number): World;

/** The replicated worlds of one connection (PROTOCOL.md §5). */
export class Replica {
  constructor(codec: SchemaCodec);
  readonly codec: SchemaCodec;
  worlds: { tick: number; world: World }[];
  reset(): void;
  stringsOf(id: number): Record<string, string> | null;
  /** The newest applied tick, 0 before the first frame: what to acknowledge. */
  readonly newestTick: number;
  readonly world: World | null;
  worldAt(tick: number): World | null;
  /** Decodes and applies a State frame's body; throws DecodeError or ApplyError. */
  applyBody(tick: number, age: number, body: Uint8Array): World;
  apply(tick: number, age: number, delta: RowDelta): World;
}

// ---- interpolation.js ---------------------------------------------------------------------

export function toWorldUnits(codec: SchemaCodec, row: Row): Row;
export function lerpWrapping(period: number): (a: number, b: number, t: number) => number;

export interface InterpolationOptions {
  /** How far in the past entities are drawn, ms (default 100). */
  delayMs?: number;
  /** A position moving more than this (world units) in one snapshot step jumps (default 64). */
  teleportUnits?: number;
  /** Per field name, how to blend non-position fields (an angle, say). */
  blend?: Record<string, (a: number, b: number, t: number) => number>;
}

export class Interpolator {
  constructor(codec: SchemaCodec, options?: InterpolationOptions);
  delayMs: number;
  setTickRate(rate: number): void;
  reset(): void;
  push(tick: number, world: World, now: number): void;
  renderTick(now: number): number;
  /** Rows in world units as they were `delayMs` before `now`. */
  sample(now: number): World;
}

// ---- prediction.js ------------------------------------------------------------------------

/** What a game supplies to predict its local player. */
export interface PredictionRules<S, I> {
  step(state: S, input: I): void;
  fromRow(row: Row): S | null;
  rebase?(authoritative: S, predicted: S | null): S;
  distance?(a: S, b: S): number;
  snapDistance?: number;
  clone?(state: S): S;
  maxPending?: number;
}

export class Predictor<S = any, I = any> {
  constructor(rules: PredictionRules<S, I>);
  state: S | null;
  pending: { seq: number; input: I; state: S }[];
  lastError: number;
  reset(): void;
  push(seq: number, input: I): void;
  reconcile(row: Row | null, lastInput: number): number;
  reconcileState(authoritative: S, lastInput: number): number;
}

// ---- messages.js --------------------------------------------------------------------------

export const PROTOCOL_VERSION: number;
export const CLIENT_MSG_LIMIT: number;
export const SERVER_MSG_LIMIT: number;
export const SECRET_LEN: number;
/** Longest game name a Hello or Welcome carries, bytes of UTF-8 (32). */
export const MAX_GAME_NAME_BYTES: number;
/** Longest game input payload an Input carries, bytes (64). */
export const MAX_INPUT_PAYLOAD_BYTES: number;
export const CLOSE: Readonly<Record<
  'NORMAL' | 'GOING_AWAY' | 'PROTOCOL_ERROR' | 'UNSUPPORTED_DATA' | 'ABNORMAL' | 'DECODE_ERROR'
  | 'POLICY' | 'TOO_BIG' | 'INTERNAL_ERROR' | 'IDLE_TIMEOUT' | 'JOIN_REJECTED' | 'SESSION_REPLACED', number>>;
export type Phase = 'Waiting' | 'Running' | 'Ended';
export const PHASES: readonly Phase[];
export type RejectReason =
  | 'VersionMismatch' | 'Full' | 'NoSuchMatch' | 'BadSession' | 'SeatExpired' | 'Draining' | 'Malformed' | 'AddressLimit'
  | 'BadReservation' | 'SeatElsewhere' | 'InstanceGone' | 'ClusterUnavailable'
  /** The Hello named a game the server does not host; the message names the ones it does. */
  | 'UnknownGame'
  /** The Hello's schema hash is not the server's; the message gives both hashes. */
  | 'SchemaMismatch';
export const REJECT_REASONS: readonly RejectReason[];
export const JOIN_TARGETS: readonly ('Any' | 'Match' | 'Spectate' | 'Reserved')[];
export const RESERVATION_TOKEN_LEN: number;
export const CLIENT_TAGS: Readonly<Record<'Hello' | 'Input' | 'Ack' | 'Ping' | 'Leave' | 'Chat' | 'Mute' | 'Request', number>>;

export interface SessionToken {
  match_id: U64;
  player_id: number;
  secret: Uint8Array;
}

export type JoinTarget =
  | { type: 'Any' }
  | { type: 'Match'; match_id: U64 }
  | { type: 'Spectate'; match_id: U64 }
  | { type: 'Reserved'; match_id: U64; token: Uint8Array | string };

export interface HelloFields {
  version?: number;
  name: string;
  session?: SessionToken | null;
  join?: JoinTarget;
  /** The game to join (at most 32 bytes of UTF-8); null: the server's default game. */
  game?: string | null;
  /** The schema hash the client decodes with: `/schema.json`'s 8 hex digits, or the u32; null: no check. */
  schemaHash?: string | number | null;
}

export function encodeHello(hello: HelloFields): Uint8Array;
/** Sends `payload` (the game's input, at most MAX_INPUT_PAYLOAD_BYTES) behind its length. */
export function encodeInput(input: { seq: number; ack: number; payload: Uint8Array }): Uint8Array;
/** A schema hash as the wire's u32: from 8 hex digits or a number; EncodeError otherwise. */
export function schemaHashValue(hash: string | number): number;
export function encodeAck(tick: number): Uint8Array;
export function encodePing(clientTime: U64): Uint8Array;
export function encodeLeave(): Uint8Array;
export function encodeChat(text: string): Uint8Array;
export function encodeMute(player: number, muted: boolean): Uint8Array;
/** `Request{id, payload}`: a game-defined request; `id` (u32) comes back in its answer. */
export function encodeRequest(id: number, payload: Uint8Array): Uint8Array;
/** Longest request payload the server hands its game (256); longer ones are refused TooLarge. */
export const MAX_REQUEST_BYTES: number;

/** Why a request was refused. */
export type RequestRefusalReason = 'Malformed' | 'TooLarge' | 'RateLimited' | 'Refused' | 'NotPlayer';
export const REQUEST_REFUSAL_REASONS: readonly RequestRefusalReason[];

/** The game's answer to our request `id`. */
export interface Reply {
  type: 'Reply';
  id: number;
  payload: Uint8Array;
}

/**
 * Our request `id` was refused: `limit` is bytes (TooLarge) or milliseconds to wait
 * (RateLimited); `message` the game's reason (Refused) or the decoder's (Malformed).
 */
export interface RequestRefused {
  type: 'RequestRefused';
  id: number;
  reason: RequestRefusalReason;
  limit: number;
  message: string;
}

/** Why a `sendRequest` promise was rejected: the server's refusal, or it never got an answer. */
export class RequestError extends Error {
  readonly name: 'RequestError';
  readonly reason: RequestRefusalReason | 'NotConnected' | 'ConnectionLost';
  /** The refusal's limit (0 when not refused by the server). */
  readonly limit: number;
  /** The server's refusal, or null. */
  readonly refusal: RequestRefused | null;
}

/** Why a chat line was not delivered. */
export type ChatRefusalReason =
  | 'Disabled' | 'Empty' | 'TooLong' | 'RateLimited' | 'Silenced' | 'Spectator';
export const CHAT_REFUSAL_REASONS: readonly ChatRefusalReason[];

/** One chat line as every listener receives it. */
export interface ChatLine {
  type: 'Chat';
  /** Position in the match's chat, from 1, without gaps (but for muted players' lines). */
  seq: number;
  tick: number;
  /** The sender's player id; 0 for a spectator. */
  from: number;
  name: string;
  text: string;
}

/** Our chat line was refused: `limit` is bytes (TooLong) or milliseconds to wait (RateLimited). */
export interface ChatRefused {
  type: 'ChatRefused';
  reason: ChatRefusalReason;
  limit: number;
}
export function readToken(r: Reader): SessionToken;

export interface FrameHeader {
  tick: number;
  baseline_age: number;
  last_input: number;
  phase: Phase;
  phase_ticks_left: number;
}

/** What a game layer supplies for its own parts of the protocol. */
export interface GameProtocol<I = unknown, J = Uint8Array, E = Uint8Array, R = Uint8Array> {
  /** The game's name, sent in the Hello (none: the server's default game). */
  name?: string;
  /** The bytes of the game's input fields (required to play). */
  encodeInput?(input: I): Uint8Array;
  /** Reads the Welcome's game-specific tail (arena: its map). */
  decodeJoinInfo?(r: Reader): J;
  /** Reads a game event. */
  decodeEvent?(r: Reader): E;
  /** Reads the results of MatchEnded. */
  decodeResults?(r: Reader): R;
}

export interface Welcome<J = Uint8Array> {
  type: 'Welcome';
  version: number;
  /** The game joined. */
  game: string;
  /** The hash of the game's schema, as a number (`/schema.json` gives it as 8 hex digits). */
  schema_hash: number;
  player_id: number;
  entity_id: number;
  match_id: U64;
  tick_rate: number;
  tick: number;
  session: SessionToken;
  resumed: boolean;
  join: J;
}

export type ServerMessage<J = Uint8Array, E = Uint8Array, R = Uint8Array> =
  | Welcome<J>
  | { type: 'Reject'; reason: RejectReason; message: string }
  | { type: 'State'; header: FrameHeader; body: Uint8Array }
  | { type: 'Pong'; client_time: U64; server_tick: number }
  | { type: 'Event'; event: E }
  | { type: 'MatchEnded'; results: R }
  | ChatLine
  | ChatRefused
  | Reply
  | RequestRefused;

export function decodeServerMessage<J, E, R>(
  data: ArrayBuffer | Uint8Array, game?: GameProtocol<unknown, J, E, R>): ServerMessage<J, E, R>;

// ---- connection.js ------------------------------------------------------------------------

export const SESSION_KEY: string;
export type ConnectionState =
  | 'connecting' | 'joining' | 'playing' | 'spectating' | 'reconnecting' | 'ended' | 'seat-lost'
  | 'rejected' | 'replaced' | 'error';
export const STATES: Readonly<Record<
  'CONNECTING' | 'JOINING' | 'PLAYING' | 'SPECTATING' | 'RECONNECTING' | 'ENDED' | 'SEAT_LOST'
  | 'REJECTED' | 'REPLACED' | 'ERROR', ConnectionState>>;

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random?: () => number): number;

/** Where the seat token is kept (sessionStorage in a page). */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function loadToken(storage: TokenStorage | null, key?: string): SessionToken | null;
export function saveToken(storage: TokenStorage | null, token: SessionToken, key?: string): void;
export function clearToken(storage: TokenStorage | null, key?: string): void;

export interface ConnectionOptions {
  url: string;
  name?: string;
  join?: JoinTarget;
  storage?: TokenStorage | null;
  sessionKey?: string;
  game?: GameProtocol<any, any, any, any>;
  schemaHash?: string | null;
  silenceMs?: number;
  welcomeTimeoutMs?: number;
  pingIntervalMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  random?: () => number;
  WebSocket?: { new (url: string): WebSocket };
  now?: () => number;
  callbacks?: {
    onWelcome?(msg: Welcome<any>): void;
    onMessage?(msg: ServerMessage<any, any, any>, byteLength: number): void;
    onState?(state: ConnectionState, detail: string): void;
    onPong?(rttMs: number, serverTick: number): void;
    onBytes?(inBytes: number, outBytes: number): void;
  };
}

export class Connection {
  constructor(options: ConnectionOptions);
  readonly state: ConnectionState;
  readonly detail: string;
  readonly history: ConnectionState[];
  readonly welcome: Welcome<any> | null;
  readonly isSpectator: boolean;
  readonly live: boolean;
  rtt: number | null;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  attempt: number;
  reconnects: number;
  resumes: number;
  retryAt: number;
  lastClose: { code: number | null; reason: string } | null;
  matchEnded: unknown;
  start(): void;
  stop(): void;
  playAgain(): void;
  leave(): void;
  send(bytes: Uint8Array): boolean;
  reconnectNow(why: string): void;
}

// ---- client.js ----------------------------------------------------------------------------

/** `/schema.json` as served: the default game's schema, and every hosted game's by name. */
export interface ServedSchemas extends ServedSchema {
  games?: Record<string, ServedSchema>;
}
/** What `loadSchema` takes besides the URL. */
export interface LoadSchemaOptions {
  /** The game whose schema to decode with (default: the server's default game). */
  game?: string | null;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}
/** Fetches `/schema.json` and returns the decoder of one game's schema (`options.game`). */
export function loadSchema(url?: string, options?: LoadSchemaOptions | typeof fetch): Promise<SchemaCodec>;
/** The served schema of `game` in `/schema.json`'s value (null: the default game's); throws for a game not hosted. */
export function pickSchema(served: ServedSchemas, game?: string | null): ServedSchema;
export function socketUrl(location?: { protocol: string; host: string }): string;

export interface ClientOptions<I, J, E, R> extends Omit<ConnectionOptions, 'game' | 'callbacks' | 'schemaHash'> {
  schema: SchemaCodec | ServedSchema;
  game: GameProtocol<I, J, E, R>;
  predictor?: Predictor<any, I> | null;
  interpolation?: InterpolationOptions;
}

export interface ClientStats {
  state: ConnectionState;
  rtt: number | null;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  framesApplied: number;
  inputsSent: number;
  acksSent: number;
  tick: number;
  reconnects: number;
  resumes: number;
}

export interface ClientEvents<J, E, R> {
  state: (state: ConnectionState, detail: string) => void;
  welcome: (msg: Welcome<J>) => void;
  frame: (frame: { header: FrameHeader; world: World; correction: number }) => void;
  event: (event: E) => void;
  ended: (results: R) => void;
  chat: (line: ChatLine) => void;
  chatRefused: (refusal: ChatRefused) => void;
  reply: (reply: Reply) => void;
  requestRefused: (refusal: RequestRefused) => void;
  pong: (rttMs: number, serverTick: number) => void;
  bytes: (inBytes: number, outBytes: number) => void;
  message: (msg: ServerMessage<J, E, R>, byteLength: number) => void;
  frameError: (error: DecodeError | ApplyError) => void;
}

/** A match client for any game. */
export class TickwireClient<I = unknown, J = Uint8Array, E = Uint8Array, R = Uint8Array> {
  constructor(options: ClientOptions<I, J, E, R>);
  readonly codec: SchemaCodec;
  readonly replica: Replica;
  readonly interpolator: Interpolator;
  readonly conn: Connection;
  /** The local player's prediction; may be replaced (e.g. once the Welcome gives the map). */
  predictor: Predictor<any, I> | null;
  readonly header: FrameHeader | null;
  readonly seq: number;
  readonly results: R | null;
  readonly state: ConnectionState;
  readonly welcome: Welcome<J> | null;
  readonly isSpectator: boolean;
  readonly canSendInput: boolean;
  /** The local player's row in the newest world. */
  readonly self: Row | null;
  on<K extends keyof ClientEvents<J, E, R>>(type: K, fn: ClientEvents<J, E, R>[K]): () => void;
  start(): void;
  stop(): void;
  playAgain(): void;
  leave(): void;
  stats(): ClientStats;
  /** Sends one input; returns its sequence number, or null when not sent. */
  sendInput(input: I): number | null;
  /** Sends one chat line; false when not connected. */
  sendChat(text: string): boolean;
  /** Stops (or resumes) hearing one player's chat. */
  mute(player: number, muted?: boolean): boolean;
  /**
   * Sends a game-defined request; resolves with the game's reply payload (in tick order), or
   * rejects with a RequestError (refused, not sent, or the connection dropped first).
   */
  sendRequest(payload: Uint8Array): Promise<Uint8Array>;
}
