//! Replication per client: area of interest, priorities and a byte budget.
//!
//! Without interest management every client is sent the same delta, the whole world against its
//! acknowledged snapshot ([`Match::delta_since`]). With it, each client has its own **view**: the
//! entities relevant to it, each in the state this client was last sent. A [`ClientView`], one
//! per connected client, owned by the server, builds that view every tick and the delta that
//! turns the view the client acknowledged into it.
//!
//! # Relevance
//! The **relevant set** of a client at a tick is:
//! * every entity, when [`MatchConfig::view_radius`](crate::MatchConfig::view_radius) is 0
//!   (interest management off) or when the client has no centre (a spectator without a focus,
//!   see [`ClientView::set_focus`]);
//! * otherwise its own player entity, the projectiles it owns, the entities pinned with
//!   [`ClientView::set_pinned`] (teammates, objectives: the arena game has neither, the server
//!   decides), every entity whose quantized position lies within `view_radius` world units
//!   of the centre, and every entity of a kind without a position (a scoreboard). Positions
//!   and owners are what the game's schema declares (see [`tickwire_proto::schema::Schema::position`]). The centre is the client's own player (dead or alive), or for a spectator
//!   its focus point.
//!
//! The match phase is in every frame header, so it needs no entity. With `view_radius > 0`,
//! [`Match`] keeps a uniform grid over the snapshot (cell side =
//! [`WorldBounds::cell_size`](crate::WorldBounds::cell_size)), rebuilt after every step, so the radius
//! query touches only the cells around the centre ([`Match::entities_within`]).
//!
//! # The view and the delta
//! Every tick the view holds each relevant entity in one of three states:
//! * **fresh**: its current state;
//! * **carried**: its state in the previous view sent (so what the client shows never goes back
//!   in time, whatever the acknowledgement lag);
//! * **baseline**: its state in the acknowledged view (only when even the carried changes do not
//!   fit a budget that just dropped; the client then sees that entity step back).
//!
//! An entity absent from the state chosen is absent from the view (a create deferred by the
//! budget). Entities no longer relevant are removed. The frame is `diff(acknowledged view, new
//! view)`, and the new view is recorded for its tick, so a client applying the frames in order
//! always holds exactly [`ClientView::sent_view`] of each tick. With an unlimited budget every
//! relevant entity is fresh, so the view is exactly the snapshot filtered to the relevant set.
//!
//! # Budget and priority
//! With a budget of `B` bytes per frame (raised to
//! [`MIN_FRAME_BUDGET_BYTES`]), the frame first spends
//! on what is never deferred: the list headers, removals, and the own player (always fresh).
//! If every change fits, everything is fresh. Otherwise it keeps the carried changes (they are
//! already on their way to the client), then refreshes entities in priority order, stopping at
//! the first that does not fit. Costs are counted in bits, with the entry codes of the packed
//! delta at typical Exp-Golomb orders and a typical id gap for creates (the encoder then picks
//! each frame's orders to minimise it, so a frame usually comes out a little under its
//! estimate, and can come out a few bytes over); [`delta_len`] gives the exact size.
//!
//! Each tick, an entity whose change waits accumulates a weight from 1 (at the view radius or
//! beyond) to 4 (at the centre), falling with the squared distance, and loses it all when sent
//! fresh: near entities are refreshed up to four times as often as far ones. An entity whose change has
//! waited [`overdue_ticks`] ticks (half a second) is **overdue**: overdue entities go before all
//! others, the longest waiting first.
//!
//! # Starvation bound
//! Let `A` = [`overdue_ticks`], `N` the most entities relevant at once, `c` the largest cost of
//! one entity, fresh or carried (a create of a player with a 24-byte name is about 36 bytes, a
//! moving player under 1 to 4), and `K ≥ 1` such that every frame's budget minus its never-deferred
//! part (headers, removals, the own player) is at least `K·c`. If every frame has a baseline at
//! most `L` ticks old (the acknowledgement lag; `L = 1` when each frame is acknowledged before
//! the next is built), then every relevant entity is sent fresh at least once every
//!
//! ```text
//!     A + L·⌈N/K⌉ ticks.
//! ```
//!
//! Proof sketch: once an entity is overdue, only the overdue entities that waited longer (or as
//! long, with a lower id) go before it, at most `N - 1`, and each at most once: once sent it is
//! fresh, so younger. Within any `L` consecutive ticks from then, at least `K` of them are
//! sent: a frame's carried changes are the entities sent since its baseline, so inside the
//! window; if fewer than `K` were sent before the window's last frame, that frame has room for
//! the rest. (An entity that leaves the view and comes back within `L` ticks carries its removal
//! like a change; count those with the removals.) Without any acknowledgement (`L` unbounded)
//! there is no bound: every frame then recreates the whole view, and only what fits is in it. At 30 Hz with 50 entities, an 8000 B/s budget
//! (`K = 4`) and `L = 3`, the bound is 15 + 39 = 54 ticks, 1.8 s; the test
//! `starvation_bound_holds_with_a_tiny_budget` checks it.
//!
//! # Names
//! An entity that re-enters a client's view is created again, but its name (fixed for the id)
//! is sent only until the client has acknowledged a frame that carried it; later creates of
//! the same entity leave it out ([`RowDelta::strings_elided`]) and the client's replica fills it
//! in. Frames built by [`ClientView::frame`] do this; shared frames carry every name.
//!
//! # Sharing one encoding
//! Views coincide when the budget is unlimited and the client sees everything (interest off, or
//! a spectator without a focus): the frame is then exactly `sim.delta_since(sim.tick() - age)`,
//! the same for every client with the same baseline age. [`ClientView::try_shared`] detects
//! that case, records the frame and returns the age, so the server can keep encoding once per
//! distinct age; otherwise it calls [`ClientView::frame`].

use std::collections::VecDeque;
use std::sync::Arc;

use tickwire_proto::schema::Schema;
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{self, EntityRow, RowDelta, RowRef};

use crate::config::MIN_FRAME_BUDGET_BYTES;
use crate::engine::Match;
use crate::game::{Game, PlayerId};
use crate::spatial::dist_sq;

/// Weight, per tick, of an entity at or beyond the view radius (1 in sixteenths).
const WEIGHT_FAR: u32 = 16;
/// Weight, per tick, of an entity at the centre (4 in sixteenths).
const WEIGHT_NEAR: u32 = 64;
/// Bits of an empty delta body: its length prefix, four code orders and three list lengths.
const DELTA_OVERHEAD: u32 = 8 + 16 + 3;

/// Ticks after which a waiting change is overdue and goes first: half a second at `tick_rate`
/// (at least 1).
pub fn overdue_ticks(tick_rate: u16) -> u32 {
    u32::from(tick_rate).div_ceil(2).max(1)
}

/// The entities of a view as sent, flat: ids ascending, each with its kind and numeric values
/// in the schema's slots, all of a view's values in one vector.
///
/// Strings are not kept: within a match an id's strings never change and ids are never
/// reused, and every entity of a view is in the snapshot of the view's tick, so a create reads
/// them from that snapshot. A view is then a few flat arrays (no allocation per entity),
/// cheap to copy, compare and keep for every client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Rows {
    /// Entity ids, ascending.
    ids: Vec<u32>,
    /// Kind codes.
    kinds: Vec<u16>,
    /// Where each entity's values end in `values`.
    ends: Vec<u32>,
    /// Every entity's numeric values, one after the other.
    values: Vec<i64>,
}

impl Rows {
    /// Empties the view, keeping its allocations.
    fn clear(&mut self) {
        self.ids.clear();
        self.kinds.clear();
        self.ends.clear();
        self.values.clear();
    }

    /// Entities held.
    fn len(&self) -> usize {
        self.ids.len()
    }

    /// Id of entity `i`.
    fn id(&self, i: usize) -> Option<u32> {
        self.ids.get(i).copied()
    }

    /// Entity `i` with the strings `strings` (its own, from a snapshot).
    fn row<'a>(&'a self, i: usize, strings: &'a [String]) -> RowRef<'a> {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
        RowRef {
            id: self.ids[i],
            kind: self.kinds[i],
            values: &self.values[start..self.ends[i] as usize],
            strings,
        }
    }

    /// Appends an entity (ids must come ascending).
    fn push(&mut self, r: RowRef<'_>) {
        self.ids.push(r.id);
        self.kinds.push(r.kind);
        self.values.extend_from_slice(r.values);
        self.ends.push(self.values.len() as u32);
    }

    /// Replaces the view with a whole snapshot.
    fn copy_snapshot(&mut self, snap: &[EntityRow]) {
        self.clear();
        for e in snap {
            self.push(e.row_ref());
        }
    }
}

/// The numeric state of a [`RowRef`]: what two states of one entity differ in.
fn state_of<'a>(r: RowRef<'a>) -> (u16, &'a [i64]) {
    (r.kind, r.values)
}

/// The create of `r` for a delta, with the snapshot row's shared strings.
fn created(r: RowRef<'_>, e: &EntityRow) -> EntityRow {
    EntityRow {
        id: r.id,
        kind: r.kind,
        values: r.values.to_vec(),
        strings: Arc::clone(&e.strings),
    }
}

/// Estimated bits of the entry that turns `base` (at baseline index `bi`) into `to` (either
/// may be absent), after a change at baseline index `prev`, for budgeting. A create prices its
/// strings unless `strings_held` (the client holds them).
#[allow(clippy::too_many_arguments)]
fn entry_bits(
    schema: &Schema,
    base: Option<(RowRef<'_>, u32)>,
    to: Option<RowRef<'_>>,
    strings_held: bool,
    age: u32,
    prev: Option<u32>,
    scratch: &mut RowDelta,
) -> u32 {
    let create = |t: RowRef<'_>| body::create_bits_estimate(schema, t, strings_held).unwrap_or(0);
    match (base, to) {
        (None, None) => 0,
        (Some((_, bi)), None) => body::remove_bits_estimate(bi, prev),
        (None, Some(t)) => create(t),
        (Some((b, bi)), Some(t)) if !rows::same_identity(schema, b, t) => {
            body::remove_bits_estimate(bi, prev) + create(t)
        }
        (Some((b, bi)), Some(t)) => {
            body::update_estimate_between(schema, b, t, age, bi, prev, scratch)
        }
    }
}

/// Exact bytes of a delta body as the server encodes it (its length prefix included), without
/// encoding it; `kind_of` gives the baseline's kind at an index. Frames do not compute it (the
/// server learns the size when it encodes); tests and budgets' users may.
pub fn delta_len(schema: &Schema, delta: &RowDelta, kind_of: impl Fn(u32) -> Option<u16>) -> usize {
    let body = body::encoded_len(schema, delta, kind_of);
    let prefix = match body {
        0..=250 => 1,
        251..=0xffff => 3,
        _ => 5,
    };
    prefix + body
}

/// Fills `out` with the delta from `base`, `age` ticks old, to the entities of `items`
/// (ascending ids, each with the snapshot row of its id, for a create's strings), and `view`
/// (when given) with them.
fn emit<'s>(
    schema: &Schema,
    base: &Rows,
    age: u32,
    items: impl Iterator<Item = (RowRef<'s>, &'s EntityRow)>,
    mut view: Option<&mut Rows>,
    out: &mut RowDelta,
) {
    out.clear();
    if let Some(v) = view.as_mut() {
        v.clear();
    }
    let mut bi = 0;
    for (s, e) in items {
        while base.id(bi).is_some_and(|b| b < s.id) {
            out.removed.push(bi as u32);
            bi += 1;
        }
        if base.id(bi) == Some(s.id) {
            let b = base.row(bi, &e.strings);
            if !rows::same_identity(schema, b, s) {
                out.removed.push(bi as u32);
                out.created.push(created(s, e));
            } else {
                rows::push_update(schema, b, s, age, bi as u32, out);
            }
            bi += 1;
        } else {
            out.created.push(created(s, e));
        }
        if let Some(v) = view.as_mut() {
            v.push(s);
        }
    }
    out.removed.extend(bi as u32..base.len() as u32);
}

/// Pairs each entity of `view` with its row in `snap` (both ascending; every entity of a view
/// is in the snapshot of its tick). Entities missing from `snap` are skipped.
fn with_entities<'a>(
    view: &'a Rows,
    snap: &'a [EntityRow],
) -> impl Iterator<Item = (RowRef<'a>, &'a EntityRow)> + 'a {
    let mut k = 0;
    (0..view.len()).filter_map(move |i| {
        let id = view.ids[i];
        while snap.get(k).is_some_and(|e| e.id < id) {
            k += 1;
        }
        snap.get(k)
            .filter(|e| e.id == id)
            .map(|e| (view.row(i, &e.strings), e))
    })
}

/// What a client's view holds for one relevant entity this tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    /// Its current state.
    Fresh,
    /// Its state in the previous view.
    Carry,
    /// Its state in the acknowledged view.
    Base,
}

/// Priority bookkeeping of one relevant entity.
#[derive(Clone, Copy, Debug)]
struct Track {
    /// Entity id.
    id: u32,
    /// Accumulated weight since it was last sent fresh, sixteenths.
    acc: u32,
    /// The last tick whose view held its current state.
    fresh_tick: u32,
}

/// One relevant entity while a frame is planned.
#[derive(Clone, Copy, Debug)]
struct Cand {
    /// Index in the snapshot.
    snap: u32,
    /// Index in the baseline view.
    base: Option<u32>,
    /// Index in the previous view.
    prev: Option<u32>,
    /// Bits to send it fresh (estimated).
    cost_fresh: u32,
    /// Bits to carry its previous state (estimated).
    cost_carry: u32,
    /// Its previous state is its current one.
    carry_is_fresh: bool,
    /// Accumulated weight, sixteenths.
    acc: u32,
    /// See [`Track::fresh_tick`].
    fresh_tick: u32,
    /// The decision.
    choice: Choice,
}

/// One view sent: its tick and its entities (empty with `full`: the snapshot of the tick).
#[derive(Clone, Debug)]
struct Sent {
    /// The tick of the frame.
    tick: u32,
    /// The view was the whole snapshot of the tick (kept in the match history, not here).
    full: bool,
    /// The entities, sorted by id (empty when `full`).
    view: Rows,
}

/// What the last [`ClientView::frame`] (or [`ClientView::try_shared`]) did, for metrics and
/// tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// The tick of the frame.
    pub tick: u32,
    /// Its baseline age, ticks (0 = full).
    pub baseline_age: u32,
    /// The view was the whole snapshot and the budget unlimited: the frame is the shared
    /// `Match::delta_since` delta (see [`ClientView::try_shared`]).
    pub shared: bool,
    /// Entities in the relevant set.
    pub relevant: usize,
    /// Entities in the view sent.
    pub view: usize,
    /// Relevant entities whose change waits (carried or at the baseline state).
    pub deferred: usize,
    /// The budget applied, bytes (`None` = unlimited).
    pub budget: Option<usize>,
    /// Bytes never deferred: list headers, removals and the own player.
    pub mandatory_bytes: usize,
    /// The largest cost of one relevant entity this frame (fresh or carried), bytes.
    pub max_entity_bytes: usize,
    /// Ticks since the longest-waiting deferred entity was last sent fresh (0 when none waits).
    pub max_wait: u32,
}

/// Buffers a frame needs only while it is built. The server owns one per match and lends it
/// to every [`ClientView::frame`] of the tick (frames are built one after the other), so they
/// stay in cache, allocate nothing in the steady state, and a view holds only its own state.
#[derive(Debug, Default)]
pub struct FrameScratch {
    /// Relevant snapshot indices.
    relevant: Vec<u32>,
    /// Candidates in id order.
    cands: Vec<Cand>,
    /// Candidate indices in priority order.
    order: Vec<u32>,
    /// The next priorities.
    tracks: Vec<Track>,
    /// A shared baseline converted to a view.
    base: Rows,
    /// A shared previous view converted to a view.
    prev: Rows,
    /// Room for one update while it is priced.
    estimate: RowDelta,
}

/// The replication state of one client: the views it was sent and the priorities of the
/// entities it sees. Sans-IO: the server owns one per connection and match, calls
/// [`ClientView::frame`] (or [`ClientView::try_shared`]) once per tick after [`Match::step`],
/// and starts a new one (or calls [`ClientView::reset`]) when the connection restarts from a
/// full snapshot, e.g. a resumed session.
///
/// Memory: one view per tick from the acknowledged one to the newest (10 bytes an entity plus 8
/// per numeric field: 82 for arena; at most `history_ticks` views), plus 12 bytes of priority
/// per relevant entity.
#[derive(Clone, Debug, Default)]
pub struct ClientView {
    /// Views sent, ticks ascending: the acknowledged one and every newer one.
    sent: VecDeque<Sent>,
    /// Recycled view buffers.
    pool: Vec<Rows>,
    /// The newest acknowledged tick that was held when it arrived (0 = none).
    acked: u32,
    /// Priorities of the entities in the last view, by id.
    tracks: Vec<Track>,
    /// Entity ids always relevant to this client, sorted.
    pinned: Vec<u32>,
    /// A spectator's centre, world units.
    focus: Option<[f32; 2]>,
    /// The last frame's statistics.
    stats: FrameStats,
    /// Which entity names the client holds.
    names: NameBook,
}

/// Which entities' strings (names) a client holds, so that its own frames can leave them out
/// of creates ([`RowDelta::strings_elided`]): they are held once the frame that carried them
/// is acknowledged.
#[derive(Clone, Debug, Default)]
struct NameBook {
    /// Ids whose name arrived in a frame the client acknowledged, sorted (looked up for every
    /// create; a sorted vector is cheaper than hashing them, and grows only with new names).
    known: Vec<u32>,
    /// Ids whose name a frame carried, by the frame's tick, not yet acknowledged; at most
    /// [`MAX_PENDING_FRAMES`] frames (names of older ones are simply sent again).
    pending: VecDeque<(u32, Vec<u32>)>,
}

/// Frames whose carried names a [`NameBook`] tracks while unacknowledged.
const MAX_PENDING_FRAMES: usize = 64;

impl NameBook {
    /// The client acknowledged `tick`: it applied that frame, so it holds the names that frame
    /// carried (and those of every entity in its view, whose creates carried them before).
    /// Earlier frames may have been skipped by latest-wins delivery, so their names are not
    /// counted: they are sent again when needed.
    fn acknowledge(&mut self, tick: u32) {
        while self.pending.front().is_some_and(|(t, _)| *t <= tick) {
            if let Some((t, ids)) = self.pending.pop_front() {
                if t == tick {
                    for id in ids {
                        if let Err(at) = self.known.binary_search(&id) {
                            self.known.insert(at, id);
                        }
                    }
                }
            }
        }
    }

    /// Leaves the names the client holds out of `delta`'s creates, and records the names it
    /// still carries as sent at `tick`.
    fn elide(&mut self, tick: u32, delta: &mut RowDelta) {
        delta.strings_elided.clear();
        let mut carried = Vec::new();
        for e in delta
            .created
            .iter_mut()
            .filter(|e| e.strings.iter().any(|s| !s.is_empty()))
        {
            if self.holds(e.id) {
                // The encoder sends an elided entity's strings as absent, so they go empty.
                e.strings = e.strings.iter().map(|_| String::new()).collect();
                delta.strings_elided.push(e.id);
            } else {
                carried.push(e.id);
            }
        }
        if !carried.is_empty() {
            if self.pending.len() >= MAX_PENDING_FRAMES {
                self.pending.pop_front();
            }
            self.pending.push_back((tick, carried));
        }
    }

    /// True when the client holds the name of `id`.
    fn holds(&self, id: u32) -> bool {
        self.known.binary_search(&id).is_ok()
    }
}

impl ClientView {
    /// A view for a client that has been sent nothing: its first frame is a full snapshot.
    pub fn new() -> ClientView {
        ClientView::default()
    }

    /// Forgets every view sent and every priority, so the next frame is a full snapshot (for a
    /// connection that starts over, or a client moved to another match). Pins and focus are
    /// kept.
    pub fn reset(&mut self) {
        while let Some(s) = self.sent.pop_front() {
            recycle(&mut self.pool, s.view);
        }
        self.acked = 0;
        self.tracks.clear();
        self.names = NameBook::default();
    }

    /// Entities relevant to this client whatever their distance (teammates, objectives):
    /// replaces the previous pins. Ids not in the snapshot are ignored.
    pub fn set_pinned(&mut self, entity_ids: &[u32]) {
        self.pinned.clear();
        self.pinned.extend_from_slice(entity_ids);
        self.pinned.sort_unstable();
        self.pinned.dedup();
    }

    /// The centre of a spectator's area of interest, world units; `None` (the default) shows a
    /// spectator every entity. Also used for a player whose entity is missing.
    pub fn set_focus(&mut self, focus: Option<[f32; 2]>) {
        self.focus = focus;
    }

    /// What the last frame did.
    pub fn stats(&self) -> &FrameStats {
        &self.stats
    }

    /// The kind of the entity at `index` of the last frame's baseline (the view that frame
    /// was a delta against), `None` past its end or for a full frame: what the encoder of a
    /// schema whose updates are coded per kind asks for.
    pub fn baseline_kind<G: Game>(&self, sim: &Match<G>, index: u32) -> Option<u16> {
        let age = self.stats.baseline_age;
        let tick = self.stats.tick.checked_sub(age).filter(|_| age > 0)?;
        let s = entry_in(&self.sent, tick)?;
        if s.full {
            sim.snapshot_at(tick)?.get(index as usize).map(|e| e.kind)
        } else {
            s.view.kinds.get(index as usize).copied()
        }
    }

    /// The newest acknowledged tick this view uses as a baseline (0 = none).
    pub fn acked(&self) -> u32 {
        self.acked
    }

    /// The view sent at `tick`, if still held (and the match still holds that tick's snapshot,
    /// which gives the names): exactly the world the client rebuilds from that frame.
    pub fn sent_view<G: Game>(&self, tick: u32, sim: &Match<G>) -> Option<Vec<EntityRow>> {
        let s = entry_in(&self.sent, tick)?;
        let snap = sim.snapshot_at(tick)?;
        if s.full {
            return Some(snap.to_vec());
        }
        let out: Vec<EntityRow> = with_entities(&s.view, snap)
            .map(|(s, e)| created(s, e))
            .collect();
        (out.len() == s.view.len()).then_some(out)
    }

    /// If this client's frame is the shared whole-world delta (unlimited budget, it sees
    /// everything, and its baseline is a shared frame or none), records it and returns its
    /// baseline age: the frame is then `sim.delta_since(sim.tick() - age)`, identical for every
    /// client with that age, so the server encodes it once per distinct age. Otherwise returns
    /// `None` and records nothing: call [`ClientView::frame`].
    pub fn try_shared<G: Game>(
        &mut self,
        sim: &Match<G>,
        viewer: Option<PlayerId>,
        ack: u32,
        budget_bytes: Option<usize>,
    ) -> Option<u32> {
        if budget_bytes.is_some() || !self.sees_everything(sim, viewer) {
            return None;
        }
        let tick = sim.tick();
        let base = self.begin(sim, ack);
        if base.is_some_and(|b| !entry_in(&self.sent, b).is_some_and(|s| s.full)) {
            return None;
        }
        let age = base.map_or(0, |b| tick - b);
        match self.sent.back() {
            Some(last) if last.tick == tick => {
                if !last.full {
                    return None;
                }
            }
            _ => self.push(sim, tick, true, Rows::default()),
        }
        self.tracks.clear();
        let n = sim.snapshot().len();
        self.stats = FrameStats {
            tick,
            baseline_age: age,
            shared: true,
            relevant: n,
            view: n,
            ..FrameStats::default()
        };
        Some(age)
    }

    /// Builds this tick's frame for the client: fills `out` with the delta from the view it
    /// acknowledged to its new view, records the new view, and returns the baseline age
    /// (0 = full snapshot).
    ///
    /// * `viewer`: the client's player (`None` for a spectator).
    /// * `ack`: the newest tick the client acknowledged (0 = none). A tick whose view is no
    ///   longer held, or never was, is ignored; acknowledgements never move back.
    /// * `budget_bytes`: the most bytes of delta body to send (`None` = unlimited), raised to
    ///   [`MIN_FRAME_BUDGET_BYTES`]. Only the never-deferred part (removals, the own player)
    ///   can exceed it.
    /// * `scratch`: working buffers, shared by every view of the match (see [`FrameScratch`]).
    ///
    /// Calling it again in the same tick re-sends the same view (against the newest baseline).
    pub fn frame<G: Game>(
        &mut self,
        sim: &Match<G>,
        viewer: Option<PlayerId>,
        ack: u32,
        budget_bytes: Option<usize>,
        scratch: &mut FrameScratch,
        out: &mut RowDelta,
    ) -> u32 {
        let tick = sim.tick();
        let base_tick = self.begin(sim, ack);
        let age = base_tick.map_or(0, |b| tick - b);
        let snap = sim.snapshot();
        if self.sent.back().is_some_and(|s| s.tick == tick) {
            // A second call in one tick: the same view again.
            self.resend(sim, base_tick, scratch, out);
            self.stats.baseline_age = age;
            return age;
        }
        let everything = self.sees_everything(sim, viewer);
        if everything && budget_bytes.is_none() {
            self.whole(sim, base_tick, out);
            self.tracks.clear();
            self.stats = FrameStats {
                tick,
                baseline_age: age,
                shared: true,
                relevant: snap.len(),
                view: snap.len(),
                ..FrameStats::default()
            };
            self.push(sim, tick, true, Rows::default());
            return age;
        }
        self.own_frame(
            sim,
            viewer,
            base_tick,
            budget_bytes,
            everything,
            scratch,
            out,
        );
        self.stats.baseline_age = age;
        age
    }

    /// The frame of a client with its own view (interest management or a budget).
    #[allow(clippy::too_many_arguments)]
    fn own_frame<G: Game>(
        &mut self,
        sim: &Match<G>,
        viewer: Option<PlayerId>,
        base_tick: Option<u32>,
        budget_bytes: Option<usize>,
        everything: bool,
        scratch: &mut FrameScratch,
        out: &mut RowDelta,
    ) {
        let tick = sim.tick();
        let age = base_tick.map_or(0, |b| tick - b);
        let snap = sim.snapshot();
        let schema = &**sim.schema();
        let own = viewer
            .and_then(|id| sim.player(id))
            .and_then(|p| snap.binary_search_by_key(&p.entity_id, |e| e.id).ok());
        self.collect_relevant(sim, own, everything, &mut scratch.relevant);
        let centre = self.centre(sim, viewer);
        let FrameScratch {
            relevant,
            cands,
            order,
            tracks: next_tracks,
            base: base_scratch,
            prev: prev_scratch,
            estimate,
        } = scratch;
        let ClientView {
            sent,
            pool,
            tracks,
            names,
            ..
        } = self;
        let empty = Rows::default();
        let base: &Rows = base_tick
            .and_then(|b| view_of(sent, sim, b, base_scratch))
            .unwrap_or(&empty);
        let mut view = pool.pop().unwrap_or_default();
        let stats = match budget_bytes {
            None => {
                let items = relevant.iter().map(|&i| {
                    let e = &snap[i as usize];
                    (e.row_ref(), e)
                });
                emit(schema, base, age, items, Some(&mut view), out);
                tracks.clear();
                FrameStats {
                    relevant: relevant.len(),
                    ..FrameStats::default()
                }
            }
            Some(budget) => {
                let prev: &Rows = match sent.back() {
                    Some(s) => view_of(sent, sim, s.tick, prev_scratch).unwrap_or(base),
                    None => base,
                };
                let plan = Plan {
                    schema,
                    placement: sim.placement(),
                    tick,
                    age,
                    snap,
                    base,
                    prev,
                    centre,
                    inv_r2: reference_radius(sim).powi(2).recip(),
                    overdue: overdue_ticks(sim.config().tick_rate),
                    budget_bits: budget.max(MIN_FRAME_BUDGET_BYTES) as u32 * 8,
                    names,
                };
                let stats = plan.run(
                    relevant,
                    own.map(|i| i as u32),
                    tracks,
                    cands,
                    order,
                    estimate,
                );
                let items = cands.iter().filter_map(|c| {
                    let e = &snap[c.snap as usize];
                    let s = match c.choice {
                        Choice::Fresh => Some(e.row_ref()),
                        Choice::Carry => c.prev.map(|i| prev.row(i as usize, &e.strings)),
                        Choice::Base => c.base.map(|i| base.row(i as usize, &e.strings)),
                    };
                    s.map(|s| (s, e))
                });
                emit(schema, base, age, items, Some(&mut view), out);
                next_tracks.clear();
                next_tracks.extend(cands.iter().map(|c| {
                    let id = snap[c.snap as usize].id;
                    if c.choice == Choice::Fresh {
                        Track {
                            id,
                            acc: 0,
                            fresh_tick: tick,
                        }
                    } else {
                        Track {
                            id,
                            acc: c.acc,
                            fresh_tick: c.fresh_tick,
                        }
                    }
                }));
                tracks.clear();
                tracks.extend_from_slice(next_tracks);
                stats
            }
        };
        self.names.elide(tick, out);
        self.stats = FrameStats {
            tick,
            shared: false,
            view: view.len(),
            budget: budget_bytes.map(|b| b.max(MIN_FRAME_BUDGET_BYTES)),
            ..stats
        };
        self.push(sim, tick, false, view);
    }

    /// The delta from the baseline to the whole snapshot: exactly [`Match::delta_since`] when
    /// the baseline is a shared frame or none.
    fn whole<G: Game>(&mut self, sim: &Match<G>, base_tick: Option<u32>, out: &mut RowDelta) {
        let snap = sim.snapshot();
        let schema = &**sim.schema();
        let age = base_tick.map_or(0, |b| sim.tick() - b);
        match base_tick.and_then(|b| entry_in(&self.sent, b).map(|s| (b, s))) {
            Some((_, s)) if !s.full => {
                emit(
                    schema,
                    &s.view,
                    age,
                    snap.iter().map(|e| (e.row_ref(), e)),
                    None,
                    out,
                );
            }
            Some((b, _)) => {
                rows::diff_into(schema, sim.snapshot_at(b).unwrap_or(&[]), snap, age, out);
            }
            None => rows::diff_into(schema, &[], snap, 0, out),
        }
    }

    /// The delta from the baseline to the view already sent this tick.
    fn resend<G: Game>(
        &mut self,
        sim: &Match<G>,
        base_tick: Option<u32>,
        scratch: &mut FrameScratch,
        out: &mut RowDelta,
    ) {
        let tick = sim.tick();
        if entry_in(&self.sent, tick).is_some_and(|s| s.full) {
            self.whole(sim, base_tick, out);
            return;
        }
        let sent = &self.sent;
        let empty = Rows::default();
        let base: &Rows = base_tick
            .and_then(|b| view_of(sent, sim, b, &mut scratch.base))
            .unwrap_or(&empty);
        let view = entry_in(sent, tick).map_or(&empty, |s| &s.view);
        let age = base_tick.map_or(0, |b| tick - b);
        let schema = &**sim.schema();
        emit(
            schema,
            base,
            age,
            with_entities(view, sim.snapshot()),
            None,
            out,
        );
        self.names.elide(tick, out);
    }

    /// True when this client's relevant set is every entity.
    fn sees_everything<G: Game>(&self, sim: &Match<G>, viewer: Option<PlayerId>) -> bool {
        sim.config().view_radius <= 0.0 || self.centre(sim, viewer).is_none()
    }

    /// The centre of the client's area of interest, quantized: its player's entity, else the
    /// focus.
    fn centre<G: Game>(&self, sim: &Match<G>, viewer: Option<PlayerId>) -> Option<(i32, i32)> {
        let place = sim.placement();
        let own = viewer.and_then(|id| sim.player(id)).and_then(|p| {
            let snap = sim.snapshot();
            snap.binary_search_by_key(&p.entity_id, |e| e.id)
                .ok()
                .and_then(|i| place.position(&snap[i]))
        });
        own.or_else(|| {
            self.focus
                .map(|[x, y]| (place.quantize(x), place.quantize(y)))
        })
    }

    /// Fills `relevant` with the relevant snapshot indices, ascending.
    fn collect_relevant<G: Game>(
        &self,
        sim: &Match<G>,
        own: Option<usize>,
        everything: bool,
        relevant: &mut Vec<u32>,
    ) {
        let snap = sim.snapshot();
        relevant.clear();
        if everything {
            relevant.extend(0..snap.len() as u32);
            return;
        }
        let index = sim.interest_index();
        let place = sim.placement();
        let radius = sim.config().view_radius;
        let centre = match own {
            Some(i) => place.position(&snap[i]),
            None => self
                .focus
                .map(|[x, y]| (place.quantize(x), place.quantize(y))),
        };
        if let Some(c) = centre {
            index.within(snap, place, c, radius, |i| relevant.push(i));
        }
        relevant.extend_from_slice(index.unplaced());
        if let Some(i) = own {
            relevant.push(i as u32);
            relevant.extend(index.owned_by(snap[i].id));
        }
        for id in &self.pinned {
            if let Ok(i) = snap.binary_search_by_key(id, |e| e.id) {
                relevant.push(i as u32);
            }
        }
        relevant.sort_unstable();
        relevant.dedup();
    }

    /// Takes `ack` into account and drops the views older than the baseline; returns the
    /// baseline tick, if one is usable.
    fn begin<G: Game>(&mut self, sim: &Match<G>, ack: u32) -> Option<u32> {
        let tick = sim.tick();
        if self.sent.back().is_some_and(|s| s.tick > tick) {
            // Views from the future: another match, or a misuse. Start over.
            self.reset();
        }
        if ack > self.acked && ack < tick && held(&self.sent, sim, ack) {
            self.acked = ack;
            self.names.acknowledge(ack);
        }
        let base = (self.acked != 0 && self.acked < tick)
            .then_some(self.acked)
            .filter(|&b| held(&self.sent, sim, b));
        if let Some(b) = base {
            while self.sent.front().is_some_and(|s| s.tick < b) {
                if let Some(s) = self.sent.pop_front() {
                    recycle(&mut self.pool, s.view);
                }
            }
        }
        base
    }

    /// Records the view of `tick`, evicting the oldest beyond the history length.
    fn push<G: Game>(&mut self, sim: &Match<G>, tick: u32, full: bool, view: Rows) {
        let cap = (sim.config().history_len() as usize).max(2);
        while self.sent.len() >= cap {
            if let Some(s) = self.sent.pop_front() {
                recycle(&mut self.pool, s.view);
            }
        }
        self.sent.push_back(Sent { tick, full, view });
    }
}

/// Returns a view buffer to the pool (if it holds anything worth keeping).
fn recycle(pool: &mut Vec<Rows>, mut view: Rows) {
    if view.ids.capacity() > 0 && pool.len() < 8 {
        view.clear();
        pool.push(view);
    }
}

/// The entry of `tick`, if held.
fn entry_in(sent: &VecDeque<Sent>, tick: u32) -> Option<&Sent> {
    let i = sent.binary_search_by_key(&tick, |s| s.tick).ok()?;
    sent.get(i)
}

/// True when the view of `tick` can serve as a baseline: recorded, and for a shared frame its
/// snapshot still in the match history.
fn held<G: Game>(sent: &VecDeque<Sent>, sim: &Match<G>, tick: u32) -> bool {
    entry_in(sent, tick).is_some_and(|s| !s.full || sim.snapshot_at(tick).is_some())
}

/// The view of `tick`: the entry's own, or for a shared frame the snapshot of the tick
/// copied into `scratch`.
fn view_of<'a, G: Game>(
    sent: &'a VecDeque<Sent>,
    sim: &Match<G>,
    tick: u32,
    scratch: &'a mut Rows,
) -> Option<&'a Rows> {
    let s = entry_in(sent, tick)?;
    if !s.full {
        return Some(&s.view);
    }
    let snap = sim.snapshot_at(tick)?;
    scratch.copy_snapshot(snap);
    Some(scratch)
}

/// The distance at which the priority weight bottoms out (the view radius, or half the map
/// without one), wire units.
fn reference_radius<G: Game>(sim: &Match<G>) -> f64 {
    let r = sim.config().view_radius;
    let r = if r > 0.0 {
        f64::from(r)
    } else {
        f64::from(sim.world().width.max(sim.world().height)) / 2.0
    };
    (r * f64::from(sim.placement().scale())).max(1.0)
}

/// The inputs of one budgeted frame.
struct Plan<'a> {
    /// The game's schema.
    schema: &'a Schema,
    /// Where it puts entities.
    placement: &'a crate::spatial::Placement,
    /// The current tick.
    tick: u32,
    /// The frame's baseline age, ticks.
    age: u32,
    /// The current snapshot.
    snap: &'a [EntityRow],
    /// The acknowledged view.
    base: &'a Rows,
    /// The previous view.
    prev: &'a Rows,
    /// The centre, quantized.
    centre: Option<(i32, i32)>,
    /// 1 / the squared distance of the lowest weight, 1 / squared wire units.
    inv_r2: f64,
    /// See [`overdue_ticks`].
    overdue: u32,
    /// The frame budget, bits.
    budget_bits: u32,
    /// The names the client holds (their creates cost no name).
    names: &'a NameBook,
}

impl Plan<'_> {
    /// The weight of an entity this tick, sixteenths.
    fn weight(&self, e: &EntityRow) -> u32 {
        let Some(c) = self.centre else {
            return WEIGHT_FAR;
        };
        let Some(p) = self.placement.position(e) else {
            // Without a position it is everywhere: as near as can be.
            return WEIGHT_NEAR;
        };
        let near = (1.0 - dist_sq(p, c) as f64 * self.inv_r2).clamp(0.0, 1.0);
        WEIGHT_FAR + (near * f64::from(WEIGHT_NEAR - WEIGHT_FAR)) as u32
    }

    /// Decides every relevant entity's state (in `cands`, id order) and returns the frame's
    /// statistics (without the final byte count).
    fn run(
        &self,
        relevant: &[u32],
        own: Option<u32>,
        tracks: &[Track],
        cands: &mut Vec<Cand>,
        order: &mut Vec<u32>,
        estimate: &mut RowDelta,
    ) -> FrameStats {
        let (snap, base, prev) = (self.snap, self.base, self.prev);
        let schema = self.schema;
        cands.clear();
        let mut spent = DELTA_OVERHEAD;
        let (mut bi, mut pi, mut ti) = (0, 0, 0);
        // The baseline index of the previous entry likely to be sent, for the gap codes.
        let mut last_changed = None;
        let mut max_entity = 0;
        // Bits of every waiting change sent fresh.
        let mut wanted = 0;
        for &s in relevant {
            let e = &snap[s as usize];
            let cur = e.row_ref();
            let id = cur.id;
            while base.id(bi).is_some_and(|b| b < id) {
                spent += body::remove_bits_estimate(bi as u32, last_changed);
                last_changed = Some(bi as u32);
                bi += 1;
            }
            let b = (base.id(bi) == Some(id)).then(|| {
                bi += 1;
                bi as u32 - 1
            });
            while prev.id(pi).is_some_and(|p| p < id) {
                pi += 1;
            }
            let p = (prev.id(pi) == Some(id)).then_some(pi as u32);
            while tracks.get(ti).is_some_and(|t| t.id < id) {
                ti += 1;
            }
            let track = tracks.get(ti).filter(|t| t.id == id);
            let base_e = b.map(|i| (base.row(i as usize, &e.strings), i));
            let prev_e = p.map(|i| prev.row(i as usize, &e.strings));
            // Only a create carries strings, and not those the client holds.
            let held = b.is_some() || self.names.holds(id);
            let age = self.age;
            let cost_fresh =
                entry_bits(schema, base_e, Some(cur), held, age, last_changed, estimate);
            let same =
                |x: Option<RowRef<'_>>, y: Option<RowRef<'_>>| x.map(state_of) == y.map(state_of);
            let cost_carry = if same(prev_e, base_e.map(|(b, _)| b)) {
                0
            } else {
                entry_bits(schema, base_e, prev_e, held, age, last_changed, estimate)
            };
            if cost_fresh > 0 {
                if let Some(i) = b {
                    last_changed = Some(i);
                }
            }
            max_entity = max_entity.max(cost_fresh).max(cost_carry);
            let w = self.weight(e);
            let (acc, fresh_tick) = match track {
                Some(t) => (t.acc.saturating_add(w), t.fresh_tick),
                None => (w, self.tick.saturating_sub(1)),
            };
            let mandatory = cost_fresh == 0 || Some(s) == own;
            if mandatory {
                spent += cost_fresh;
            } else {
                wanted += cost_fresh;
            }
            cands.push(Cand {
                snap: s,
                base: b,
                prev: p,
                cost_fresh,
                cost_carry,
                carry_is_fresh: same(prev_e, Some(cur)),
                acc,
                fresh_tick,
                choice: if mandatory {
                    Choice::Fresh
                } else {
                    Choice::Base
                },
            });
        }
        for i in bi..base.len() {
            spent += body::remove_bits_estimate(i as u32, last_changed);
            last_changed = Some(i as u32);
        }
        let stats = FrameStats {
            relevant: relevant.len(),
            mandatory_bytes: spent.div_ceil(8) as usize,
            max_entity_bytes: max_entity.div_ceil(8) as usize,
            ..FrameStats::default()
        };
        if spent + wanted <= self.budget_bits {
            // Everything fits: all fresh, as with an unlimited budget.
            for c in cands.iter_mut() {
                c.choice = Choice::Fresh;
            }
            return stats;
        }
        // Waiting entities, most urgent first: overdue ones by wait, then by accumulated weight;
        // ties by id.
        order.clear();
        order.extend(
            cands
                .iter()
                .enumerate()
                .filter(|(_, c)| c.choice != Choice::Fresh)
                .map(|(i, _)| i as u32),
        );
        let key = |c: &Cand| -> u64 {
            let wait = self.tick.saturating_sub(c.fresh_tick);
            if wait >= self.overdue {
                (1 << 40) | u64::from(wait)
            } else {
                u64::from(c.acc)
            }
        };
        order.sort_unstable_by(|&a, &b| {
            key(&cands[b as usize])
                .cmp(&key(&cands[a as usize]))
                .then(a.cmp(&b))
        });
        // Changes already on their way are kept first, so nothing the client shows goes back.
        for &k in order.iter() {
            let c = &mut cands[k as usize];
            if c.cost_carry > 0 && spent + c.cost_carry <= self.budget_bits {
                spent += c.cost_carry;
                c.choice = if c.carry_is_fresh {
                    Choice::Fresh
                } else {
                    Choice::Carry
                };
            }
        }
        // Then fresh states by priority, until one does not fit.
        for &k in order.iter() {
            let c = &mut cands[k as usize];
            if c.choice == Choice::Fresh {
                continue;
            }
            let reserved = if c.choice == Choice::Carry {
                c.cost_carry
            } else {
                0
            };
            if spent - reserved + c.cost_fresh > self.budget_bits {
                break;
            }
            spent = spent - reserved + c.cost_fresh;
            c.choice = Choice::Fresh;
        }
        let mut deferred = 0;
        let mut max_wait = 0;
        for c in cands.iter().filter(|c| c.choice != Choice::Fresh) {
            deferred += 1;
            max_wait = max_wait.max(self.tick.saturating_sub(c.fresh_tick));
        }
        FrameStats {
            deferred,
            max_wait,
            ..stats
        }
    }
}

/// A sans-IO send-rate controller for one client (additive increase, multiplicative
/// decrease): it halves the frame budget whenever the client's link is backlogged and grows it
/// back by a sixteenth of the maximum per clear tick (from the floor to the maximum in about
/// half a second at 30 Hz).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveBudget {
    /// The configured budget, bytes per frame.
    max: usize,
    /// The current budget, bytes per frame.
    current: usize,
}

impl AdaptiveBudget {
    /// A controller starting at (and never above) `max_per_frame` bytes; see
    /// [`MatchConfig::frame_budget_bytes`](crate::MatchConfig::frame_budget_bytes).
    pub fn new(max_per_frame: usize) -> AdaptiveBudget {
        let max = max_per_frame.max(MIN_FRAME_BUDGET_BYTES);
        AdaptiveBudget { max, current: max }
    }

    /// Call once per tick before building the client's frame: `backlogged` is true when its
    /// previous frame had not reached the socket yet (the latest-wins slot still held it, or
    /// its send buffer is above a threshold). Returns the budget for this frame, bytes, at
    /// least [`MIN_FRAME_BUDGET_BYTES`].
    pub fn next(&mut self, backlogged: bool) -> usize {
        self.current = if backlogged {
            (self.current / 2).max(MIN_FRAME_BUDGET_BYTES)
        } else {
            (self.current + self.max.div_ceil(16)).min(self.max)
        };
        self.current
    }

    /// The current budget, bytes per frame.
    pub fn current(&self) -> usize {
        self.current
    }
}

#[cfg(test)]
mod tests;
