//! The end-of-run report: every figure (the `--json` keys), the readable table, and the
//! `--fail-if` evaluation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::LoadtestError;
use crate::fail_if::FailIf;
use crate::options::{Behavior, BotKind, Options, Scenario};
use crate::stats::{HostileStats, Totals};

/// Every numeric figure of a run; the field names are the JSON keys `--fail-if` refers to.
///
/// Latencies come from hdrhistogram with 1 % precision. "Input latency" is the time from
/// sending input `seq` S to receiving the first state frame whose `header.last_input` ≥ S;
/// its tick form subtracts the bot's latest RTT sample and divides by the tick period:
/// `(input latency - rtt) / tick period`, clamped at 0. An input that lands in the server's
/// mailbox waits for the next tick, so a healthy server stays between 0 and 1 tick beyond the
/// RTT; more means inputs queue up on the server (or the tester is overloaded).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Well-behaved bots started (hostile ones excluded), bots.
    pub bots: u64,
    /// Hostile bots started (`--hostile`), bots; none of the other figures counts them.
    pub hostile_bots: u64,
    /// Hostile bots' server closes and broken links, match ends excluded, closes.
    pub hostile_disconnects: u64,
    /// Hostile bots' welcomes that resumed a seat with a session token, sessions.
    pub hostile_resumes: u64,
    /// Bots that joined at least once, bots.
    pub connected: u64,
    /// Bots that rebuilt and checked the full world from every frame, bots.
    pub verify_bots: u64,
    /// Welcomes received, rejoins included, sessions.
    pub sessions: u64,
    /// Distinct matches the bots joined, matches.
    pub matches: u64,
    /// Tick rate announced in the Welcome, Hz.
    pub tick_rate: u64,
    /// Time to start every bot, s.
    pub ramp_s: f64,
    /// Time measured after the ramp-up, s.
    pub run_s: f64,
    /// Median connect plus join time (TCP, upgrade, Hello to Welcome), ms.
    pub p50_connect_ms: f64,
    /// 99th percentile connect plus join time, ms.
    pub p99_connect_ms: f64,
    /// Longest connect plus join time, ms.
    pub max_connect_ms: f64,
    /// Ping/Pong round trips measured (one per bot every 500 ms), samples.
    pub rtt_samples: u64,
    /// Median round trip, ms.
    pub p50_rtt_ms: f64,
    /// 99th percentile round trip, ms.
    pub p99_rtt_ms: f64,
    /// Longest round trip, ms.
    pub max_rtt_ms: f64,
    /// Mean round trip, ms.
    pub mean_rtt_ms: f64,
    /// Inputs whose latency was measured, samples.
    pub input_samples: u64,
    /// Median input-to-state latency, ms.
    pub p50_input_latency_ms: f64,
    /// 99th percentile input-to-state latency, ms.
    pub p99_input_latency_ms: f64,
    /// Longest input-to-state latency, ms.
    pub max_input_latency_ms: f64,
    /// Median input-to-state latency beyond the RTT, ticks.
    pub p50_input_latency_ticks: f64,
    /// 99th percentile input-to-state latency beyond the RTT, ticks.
    pub p99_input_latency_ticks: f64,
    /// Largest input-to-state latency beyond the RTT, ticks.
    pub max_input_latency_ticks: f64,
    /// Mean input-to-state latency beyond the RTT, ticks.
    pub mean_input_latency_ticks: f64,
    /// Median state-frame jitter `|arrival interval - ticks advanced × tick period|`, ms.
    pub p50_jitter_ms: f64,
    /// 99th percentile state-frame jitter, ms.
    pub p99_jitter_ms: f64,
    /// Largest state-frame jitter, ms.
    pub max_jitter_ms: f64,
    /// State frames received, frames.
    pub frames: u64,
    /// State frames expected by the wall clock (one per tick from each session's first frame
    /// to the end), frames.
    pub frames_expected: u64,
    /// `frames / frames_expected`, ratio (1 = every tick arrived).
    pub frame_ratio: f64,
    /// Ticks within each session's range that no received frame described (latest-wins
    /// replacements), ticks.
    pub ticks_skipped: u64,
    /// Full snapshots (baseline age 0) received, frames.
    pub full_snapshots: u64,
    /// State frames per bot per second joined, frames/s.
    pub frames_per_bot_per_s: f64,
    /// Bytes of server messages per bot per second joined (WebSocket payloads), bytes/s.
    pub bytes_per_bot_per_s: f64,
    /// Bytes of server messages received in total, bytes.
    pub bytes_total: u64,
    /// Mean state frame size (WebSocket payload), bytes.
    pub bytes_per_frame: f64,
    /// Mean state frame header size (tag included), bytes.
    pub header_bytes_per_frame: f64,
    /// Mean entities in view whose position changed since the frame's baseline, per delta
    /// frame (measured by the verifying bots, which rebuild the world), entities.
    pub moving_entities_per_frame: f64,
    /// Delta frame bytes minus headers (creates and removals included), divided by those
    /// moving entities (verifying bots), bytes.
    pub bytes_per_moving_entity: f64,
    /// Inputs sent, inputs.
    pub inputs_sent: u64,
    /// `inputs_sent` / one per tick while joined, ratio (below 1: the tester fell behind).
    pub input_ratio: f64,
    /// Pings sent, pings.
    pub pings_sent: u64,
    /// Chat lines sent (`--chat-per-min`), lines.
    pub chat_sent: u64,
    /// Chat lines received, summed over bots, lines.
    pub chat_received: u64,
    /// Chat bytes received per bot per second while joined, B/s.
    pub chat_bytes_per_bot_per_s: f64,
    /// Chat lines the server refused (rate limit and caps), lines.
    pub chat_refused: u64,
    /// Server messages that did not decode, messages.
    pub decode_errors: u64,
    /// Frames the verifying bots applied and checked, frames.
    pub verify_frames: u64,
    /// Verified frames that did not apply or left an inconsistent world, frames.
    pub verify_errors: u64,
    /// Server messages out of protocol order, messages.
    pub protocol_errors: u64,
    /// Connects or joins that failed (Rejects included), attempts.
    pub connect_errors: u64,
    /// Sessions whose sends failed after the link broke (not counted in `errors`), sessions.
    pub send_errors: u64,
    /// Server closes and broken links while measuring, closes.
    pub disconnects: u64,
    /// Of those, normal ends of a match (MatchEnded, then a close), closes.
    pub matches_ended: u64,
    /// Joins after a bot's first session ended, sessions.
    pub reconnects: u64,
    /// Bot tasks that did not finish within 5 s of the stop, bots.
    pub lost_bots: u64,
    /// connect + decode + verify + protocol errors + disconnects other than match ends +
    /// lost bots, errors.
    pub errors: u64,
}

/// The options a run used, echoed in the JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunInfo {
    /// Server URL.
    pub url: String,
    /// The game the bots played.
    pub game: String,
    /// Players per match asked for, players.
    pub per_match: u16,
    /// Ramp-up rate, bots/s.
    pub ramp: f64,
    /// Measured duration asked for, ms.
    pub duration_ms: u64,
    /// Seed of the random walks.
    pub seed: u64,
    /// Bot behaviour.
    pub behavior: Behavior,
    /// Share of hostile bots asked for, percent.
    pub hostile_percent: f64,
    /// Verifying bots asked for, bots.
    pub verify_sample: u32,
    /// Scenario, if any.
    pub scenario: Option<Scenario>,
    /// Whether the server ran in-process.
    pub embedded: bool,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
}

/// Everything a run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The numeric figures (flattened into the top level of the JSON).
    #[serde(flatten)]
    pub figures: Figures,
    /// Server closes and broken links by close code (1006: the link broke without a close).
    pub close_codes: BTreeMap<u16, u64>,
    /// The first distinct error messages, at most 10.
    pub error_samples: Vec<String>,
    /// The hostile bots by kind (`slow-reader`, `flooder`, `reconnector`); empty without
    /// `--hostile`.
    pub hostile: BTreeMap<BotKind, HostileStats>,
    /// The options of the run.
    pub options: RunInfo,
}

/// Timings the runner measured itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) ramp_s: f64,
    pub(crate) run_s: f64,
    pub(crate) lost_bots: u64,
    pub(crate) interrupted: bool,
}

/// The numeric figure names, as a JSON object of zeros, to check `--fail-if` names early.
pub fn figure_names() -> Map<String, Value> {
    match serde_json::to_value(Figures::default()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { 0.0 }
}

/// `q` quantile of a histogram in `scale` units per output unit (e.g. 1000 µs per ms).
fn q(h: &Histogram<u64>, quantile: f64, scale: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(quantile) as f64 / scale
    }
}

fn max(h: &Histogram<u64>, scale: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.max() as f64 / scale
    }
}

fn mean(h: &Histogram<u64>, scale: f64) -> f64 {
    if h.is_empty() { 0.0 } else { h.mean() / scale }
}

impl Report {
    /// Builds the report from the merged bot statistics.
    pub(crate) fn build(opts: &Options, mut t: Totals, timing: Timing) -> Report {
        t.match_ids.sort_unstable();
        t.match_ids.dedup();
        let s = &t.sum;
        let (ms, mt) = (1000.0, 1000.0);
        let disconnects: u64 = s.close_codes.values().sum();
        let hostile_bots = u64::from(opts.hostile_bots());
        let hostile_sum = t
            .hostile
            .values()
            .fold(HostileStats::default(), |mut a, h| {
                a.disconnects += h.disconnects;
                a.resumes += h.resumes;
                a
            });
        let figures = Figures {
            bots: u64::from(opts.bots) - hostile_bots,
            hostile_bots,
            hostile_disconnects: hostile_sum.disconnects,
            hostile_resumes: hostile_sum.resumes,
            connected: t.connected_bots,
            verify_bots: t.verify_bots,
            sessions: s.sessions,
            matches: t.match_ids.len() as u64,
            tick_rate: u64::from(t.tick_rate),
            ramp_s: timing.ramp_s,
            run_s: timing.run_s,
            p50_connect_ms: q(&t.connect_us, 0.5, ms),
            p99_connect_ms: q(&t.connect_us, 0.99, ms),
            max_connect_ms: max(&t.connect_us, ms),
            rtt_samples: t.rtt_us.len(),
            p50_rtt_ms: q(&t.rtt_us, 0.5, ms),
            p99_rtt_ms: q(&t.rtt_us, 0.99, ms),
            max_rtt_ms: max(&t.rtt_us, ms),
            mean_rtt_ms: mean(&t.rtt_us, ms),
            input_samples: t.input_latency_us.len(),
            p50_input_latency_ms: q(&t.input_latency_us, 0.5, ms),
            p99_input_latency_ms: q(&t.input_latency_us, 0.99, ms),
            max_input_latency_ms: max(&t.input_latency_us, ms),
            p50_input_latency_ticks: q(&t.beyond_rtt_mticks, 0.5, mt),
            p99_input_latency_ticks: q(&t.beyond_rtt_mticks, 0.99, mt),
            max_input_latency_ticks: max(&t.beyond_rtt_mticks, mt),
            mean_input_latency_ticks: mean(&t.beyond_rtt_mticks, mt),
            p50_jitter_ms: q(&t.jitter_us, 0.5, ms),
            p99_jitter_ms: q(&t.jitter_us, 0.99, ms),
            max_jitter_ms: max(&t.jitter_us, ms),
            frames: s.frames,
            frames_expected: s.frames_expected.round() as u64,
            frame_ratio: ratio(s.frames as f64, s.frames_expected),
            ticks_skipped: s.ticks_skipped,
            full_snapshots: s.full_snapshots,
            frames_per_bot_per_s: ratio(s.frames as f64, s.connected_secs),
            bytes_per_bot_per_s: ratio(s.bytes as f64, s.connected_secs),
            bytes_total: s.bytes,
            bytes_per_frame: ratio(s.state_bytes as f64, s.frames as f64),
            header_bytes_per_frame: ratio(s.header_bytes as f64, s.frames as f64),
            moving_entities_per_frame: ratio(s.moving_updates as f64, s.delta_frames as f64),
            bytes_per_moving_entity: ratio(s.delta_body_bytes as f64, s.moving_updates as f64),
            inputs_sent: s.inputs_sent,
            input_ratio: ratio(s.inputs_sent as f64, s.inputs_expected),
            pings_sent: s.pings_sent,
            chat_sent: s.chat_sent,
            chat_received: s.chat_received,
            chat_bytes_per_bot_per_s: ratio(s.chat_bytes as f64, s.connected_secs),
            chat_refused: s.chat_refused,
            decode_errors: s.decode_errors,
            verify_frames: s.verify_frames,
            verify_errors: s.verify_errors,
            protocol_errors: s.protocol_errors,
            connect_errors: s.connect_errors,
            send_errors: s.send_errors,
            disconnects,
            matches_ended: s.matches_ended,
            reconnects: s.reconnects,
            lost_bots: timing.lost_bots,
            errors: t.errors + timing.lost_bots,
        };
        Report {
            figures,
            close_codes: s.close_codes.clone(),
            error_samples: s.error_samples.clone(),
            hostile: t.hostile.clone(),
            options: RunInfo {
                url: opts.url.clone(),
                game: opts.game.clone(),
                per_match: opts.per_match,
                ramp: opts.ramp,
                duration_ms: opts.duration.as_millis().try_into().unwrap_or(u64::MAX),
                seed: opts.seed,
                behavior: opts.behavior,
                hostile_percent: opts.hostile,
                verify_sample: opts.verify_sample,
                scenario: opts.scenario,
                embedded: opts.embedded,
                interrupted: timing.interrupted,
            },
        }
    }

    /// The whole report as pretty JSON.
    pub fn to_json(&self) -> Result<String, LoadtestError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The `--fail-if` conditions that hold, with the figure's value.
    pub fn failed(&self, conditions: &[FailIf]) -> Result<Vec<(FailIf, f64)>, LoadtestError> {
        let figures = match serde_json::to_value(&self.figures)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let mut failed = Vec::new();
        for c in conditions {
            if let Some(value) = c.evaluate(&figures)? {
                failed.push((c.clone(), value));
            }
        }
        Ok(failed)
    }

    /// A readable summary for the terminal.
    pub fn table(&self) -> String {
        let f = &self.figures;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tickwire loadtest: {} bots ({} joined, {} verifying) in {} {} matches at {} Hz; \
             {:.1} s measured after a {:.1} s ramp",
            f.bots,
            f.connected,
            f.verify_bots,
            f.matches,
            self.options.game,
            f.tick_rate,
            f.run_s,
            f.ramp_s
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "{:<28}{:>10}{:>10}{:>10}", "", "p50", "p99", "max");
        let mut row = |name: &str, p50: f64, p99: f64, max: f64| {
            let _ = writeln!(out, "{name:<28}{p50:>10.2}{p99:>10.2}{max:>10.2}");
        };
        row(
            "connect+join (ms)",
            f.p50_connect_ms,
            f.p99_connect_ms,
            f.max_connect_ms,
        );
        row("rtt (ms)", f.p50_rtt_ms, f.p99_rtt_ms, f.max_rtt_ms);
        row(
            "input to state (ms)",
            f.p50_input_latency_ms,
            f.p99_input_latency_ms,
            f.max_input_latency_ms,
        );
        row(
            "  beyond rtt (ticks)",
            f.p50_input_latency_ticks,
            f.p99_input_latency_ticks,
            f.max_input_latency_ticks,
        );
        row(
            "frame jitter (ms)",
            f.p50_jitter_ms,
            f.p99_jitter_ms,
            f.max_jitter_ms,
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "frames    {} of {} expected ({:.1} %), {} ticks skipped, {} full snapshots",
            f.frames,
            f.frames_expected,
            f.frame_ratio * 100.0,
            f.ticks_skipped,
            f.full_snapshots
        );
        let _ = writeln!(
            out,
            "per bot   {:.1} frames/s, {:.0} B/s; {:.1} B per frame ({:.1} B header)",
            f.frames_per_bot_per_s,
            f.bytes_per_bot_per_s,
            f.bytes_per_frame,
            f.header_bytes_per_frame
        );
        let _ = writeln!(
            out,
            "deltas    {:.1} moving entities per frame, {:.2} B per moving entity (verifying bots)",
            f.moving_entities_per_frame, f.bytes_per_moving_entity
        );
        let _ = writeln!(
            out,
            "inputs    {} sent ({:.1} % of one per tick), {} pings",
            f.inputs_sent,
            f.input_ratio * 100.0,
            f.pings_sent
        );
        if f.chat_sent > 0 || f.chat_received > 0 {
            let _ = writeln!(
                out,
                "chat      {} sent, {} received ({:.1} B per bot per s), {} refused",
                f.chat_sent, f.chat_received, f.chat_bytes_per_bot_per_s, f.chat_refused
            );
        }
        let _ = writeln!(
            out,
            "errors    {} (decode {}, verify {} of {} frames, protocol {}, join {}, lost bots {})",
            f.errors,
            f.decode_errors,
            f.verify_errors,
            f.verify_frames,
            f.protocol_errors,
            f.connect_errors,
            f.lost_bots
        );
        let closes = if self.close_codes.is_empty() {
            "none".to_owned()
        } else {
            self.close_codes
                .iter()
                .map(|(code, n)| format!("{code}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "closes    {closes} ({} match ends, {} rejoins)",
            f.matches_ended, f.reconnects
        );
        for e in &self.error_samples {
            let _ = writeln!(out, "  e.g. {e}");
        }
        if !self.hostile.is_empty() {
            let _ = writeln!(
                out,
                "\nhostile   {} bots (not in any figure above): {} disconnects, {} resumes",
                f.hostile_bots, f.hostile_disconnects, f.hostile_resumes
            );
            for (kind, h) in &self.hostile {
                let _ = writeln!(out, "  {}", hostile_line(*kind, h));
            }
        }
        out
    }
}

/// One hostile kind in a line: what it did, then the server's closes by code.
pub fn hostile_line(kind: BotKind, h: &HostileStats) -> String {
    let did = match kind {
        BotKind::SlowReader => format!("{} read pauses", h.read_pauses),
        BotKind::Flooder => format!("{} bursts of {} inputs", h.bursts, h.burst_inputs),
        BotKind::Reconnector => format!("{} dropped links", h.drops),
        BotKind::WellBehaved => String::new(),
    };
    let codes = if h.close_codes.is_empty() {
        "none".to_owned()
    } else {
        h.close_codes
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{name:<12} {} bots, {did}; closes {codes} ({} match ends); {} sessions, {} resumes, \
         {} resumes refused, {} join errors",
        h.bots, h.matches_ended, h.sessions, h.resumes, h.resume_rejects, h.connect_errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{BotStats, record};

    fn report() -> Report {
        let mut t = Totals::new();
        let mut b = BotStats::new(true);
        b.sessions = 1;
        b.match_ids = vec![3];
        b.tick_rate = 30;
        b.connected_secs = 2.0;
        b.frames = 57;
        b.frames_expected = 60.0;
        b.state_bytes = 57 * 100;
        b.bytes = 57 * 100 + 40;
        b.delta_frames = 56;
        b.delta_body_bytes = 56 * 90;
        b.moving_updates = 56 * 30;
        for v in [100, 200, 300, 1500] {
            record(&mut b.beyond_rtt_mticks, v);
        }
        t.add(b);
        let opts = Options::default();
        Report::build(
            &opts,
            t,
            Timing {
                ramp_s: 0.1,
                run_s: 2.0,
                lost_bots: 0,
                interrupted: false,
            },
        )
    }

    #[test]
    fn figures_are_derived() {
        let r = report();
        let f = &r.figures;
        assert_eq!((f.connected, f.matches, f.tick_rate), (1, 1, 30));
        assert!((f.frame_ratio - 0.95).abs() < 1e-9);
        assert!((f.frames_per_bot_per_s - 28.5).abs() < 1e-9);
        assert!((f.bytes_per_moving_entity - 3.0).abs() < 1e-9);
        assert!((f.max_input_latency_ticks - 1.5).abs() < 0.02);
        assert!(r.table().contains("57 of 60 expected"));
    }

    #[test]
    fn json_is_flat_and_fail_if_reads_it() {
        let r = report();
        let json: Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["frames"], 57);
        assert_eq!(json["options"]["behavior"], "walk");
        let names = figure_names();
        assert!(names.contains_key("p99_input_latency_ticks") && names.contains_key("errors"));
        let conds = [
            FailIf::parse("errors>0").unwrap(),
            FailIf::parse("frame_ratio<0.96").unwrap(),
        ];
        let failed = r.failed(&conds).unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0.name, "frame_ratio");
    }
}
