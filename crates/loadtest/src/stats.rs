//! What the bots measure: live atomic counters for the progress bars, per-bot histograms and
//! counts, and their merge at the end of the run.
//!
//! A bot records into its own histograms only, so the hot path takes no lock and shares no
//! cache line beyond a few relaxed counter increments; the run merges them once at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::options::BotKind;

/// Significant decimal digits of every histogram: 1 % value precision keeps a per-bot
/// histogram at a few KiB, which matters with thousands of bots.
const SIGFIG: u8 = 2;

/// Error messages a bot keeps as samples for the report.
const ERROR_SAMPLES_PER_BOT: usize = 3;

/// The close code recorded for a link that broke without a close frame (RFC 6455's 1006).
pub(crate) const ABNORMAL_CLOSURE: u16 = 1006;

/// Counters every bot bumps while running, read by the progress bars.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Bots connected now, bots.
    pub(crate) connected: AtomicU64,
    /// State frames received so far, frames.
    pub(crate) frames: AtomicU64,
    /// Bytes of server messages received so far, bytes.
    pub(crate) bytes: AtomicU64,
    /// Errors so far (as in [`crate::Figures::errors`]), errors.
    pub(crate) errors: AtomicU64,
}

impl Live {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// An auto-resizing histogram with [`SIGFIG`] digits; starts tiny and grows to the largest
/// value seen.
pub(crate) fn histogram() -> Histogram<u32> {
    Histogram::new(SIGFIG).expect("2 significant digits is a valid precision")
}

/// Everything one bot measured over all of its sessions.
#[derive(Debug)]
pub(crate) struct BotStats {
    /// What the bot does; hostile bots are summed apart into [`Totals::hostile`].
    pub(crate) kind: BotKind,
    /// Whether this bot verified every frame against a full replica.
    pub(crate) verify: bool,
    /// Connect plus join (TCP, upgrade, Hello to Welcome), µs.
    pub(crate) connect_us: Histogram<u32>,
    /// Ping to Pong round trip, µs.
    pub(crate) rtt_us: Histogram<u32>,
    /// Input sent to the first state frame whose `last_input` covers it, µs.
    pub(crate) input_latency_us: Histogram<u32>,
    /// `(input latency - latest RTT) / tick period`, thousandths of a tick, clamped at 0.
    pub(crate) beyond_rtt_mticks: Histogram<u32>,
    /// `|arrival interval - tick gap × tick period|` between consecutive state frames, µs.
    pub(crate) jitter_us: Histogram<u32>,
    /// Welcomes received, sessions.
    pub(crate) sessions: u64,
    /// Matches joined, by id (one entry per session).
    pub(crate) match_ids: Vec<u64>,
    /// Map of the first Welcome, by name.
    pub(crate) map_name: Option<String>,
    /// The tick rate of the last Welcome, Hz.
    pub(crate) tick_rate: u16,
    /// Seconds spent joined, summed over sessions, s.
    pub(crate) connected_secs: f64,
    /// State frames received while measuring, frames.
    pub(crate) frames: u64,
    /// Frames the wall clock says should have arrived (one per tick from the first), frames.
    pub(crate) frames_expected: f64,
    /// Ticks between the first and last frame that no frame described, ticks.
    pub(crate) ticks_skipped: u64,
    /// Bytes of every server message received, bytes.
    pub(crate) bytes: u64,
    /// Bytes of state frames alone, bytes.
    pub(crate) state_bytes: u64,
    /// Bytes of state frame headers (tag included), bytes.
    pub(crate) header_bytes: u64,
    /// Full snapshots (baseline age 0) received, frames.
    pub(crate) full_snapshots: u64,
    /// Delta frames (baseline age > 0) applied by verifying bots, frames.
    pub(crate) delta_frames: u64,
    /// Bytes of those delta frames minus their headers, bytes.
    pub(crate) delta_body_bytes: u64,
    /// Entities of those frames whose position differs from the baseline's, entities.
    pub(crate) moving_updates: u64,
    /// Inputs sent, inputs.
    pub(crate) inputs_sent: u64,
    /// Inputs the bot's timer should have sent (one per tick while joined), inputs.
    pub(crate) inputs_expected: f64,
    /// Pings sent, pings.
    pub(crate) pings_sent: u64,
    /// Chat lines sent, lines.
    pub(crate) chat_sent: u64,
    /// Chat lines received (every bot's, its own included), lines.
    pub(crate) chat_received: u64,
    /// Bytes of those chat messages, bytes.
    pub(crate) chat_bytes: u64,
    /// Chat lines the server refused, lines.
    pub(crate) chat_refused: u64,
    /// Server messages that did not decode, messages.
    pub(crate) decode_errors: u64,
    /// Frames the verifying replica applied and checked, frames.
    pub(crate) verify_frames: u64,
    /// Frames that failed to apply or left an inconsistent world, frames.
    pub(crate) verify_errors: u64,
    /// Messages out of protocol order (a second Welcome, a text frame), messages.
    pub(crate) protocol_errors: u64,
    /// Connects or joins that failed (Rejects included), attempts.
    pub(crate) connect_errors: u64,
    /// Sessions whose sends failed (not an error of its own: the reader records the broken
    /// link or close that caused it), sessions.
    pub(crate) send_errors: u64,
    /// Server closes and broken links while measuring, by close code (1006: no close frame).
    pub(crate) close_codes: BTreeMap<u16, u64>,
    /// Of those, closes that followed a MatchEnded, closes.
    pub(crate) matches_ended: u64,
    /// Sessions begun after the first, sessions.
    pub(crate) reconnects: u64,
    /// The first few error messages.
    pub(crate) error_samples: Vec<String>,
    /// Hostile bots: what they did and how the server answered.
    pub(crate) hostile: HostileStats,
}

/// What a hostile bot did and how the server answered (all zero for a well-behaved bot).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostileStats {
    /// Bots of this kind, bots.
    pub bots: u64,
    /// Welcomes received, sessions.
    pub sessions: u64,
    /// Welcomes that resumed the seat of a session token, sessions.
    pub resumes: u64,
    /// Resumes the server refused (seat or match gone), after which the bot joined afresh,
    /// attempts.
    pub resume_rejects: u64,
    /// Connects or fresh joins that failed, attempts.
    pub connect_errors: u64,
    /// Server closes and broken links, match ends excluded, closes.
    pub disconnects: u64,
    /// Of all server closes and broken links, by close code (1006: no close frame).
    pub close_codes: BTreeMap<u16, u64>,
    /// Closes that followed a MatchEnded, closes.
    pub matches_ended: u64,
    /// Slow readers: pauses in reading, pauses.
    pub read_pauses: u64,
    /// Flooders: bursts sent, bursts.
    pub bursts: u64,
    /// Flooders: inputs sent in bursts, inputs.
    pub burst_inputs: u64,
    /// Reconnectors: connections dropped without a close, drops.
    pub drops: u64,
    /// Inputs sent, bursts included, inputs.
    pub inputs_sent: u64,
    /// State frames received, frames.
    pub frames: u64,
}

impl HostileStats {
    fn add(&mut self, o: &HostileStats) {
        self.bots += o.bots;
        self.sessions += o.sessions;
        self.resumes += o.resumes;
        self.resume_rejects += o.resume_rejects;
        self.connect_errors += o.connect_errors;
        self.disconnects += o.disconnects;
        for (code, n) in &o.close_codes {
            *self.close_codes.entry(*code).or_default() += n;
        }
        self.matches_ended += o.matches_ended;
        self.read_pauses += o.read_pauses;
        self.bursts += o.bursts;
        self.burst_inputs += o.burst_inputs;
        self.drops += o.drops;
        self.inputs_sent += o.inputs_sent;
        self.frames += o.frames;
    }
}

impl BotStats {
    pub(crate) fn new(verify: bool) -> Self {
        Self::of_kind(BotKind::WellBehaved, verify)
    }

    pub(crate) fn of_kind(kind: BotKind, verify: bool) -> Self {
        Self {
            kind,
            verify,
            connect_us: histogram(),
            rtt_us: histogram(),
            input_latency_us: histogram(),
            beyond_rtt_mticks: histogram(),
            jitter_us: histogram(),
            sessions: 0,
            match_ids: Vec::new(),
            map_name: None,
            tick_rate: 0,
            connected_secs: 0.0,
            frames: 0,
            frames_expected: 0.0,
            ticks_skipped: 0,
            bytes: 0,
            state_bytes: 0,
            header_bytes: 0,
            full_snapshots: 0,
            delta_frames: 0,
            delta_body_bytes: 0,
            moving_updates: 0,
            inputs_sent: 0,
            inputs_expected: 0.0,
            pings_sent: 0,
            chat_sent: 0,
            chat_received: 0,
            chat_bytes: 0,
            chat_refused: 0,
            decode_errors: 0,
            verify_frames: 0,
            verify_errors: 0,
            protocol_errors: 0,
            connect_errors: 0,
            send_errors: 0,
            close_codes: BTreeMap::new(),
            matches_ended: 0,
            reconnects: 0,
            error_samples: Vec::new(),
            hostile: HostileStats::default(),
        }
    }

    /// Counts one error in the live counter; hostile bots' troubles are not errors.
    pub(crate) fn live_error(&self, live: &Live) {
        if !self.kind.is_hostile() {
            Live::add(&live.errors, 1);
        }
    }

    /// Keeps `message` if this bot has few samples yet.
    pub(crate) fn sample_error(&mut self, message: impl FnOnce() -> String) {
        if self.error_samples.len() < ERROR_SAMPLES_PER_BOT {
            self.error_samples.push(message());
        }
    }

    /// Disconnects that were not the normal end of a match, closes.
    pub(crate) fn abnormal_disconnects(&self) -> u64 {
        self.close_codes
            .values()
            .sum::<u64>()
            .saturating_sub(self.matches_ended)
    }

    /// The errors this bot counts towards [`crate::Figures::errors`].
    pub(crate) fn errors(&self) -> u64 {
        self.connect_errors
            + self.decode_errors
            + self.verify_errors
            + self.protocol_errors
            + self.abnormal_disconnects()
    }
}

/// Records a duration in whole microseconds (saturating at `u32::MAX` µs, about 71 minutes).
pub(crate) fn record_us(h: &mut Histogram<u32>, d: Duration) {
    record(h, d.as_micros().try_into().unwrap_or(u64::MAX));
}

/// Records `v` (capped at `u32::MAX`), growing the histogram as needed.
///
/// Not `saturating_record`: it clamps to the current range instead of growing it.
pub(crate) fn record(h: &mut Histogram<u32>, v: u64) {
    // An auto-resizing histogram only refuses values beyond its u64 range, and the cap keeps
    // far below that.
    let _ = h.record(v.min(u64::from(u32::MAX)));
}

/// The merged statistics of every bot.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) bots: u64,
    pub(crate) connected_bots: u64,
    pub(crate) verify_bots: u64,
    pub(crate) connect_us: Histogram<u64>,
    pub(crate) rtt_us: Histogram<u64>,
    pub(crate) input_latency_us: Histogram<u64>,
    pub(crate) beyond_rtt_mticks: Histogram<u64>,
    pub(crate) jitter_us: Histogram<u64>,
    pub(crate) match_ids: Vec<u64>,
    /// Bots (hostile ones too) by the first match they joined: how the server seated them.
    pub(crate) first_match_bots: BTreeMap<u64, u32>,
    /// Bots (hostile ones too) that were welcomed at least once.
    pub(crate) joined_bots: u64,
    /// Maps the well-behaved bots were welcomed to, by name.
    pub(crate) map_names: BTreeSet<String>,
    pub(crate) tick_rate: u16,
    /// The sum of every bot's counts; its histograms stay empty.
    pub(crate) sum: BotStats,
    pub(crate) errors: u64,
    /// Hostile bots, by kind: kept out of every other total.
    pub(crate) hostile: BTreeMap<BotKind, HostileStats>,
}

fn merge(into: &mut Histogram<u64>, from: &Histogram<u32>) {
    for v in from.iter_recorded() {
        let _ = into.record_n(v.value_iterated_to(), v.count_at_value().into());
    }
}

impl Totals {
    pub(crate) fn new() -> Self {
        let h = || Histogram::new(SIGFIG).expect("valid precision");
        Self {
            bots: 0,
            connected_bots: 0,
            verify_bots: 0,
            connect_us: h(),
            rtt_us: h(),
            input_latency_us: h(),
            beyond_rtt_mticks: h(),
            jitter_us: h(),
            match_ids: Vec::new(),
            first_match_bots: BTreeMap::new(),
            joined_bots: 0,
            map_names: BTreeSet::new(),
            tick_rate: 0,
            sum: BotStats::new(false),
            errors: 0,
            hostile: BTreeMap::new(),
        }
    }

    /// Folds one bot in: a hostile one into its kind's [`HostileStats`] only.
    pub(crate) fn add(&mut self, b: BotStats) {
        if let Some(&first) = b.match_ids.first() {
            *self.first_match_bots.entry(first).or_default() += 1;
            self.joined_bots += 1;
        }
        if b.kind.is_hostile() {
            let mut h = b.hostile;
            h.bots = 1;
            h.sessions = b.sessions;
            h.connect_errors = b.connect_errors;
            h.close_codes = b.close_codes;
            h.matches_ended = b.matches_ended;
            h.disconnects = h
                .close_codes
                .values()
                .sum::<u64>()
                .saturating_sub(h.matches_ended);
            h.inputs_sent = b.inputs_sent;
            h.frames = b.frames;
            self.hostile.entry(b.kind).or_default().add(&h);
            return;
        }
        self.bots += 1;
        self.connected_bots += u64::from(b.sessions > 0);
        self.verify_bots += u64::from(b.verify);
        merge(&mut self.connect_us, &b.connect_us);
        merge(&mut self.rtt_us, &b.rtt_us);
        merge(&mut self.input_latency_us, &b.input_latency_us);
        merge(&mut self.beyond_rtt_mticks, &b.beyond_rtt_mticks);
        merge(&mut self.jitter_us, &b.jitter_us);
        self.match_ids.extend_from_slice(&b.match_ids);
        self.map_names.extend(b.map_name.iter().cloned());
        if b.tick_rate != 0 {
            self.tick_rate = b.tick_rate;
        }
        self.errors += b.errors();
        let s = &mut self.sum;
        s.sessions += b.sessions;
        s.connected_secs += b.connected_secs;
        s.frames += b.frames;
        s.frames_expected += b.frames_expected;
        s.ticks_skipped += b.ticks_skipped;
        s.bytes += b.bytes;
        s.state_bytes += b.state_bytes;
        s.header_bytes += b.header_bytes;
        s.full_snapshots += b.full_snapshots;
        s.delta_frames += b.delta_frames;
        s.delta_body_bytes += b.delta_body_bytes;
        s.moving_updates += b.moving_updates;
        s.inputs_sent += b.inputs_sent;
        s.inputs_expected += b.inputs_expected;
        s.pings_sent += b.pings_sent;
        s.chat_sent += b.chat_sent;
        s.chat_received += b.chat_received;
        s.chat_bytes += b.chat_bytes;
        s.chat_refused += b.chat_refused;
        s.decode_errors += b.decode_errors;
        s.verify_frames += b.verify_frames;
        s.verify_errors += b.verify_errors;
        s.protocol_errors += b.protocol_errors;
        s.connect_errors += b.connect_errors;
        s.send_errors += b.send_errors;
        for (code, n) in b.close_codes {
            *s.close_codes.entry(code).or_default() += n;
        }
        s.matches_ended += b.matches_ended;
        s.reconnects += b.reconnects;
        for e in b.error_samples {
            if s.error_samples.len() < 10 && !s.error_samples.contains(&e) {
                s.error_samples.push(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_counts_and_quantiles() {
        let mut a = BotStats::new(true);
        let mut b = BotStats::new(false);
        for v in 1..=100u64 {
            record(&mut a.rtt_us, v * 100);
            record(&mut b.rtt_us, v * 1000);
        }
        b.close_codes.insert(1000, 1);
        b.matches_ended = 1;
        b.close_codes.insert(ABNORMAL_CLOSURE, 2);
        b.decode_errors = 1;
        let mut t = Totals::new();
        t.add(a);
        t.add(b);
        assert_eq!(t.rtt_us.len(), 200);
        // 100 values of 100..=10_000 and 100 of 1_000..=100_000: the 100th is near 9_091.
        let p50 = t.rtt_us.value_at_quantile(0.5) as f64;
        assert!((8_900.0..=9_300.0).contains(&p50), "{p50}");
        assert_eq!((t.bots, t.verify_bots, t.connected_bots), (2, 1, 0));
        // Two broken links and a decode error; the close after MatchEnded is no error.
        assert_eq!(t.errors, 3);
    }

    #[test]
    fn hostile_bots_stay_apart() {
        let mut t = Totals::new();
        let mut h = BotStats::of_kind(BotKind::Flooder, false);
        h.sessions = 3;
        h.close_codes.insert(1008, 2);
        h.frames = 10;
        record(&mut h.rtt_us, 5);
        t.add(h);
        t.add(BotStats::new(false));
        assert_eq!(
            (t.bots, t.errors, t.sum.frames, t.rtt_us.len()),
            (1, 0, 0, 0)
        );
        let f = &t.hostile[&BotKind::Flooder];
        assert_eq!((f.bots, f.sessions, f.disconnects, f.frames), (1, 3, 2, 10));
    }

    #[test]
    fn huge_values_saturate() {
        let mut h = histogram();
        record_us(&mut h, Duration::from_secs(1 << 40));
        assert_eq!(h.len(), 1);
    }
}
