//! One match's task: owns the simulation, drains its mailbox at each tick, steps the sim, and
//! hands every client its state frame through the client's latest-wins slot.
//!
//! The loop never awaits a socket: everything it sends goes through [`Outbox`], which never
//! blocks. Ticks are scheduled at `start + n * period`, so lateness never accumulates into
//! drift; a loop that falls more than [`REBASE_AFTER_TICKS`] behind skips ahead and counts it.

use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use metrics::{counter, gauge, histogram};
use tickwire_net::Outbox;
use tickwire_proto::close;
use tickwire_proto::codec;
use tickwire_proto::msg::{
    ChatLine, EndReason, GameEvent, Input, MatchResults, Phase, Reject, RejectReason,
    RequestRefusalReason, ServerMsg, SessionToken, Welcome,
};
use tickwire_proto::schema::rows::{EntityRow, RowDelta};
use tickwire_sim::{
    AdaptiveBudget, ChatConfig, ChatRoom, ClientView, FrameScratch, Member, PlayerId,
};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

use crate::address::SeatClaim;
use crate::games::HostedGame;
use crate::replay::RecordedMatch;
use crate::results::{MatchRecord, ResultsError, reason_name};
use crate::session_token;
use crate::telemetry::family;

/// What the server asks of running matches as it shuts down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Normal operation.
    Running,
    /// No new seats; the match may run to its natural end.
    Draining,
    /// End now with [`EndReason::Shutdown`].
    Stopping,
}

/// Tick durations kept for the p99 shown by the admin API.
const TICK_SAMPLES: usize = 256;

/// Identifies one WebSocket connection for the whole process lifetime.
pub type ConnId = u64;

/// How far behind schedule (in ticks) the loop may fall before it stops trying to catch up.
pub const REBASE_AFTER_TICKS: u32 = 5;

/// Expired seats remembered so a late reconnect hears "seat expired" rather than "bad session".
const EXPIRED_SEATS_KEPT: usize = 256;

/// What a join or resume produced.
#[derive(Debug)]
pub struct Joined {
    /// The seated player, `None` for a spectator.
    pub player_id: Option<PlayerId>,
    /// The new seat's session secret (a fresh join; `None` for resumes and spectators).
    pub secret: Option<[u8; tickwire_proto::msg::SESSION_SECRET_LEN]>,
}

/// Shared, lock-free facts about one match, read by placement and the admin side.
#[derive(Debug)]
pub struct MatchShared {
    /// The match id.
    pub id: u64,
    /// Seats taken or reserved.
    pub seats: AtomicU32,
    /// Seats the match has.
    pub max_seats: u32,
    /// Spectators watching.
    pub spectators: AtomicU32,
    /// The match's current tick.
    pub tick: AtomicU32,
    /// Phase as its wire index (0 waiting, 1 running, 2 ended).
    pub phase: AtomicU8,
    /// False once the match ends or drains: no new seats.
    pub open: AtomicBool,
    /// Unix time in milliseconds when the match was created.
    pub created_at_ms: u64,
    /// Simulation rate, Hz.
    pub tick_rate: u16,
    /// The game's registered name.
    pub game: String,
    /// Map name.
    pub map_name: String,
    /// 99th percentile of recent tick work, microseconds.
    pub tick_p99_us: AtomicU64,
}

impl MatchShared {
    /// Reserves one seat if the match is open and has room.
    pub fn try_reserve(&self) -> bool {
        if !self.open.load(Ordering::Acquire) {
            return false;
        }
        self.seats
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s < self.max_seats).then_some(s + 1)
            })
            .is_ok()
    }

    /// Returns a reserved or taken seat.
    pub fn release(&self) {
        let _ = self
            .seats
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| s.checked_sub(1));
    }
}

/// Messages to a match task.
#[derive(Debug)]
pub enum MatchCmd {
    /// Seat a new player; the caller has already reserved the seat in [`MatchShared`].
    Join {
        /// The joining connection.
        conn: ConnId,
        /// Requested display name.
        name: String,
        /// Where the connection's outgoing messages go.
        outbox: Outbox,
        /// The seat counted against the joining address; held by the seat until it is freed.
        claim: SeatClaim,
        /// The outcome; the Welcome or Reject has already been queued on `outbox`.
        reply: oneshot::Sender<Result<Joined, RejectReason>>,
    },
    /// Watch without a seat.
    Spectate {
        /// The connection.
        conn: ConnId,
        /// Display name, cleaned, shown on the spectator's chat lines.
        name: String,
        /// Its outbox.
        outbox: Outbox,
        /// The outcome.
        reply: oneshot::Sender<Result<Joined, RejectReason>>,
    },
    /// Give a dropped player's seat to a new connection.
    Resume {
        /// The new connection.
        conn: ConnId,
        /// The token presented.
        token: SessionToken,
        /// Its outbox.
        outbox: Outbox,
        /// The outcome.
        reply: oneshot::Sender<Result<Joined, RejectReason>>,
    },
    /// One input (with its acknowledgement) from a seated connection.
    Input {
        /// The connection.
        conn: ConnId,
        /// The input.
        input: Input,
    },
    /// An acknowledgement without input.
    Ack {
        /// The connection.
        conn: ConnId,
        /// Newest tick applied.
        tick: u32,
    },
    /// One chat line from a connection.
    Chat {
        /// The connection.
        conn: ConnId,
        /// The line as received.
        text: String,
    },
    /// One game-defined request from a connection.
    Request {
        /// The connection.
        conn: ConnId,
        /// The client's id for it, echoed in the answer.
        id: u32,
        /// The game's bytes as received.
        payload: Vec<u8>,
    },
    /// A connection stops or resumes hearing one player's chat.
    Mute {
        /// The connection.
        conn: ConnId,
        /// The player muted or unmuted.
        player: PlayerId,
        /// True to mute.
        muted: bool,
    },
    /// Returns the match's recent chat, oldest first (admin).
    ChatLog {
        /// The lines.
        reply: oneshot::Sender<Vec<ChatLine>>,
    },
    /// An operator silences (or lets speak again) one player's chat (admin); the reply is false
    /// when the match has no such player.
    Silence {
        /// The player.
        player: PlayerId,
        /// True to silence.
        silenced: bool,
        /// Whether the player holds a seat.
        reply: oneshot::Sender<bool>,
    },
    /// The player leaves for good.
    Leave {
        /// The connection.
        conn: ConnId,
    },
    /// The connection ended; a seated player keeps the seat for the grace period.
    Gone {
        /// The connection.
        conn: ConnId,
    },
    /// Returns the authoritative quantized snapshot of a recent tick (tests, admin).
    Snapshot {
        /// The tick wanted.
        tick: u32,
        /// The snapshot, if still in the history ring.
        reply: oneshot::Sender<Option<Vec<EntityRow>>>,
    },
    /// Returns the exact view a player's connection was sent for `tick` (interest tests).
    SentView {
        /// The player.
        player: PlayerId,
        /// The tick wanted.
        tick: u32,
        /// The view, if that tick's view is still held.
        reply: oneshot::Sender<Option<Vec<EntityRow>>>,
    },
    /// Ends the match now.
    End {
        /// Why.
        reason: EndReason,
    },
    /// Test-only fault injection: the next tick panics inside the simulation step.
    InjectPanic,
}

/// Settings of a match task besides the game rules.
#[derive(Clone, Debug)]
pub struct MatchSettings {
    /// Ticks a dropped player's seat is kept.
    pub grace_ticks: u32,
    /// Ticks a match without seated players lingers.
    pub linger_ticks: u32,
    /// Spectators allowed.
    pub max_spectators: u32,
    /// Ticks a client may go without acknowledging any new state.
    pub stall_ticks: u32,
    /// Map name, for results.
    pub map_name: String,
    /// In-match chat.
    pub chat: ChatConfig,
}

/// Called with the final record of every match, before clients hear it ended; `Ok` means it
/// made the record durable. On `Err` the clients still get their results, but the connection
/// closes with 1011 and [`RESULTS_LOST_REASON`] (the hook itself logs and counts the failure).
pub type ResultsHook = Arc<dyn Fn(&MatchRecord) -> Result<(), ResultsError> + Send + Sync>;

/// Close reason of a match's clients when it ended and its results were recorded.
const MATCH_ENDED_REASON: &str = "match ended";

/// Close reason sent with 1011 when a match ended but its results could not be recorded.
pub const RESULTS_LOST_REASON: &str = "match ended but its results could not be recorded";

struct Client {
    player: Option<PlayerId>,
    /// Spectators' display name for their chat lines (players' names come from the match).
    spectator_name: String,
    outbox: Outbox,
    ack: u32,
    /// Tick of the last acknowledgement that moved `ack` forward (or of attaching).
    acked_at: u32,
    /// What this client was sent, for its interest-managed deltas.
    view: ClientView,
    /// Send-rate control: engaged while the client's link backs up.
    budget: AdaptiveBudget,
    /// True when the previous state frame was still unsent when the next one replaced it.
    backlogged: bool,
}

/// Frame budget, bytes, standing for "unlimited" when no replication budget is configured: a
/// backlogged client is throttled from here down, and is unlimited again once recovered.
const UNLIMITED_FRAME_BYTES: usize = 64 * 1024;

struct Seat {
    secret: [u8; 16],
    conn: Option<ConnId>,
    /// Tick at which a disconnected seat is freed.
    expires_at: Option<u32>,
    /// True once a connection of this seat acknowledged a state frame. A seat that never did
    /// gets no grace when its link drops: a client that joins and vanishes before reading
    /// anything must not hold a seat (the cheapest way to fill a server).
    acknowledged: bool,
    /// Counts the seat against the address that joined it until the seat is freed.
    _claim: SeatClaim,
}

/// The state of one running match task.
pub struct MatchTask<G: HostedGame> {
    id: u64,
    sim: RecordedMatch<G>,
    shared: Arc<MatchShared>,
    rx: mpsc::Receiver<MatchCmd>,
    settings: MatchSettings,
    shutdown: watch::Receiver<Lifecycle>,
    on_results: ResultsHook,
    started_at_ms: u64,
    tick_samples: VecDeque<u32>,
    panic_next_tick: bool,
    clients: BTreeMap<ConnId, Client>,
    seats: BTreeMap<PlayerId, Seat>,
    expired: VecDeque<(PlayerId, [u8; 16])>,
    empty_since: Option<u32>,
    end_requested: Option<EndReason>,
    scratch: RowDelta,
    /// Working buffers every client view of the match shares while its frame is built.
    frame_scratch: FrameScratch,
    frame_buf: Vec<u8>,
    delta_cache: Vec<(u32, Vec<u8>)>,
    chat: ChatRoom,
}

impl<G: HostedGame> MatchTask<G> {
    /// Builds the task; [`MatchTask::run`] drives it.
    pub fn new(
        sim: RecordedMatch<G>,
        shared: Arc<MatchShared>,
        rx: mpsc::Receiver<MatchCmd>,
        settings: MatchSettings,
        shutdown: watch::Receiver<Lifecycle>,
        on_results: ResultsHook,
    ) -> Self {
        let chat = ChatRoom::new(settings.chat.clone(), sim.sim().config().tick_rate);
        Self {
            id: shared.id,
            sim,
            shared,
            rx,
            settings,
            shutdown,
            on_results,
            started_at_ms: unix_ms(),
            tick_samples: VecDeque::with_capacity(TICK_SAMPLES),
            panic_next_tick: false,
            clients: BTreeMap::new(),
            seats: BTreeMap::new(),
            expired: VecDeque::new(),
            empty_since: Some(0),
            end_requested: None,
            scratch: RowDelta::default(),
            frame_scratch: FrameScratch::default(),
            frame_buf: Vec::with_capacity(1024),
            delta_cache: Vec::new(),
            chat,
        }
    }

    /// Runs the fixed-rate loop until the match ends, then reports results and closes clients.
    pub async fn run(mut self) -> MatchRecord {
        let rate = u32::from(self.sim.sim().config().tick_rate.max(1));
        let period = Duration::from_secs(1) / rate;
        let label = self.id.to_string();
        let tick_duration = histogram!(family::TICK_DURATION.name, "match" => label.clone());
        let tick_lateness = histogram!(family::TICK_LATENESS.name, "match" => label);
        // Not labelled by match: counters are never expired, and matches come and go.
        let overruns = counter!(family::TICK_OVERRUNS.name);
        let mut start = tokio::time::Instant::now();
        let mut n: u32 = 0;
        info!(match_id = self.id, tick_rate = rate, "match started");
        let reason = loop {
            n += 1;
            let deadline = start + period * n;
            tokio::select! {
                biased;
                changed = self.shutdown.changed() => {
                    let lifecycle = if changed.is_ok() { *self.shutdown.borrow() } else { Lifecycle::Stopping };
                    match lifecycle {
                        Lifecycle::Stopping => break EndReason::Shutdown,
                        Lifecycle::Draining => self.shared.open.store(false, Ordering::Release),
                        Lifecycle::Running => {}
                    }
                    // The tick this deadline belonged to still has to run.
                    n -= 1;
                    continue;
                }
                // tokio's timer would start the tick up to 1 ms late; see tick_timer.
                () = crate::tick_timer::sleep_until(deadline) => {}
            }
            let woke = tokio::time::Instant::now();
            let late = woke.saturating_duration_since(deadline);
            tick_lateness.record(late.as_secs_f64());
            if late > period * REBASE_AFTER_TICKS {
                // Far behind (a stalled machine): catching up would burst ticks; skip instead.
                overruns.increment(1);
                start = woke - period * n;
            }
            let began = Instant::now();
            // A bug in the simulation must end this match only, never the server.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.tick()));
            let spent = began.elapsed();
            tick_duration.record(spent.as_secs_f64());
            self.sample_tick(spent);
            if spent > period {
                overruns.increment(1);
            }
            // Between ticks, outside the measured tick work: the fsync of the replay.
            if self.sim.flush_due() {
                run_blocking(|| self.sim.flush());
            }
            match outcome {
                Ok(Some(reason)) => break reason,
                Ok(None) => {}
                Err(_) => {
                    error!(
                        match_id = self.id,
                        tick = n,
                        "simulation panicked; match aborted"
                    );
                    counter!(family::MATCH_PANICS.name).increment(1);
                    break EndReason::Aborted;
                }
            }
        };
        self.finish(reason)
    }

    fn sample_tick(&mut self, spent: Duration) {
        if self.tick_samples.len() == TICK_SAMPLES {
            self.tick_samples.pop_front();
        }
        self.tick_samples
            .push_back(u32::try_from(spent.as_micros()).unwrap_or(u32::MAX));
        if self.sim.sim().tick() % 30 == 0 {
            let mut sorted: Vec<u32> = self.tick_samples.iter().copied().collect();
            sorted.sort_unstable();
            let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
            self.shared
                .tick_p99_us
                .store(u64::from(p99), Ordering::Relaxed);
        }
    }

    /// One tick: mailbox, simulation, replication, housekeeping. Returns a reason to end.
    fn tick(&mut self) -> Option<EndReason> {
        self.drain_mailbox();
        if let Some(reason) = self.end_requested {
            return Some(reason);
        }
        if std::mem::take(&mut self.panic_next_tick) {
            panic!(
                "fault injection: simulated simulation bug in match {}",
                self.id
            );
        }
        let report = self.sim.step();
        let tick = report.tick;
        self.shared.tick.store(tick, Ordering::Release);
        self.shared
            .phase
            .store(phase_index(self.sim.sim().phase()), Ordering::Release);
        // Each sender hears its answer before the tick's events (an emote's among them), and
        // both before the tick's frame.
        for answer in &report.answers {
            self.answer(answer);
        }
        // The game's events, then the engine's phase change.
        for event in &report.events {
            self.broadcast_reliable(&ServerMsg::Event(G::wire_event(event)));
        }
        if let Some(change) = report.phase {
            self.broadcast_reliable(&ServerMsg::Event(GameEvent::PhaseChanged {
                phase: change.phase,
                ticks: change.ticks,
            }));
        }
        for (player, event) in &report.private {
            self.send_to_player(*player, &ServerMsg::Event(G::wire_event(event)));
        }
        self.replicate();
        self.expire_seats(tick);
        self.close_stalled(tick);
        if let Some(reason) = report.ended {
            return Some(reason);
        }
        if self.seats.is_empty() {
            let since = *self.empty_since.get_or_insert(tick);
            if tick.saturating_sub(since) >= self.settings.linger_ticks {
                return Some(EndReason::Abandoned);
            }
        } else {
            self.empty_since = None;
        }
        None
    }

    /// Closes clients that acknowledged nothing for the stall timeout: a client that stopped
    /// reading costs only its latest-wins slot meanwhile, and is then let go.
    fn close_stalled(&mut self, tick: u32) {
        let stall = self.settings.stall_ticks;
        let is_stalled = |c: &Client| tick.saturating_sub(c.acked_at) > stall;
        if !self.clients.values().any(is_stalled) {
            return;
        }
        let stalled: Vec<ConnId> = self
            .clients
            .iter()
            .filter(|(_, c)| is_stalled(c))
            .map(|(id, _)| *id)
            .collect();
        for conn in stalled {
            if let Some(client) = self.clients.get(&conn) {
                client.outbox.close(
                    tickwire_net::close::POLICY_VIOLATION,
                    "stalled: no state acknowledged within the stall timeout",
                );
                counter!(family::STALLED_CLIENTS.name).increment(1);
            }
            self.gone(conn);
        }
    }

    fn drain_mailbox(&mut self) {
        // Bounded so a flood cannot make one tick unbounded: the mailbox itself is bounded too.
        let budget = self.rx.max_capacity();
        for _ in 0..budget {
            match self.rx.try_recv() {
                Ok(cmd) => self.handle(cmd),
                Err(_) => break,
            }
        }
    }

    fn handle(&mut self, cmd: MatchCmd) {
        match cmd {
            MatchCmd::Join {
                conn,
                name,
                outbox,
                claim,
                reply,
            } => {
                let result = self.join(conn, &name, outbox, claim);
                if result.is_err() {
                    self.shared.release();
                }
                let _ = reply.send(result);
            }
            MatchCmd::Spectate {
                conn,
                name,
                outbox,
                reply,
            } => {
                let _ = reply.send(self.spectate(conn, name, outbox));
            }
            MatchCmd::Resume {
                conn,
                token,
                outbox,
                reply,
            } => {
                let _ = reply.send(self.resume(conn, token, outbox));
            }
            MatchCmd::Input { conn, input } => {
                let tick = self.sim.sim().tick();
                let Some(client) = self.clients.get_mut(&conn) else {
                    return;
                };
                if client.acknowledge(input.ack, tick) {
                    mark_acknowledged(&mut self.seats, client.player);
                }
                if let Some(player) = client.player {
                    match self.sim.push_input(player, input) {
                        Some(tickwire_sim::InputOutcome::Queued) => {}
                        Some(outcome) => {
                            counter!(family::INPUT_DROPS.name, "reason" => outcome.label())
                                .increment(1);
                        }
                        None => {
                            // A client that sends another game's inputs is broken or hostile.
                            counter!(family::INPUT_DROPS.name, "reason" => "undecodable")
                                .increment(1);
                            client.outbox.close(
                                close::DECODE_ERROR,
                                "undecodable message: input payload is not an input of this match's game",
                            );
                            self.gone(conn);
                        }
                    }
                }
            }
            MatchCmd::Ack { conn, tick } => {
                let now = self.sim.sim().tick();
                if let Some(client) = self.clients.get_mut(&conn) {
                    if client.acknowledge(tick, now) {
                        mark_acknowledged(&mut self.seats, client.player);
                    }
                }
            }
            MatchCmd::Chat { conn, text } => self.chat(conn, &text),
            MatchCmd::Request { conn, id, payload } => self.request(conn, id, &payload),
            MatchCmd::Mute {
                conn,
                player,
                muted,
            } => {
                if let Some(client) = self.clients.get(&conn) {
                    self.chat.mute(member(conn, client), player, muted);
                }
            }
            MatchCmd::ChatLog { reply } => {
                let _ = reply.send(self.chat.recent().cloned().collect());
            }
            MatchCmd::Silence {
                player,
                silenced,
                reply,
            } => {
                let seated = self.seats.contains_key(&player);
                if seated {
                    self.chat.silence(player, silenced);
                }
                let _ = reply.send(seated);
            }
            MatchCmd::Leave { conn } => {
                if let Some(client) = self.clients.remove(&conn) {
                    self.chat.forget(member(conn, &client));
                    if let Some(player) = client.player {
                        self.free_seat(player, false);
                    } else {
                        self.shared.spectators.fetch_sub(1, Ordering::AcqRel);
                    }
                    client.outbox.close(close::MATCH_ENDED, "left the match");
                }
            }
            MatchCmd::Gone { conn } => self.gone(conn),
            MatchCmd::Snapshot { tick, reply } => {
                let _ = reply.send(self.sim.sim().snapshot_at(tick).map(<[_]>::to_vec));
            }
            MatchCmd::SentView {
                player,
                tick,
                reply,
            } => {
                let sim = self.sim.sim();
                let view = self
                    .clients
                    .values()
                    .find(|c| c.player == Some(player))
                    .and_then(|c| c.view.sent_view(tick, sim));
                let _ = reply.send(view);
            }
            MatchCmd::End { reason } => self.end_requested = Some(reason),
            MatchCmd::InjectPanic => self.panic_next_tick = true,
        }
    }

    fn welcome(
        &self,
        player_id: u32,
        entity_id: u32,
        token: SessionToken,
        resumed: bool,
    ) -> Welcome {
        Welcome {
            version: tickwire_proto::PROTOCOL_VERSION,
            game: self.shared.game.clone(),
            schema_hash: self.sim.sim().schema().hash(),
            player_id,
            entity_id,
            match_id: self.id,
            tick_rate: self.sim.sim().config().tick_rate,
            tick: self.sim.sim().tick(),
            session: token,
            resumed,
            map: self.sim.sim().game().map_info(),
        }
    }

    fn join(
        &mut self,
        conn: ConnId,
        name: &str,
        outbox: Outbox,
        claim: SeatClaim,
    ) -> Result<Joined, RejectReason> {
        if self.sim.sim().phase() == Phase::Ended || self.end_requested.is_some() {
            return Err(RejectReason::Full);
        }
        let player = self.sim.add_player(name).map_err(|_| RejectReason::Full)?;
        let secret = session_token::new_secret();
        let token = SessionToken {
            match_id: self.id,
            player_id: player,
            secret,
        };
        let entity = self.sim.sim().player(player).map_or(0, |p| p.entity_id);
        self.seats.insert(
            player,
            Seat {
                secret,
                conn: Some(conn),
                expires_at: None,
                acknowledged: false,
                _claim: claim,
            },
        );
        let welcome = self.welcome(player, entity, token, false);
        self.attach(conn, Some(player), outbox, welcome);
        gauge!(family::PLAYERS_CONNECTED.name).increment(1.0);
        debug!(match_id = self.id, player, "player joined");
        Ok(Joined {
            player_id: Some(player),
            secret: Some(secret),
        })
    }

    fn spectate(
        &mut self,
        conn: ConnId,
        name: String,
        outbox: Outbox,
    ) -> Result<Joined, RejectReason> {
        let count = self.shared.spectators.load(Ordering::Acquire);
        if count >= self.settings.max_spectators {
            return Err(RejectReason::Full);
        }
        self.shared.spectators.fetch_add(1, Ordering::AcqRel);
        let token = SessionToken {
            match_id: self.id,
            player_id: 0,
            secret: [0; 16],
        };
        let welcome = self.welcome(0, 0, token, false);
        self.attach(conn, None, outbox, welcome);
        if let Some(client) = self.clients.get_mut(&conn) {
            client.spectator_name = name;
        }
        Ok(Joined {
            player_id: None,
            secret: None,
        })
    }

    fn resume(
        &mut self,
        conn: ConnId,
        token: SessionToken,
        outbox: Outbox,
    ) -> Result<Joined, RejectReason> {
        let player = token.player_id;
        let Some(seat) = self.seats.get_mut(&player) else {
            let expired = self
                .expired
                .iter()
                .any(|(p, s)| *p == player && session_token::secrets_equal(s, &token.secret));
            return Err(if expired {
                RejectReason::SeatExpired
            } else {
                RejectReason::BadSession
            });
        };
        if !session_token::secrets_equal(&seat.secret, &token.secret) {
            return Err(RejectReason::BadSession);
        }
        // Documented choice: the newest connection wins the seat; the old one is closed.
        if let Some(old) = seat.conn.replace(conn) {
            if let Some(old_client) = self.clients.remove(&old) {
                old_client.outbox.close(
                    close::SESSION_REPLACED,
                    "session resumed by another connection",
                );
            }
        } else {
            gauge!(family::PLAYERS_CONNECTED.name).increment(1.0);
        }
        seat.expires_at = None;
        self.sim.set_connected(player, true);
        let entity = self.sim.sim().player(player).map_or(0, |p| p.entity_id);
        let welcome = self.welcome(player, entity, token, true);
        self.attach(conn, Some(player), outbox, welcome);
        debug!(match_id = self.id, player, "player resumed");
        Ok(Joined {
            player_id: Some(player),
            secret: None,
        })
    }

    fn attach(&mut self, conn: ConnId, player: Option<PlayerId>, outbox: Outbox, welcome: Welcome) {
        // Inserted even if the Welcome could not be queued: the connection's task always
        // reports Gone when it ends, which is what releases the seat into its grace period.
        send_msg(&outbox, &ServerMsg::Welcome(welcome));
        self.clients.insert(
            conn,
            Client {
                player,
                spectator_name: String::new(),
                outbox,
                ack: 0,
                acked_at: self.sim.sim().tick(),
                view: ClientView::new(),
                budget: AdaptiveBudget::new(
                    self.sim
                        .sim()
                        .config()
                        .frame_budget_bytes()
                        .unwrap_or(UNLIMITED_FRAME_BYTES),
                ),
                backlogged: false,
            },
        );
    }

    fn gone(&mut self, conn: ConnId) {
        let Some(client) = self.clients.remove(&conn) else {
            return;
        };
        let Some(player) = client.player else {
            self.chat.forget(member(conn, &client));
            self.shared.spectators.fetch_sub(1, Ordering::AcqRel);
            return;
        };
        if let Some(seat) = self.seats.get_mut(&player) {
            if seat.conn == Some(conn) && !seat.acknowledged {
                debug!(
                    match_id = self.id,
                    player, "player dropped before acknowledging any state; seat freed"
                );
                counter!(family::SEATS_FREED_UNACKNOWLEDGED.name).increment(1);
                self.free_seat(player, true);
            } else if seat.conn == Some(conn) {
                seat.conn = None;
                seat.expires_at = Some(self.sim.sim().tick() + self.settings.grace_ticks);
                self.sim.set_connected(player, false);
                gauge!(family::PLAYERS_CONNECTED.name).decrement(1.0);
                debug!(
                    match_id = self.id,
                    player, "player dropped; seat kept for grace period"
                );
            }
        }
    }

    fn free_seat(&mut self, player: PlayerId, expired: bool) {
        if let Some(seat) = self.seats.remove(&player) {
            if seat.conn.is_some() {
                gauge!(family::PLAYERS_CONNECTED.name).decrement(1.0);
            }
            if expired {
                if self.expired.len() == EXPIRED_SEATS_KEPT {
                    self.expired.pop_front();
                }
                self.expired.push_back((player, seat.secret));
            }
            self.sim.remove_player(player);
            self.chat.forget(Member::Player(player));
            self.shared.release();
        }
    }

    /// Takes one chat line from `conn`: delivers it, in match order, to every client that
    /// hears it, or tells the sender why not (closing it when it floods).
    fn chat(&mut self, conn: ConnId, text: &str) {
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        let from = member(conn, client);
        let name = match client.player {
            Some(player) => self
                .sim
                .sim()
                .player(player)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            None => client.spectator_name.clone(),
        };
        let tick = self.sim.sim().tick();
        match self.chat.submit(tick, from, &name, text) {
            Ok(line) => {
                counter!(family::CHAT_LINES.name).increment(1);
                self.sim.record_chat(&line);
                let chat = &self.chat;
                let msg = ServerMsg::Chat(line.clone());
                let overflowed = send_reliable_to(&self.clients, &msg, |id, listener| {
                    chat.hears(member(id, listener), &line)
                });
                for id in overflowed {
                    self.gone(id);
                }
            }
            Err(refused) => {
                let reason = refused.refusal.reason;
                counter!(family::CHAT_REFUSALS.name, "reason" => reason.label()).increment(1);
                if refused.flood {
                    counter!(family::CHAT_FLOOD_DISCONNECTS.name).increment(1);
                    client.outbox.close(
                        tickwire_net::close::POLICY_VIOLATION,
                        "chat refused too often (flood)",
                    );
                    return;
                }
                if !send_msg(&client.outbox, &ServerMsg::ChatRefused(refused.refusal)) {
                    self.gone(conn);
                }
            }
        }
    }

    /// Takes one request from `conn` for the game: queued for the next tick (answered then, by
    /// [`MatchTask::answer`]), or refused now (closing the sender when it floods).
    fn request(&mut self, conn: ConnId, id: u32, payload: &[u8]) {
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        let outcome = match client.player {
            Some(player) => self.sim.push_request(player, id, payload),
            // Spectators have no seat for the game to act on; not counted towards a flood,
            // since the engine keeps no record of them (the message cap still bounds them).
            None => Err(tickwire_sim::Refused {
                refusal: tickwire_proto::msg::RequestRefusal {
                    id,
                    reason: RequestRefusalReason::NotPlayer,
                    limit: 0,
                    message: String::new(),
                },
                flood: false,
            }),
        };
        let refused = match outcome {
            Ok(()) => {
                counter!(family::REQUESTS.name).increment(1);
                return;
            }
            Err(refused) => refused,
        };
        let reason = refused.refusal.reason;
        counter!(family::REQUEST_REFUSALS.name, "reason" => reason.label()).increment(1);
        if refused.flood {
            counter!(family::REQUEST_FLOOD_DISCONNECTS.name).increment(1);
            client.outbox.close(
                tickwire_net::close::POLICY_VIOLATION,
                "requests refused too often (flood)",
            );
            return;
        }
        if !send_msg(&client.outbox, &ServerMsg::RequestRefused(refused.refusal)) {
            self.gone(conn);
        }
    }

    /// Sends the game's answer to a request to its sender's connection, if it still has one.
    fn answer(&mut self, answer: &tickwire_sim::Answer) {
        let msg = match &answer.result {
            Ok(payload) => ServerMsg::Reply {
                id: answer.id,
                payload: payload.clone(),
            },
            Err(refusal) => {
                counter!(family::REQUEST_REFUSALS.name, "reason" => refusal.reason.label())
                    .increment(1);
                ServerMsg::RequestRefused(refusal.clone())
            }
        };
        self.send_to_player(answer.player, &msg);
    }

    /// Queues `msg` on the reliable channel of `player`'s connection, if it has one.
    fn send_to_player(&mut self, player: PlayerId, msg: &ServerMsg) {
        let Some(conn) = self.seats.get(&player).and_then(|s| s.conn) else {
            return;
        };
        let delivered = self
            .clients
            .get(&conn)
            .is_some_and(|c| send_msg(&c.outbox, msg));
        if !delivered {
            self.gone(conn);
        }
    }

    fn expire_seats(&mut self, tick: u32) {
        let is_due = |s: &Seat| s.expires_at.is_some_and(|t| t <= tick);
        if !self.seats.values().any(is_due) {
            return;
        }
        let due: Vec<PlayerId> = self
            .seats
            .iter()
            .filter(|(_, s)| is_due(s))
            .map(|(p, _)| *p)
            .collect();
        for player in due {
            debug!(match_id = self.id, player, "grace period over; seat freed");
            self.free_seat(player, true);
        }
    }

    /// Sends every client its frame. Clients whose frame is the shared whole-world delta
    /// (no interest radius, no budget in force) and that acknowledged the same baseline get the
    /// same bytes: each distinct baseline is diffed and encoded once per tick. Interest-managed
    /// or throttled clients get a delta of their own view.
    fn replicate(&mut self) {
        self.delta_cache.clear();
        let sim = self.sim.sim();
        let configured = sim.config().frame_budget_bytes();
        let mut bytes_total = 0u64;
        let mut own_body = Vec::new();
        for client in self.clients.values_mut() {
            let frame_budget = client.budget.next(client.backlogged);
            let budget = match configured {
                None if frame_budget >= UNLIMITED_FRAME_BYTES => None,
                _ => Some(frame_budget),
            };
            let (age, body) = match client
                .view
                .try_shared(sim, client.player, client.ack, budget)
            {
                Some(age) => {
                    let idx = match self.delta_cache.iter().position(|(a, _)| *a == age) {
                        Some(i) => i,
                        None => {
                            let base = if age == 0 { 0 } else { sim.tick() - age };
                            sim.delta_since(base, &mut self.scratch);
                            let mut body = Vec::new();
                            let snap = sim.snapshot_at(base).unwrap_or(&[]);
                            let kind_of = |i: u32| snap.get(i as usize).map(|e| e.kind);
                            if let Err(e) =
                                codec::encode_rows(sim.schema(), &self.scratch, kind_of, &mut body)
                            {
                                warn!(match_id = self.id, error = %e, "cannot encode delta");
                                continue;
                            }
                            self.delta_cache.push((age, body));
                            self.delta_cache.len() - 1
                        }
                    };
                    (age, &self.delta_cache[idx].1)
                }
                None => {
                    let age = client.view.frame(
                        sim,
                        client.player,
                        client.ack,
                        budget,
                        &mut self.frame_scratch,
                        &mut self.scratch,
                    );
                    own_body.clear();
                    let kind_of = |i: u32| client.view.baseline_kind(sim, i);
                    if let Err(e) =
                        codec::encode_rows(sim.schema(), &self.scratch, kind_of, &mut own_body)
                    {
                        warn!(match_id = self.id, error = %e, "cannot encode delta");
                        continue;
                    }
                    (age, &own_body)
                }
            };
            let header = sim.header_for(client.player, age);
            self.frame_buf.clear();
            if codec::encode_state(&header, body, &mut self.frame_buf).is_err() {
                continue;
            }
            bytes_total += self.frame_buf.len() as u64;
            client.backlogged = client
                .outbox
                .send_state(Bytes::copy_from_slice(&self.frame_buf));
        }
        counter!(family::STATE_BYTES.name).increment(bytes_total);
        counter!(family::STATE_FRAMES.name).increment(self.clients.len() as u64);
    }

    fn broadcast_reliable(&mut self, msg: &ServerMsg) {
        for conn in send_reliable_to(&self.clients, msg, |_, _| true) {
            self.gone(conn);
        }
    }

    fn finish(mut self, reason: EndReason) -> MatchRecord {
        self.shared.open.store(false, Ordering::Release);
        // After a panic the simulation may be inconsistent: read what it can give, guarded.
        let results = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if self.sim.sim().phase() != Phase::Ended {
                self.sim.end(reason);
            }
            run_blocking(|| self.sim.finish());
            self.sim.sim().results()
        }))
        .unwrap_or_default();
        self.shared
            .phase
            .store(phase_index(Phase::Ended), Ordering::Release);
        let ticks = self.shared.tick.load(Ordering::Acquire);
        let record = MatchRecord {
            match_id: self.id,
            game: self.shared.game.clone(),
            map: self.settings.map_name.clone(),
            reason: reason_name(reason).to_owned(),
            started_at_ms: self.started_at_ms,
            ended_at_ms: unix_ms(),
            ticks,
            tick_rate: self.shared.tick_rate,
            // The game's own table; an empty value keeps the line if it cannot serialise.
            results: serde_json::to_value(&results).unwrap_or_default(),
        };
        // Durable before anyone hears the match ended.
        let recorded = run_blocking(|| (self.on_results)(&record)).is_ok();
        let (code, close_reason) = match reason {
            // Results that were lost override every other close: the client must not believe
            // its match was recorded.
            _ if !recorded => (tickwire_net::close::INTERNAL_ERROR, RESULTS_LOST_REASON),
            EndReason::Shutdown => (tickwire_net::close::GOING_AWAY, MATCH_ENDED_REASON),
            EndReason::Aborted => (tickwire_net::close::INTERNAL_ERROR, MATCH_ENDED_REASON),
            _ => (close::MATCH_ENDED, MATCH_ENDED_REASON),
        };
        let ended = ServerMsg::MatchEnded(MatchResults {
            match_id: self.id,
            reason,
            ticks,
            players: G::player_results(&results),
        });
        let msg = codec::encode_server(&ended).ok().map(Bytes::from);
        for client in self.clients.values() {
            if let Some(msg) = &msg {
                let _ = client.outbox.send_reliable(msg.clone());
            }
            client.outbox.close(code, close_reason);
        }
        let connected = self.seats.values().filter(|s| s.conn.is_some()).count();
        gauge!(family::PLAYERS_CONNECTED.name).decrement(connected as f64);
        // Refuse whoever is still queued in the mailbox.
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            reject_late(cmd, &self.shared);
        }
        info!(match_id = self.id, ?reason, ticks, "match ended");
        record
    }
}

impl Client {
    /// Moves the acknowledgement forward (never back, never past the current tick); true when
    /// it moved.
    fn acknowledge(&mut self, tick: u32, now: u32) -> bool {
        let tick = tick.min(now);
        let moved = tick > self.ack;
        if moved {
            self.ack = tick;
            self.acked_at = now;
        }
        moved
    }
}

/// Records that `player`'s seat has had a frame acknowledged (it has earned its grace period).
/// Queues `msg` on the reliable channel of every client `to` picks, encoding it once; returns
/// the connections whose reliable queue overflowed (the caller treats them as gone).
fn send_reliable_to(
    clients: &BTreeMap<ConnId, Client>,
    msg: &ServerMsg,
    to: impl Fn(ConnId, &Client) -> bool,
) -> Vec<ConnId> {
    let Ok(bytes) = codec::encode_server(msg) else {
        return Vec::new();
    };
    let bytes = Bytes::from(bytes);
    clients
        .iter()
        .filter(|&(&id, client)| to(id, client))
        .filter(|(_, client)| client.outbox.send_reliable(bytes.clone()).is_err())
        .map(|(&id, _)| id)
        .collect()
}

/// Who `client` is in the match's chat: its player, or a spectator keyed by its connection.
fn member(conn: ConnId, client: &Client) -> Member {
    client
        .player
        .map_or(Member::Spectator(conn), Member::Player)
}

fn mark_acknowledged(seats: &mut BTreeMap<PlayerId, Seat>, player: Option<PlayerId>) {
    if let Some(seat) = player.and_then(|p| seats.get_mut(&p)) {
        seat.acknowledged = true;
    }
}

/// Runs blocking file work (fsync) from a task without stalling the runtime's other tasks,
/// where the runtime allows it.
pub(crate) fn run_blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Unix time now, milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn reject_late(cmd: MatchCmd, shared: &MatchShared) {
    match cmd {
        MatchCmd::Join { reply, .. } => {
            shared.release();
            let _ = reply.send(Err(RejectReason::NoSuchMatch));
        }
        MatchCmd::Spectate { reply, .. } => {
            let _ = reply.send(Err(RejectReason::NoSuchMatch));
        }
        MatchCmd::Resume { reply, .. } => {
            let _ = reply.send(Err(RejectReason::SeatExpired));
        }
        _ => {}
    }
}

/// Encodes and queues a reliable message; false when the connection is gone or overflowed.
pub fn send_msg(outbox: &Outbox, msg: &ServerMsg) -> bool {
    match codec::encode_server(msg) {
        Ok(bytes) => outbox.send_reliable(Bytes::from(bytes)).is_ok(),
        Err(_) => false,
    }
}

/// Queues a Reject and closes the connection with `code`.
pub fn reject(outbox: &Outbox, reason: RejectReason, message: &str, code: u16) {
    let _ = send_msg(
        outbox,
        &ServerMsg::Reject(Reject {
            reason,
            message: message.to_owned(),
        }),
    );
    counter!(family::JOIN_REJECTS.name, "reason" => reason.label()).increment(1);
    outbox.close(code, message);
}

fn phase_index(phase: Phase) -> u8 {
    match phase {
        Phase::Waiting => 0,
        Phase::Running => 1,
        Phase::Ended => 2,
    }
}
