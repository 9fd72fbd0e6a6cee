//! A finer start of the tick than tokio's timer gives.
//!
//! tokio's timer wheel counts whole milliseconds and fires a sleep at the first millisecond
//! boundary after its deadline, so `sleep_until` wakes up to 1 ms late by design, before any
//! scheduling delay. The tick instead sleeps on tokio's timer until [`SPIN_LEAD`] before its
//! deadline, then yields to the runtime (other tasks run meanwhile) until the exact instant.
//! The yielding is bounded by [`MAX_SPIN`] per tick and only happens in a running match's
//! loop, so an idle server never spins.
//!
//! A dedicated timer thread waking the match task (a futex with a nanosecond timeout) was tried
//! first: its median was finer still, but under load the remote wake-ups sat in tokio's global
//! queue and a few ticks started hundreds of milliseconds late (BENCHMARKS.md, issue #13).

use std::time::Duration;

use tokio::time::Instant;

/// How long before the deadline tokio's timer is asked to wake the match, as a duration; with
/// its 1 ms rounding the wake-up then falls between this early and on time.
pub(crate) const SPIN_LEAD: Duration = Duration::from_millis(1);

/// Longest a tick yields waiting for its deadline, as a duration: further out it sleeps again
/// instead (a wake-up that early means the timer fired for another reason).
pub(crate) const MAX_SPIN: Duration = Duration::from_micros(1500);

/// What the wait for a tick's deadline does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Sleep on tokio's timer until this instant.
    Sleep(Instant),
    /// Close enough: yield to other tasks and look again.
    Yield,
    /// The deadline has come.
    Go,
}

/// The next step at `now` towards starting on `deadline`.
pub(crate) fn next_step(now: Instant, deadline: Instant) -> Step {
    match deadline.checked_duration_since(now) {
        None => Step::Go,
        Some(left) if left.is_zero() => Step::Go,
        Some(left) if left > MAX_SPIN => Step::Sleep(deadline - SPIN_LEAD),
        Some(_) => Step::Yield,
    }
}

/// Resolves at `deadline`, within the runtime's scheduling delay rather than tokio's 1 ms
/// timer resolution. Cancel-safe.
pub(crate) async fn sleep_until(deadline: Instant) {
    loop {
        match next_step(Instant::now(), deadline) {
            Step::Go => return,
            Step::Sleep(until) => tokio::time::sleep_until(until).await,
            Step::Yield => tokio::task::yield_now().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_far_out_yields_close_in_and_goes_on_time() {
        let t = Instant::now();
        let deadline = t + Duration::from_millis(33);
        assert_eq!(next_step(t, deadline), Step::Sleep(deadline - SPIN_LEAD));
        let just_outside = deadline - MAX_SPIN - Duration::from_micros(1);
        assert_eq!(
            next_step(just_outside, deadline),
            Step::Sleep(deadline - SPIN_LEAD)
        );
        assert_eq!(next_step(deadline - MAX_SPIN, deadline), Step::Yield);
        assert_eq!(
            next_step(deadline - Duration::from_nanos(1), deadline),
            Step::Yield
        );
        assert_eq!(next_step(deadline, deadline), Step::Go);
        assert_eq!(
            next_step(deadline + Duration::from_millis(3), deadline),
            Step::Go
        );
    }

    #[test]
    fn the_coarse_wake_up_lands_inside_the_spin_window() {
        // tokio wakes at most 1 ms after the instant asked for, so at most SPIN_LEAD early.
        assert!(SPIN_LEAD <= MAX_SPIN);
    }

    #[tokio::test]
    async fn a_passed_deadline_is_ready_at_once() {
        sleep_until(Instant::now()).await;
        sleep_until(Instant::now() - Duration::from_millis(5)).await;
    }
}
