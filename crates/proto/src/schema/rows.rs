//! Snapshots as generic rows and the delta between two of them, driven by a [`Schema`]: the
//! server's diff and the client's apply ([`RowReplica`]), with dead reckoning as the
//! prediction (see [`predict`]).
//!
//! A snapshot is a slice of [`EntityRow`] sorted by id. A [`RowDelta`] turns the client's
//! baseline, `age` ticks old, into the current snapshot exactly:
//! `apply(schema, &base, &diff(schema, &base, &cur, age), age) == cur`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use super::{Code, KindLayout, Schema, mask_bits_of};

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

/// Worlds a [`RowReplica`] keeps at most: the most snapshots a server may keep as baselines
/// (`game.history_ticks` is at most 4096), so a delta the server may send always finds its
/// baseline. In practice a replica holds far fewer, since worlds older than the last delta's
/// baseline are dropped as frames arrive.
pub const MAX_WORLDS: usize = 4096;

/// Names a [`RowReplica`] remembers at most; a match has far fewer named entities (players).
pub const MAX_NAMES: usize = 1 << 16;

/// One entity of a snapshot, its fields in the slots the schema gives them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntityRow {
    /// Entity id: unique within a match, never reused, never 0.
    pub id: u32,
    /// Kind code (the kind's index in the schema).
    pub kind: u16,
    /// Numeric fields in declaration order, each within its field's range.
    pub values: Vec<i64>,
    /// String fields in declaration order. They never change for an entity (they are
    /// identity), so rows share them: cloning a row, or comparing two rows that share them,
    /// never touches their bytes.
    pub strings: Arc<[String]>,
}

/// An entity's fields borrowed from wherever they are kept (a snapshot row, a server's flat
/// per-client view), so that diffs and estimates need no [`EntityRow`] of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowRef<'a> {
    /// Entity id.
    pub id: u32,
    /// Kind code.
    pub kind: u16,
    /// Numeric fields in declaration order.
    pub values: &'a [i64],
    /// String fields in declaration order.
    pub strings: &'a [String],
}

impl EntityRow {
    /// This row borrowed.
    pub fn row_ref(&self) -> RowRef<'_> {
        RowRef {
            id: self.id,
            kind: self.kind,
            values: &self.values,
            strings: &self.strings,
        }
    }
}

/// The changes of one baseline entity: the groups of `mask`, lowest bit first, each with the
/// kind's fields of that group in declaration order. Its values are
/// [`RowDelta::values_of`] (all of a delta's update values live in one vector, so a decoder
/// allocates once per frame rather than once per update).
///
/// A position's value is its residual against the prediction (with the new velocity), a
/// velocity's its change, any other field's its new value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RowUpdate {
    /// Index of the entity in the baseline's id-sorted list.
    pub index: u32,
    /// The mask groups present.
    pub mask: u32,
    /// Where its values start in [`RowDelta::update_values`].
    pub start: u32,
    /// How many values it has.
    pub len: u32,
}

/// What turns a baseline into the current snapshot, as the body carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RowDelta {
    /// Baseline indices to remove, strictly ascending.
    pub removed: Vec<u32>,
    /// New (or re-created) entities, ids strictly ascending.
    pub created: Vec<EntityRow>,
    /// Changes to baseline entities, indices strictly ascending, none also removed.
    pub updated: Vec<RowUpdate>,
    /// The values of every update, in update order and each update's wire order.
    pub update_values: Vec<i64>,
    /// Ids of created entities sent without their strings, which the client already holds,
    /// strictly ascending; their strings here are empty.
    pub strings_elided: Vec<u32>,
}

impl RowDelta {
    /// Appends an update of baseline index `index` with these values.
    pub fn push_update(&mut self, index: u32, mask: u32, values: impl IntoIterator<Item = i64>) {
        let start = self.update_values.len();
        self.update_values.extend(values);
        self.updated.push(RowUpdate {
            index,
            mask,
            start: start as u32,
            len: (self.update_values.len() - start) as u32,
        });
    }

    /// The values of `u`, an update of this delta (empty when it is not one).
    pub fn values_of(&self, u: &RowUpdate) -> &[i64] {
        let start = u.start as usize;
        self.update_values
            .get(start..start.saturating_add(u.len as usize))
            .unwrap_or(&[])
    }

    /// Empties the delta, keeping its allocations.
    pub fn clear(&mut self) {
        self.removed.clear();
        self.created.clear();
        self.updated.clear();
        self.update_values.clear();
        self.strings_elided.clear();
    }
}

/// The baseline prediction of the format: position `(x, y)` moved on by velocity `(vx, vy)`
/// for `age` ticks, wrapping like every position sum of the format.
pub fn predict((x, y): (i32, i32), (vx, vy): (i32, i32), age: u32) -> (i32, i32) {
    let a = age as i32;
    (
        x.wrapping_add(vx.wrapping_mul(a)),
        y.wrapping_add(vy.wrapping_mul(a)),
    )
}

/// Position `pos` moved on by velocity `vel` for `age` ticks, wrapping like
/// [`predict`] (which this is, one coordinate at a time).
fn predict1(pos: i64, vel: i64, age: u32) -> i64 {
    i64::from(predict((pos as i32, 0), (vel as i32, 0), age).0)
}

/// `a - b` in the wrapping i32 arithmetic of positions and velocities.
fn wsub(a: i64, b: i64) -> i64 {
    i64::from((a as i32).wrapping_sub(b as i32))
}

/// `a + b` in the wrapping i32 arithmetic of positions and velocities.
fn wadd(a: i64, b: i64) -> i64 {
    i64::from((a as i32).wrapping_add(b as i32))
}

/// True when `a` and `b` (same kind) differ in an identity field, which needs a re-create.
fn identity_differs(layout: &KindLayout, a: &[i64], b: &[i64]) -> bool {
    layout.identity_slots.iter().any(|&s| a[s] != b[s])
}

/// The update value of field `f` turning `base`, `age` ticks old, into `cur`, and whether it
/// says anything the prediction does not.
fn update_value(f: super::FieldLayout, base: &[i64], cur: &[i64], age: u32) -> (i64, bool) {
    let (c, b) = (cur[f.slot], base[f.slot]);
    match f.code {
        Code::Pos { vel } => {
            let pred = vel.map_or(b, |v| predict1(b, cur[v], age));
            let r = wsub(c, pred);
            (r, r != 0)
        }
        Code::Vel { .. } => {
            let d = wsub(c, b);
            (d, d != 0)
        }
        _ => (c, c != b),
    }
}

/// Appends to `delta` the update turning `base`, `age` ticks old, into `cur` (same id and
/// kind), unless the prediction from `base` is exact.
fn push_update_from(
    layout: &KindLayout,
    base: &[i64],
    cur: &[i64],
    age: u32,
    index: u32,
    delta: &mut RowDelta,
) {
    // Most entities change nothing the prediction misses: one pass over the fields finds the
    // mask before anything is written.
    let mut mask = 0;
    for &(f, bit) in &layout.grouped {
        mask |= u32::from(update_value(f, base, cur, age).1) << bit;
    }
    if mask == 0 {
        return;
    }
    let start = delta.update_values.len();
    for bit in mask_bits_of(mask) {
        for &f in layout.group(bit) {
            delta.update_values.push(update_value(f, base, cur, age).0);
        }
    }
    delta.updated.push(RowUpdate {
        index,
        mask,
        start: start as u32,
        len: (delta.update_values.len() - start) as u32,
    });
}

/// The layout of `a` and `b` when both are rows of the same declared kind with its shape and
/// the same numeric identity (strings are the caller's to compare).
fn same_layout<'s>(schema: &'s Schema, a: RowRef<'_>, b: RowRef<'_>) -> Option<&'s KindLayout> {
    let l = schema.layout(a.kind)?;
    let fits = |r: RowRef<'_>| r.values.len() == l.n_values && r.strings.len() == l.n_strings;
    (a.kind == b.kind && fits(a) && fits(b) && !identity_differs(l, a.values, b.values))
        .then_some(l)
}

/// True when `a` and `b` are the same entity as far as a client can tell without a re-create:
/// the same declared kind, shape and numeric identity fields. Strings are not compared: a
/// caller that keeps them per id (they never change for an id) need not pay for it.
pub fn same_identity(schema: &Schema, a: RowRef<'_>, b: RowRef<'_>) -> bool {
    same_layout(schema, a, b).is_some()
}

/// Appends to `delta` the update of baseline entity `index` that turns `base`, `age` ticks
/// old, into `cur`, and returns true; returns false, appending nothing, when the prediction
/// from `base` is exact, or when the two are not the same entity ([`same_identity`]), which
/// takes a removal and a create instead.
pub fn push_update(
    schema: &Schema,
    base: RowRef<'_>,
    cur: RowRef<'_>,
    age: u32,
    index: u32,
    delta: &mut RowDelta,
) -> bool {
    let Some(l) = same_layout(schema, base, cur) else {
        return false;
    };
    let before = delta.updated.len();
    push_update_from(l, base.values, cur.values, age, index, delta);
    delta.updated.len() > before
}

/// Computes the delta that turns snapshot `base`, `age` ticks old, into snapshot `cur` (both
/// sorted by id, rows of the schema's kinds and shapes).
///
/// Entities only in `cur` are created, only in `base` removed, in both updated with just what
/// the prediction got wrong. An entity whose kind or identity changed is removed and created
/// again.
pub fn diff(schema: &Schema, base: &[EntityRow], cur: &[EntityRow], age: u32) -> RowDelta {
    let mut delta = RowDelta::default();
    diff_into(schema, base, cur, age, &mut delta);
    delta
}

/// [`diff`] into a reused [`RowDelta`] (cleared first), to keep the tick loop free of
/// allocations.
pub fn diff_into(
    schema: &Schema,
    base: &[EntityRow],
    cur: &[EntityRow],
    age: u32,
    delta: &mut RowDelta,
) {
    delta.clear();
    let (mut i, mut j) = (0, 0);
    while i < base.len() || j < cur.len() {
        match (base.get(i), cur.get(j)) {
            (Some(b), Some(c)) if b.id == c.id => {
                // A row of the wrong shape is a game bug: it is created again, and the encoder
                // refuses it, rather than panicking here.
                let same = b.kind == c.kind && b.strings == c.strings;
                match same
                    .then(|| same_layout(schema, b.row_ref(), c.row_ref()))
                    .flatten()
                {
                    Some(l) => push_update_from(l, &b.values, &c.values, age, i as u32, delta),
                    _ => {
                        delta.removed.push(i as u32);
                        delta.created.push(c.clone());
                    }
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

/// A world as a client rebuilds it: rows by id.
pub type RowWorld = BTreeMap<u32, EntityRow>;

/// Calls `f(code, slot, value)` for each value of an update with `mask`, in wire order.
fn each_value(layout: &KindLayout, mask: u32, values: &[i64], mut f: impl FnMut(Code, usize, i64)) {
    let mut values = values.iter();
    for bit in mask_bits_of(mask) {
        for field in layout.group(bit) {
            if let Some(&v) = values.next() {
                f(field.code, field.slot, v);
            }
        }
    }
}

/// Moves baseline row `e` on by `age` ticks and applies `update` (its mask and values) in
/// place: velocities change first, so positions are predicted with the new velocity, then
/// residuals are added and the other fields set.
fn advance(layout: &KindLayout, e: &mut EntityRow, age: u32, update: Option<(u32, &[i64])>) {
    // Two passes over the update's values rather than a table by field, which would cost more
    // to clear for every entity than the few values it holds.
    let values = &mut e.values;
    if let Some((mask, new)) = update {
        each_value(layout, mask, new, |code, slot, v| match code {
            Code::Vel { .. } => values[slot] = wadd(values[slot], v),
            Code::Pos { .. } => {}
            _ => values[slot] = v,
        });
    }
    for &(pos, vel) in &layout.predictions {
        values[pos] = predict1(values[pos], values[vel], age);
    }
    if let Some((mask, new)) = update {
        each_value(layout, mask, new, |code, slot, v| {
            if let Code::Pos { .. } = code {
                values[slot] = wadd(values[slot], v);
            }
        });
    }
}

/// Builds the world `delta` describes from `base`, `age` ticks old: every baseline entity not
/// removed moves on by its velocities and takes its update, then the creates are added.
pub fn apply(
    schema: &Schema,
    base: &RowWorld,
    delta: &RowDelta,
    age: u32,
) -> Result<RowWorld, ApplyError> {
    let mut removed = delta.removed.iter().copied().peekable();
    let mut updated = delta.updated.iter().peekable();
    let mut world = RowWorld::new();
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
        // A row of a kind or shape the schema lacks cannot be in a world this module built;
        // one handed in from elsewhere is kept as it is rather than panicked on.
        if let Some(layout) = schema.layout(e.kind).filter(|l| l.fits(&e)) {
            advance(
                layout,
                &mut e,
                age,
                update.map(|u| (u.mask, delta.values_of(u))),
            );
        }
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

/// Why a client could not take a state frame's body: it did not decode, or did not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The body is not a valid encoding against the baseline.
    #[error(transparent)]
    Decode(#[from] super::body::BodyError),
    /// The delta does not apply to the replica's worlds.
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// A client's replicated view in rows: the recent worlds it applied, so that a delta against
/// any baseline it acknowledged can be applied, and the strings it received.
///
/// Call [`RowReplica::apply_body`] (or [`RowReplica::apply`] with a decoded delta) for each
/// state frame in arrival order, then acknowledge [`RowReplica::newest_tick`].
#[derive(Debug, Clone)]
pub struct RowReplica {
    /// The schema the frames follow.
    schema: Schema,
    /// Applied worlds, oldest first, ticks strictly ascending.
    worlds: VecDeque<(u32, RowWorld)>,
    /// The strings of every entity created with a non-empty one, by id (ids are never reused
    /// and strings never change), for creates that leave them out. All-empty strings are not
    /// kept: leaving them out saves nothing, so a server does not.
    strings: HashMap<u32, Arc<[String]>>,
}

impl RowReplica {
    /// An empty replica of `schema` that has applied nothing.
    pub fn new(schema: Schema) -> RowReplica {
        RowReplica {
            schema,
            worlds: VecDeque::new(),
            strings: HashMap::new(),
        }
    }

    /// The baseline world of a frame for `tick` against a baseline `age` ticks old (empty for
    /// a full snapshot), with the index its world has in `worlds`; checks the frame is newer.
    fn baseline(&self, tick: u32, age: u32) -> Result<Option<usize>, ApplyError> {
        if let Some(newest) = self.newest_tick() {
            if tick <= newest {
                return Err(ApplyError::Stale { tick, newest });
            }
        }
        if age == 0 {
            return Ok(None);
        }
        let base = tick
            .checked_sub(age)
            .ok_or(ApplyError::BadBaselineAge { tick, age })?;
        self.worlds
            .iter()
            .position(|(t, _)| *t == base)
            .map(Some)
            .ok_or(ApplyError::MissingBaseline(base))
    }

    /// Decodes a packed body against the frame's baseline and applies it; see
    /// [`RowReplica::apply`].
    pub fn apply_body(
        &mut self,
        tick: u32,
        age: u32,
        body: &[u8],
    ) -> Result<&RowWorld, FrameError> {
        // The baseline's kinds by index, unless the schema's updates do not need them.
        let kinds: Vec<u16> = match self.baseline(tick, age)? {
            Some(pos) if !self.schema.uniform_updates() => {
                self.worlds[pos].1.values().map(|e| e.kind).collect()
            }
            _ => Vec::new(),
        };
        let delta = super::body::decode(&self.schema, body, |i| kinds.get(i as usize).copied())?;
        Ok(self.apply(tick, age, &delta)?)
    }

    /// Applies the delta of the frame for `tick`, `age` ticks after its baseline (0: a full
    /// snapshot); on success the new world becomes the newest.
    ///
    /// Worlds older than the baseline are dropped, since acknowledgements only move forward;
    /// a full snapshot drops nothing, as deltas computed before the server saw this client's
    /// newest acknowledgement may still refer to one of them.
    pub fn apply(
        &mut self,
        tick: u32,
        age: u32,
        delta: &RowDelta,
    ) -> Result<&RowWorld, ApplyError> {
        let mut world = match self.baseline(tick, age)? {
            None => apply(&self.schema, &RowWorld::new(), delta, 0)?,
            Some(pos) => {
                self.worlds.drain(..pos);
                apply(&self.schema, &self.worlds[0].1, delta, age)?
            }
        };
        for id in &delta.strings_elided {
            let strings = self.strings.get(id).ok_or(ApplyError::UnknownName(*id))?;
            if let Some(e) = world.get_mut(id) {
                e.strings = Arc::clone(strings);
            }
        }
        for e in &delta.created {
            if e.strings.iter().any(|s| !s.is_empty()) && self.strings.len() < MAX_NAMES {
                self.strings
                    .entry(e.id)
                    .or_insert_with(|| Arc::clone(&e.strings));
            }
        }
        if self.worlds.len() >= MAX_WORLDS {
            self.worlds.pop_front();
        }
        self.worlds.push_back((tick, world));
        Ok(&self.worlds.back().expect("just pushed").1)
    }

    /// The strings this replica holds for entity `id`, if any.
    pub fn strings_of(&self, id: u32) -> Option<&[String]> {
        self.strings.get(&id).map(|s| &**s)
    }

    /// The newest applied tick, to acknowledge.
    pub fn newest_tick(&self) -> Option<u32> {
        self.worlds.back().map(|(t, _)| *t)
    }

    /// The newest applied world.
    pub fn world(&self) -> Option<&RowWorld> {
        self.worlds.back().map(|(_, w)| w)
    }

    /// The world applied for `tick`, if still held.
    pub fn world_at(&self, tick: u32) -> Option<&RowWorld> {
        self.worlds.iter().find(|(t, _)| *t == tick).map(|(_, w)| w)
    }
}
