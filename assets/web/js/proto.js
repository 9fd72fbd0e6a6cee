// tickwire wire protocol, version 1: every message of crates/proto/PROTOCOL.md, encoded and
// decoded exactly like the server's bincode 2 standard configuration (little-endian, varint
// integers, zigzag for signed ones, varint lengths).
//
// Messages are plain objects tagged with `type`; their fields carry the Rust names. Unsigned
// 64-bit fields decode to a Number when it is exact (at most 2^53 - 1) and to a BigInt
// otherwise; encoders accept either. Secrets are Uint8Arrays of 16 bytes.
//
// tests/golden/protocol.json, written by the Rust proto crate, holds the reference bytes this
// module is checked against (tests/golden/protocol.test.mjs).

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;
/** Wire positions are world units times this. */
export const POS_SCALE = 8;
/** Entity flag: alive (a dead player waits to respawn). */
export const FLAG_ALIVE = 1;
/** Entity flag: the player's client is connected. */
export const FLAG_CONNECTED = 2;
/** Input button bit: fire. */
export const BUTTON_FIRE = 1;
/** Largest client message the server accepts, bytes. */
export const CLIENT_MSG_LIMIT = 16 * 1024;
/** Largest server message a client accepts, bytes. */
export const SERVER_MSG_LIMIT = 8 * 1024 * 1024;
/** Length of a session secret, bytes. */
export const SECRET_LEN = 16;

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

export const PHASES = Object.freeze(['Waiting', 'Running', 'Ended']);
export const ENTITY_KINDS = Object.freeze(['Player', 'Projectile']);
export const REJECT_REASONS = Object.freeze([
  'VersionMismatch', 'Full', 'NoSuchMatch', 'BadSession', 'SeatExpired', 'Draining', 'Malformed',
]);
export const END_REASONS = Object.freeze([
  'TimeLimit', 'ScoreLimit', 'Admin', 'Shutdown', 'Abandoned', 'Aborted',
]);
const JOIN_TARGETS = Object.freeze(['Any', 'Match', 'Spectate']);
const CLIENT_TAGS = Object.freeze(['Hello', 'Input', 'Ack', 'Ping', 'Leave']);
const SERVER_TAGS = Object.freeze(['Welcome', 'Reject', 'State', 'Pong', 'Event', 'MatchEnded']);
const EVENT_TAGS = Object.freeze(['Kill', 'PhaseChanged']);

// Varint prefixes (PROTOCOL.md §2.1).
const SINGLE_BYTE_MAX = 250;
const U16_BYTE = 251;
const U32_BYTE = 252;
const U64_BYTE = 253;

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;
const MASK_POS = 1;
const MASK_AIM = 2;
const MASK_HP = 4;
const MASK_MISC = 8;

/** A message that is not a valid encoding (the server would close with 1007). */
export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** A value that cannot be encoded (wrong type, out of range, unsorted ids). */
export class EncodeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EncodeError';
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Appends bincode-encoded values to a growing byte buffer. */
export class Writer {
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.len = 0;
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b) {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(src) {
    this.reserve(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
  }

  u8(v, what = 'u8') {
    intInRange(v, 0, 255, what);
    this.byte(v);
  }

  i8(v, what = 'i8') {
    intInRange(v, -128, 127, what);
    this.byte(v & 0xff);
  }

  bool(v, what = 'bool') {
    if (typeof v !== 'boolean') throw new EncodeError(`${what} must be a boolean`);
    this.byte(v ? 1 : 0);
  }

  /** An unsigned varint of at most `max` (a Number or, for u64, a BigInt). */
  varint(v, max, what) {
    if (typeof v === 'bigint') {
      if (v < 0n || v > BigInt(max)) throw new EncodeError(`${what} out of range: ${v}`);
    } else {
      intInRange(v, 0, typeof max === 'bigint' ? Number.MAX_SAFE_INTEGER : max, what);
    }
    if (v > U32_MAX) {
      const big = BigInt(v);
      this.byte(U64_BYTE);
      for (let i = 0n; i < 8n; i++) this.byte(Number((big >> (8n * i)) & 0xffn));
      return;
    }
    const n = Number(v);
    if (n <= SINGLE_BYTE_MAX) {
      this.byte(n);
    } else if (n <= U16_MAX) {
      this.byte(U16_BYTE);
      this.byte(n & 0xff);
      this.byte(n >>> 8);
    } else {
      this.byte(U32_BYTE);
      for (let i = 0; i < 4; i++) this.byte((n >>> (8 * i)) & 0xff);
    }
  }

  u16(v, what = 'u16') {
    this.varint(v, U16_MAX, what);
  }

  u32(v, what = 'u32') {
    this.varint(v, U32_MAX, what);
  }

  u64(v, what = 'u64') {
    this.varint(v, U64_MAX, what);
  }

  /** A zigzag varint i32. */
  i32(v, what = 'i32') {
    intInRange(v, -0x80000000, 0x7fffffff, what);
    this.u32(v >= 0 ? v * 2 : -v * 2 - 1, what);
  }

  string(s, what = 'string') {
    if (typeof s !== 'string') throw new EncodeError(`${what} must be a string`);
    const b = utf8Encoder.encode(s);
    this.u64(b.length, what);
    this.bytes(b);
  }

  /** The bytes written so far. */
  finish() {
    return this.buf.slice(0, this.len);
  }
}

function intInRange(v, min, max, what) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError(`${what} must be an integer in ${min}..=${max}, got ${v}`);
  }
}

/** Reads bincode-encoded values from a byte array, failing like the server's decoder. */
export class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.b.length) {
      throw new DecodeError(`truncated: need ${n} more bytes at offset ${this.pos}`);
    }
  }

  u8() {
    this.need(1);
    return this.b[this.pos++];
  }

  i8() {
    const v = this.u8();
    return v >= 128 ? v - 256 : v;
  }

  bool() {
    const v = this.u8();
    if (v > 1) throw new DecodeError(`invalid bool ${v}`);
    return v === 1;
  }

  /** Little-endian unsigned integer of `n` bytes (n <= 4) as a Number. */
  le(n) {
    this.need(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + this.b[this.pos + i];
    this.pos += n;
    return v;
  }

  /** An unsigned varint whose target type has `bits` bits (16, 32 or 64). */
  varint(bits) {
    const first = this.u8();
    if (first <= SINGLE_BYTE_MAX) return first;
    if (first === U16_BYTE) return this.le(2);
    if (first === U32_BYTE && bits >= 32) return this.le(4);
    if (first === U64_BYTE && bits >= 64) {
      const lo = BigInt(this.le(4));
      const hi = BigInt(this.le(4));
      const v = (hi << 32n) | lo;
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    throw new DecodeError(`invalid varint prefix 0x${first.toString(16)} for a u${bits}`);
  }

  u16() {
    return this.varint(16);
  }

  u32() {
    return this.varint(32);
  }

  u64() {
    return this.varint(64);
  }

  i32() {
    const z = this.u32();
    return (z >>> 1) ^ -(z & 1);
  }

  /** A length prefix (u64) for `what`, which cannot exceed the bytes left. */
  length(what) {
    const n = this.u64();
    if (typeof n === 'bigint' || n > this.b.length - this.pos) {
      throw new DecodeError(`${what} length ${n} exceeds the message`);
    }
    return n;
  }

  string() {
    const n = this.length('string');
    const bytes = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw new DecodeError('invalid UTF-8 in a string');
    }
  }

  raw(n) {
    this.need(n);
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** An enum's variant index, checked against its `names`. */
  variant(names, what) {
    const i = this.u32();
    if (i >= names.length) throw new DecodeError(`unknown ${what} variant ${i}`);
    return names[i];
  }

  option(read) {
    const tag = this.u8();
    if (tag === 0) return null;
    if (tag === 1) return read();
    throw new DecodeError(`invalid Option tag ${tag}`);
  }

  vec(read, what) {
    const n = this.length(what);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = read();
    return out;
  }

  end() {
    if (this.pos !== this.b.length) {
      throw new DecodeError(`${this.b.length - this.pos} trailing bytes after the message`);
    }
  }
}

function variantIndex(names, name, what) {
  const i = names.indexOf(name);
  if (i < 0) throw new EncodeError(`unknown ${what} ${JSON.stringify(name)}`);
  return i;
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new DecodeError('expected binary data');
}

// ---- shared structures ----

function writeToken(w, t) {
  w.u64(t.match_id, 'session.match_id');
  w.u32(t.player_id, 'session.player_id');
  if (!(t.secret instanceof Uint8Array) || t.secret.length !== SECRET_LEN) {
    throw new EncodeError(`session.secret must be a Uint8Array of ${SECRET_LEN} bytes`);
  }
  w.bytes(t.secret);
}

function readToken(r) {
  return { match_id: r.u64(), player_id: r.u32(), secret: r.raw(SECRET_LEN) };
}

function writeEntity(w, e) {
  w.u32(e.id, 'entity.id');
  w.u32(variantIndex(ENTITY_KINDS, e.kind, 'entity kind'));
  w.i32(e.x, 'entity.x');
  w.i32(e.y, 'entity.y');
  w.u8(e.aim, 'entity.aim');
  w.u8(e.hp, 'entity.hp');
  w.u32(e.score, 'entity.score');
  w.u8(e.flags, 'entity.flags');
  w.u32(e.owner, 'entity.owner');
  w.string(e.name, 'entity.name');
}

function readEntity(r) {
  return {
    id: r.u32(),
    kind: r.variant(ENTITY_KINDS, 'EntityKind'),
    x: r.i32(),
    y: r.i32(),
    aim: r.u8(),
    hp: r.u8(),
    score: r.u32(),
    flags: r.u8(),
    owner: r.u32(),
    name: r.string(),
  };
}

/** Entity update list (PROTOCOL.md §2.2): gap-coded ids with a field mask in the head. */
function writeUpdates(w, updates) {
  w.u64(updates.length, 'updated.length');
  let prev = 0;
  for (const u of updates) {
    intInRange(u.id, 1, U32_MAX, 'update.id');
    if (u.id <= prev) throw new EncodeError('entity updates must have strictly ascending ids');
    let mask = 0;
    if (u.pos != null) mask |= MASK_POS;
    if (u.aim != null) mask |= MASK_AIM;
    if (u.hp != null) mask |= MASK_HP;
    if (u.misc != null) mask |= MASK_MISC;
    if (mask === 0) throw new EncodeError(`entity update ${u.id} changes nothing`);
    w.u64(BigInt(u.id - prev) * 16n + BigInt(mask), 'update head');
    if (u.pos != null) {
      w.i32(u.pos[0], 'update.pos.dx');
      w.i32(u.pos[1], 'update.pos.dy');
    }
    if (u.aim != null) w.u8(u.aim, 'update.aim');
    if (u.hp != null) w.u8(u.hp, 'update.hp');
    if (u.misc != null) {
      w.u32(u.misc[0], 'update.misc.score');
      w.u8(u.misc[1], 'update.misc.flags');
    }
    prev = u.id;
  }
}

function readUpdates(r) {
  const n = r.length('updated');
  const out = new Array(n);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const head = BigInt(r.u64());
    const mask = Number(head & 15n);
    const gap = head >> 4n;
    if (mask === 0) throw new DecodeError('entity update with an empty mask');
    if (gap === 0n || gap > BigInt(U32_MAX - prev)) {
      throw new DecodeError('entity update id gap out of range');
    }
    const id = prev + Number(gap);
    const u = { id, pos: null, aim: null, hp: null, misc: null };
    if (mask & MASK_POS) u.pos = [r.i32(), r.i32()];
    if (mask & MASK_AIM) u.aim = r.u8();
    if (mask & MASK_HP) u.hp = r.u8();
    if (mask & MASK_MISC) u.misc = [r.u32(), r.u8()];
    out[i] = u;
    prev = id;
  }
  return out;
}

// ---- client → server ----

/** Encodes a client message (`{type: 'Hello' | 'Input' | 'Ack' | 'Ping' | 'Leave', ...}`). */
export function encodeClient(msg) {
  const w = new Writer(32);
  w.u32(variantIndex(CLIENT_TAGS, msg.type, 'client message'));
  switch (msg.type) {
    case 'Hello': {
      w.u16(msg.version, 'version');
      w.string(msg.name, 'name');
      if (msg.session == null) {
        w.byte(0);
      } else {
        w.byte(1);
        writeToken(w, msg.session);
      }
      const join = msg.join ?? { type: 'Any' };
      w.u32(variantIndex(JOIN_TARGETS, join.type, 'join target'));
      if (join.type !== 'Any') w.u64(join.match_id, 'join.match_id');
      break;
    }
    case 'Input':
      w.u32(msg.seq, 'seq');
      w.u32(msg.ack, 'ack');
      w.i8(msg.move_x, 'move_x');
      w.i8(msg.move_y, 'move_y');
      w.u8(msg.aim, 'aim');
      w.u8(msg.buttons, 'buttons');
      break;
    case 'Ack':
      w.u32(msg.tick, 'tick');
      break;
    case 'Ping':
      w.u64(msg.client_time, 'client_time');
      break;
    case 'Leave':
      break;
  }
  return w.finish();
}

/** Decodes one client message, rejecting what the server rejects. */
export function decodeClient(data) {
  const bytes = toBytes(data);
  if (bytes.length > CLIENT_MSG_LIMIT) {
    throw new DecodeError(`message of ${bytes.length} bytes exceeds the ${CLIENT_MSG_LIMIT}-byte limit`);
  }
  const r = new Reader(bytes);
  const type = r.variant(CLIENT_TAGS, 'ClientMsg');
  let msg;
  switch (type) {
    case 'Hello': {
      const version = r.u16();
      const name = r.string();
      const session = r.option(() => readToken(r));
      const jt = r.variant(JOIN_TARGETS, 'JoinTarget');
      const join = jt === 'Any' ? { type: 'Any' } : { type: jt, match_id: r.u64() };
      msg = { type, version, name, session, join };
      break;
    }
    case 'Input':
      msg = {
        type,
        seq: r.u32(),
        ack: r.u32(),
        move_x: r.i8(),
        move_y: r.i8(),
        aim: r.u8(),
        buttons: r.u8(),
      };
      break;
    case 'Ack':
      msg = { type, tick: r.u32() };
      break;
    case 'Ping':
      msg = { type, client_time: r.u64() };
      break;
    default:
      msg = { type };
  }
  r.end();
  return msg;
}

// ---- server → client ----

/** Encodes a server message (used by tests and tools; the server is the real encoder). */
export function encodeServer(msg) {
  const w = new Writer(64);
  w.u32(variantIndex(SERVER_TAGS, msg.type, 'server message'));
  switch (msg.type) {
    case 'Welcome': {
      w.u16(msg.version, 'version');
      w.u32(msg.player_id, 'player_id');
      w.u32(msg.entity_id, 'entity_id');
      w.u64(msg.match_id, 'match_id');
      w.u16(msg.tick_rate, 'tick_rate');
      w.u32(msg.tick, 'tick');
      writeToken(w, msg.session);
      w.bool(msg.resumed, 'resumed');
      const m = msg.map;
      w.string(m.name, 'map.name');
      w.u32(m.width, 'map.width');
      w.u32(m.height, 'map.height');
      w.u64(m.walls.length, 'map.walls.length');
      for (const wall of m.walls) {
        w.i32(wall.x, 'wall.x');
        w.i32(wall.y, 'wall.y');
        w.i32(wall.w, 'wall.w');
        w.i32(wall.h, 'wall.h');
      }
      break;
    }
    case 'Reject':
      w.u32(variantIndex(REJECT_REASONS, msg.reason, 'reject reason'));
      w.string(msg.message, 'message');
      break;
    case 'State': {
      const h = msg.header;
      w.u32(h.tick, 'tick');
      w.u32(h.baseline_age, 'baseline_age');
      w.u32(h.last_input, 'last_input');
      w.u32(variantIndex(PHASES, h.phase, 'phase'));
      w.u32(h.phase_ticks_left, 'phase_ticks_left');
      const d = msg.delta;
      w.u64(d.removed.length, 'removed.length');
      for (const id of d.removed) w.u32(id, 'removed id');
      w.u64(d.created.length, 'created.length');
      for (const e of d.created) writeEntity(w, e);
      writeUpdates(w, d.updated);
      break;
    }
    case 'Pong':
      w.u64(msg.client_time, 'client_time');
      w.u32(msg.server_tick, 'server_tick');
      break;
    case 'Event': {
      const e = msg.event;
      w.u32(variantIndex(EVENT_TAGS, e.type, 'game event'));
      if (e.type === 'Kill') {
        w.u32(e.killer, 'killer');
        w.u32(e.victim, 'victim');
      } else {
        w.u32(variantIndex(PHASES, e.phase, 'phase'));
        w.u32(e.ticks, 'ticks');
      }
      break;
    }
    case 'MatchEnded': {
      const res = msg.results;
      w.u64(res.match_id, 'match_id');
      w.u32(variantIndex(END_REASONS, res.reason, 'end reason'));
      w.u32(res.ticks, 'ticks');
      w.u64(res.players.length, 'players.length');
      for (const p of res.players) {
        w.u32(p.player_id, 'player_id');
        w.string(p.name, 'name');
        w.u32(p.score, 'score');
        w.u32(p.kills, 'kills');
        w.u32(p.deaths, 'deaths');
      }
      break;
    }
  }
  return w.finish();
}

/** Decodes one server message, rejecting anything the Rust decoder rejects. */
export function decodeServer(data) {
  const bytes = toBytes(data);
  if (bytes.length > SERVER_MSG_LIMIT) {
    throw new DecodeError(`message of ${bytes.length} bytes exceeds the ${SERVER_MSG_LIMIT}-byte limit`);
  }
  const r = new Reader(bytes);
  const type = r.variant(SERVER_TAGS, 'ServerMsg');
  let msg;
  switch (type) {
    case 'Welcome': {
      msg = {
        type,
        version: r.u16(),
        player_id: r.u32(),
        entity_id: r.u32(),
        match_id: r.u64(),
        tick_rate: r.u16(),
        tick: r.u32(),
        session: readToken(r),
        resumed: r.bool(),
      };
      const name = r.string();
      const width = r.u32();
      const height = r.u32();
      const walls = r.vec(() => ({ x: r.i32(), y: r.i32(), w: r.i32(), h: r.i32() }), 'walls');
      msg.map = { name, width, height, walls };
      break;
    }
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
      const removed = r.vec(() => r.u32(), 'removed');
      const created = r.vec(() => readEntity(r), 'created');
      const updated = readUpdates(r);
      msg = { type, header, delta: { removed, created, updated } };
      break;
    }
    case 'Pong':
      msg = { type, client_time: r.u64(), server_tick: r.u32() };
      break;
    case 'Event': {
      const et = r.variant(EVENT_TAGS, 'GameEvent');
      const event = et === 'Kill'
        ? { type: et, killer: r.u32(), victim: r.u32() }
        : { type: et, phase: r.variant(PHASES, 'Phase'), ticks: r.u32() };
      msg = { type, event };
      break;
    }
    case 'MatchEnded': {
      const results = {
        match_id: r.u64(),
        reason: r.variant(END_REASONS, 'EndReason'),
        ticks: r.u32(),
        players: null,
      };
      results.players = r.vec(() => ({
        player_id: r.u32(),
        name: r.string(),
        score: r.u32(),
        kills: r.u32(),
        deaths: r.u32(),
      }), 'players');
      msg = { type, results };
      break;
    }
  }
  r.end();
  return msg;
}

// ---- helpers for clients ----

/** World units from a wire coordinate. */
export function dequantize(v) {
  return v / POS_SCALE;
}

/** Wire coordinate from world units: round half away from zero, like Rust's `f32::round`. */
export function quantize(v) {
  const x = v * POS_SCALE;
  let r = Math.trunc(x);
  if (Math.abs(x - r) >= 0.5) r += Math.sign(x);
  return r;
}

/** Lowercase hex of bytes, space-separated (the notation of PROTOCOL.md). */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Bytes from hex, spaces optional. */
export function fromHex(hex) {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}
