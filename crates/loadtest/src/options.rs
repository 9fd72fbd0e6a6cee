//! The load tester's command-line options (`tickwire loadtest --help`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::LoadtestError;
use crate::fail_if::FailIf;

/// The default server URL.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:7777/ws";

/// What a bot does with its stick and fire button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Behavior {
    /// Random walk: full stick in a random direction, changing every 0.5 to 2 s.
    Walk,
    /// Random walk with the fire button held (the fire cooldown limits the shots).
    WalkShoot,
    /// Stands still (still one input per tick, with a zero stick).
    Idle,
}

/// What one bot does to the server: plays by the rules, or one of the `--hostile` kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BotKind {
    /// One input per tick, reads every frame: the bots every figure but `hostile` describes.
    WellBehaved,
    /// Stops reading its socket for 2 to 8 s at a time (still sending inputs with a stale ack),
    /// reads 3 to 8 s between pauses; the server closes it on its stall or idle timeout, and it
    /// resumes its seat with its session token (or joins afresh when the seat is gone).
    SlowReader,
    /// Plays normally, but every 2 to 5 s sends a burst of inputs back to back: 40 to 150 (above
    /// one per tick, within the server's burst allowance of two seconds of
    /// `server.max_messages_per_sec`), or one time in three 300 to 500 (above it, so the server
    /// closes it with 1008); then resumes its seat or joins afresh.
    Flooder,
    /// Drops its TCP connection without a close every 2 to 6 s and resumes its seat at once
    /// with the session token from its Welcome.
    Reconnector,
}

impl BotKind {
    /// The hostile kinds, in the order `--hostile` deals them out.
    pub const HOSTILE: [BotKind; 3] = [BotKind::SlowReader, BotKind::Flooder, BotKind::Reconnector];

    /// Whether this is one of the `--hostile` kinds.
    pub fn is_hostile(self) -> bool {
        self != BotKind::WellBehaved
    }
}

/// Default view radius of the big-map scenario, world units.
pub const BIG_MAP_VIEW_RADIUS: f32 = 150.0;

/// A predefined test shape that overrides some options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// One match of every bot on a 1000 x 1000 arena without walls, random walk with an input
    /// every tick, no shooting, everyone visible, 30 Hz. Implies `--per-match` = `--bots` and
    /// `--behavior walk`. With `--embedded` the server is set up for it; otherwise create the
    /// match first (admin API: `POST /matches {"map": "open-arena", "tick_rate": 30,
    /// "max_players": N}`) so that the joins fill it.
    OpenArena,
    /// One match of every bot on a wall-less map sized so that each player sees about 50
    /// others within `--view-radius` (150 world units by default), random walk, no shooting,
    /// 30 Hz: the interest-management scenario. With `--view-radius 0` the same run with
    /// interest management off. Without `--embedded`, create the match first (admin API:
    /// `POST /matches {"map": "big-map", "max_players": N}`, with `game.view_radius` set on the
    /// server).
    BigMap,
}

impl Scenario {
    /// The name of the map the scenario's match is on, as the server names it (and as
    /// `POST /matches` takes it): the tester checks that the bots were welcomed to it.
    pub fn map_name(self) -> &'static str {
        match self {
            Self::OpenArena => "open-arena",
            Self::BigMap => "big-map",
        }
    }
}

/// Options of `tickwire loadtest`.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Load test options")]
pub struct Options {
    /// WebSocket URL of the server (ignored with --embedded).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// Bots to run, bots.
    #[arg(long, default_value_t = 100)]
    pub bots: u32,
    /// Players per match, players. The server places each join in the open match with the
    /// fewest free seats, so bots fill matches of its `game.max_players` seats: --embedded sets
    /// that to this value; against an external server it must equal the server's players per
    /// match (`--players-per-match`), this value is then only reported.
    #[arg(long, default_value_t = 50)]
    pub per_match: u16,
    /// Ramp-up rate, bots started per second.
    #[arg(long, default_value_t = 200.0)]
    pub ramp: f64,
    /// How long to measure once every bot is started, e.g. `30s`, `2m`, `500ms`.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Seed of the bots' random walks (each bot derives its own from it and its index).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The game the bots join and play, with its bot policy (arena: a random walk as
    /// `--behavior` says; soccer: chase the ball and kick it at the other goal).
    #[arg(long, default_value = "arena")]
    pub game: String,
    /// What arena's bots do.
    #[arg(long, value_enum, default_value_t = Behavior::Walk)]
    pub behavior: Behavior,
    /// Bots that rebuild the full world from every delta and check it stays consistent, bots;
    /// the others decode and acknowledge frames but keep no world.
    #[arg(long, default_value_t = 4)]
    pub verify_sample: u32,
    /// Start a server in this process on 127.0.0.1:0 and test it (the `--config`,
    /// `--tick-rate` options of `tickwire serve` apply to it).
    #[arg(long)]
    pub embedded: bool,
    /// Write every figure to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Exit with status 3 when this condition on a figure holds, e.g. `errors>0` or
    /// `p99_input_latency_ticks>1.25` (operators > >= < <= ==; names are the JSON keys).
    /// Repeatable.
    #[arg(long = "fail-if", value_name = "EXPR", value_parser = FailIf::parse)]
    pub fail_if: Vec<FailIf>,
    /// Share of the bots that are hostile, percent (0 to 100): slow readers, flooders and
    /// reconnectors in equal numbers, spread evenly over the bots. Their disconnects are
    /// reported apart (`hostile` in the JSON); every other figure describes the well-behaved
    /// bots alone.
    #[arg(long, value_name = "PERCENT", default_value_t = 0.0)]
    pub hostile: f64,
    /// A predefined test shape; see the values.
    #[arg(long, value_enum)]
    pub scenario: Option<Scenario>,
    /// View radius of the embedded server, world units (0 = interest management off); the
    /// big-map scenario defaults to 150.
    #[arg(long, value_name = "UNITS")]
    pub view_radius: Option<f32>,
    /// Bots get their seats from the cluster matchmaker of the instance at --url (`POST
    /// /matchmake`) and join where their reservation says, on any instance; the connect+join
    /// figure then includes the placement.
    #[arg(long)]
    pub matchmake: bool,
    /// Chat lines each well-behaved bot sends, lines per minute (0 = no chat), at a random
    /// phase, so the cost of in-match chat shows in the figures.
    #[arg(long, value_name = "LINES", default_value_t = 0.0)]
    pub chat_per_min: f64,
    /// No progress bars and no table (the JSON file and errors are still written).
    #[arg(long, short)]
    pub quiet: bool,
    /// Instead of a load test, measure the CPU cost of one plain write() of BYTES bytes to a
    /// loopback TCP socket and print it as JSON (the floor `benches/server.sh` compares with).
    #[arg(long, value_name = "BYTES", hide = true)]
    pub write_floor: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_owned(),
            bots: 100,
            per_match: 50,
            ramp: 200.0,
            duration: Duration::from_secs(30),
            seed: 1,
            game: "arena".to_owned(),
            behavior: Behavior::Walk,
            verify_sample: 4,
            embedded: false,
            json: None,
            fail_if: Vec::new(),
            hostile: 0.0,
            scenario: None,
            view_radius: None,
            matchmake: false,
            chat_per_min: 0.0,
            quiet: false,
            write_floor: None,
        }
    }
}

impl Options {
    /// Applies the scenario's overrides, then checks the ranges clap cannot express.
    pub fn resolved(&self) -> Result<Options, LoadtestError> {
        let mut o = self.clone();
        if matches!(o.scenario, Some(Scenario::OpenArena | Scenario::BigMap)) {
            o.per_match = u16::try_from(o.bots).map_err(|_| {
                LoadtestError::InvalidOption(format!(
                    "this scenario puts every bot in one match of at most {} players",
                    u16::MAX
                ))
            })?;
            o.behavior = Behavior::Walk;
        }
        if o.scenario == Some(Scenario::BigMap) && o.embedded {
            o.view_radius.get_or_insert(BIG_MAP_VIEW_RADIUS);
        }
        if !(o.chat_per_min.is_finite() && (0.0..=6000.0).contains(&o.chat_per_min)) {
            return Err(LoadtestError::InvalidOption(
                "--chat-per-min must be within 0..=6000 lines per minute".into(),
            ));
        }
        if o.view_radius.is_some_and(|r| !(r.is_finite() && r >= 0.0)) {
            return Err(LoadtestError::InvalidOption(
                "--view-radius must be a distance >= 0".into(),
            ));
        }
        if o.bots == 0 {
            return Err(LoadtestError::InvalidOption(
                "--bots must be at least 1".into(),
            ));
        }
        if o.per_match == 0 {
            return Err(LoadtestError::InvalidOption(
                "--per-match must be at least 1".into(),
            ));
        }
        if !(o.ramp.is_finite() && o.ramp > 0.0) {
            return Err(LoadtestError::InvalidOption(
                "--ramp must be a positive number of bots per second".into(),
            ));
        }
        if o.duration.is_zero() {
            return Err(LoadtestError::InvalidOption(
                "--duration must be longer than 0".into(),
            ));
        }
        if !(0.0..=100.0).contains(&o.hostile) {
            return Err(LoadtestError::InvalidOption(
                "--hostile must be a percentage from 0 to 100".into(),
            ));
        }
        o.verify_sample = o.verify_sample.min(o.bots);
        Ok(o)
    }

    /// Hostile bots, bots: `hostile` percent of `bots`, rounded.
    pub fn hostile_bots(&self) -> u32 {
        let n = (f64::from(self.bots) * self.hostile / 100.0).round();
        (n.max(0.0) as u32).min(self.bots)
    }

    /// The kind of every bot, by index: [`Options::hostile_bots`] of them hostile, spread
    /// evenly over the indices (offset by half a stride from the verifying bots), dealing
    /// out the three hostile kinds in turn.
    pub fn kinds(&self) -> Vec<BotKind> {
        let (n, h) = (u64::from(self.bots), u64::from(self.hostile_bots()));
        let mut dealt = 0;
        (0..n)
            .map(|i| {
                if h > 0 && (i * h + n / 2) % n < h {
                    dealt += 1;
                    BotKind::HOSTILE[(dealt - 1) % BotKind::HOSTILE.len()]
                } else {
                    BotKind::WellBehaved
                }
            })
            .collect()
    }

    /// Whether bot `index` (0-based) is one of the verifying bots: `verify_sample` of them,
    /// spread evenly over the indices so that they land in different matches.
    pub fn verifies(&self, index: u32) -> bool {
        let (n, k) = (u64::from(self.bots.max(1)), u64::from(self.verify_sample));
        (u64::from(index) * k) % n < k
    }
}

/// Parses a duration such as `30s`, `2m`, `500ms`, `1.5s` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{text:?} has no unit: write e.g. 30s, 2m or 500ms"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let seconds_per_unit = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["30", "s", "3x", "1.2.3s", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verify_sample_is_spread_and_exact() {
        for (bots, k) in [(20, 4), (10, 3), (7, 7), (1000, 1), (5, 0)] {
            let o = Options {
                bots,
                verify_sample: k,
                ..Options::default()
            };
            let chosen: Vec<u32> = (0..bots).filter(|&i| o.verifies(i)).collect();
            assert_eq!(chosen.len() as u32, k, "{bots} {k}");
        }
        let o = Options {
            bots: 20,
            verify_sample: 4,
            ..Options::default()
        };
        let chosen: Vec<u32> = (0..20).filter(|&i| o.verifies(i)).collect();
        assert_eq!(chosen, [0, 5, 10, 15]);
    }

    #[test]
    fn hostile_kinds_are_exact_and_even() {
        for (bots, pct) in [(300, 20.0), (100, 0.0), (7, 100.0), (10, 33.0), (2000, 5.0)] {
            let o = Options {
                bots,
                hostile: pct,
                ..Options::default()
            };
            let kinds = o.kinds();
            assert_eq!(kinds.len(), bots as usize);
            let hostile = kinds.iter().filter(|k| k.is_hostile()).count() as u32;
            assert_eq!(hostile, o.hostile_bots(), "{bots} {pct}");
            for kind in BotKind::HOSTILE {
                let n = kinds.iter().filter(|k| **k == kind).count() as u32;
                assert!(n.abs_diff(hostile / 3) <= 1, "{bots} {pct} {kind:?} {n}");
            }
        }
        let o = Options {
            bots: 300,
            hostile: 20.0,
            ..Options::default()
        };
        // Not all verifying bots are hostile (they would be at a zero offset).
        let kinds = o.kinds();
        assert!((0..300).any(|i| o.verifies(i) && !kinds[i as usize].is_hostile()));
        assert!(
            Options {
                hostile: 101.0,
                ..Options::default()
            }
            .resolved()
            .is_err()
        );
    }

    #[test]
    fn open_arena_overrides() {
        let o = Options {
            bots: 300,
            scenario: Some(Scenario::OpenArena),
            behavior: Behavior::WalkShoot,
            ..Options::default()
        }
        .resolved()
        .unwrap();
        assert_eq!((o.per_match, o.behavior), (300, Behavior::Walk));
        assert!(
            Options {
                bots: 0,
                ..Options::default()
            }
            .resolved()
            .is_err()
        );
    }
}
