//! Session secrets: 128 bits from the operating system's RNG, compared in constant time.

use tickwire_proto::msg::SESSION_SECRET_LEN;

/// A fresh secret from the OS RNG.
pub fn new_secret() -> [u8; SESSION_SECRET_LEN] {
    let mut secret = [0u8; SESSION_SECRET_LEN];
    // The OS RNG failing is not recoverable: a predictable token would let anyone take a seat.
    getrandom::fill(&mut secret).expect("the operating system RNG is unavailable");
    secret
}

/// Compares two secrets in time independent of where they differ.
pub fn secrets_equal(a: &[u8; SESSION_SECRET_LEN], b: &[u8; SESSION_SECRET_LEN]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_compare() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(secrets_equal(&a, &a));
        assert!(!secrets_equal(&a, &b));
    }
}
