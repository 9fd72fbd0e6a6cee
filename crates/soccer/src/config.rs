//! Soccer's own rules: the pitch, movement, the ball and the score limit (the `[soccer]`
//! section of a server's configuration). The engine's rules (tick rate, players, duration) are
//! its [`MatchConfig`](tickwire_sim::MatchConfig).

use serde::{Deserialize, Serialize};
use tickwire_sim::config::{ConfigError, positive, range};

/// Smallest accepted pitch side, world units.
const MIN_PITCH: u32 = 200;
/// Largest accepted pitch side, world units.
const MAX_PITCH: u32 = 20_000;
/// Largest accepted radius or reach, world units.
const MAX_RADIUS: f32 = 500.0;
/// Largest accepted speed, world units per second.
const MAX_SPEED: f32 = 20_000.0;
/// Largest accepted sprint multiplier, times the walking speed.
const MAX_SPRINT: f32 = 4.0;
/// Largest accepted ball friction, 1/s.
const MAX_FRICTION: f32 = 100.0;
/// Longest accepted kick cooldown (one minute), ms.
const MAX_COOLDOWN_MS: u32 = 60_000;
/// Longest accepted kickoff pause (ten minutes at 240 Hz), ticks.
const MAX_PAUSE_TICKS: u32 = 144_000;
/// Most players a team may have, players.
pub const MAX_TEAM_SIZE: u8 = 100;
/// Players per team of a default match: five a side.
pub const DEFAULT_TEAM_SIZE: u8 = 5;

/// Soccer's rules and physics constants.
///
/// Every field has a default, so a TOML `[soccer]` section only needs the fields it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoccerConfig {
    /// Pitch width (x), world units (200..=20000, default 1600).
    pub pitch_width: u32,
    /// Pitch height (y), world units (200..=20000, default 1000).
    pub pitch_height: u32,
    /// Width of each goal mouth, centred on the left and right walls, world units (greater
    /// than twice the ball radius, less than the pitch height; default 300).
    pub goal_width: f32,
    /// Player circle radius, world units (0 < r <= 500, default 20).
    pub player_radius: f32,
    /// Ball circle radius, world units (0 < r <= 500, default 10).
    pub ball_radius: f32,
    /// Walking speed at full stick, world units/s (0 < v <= 20000, default 250).
    pub player_speed: f32,
    /// Speed while sprinting, times the walking speed (1..=4, default 1.5).
    pub sprint_multiplier: f32,
    /// Largest distance between a player's centre and the ball's at which a kick connects,
    /// world units (0 < d <= 500, default 40).
    pub kick_reach: f32,
    /// Ball speed of a kick at full power (255), and the ball's top speed, world units/s
    /// (0 < v <= 20000, default 900).
    pub max_kick_speed: f32,
    /// Ball velocity damping, 1/s: each tick the ball's velocity is scaled by
    /// `1 - friction / tick_rate` (0..=100, default 0.8).
    pub ball_friction: f32,
    /// Time between two kicks of one player, milliseconds (0..=60000, default 250).
    pub kick_cooldown_ms: u32,
    /// Pause after a kickoff (the start and every goal) during which players cannot move or
    /// kick, ticks (0..=144000, default 60).
    pub kickoff_pause_ticks: u32,
    /// Goals of one team that end the match, goals (default 5; 0 = no limit).
    pub score_limit: u32,
    /// Most players per team, players (1..=100, default 5: five a side; more is for crowds on
    /// a big pitch, as in the interest-management benchmark).
    pub team_size: u8,
}

impl Default for SoccerConfig {
    fn default() -> Self {
        Self {
            pitch_width: 1600,
            pitch_height: 1000,
            goal_width: 300.0,
            player_radius: 20.0,
            ball_radius: 10.0,
            player_speed: 250.0,
            sprint_multiplier: 1.5,
            kick_reach: 40.0,
            max_kick_speed: 900.0,
            ball_friction: 0.8,
            kick_cooldown_ms: 250,
            kickoff_pause_ticks: 60,
            score_limit: 5,
            team_size: DEFAULT_TEAM_SIZE,
        }
    }
}

/// Why a [`SoccerConfig`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SoccerConfigError {
    /// A setting is outside its accepted range.
    #[error(transparent)]
    Range(#[from] ConfigError),
    /// The goal mouth does not fit the pitch's side, or the ball does not fit the mouth.
    #[error(
        "goal_width {goal_width} must exceed the ball's diameter {ball_diameter} and be less \
         than pitch_height {pitch_height}"
    )]
    GoalWidth {
        /// The configured goal width, world units.
        goal_width: f32,
        /// Twice the ball radius, world units.
        ball_diameter: f32,
        /// The configured pitch height, world units.
        pitch_height: u32,
    },
    /// A player does not fit on the pitch: kickoff spots need room for two players across
    /// half the pitch.
    #[error("a player of radius {radius} does not fit a {width}x{height} pitch")]
    PitchTooSmall {
        /// Player radius, world units.
        radius: f32,
        /// Pitch width, world units.
        width: u32,
        /// Pitch height, world units.
        height: u32,
    },
}

impl SoccerConfig {
    /// Checks every setting is in its accepted range, so the game never sees a value that
    /// could make it divide by zero, overflow or produce non-finite positions. Limits that
    /// depend on the tick rate are checked by [`crate::new_match`].
    pub fn validate(&self) -> Result<(), SoccerConfigError> {
        let side = |field, v: u32| {
            range(
                field,
                f64::from(v),
                f64::from(MIN_PITCH),
                f64::from(MAX_PITCH),
            )
        };
        side("pitch_width", self.pitch_width)?;
        side("pitch_height", self.pitch_height)?;
        positive("player_radius", self.player_radius, MAX_RADIUS, false)?;
        positive("ball_radius", self.ball_radius, MAX_RADIUS, false)?;
        positive("player_speed", self.player_speed, MAX_SPEED, false)?;
        range(
            "sprint_multiplier",
            f64::from(self.sprint_multiplier),
            1.0,
            f64::from(MAX_SPRINT),
        )?;
        positive("kick_reach", self.kick_reach, MAX_RADIUS, false)?;
        positive("max_kick_speed", self.max_kick_speed, MAX_SPEED, false)?;
        positive("ball_friction", self.ball_friction, MAX_FRICTION, true)?;
        range(
            "kick_cooldown_ms",
            f64::from(self.kick_cooldown_ms),
            0.0,
            f64::from(MAX_COOLDOWN_MS),
        )?;
        range(
            "kickoff_pause_ticks",
            f64::from(self.kickoff_pause_ticks),
            0.0,
            f64::from(MAX_PAUSE_TICKS),
        )?;
        range(
            "team_size",
            f64::from(self.team_size),
            1.0,
            f64::from(MAX_TEAM_SIZE),
        )?;
        positive("goal_width", self.goal_width, MAX_PITCH as f32, false)?;
        let ball_diameter = 2.0 * self.ball_radius;
        if self.goal_width <= ball_diameter || self.goal_width >= self.pitch_height as f32 {
            return Err(SoccerConfigError::GoalWidth {
                goal_width: self.goal_width,
                ball_diameter,
                pitch_height: self.pitch_height,
            });
        }
        let r = self.player_radius;
        if 8.0 * r > self.pitch_width as f32 || 4.0 * r > self.pitch_height as f32 {
            return Err(SoccerConfigError::PitchTooSmall {
                radius: r,
                width: self.pitch_width,
                height: self.pitch_height,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        SoccerConfig::default().validate().unwrap();
    }

    #[test]
    fn refuses_bad_values() {
        let bad = |f: fn(&mut SoccerConfig)| {
            let mut c = SoccerConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        for f in [
            (|c: &mut SoccerConfig| c.pitch_width = 10) as fn(&mut SoccerConfig),
            |c| c.pitch_height = 100_000,
            |c| c.player_radius = f32::NAN,
            |c| c.ball_radius = 0.0,
            |c| c.player_speed = f32::INFINITY,
            |c| c.sprint_multiplier = 0.5,
            |c| c.kick_reach = -1.0,
            |c| c.max_kick_speed = 0.0,
            |c| c.ball_friction = -0.1,
            |c| c.kick_cooldown_ms = 60_001,
            |c| c.team_size = 0,
            |c| c.team_size = 101,
        ] {
            assert!(matches!(bad(f), SoccerConfigError::Range(_)));
        }
        assert!(matches!(
            bad(|c| c.goal_width = 1000.0),
            SoccerConfigError::GoalWidth { .. }
        ));
        assert!(matches!(
            bad(|c| c.goal_width = 15.0),
            SoccerConfigError::GoalWidth { .. }
        ));
        assert!(matches!(
            bad(|c| c.player_radius = 400.0),
            SoccerConfigError::PitchTooSmall { .. }
        ));
    }

    #[test]
    fn partial_toml_uses_defaults() {
        let c: SoccerConfig = toml::from_str("score_limit = 3\nteam_size = 2").unwrap();
        assert_eq!((c.score_limit, c.team_size, c.pitch_width), (3, 2, 1600));
        assert!(toml::from_str::<SoccerConfig>("tick_rate = 30").is_err());
    }
}
