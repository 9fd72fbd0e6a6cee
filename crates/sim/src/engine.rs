//! The engine's match: one authoritative, deterministic state machine running any [`Game`].

use std::sync::Arc;

use tickwire_proto::msg::{EndReason, FrameHeader, Phase, RequestRefusalReason, sanitize_name};
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::{self, EntityRow, RowDelta};

use crate::config::{ConfigError, MatchConfig};
use crate::game::{Game, PlayerId, StepCtx, WorldBounds};
use crate::history::History;
use crate::input::{InputOutcome, InputQueue};
use crate::request::{
    Answer, Limiter, Limits, MAX_REQUEST_BYTES, Refused, RequestConfig, RequestConfigError,
    RequestError, refusal,
};
use crate::spatial::{Placement, SpatialIndex};

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
    /// The game's events of this tick for every client, in the order it emitted them.
    pub events: Vec<E>,
    /// The game's events of this tick for one player each ([`StepCtx::emit_to`]), in the
    /// order it emitted them; delivered after [`StepReport::events`].
    pub private: Vec<(PlayerId, E)>,
    /// The phase change at the end of this tick, if any (after the game's events).
    pub phase: Option<PhaseChange>,
    /// Set on the tick the match ended by its own rules.
    pub ended: Option<EndReason>,
    /// The game's answers to the requests delivered this tick, in arrival order; each goes to
    /// its sender only.
    pub answers: Vec<Answer>,
}

impl<E> StepReport<E> {
    /// The report of a step that simulated nothing at `tick`.
    fn idle(tick: u32) -> StepReport<E> {
        StepReport {
            tick,
            events: Vec::new(),
            private: Vec::new(),
            phase: None,
            ended: None,
            answers: Vec::new(),
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
    /// Request rate and flood bookkeeping.
    requests: Limiter,
}

/// A decoded request waiting for the next step.
#[derive(Clone, Debug)]
struct Pending<R> {
    /// Its sender.
    player: PlayerId,
    /// The client's id for it.
    id: u32,
    /// The game's request.
    request: R,
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
///    [`Match::set_connected`], [`Match::push_input`] and [`Match::push_request`] (any number,
///    in arrival order).
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
/// its queue; the requests accepted since the last step go to the game in arrival order
/// ([`Game::request`]); the game steps ([`Game::step`]); then the phase advances: waiting becomes
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
    /// The game's replication schema.
    schema: Arc<Schema>,
    /// Where the schema puts entities.
    placement: Placement,
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
    /// The request limits as configured.
    request_config: RequestConfig,
    /// The request limits in ticks.
    request_limits: Limits,
    /// Requests accepted since the last step, in arrival order.
    requests: Vec<Pending<G::Request>>,
}

impl<G: Game> Match<G> {
    /// Creates a match in the Waiting phase at tick 0 around `game`, after validating
    /// `config`.
    pub fn new(config: MatchConfig, game: G) -> Result<Match<G>, ConfigError> {
        config.validate()?;
        let world = game.world();
        let schema = Arc::new(G::schema());
        let request_config = RequestConfig::default();
        Ok(Match {
            placement: Placement::new(&schema),
            schema,
            request_limits: Limits::new(&request_config, config.tick_rate),
            request_config,
            requests: Vec::new(),
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

    /// The game's replication schema, which every snapshot row and delta follows.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Where the schema puts entities, for areas of interest.
    pub(crate) fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The engine's rules.
    pub fn config(&self) -> &MatchConfig {
        &self.config
    }

    /// Replaces the request limits ([`RequestConfig::default`] until then), after validating
    /// them; players already seated keep the credit they have.
    pub fn set_request_config(&mut self, config: RequestConfig) -> Result<(), RequestConfigError> {
        config.validate()?;
        self.request_limits = Limits::new(&config, self.config.tick_rate);
        self.request_config = config;
        Ok(())
    }

    /// The request limits in force.
    pub fn request_config(&self) -> &RequestConfig {
        &self.request_config
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
            requests: Limiter::new(&self.request_limits, self.tick),
        });
        Ok(id)
    }

    /// Removes a player and tells the game; false if it was not here.
    pub fn remove_player(&mut self, id: PlayerId) -> bool {
        let Some(i) = self.index(id) else {
            return false;
        };
        self.seats.remove(i);
        // Nobody is left to answer.
        self.requests.retain(|r| r.player != id);
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

    /// Takes one request of a seated player between ticks: `payload` is the game's bytes and
    /// `id` the client's, echoed in the answer. `Ok` queues it for the next step, where the game
    /// answers it ([`StepReport::answers`]). `Err` refuses it now, checked in this order: over
    /// [`MAX_REQUEST_BYTES`] (TooLarge), over the player's rate (RateLimited, charged per
    /// request, refused or not), not decoded by [`Game::decode_request`] (Malformed; a game
    /// without requests answers Refused). When [`Refused::flood`] is set the caller closes the
    /// sender's connection.
    pub fn push_request(
        &mut self,
        player: PlayerId,
        id: u32,
        payload: &[u8],
    ) -> Result<(), Refused> {
        let tick = self.tick;
        let Some(i) = self.index(player) else {
            return Err(Refused {
                refusal: refusal(id, RequestRefusalReason::NotPlayer, 0, ""),
                flood: false,
            });
        };
        let limits = &self.request_limits;
        let seat = &mut self.seats[i];
        let checked = if payload.len() > MAX_REQUEST_BYTES {
            Err(refusal(
                id,
                RequestRefusalReason::TooLarge,
                MAX_REQUEST_BYTES as u32,
                "",
            ))
        } else if let Err(wait_ms) = seat.requests.charge(limits, tick) {
            Err(refusal(id, RequestRefusalReason::RateLimited, wait_ms, ""))
        } else {
            match G::decode_request(payload) {
                Ok(request) => Ok(request),
                Err(RequestError::Malformed(why)) => {
                    Err(refusal(id, RequestRefusalReason::Malformed, 0, &why))
                }
                Err(e @ RequestError::Unsupported) => Err(refusal(
                    id,
                    RequestRefusalReason::Refused,
                    0,
                    &e.to_string(),
                )),
            }
        };
        match checked {
            Ok(request) => {
                self.requests.push(Pending {
                    player,
                    id,
                    request,
                });
                Ok(())
            }
            Err(refusal) => Err(Refused {
                refusal,
                flood: seat.requests.refused(limits, tick),
            }),
        }
    }

    /// Requests accepted and waiting for the next step.
    pub fn queued_requests(&self) -> usize {
        self.requests.len()
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
            next_input: std::cell::Cell::new(0),
            next_entity: &mut self.next_entity,
            events: &mut report.events,
            private: &mut report.private,
        };
        // Requests first, in arrival order: what they change is what this tick simulates.
        for Pending {
            player,
            id,
            request,
        } in self.requests.drain(..)
        {
            let result = self
                .game
                .request(&mut ctx, player, request)
                .map_err(|r| refusal(id, RequestRefusalReason::Refused, 0, r.reason()));
            report.answers.push(Answer { player, id, result });
        }
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
            self.interest
                .rebuild(self.history.newest(), &self.placement);
        }
    }

    /// The snapshot of the current tick, sorted by entity id.
    pub fn snapshot(&self) -> &[EntityRow] {
        self.history.newest()
    }

    /// The snapshot of `tick`, if it is still in the history.
    pub fn snapshot_at(&self, tick: u32) -> Option<&[EntityRow]> {
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
        let place = &self.placement;
        let c = (place.quantize(center[0]), place.quantize(center[1]));
        let snap = self.snapshot();
        if self.config.view_radius > 0.0 {
            self.interest
                .within(snap, place, c, radius, |i| out.push(i as usize));
            out.sort_unstable();
        } else {
            let r2 = place.radius_sq(radius);
            out.extend((0..snap.len()).filter(|&i| {
                place
                    .position(&snap[i])
                    .is_some_and(|p| crate::spatial::within_sq(p, c, r2))
            }));
        }
    }

    /// The spatial index over the current snapshot (maintained when `view_radius > 0`).
    pub(crate) fn interest_index(&self) -> &SpatialIndex {
        &self.interest
    }

    /// Fills `out` with the delta from `ack` (a tick, 0 = none) to the current tick and returns
    /// the baseline age used (0 = full snapshot).
    pub fn delta_since(&self, ack: u32, out: &mut RowDelta) -> u32 {
        let age = self.baseline_age(ack);
        let base = if age == 0 {
            &[][..]
        } else {
            self.history.get(ack).unwrap_or(&[])
        };
        rows::diff_into(&self.schema, base, self.history.newest(), age, out);
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

    /// FNV-1a 64 over the tick, the phase and the current snapshot's rows: equal hashes at
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
            h.write(&e.kind.to_le_bytes());
            // Lengths first so that adjacent rows and strings cannot alias.
            h.write(&(e.values.len() as u64).to_le_bytes());
            for v in &e.values {
                h.write(&v.to_le_bytes());
            }
            h.write(&(e.strings.len() as u64).to_le_bytes());
            for st in e.strings.iter() {
                h.write(&(st.len() as u64).to_le_bytes());
                h.write(st.as_bytes());
            }
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

#[cfg(test)]
mod tests {
    use tickwire_proto::msg::RequestRefusal;

    use super::*;
    use crate::game::SnapshotWriter;
    use crate::request::Refusal;

    /// A game whose requests are one byte: it logs each with its tick, refuses 0, replies with
    /// the byte and emits it; each step emits `u16::MAX` after the requests.
    #[derive(Clone, Debug, Default)]
    struct Echo {
        log: Vec<(u32, PlayerId, u8)>,
    }

    impl Game for Echo {
        fn schema() -> Schema {
            tickwire_arena::schema::arena_schema()
        }
        type Input = ();
        type Event = u16;
        type Results = ();
        type Request = u8;

        fn decode_input(payload: &[u8]) -> Option<()> {
            payload.is_empty().then_some(())
        }

        fn world(&self) -> WorldBounds {
            WorldBounds {
                width: 100,
                height: 100,
                cell_size: 10,
            }
        }
        fn join(&mut self, _: PlayerId, _: u32, _: &str) {}
        fn leave(&mut self, _: PlayerId) {}
        fn step(&mut self, ctx: &mut StepCtx<'_, Self>) {
            ctx.emit(u16::MAX);
        }
        fn start(&mut self) {}
        fn snapshot(&self, _: &mut SnapshotWriter<'_>) {}
        fn results(&self) {}
        fn decode_request(bytes: &[u8]) -> Result<u8, RequestError> {
            match bytes {
                [b] => Ok(*b),
                _ => Err(RequestError::Malformed(format!("{} bytes", bytes.len()))),
            }
        }
        fn request(
            &mut self,
            ctx: &mut StepCtx<'_, Self>,
            player: PlayerId,
            request: u8,
        ) -> Result<Vec<u8>, Refusal> {
            self.log.push((ctx.tick(), player, request));
            if request == 0 {
                return Err(Refusal::new("zero"));
            }
            if request == 9 {
                // A secret for the sender alone.
                ctx.emit_to(player, 9);
                return Ok(Vec::new());
            }
            ctx.emit(u16::from(request));
            Ok(vec![request])
        }
    }

    impl crate::game::GameInput for () {}

    impl crate::game::GameInput for u8 {}

    /// A game that reads its players' inputs in a given order, to check lookups in any order.
    #[derive(Clone, Debug, Default)]
    struct Order {
        ask: Vec<PlayerId>,
        seen: Vec<Option<u8>>,
    }

    impl Game for Order {
        fn schema() -> Schema {
            tickwire_arena::schema::arena_schema()
        }
        type Input = u8;
        type Event = ();
        type Results = ();
        type Request = crate::request::NoRequest;

        fn decode_input(payload: &[u8]) -> Option<u8> {
            match payload {
                [b] => Some(*b),
                _ => None,
            }
        }

        fn world(&self) -> WorldBounds {
            WorldBounds {
                width: 100,
                height: 100,
                cell_size: 10,
            }
        }
        fn join(&mut self, _: PlayerId, _: u32, _: &str) {}
        fn leave(&mut self, _: PlayerId) {}
        fn step(&mut self, ctx: &mut StepCtx<'_, Self>) {
            self.seen = self.ask.iter().map(|&p| ctx.input(p)).collect();
        }
        fn start(&mut self) {}
        fn snapshot(&self, _: &mut SnapshotWriter<'_>) {}
        fn results(&self) {}
    }

    #[test]
    fn inputs_are_found_in_any_order() {
        let game = Order {
            ask: vec![1, 2, 3, 3, 1, 99, 2, 4],
            ..Order::default()
        };
        let mut m = Match::new(MatchConfig::default(), game).unwrap();
        for name in ["a", "b", "c", "d"] {
            m.add_player(name).unwrap();
        }
        m.set_connected(4, false);
        for (p, v) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
            m.push_input(p, 1, v);
        }
        m.step();
        assert_eq!(
            m.game().seen,
            [
                Some(10),
                Some(20),
                Some(30),
                Some(30),
                Some(10),
                None,
                Some(20),
                None
            ],
            "in order, repeated, backwards, unknown and disconnected players"
        );
    }

    fn echo() -> Match<Echo> {
        Match::new(MatchConfig::default(), Echo::default()).unwrap()
    }

    #[test]
    fn requests_are_handled_at_the_next_step_in_arrival_order_before_the_step() {
        let mut m = echo();
        let a = m.add_player("a").unwrap();
        let b = m.add_player("b").unwrap();
        m.step();
        assert_eq!(m.push_request(b, 10, &[2]), Ok(()));
        assert_eq!(m.push_request(a, 11, &[1]), Ok(()));
        assert_eq!(m.push_request(b, 12, &[0]), Ok(()));
        assert_eq!(m.push_request(a, 13, &[3]), Ok(()));
        assert!(m.game().log.is_empty(), "nothing is handled between ticks");
        let r = m.step();
        assert_eq!(m.game().log, [(2, b, 2), (2, a, 1), (2, b, 0), (2, a, 3)]);
        assert_eq!(r.events, [2, 1, 3, u16::MAX]);
        let ids: Vec<_> = r.answers.iter().map(|x| (x.player, x.id)).collect();
        assert_eq!(ids, [(b, 10), (a, 11), (b, 12), (a, 13)]);
        assert_eq!(r.answers[0].result, Ok(vec![2]));
        assert_eq!(
            r.answers[2].result,
            Err(RequestRefusal {
                id: 12,
                reason: RequestRefusalReason::Refused,
                limit: 0,
                message: "zero".into(),
            })
        );
        assert!(m.step().answers.is_empty(), "each request is answered once");
        m.push_request(b, 14, &[9]).unwrap();
        m.push_request(a, 15, &[4]).unwrap();
        let r = m.step();
        assert_eq!((r.events, r.private), (vec![4, u16::MAX], vec![(b, 9)]));
    }

    #[test]
    fn size_and_decoding_are_refused_at_once_and_a_leaver_s_requests_are_dropped() {
        let mut m = echo();
        let a = m.add_player("a").unwrap();
        let b = m.add_player("b").unwrap();
        let big = m
            .push_request(a, 1, &[0; MAX_REQUEST_BYTES + 1])
            .unwrap_err();
        assert_eq!(
            (big.refusal.reason, big.refusal.limit, big.flood),
            (
                RequestRefusalReason::TooLarge,
                MAX_REQUEST_BYTES as u32,
                false
            )
        );
        let bad = m.push_request(a, 2, &[1, 2]).unwrap_err();
        assert_eq!(
            (
                bad.refusal.id,
                bad.refusal.reason,
                bad.refusal.message.as_str()
            ),
            (2, RequestRefusalReason::Malformed, "2 bytes")
        );
        let nobody = m.push_request(99, 3, &[1]).unwrap_err();
        assert_eq!(nobody.refusal.reason, RequestRefusalReason::NotPlayer);
        m.push_request(b, 4, &[1]).unwrap();
        m.push_request(a, 5, &[1]).unwrap();
        m.remove_player(b);
        let r = m.step();
        assert_eq!(r.answers.len(), 1);
        assert_eq!((r.answers[0].player, r.answers[0].id), (a, 5));
    }

    #[test]
    fn the_rate_is_per_player_in_ticks_and_a_flood_is_flagged() {
        let mut m = echo();
        m.set_request_config(RequestConfig {
            per_second: 10,
            burst: 2,
            flood_refusals: 3,
            flood_window_secs: 10,
        })
        .unwrap();
        let a = m.add_player("a").unwrap();
        let b = m.add_player("b").unwrap();
        m.push_request(a, 1, &[1]).unwrap();
        m.push_request(a, 2, &[1]).unwrap();
        let limited = m.push_request(a, 3, &[1]).unwrap_err();
        // 10/s at 30 Hz: one per 3 ticks, 100 ms.
        assert_eq!(
            (limited.refusal.reason, limited.refusal.limit),
            (RequestRefusalReason::RateLimited, 100)
        );
        // Another player's rate is its own.
        m.push_request(b, 1, &[1]).unwrap();
        for _ in 0..3 {
            m.step();
        }
        m.push_request(a, 4, &[1]).unwrap();
        // Refusals of any reason count towards the flood: 1 so far, the 4th past 3 floods.
        assert!(!m.push_request(a, 5, &[1]).unwrap_err().flood);
        assert!(!m.push_request(a, 6, &[]).unwrap_err().flood);
        assert!(m.push_request(a, 7, &[1]).unwrap_err().flood);
        assert!(
            m.set_request_config(RequestConfig {
                burst: 0,
                ..RequestConfig::default()
            })
            .is_err()
        );
    }

    #[test]
    fn a_game_without_requests_refuses_every_one() {
        /// A game that writes nothing about requests but the type.
        #[derive(Clone, Debug)]
        struct Mute;
        impl Game for Mute {
            fn schema() -> Schema {
                tickwire_arena::schema::arena_schema()
            }
            type Input = ();
            type Event = ();
            type Results = ();
            type Request = crate::request::NoRequest;
            fn decode_input(_: &[u8]) -> Option<()> {
                None
            }
            fn world(&self) -> WorldBounds {
                Echo::default().world()
            }
            fn join(&mut self, _: PlayerId, _: u32, _: &str) {}
            fn leave(&mut self, _: PlayerId) {}
            fn step(&mut self, _: &mut StepCtx<'_, Self>) {}
            fn start(&mut self) {}
            fn snapshot(&self, _: &mut SnapshotWriter<'_>) {}
            fn results(&self) {}
        }
        let mut m = Match::new(MatchConfig::default(), Mute).unwrap();
        let a = m.add_player("a").unwrap();
        let r = m.push_request(a, 1, &[1]).unwrap_err();
        assert_eq!(
            (r.refusal.reason, r.refusal.message.as_str()),
            (RequestRefusalReason::Refused, "this game takes no requests")
        );
        assert!(m.step().answers.is_empty());
    }
}
