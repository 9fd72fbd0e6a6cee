// The bincode 2 standard configuration the server speaks (PROTOCOL.md §2.1): little-endian,
// varint integers (one byte up to 250, then 251/252/253 and 2, 4 or 8 bytes), zigzag for signed
// ones, varint lengths. Every message of the protocol is built from these; nothing here knows a
// message or a game.
//
// Unsigned 64-bit values decode to a Number when it is exact (at most 2^53 - 1) and to a BigInt
// otherwise; the writer accepts either.

/** Bad input from the network: a message or body that is not a valid encoding. */
export class DecodeError extends Error {
  /** @param {string} message what is wrong, for logs and close reasons */
  constructor(message) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** A value the wire cannot carry (wrong type, out of range). */
export class EncodeError extends Error {
  /** @param {string} message what is wrong */
  constructor(message) {
    super(message);
    this.name = 'EncodeError';
  }
}

// Varint prefixes (PROTOCOL.md §2.1).
const SINGLE_BYTE_MAX = 250;
const U16_BYTE = 251;
const U32_BYTE = 252;
const U64_BYTE = 253;

const U16_MAX = 0xffff;
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Throws an EncodeError unless `v` is an integer Number in `min..=max`. */
function intInRange(v, min, max, what) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError(`${what} must be an integer in ${min}..=${max}, got ${v}`);
  }
}

/** Appends bincode-encoded values to a growing byte buffer. */
export class Writer {
  /** @param {number} capacity initial bytes reserved */
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.len = 0;
  }

  /** Makes room for `n` more bytes. */
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** One raw byte (0..=255, unchecked: callers pass bytes). */
  byte(b) {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Raw bytes, as they are (no length prefix). */
  bytes(src) {
    this.reserve(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
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

  /** A u16 varint. */
  u16(v, what = 'u16') {
    this.varint(v, U16_MAX, what);
  }

  /** A u32 varint. */
  u32(v, what = 'u32') {
    this.varint(v, U32_MAX, what);
  }

  /** A u64 varint (Number or BigInt). */
  u64(v, what = 'u64') {
    this.varint(v, U64_MAX, what);
  }

  /** A u8 as one raw byte. */
  u8(v, what = 'u8') {
    intInRange(v, 0, 255, what);
    this.byte(v);
  }

  /** An i8 as one raw byte (two's complement). */
  i8(v, what = 'i8') {
    intInRange(v, -128, 127, what);
    this.byte(v & 0xff);
  }

  /** A bool as one byte, 0 or 1. */
  bool(v, what = 'bool') {
    if (typeof v !== 'boolean') throw new EncodeError(`${what} must be a boolean`);
    this.byte(v ? 1 : 0);
  }

  /** A zigzag varint i32. */
  i32(v, what = 'i32') {
    intInRange(v, -0x8000_0000, 0x7fff_ffff, what);
    this.u32(v >= 0 ? v * 2 : -v * 2 - 1, what);
  }

  /** A string: its UTF-8 byte length (u64 varint), then the bytes. */
  string(s, what = 'string') {
    if (typeof s !== 'string') throw new EncodeError(`${what} must be a string`);
    const b = utf8Encoder.encode(s);
    this.u64(b.length, what);
    this.bytes(b);
  }

  /** The bytes written so far, as a new array. */
  finish() {
    return this.buf.slice(0, this.len);
  }
}

/** Reads bincode-encoded values, failing with a DecodeError exactly where the server's would. */
export class Reader {
  /** @param {Uint8Array} bytes the message */
  constructor(bytes) {
    this.b = bytes;
    this.pos = 0;
  }

  /** Bytes not read yet. */
  remaining() {
    return this.b.length - this.pos;
  }

  /** Throws unless `n` more bytes are there. */
  need(n) {
    if (this.pos + n > this.b.length) {
      throw new DecodeError(`truncated: need ${n} more bytes at offset ${this.pos}`);
    }
  }

  /** One raw byte. */
  u8() {
    this.need(1);
    return this.b[this.pos++];
  }

  /** One raw byte as an i8. */
  i8() {
    const v = this.u8();
    return v >= 128 ? v - 256 : v;
  }

  /** A bool: exactly 0 or 1. */
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

  /** A u16 varint. */
  u16() {
    return this.varint(16);
  }

  /** A u32 varint. */
  u32() {
    return this.varint(32);
  }

  /** A u64 varint: a Number when exact, else a BigInt. */
  u64() {
    return this.varint(64);
  }

  /** A zigzag varint i32. */
  i32() {
    const z = this.u32();
    return (z >>> 1) ^ -(z & 1);
  }

  /** A length prefix (u64) for `what`, which cannot exceed the bytes left. */
  length(what) {
    const n = this.u64();
    // Never trust a length: it must fit in what actually arrived.
    if (typeof n === 'bigint' || n > this.b.length - this.pos) {
      throw new DecodeError(`${what} length ${n} exceeds the message`);
    }
    return n;
  }

  /** A length-prefixed UTF-8 string. */
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

  /** `n` raw bytes, copied. */
  raw(n) {
    this.need(n);
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Every byte left, copied (a tail the caller hands to a game's own decoder). */
  rest() {
    return this.raw(this.remaining());
  }

  /** An enum's variant index, checked against its `names`; returns the name. */
  variant(names, what) {
    const i = this.u32();
    if (i >= names.length) throw new DecodeError(`unknown ${what} variant ${i}`);
    return names[i];
  }

  /** An Option: tag 0 (null) or 1 then `read()`. */
  option(read) {
    const tag = this.u8();
    if (tag === 0) return null;
    if (tag === 1) return read();
    throw new DecodeError(`invalid Option tag ${tag}`);
  }

  /** A length-prefixed list of `read()` items. */
  vec(read, what) {
    const n = this.length(what);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = read();
    return out;
  }

  /** Throws unless every byte was read. */
  end() {
    if (this.pos !== this.b.length) {
      throw new DecodeError(`${this.b.length - this.pos} trailing bytes after the message`);
    }
  }
}

/** The bytes of a WebSocket message or typed array, without copying. */
export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new DecodeError('expected binary data');
}

/** Lowercase hex of bytes, space-separated (the notation of PROTOCOL.md). */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Bytes from hex, spaces optional; a DecodeError for anything else. */
export function fromHex(hex) {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new DecodeError(`bad hex ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}
