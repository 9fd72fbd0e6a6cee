//! Arena's replicated entity as a typed value, with its quantization.
//!
//! On the wire an entity is a row of its game's schema ([`tickwire_proto::schema::rows::EntityRow`]);
//! [`EntityState`] is a typed view of an arena row, converted by [`crate::schema`].
//!
//! Positions are fixed-point integers in 1/[`POS_SCALE`] of a world unit, so the server and
//! every client agree on them exactly; the simulation quantizes its floats once per tick.

use serde::{Deserialize, Serialize};
use tickwire_proto::schema::rows::predict;

/// Position quantization: wire positions are world units times this (1/8 unit precision).
pub const POS_SCALE: f32 = 8.0;

/// Bit of [`EntityState::flags`]: the entity is alive (a dead player waits to respawn).
pub const FLAG_ALIVE: u8 = 1;
/// Bit of [`EntityState::flags`]: the player's client is connected (clear during the grace period).
pub const FLAG_CONNECTED: u8 = 2;

/// What an entity is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum EntityKind {
    /// A player's avatar.
    #[default]
    Player,
    /// A projectile in flight.
    Projectile,
}

/// The full replicated state of one arena entity: a typed view of its schema row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityState {
    /// Entity id: unique within a match, never reused, never 0.
    pub id: u32,
    /// What the entity is; never changes for an id.
    pub kind: EntityKind,
    /// X position in 1/[`POS_SCALE`] world units.
    pub x: i32,
    /// Y position in 1/[`POS_SCALE`] world units.
    pub y: i32,
    /// X velocity in 1/[`POS_SCALE`] world units per tick (what the baseline prediction uses).
    pub vx: i32,
    /// Y velocity in 1/[`POS_SCALE`] world units per tick.
    pub vy: i32,
    /// Facing, in 1/256 turns.
    pub aim: u8,
    /// Health points (players: 0–100; projectiles: 0).
    pub hp: u8,
    /// Score (players) or 0.
    pub score: u32,
    /// [`FLAG_ALIVE`], [`FLAG_CONNECTED`].
    pub flags: u8,
    /// The entity that owns this one (a projectile's shooter), 0 for none; never changes.
    pub owner: u32,
    /// Display name (players), empty otherwise; never changes.
    pub name: String,
}

impl EntityState {
    /// Where `self` is expected `age` ticks later if nothing changes: moved on by its velocity.
    pub fn predict(&self, age: u32) -> (i32, i32) {
        predict((self.x, self.y), (self.vx, self.vy), age)
    }
}

/// Converts a world coordinate to its wire fixed-point form (round to nearest, saturating).
pub fn quantize(v: f32) -> i32 {
    // `as` saturates and maps NaN to 0, which is what a corrupt value should become.
    (v * POS_SCALE).round() as i32
}

/// Converts a wire fixed-point coordinate back to world units.
pub fn dequantize(v: i32) -> f32 {
    v as f32 / POS_SCALE
}
