// tickwire wire protocol, version 2: every message of crates/proto/PROTOCOL.md, encoded and
// decoded exactly like the server's bincode 2 standard configuration (little-endian, varint
// integers, zigzag for signed ones, varint lengths), and the bit-packed delta body of a State
// frame (§2.2) exactly like the Rust `pack` module.
//
// Messages are plain objects tagged with `type`; their fields carry the Rust names. Unsigned
// 64-bit fields decode to a Number when it is exact (at most 2^53 - 1) and to a BigInt
// otherwise; encoders accept either. Secrets are Uint8Arrays of 16 bytes. A delta is
// `{removed: [baseline index], created: [entity], updated: [{index, vel, pos, aim, hp, misc}],
// names_elided: [id]}` where `vel` = [dvx, dvy], `pos` = [rx, ry] and `misc` = [score, flags]
// are null when absent, and a created entity whose id is in `names_elided` has an empty name
// here (the replica fills in the one it holds).
//
// tests/golden/protocol.json, written by the Rust proto crate, holds the reference bytes this
// module is checked against (tests/golden/protocol.test.mjs).

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 2;
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
  'AddressLimit',
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

// Update field masks of the packed delta body (PROTOCOL.md §2.2).
const MASK_VEL = 1;
const MASK_POS = 2;
const MASK_AIM = 4;
const MASK_HP = 8;
const MASK_MISC = 16;
const MASK_BITS = 5;
/**
 * The update masks with short codes, most frequent first: `1`, `01`, `001`; any other mask is
 * `000` and its five bits (PROTOCOL.md §2.2).
 */
const SHORT_MASKS = Object.freeze([MASK_POS, MASK_VEL, MASK_VEL | MASK_POS]);
/** Bits of each Exp-Golomb order in the body's header; orders are 0..=15. */
const ORDER_BITS = 4;
const MAX_ORDER = 15;
/** Exp-Golomb order of a created entity's velocity components. */
const CREATE_VEL_ORDER = 4;
/** Longest entity name, UTF-8 bytes (`MAX_NAME_BYTES`). */
const MAX_NAME_BYTES = 24;
// Least bits one item of each list of the body takes, for the count check.
const MIN_REMOVE_BITS = 1;
const MIN_CREATE_BITS = 40;
const MIN_UPDATE_BITS = 2;

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

// ---- bit strings (PROTOCOL.md §2.2) ----

/** Zigzag-maps an i32 to a u32 (`0, -1, 1, -2, …` to `0, 1, 2, 3, …`). */
export function zigzag(v) {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

/** Inverse of `zigzag`: a u32 back to an i32. */
export function unzigzag(z) {
  return (z >>> 1) ^ -(z & 1);
}

/** Bit length of a positive integer below 2^64 (exact below 2^53). */
function bitLength(w) {
  return w > U32_MAX ? 32 + bitLength(Math.floor(w / 2 ** 32)) : 32 - Math.clz32(w);
}

/** Bits of the order-`k` Exp-Golomb code of the u32 `v`. */
export function egLen(k, v) {
  return 2 * bitLength(v + 2 ** k) - 1 - k;
}

/**
 * The order for coding `values`: of the orders next to floor(log2(floor(mean))), within 0..=15,
 * the one that takes the fewest bits, ties to the lowest.
 */
export function bestOrder(values) {
  // Only the orders around the one that suits the values' mean, as the Rust encoder
  // (`tickwire_proto::bits::best_order`) does: the bytes must be identical.
  if (values.length === 0) return 0;
  let sum = 0;
  for (const v of values) sum += v;
  const mean = Math.floor(sum / values.length);
  // The mean of u32 values is below 2^32, so clz32 sees it whole (sums stay exact below 2^53).
  const centre = Math.min(mean >= 1 ? 31 - Math.clz32(mean) : 0, MAX_ORDER);
  let best = 0;
  let bestBits = Infinity;
  for (let k = Math.max(0, centre - 1); k <= Math.min(centre + 1, MAX_ORDER); k++) {
    let bits = 0;
    for (const v of values) bits += egLen(k, v);
    if (bits < bestBits) {
      best = k;
      bestBits = bits;
    }
  }
  return best;
}

/**
 * Writes a bit string: bit `i` is bit `i % 8` (least significant first) of byte `i / 8`, and a
 * field of `n` bits goes least significant bit first.
 */
export class BitWriter {
  constructor() {
    this.out = new Writer(64);
    /** Pending bits, least significant first; fewer than 8 between calls. */
    this.acc = 0;
    this.n = 0;
  }

  /** Writes the low `n` bits (n <= 32) of the u32 `v`, least significant first. */
  bits(v, n) {
    let rest = n;
    while (rest > 0) {
      const take = Math.min(8 - this.n, rest);
      this.acc |= (v & ((1 << take) - 1)) << this.n;
      this.n += take;
      rest -= take;
      v >>>= take;
      if (this.n === 8) {
        this.out.byte(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
  }

  bit(b) {
    this.bits(b ? 1 : 0, 1);
  }

  /**
   * The order-`k` Exp-Golomb code of the u32 `v`: `w = v + 2^k` as (bit length − 1 − k) zero
   * bits, then the bits of `w` from the most significant down.
   */
  eg(k, v) {
    const w = v + 2 ** k; // below 2^33
    let len = bitLength(w);
    this.bits(0, len - 1 - k); // at most 32 zeros
    if (len > 32) {
      this.bits(1, 1);
      len = 32;
    }
    const low = w >>> 0; // the low 32 bits
    for (let i = len - 1; i >= 0; i--) this.bits((low >>> i) & 1, 1);
  }

  /** The order-`k` Exp-Golomb code of the zigzag mapping of the i32 `v`. */
  egSigned(k, v) {
    this.eg(k, zigzag(v));
  }

  /** Pads with zero bits to a whole byte and returns the bytes. */
  finish() {
    if (this.n > 0) {
      this.out.byte(this.acc);
      this.acc = 0;
      this.n = 0;
    }
    return this.out.finish();
  }
}

/** Reads a bit string written by `BitWriter`, failing like the Rust `BitReader`. */
export class BitReader {
  constructor(bytes) {
    this.b = bytes;
    /** Position in bits. */
    this.pos = 0;
  }

  /** Bits not read yet. */
  remaining() {
    return this.b.length * 8 - this.pos;
  }

  /** Reads `n` bits (n <= 32), least significant first, as a u32. */
  bits(n) {
    if (n > this.remaining()) throw new DecodeError('packed delta ends inside a field');
    let v = 0;
    let got = 0;
    while (got < n) {
      const off = this.pos & 7;
      const take = Math.min(8 - off, n - got);
      const chunk = (this.b[this.pos >>> 3] >>> off) & ((1 << take) - 1);
      v += chunk * 2 ** got;
      got += take;
      this.pos += take;
    }
    return v;
  }

  bit() {
    return this.bits(1) === 1;
  }

  /** Reads an order-`k` Exp-Golomb code; a value beyond u32 is an error. */
  eg(k) {
    let zeros = 0;
    while (!this.bit()) {
      zeros += 1;
      // w = v + 2^k < 2^33 has at most 33 bits: at most 32 - k leading zeros.
      if (zeros + k > 32) throw new DecodeError('packed delta has an over-long Exp-Golomb code');
    }
    let w = 1;
    for (let i = 0; i < zeros + k; i++) w = w * 2 + this.bits(1);
    const v = w - 2 ** k;
    if (v > U32_MAX) throw new DecodeError('packed delta has an over-long Exp-Golomb code');
    return v;
  }

  /** Reads a zigzag-mapped order-`k` Exp-Golomb code as an i32. */
  egSigned(k) {
    return unzigzag(this.eg(k));
  }

  /** Checks that what is left is the zero padding of the last byte. */
  finish() {
    const rest = this.remaining();
    if (rest >= 8 || (rest > 0 && this.bits(rest) !== 0)) {
      throw new DecodeError('packed delta has non-zero padding or trailing bytes');
    }
  }
}

// ---- the delta body (PROTOCOL.md §2.2) ----

function checkI32(v, what) {
  intInRange(v, -0x80000000, 0x7fffffff, what);
}

function checkPair(p, check, what) {
  if (!Array.isArray(p) || p.length !== 2) throw new EncodeError(`${what} must be a pair`);
  check(p[0], `${what}[0]`);
  check(p[1], `${what}[1]`);
}

/** Throws unless the u32s of `list` (mapped by `key`) are strictly ascending. */
function checkAscending(list, key, what) {
  let prev = -1;
  for (const x of list) {
    const v = key(x);
    intInRange(v, 0, U32_MAX, what);
    if (v <= prev) throw new EncodeError(`${what}s must be strictly ascending`);
    prev = v;
  }
}

/** The wire mask of an update's present fields. */
function updateMask(u) {
  let mask = 0;
  if (u.vel != null) mask |= MASK_VEL;
  if (u.pos != null) mask |= MASK_POS;
  if (u.aim != null) mask |= MASK_AIM;
  if (u.hp != null) mask |= MASK_HP;
  if (u.misc != null) mask |= MASK_MISC;
  return mask;
}

/** A velocity change or residual: a pair of i32s, never (0, 0) (that is sent as absent). */
function checkNonZeroPair(p, what) {
  checkPair(p, checkI32, what);
  if (p[0] === 0 && p[1] === 0) throw new EncodeError(`${what} of (0, 0) is sent as absent`);
}

/**
 * Checks what the Rust encoder refuses (and every value's range); returns the UTF-8 bytes of
 * each created entity's name, or null for a name left out (`names_elided`).
 */
function validateDelta(d, elided) {
  for (const name of ['removed', 'created', 'updated']) {
    if (!Array.isArray(d[name])) throw new EncodeError(`delta.${name} must be an array`);
  }
  checkAscending(d.removed, (i) => i, 'removed index');
  checkAscending(d.updated, (u) => u.index, 'update index');
  checkAscending(d.created, (e) => e.id, 'created id');
  if (d.created.length && d.created[0].id === 0) throw new EncodeError('entity id 0 is reserved');
  if (!Array.isArray(elided)) throw new EncodeError('delta.names_elided must be an array');
  checkAscending(elided, (id) => id, 'elided name id');
  // Each elided id names a created entity with an empty name (both lists ascending).
  let j = 0;
  for (const id of elided) {
    while (j < d.created.length && !(d.created[j].id === id && d.created[j].name === '')) j += 1;
    if (j === d.created.length) {
      throw new EncodeError(`elided name ${id} must belong to a created entity with an empty name`);
    }
    j += 1;
  }
  for (const u of d.updated) {
    if (updateMask(u) === 0) throw new EncodeError(`entity update ${u.index} changes nothing`);
    if (u.vel != null) checkNonZeroPair(u.vel, 'update.vel');
    if (u.pos != null) checkNonZeroPair(u.pos, 'update.pos');
    if (u.aim != null) intInRange(u.aim, 0, 255, 'update.aim');
    if (u.hp != null) intInRange(u.hp, 0, 255, 'update.hp');
    if (u.misc != null) {
      if (!Array.isArray(u.misc) || u.misc.length !== 2) throw new EncodeError('update.misc must be a pair');
      intInRange(u.misc[0], 0, U32_MAX, 'update.misc.score');
      intInRange(u.misc[1], 0, 255, 'update.misc.flags');
    }
  }
  return d.created.map((e) => {
    variantIndex(ENTITY_KINDS, e.kind, 'entity kind');
    checkI32(e.x, 'entity.x');
    checkI32(e.y, 'entity.y');
    checkI32(e.vx, 'entity.vx');
    checkI32(e.vy, 'entity.vy');
    intInRange(e.aim, 0, 255, 'entity.aim');
    intInRange(e.hp, 0, 255, 'entity.hp');
    intInRange(e.score, 0, U32_MAX, 'entity.score');
    intInRange(e.flags, 0, 255, 'entity.flags');
    intInRange(e.owner, 0, U32_MAX, 'entity.owner');
    if (typeof e.name !== 'string') throw new EncodeError('entity.name must be a string');
    const name = utf8Encoder.encode(e.name);
    if (name.length > MAX_NAME_BYTES) throw new EncodeError(`entity name over ${MAX_NAME_BYTES} bytes`);
    return elided.includes(e.id) ? null : name;
  });
}

/** Gaps of ascending ids: `id - previous id - 1`, the first one's previous id being 0. */
function idGaps(created) {
  let prev = 0;
  return created.map((e) => {
    const gap = e.id - prev - 1;
    prev = e.id;
    return gap;
  });
}

/** The zigzag-mapped components of the present pairs `pick(x)` of `list`. */
function pairValues(list, pick) {
  const out = [];
  for (const x of list) {
    const p = pick(x);
    if (p != null) out.push(zigzag(p[0]), zigzag(p[1]));
  }
  return out;
}

/** Writes `indices` (strictly ascending) as gaps: the first as itself, then `i - prev - 1`. */
function writeIndexGaps(bw, indices) {
  let prev = -1;
  for (const i of indices) {
    bw.eg(0, i - prev - 1);
    prev = i;
  }
}

/** The packed body of a delta (no length prefix), byte for byte what the Rust encoder writes. */
export function encodeDelta(d) {
  const names = validateDelta(d, d.names_elided ?? []);
  const ids = idGaps(d.created);
  // The orders that make this body smallest.
  const kPos = bestOrder(pairValues(d.updated, (u) => u.pos));
  const kVel = bestOrder(pairValues(d.updated, (u) => u.vel));
  const kXy = bestOrder(pairValues(d.created, (e) => [e.x, e.y]));
  const kId = bestOrder(ids);
  const bw = new BitWriter();
  bw.bits(kPos, ORDER_BITS);
  bw.bits(kVel, ORDER_BITS);
  bw.bits(kXy, ORDER_BITS);
  bw.bits(kId, ORDER_BITS);

  bw.eg(0, d.removed.length);
  writeIndexGaps(bw, d.removed);

  bw.eg(0, d.created.length);
  d.created.forEach((e, i) => {
    bw.eg(kId, ids[i]);
    bw.eg(0, ENTITY_KINDS.indexOf(e.kind));
    bw.egSigned(kXy, e.x);
    bw.egSigned(kXy, e.y);
    bw.egSigned(CREATE_VEL_ORDER, e.vx);
    bw.egSigned(CREATE_VEL_ORDER, e.vy);
    bw.bits(e.aim, 8);
    bw.bits(e.hp, 8);
    bw.eg(0, e.score);
    bw.bits(e.flags, 8);
    bw.eg(0, e.owner);
    // Name code: 0 for a name left out, else the byte length + 1, then the bytes.
    if (names[i] === null) {
      bw.eg(0, 0);
    } else {
      bw.eg(0, names[i].length + 1);
      for (const b of names[i]) bw.bits(b, 8);
    }
  });

  bw.eg(0, d.updated.length);
  let prev = -1;
  for (const u of d.updated) {
    bw.eg(0, u.index - prev - 1);
    prev = u.index;
    const mask = updateMask(u);
    const short = SHORT_MASKS.indexOf(mask);
    if (short >= 0) {
      bw.bits(1 << short, short + 1);
    } else {
      bw.bits(0, SHORT_MASKS.length);
      bw.bits(mask, MASK_BITS);
    }
    if (u.vel != null) {
      bw.egSigned(kVel, u.vel[0]);
      bw.egSigned(kVel, u.vel[1]);
    }
    if (u.pos != null) {
      bw.egSigned(kPos, u.pos[0]);
      bw.egSigned(kPos, u.pos[1]);
    }
    if (u.aim != null) bw.bits(u.aim, 8);
    if (u.hp != null) bw.bits(u.hp, 8);
    if (u.misc != null) {
      bw.eg(0, u.misc[0]);
      bw.bits(u.misc[1], 8);
    }
  }
  return bw.finish();
}

/** Reads a count of items that take at least `minBits` bits each. */
function readCount(r, minBits, what) {
  const n = r.eg(0);
  if (n * minBits > r.remaining()) throw new DecodeError(`packed delta: ${what} count ${n} exceeds the body`);
  return n;
}

/** Reads the next baseline index of an ascending list after `prev` (null: the first). */
function readIndex(r, prev) {
  const gap = r.eg(0);
  if (prev === null) return gap;
  const i = prev + gap + 1;
  if (i > U32_MAX) throw new DecodeError('packed delta: baseline index out of order');
  return i;
}

/** Reads a velocity change or position residual, which is never (0, 0). */
function readNonZeroPair(r, k) {
  const p = [r.egSigned(k), r.egSigned(k)];
  if (p[0] === 0 && p[1] === 0) throw new DecodeError('packed delta: zero velocity change or residual');
  return p;
}

/** Decodes a packed delta body (exactly `bytes`, padding included). */
export function decodeDelta(bytes) {
  const r = new BitReader(bytes);
  const kPos = r.bits(ORDER_BITS);
  const kVel = r.bits(ORDER_BITS);
  const kXy = r.bits(ORDER_BITS);
  const kId = r.bits(ORDER_BITS);

  const removed = [];
  let n = readCount(r, MIN_REMOVE_BITS, 'removed');
  let prev = null;
  for (let i = 0; i < n; i++) {
    prev = readIndex(r, prev);
    removed.push(prev);
  }

  const created = [];
  const namesElided = [];
  n = readCount(r, MIN_CREATE_BITS, 'created');
  let prevId = 0;
  for (let i = 0; i < n; i++) {
    const id = prevId + r.eg(kId) + 1;
    if (id > U32_MAX) throw new DecodeError('packed delta: created id out of order');
    prevId = id;
    const kind = r.eg(0);
    if (kind >= ENTITY_KINDS.length) throw new DecodeError(`packed delta: unknown entity kind ${kind}`);
    const e = {
      id,
      kind: ENTITY_KINDS[kind],
      x: r.egSigned(kXy),
      y: r.egSigned(kXy),
      vx: r.egSigned(CREATE_VEL_ORDER),
      vy: r.egSigned(CREATE_VEL_ORDER),
      aim: r.bits(8),
      hp: r.bits(8),
      score: r.eg(0),
      flags: r.bits(8),
      owner: r.eg(0),
      name: '',
    };
    const code = r.eg(0);
    if (code === 0) {
      // The name is left out: the client already holds it.
      namesElided.push(id);
    } else {
      if (code - 1 > MAX_NAME_BYTES) throw new DecodeError('packed delta: entity name over the limit');
      const name = new Uint8Array(code - 1);
      for (let j = 0; j < name.length; j++) name[j] = r.bits(8);
      try {
        e.name = utf8Decoder.decode(name);
      } catch {
        throw new DecodeError('packed delta: entity name is not UTF-8');
      }
    }
    created.push(e);
  }

  const updated = [];
  n = readCount(r, MIN_UPDATE_BITS, 'updated');
  prev = null;
  for (let i = 0; i < n; i++) {
    prev = readIndex(r, prev);
    let mask = 0;
    for (const m of SHORT_MASKS) {
      if (r.bit()) {
        mask = m;
        break;
      }
    }
    if (mask === 0) {
      mask = r.bits(MASK_BITS);
      if (mask === 0 || SHORT_MASKS.includes(mask)) {
        throw new DecodeError(`packed delta: bad update mask ${mask}`);
      }
    }
    const u = { index: prev, vel: null, pos: null, aim: null, hp: null, misc: null };
    if (mask & MASK_VEL) u.vel = readNonZeroPair(r, kVel);
    if (mask & MASK_POS) u.pos = readNonZeroPair(r, kPos);
    if (mask & MASK_AIM) u.aim = r.bits(8);
    if (mask & MASK_HP) u.hp = r.bits(8);
    if (mask & MASK_MISC) u.misc = [r.eg(0), r.bits(8)];
    updated.push(u);
  }
  r.finish();
  return { removed, created, updated, names_elided: namesElided };
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
      // The delta: a length-prefixed byte string holding the packed body.
      const body = encodeDelta(msg.delta);
      w.u64(body.length, 'delta length');
      w.bytes(body);
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
        w.u32(e.killer_entity, 'killer_entity');
        w.u32(e.victim_entity, 'victim_entity');
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
      const n = r.length('delta');
      const delta = decodeDelta(r.b.subarray(r.pos, r.pos + n));
      r.pos += n;
      msg = { type, header, delta };
      break;
    }
    case 'Pong':
      msg = { type, client_time: r.u64(), server_tick: r.u32() };
      break;
    case 'Event': {
      const et = r.variant(EVENT_TAGS, 'GameEvent');
      const event = et === 'Kill'
        ? { type: et, killer: r.u32(), victim: r.u32(), killer_entity: r.u32(), victim_entity: r.u32() }
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
