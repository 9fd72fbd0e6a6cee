//! Game-defined requests: messages beside the per-tick inputs (pick a team, choose a loadout,
//! an emote), each answered once, with a reply or a refusal.
//!
//! The engine owns the framing and the abuse rules; the game owns the meaning:
//! - [`crate::Match::push_request`] takes a request's bytes between ticks. It refuses at once a
//!   payload over [`MAX_REQUEST_BYTES`] (TooLarge), a sender over its rate (RateLimited) and a
//!   payload [`Game::decode_request`](crate::Game::decode_request) does not decode (Malformed);
//!   every refusal counts towards the sender's flood, which the caller answers by closing the
//!   sender's connection.
//! - Accepted requests wait in arrival order and are handed to
//!   [`Game::request`](crate::Game::request) at the start of the next step, before
//!   [`Game::step`](crate::Game::step). What the game answers comes out in
//!   [`StepReport::answers`](crate::StepReport::answers); what it emits through the step's
//!   context is an ordinary reliable event of that tick, for everyone or for chosen players
//!   ([`StepCtx::emit_to`](crate::StepCtx::emit_to)).
//!
//! Sans-IO like the rest of the crate: the rate is counted in ticks, never read from a clock,
//! so a replay of the same pushes gives the same refusals and answers.

use serde::{Deserialize, Serialize};
use tickwire_proto::msg::{RequestRefusal, RequestRefusalReason};

use crate::game::PlayerId;

/// Longest request payload the engine hands a game's decoder, in bytes; a longer one is refused
/// with [`RequestRefusalReason::TooLarge`] (the connection stays open). Room for a loadout or a
/// vote, small enough that a burst of requests costs the server little.
pub const MAX_REQUEST_BYTES: usize = 256;

/// Longest reason a game's [`Refusal`] (or a decoder's [`RequestError`]) carries to the client,
/// bytes of UTF-8; a longer one is cut on a char boundary.
pub const MAX_REFUSAL_BYTES: usize = 64;

/// Most requests per second a config may allow, requests/s.
const MAX_PER_SECOND: u32 = 1000;

/// The `[requests]` section: how often each player may send requests, in every match.
///
/// Every field has a default, so a TOML section only needs the fields it changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestConfig {
    /// Sustained rate each player may send requests at, requests per second (1..=1000,
    /// default 5); faster ones are refused with [`RequestRefusalReason::RateLimited`].
    pub per_second: u32,
    /// Requests a player may send in a burst before the rate applies, requests (1..=100,
    /// default 10).
    pub burst: u32,
    /// Refused requests within one flood window that close the sender's connection, requests
    /// (1..=1000, default 20).
    pub flood_refusals: u32,
    /// Length of the flood window, seconds (1..=3600, default 10).
    pub flood_window_secs: u32,
}

impl Default for RequestConfig {
    fn default() -> Self {
        Self {
            per_second: 5,
            burst: 10,
            flood_refusals: 20,
            flood_window_secs: 10,
        }
    }
}

/// A [`RequestConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("requests.{field} = {value} is outside {min}..={max}")]
pub struct RequestConfigError {
    /// The field's name.
    pub field: &'static str,
    /// The value given.
    pub value: u32,
    /// Smallest accepted value.
    pub min: u32,
    /// Largest accepted value.
    pub max: u32,
}

impl RequestConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), RequestConfigError> {
        let range = |field, value, min, max| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(RequestConfigError {
                    field,
                    value,
                    min,
                    max,
                })
            }
        };
        range("per_second", self.per_second, 1, MAX_PER_SECOND)?;
        range("burst", self.burst, 1, 100)?;
        range("flood_refusals", self.flood_refusals, 1, 1000)?;
        range("flood_window_secs", self.flood_window_secs, 1, 3600)
    }
}

/// Why a game's decoder did not accept a request's bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The bytes are not a request of this game; the text says why (it reaches the client,
    /// cut to [`MAX_REFUSAL_BYTES`]).
    #[error("{0}")]
    Malformed(String),
    /// The game takes no requests at all (the trait's default decoder).
    #[error("this game takes no requests")]
    Unsupported,
}

/// A game's "no" to a well-formed request, with a short reason for the sender.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// At most [`MAX_REFUSAL_BYTES`] of UTF-8.
    reason: String,
}

impl Refusal {
    /// A refusal saying `reason`, cut to [`MAX_REFUSAL_BYTES`] on a char boundary.
    pub fn new(reason: impl Into<String>) -> Refusal {
        let mut reason = reason.into();
        let keep = truncate_utf8(&reason, MAX_REFUSAL_BYTES).len();
        reason.truncate(keep);
        Refusal { reason }
    }

    /// The reason sent to the client.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The request type of a game that takes none: it has no values, so nothing can be decoded
/// into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRequest {}

/// The answer to one accepted request, made during a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The player that sent the request.
    pub player: PlayerId,
    /// The request's id, as the client chose it.
    pub id: u32,
    /// The game's reply payload, or its refusal ([`RequestRefusalReason::Refused`]).
    pub result: Result<Vec<u8>, RequestRefusal>,
}

/// A request refused when it was pushed: what to tell the sender, and whether it is flooding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The refusal to send back.
    pub refusal: RequestRefusal,
    /// True when the sender has had more refusals in the flood window than the config allows;
    /// the caller closes its connection.
    pub flood: bool,
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A refusal of request `id` for `reason`.
pub(crate) fn refusal(
    id: u32,
    reason: RequestRefusalReason,
    limit: u32,
    message: &str,
) -> RequestRefusal {
    RequestRefusal {
        id,
        reason,
        limit,
        message: truncate_utf8(message, MAX_REFUSAL_BYTES).to_owned(),
    }
}

/// A [`RequestConfig`] turned into ticks for one tick rate.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Rate cost of one request, ticks.
    ticks_per_request: u64,
    /// Most rate credit a player holds, ticks: a full burst.
    cap: u64,
    /// Flood window, ticks.
    flood_window_ticks: u32,
    /// Refusals within a window that make a flood.
    flood_refusals: u32,
    /// Ticks per second, for turning waits into milliseconds.
    tick_rate: u64,
}

impl Limits {
    /// The limits of a validated `config` at `tick_rate` ticks per second.
    pub(crate) fn new(config: &RequestConfig, tick_rate: u16) -> Limits {
        let tick_rate = u64::from(tick_rate.max(1));
        // Rounded up so the sustained rate never exceeds the configured one; at least one tick,
        // so a rate above the tick rate means "one per tick".
        let ticks_per_request = tick_rate
            .div_ceil(u64::from(config.per_second.max(1)))
            .max(1);
        Limits {
            ticks_per_request,
            cap: u64::from(config.burst.max(1)) * ticks_per_request,
            flood_window_ticks: config.flood_window_secs.max(1) * tick_rate as u32,
            flood_refusals: config.flood_refusals,
            tick_rate,
        }
    }
}

/// One player's rate and flood bookkeeping.
#[derive(Clone, Debug)]
pub(crate) struct Limiter {
    /// Rate credit, ticks: a request costs `ticks_per_request`; credit grows by one per tick up
    /// to the cap.
    credit: u64,
    /// Tick at which `credit` was last brought up to date.
    credited_at: u32,
    /// Refusals in the current flood window.
    refusals: u32,
    /// Tick at which the current flood window started.
    window_start: u32,
}

impl Limiter {
    /// A player seated at `tick`, with a full burst of credit.
    pub(crate) fn new(limits: &Limits, tick: u32) -> Limiter {
        Limiter {
            credit: limits.cap,
            credited_at: tick,
            refusals: 0,
            window_start: tick,
        }
    }

    /// Charges one request at `tick`; `Err` holds the milliseconds until one is accepted.
    pub(crate) fn charge(&mut self, limits: &Limits, tick: u32) -> Result<(), u32> {
        let elapsed = u64::from(tick.saturating_sub(self.credited_at));
        self.credit = (self.credit + elapsed).min(limits.cap);
        self.credited_at = tick;
        if self.credit < limits.ticks_per_request {
            let wait_ticks = limits.ticks_per_request - self.credit;
            let wait_ms = (wait_ticks * 1000).div_ceil(limits.tick_rate);
            return Err(u32::try_from(wait_ms).unwrap_or(u32::MAX));
        }
        self.credit -= limits.ticks_per_request;
        Ok(())
    }

    /// Counts one refusal at `tick`; true when the player is flooding.
    pub(crate) fn refused(&mut self, limits: &Limits, tick: u32) -> bool {
        if tick.wrapping_sub(self.window_start) >= limits.flood_window_ticks || self.refusals == 0 {
            self.window_start = tick;
            self.refusals = 0;
        }
        self.refusals = self.refusals.saturating_add(1);
        self.refusals > limits.flood_refusals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32) -> Limits {
        let config = RequestConfig {
            per_second,
            burst,
            ..RequestConfig::default()
        };
        config.validate().unwrap();
        Limits::new(&config, 30)
    }

    #[test]
    fn a_burst_is_accepted_then_the_rate_applies_with_the_wait_in_ms() {
        // 5/s at 30 Hz: one request per 6 ticks, a burst of 3.
        let l = limits(5, 3);
        let mut p = Limiter::new(&l, 100);
        for _ in 0..3 {
            assert_eq!(p.charge(&l, 100), Ok(()));
        }
        // 6 ticks to wait at 30 Hz: 200 ms.
        assert_eq!(p.charge(&l, 100), Err(200));
        // Two ticks later, 4 ticks (133.3 ms, rounded up) are left.
        assert_eq!(p.charge(&l, 102), Err(134));
        assert_eq!(p.charge(&l, 106), Ok(()));
        assert_eq!(p.charge(&l, 106), Err(200));
        // Idle for long: credit stops at the burst.
        for _ in 0..3 {
            assert_eq!(p.charge(&l, 10_000), Ok(()));
        }
        assert!(p.charge(&l, 10_000).is_err());
    }

    #[test]
    fn a_rate_above_the_tick_rate_is_one_request_per_tick() {
        let l = limits(1000, 1);
        let mut p = Limiter::new(&l, 0);
        assert_eq!(p.charge(&l, 0), Ok(()));
        assert_eq!(p.charge(&l, 0), Err(34));
        assert_eq!(p.charge(&l, 1), Ok(()));
    }

    #[test]
    fn refusals_past_the_flood_bound_within_the_window_are_a_flood() {
        let config = RequestConfig {
            flood_refusals: 3,
            flood_window_secs: 1,
            ..RequestConfig::default()
        };
        let l = Limits::new(&config, 30);
        let mut p = Limiter::new(&l, 0);
        assert_eq!(
            (0..4).map(|_| p.refused(&l, 5)).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        // A new window (30 ticks later) starts the count again.
        let mut q = Limiter::new(&l, 0);
        for _ in 0..3 {
            assert!(!q.refused(&l, 5));
        }
        assert!(!q.refused(&l, 35));
    }

    #[test]
    fn configs_outside_their_ranges_are_refused() {
        assert_eq!(RequestConfig::default().validate(), Ok(()));
        let bad = RequestConfig {
            per_second: 0,
            ..RequestConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "per_second");
        let bad = RequestConfig {
            burst: 101,
            ..RequestConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "burst");
    }

    #[test]
    fn reasons_are_cut_to_the_bound_on_a_char_boundary() {
        let long = "é".repeat(MAX_REFUSAL_BYTES);
        let r = Refusal::new(long);
        assert_eq!(r.reason().len(), MAX_REFUSAL_BYTES);
        let r = refusal(1, RequestRefusalReason::Malformed, 0, &"ab".repeat(40));
        assert_eq!(r.message.len(), MAX_REFUSAL_BYTES);
    }
}
