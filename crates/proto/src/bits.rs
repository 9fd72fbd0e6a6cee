//! The bit-level primitives of the packed delta body: a writer and a reader of little-endian
//! bit strings, fixed-width fields and Exp-Golomb codes.
//!
//! Bits are numbered from the least significant bit of the first byte: bit `i` of the string
//! is bit `i % 8` of byte `i / 8`. A fixed-width field of `n` bits is written least significant
//! bit first. An order-`k` Exp-Golomb code of `v` ([`BitWriter::eg`]) writes `w = v + 2^k` as
//! `z` zero bits, where `z = bits(w) - 1 - k`, then the `bits(w)` bits of `w` from the most
//! significant down: `1` for 0 at order 0, `010` for 1, `011` for 2. Signed values are zigzag
//! mapped first (`0, -1, 1, -2` to `0, 1, 2, 3`).

/// Largest Exp-Golomb order the format uses; orders are written in four bits.
pub const MAX_ORDER: u32 = 15;

/// Zigzag-maps a signed value to an unsigned one (`0, -1, 1, -2, ...` to `0, 1, 2, 3, ...`).
pub fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Inverse of [`zigzag`].
pub fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Bits of the order-`k` Exp-Golomb code of `v`.
pub fn eg_len(k: u32, v: u32) -> u32 {
    let w = u64::from(v) + (1u64 << k);
    let bits = 64 - w.leading_zeros();
    2 * bits - 1 - k
}

/// An order in `0..=max` for coding `values`, and the bits they then take.
///
/// Trying all sixteen orders for every stream of every client's frame costs more than the rest
/// of the frame, so the search looks only around the order that suits the values' mean:
/// `c = floor(log2(floor(mean)))` (0 for an empty list or a mean below 1), trying `c - 1`,
/// `c` and `c + 1` within `0..=max` and keeping the fewest bits, the lower order on a tie. An
/// encoder must choose exactly so to produce the same bytes as this one.
pub fn best_order(max: u32, values: impl Iterator<Item = u32> + Clone) -> (u32, u64) {
    let mut mean = Mean::default();
    values.clone().for_each(|v| mean.add(v));
    let mut search = OrderSearch::around(&mean, max);
    values.for_each(|v| search.add(v));
    search.best()
}

/// The running mean of one stream of values, for [`OrderSearch::around`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Mean {
    /// Sum of the values.
    sum: u64,
    /// Number of values.
    n: u64,
}

impl Mean {
    /// Adds one value.
    pub fn add(&mut self, v: u32) {
        self.sum += u64::from(v);
        self.n += 1;
    }
}

/// The three candidate orders of [`best_order`] with their running totals, for encoders that
/// price several streams in one pass over their entries.
#[derive(Clone, Copy, Debug)]
pub struct OrderSearch {
    /// The lowest candidate.
    lo: u32,
    /// How many candidates (1 to 3).
    count: usize,
    /// Bits of the values so far at each candidate.
    totals: [u64; 3],
}

impl OrderSearch {
    /// The candidates for a stream with this mean, orders at most `max`.
    pub fn around(mean: &Mean, max: u32) -> OrderSearch {
        let centre = mean
            .sum
            .checked_div(mean.n)
            .and_then(u64::checked_ilog2)
            .unwrap_or(0)
            .min(max);
        let lo = centre.saturating_sub(1);
        let hi = (centre + 1).min(max);
        OrderSearch {
            lo,
            count: (hi - lo + 1) as usize,
            totals: [0; 3],
        }
    }

    /// Prices one value at every candidate.
    pub fn add(&mut self, v: u32) {
        for (i, total) in self.totals[..self.count].iter_mut().enumerate() {
            *total += u64::from(eg_len(self.lo + i as u32, v));
        }
    }

    /// The candidate with the fewest bits (the lowest on a tie) and those bits.
    pub fn best(&self) -> (u32, u64) {
        let mut best = (self.lo, self.totals[0]);
        for (i, &total) in self.totals[..self.count].iter().enumerate().skip(1) {
            if total < best.1 {
                best = (self.lo + i as u32, total);
            }
        }
        best
    }
}

/// Appends bits to a byte vector.
#[derive(Debug)]
pub struct BitWriter<'a> {
    /// The output; whole bytes are pushed as they fill.
    out: &'a mut Vec<u8>,
    /// Pending bits, least significant first.
    acc: u64,
    /// Number of pending bits in `acc` (always below 8 between calls).
    n: u32,
}

impl<'a> BitWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter { out, acc: 0, n: 0 }
    }

    /// Writes the low `n` bits of `v` (`n` at most 32), least significant first.
    pub fn bits(&mut self, v: u32, n: u32) {
        debug_assert!(n <= 32);
        let v = if n == 32 {
            u64::from(v)
        } else {
            u64::from(v) & ((1u64 << n) - 1)
        };
        self.acc |= v << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Writes one bit.
    pub fn bit(&mut self, b: bool) {
        self.bits(u32::from(b), 1);
    }

    /// Writes the order-`k` Exp-Golomb code of `v`.
    pub fn eg(&mut self, k: u32, v: u32) {
        let w = u64::from(v) + (1u64 << k);
        let len = 64 - w.leading_zeros();
        let zeros = len - 1 - k;
        if zeros + len <= 56 {
            // The whole code in one write: the zeros come first in the stream, so they are the
            // low bits, then `w` most significant bit first, i.e. bit-reversed.
            let code = (w.reverse_bits() >> (64 - len)) << zeros;
            self.acc |= code << self.n;
            self.n += zeros + len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
            return;
        }
        // Zeros in chunks: at most 32 of them (v < 2^32).
        let mut z = zeros;
        while z > 0 {
            let c = z.min(24);
            self.bits(0, c);
            z -= c;
        }
        // Then w from its most significant bit down.
        let mut i = len;
        while i > 0 {
            let c = i.min(24);
            i -= c;
            let chunk = ((w >> i) & ((1u64 << c) - 1)) as u32;
            self.bits(reverse(chunk, c), c);
        }
    }

    /// Writes the order-`k` Exp-Golomb code of the zigzag mapping of `v`.
    pub fn eg_signed(&mut self, k: u32, v: i32) {
        self.eg(k, zigzag(v));
    }

    /// Pads with zero bits to a byte boundary and returns the number of bytes written in all.
    pub fn finish(mut self) -> usize {
        if self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.n = 0;
        }
        self.out.len()
    }
}

/// The low `n` bits of `v` in reverse order.
fn reverse(v: u32, n: u32) -> u32 {
    if n == 0 {
        0
    } else {
        v.reverse_bits() >> (32 - n)
    }
}

/// Why a bit string could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BitError {
    /// The string ended inside a field.
    #[error("packed delta ends inside a field")]
    Truncated,
    /// An Exp-Golomb code longer than any 32-bit value needs.
    #[error("packed delta has an over-long Exp-Golomb code")]
    Overlong,
    /// The padding after the last field is not zero bits only.
    #[error("packed delta has non-zero padding or trailing bytes")]
    Padding,
}

/// Reads bits from a byte slice.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    /// The input.
    bytes: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, pos: 0 }
    }

    /// Bits not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }

    /// Reads `n` bits (at most 32), least significant first.
    pub fn bits(&mut self, n: u32) -> Result<u32, BitError> {
        debug_assert!(n <= 32);
        if (n as usize) > self.remaining() {
            return Err(BitError::Truncated);
        }
        let mut v = 0u64;
        let mut got = 0;
        while got < n {
            let byte = self.bytes[self.pos / 8];
            let off = (self.pos % 8) as u32;
            let take = (8 - off).min(n - got);
            let chunk = (u64::from(byte) >> off) & ((1u64 << take) - 1);
            v |= chunk << got;
            got += take;
            self.pos += take as usize;
        }
        Ok(v as u32)
    }

    /// Reads one bit.
    pub fn bit(&mut self) -> Result<bool, BitError> {
        Ok(self.bits(1)? == 1)
    }

    /// Reads an order-`k` Exp-Golomb code.
    pub fn eg(&mut self, k: u32) -> Result<u32, BitError> {
        let mut zeros = 0u32;
        while !self.bit()? {
            zeros += 1;
            // w = v + 2^k < 2^33, so it has at most 33 bits: at most 32 - k leading zeros.
            if zeros + k > 32 {
                return Err(BitError::Overlong);
            }
        }
        // The leading 1 is read; then zeros + k more bits, most significant first.
        let mut w = 1u64;
        for _ in 0..zeros + k {
            w = (w << 1) | u64::from(self.bits(1)?);
        }
        u32::try_from(w - (1u64 << k)).map_err(|_| BitError::Overlong)
    }

    /// Reads a zigzag-mapped order-`k` Exp-Golomb code.
    pub fn eg_signed(&mut self, k: u32) -> Result<i32, BitError> {
        Ok(unzigzag(self.eg(k)?))
    }

    /// Checks that what is left is the zero padding of the last byte.
    pub fn finish(self) -> Result<(), BitError> {
        let rest = self.remaining();
        if rest >= 8 {
            return Err(BitError::Padding);
        }
        let mut r = self;
        if rest > 0 && r.bits(rest as u32)? != 0 {
            return Err(BitError::Padding);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exp_golomb_codes_match_the_documented_examples() {
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.eg(0, 0); // 1
        w.eg(0, 1); // 010
        w.eg(0, 2); // 011
        w.eg(2, 0); // 100
        assert_eq!(w.finish(), 2);
        // Bits in order: 1 010 011 100 (+ padding): LSB-first bytes.
        // byte 0 bits 0..8: 1,0,1,0,0,1,1,1 -> 0b1110_0101
        // byte 1 bits 0..2: 0,0 -> 0
        assert_eq!(out, vec![0b1110_0101, 0b0000_0000]);
        assert_eq!(eg_len(0, 0), 1);
        assert_eq!(eg_len(0, 2), 3);
        assert_eq!(eg_len(2, 0), 3);
        assert_eq!(eg_len(0, u32::MAX), 65);
    }

    #[test]
    fn zigzag_round_trips_the_extremes() {
        for v in [0, -1, 1, i32::MIN, i32::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn over_long_codes_and_bad_padding_are_errors() {
        assert_eq!(
            BitReader::new(&[0, 0, 0, 0, 0]).eg(0),
            Err(BitError::Overlong)
        );
        assert_eq!(BitReader::new(&[0]).eg(0), Err(BitError::Truncated));
        let mut r = BitReader::new(&[0b10]);
        assert!(!r.bit().unwrap());
        assert_eq!(r.finish(), Err(BitError::Padding));
        assert_eq!(BitReader::new(&[0, 0]).finish(), Err(BitError::Padding));
        assert_eq!(BitReader::new(&[]).finish(), Ok(()));
    }

    proptest! {
        #[test]
        fn every_code_round_trips(items in proptest::collection::vec((0u32..=MAX_ORDER, any::<u32>(), 0u32..=32), 0..64)) {
            let mut out = Vec::new();
            let mut w = BitWriter::new(&mut out);
            let mut bits = 0u64;
            for &(k, v, n) in &items {
                w.eg(k, v);
                w.bits(v, n);
                bits += u64::from(eg_len(k, v) + n);
            }
            let len = w.finish();
            prop_assert_eq!(len as u64, bits.div_ceil(8));
            let mut r = BitReader::new(&out);
            for &(k, v, n) in &items {
                prop_assert_eq!(r.eg(k).unwrap(), v);
                let mask = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
                prop_assert_eq!(r.bits(n).unwrap(), v & mask);
            }
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), k in 0u32..=MAX_ORDER) {
            let mut r = BitReader::new(&bytes);
            while r.eg(k).is_ok() {}
        }
    }
}
