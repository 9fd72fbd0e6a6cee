//! Arena's deltas as typed values for tests of the codec (this crate's, and the workspace's
//! golden vectors in `tests/golden.rs`): a view over schema rows, converted both ways through
//! arena's schema (the codec itself is the schema's alone). Each test file that includes it
//! uses only part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::sync::LazyLock;

use tickwire_arena::EntityState;
use tickwire_arena::schema as arena;
use tickwire_proto::msg::{FrameHeader, StateFrame};
use tickwire_proto::schema::rows::{self, EntityRow, RowDelta};
use tickwire_proto::schema::{Schema, body};

/// Arena's schema, built once.
pub(crate) static SCHEMA: LazyLock<Schema> = LazyLock::new(arena::arena_schema);

/// One arena update as the vectors' JSON shows it: the fields of each group of its mask.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EntityUpdate {
    /// Index of the entity in the baseline's id-sorted entity list.
    pub(crate) index: u32,
    /// Group VEL: the velocity change.
    pub(crate) vel_delta: Option<(i32, i32)>,
    /// Group POS: the position residual.
    pub(crate) pos_residual: Option<(i32, i32)>,
    /// Group AIM.
    pub(crate) aim: Option<u8>,
    /// Group HP.
    pub(crate) hp: Option<u8>,
    /// Group MISC: score and flags.
    pub(crate) misc: Option<(u32, u8)>,
}

impl EntityUpdate {
    /// True when no group is present: the format has no empty update.
    pub(crate) fn is_empty(&self) -> bool {
        *self
            == EntityUpdate {
                index: self.index,
                ..EntityUpdate::default()
            }
    }
}

/// One arena delta as the vectors' JSON shows it (a [`RowDelta`] with typed entities).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Delta {
    /// Baseline indices removed.
    pub(crate) removed: Vec<u32>,
    /// Entities created (an elided name is empty).
    pub(crate) created: Vec<EntityState>,
    /// Updates of baseline entities.
    pub(crate) updated: Vec<EntityUpdate>,
    /// Ids of creates whose name is left out.
    pub(crate) names_elided: Vec<u32>,
}

/// The mask bit of arena's group `name`.
pub(crate) fn group(name: &str) -> u32 {
    SCHEMA.group_mask(name).expect("an arena group")
}

impl Delta {
    /// The delta as arena's schema rows; update values in wire order (lowest mask bit first).
    pub(crate) fn to_rows(&self) -> RowDelta {
        let mut rows = RowDelta {
            removed: self.removed.clone(),
            created: self.created.iter().map(arena::row_from_entity).collect(),
            strings_elided: self.names_elided.clone(),
            ..RowDelta::default()
        };
        for u in &self.updated {
            let (mut mask, mut values) = (0, Vec::new());
            let pair = |(x, y): (i32, i32)| [i64::from(x), i64::from(y)];
            if let Some(v) = u.vel_delta {
                mask |= group("VEL");
                values.extend(pair(v));
            }
            if let Some(p) = u.pos_residual {
                mask |= group("POS");
                values.extend(pair(p));
            }
            if let Some(aim) = u.aim {
                mask |= group("AIM");
                values.push(i64::from(aim));
            }
            if let Some(hp) = u.hp {
                mask |= group("HP");
                values.push(i64::from(hp));
            }
            if let Some((score, flags)) = u.misc {
                mask |= group("MISC");
                values.extend([i64::from(score), i64::from(flags)]);
            }
            rows.push_update(u.index, mask, values);
        }
        rows
    }

    /// The typed view of arena rows.
    pub(crate) fn from_rows(d: &RowDelta) -> Delta {
        let updated = d
            .updated
            .iter()
            .map(|u| {
                let mut v = d.values_of(u).iter().copied();
                let mut next = || v.next().expect("a value of the mask");
                let has = |g| u.mask & group(g) != 0;
                let vel_delta = has("VEL").then(|| (next() as i32, next() as i32));
                let pos_residual = has("POS").then(|| (next() as i32, next() as i32));
                let aim = has("AIM").then(|| next() as u8);
                let hp = has("HP").then(|| next() as u8);
                let misc = has("MISC").then(|| (next() as u32, next() as u8));
                EntityUpdate {
                    index: u.index,
                    vel_delta,
                    pos_residual,
                    aim,
                    hp,
                    misc,
                }
            })
            .collect();
        Delta {
            removed: d.removed.clone(),
            created: d
                .created
                .iter()
                .map(|r| arena::entity_from_row(r).expect("an arena row"))
                .collect(),
            updated,
            names_elided: d.strings_elided.clone(),
        }
    }
}

/// Arena rows of typed entities.
pub(crate) fn rows_of(entities: &[EntityState]) -> Vec<EntityRow> {
    entities.iter().map(arena::row_from_entity).collect()
}

/// The schema's delta from `base`, `age` ticks old, to `cur`, in the typed view.
pub(crate) fn diff(base: &[EntityState], cur: &[EntityState], age: u32) -> Delta {
    Delta::from_rows(&rows::diff(&SCHEMA, &rows_of(base), &rows_of(cur), age))
}

/// The packed body of `delta` as the server writes it. Arena's updates are coded alike for
/// every kind, so no baseline kinds are needed.
pub(crate) fn encode_body(delta: &Delta) -> Vec<u8> {
    try_encode_body(delta).expect("a valid delta")
}

/// [`encode_body`], refusing a delta that breaks the format's rules.
pub(crate) fn try_encode_body(delta: &Delta) -> Result<Vec<u8>, body::EncodeError> {
    let mut out = Vec::new();
    body::encode(&SCHEMA, &delta.to_rows(), |_| Some(0), &mut out)?;
    Ok(out)
}

/// Whether an arena client refuses `bytes` from the server: the message does not decode, or
/// it is a State frame whose body arena's schema does not decode.
pub(crate) fn server_refuses(bytes: &[u8]) -> bool {
    match tickwire_proto::codec::decode_server(bytes) {
        Err(_) => true,
        Ok(tickwire_proto::ServerMsg::State(frame)) => decode_body(&frame.body).is_err(),
        Ok(_) => false,
    }
}

/// The typed delta a packed arena body holds (no baseline needed, as for [`encode_body`]).
pub(crate) fn decode_body(bytes: &[u8]) -> Result<Delta, body::BodyError> {
    Ok(Delta::from_rows(&body::decode(&SCHEMA, bytes, |_| {
        Some(0)
    })?))
}

/// A State frame carrying `delta`'s body.
pub(crate) fn frame(header: FrameHeader, delta: &Delta) -> StateFrame {
    StateFrame {
        header,
        body: encode_body(delta),
    }
}
