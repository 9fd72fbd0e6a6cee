//! Replicated entity state as it travels on the wire, with its quantization.
//!
//! Positions are fixed-point integers in 1/[`POS_SCALE`] of a world unit, so the server and
//! every client agree on them exactly; the simulation quantizes its floats once per tick.

use serde::{Deserialize, Serialize};

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

/// The full replicated state of one entity, as in a snapshot or a create.
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

/// The changed fields of one entity relative to the client's baseline and the baseline's
/// prediction of it.
///
/// An entity in the baseline that has no update is not unchanged: it moved on by its velocity,
/// `x += vx * age` (see [`EntityState::predict`]). An update names the entity by its index in
/// the baseline (entities sorted by id, before any removal), so it costs no id at all on the
/// wire, and carries only what the prediction got wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityUpdate {
    /// Index of the entity in the baseline's id-sorted entity list.
    pub index: u32,
    /// New velocity minus the baseline velocity, wire units per tick (x, y).
    pub vel_delta: Option<(i32, i32)>,
    /// Position minus the prediction `baseline position + new velocity * age`, wire units.
    pub pos_residual: Option<(i32, i32)>,
    /// New facing.
    pub aim: Option<u8>,
    /// New health.
    pub hp: Option<u8>,
    /// New score and flags.
    pub misc: Option<(u32, u8)>,
}

/// Mask bit: `vel_delta` follows.
pub const MASK_VEL: u32 = 1;
/// Mask bit: `pos_residual` follows.
pub const MASK_POS: u32 = 2;
/// Mask bit: `aim` follows.
pub const MASK_AIM: u32 = 4;
/// Mask bit: `hp` follows.
pub const MASK_HP: u32 = 8;
/// Mask bit: `misc` (score, flags) follows.
pub const MASK_MISC: u32 = 16;
/// Bits of an update's field mask on the wire.
pub const MASK_BITS: u32 = 5;

/// The baseline prediction of the format: position `(x, y)` moved on by velocity `(vx, vy)`
/// for `age` ticks, wrapping like every position sum of the format.
pub fn predict((x, y): (i32, i32), (vx, vy): (i32, i32), age: u32) -> (i32, i32) {
    let a = age as i32;
    (
        x.wrapping_add(vx.wrapping_mul(a)),
        y.wrapping_add(vy.wrapping_mul(a)),
    )
}

impl EntityState {
    /// Where `self` is expected `age` ticks later if nothing changes: moved on by its velocity.
    pub fn predict(&self, age: u32) -> (i32, i32) {
        predict((self.x, self.y), (self.vx, self.vy), age)
    }

    /// The update that turns `base`, `age` ticks old, into `self` (same id assumed), or `None`
    /// when the prediction from `base` is exact: an entity moving at a steady velocity costs
    /// zero bytes. `index` is `base`'s index in its baseline.
    pub fn update_from(&self, base: &EntityState, age: u32, index: u32) -> Option<EntityUpdate> {
        let vel_delta = (self.vx != base.vx || self.vy != base.vy)
            .then(|| (self.vx.wrapping_sub(base.vx), self.vy.wrapping_sub(base.vy)));
        let (px, py) = predict((base.x, base.y), (self.vx, self.vy), age);
        let pos_residual = (self.x != px || self.y != py)
            .then(|| (self.x.wrapping_sub(px), self.y.wrapping_sub(py)));
        let update = EntityUpdate {
            index,
            vel_delta,
            pos_residual,
            aim: (self.aim != base.aim).then_some(self.aim),
            hp: (self.hp != base.hp).then_some(self.hp),
            misc: (self.score != base.score || self.flags != base.flags)
                .then_some((self.score, self.flags)),
        };
        (!update.is_empty()).then_some(update)
    }

    /// Moves this baseline entity on by `age` ticks and applies `update` (if any) in place.
    pub fn advance(&mut self, age: u32, update: Option<&EntityUpdate>) {
        if let Some((dvx, dvy)) = update.and_then(|u| u.vel_delta) {
            self.vx = self.vx.wrapping_add(dvx);
            self.vy = self.vy.wrapping_add(dvy);
        }
        (self.x, self.y) = self.predict(age);
        let Some(update) = update else { return };
        if let Some((rx, ry)) = update.pos_residual {
            self.x = self.x.wrapping_add(rx);
            self.y = self.y.wrapping_add(ry);
        }
        if let Some(aim) = update.aim {
            self.aim = aim;
        }
        if let Some(hp) = update.hp {
            self.hp = hp;
        }
        if let Some((score, flags)) = update.misc {
            self.score = score;
            self.flags = flags;
        }
    }

    /// True when the replicated identity (kind, owner, name) differs, which needs a re-create.
    pub fn identity_differs(&self, other: &EntityState) -> bool {
        self.kind != other.kind || self.owner != other.owner || self.name != other.name
    }
}

impl EntityUpdate {
    /// True when no field changed.
    pub fn is_empty(&self) -> bool {
        self.mask() == 0
    }

    /// The wire mask of the fields present ([`MASK_VEL`] ...).
    pub fn mask(&self) -> u32 {
        let mut mask = 0;
        if self.vel_delta.is_some() {
            mask |= MASK_VEL;
        }
        if self.pos_residual.is_some() {
            mask |= MASK_POS;
        }
        if self.aim.is_some() {
            mask |= MASK_AIM;
        }
        if self.hp.is_some() {
            mask |= MASK_HP;
        }
        if self.misc.is_some() {
            mask |= MASK_MISC;
        }
        mask
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
