//! A tiny seeded generator for the bots' random walks: reproducible from `--seed`, and not
//! worth a dependency.

/// SplitMix64 (Steele, Lea and Flood): one 64-bit add and a few mixes per number.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// The generator of bot `index` for run seed `seed`: distinct bots get unrelated streams.
    pub(crate) fn for_bot(seed: u64, index: u32) -> Self {
        let mut mixer = Self {
            state: seed ^ u64::from(index).wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        Self {
            state: mixer.next_u64(),
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`lo` when the range is empty); the modulo bias is irrelevant here.
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % u64::from(hi - lo)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_distinct() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::for_bot(7, 3);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut again = SplitMix64::for_bot(7, 3);
        assert!(a.iter().all(|v| *v == again.next_u64()));
        assert_ne!(a[0], SplitMix64::for_bot(7, 4).next_u64());
        let mut r = SplitMix64::for_bot(1, 0);
        assert!((0..1000).all(|_| (5..9).contains(&r.range(5, 9))));
        assert_eq!(r.range(3, 3), 3);
    }
}
