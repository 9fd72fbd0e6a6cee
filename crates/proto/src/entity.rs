//! Replicated entity state as it travels on the wire, with its quantization.
//!
//! Positions are fixed-point integers in 1/[`POS_SCALE`] of a world unit, so the server and
//! every client agree on them exactly; the simulation quantizes its floats once per tick.

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Position quantization: wire positions are world units times this (1/8 unit precision).
pub const POS_SCALE: f32 = 8.0;

/// Bit of [`EntityState::flags`]: the entity is alive (a dead player waits to respawn).
pub const FLAG_ALIVE: u8 = 1;
/// Bit of [`EntityState::flags`]: the player's client is connected (clear during the grace period).
pub const FLAG_CONNECTED: u8 = 2;

/// What an entity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    /// A player's avatar.
    Player,
    /// A projectile in flight.
    Projectile,
}

/// The full replicated state of one entity, as in a snapshot or a create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityState {
    /// Entity id: unique within a match, never reused, never 0.
    pub id: u32,
    /// What the entity is; never changes for an id.
    pub kind: EntityKind,
    /// X position in 1/[`POS_SCALE`] world units.
    pub x: i32,
    /// Y position in 1/[`POS_SCALE`] world units.
    pub y: i32,
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

/// The changed fields of one entity relative to the client's baseline.
///
/// On the wire an update is a varint head `(id - previous id) << 4 | mask` followed by the fields
/// its mask names, so a moving entity costs 3 bytes when ids are dense and steps are short.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityUpdate {
    /// The entity updated.
    pub id: u32,
    /// Position change relative to the baseline, in 1/[`POS_SCALE`] units (x, y).
    pub pos_delta: Option<(i32, i32)>,
    /// New facing.
    pub aim: Option<u8>,
    /// New health.
    pub hp: Option<u8>,
    /// New score and flags.
    pub misc: Option<(u32, u8)>,
}

/// Mask bit: `pos_delta` follows.
pub const MASK_POS: u64 = 1;
/// Mask bit: `aim` follows.
pub const MASK_AIM: u64 = 2;
/// Mask bit: `hp` follows.
pub const MASK_HP: u64 = 4;
/// Mask bit: `misc` (score, flags) follows.
pub const MASK_MISC: u64 = 8;
const MASK_BITS: u32 = 4;
const MASK_ALL: u64 = (1 << MASK_BITS) - 1;

impl EntityState {
    /// The update that turns `base` into `self` (same id assumed), or `None` when nothing
    /// changed: unchanged entities cost zero bytes.
    pub fn update_from(&self, base: &EntityState) -> Option<EntityUpdate> {
        let pos_delta = (self.x != base.x || self.y != base.y)
            .then(|| (self.x.wrapping_sub(base.x), self.y.wrapping_sub(base.y)));
        let update = EntityUpdate {
            id: self.id,
            pos_delta,
            aim: (self.aim != base.aim).then_some(self.aim),
            hp: (self.hp != base.hp).then_some(self.hp),
            misc: (self.score != base.score || self.flags != base.flags)
                .then_some((self.score, self.flags)),
        };
        (!update.is_empty()).then_some(update)
    }

    /// Applies `update` to this entity in place.
    pub fn apply(&mut self, update: &EntityUpdate) {
        if let Some((dx, dy)) = update.pos_delta {
            self.x = self.x.wrapping_add(dx);
            self.y = self.y.wrapping_add(dy);
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

    fn mask(&self) -> u64 {
        let mut mask = 0;
        if self.pos_delta.is_some() {
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

/// Serde adapter for `Vec<EntityUpdate>`: a length, then each update with its id coded as the
/// gap from the previous one and its present fields named by a mask in the head.
pub(crate) mod updates_serde {
    use super::*;

    /// Largest number of tuple elements one update can have: head plus four fields.
    const MAX_ELEMENTS: usize = 5;

    struct Wire<'a> {
        prev: u32,
        update: &'a EntityUpdate,
    }

    impl Serialize for Wire<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let u = self.update;
            let mask = u.mask();
            if u.id <= self.prev {
                return Err(serde::ser::Error::custom(
                    "entity updates must have strictly ascending non-zero ids",
                ));
            }
            let head = (u64::from(u.id - self.prev) << MASK_BITS) | mask;
            let mut t = s.serialize_tuple(1 + mask.count_ones() as usize)?;
            t.serialize_element(&head)?;
            if let Some(pos) = u.pos_delta {
                t.serialize_element(&pos)?;
            }
            if let Some(aim) = u.aim {
                t.serialize_element(&aim)?;
            }
            if let Some(hp) = u.hp {
                t.serialize_element(&hp)?;
            }
            if let Some(misc) = u.misc {
                t.serialize_element(&misc)?;
            }
            t.end()
        }
    }

    pub(crate) fn serialize<S: Serializer>(v: &[EntityUpdate], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        let mut prev = 0;
        for update in v {
            seq.serialize_element(&Wire { prev, update })?;
            prev = update.id;
        }
        seq.end()
    }

    struct Seed {
        prev: u32,
    }

    fn missing<E: de::Error>(what: &str) -> E {
        E::custom(format_args!("entity update is missing its {what} field"))
    }

    impl<'de> DeserializeSeed<'de> for Seed {
        type Value = EntityUpdate;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<EntityUpdate, D::Error> {
            d.deserialize_tuple(MAX_ELEMENTS, self)
        }
    }

    impl<'de> Visitor<'de> for Seed {
        type Value = EntityUpdate;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an entity update")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EntityUpdate, A::Error> {
            let head: u64 = seq.next_element()?.ok_or_else(|| missing("head"))?;
            let mask = head & MASK_ALL;
            let gap = head >> MASK_BITS;
            if mask == 0 {
                return Err(de::Error::custom("entity update with an empty mask"));
            }
            let id = u32::try_from(gap)
                .ok()
                .filter(|g| *g > 0)
                .and_then(|g| self.prev.checked_add(g))
                .ok_or_else(|| de::Error::custom("entity update id gap out of range"))?;
            let mut u = EntityUpdate {
                id,
                ..EntityUpdate::default()
            };
            if mask & MASK_POS != 0 {
                u.pos_delta = Some(seq.next_element()?.ok_or_else(|| missing("position"))?);
            }
            if mask & MASK_AIM != 0 {
                u.aim = Some(seq.next_element()?.ok_or_else(|| missing("aim"))?);
            }
            if mask & MASK_HP != 0 {
                u.hp = Some(seq.next_element()?.ok_or_else(|| missing("hp"))?);
            }
            if mask & MASK_MISC != 0 {
                u.misc = Some(seq.next_element()?.ok_or_else(|| missing("misc"))?);
            }
            Ok(u)
        }
    }

    struct ListVisitor;

    /// Upper bound on what a length prefix may pre-allocate; the codec's byte limit bounds the rest.
    const MAX_PREALLOC: usize = 1024;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<EntityUpdate>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of entity updates")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOC));
            let mut prev = 0;
            while let Some(u) = seq.next_element_seed(Seed { prev })? {
                prev = u.id;
                out.push(u);
            }
            Ok(out)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<EntityUpdate>, D::Error> {
        d.deserialize_seq(ListVisitor)
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
