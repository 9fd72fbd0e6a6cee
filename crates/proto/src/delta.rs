//! Both directions of the delta format: [`diff`] on the server, [`Replica`] on the client.
//!
//! A snapshot is a slice of [`EntityState`] sorted by id. A [`Delta`] turns the client's
//! acknowledged baseline, `age` ticks old, into the current snapshot exactly:
//! `apply(&base, &diff(&base, &cur, age), age) == cur`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::entity::EntityState;
use crate::msg::{Delta, StateFrame};

/// Computes the delta that turns snapshot `base`, `age` ticks old, into snapshot `cur` (both
/// sorted by id).
///
/// Entities only in `cur` are created, only in `base` removed, in both updated with just what
/// the baseline's prediction got wrong (nothing at all for an entity at rest or moving at a
/// steady velocity). An entity whose identity changed is removed and created again.
pub fn diff(base: &[EntityState], cur: &[EntityState], age: u32) -> Delta {
    let mut delta = Delta::default();
    diff_into(base, cur, age, &mut delta);
    delta
}

/// [`diff`] into a reused [`Delta`] (cleared first), to keep the tick loop free of allocations.
pub fn diff_into(base: &[EntityState], cur: &[EntityState], age: u32, delta: &mut Delta) {
    delta.removed.clear();
    delta.created.clear();
    delta.updated.clear();
    delta.names_elided.clear();
    let (mut i, mut j) = (0, 0);
    while i < base.len() || j < cur.len() {
        match (base.get(i), cur.get(j)) {
            (Some(b), Some(c)) if b.id == c.id => {
                if c.identity_differs(b) {
                    delta.removed.push(i as u32);
                    delta.created.push(c.clone());
                } else if let Some(u) = c.update_from(b, age, i as u32) {
                    delta.updated.push(u);
                }
                i += 1;
                j += 1;
            }
            (Some(b), Some(c)) if b.id < c.id => {
                delta.removed.push(i as u32);
                i += 1;
            }
            (Some(_), None) => {
                delta.removed.push(i as u32);
                i += 1;
            }
            (_, Some(c)) => {
                delta.created.push(c.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
}

/// Why a client could not apply a state frame; each means the server or the link misbehaved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The frame's baseline tick is not one this replica still holds.
    #[error("baseline tick {0} is not held by the client")]
    MissingBaseline(u32),
    /// The frame is not newer than the newest world already applied.
    #[error("frame for tick {tick} is not newer than applied tick {newest}")]
    Stale {
        /// The frame's tick.
        tick: u32,
        /// The newest tick already applied.
        newest: u32,
    },
    /// A removed or updated baseline index is past the end of the baseline, or an entity is
    /// both removed and updated.
    #[error("baseline index {0} is not an entity of the baseline")]
    UnknownIndex(u32),
    /// A created entity already exists after the removals.
    #[error("entity {0} is created twice")]
    DuplicateEntity(u32),
    /// A create left out the name of an entity whose name this client never received.
    #[error("entity {0} is created without a name the client holds")]
    UnknownName(u32),
    /// The baseline age is larger than the tick itself.
    #[error("baseline age {age} exceeds tick {tick}")]
    BadBaselineAge {
        /// The frame's tick.
        tick: u32,
        /// The frame's baseline age.
        age: u32,
    },
}

/// Worlds a [`Replica`] keeps at most: the most snapshots a server may keep as baselines
/// (`game.history_ticks` is at most 4096), so a delta the server may send always finds its
/// baseline. In practice a replica holds far fewer, since worlds older than the last delta's
/// baseline are dropped as frames arrive.
pub const MAX_WORLDS: usize = 4096;

/// A world as a client rebuilds it: entities by id.
pub type World = BTreeMap<u32, EntityState>;

/// Builds the world that `delta` describes from `base`, `age` ticks old: every baseline
/// entity not removed moves on by its velocity and takes its update, then the creates are added.
pub fn apply(base: &World, delta: &Delta, age: u32) -> Result<World, ApplyError> {
    let mut removed = delta.removed.iter().copied().peekable();
    let mut updated = delta.updated.iter().peekable();
    let mut world = World::new();
    for (i, e) in base.values().enumerate() {
        let i = i as u32;
        let update = updated.next_if(|u| u.index == i);
        if removed.next_if_eq(&i).is_some() {
            if update.is_some() {
                return Err(ApplyError::UnknownIndex(i));
            }
            continue;
        }
        let mut e = e.clone();
        e.advance(age, update);
        world.insert(e.id, e);
    }
    if let Some(i) = removed.next().or_else(|| updated.next().map(|u| u.index)) {
        return Err(ApplyError::UnknownIndex(i));
    }
    for e in &delta.created {
        if world.insert(e.id, e.clone()).is_some() {
            return Err(ApplyError::DuplicateEntity(e.id));
        }
    }
    Ok(world)
}

/// A client's replicated view: the recent worlds it applied, so that a delta against any
/// baseline it acknowledged can be applied.
///
/// Call [`Replica::apply`] for each received state frame in arrival order, then acknowledge
/// [`Replica::newest_tick`] to the server. It also remembers every entity name it received,
/// which the server then leaves out of later creates of the same entity.
#[derive(Debug, Default, Clone)]
pub struct Replica {
    /// Applied worlds, oldest first, ticks strictly ascending.
    worlds: VecDeque<(u32, World)>,
    /// Every non-empty entity name received in an applied frame, by entity id (ids are never
    /// reused in a match, and names never change), for creates that leave the name out.
    names: HashMap<u32, String>,
}

/// Names a [`Replica`] remembers at most; a match has far fewer named entities (players).
pub const MAX_NAMES: usize = 1 << 16;

impl Replica {
    /// An empty replica that has applied nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one frame; on success the new world becomes the newest.
    ///
    /// Worlds older than the frame's baseline are dropped: the server never goes back to an
    /// older baseline than one it already used, since acknowledgements only move forward. A
    /// full snapshot drops nothing, since deltas against acknowledged ticks may still follow.
    pub fn apply(&mut self, frame: &StateFrame) -> Result<&World, ApplyError> {
        let tick = frame.header.tick;
        let age = frame.header.baseline_age;
        if let Some(newest) = self.newest_tick() {
            if tick <= newest {
                return Err(ApplyError::Stale { tick, newest });
            }
        }
        let mut world = if age == 0 {
            apply(&World::new(), &frame.delta, 0)?
        } else {
            let base = tick
                .checked_sub(age)
                .ok_or(ApplyError::BadBaselineAge { tick, age })?;
            let pos = self
                .worlds
                .iter()
                .position(|(t, _)| *t == base)
                .ok_or(ApplyError::MissingBaseline(base))?;
            self.worlds.drain(..pos);
            apply(&self.worlds[0].1, &frame.delta, age)?
        };
        for id in &frame.delta.names_elided {
            let name = self.names.get(id).ok_or(ApplyError::UnknownName(*id))?;
            if let Some(e) = world.get_mut(id) {
                e.name.clone_from(name);
            }
        }
        for e in &frame.delta.created {
            if !e.name.is_empty() && self.names.len() < MAX_NAMES {
                self.names.entry(e.id).or_insert_with(|| e.name.clone());
            }
        }
        // Older worlds are kept even after a full snapshot: a delta computed before the
        // server saw this client's newest acknowledgement may still refer to one of them.
        if self.worlds.len() >= MAX_WORLDS {
            self.worlds.pop_front();
        }
        self.worlds.push_back((tick, world));
        Ok(&self.worlds.back().expect("just pushed").1)
    }

    /// The name this replica holds for entity `id`, if any (see [`Delta::names_elided`]).
    pub fn name_of(&self, id: u32) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// The newest applied tick, to acknowledge.
    pub fn newest_tick(&self) -> Option<u32> {
        self.worlds.back().map(|(t, _)| *t)
    }

    /// The newest applied world.
    pub fn world(&self) -> Option<&World> {
        self.worlds.back().map(|(_, w)| w)
    }

    /// The world applied for `tick`, if still held.
    pub fn world_at(&self, tick: u32) -> Option<&World> {
        self.worlds.iter().find(|(t, _)| *t == tick).map(|(_, w)| w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::EntityKind;
    use crate::msg::FrameHeader;
    use proptest::prelude::*;

    fn ent(id: u32, x: i32, y: i32, hp: u8) -> EntityState {
        EntityState {
            id,
            kind: EntityKind::Player,
            x,
            y,
            vx: 0,
            vy: 0,
            aim: 0,
            hp,
            score: 0,
            flags: 1,
            owner: 0,
            name: format!("p{id}"),
        }
    }

    fn frame(tick: u32, age: u32, delta: Delta) -> StateFrame {
        StateFrame {
            header: FrameHeader {
                tick,
                baseline_age: age,
                ..FrameHeader::default()
            },
            delta,
        }
    }

    #[test]
    fn unchanged_entities_cost_nothing() {
        let a = vec![ent(1, 0, 0, 100), ent(2, 5, 5, 100)];
        let d = diff(&a, &a, 1);
        assert!(d.removed.is_empty() && d.created.is_empty() && d.updated.is_empty());
    }

    #[test]
    fn replica_applies_against_acknowledged_baseline() {
        let s1 = vec![ent(1, 0, 0, 100)];
        let s2 = vec![ent(1, 3, 0, 100), ent(2, 9, 9, 100)];
        let s3 = vec![ent(2, 9, 10, 90)];
        let mut r = Replica::new();
        r.apply(&frame(1, 0, diff(&[], &s1, 0))).unwrap();
        r.apply(&frame(2, 1, diff(&s1, &s2, 1))).unwrap();
        // The server has not seen the ack for tick 2 yet: delta against tick 1.
        let w = r.apply(&frame(3, 2, diff(&s1, &s3, 2))).unwrap();
        assert_eq!(w.values().cloned().collect::<Vec<_>>(), s3);
        assert_eq!(
            r.apply(&frame(3, 1, Delta::default())),
            Err(ApplyError::Stale { tick: 3, newest: 3 })
        );
        assert_eq!(
            r.apply(&frame(9, 5, Delta::default())),
            Err(ApplyError::MissingBaseline(4))
        );
    }

    #[test]
    fn steady_movers_cost_nothing_and_are_predicted() {
        let mut a = vec![ent(1, 0, 0, 100), ent(2, 50, 50, 100)];
        a[0].vx = 10;
        a[0].vy = -3;
        let mut b = a.clone();
        (b[0].x, b[0].y) = (30, -9);
        let d = diff(&a, &b, 3);
        assert_eq!(d, Delta::default());
        let w: World = a.iter().map(|e| (e.id, e.clone())).collect();
        let out = apply(&w, &d, 3).unwrap();
        assert_eq!(out.into_values().collect::<Vec<_>>(), b);
    }

    #[test]
    fn bad_indices_are_errors() {
        let a: World = [ent(1, 0, 0, 100)].into_iter().map(|e| (e.id, e)).collect();
        let removes_past_end = Delta {
            removed: vec![1],
            ..Delta::default()
        };
        assert_eq!(
            apply(&a, &removes_past_end, 1),
            Err(ApplyError::UnknownIndex(1))
        );
        let both = Delta {
            removed: vec![0],
            updated: vec![crate::EntityUpdate {
                index: 0,
                hp: Some(3),
                ..crate::EntityUpdate::default()
            }],
            ..Delta::default()
        };
        assert_eq!(apply(&a, &both, 1), Err(ApplyError::UnknownIndex(0)));
        let dup = Delta {
            created: vec![ent(1, 0, 0, 1)],
            ..Delta::default()
        };
        assert_eq!(apply(&a, &dup, 1), Err(ApplyError::DuplicateEntity(1)));
    }

    #[test]
    fn delta_after_a_second_full_snapshot_can_use_an_earlier_acknowledged_tick() {
        // Tick 3 full, acked; tick 4 full again (computed before the ack arrived); tick 5 is a
        // delta against the acknowledged tick 3.
        let s3 = vec![ent(1, 0, 0, 100)];
        let s4 = vec![ent(1, 1, 0, 100)];
        let s5 = vec![ent(1, 2, 0, 100)];
        let mut r = Replica::new();
        r.apply(&frame(3, 0, diff(&[], &s3, 0))).unwrap();
        r.apply(&frame(4, 0, diff(&[], &s4, 0))).unwrap();
        let w = r.apply(&frame(5, 2, diff(&s3, &s5, 2))).unwrap();
        assert_eq!(w.values().cloned().collect::<Vec<_>>(), s5);
    }

    fn arb_entity() -> impl Strategy<Value = EntityState> {
        (
            1u32..40,
            any::<bool>(),
            -5000i32..5000,
            -5000i32..5000,
            (-100i32..100, -100i32..100),
            any::<u8>(),
            any::<u8>(),
            0u32..100,
            0u8..4,
            0u32..3,
        )
            .prop_map(|(id, proj, x, y, (vx, vy), aim, hp, score, flags, owner)| {
                EntityState {
                    id,
                    kind: if proj {
                        EntityKind::Projectile
                    } else {
                        EntityKind::Player
                    },
                    x,
                    y,
                    vx,
                    vy,
                    aim,
                    hp,
                    score,
                    flags,
                    owner,
                    name: if proj { String::new() } else { "n".into() },
                }
            })
    }

    fn arb_snapshot() -> impl Strategy<Value = Vec<EntityState>> {
        proptest::collection::vec(arb_entity(), 0..30).prop_map(|mut v| {
            v.sort_by_key(|e| e.id);
            v.dedup_by_key(|e| e.id);
            v
        })
    }

    proptest! {
        #[test]
        fn diff_then_apply_is_exact(a in arb_snapshot(), b in arb_snapshot(), age in 1u32..10) {
            let d = diff(&a, &b, age);
            // Through the wire too: what the client decodes is what the server diffed.
            let mut packed = Vec::new();
            crate::pack::encode(&d, &mut packed).unwrap();
            let d2 = crate::pack::decode(&packed).unwrap();
            prop_assert_eq!(&d2, &d);
            let w: World = a.iter().map(|e| (e.id, e.clone())).collect();
            let w = apply(&w, &d2, age).unwrap();
            prop_assert_eq!(w.into_values().collect::<Vec<_>>(), b);
        }
    }
}
