// The bit strings of a State frame's delta body (PROTOCOL.md §2.2): bit `i` is bit `i % 8`
// (least significant first) of byte `i / 8`, an `n`-bit field goes least significant bit
// first, and integers are order-k Exp-Golomb codes. Reads fail exactly where the Rust
// `tickwire_proto::bits::BitReader` does.

import { DecodeError } from './wire.js';

const U32_MAX = 0xffff_ffff;

/** Inverse of zigzag: a u32 back to an i32 (`0, 1, 2, 3, …` to `0, -1, 1, -2, …`). */
export function unzigzag(z) {
  return (z >>> 1) ^ -(z & 1);
}

/** Reads a bit string; every read past the end or malformed code is a DecodeError. */
export class BitReader {
  /** @param {Uint8Array} bytes the body, padding included */
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
      // Multiplication, not a shift: a 32-bit field must stay unsigned.
      v += chunk * 2 ** got;
      got += take;
      this.pos += take;
    }
    return v;
  }

  /** One bit as a boolean. */
  bit() {
    return this.bits(1) === 1;
  }

  /** Reads an order-`k` Exp-Golomb code; a value beyond u32 is an error. */
  eg(k) {
    let zeros = 0;
    while (!this.bit()) {
      zeros += 1;
      // w = v + 2^k < 2^33 has at most 33 bits: at most 32 - k leading zeros. The bound also
      // keeps a body of zeros from spinning here.
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
