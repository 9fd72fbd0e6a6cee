//! The engine's rules of a match: tick rate, player counts, duration, input queue limits,
//! snapshot history and replication. A game's own rules live in its own crate.

use serde::{Deserialize, Serialize};

/// Lowest accepted tick rate, Hz.
const MIN_TICK_RATE: u16 = 1;
/// Highest accepted tick rate, Hz.
const MAX_TICK_RATE: u16 = 240;
/// Longest accepted running phase, seconds (one week), which keeps tick counts far from `u32::MAX`.
const MAX_MATCH_SECS: u32 = 7 * 24 * 3600;
/// Most snapshots the history may keep; bounds memory per match.
const MAX_HISTORY_TICKS: u32 = tickwire_proto::schema::rows::MAX_WORLDS as u32;

/// Seconds of snapshots a derived history holds (`history_ticks = 0`), seconds: two, so a
/// client whose acknowledgements lag by a second still gets deltas.
pub const AUTO_HISTORY_SECS: u32 = 2;

/// Fewest snapshots a derived history holds, ticks (what the default was before it was
/// derived: 64 at 30 Hz).
pub const MIN_AUTO_HISTORY_TICKS: u32 = 64;
/// Most inputs a player's queue may hold.
const MAX_QUEUED_INPUTS: usize = 1024;
/// Largest accepted view radius, world units: beyond the diagonal of the largest map.
const MAX_VIEW_RADIUS: f32 = 200_000.0;
/// Smallest replication budget of one frame, bytes: room for the own player's update plus the
/// largest create (a player with a 24-byte name is about 60 bytes), so a frame always makes
/// progress. Budgets passed to [`crate::interest::ClientView::frame`] are raised to it.
pub const MIN_FRAME_BUDGET_BYTES: usize = 128;

/// The engine's rules of a match, whatever the game.
///
/// Every field has a default, so a TOML `[game]` section only needs the fields it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// Simulation ticks per second, Hz (1..=240, default 30).
    pub tick_rate: u16,
    /// Most players in one match, players (default 16).
    pub max_players: u16,
    /// Connected players needed to leave the Waiting phase, players (1..=max_players, default 2).
    pub min_players: u16,
    /// Length of the Running phase, seconds (default 300).
    pub match_duration_secs: u32,
    /// Inputs a player's queue holds before new ones are dropped, inputs (default 8).
    pub max_queued_inputs: usize,
    /// Largest accepted jump of an input's sequence number past the last received one,
    /// sequence numbers (default 1024).
    pub max_seq_jump: u32,
    /// Snapshots kept for delta baselines, ticks (default 0 = derived from the tick rate, see
    /// [`MatchConfig::history_len`]; otherwise at least one second of ticks). Also the most sent
    /// views a [`crate::interest::ClientView`] keeps.
    pub history_ticks: u32,
    /// Area of interest: a client receives the entities within this distance of its player,
    /// world units (0..=200000, default 0 = interest management off: every client receives
    /// every entity). Its own entity and the entities it owns are always included; a spectator sees
    /// everything unless the server gives it a focus point.
    pub view_radius: f32,
    /// Replication budget per client, bytes of state delta per second (default 0 = unlimited;
    /// otherwise at least 128 bytes per tick, i.e. `128 * tick_rate`). Spent per frame as
    /// `budget / tick_rate` bytes on the most urgent entity changes; the rest wait (see
    /// [`crate::interest`] for the bound on how long).
    pub replication_budget_bytes_per_sec: u32,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            tick_rate: 30,
            max_players: 16,
            min_players: 2,
            match_duration_secs: 300,
            max_queued_inputs: 8,
            max_seq_jump: 1024,
            history_ticks: 0,
            view_radius: 0.0,
            replication_budget_bytes_per_sec: 0,
        }
    }
}

/// Why a [`MatchConfig`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The tick rate is outside 1..=240 Hz.
    #[error("tick_rate {0} Hz is outside {MIN_TICK_RATE}..={MAX_TICK_RATE}")]
    TickRate(u16),
    /// A numeric setting is outside its accepted range (or not a finite number).
    #[error("{field} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The setting's field name.
        field: &'static str,
        /// The refused value.
        value: f64,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// `min_players` is 0 or larger than `max_players`.
    #[error("min_players {min_players} must be within 1..=max_players ({max_players})")]
    MinPlayers {
        /// The refused minimum.
        min_players: u16,
        /// The configured maximum.
        max_players: u16,
    },
    /// The snapshot history is shorter than one second of ticks.
    #[error(
        "history_ticks {history_ticks} must cover one second ({needed} ticks at the tick rate), \
         or be 0 to follow the tick rate"
    )]
    HistoryTooShort {
        /// The configured history, ticks.
        history_ticks: u32,
        /// Ticks in one second.
        needed: u32,
    },
}

/// Checks `value` of the setting `field` is within `min..=max` (NaN never is); games validate
/// their own settings with it too.
pub fn range(field: &'static str, value: f64, min: f64, max: f64) -> Result<(), ConfigError> {
    if value >= min && value <= max {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// Checks a float setting `field` is finite and within `(0, max]` (or `[0, max]` when
/// `zero_ok`); games validate their own settings with it too.
pub fn positive(
    field: &'static str,
    value: f32,
    max: f32,
    zero_ok: bool,
) -> Result<(), ConfigError> {
    let ok = value.is_finite() && value <= max && (value > 0.0 || (zero_ok && value == 0.0));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value: f64::from(value),
            min: if zero_ok {
                0.0
            } else {
                f64::from(f32::MIN_POSITIVE)
            },
            max: f64::from(max),
        })
    }
}

impl MatchConfig {
    /// Checks every setting is in its accepted range, so the simulation never sees a value that
    /// could make it divide by zero, overflow or produce non-finite positions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_TICK_RATE..=MAX_TICK_RATE).contains(&self.tick_rate) {
            return Err(ConfigError::TickRate(self.tick_rate));
        }
        range(
            "max_players",
            f64::from(self.max_players),
            1.0,
            f64::from(u16::MAX),
        )?;
        if self.min_players == 0 || self.min_players > self.max_players {
            return Err(ConfigError::MinPlayers {
                min_players: self.min_players,
                max_players: self.max_players,
            });
        }
        range(
            "match_duration_secs",
            f64::from(self.match_duration_secs),
            1.0,
            f64::from(MAX_MATCH_SECS),
        )?;
        range(
            "max_queued_inputs",
            self.max_queued_inputs as f64,
            1.0,
            MAX_QUEUED_INPUTS as f64,
        )?;
        range(
            "max_seq_jump",
            f64::from(self.max_seq_jump),
            1.0,
            f64::from(u32::MAX),
        )?;
        let needed = u32::from(self.tick_rate);
        if self.history_ticks != 0 && self.history_ticks < needed {
            return Err(ConfigError::HistoryTooShort {
                history_ticks: self.history_ticks,
                needed,
            });
        }
        range(
            "history_ticks",
            f64::from(self.history_len()),
            f64::from(needed),
            f64::from(MAX_HISTORY_TICKS),
        )?;
        positive("view_radius", self.view_radius, MAX_VIEW_RADIUS, true)?;
        let min_budget = MIN_FRAME_BUDGET_BYTES as f64 * f64::from(self.tick_rate);
        if self.replication_budget_bytes_per_sec != 0 {
            range(
                "replication_budget_bytes_per_sec",
                f64::from(self.replication_budget_bytes_per_sec),
                min_budget,
                f64::from(u32::MAX),
            )?;
        }
        Ok(())
    }

    /// Converts milliseconds to ticks at the tick rate, rounding up (saturating at `u32::MAX`).
    pub fn ticks(&self, ms: u32) -> u32 {
        let rate = u64::from(self.tick_rate.max(1));
        let t = (u64::from(ms) * rate).div_ceil(1000);
        u32::try_from(t).unwrap_or(u32::MAX)
    }

    /// Length of the Running phase, ticks.
    pub fn match_ticks(&self) -> u32 {
        let t = u64::from(self.match_duration_secs) * u64::from(self.tick_rate.max(1));
        u32::try_from(t).unwrap_or(u32::MAX)
    }

    /// Snapshots kept for delta baselines, ticks: `history_ticks`, or when it is 0 the larger
    /// of [`AUTO_HISTORY_SECS`] seconds at the tick rate and [`MIN_AUTO_HISTORY_TICKS`], so a
    /// tick rate set alone (say `--tick-rate 120`) never fails for want of history.
    pub fn history_len(&self) -> u32 {
        if self.history_ticks != 0 {
            return self.history_ticks;
        }
        (AUTO_HISTORY_SECS * u32::from(self.tick_rate)).max(MIN_AUTO_HISTORY_TICKS)
    }

    /// The replication budget of one frame, bytes (`None` when unlimited):
    /// `replication_budget_bytes_per_sec / tick_rate`, at least [`MIN_FRAME_BUDGET_BYTES`].
    pub fn frame_budget_bytes(&self) -> Option<usize> {
        if self.replication_budget_bytes_per_sec == 0 {
            return None;
        }
        let per_tick = self.replication_budget_bytes_per_sec / u32::from(self.tick_rate.max(1));
        Some((per_tick as usize).max(MIN_FRAME_BUDGET_BYTES))
    }

    /// Length of one tick, seconds.
    pub fn dt(&self) -> f32 {
        1.0 / f32::from(self.tick_rate.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        MatchConfig::default().validate().unwrap();
    }

    #[test]
    fn ticks_round_up() {
        let c = MatchConfig::default();
        assert_eq!(c.ticks(0), 0);
        assert_eq!(c.ticks(1), 1);
        assert_eq!(c.ticks(1000), 30);
        assert_eq!(c.ticks(1001), 31);
        assert_eq!(
            c.ticks(u32::MAX),
            u32::try_from((u64::from(u32::MAX) * 30).div_ceil(1000)).unwrap()
        );
        assert_eq!(c.match_ticks(), 9000);
    }

    #[test]
    fn refuses_bad_values() {
        let bad = |f: fn(&mut MatchConfig)| {
            let mut c = MatchConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.tick_rate = 0), ConfigError::TickRate(0));
        assert_eq!(bad(|c| c.tick_rate = 241), ConfigError::TickRate(241));
        assert!(matches!(
            bad(|c| c.min_players = 0),
            ConfigError::MinPlayers { .. }
        ));
        assert!(matches!(
            bad(|c| c.min_players = 17),
            ConfigError::MinPlayers { .. }
        ));
        assert!(matches!(
            bad(|c| c.history_ticks = 29),
            ConfigError::HistoryTooShort { needed: 30, .. }
        ));
        assert!(matches!(
            bad(|c| {
                c.tick_rate = 120;
                c.history_ticks = 64;
            }),
            ConfigError::HistoryTooShort { needed: 120, .. }
        ));
        for f in [
            (|c: &mut MatchConfig| c.max_queued_inputs = 0) as fn(&mut MatchConfig),
            |c| c.max_seq_jump = 0,
            |c| c.match_duration_secs = 0,
            |c| c.view_radius = -1.0,
            |c| c.view_radius = f32::NAN,
            |c| c.view_radius = 300_000.0,
            |c| c.replication_budget_bytes_per_sec = 3839,
        ] {
            assert!(matches!(bad(f), ConfigError::OutOfRange { .. }));
        }
    }

    #[test]
    fn a_derived_history_follows_the_tick_rate() {
        let at = |rate: u16| MatchConfig {
            tick_rate: rate,
            ..MatchConfig::default()
        };
        assert_eq!(at(30).history_len(), 64);
        assert_eq!(at(60).history_len(), 120);
        assert_eq!(at(240).history_len(), 480);
        at(240).validate().unwrap();
        let explicit = MatchConfig {
            history_ticks: 300,
            ..at(240)
        };
        assert_eq!(explicit.history_len(), 300);
    }

    #[test]
    fn partial_toml_uses_defaults() {
        let c: MatchConfig = toml::from_str("tick_rate = 60\nhistory_ticks = 120").unwrap();
        assert_eq!(c.tick_rate, 60);
        assert_eq!(c.max_players, 16);
        c.validate().unwrap();
        assert!(toml::from_str::<MatchConfig>("bogus = 1").is_err());
        assert_eq!(
            (c.view_radius, c.replication_budget_bytes_per_sec),
            (0.0, 0)
        );
    }

    #[test]
    fn interest_settings() {
        let c: MatchConfig =
            toml::from_str("view_radius = 150.0\nreplication_budget_bytes_per_sec = 8000").unwrap();
        c.validate().unwrap();
        assert_eq!(c.frame_budget_bytes(), Some(266));
        assert_eq!(MatchConfig::default().frame_budget_bytes(), None);
        let tight = MatchConfig {
            replication_budget_bytes_per_sec: 3840,
            ..MatchConfig::default()
        };
        tight.validate().unwrap();
        assert_eq!(tight.frame_budget_bytes(), Some(MIN_FRAME_BUDGET_BYTES));
        // An integer radius is accepted too (as from an environment variable).
        let int: MatchConfig = toml::from_str("view_radius = 150").unwrap();
        assert_eq!(int.view_radius, 150.0);
    }
}
