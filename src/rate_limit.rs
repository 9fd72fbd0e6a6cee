//! A token bucket: `rate` events per second on average, bursts of [`BURST_SECS`] seconds'
//! worth (or a burst of its own), so a client catching up after a stall is not punished but a
//! flood is. Time comes in
//! as an argument, so the bucket is tested with plain calls.

use std::time::{Duration, Instant};

/// How many seconds' worth of events a full bucket holds, seconds.
pub const BURST_SECS: f64 = 2.0;

/// One token bucket.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    /// A full bucket refilling at `rate` per second.
    pub fn new(rate: f64) -> Self {
        Self::with_burst(rate, rate * BURST_SECS)
    }

    /// A full bucket of `burst` tokens refilling at `rate` per second.
    pub fn with_burst(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// True when the bucket has refilled completely: forgetting it loses nothing.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }

    /// Whether a token is there to take, without taking it.
    pub fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// How long until the next token, zero when one is there; a bucket that never refills
    /// answers an hour.
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        let missing = 1.0 - self.tokens;
        if missing <= 0.0 {
            Duration::ZERO
        } else if self.rate > 0.0 {
            Duration::from_secs_f64(missing / self.rate)
        } else {
            Duration::from_secs(3600)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn allows_bursts_and_refuses_floods() {
        let t0 = Instant::now();
        let mut b = RateLimit::new(10.0);
        assert!(
            (0..20).all(|_| b.allow(t0)),
            "a two-second burst is allowed"
        );
        assert!(!b.allow(t0), "the 21st message at once is refused");
        assert!(!b.is_full(t0));
        assert!(
            b.allow(t0 + Duration::from_millis(150)),
            "refills at the rate"
        );
        assert!(b.is_full(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn a_bucket_of_its_own_burst_says_when_to_retry() {
        let t0 = Instant::now();
        let mut b = RateLimit::with_burst(1.0, 5.0);
        assert!((0..5).all(|_| b.allow(t0)));
        assert!(!b.has_token(t0));
        assert_eq!(b.wait(t0), Duration::from_secs(1));
        assert!(b.allow(t0 + Duration::from_secs(1)));
        assert!(b.is_full(t0 + Duration::from_secs(10)));
        assert_eq!(b.wait(t0 + Duration::from_secs(10)), Duration::ZERO);
    }
}
