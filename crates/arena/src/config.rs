//! Arena's own rules: score limit, movement and weapon constants (the `[arena]` section of a
//! server's configuration). The engine's rules (tick rate, players, duration) are its
//! [`MatchConfig`].

use serde::{Deserialize, Serialize};
use tickwire_sim::config::{ConfigError, MatchConfig, positive, range};

/// Largest accepted length (radii), world units.
const MAX_RADIUS: f32 = 1000.0;
/// Largest accepted speed, world units per second.
const MAX_SPEED: f32 = 100_000.0;
/// Largest accepted acceleration, world units per second squared.
const MAX_ACCEL: f32 = 1_000_000.0;
/// Largest accepted friction, 1/s.
const MAX_FRICTION: f32 = 1000.0;
/// Longest accepted duration of any millisecond setting (one hour), ms.
const MAX_MS: u32 = 3_600_000;
/// A player may move at most this many radii per tick: movement is split into sub-steps of half
/// a radius so a fast player cannot tunnel through a thin wall, and the sub-step count is capped.
pub const MAX_RADII_PER_TICK: f32 = 32.0;

/// Arena's rules and physics constants.
///
/// Every field has a default, so a TOML `[arena]` section only needs the fields it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArenaConfig {
    /// Score (kills) that ends the match, kills (default 20; 0 = no limit).
    pub score_limit: u32,
    /// Player circle radius, world units (default 16).
    pub player_radius: f32,
    /// Acceleration at full stick, world units/s² (default 2000).
    pub player_accel: f32,
    /// Velocity damping, 1/s: each tick velocity is scaled by `1 - friction / tick_rate` (default 6).
    pub player_friction: f32,
    /// Top speed, world units/s (default 300).
    pub player_max_speed: f32,
    /// Projectile speed, world units/s (default 700).
    pub projectile_speed: f32,
    /// Projectile circle radius, world units (default 4).
    pub projectile_radius: f32,
    /// Projectile lifetime, milliseconds (default 1200).
    pub projectile_lifetime_ms: u32,
    /// Time between two shots of one player, milliseconds (default 300).
    pub fire_cooldown_ms: u32,
    /// Health taken by one hit, hit points (default 25).
    pub projectile_damage: u8,
    /// Health of a fresh player, hit points (default 100).
    pub player_max_hp: u8,
    /// Time from death to respawn, milliseconds (default 2000).
    pub respawn_ms: u32,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self {
            score_limit: 20,
            player_radius: 16.0,
            player_accel: 2000.0,
            player_friction: 6.0,
            player_max_speed: 300.0,
            projectile_speed: 700.0,
            projectile_radius: 4.0,
            projectile_lifetime_ms: 1200,
            fire_cooldown_ms: 300,
            projectile_damage: 25,
            player_max_hp: 100,
            respawn_ms: 2000,
        }
    }
}

/// Why an [`ArenaConfig`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ArenaConfigError {
    /// A setting is outside its accepted range.
    #[error(transparent)]
    Range(#[from] ConfigError),
    /// A player at top speed would move more than the sub-stepping can keep collision-safe.
    #[error(
        "player_max_speed {speed} units/s moves more than {MAX_RADII_PER_TICK} radii per tick at {tick_rate} Hz"
    )]
    TooFast {
        /// The configured top speed, units/s.
        speed: f32,
        /// The configured tick rate, Hz.
        tick_rate: u16,
    },
}

impl ArenaConfig {
    /// Checks every setting is in its accepted range at the match's tick rate, so the game
    /// never sees a value that could make it divide by zero, overflow or produce non-finite
    /// positions.
    pub fn validate(&self, rules: &MatchConfig) -> Result<(), ArenaConfigError> {
        positive("player_radius", self.player_radius, MAX_RADIUS, false)?;
        positive("player_accel", self.player_accel, MAX_ACCEL, true)?;
        positive("player_friction", self.player_friction, MAX_FRICTION, true)?;
        positive("player_max_speed", self.player_max_speed, MAX_SPEED, false)?;
        positive("projectile_speed", self.projectile_speed, MAX_SPEED, false)?;
        positive(
            "projectile_radius",
            self.projectile_radius,
            MAX_RADIUS,
            false,
        )?;
        let ms = |field, v: u32, min: f64| range(field, f64::from(v), min, f64::from(MAX_MS));
        ms("projectile_lifetime_ms", self.projectile_lifetime_ms, 1.0)?;
        ms("fire_cooldown_ms", self.fire_cooldown_ms, 0.0)?;
        ms("respawn_ms", self.respawn_ms, 0.0)?;
        range(
            "projectile_damage",
            f64::from(self.projectile_damage),
            1.0,
            255.0,
        )?;
        range("player_max_hp", f64::from(self.player_max_hp), 1.0, 255.0)?;
        let tick_rate = rules.tick_rate.max(1);
        if self.player_max_speed / f32::from(tick_rate) > MAX_RADII_PER_TICK * self.player_radius {
            return Err(ArenaConfigError::TooFast {
                speed: self.player_max_speed,
                tick_rate,
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
        ArenaConfig::default()
            .validate(&MatchConfig::default())
            .unwrap();
    }

    #[test]
    fn refuses_bad_values() {
        let bad = |f: fn(&mut ArenaConfig)| {
            let mut c = ArenaConfig::default();
            f(&mut c);
            c.validate(&MatchConfig::default()).unwrap_err()
        };
        for f in [
            (|c: &mut ArenaConfig| c.player_radius = f32::NAN) as fn(&mut ArenaConfig),
            |c| c.player_radius = 0.0,
            |c| c.player_max_speed = f32::INFINITY,
            |c| c.player_accel = -1.0,
            |c| c.projectile_speed = 0.0,
            |c| c.projectile_lifetime_ms = 0,
            |c| c.projectile_damage = 0,
            |c| c.player_max_hp = 0,
        ] {
            assert!(matches!(
                bad(f),
                ArenaConfigError::Range(ConfigError::OutOfRange { .. })
            ));
        }
        let slow_ticks = MatchConfig {
            tick_rate: 1,
            ..MatchConfig::default()
        };
        let fast = ArenaConfig {
            player_max_speed: 10_000.0,
            ..ArenaConfig::default()
        };
        assert!(matches!(
            fast.validate(&slow_ticks),
            Err(ArenaConfigError::TooFast { .. })
        ));
    }

    #[test]
    fn partial_toml_uses_defaults() {
        let c: ArenaConfig = toml::from_str("score_limit = 5").unwrap();
        assert_eq!((c.score_limit, c.player_max_hp), (5, 100));
        assert!(toml::from_str::<ArenaConfig>("tick_rate = 30").is_err());
    }
}
