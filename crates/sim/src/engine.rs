//! The engine's match: one authoritative, deterministic state machine running any [`Game`].

use tickwire_proto::EntityState;
use tickwire_proto::entity::quantize;
use tickwire_proto::msg::{Delta, EndReason, FrameHeader, Phase, sanitize_name};

use crate::config::{ConfigError, MatchConfig};
use crate::game::{Game, PlayerId, StepCtx, WorldBounds};
use crate::history::History;
use crate::input::{InputOutcome, InputQueue};
use crate::spatial::SpatialIndex;

/// Why [`Match::add_player`] refused a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum JoinError {
    /// The match has `max_players` players already (or, after billions of joins, ran out of ids).
    #[error("the match is full")]
    Full,
    /// The match is over.
    #[error("the match has ended")]
    Ended,
}

/// A seat's public record: identity, connection and input bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerInfo {
    /// Player id.
    pub id: PlayerId,
    /// Id of the player's entity in snapshots.
    pub entity_id: u32,
    /// Sanitized display name.
    pub name: String,
    /// Whether the player's client is connected (false during a reconnect grace period).
    pub connected: bool,
    /// Sequence number of the newest input applied (0: none yet).
    pub last_applied_seq: u32,
    /// Inputs ignored as duplicates or out of order, inputs.
    pub inputs_stale: u64,
    /// Inputs ignored because the queue was full, inputs.
    pub inputs_dropped: u64,
    /// Inputs ignored for an absurd sequence jump, inputs.
    pub inputs_rejected: u64,
}

/// A phase change the engine made during a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseChange {
    /// The phase entered.
    pub phase: Phase,
    /// Ticks it lasts (0 when open-ended).
    pub ticks: u32,
}

/// What one [`Match::step`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport<E> {
    /// The tick just simulated (the current tick when nothing was simulated).
    pub tick: u32,
    /// The game's events of this tick, in the order it emitted them.
    pub events: Vec<E>,
    /// The phase change at the end of this tick, if any (after the game's events).
    pub phase: Option<PhaseChange>,
    /// Set on the tick the match ended by its own rules.
    pub ended: Option<EndReason>,
}

impl<E> StepReport<E> {
    /// The report of a step that simulated nothing at `tick`.
    fn idle(tick: u32) -> StepReport<E> {
        StepReport {
            tick,
            events: Vec::new(),
            phase: None,
            ended: None,
        }
    }
}

/// A seat: the public record plus the pending inputs.
#[derive(Clone, Debug)]
struct Seat<I> {
    /// Public record.
    info: PlayerInfo,
    /// Pending inputs.
    inputs: InputQueue<I>,
}

/// One authoritative match of the game `G`: a deterministic state machine advanced one tick
/// per [`Match::step`].
///
/// It performs no I/O and reads no clock: the server feeds it joins, inputs and connection
/// changes, calls `step` at the tick rate and replicates what it produced. The same game, the
/// same seed and the same sequence of calls always give bit-identical snapshots.
///
/// # Order of calls
/// 1. [`Match::new`] once, with a validated config and the game.
/// 2. Between ticks, as things happen: [`Match::add_player`], [`Match::remove_player`],
///    [`Match::set_connected`] and [`Match::push_input`] (any number, in arrival order).
/// 3. Once per tick: [`Match::step`]; forward its [`StepReport::events`] then its
///    [`StepReport::phase`]; stop when [`StepReport::ended`] is set.
/// 4. After each step, per client: [`Match::baseline_age`] for its acknowledged tick,
///    [`Match::delta_since`] (once per distinct baseline age) and [`Match::header_for`]; or,
///    with interest management or a budget, the client's
///    [`ClientView`](crate::interest::ClientView) and [`Match::header_for`].
/// 5. To stop early: [`Match::end`]; then [`Match::results`] for the final table.
///
/// # Within one step
/// The tick advances; every connected seat (ascending id) takes its input for the tick from
/// its queue; the game steps ([`Game::step`]); then the phase advances: waiting becomes
/// running once `min_players` are connected ([`Game::start`]), running ends on the game's end
/// condition ([`Game::end_condition`]) or the time limit; last the game writes the snapshot
/// ([`Game::snapshot`]), which is filed in the history and indexed for areas of interest.
#[derive(Clone, Debug)]
pub struct Match<G: Game> {
    /// The engine's rules.
    config: MatchConfig,
    /// The game.
    game: G,
    /// The world's extent.
    world: WorldBounds,
    /// Last simulated tick.
    tick: u32,
    /// Current phase.
    phase: Phase,
    /// Tick at which Running ends by time.
    running_end: u32,
    /// Why the match ended, once it has.
    end_reason: Option<EndReason>,
    /// Next player id to hand out.
    next_player: u32,
    /// Next entity id to hand out (the game's entities share the sequence).
    next_entity: u32,
    /// Seats by ascending id (hence ascending entity id too).
    seats: Vec<Seat<G::Input>>,
    /// This tick's input per seat, reused.
    step_inputs: Vec<(PlayerId, Option<G::Input>)>,
    /// Recent snapshots.
    history: History,
    /// Grid over the current snapshot, for areas of interest.
    interest: SpatialIndex,
}

impl<G: Game> Match<G> {
    /// Creates a match in the Waiting phase at tick 0 around `game`, after validating
    /// `config`.
    pub fn new(config: MatchConfig, game: G) -> Result<Match<G>, ConfigError> {
        config.validate()?;
        let world = game.world();
        Ok(Match {
            interest: SpatialIndex::new(world),
            history: History::new(config.history_len() as usize),
            config,
            game,
            world,
            tick: 0,
            phase: Phase::Waiting,
            running_end: 0,
            end_reason: None,
            next_player: 1,
            next_entity: 1,
            seats: Vec::new(),
            step_inputs: Vec::new(),
        })
    }

    /// The engine's rules.
    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    /// The game.
    pub fn game(&self) -> &G {
        &self.game
    }

    /// The game, mutably (tests and tools; a server goes through the match's calls).
    pub fn game_mut(&mut self) -> &mut G {
        &mut self.game
    }

    /// The world's extent.
    pub fn world(&self) -> WorldBounds {
        self.world
    }

    /// The last simulated tick (0 before the first step).
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Ticks left in the current phase (0 when open-ended: Waiting and Ended).
    pub fn phase_ticks_left(&self) -> u32 {
        match self.phase {
            Phase::Running => self.running_end.saturating_sub(self.tick),
            Phase::Waiting | Phase::Ended => 0,
        }
    }

    /// Why the match ended (`None` while it has not).
    pub fn end_reason(&self) -> Option<EndReason> {
        self.end_reason
    }

    /// Players in the match, connected or not.
    pub fn player_count(&self) -> usize {
        self.seats.len()
    }

    fn index(&self, id: PlayerId) -> Option<usize> {
        self.seats.binary_search_by_key(&id, |p| p.info.id).ok()
    }

    /// Seats a connected player (name sanitized) and hands it to the game; its entity
    /// appears in the snapshot of the next step.
    pub fn add_player(&mut self, name: &str) -> Result<PlayerId, JoinError> {
        if self.phase == Phase::Ended {
            return Err(JoinError::Ended);
        }
        if self.seats.len() >= usize::from(self.config.max_players) {
            return Err(JoinError::Full);
        }
        let id = self.next_player;
        let entity_id = self.next_entity;
        let (Some(next_player), Some(next_entity)) = (id.checked_add(1), entity_id.checked_add(1))
        else {
            return Err(JoinError::Full);
        };
        self.next_player = next_player;
        self.next_entity = next_entity;
        let name = sanitize_name(name);
        self.game.join(id, entity_id, &name);
        self.seats.push(Seat {
            info: PlayerInfo {
                id,
                entity_id,
                name,
                connected: true,
                last_applied_seq: 0,
                inputs_stale: 0,
                inputs_dropped: 0,
                inputs_rejected: 0,
            },
            inputs: InputQueue::default(),
        });
        Ok(id)
    }

    /// Removes a player and tells the game; false if it was not here.
    pub fn remove_player(&mut self, id: PlayerId) -> bool {
        let Some(i) = self.index(id) else {
            return false;
        };
        self.seats.remove(i);
        self.game.leave(id);
        true
    }

    /// Marks a player's client connected or not. A disconnected player's queued inputs are
    /// dropped and the game gets none for it; after reconnecting its first input is accepted
    /// whatever its sequence number.
    pub fn set_connected(&mut self, id: PlayerId, connected: bool) {
        let Some(i) = self.index(id) else {
            return;
        };
        let p = &mut self.seats[i];
        match (p.info.connected, connected) {
            (true, false) => p.inputs.disconnect(),
            (false, true) => p.inputs.reconnect(),
            _ => {}
        }
        if p.info.connected != connected {
            p.info.connected = connected;
            self.game.set_connected(id, connected);
        }
    }

    /// Queues one input (sequence number `seq`) of a player under the queue rules (see
    /// [`InputOutcome`]) and counts the refusals in its [`PlayerInfo`].
    pub fn push_input(&mut self, id: PlayerId, seq: u32, input: G::Input) -> InputOutcome {
        let Some(i) = self.index(id) else {
            return InputOutcome::UnknownPlayer;
        };
        let p = &mut self.seats[i];
        let outcome = p.inputs.push(
            seq,
            input,
            self.config.max_queued_inputs,
            self.config.max_seq_jump,
        );
        match outcome {
            InputOutcome::Stale => p.info.inputs_stale += 1,
            InputOutcome::Rejected => p.info.inputs_rejected += 1,
            InputOutcome::Dropped => p.info.inputs_dropped += 1,
            InputOutcome::Queued | InputOutcome::UnknownPlayer => {}
        }
        outcome
    }

    /// Inputs a player has queued (0 for an unknown player).
    pub fn queued_inputs(&self, id: PlayerId) -> usize {
        self.index(id).map_or(0, |i| self.seats[i].inputs.len())
    }

    /// Advances exactly one tick and records its snapshot. Once the match has ended this does
    /// nothing and returns an empty report for the current tick.
    pub fn step(&mut self) -> StepReport<G::Event> {
        let mut report = StepReport::idle(self.tick);
        if self.phase == Phase::Ended {
            return report;
        }
        let Some(tick) = self.tick.checked_add(1) else {
            // Years of ticks at 240 Hz; end rather than wrap.
            self.finish(EndReason::Aborted, &mut report);
            return report;
        };
        self.tick = tick;
        report.tick = tick;
        self.take_inputs();
        let mut ctx = StepCtx {
            tick,
            phase: self.phase,
            inputs: &self.step_inputs,
            next_entity: &mut self.next_entity,
            events: &mut report.events,
        };
        self.game.step(&mut ctx);
        self.advance_phase(&mut report);
        self.record_snapshot();
        report
    }

    /// Takes each seat's input for this tick from its queue.
    fn take_inputs(&mut self) {
        self.step_inputs.clear();
        for p in &mut self.seats {
            let input = if p.info.connected {
                let (input, seq) = p.inputs.next();
                if let Some(seq) = seq {
                    p.info.last_applied_seq = seq;
                }
                Some(input)
            } else {
                // Whatever arrives while away is dropped.
                p.inputs.disconnect();
                None
            };
            self.step_inputs.push((p.info.id, input));
        }
    }

    /// Moves to Running once enough players are connected, and to Ended on the game's end
    /// condition or the time limit.
    fn advance_phase(&mut self, report: &mut StepReport<G::Event>) {
        match self.phase {
            Phase::Waiting => {
                let connected = self.seats.iter().filter(|p| p.info.connected).count();
                if connected >= usize::from(self.config.min_players) {
                    self.phase = Phase::Running;
                    self.running_end = self.tick.saturating_add(self.config.match_ticks());
                    self.game.start();
                    report.phase = Some(PhaseChange {
                        phase: Phase::Running,
                        ticks: self.phase_ticks_left(),
                    });
                }
            }
            Phase::Running => {
                if let Some(reason) = self.game.end_condition() {
                    self.finish(reason, report);
                } else if self.tick >= self.running_end {
                    self.finish(EndReason::TimeLimit, report);
                }
            }
            Phase::Ended => {}
        }
    }

    /// Enters Ended by the match's own rules and reports it.
    fn finish(&mut self, reason: EndReason, report: &mut StepReport<G::Event>) {
        self.end(reason);
        report.ended = Some(reason);
        report.phase = Some(PhaseChange {
            phase: Phase::Ended,
            ticks: 0,
        });
    }

    /// Ends the match now (operator, shutdown); later steps do nothing.
    pub fn end(&mut self, reason: EndReason) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            self.end_reason = Some(reason);
        }
    }

    /// Has the game write the snapshot of the current tick and files it in the history.
    fn record_snapshot(&mut self) {
        let mut buf = self.history.take_buffer();
        let mut out = crate::game::SnapshotWriter {
            buf: &mut buf,
            len: 0,
        };
        self.game.snapshot(&mut out);
        let n = out.len;
        buf.truncate(n);
        debug_assert!(buf.windows(2).all(|w| w[0].id < w[1].id), "ids ascending");
        self.history.push(self.tick, buf);
        if self.config.view_radius > 0.0 {
            // Only areas of interest use it; without them, the step stays as cheap as before.
            self.interest.rebuild(self.history.newest());
        }
    }

    /// The snapshot of the current tick, sorted by entity id.
    pub fn snapshot(&self) -> &[EntityState] {
        self.history.newest()
    }

    /// The snapshot of `tick`, if it is still in the history.
    pub fn snapshot_at(&self, tick: u32) -> Option<&[EntityState]> {
        self.history.get(tick)
    }

    /// Fills `out` with the indices into [`Match::snapshot`] (ascending, so by ascending entity
    /// id) of the entities whose quantized position is within `radius` world units of `center`
    /// (world units, quantized first), inclusive.
    ///
    /// With areas of interest on ([`MatchConfig::view_radius`] > 0) the match keeps a uniform
    /// grid over the snapshot (cell side [`WorldBounds::cell_size`]) and only the cells near
    /// `center` are visited, so the cost grows with the entities nearby, not with the world;
    /// otherwise this scans the snapshot.
    pub fn entities_within(&self, center: [f32; 2], radius: f32, out: &mut Vec<usize>) {
        out.clear();
        let c = (quantize(center[0]), quantize(center[1]));
        let snap = self.snapshot();
        if self.config.view_radius > 0.0 {
            self.interest
                .within(snap, c, radius, |i| out.push(i as usize));
            out.sort_unstable();
        } else {
            let r2 = crate::spatial::radius_sq(radius);
            out.extend((0..snap.len()).filter(|&i| crate::spatial::within_sq(&snap[i], c, r2)));
        }
    }

    /// The spatial index over the current snapshot (maintained when `view_radius > 0`).
    pub(crate) fn interest_index(&self) -> &SpatialIndex {
        &self.interest
    }

    /// Fills `out` with the delta from `ack` (a tick, 0 = none) to the current tick and returns
    /// the baseline age used (0 = full snapshot).
    pub fn delta_since(&self, ack: u32, out: &mut Delta) -> u32 {
        let age = self.baseline_age(ack);
        let base = if age == 0 {
            &[][..]
        } else {
            self.history.get(ack).unwrap_or(&[])
        };
        tickwire_proto::delta::diff_into(base, self.history.newest(), age, out);
        age
    }

    /// Baseline age that [`Match::delta_since`] would use for `ack`: `tick - ack` when `ack` is
    /// a past tick still in the history, else 0 (full snapshot).
    pub fn baseline_age(&self, ack: u32) -> u32 {
        if ack == 0 || ack >= self.tick || self.history.get(ack).is_none() {
            0
        } else {
            self.tick - ack
        }
    }

    /// The frame header for a client: `player` is its seat (`None` for a spectator, whose
    /// `last_input` is 0).
    pub fn header_for(&self, player: Option<PlayerId>, baseline_age: u32) -> FrameHeader {
        FrameHeader {
            tick: self.tick,
            baseline_age,
            last_input: player
                .and_then(|id| self.player(id))
                .map_or(0, |p| p.last_applied_seq),
            phase: self.phase,
            phase_ticks_left: self.phase_ticks_left(),
        }
    }

    /// A player's record.
    pub fn player(&self, id: PlayerId) -> Option<&PlayerInfo> {
        self.index(id).map(|i| &self.seats[i].info)
    }

    /// Every player's record, ascending id.
    pub fn players(&self) -> impl Iterator<Item = &PlayerInfo> {
        self.seats.iter().map(|p| &p.info)
    }

    /// The game's results table as it stands.
    pub fn results(&self) -> G::Results {
        self.game.results()
    }

    /// FNV-1a 64 over the tick, the phase and the current quantized snapshot: equal hashes at
    /// equal ticks mean identical replicated state (for replay checks).
    pub fn state_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.write(&self.tick.to_le_bytes());
        h.write(&[match self.phase {
            Phase::Waiting => 0,
            Phase::Running => 1,
            Phase::Ended => 2,
        }]);
        for e in self.snapshot() {
            h.write(&e.id.to_le_bytes());
            h.write(&[match e.kind {
                tickwire_proto::EntityKind::Player => 0,
                tickwire_proto::EntityKind::Projectile => 1,
            }]);
            h.write(&e.x.to_le_bytes());
            h.write(&e.y.to_le_bytes());
            h.write(&e.vx.to_le_bytes());
            h.write(&e.vy.to_le_bytes());
            h.write(&[e.aim, e.hp, e.flags]);
            h.write(&e.score.to_le_bytes());
            h.write(&e.owner.to_le_bytes());
            // Length first so that adjacent names cannot alias.
            h.write(&(e.name.len() as u64).to_le_bytes());
            h.write(e.name.as_bytes());
        }
        h.finish()
    }
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
