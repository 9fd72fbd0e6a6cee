//! One bot: a tokio task that joins through `tickwire-client`, then reads state frames and
//! sends one input per tick over the split connection until the run stops.
//!
//! The reader and writer halves run as two futures joined in the bot's single task: they
//! never run at the same instant, so they share the ack, the input send times and the RTT
//! through relaxed atomics without contention, and neither future is ever cancelled while it
//! reads (a cancelled WebSocket read could lose half a frame).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tickwire_client::{GameClient, hello};
use tickwire_net::{ClientConfig, ClientEvent, ClientReader, ClientWriter};
use tickwire_proto::codec;
use tickwire_proto::msg::{
    ClientMsg, FrameHeader, Input, JoinTarget, ServerMsg, SessionToken, Welcome,
};
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::{RowReplica, RowWorld};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at, sleep, sleep_until};

use crate::options::{Behavior, BotKind};
use crate::policy::{BotPolicy, GamePolicy};
use crate::rng::SplitMix64;
use crate::stats::{ABNORMAL_CLOSURE, BotStats, Live, record, record_us};

/// Time between two RTT probes of one bot.
const PING_INTERVAL: Duration = Duration::from_millis(500);
/// How long a bot waits for the server's close reply after its own close at the end.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Pause before a bot joins again after its session ended early.
const REJOIN_PAUSE: Duration = Duration::from_secs(1);
/// Pause before a hostile bot resumes its seat (or joins again) after its link dropped.
const HOSTILE_REJOIN_PAUSE: Duration = Duration::from_millis(200);
/// Consecutive failed joins after which a bot gives up.
const MAX_JOIN_FAILURES: u32 = 3;
/// Input send times remembered, inputs (a power of two); far more than the server's input
/// queue holds, so an input is always still remembered when a frame acknowledges it.
const SENT_RING: usize = 256;

/// What every bot of a run shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The server's WebSocket URL.
    pub(crate) url: String,
    /// What the bots do.
    pub(crate) behavior: Behavior,
    /// Chat lines each well-behaved bot sends, lines per minute (0: none).
    pub(crate) chat_per_min: f64,
    /// The run's seed.
    pub(crate) seed: u64,
    /// Counters for the progress bars.
    pub(crate) live: Live,
    /// Time zero of the run: Ping payloads and send times are microseconds since it.
    pub(crate) epoch: Instant,
    /// WebSocket client settings.
    pub(crate) client: ClientConfig,
    /// Seats come from the cluster matchmaker at `url` (`--matchmake`).
    pub(crate) matchmake: bool,
    /// The game the bots play and how.
    pub(crate) policy: Arc<dyn GamePolicy>,
}

impl Ctx {
    fn now_us(&self) -> u64 {
        self.epoch
            .elapsed()
            .as_micros()
            .try_into()
            .unwrap_or(u64::MAX)
    }
}

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
enum SessionEnd {
    /// The run is over.
    Stopped,
    /// The match ended normally (MatchEnded, then a close): join another.
    MatchEnded,
    /// The server closed or the link broke: join again after a pause.
    Dropped,
    /// A reconnector dropped its link on purpose: resume at once.
    Abandoned,
}

/// A random duration in `lo_ms..hi_ms` milliseconds.
fn random_ms(rng: &mut SplitMix64, lo_ms: u32, hi_ms: u32) -> Duration {
    Duration::from_millis(u64::from(rng.range(lo_ms, hi_ms)))
}

/// Waits until the run's stop flag is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs bot `index` until `stop`, joining again when a session ends early; returns what it
/// measured.
pub(crate) async fn run(
    ctx: Arc<Ctx>,
    index: u32,
    kind: BotKind,
    verify: bool,
    mut stop: watch::Receiver<bool>,
) -> BotStats {
    let mut stats = BotStats::of_kind(kind, verify);
    let mut rng = SplitMix64::for_bot(ctx.seed, index);
    let name = format!("bot{index}");
    let mut failures = 0;
    // Hostile bots resume their seat with the token of their last Welcome.
    let mut token: Option<SessionToken> = None;
    while !*stop.borrow() {
        let started = Instant::now();
        let mut greeting = hello(&name);
        greeting.game = Some(ctx.policy.game().to_owned());
        greeting.schema_hash = Some(ctx.policy.schema().hash());
        greeting.session = token.take().filter(|_| kind.is_hostile());
        let resuming = greeting.session.is_some();
        let mut url = ctx.url.clone();
        // Local match ids repeat across instances: a cluster run counts cluster match ids.
        let mut cluster_match = None;
        if ctx.matchmake && !resuming {
            let reserved = tokio::select! {
                r = crate::matchmake::reserve(&ctx.url, &name) => r,
                () = stopped(&mut stop) => break,
            };
            match reserved {
                Ok(seat) => {
                    url = seat.url;
                    if let JoinTarget::Reserved { match_id, .. } = seat.join {
                        cluster_match = Some(match_id);
                    }
                    greeting.join = seat.join;
                }
                Err(e) => {
                    stats.connect_errors += 1;
                    stats.sample_error(|| format!("matchmake: {e}"));
                    stats.live_error(&ctx.live);
                    failures += 1;
                    if failures >= MAX_JOIN_FAILURES {
                        break;
                    }
                    tokio::select! {
                        () = sleep(REJOIN_PAUSE) => {}
                        () = stopped(&mut stop) => break,
                    }
                    continue;
                }
            }
        }
        let joined = tokio::select! {
            joined = GameClient::connect_with(&url, greeting, &ctx.client) => joined,
            () = stopped(&mut stop) => break,
        };
        let end = match joined {
            Ok(game) => {
                failures = 0;
                record_us(&mut stats.connect_us, started.elapsed());
                if stats.sessions > 0 {
                    stats.reconnects += 1;
                }
                if game.welcome().resumed {
                    stats.hostile.resumes += 1;
                }
                token = Some(game.welcome().session);
                let seen = stats.match_ids.len();
                let end = session(&ctx, game, kind, &mut stats, &mut rng, stop.clone()).await;
                if let (Some(id), Some(local)) = (cluster_match, stats.match_ids.get_mut(seen)) {
                    *local = id;
                }
                end
            }
            Err(_) if resuming => {
                // The seat or its match is gone: join afresh.
                stats.hostile.resume_rejects += 1;
                continue;
            }
            Err(e) => {
                stats.connect_errors += 1;
                stats.sample_error(|| format!("join: {e}"));
                stats.live_error(&ctx.live);
                failures += 1;
                if failures >= MAX_JOIN_FAILURES {
                    break;
                }
                SessionEnd::Dropped
            }
        };
        match end {
            SessionEnd::Stopped => break,
            SessionEnd::MatchEnded => token = None,
            SessionEnd::Abandoned => {}
            SessionEnd::Dropped => {
                let pause = if kind.is_hostile() {
                    HOSTILE_REJOIN_PAUSE
                } else {
                    REJOIN_PAUSE
                };
                tokio::select! {
                    () = sleep(pause) => {}
                    () = stopped(&mut stop) => break,
                }
            }
        }
    }
    stats
}

/// State the reader and writer of one session share.
struct Shared {
    /// Newest tick to acknowledge (received, or applied by a verifying bot).
    ack: AtomicU32,
    /// Latest RTT sample, µs (0: none yet).
    rtt_us: AtomicU64,
    /// Sequence number and send time (µs since the epoch) of recent inputs, by `seq % SENT_RING`.
    sent: [(AtomicU32, AtomicU64); SENT_RING],
    /// Set by the writer when it sends its close at the end of the run.
    closing: AtomicBool,
    /// When the writer closed, µs since the epoch.
    closing_at_us: AtomicU64,
    /// Signalled by the reader when it is done, so the writer stops too.
    reader_done: Notify,
    /// The game's policy for this bot: the reader shows it the world, the writer asks it for
    /// inputs. The two never hold it at once (they run in one task), so the lock never waits.
    brain: Mutex<Box<dyn BotPolicy>>,
}

impl Shared {
    fn new(brain: Box<dyn BotPolicy>) -> Self {
        Self {
            brain: Mutex::new(brain),
            ack: AtomicU32::new(0),
            rtt_us: AtomicU64::new(0),
            sent: std::array::from_fn(|_| (AtomicU32::new(0), AtomicU64::new(0))),
            closing: AtomicBool::new(false),
            closing_at_us: AtomicU64::new(0),
            reader_done: Notify::new(),
        }
    }
}

/// Plays one joined session until the run stops or the server ends it.
async fn session(
    ctx: &Ctx,
    game: GameClient,
    kind: BotKind,
    stats: &mut BotStats,
    rng: &mut SplitMix64,
    stop: watch::Receiver<bool>,
) -> SessionEnd {
    // The reader's own generator (the writer borrows the bot's), for hostile timings.
    let mut reader_rng = SplitMix64::for_bot(rng.next_u64(), 0);
    let (ws, welcome) = game.into_parts();
    let (mut reader, mut writer) = ws.split();
    stats.sessions += 1;
    stats.match_ids.push(welcome.match_id);
    stats
        .map_name
        .get_or_insert_with(|| welcome.map.name.clone());
    stats.tick_rate = welcome.tick_rate;
    Live::add(&ctx.live.connected, 1);
    let brain = ctx.policy.bot(rng.next_u64(), ctx.behavior, &welcome);
    let shared = Shared::new(brain);
    let began = Instant::now();
    let (end, sent) = tokio::join!(
        read_loop(
            ctx,
            &mut reader,
            &shared,
            &welcome,
            stats,
            &mut reader_rng,
            stop.clone()
        ),
        write_loop(ctx, &mut writer, &shared, &welcome, kind, rng, stop),
    );
    let joined_secs = began.elapsed().as_secs_f64();
    stats.connected_secs += joined_secs;
    stats.inputs_expected += joined_secs * f64::from(welcome.tick_rate);
    stats.inputs_sent += sent.inputs;
    stats.pings_sent += sent.pings;
    stats.chat_sent += sent.chat;
    stats.send_errors += u64::from(sent.failed);
    stats.hostile.bursts += sent.bursts;
    stats.hostile.burst_inputs += sent.burst_inputs;
    ctx.live.connected.fetch_sub(1, Ordering::Relaxed);
    end
}

/// What the writer sent.
#[derive(Debug, Default)]
struct Sent {
    inputs: u64,
    pings: u64,
    chat: u64,
    failed: bool,
    /// Flooders: bursts and the inputs in them.
    bursts: u64,
    burst_inputs: u64,
}

/// Sends one input per tick and a ping every [`PING_INTERVAL`], answers the reader's pongs
/// and close replies, and closes at the end of the run.
async fn write_loop(
    ctx: &Ctx,
    writer: &mut ClientWriter,
    shared: &Shared,
    welcome: &Welcome,
    kind: BotKind,
    rng: &mut SplitMix64,
    mut stop: watch::Receiver<bool>,
) -> Sent {
    let mut sent = Sent::default();
    let rate = u32::from(welcome.tick_rate.max(1));
    let period = Duration::from_secs(1) / rate;
    let next_input = || {
        shared
            .brain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .input()
    };
    // Its own timer, at a random phase: the Welcome is sent at the start of a server tick, so
    // a timer started on it would put every input just after a tick and make every input wait
    // a whole tick, which real clients (whose frame clocks are unrelated to the server's) do
    // not. A late tick is skipped rather than sent in a burst.
    let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX).max(1);
    let phase = Duration::from_micros(rng.next_u64() % period_us);
    let mut inputs = interval_at(Instant::now() + phase, period);
    inputs.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut pings = interval(PING_INTERVAL);
    pings.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Chat at a random phase too, so a match's bots do not all speak on the same tick.
    let chatting = ctx.chat_per_min > 0.0 && kind == BotKind::WellBehaved;
    let chat_period = Duration::from_secs_f64(60.0 / ctx.chat_per_min.max(0.01));
    let chat_phase = chat_period.mul_f64((rng.next_u64() % 1000) as f64 / 1000.0);
    let mut chat = interval_at(Instant::now() + chat_phase, chat_period);
    chat.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut seq: u32 = 0;
    let flooder = kind == BotKind::Flooder;
    let mut next_burst = Instant::now() + random_ms(rng, 2000, 5000);
    loop {
        let result = tokio::select! {
            biased;
            () = shared.reader_done.notified() => {
                let _ = writer.answer_obligations().await;
                break;
            }
            () = stopped(&mut stop) => {
                shared.closing_at_us.store(ctx.now_us(), Ordering::Relaxed);
                shared.closing.store(true, Ordering::Relaxed);
                // Leave frees the seat at once: a ghost seat in its reconnect grace period would
                // skew where the bots of a run started right after this one are placed.
                let _ = send(writer, &ClientMsg::Leave).await;
                let _ = writer.close(1000, "load test over").await;
                break;
            }
            ready = writer.obligation_ready() => {
                if !ready {
                    break;
                }
                writer.answer_obligations().await.map_err(|_| ())
            }
            _ = inputs.tick() => {
                seq = seq.wrapping_add(1).max(1);
                let input = Input {
                    seq,
                    ack: shared.ack.load(Ordering::Relaxed),
                    payload: next_input(),
                };
                let slot = &shared.sent[seq as usize % SENT_RING];
                slot.0.store(seq, Ordering::Relaxed);
                slot.1.store(ctx.now_us(), Ordering::Relaxed);
                sent.inputs += 1;
                send(writer, &ClientMsg::Input(input)).await
            }
            _ = pings.tick() => {
                sent.pings += 1;
                send(writer, &ClientMsg::Ping { client_time: ctx.now_us() }).await
            }
            _ = chat.tick(), if chatting => {
                sent.chat += 1;
                let text = format!("gg from a load-test bot, line {}", sent.chat);
                send(writer, &ClientMsg::Chat { text }).await
            }
            () = sleep_until(next_burst), if flooder => {
                next_burst = Instant::now() + random_ms(rng, 2000, 5000);
                // Mostly within the server's burst allowance, one time in three beyond it.
                let n = if rng.range(0, 3) == 0 { rng.range(300, 500) } else { rng.range(40, 150) };
                sent.bursts += 1;
                let mut result = Ok(());
                for _ in 0..n {
                    seq = seq.wrapping_add(1).max(1);
                    let input = Input {
                        seq,
                        ack: shared.ack.load(Ordering::Relaxed),
                        payload: next_input(),
                    };
                    sent.inputs += 1;
                    sent.burst_inputs += 1;
                    result = send(writer, &ClientMsg::Input(input)).await;
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
        };
        if result.is_err() {
            sent.failed = true;
            // The reader notices the broken link too; wait for it so the session ends once.
            shared.reader_done.notified().await;
            break;
        }
    }
    sent
}

async fn send(writer: &mut ClientWriter, msg: &ClientMsg) -> Result<(), ()> {
    let bytes = codec::encode_client(msg).map_err(|_| ())?;
    writer.send_binary(&bytes).await.map_err(|_| ())
}

/// Per-session reading state.
struct Reading<'a> {
    ctx: &'a Ctx,
    shared: &'a Shared,
    welcome: &'a Welcome,
    /// The game's schema.
    schema: &'a Schema,
    /// The full world, for verifying bots and for policies that need it.
    replica: Option<RowReplica>,
    /// Reused buffer to measure encoded headers.
    header_buf: Vec<u8>,
    /// Tick period, µs.
    period_us: f64,
    /// Arrival time and tick of the first and the latest state frame.
    first: Option<(Instant, u32)>,
    last: Option<(Instant, u32)>,
    /// Frames received this session.
    frames: u64,
    /// Newest `last_input` seen; inputs up to it have their latency recorded.
    acked_input: u32,
    match_ended: bool,
}

/// Reads until the server closes, the link breaks, or the run stops (then waits up to
/// [`CLOSE_GRACE`] for the close reply).
async fn read_loop(
    ctx: &Ctx,
    reader: &mut ClientReader,
    shared: &Shared,
    welcome: &Welcome,
    stats: &mut BotStats,
    rng: &mut SplitMix64,
    mut stop: watch::Receiver<bool>,
) -> SessionEnd {
    let mut r = Reading {
        ctx,
        shared,
        welcome,
        schema: ctx.policy.schema(),
        replica: (stats.verify || ctx.policy.needs_world())
            .then(|| RowReplica::new(ctx.policy.schema().clone())),
        header_buf: Vec::with_capacity(32),
        period_us: 1e6 / f64::from(welcome.tick_rate.max(1)),
        first: None,
        last: None,
        frames: 0,
        acked_input: 0,
        match_ended: false,
    };
    let grace = async {
        stopped(&mut stop).await;
        sleep(CLOSE_GRACE).await;
    };
    tokio::pin!(grace);
    // Slow readers pause reading at `pause_at`; reconnectors drop the link at `drop_at`. Both
    // are checked between reads only: a cancelled read could lose half a frame.
    let mut pause_at =
        (stats.kind == BotKind::SlowReader).then(|| Instant::now() + random_ms(rng, 3000, 8000));
    let drop_at =
        (stats.kind == BotKind::Reconnector).then(|| Instant::now() + random_ms(rng, 2000, 6000));
    let end = loop {
        if drop_at.is_some_and(|at| Instant::now() >= at) && !shared.closing.load(Ordering::Relaxed)
        {
            stats.hostile.drops += 1;
            break SessionEnd::Abandoned;
        }
        if let Some(at) = pause_at.filter(|at| Instant::now() >= *at) {
            stats.hostile.read_pauses += 1;
            let resume = at.max(Instant::now()) + random_ms(rng, 2000, 8000);
            tokio::select! {
                () = sleep_until(resume) => {}
                () = &mut grace => break SessionEnd::Stopped,
            }
            pause_at = Some(Instant::now() + random_ms(rng, 3000, 8000));
        }
        let event = tokio::select! {
            event = reader.recv() => event,
            () = &mut grace => break SessionEnd::Stopped,
        };
        let closing = shared.closing.load(Ordering::Relaxed);
        match event {
            Ok(ClientEvent::Binary(bytes)) => r.on_message(&bytes, stats, closing),
            Ok(ClientEvent::Ping(_) | ClientEvent::Pong(_)) => {}
            Ok(ClientEvent::Text(_)) => {
                stats.protocol_errors += 1;
                stats.sample_error(|| "text frame from the server".to_owned());
                stats.live_error(&ctx.live);
            }
            Ok(ClientEvent::Close { code, reason }) => {
                if closing {
                    break SessionEnd::Stopped;
                }
                *stats.close_codes.entry(code).or_default() += 1;
                if r.match_ended {
                    stats.matches_ended += 1;
                    break SessionEnd::MatchEnded;
                }
                stats.sample_error(|| format!("closed by the server with {code}: {reason}"));
                stats.live_error(&ctx.live);
                break SessionEnd::Dropped;
            }
            Err(e) => {
                if closing {
                    break SessionEnd::Stopped;
                }
                let code = e.close_code().unwrap_or(ABNORMAL_CLOSURE);
                *stats.close_codes.entry(code).or_default() += 1;
                stats.sample_error(|| format!("link lost: {e}"));
                stats.live_error(&ctx.live);
                break SessionEnd::Dropped;
            }
        }
    };
    r.finish(stats);
    shared.reader_done.notify_one();
    end
}

impl Reading<'_> {
    fn on_message(&mut self, bytes: &[u8], stats: &mut BotStats, closing: bool) {
        let now = Instant::now();
        stats.bytes += bytes.len() as u64;
        Live::add(&self.ctx.live.bytes, bytes.len() as u64);
        // State frames are split without decoding their body: only a bot that keeps the world
        // decodes it, with the game's schema.
        match codec::decode_state_raw(bytes) {
            Some(Ok((header, body))) => {
                if !closing {
                    self.on_state(&header, body, bytes.len(), now, stats);
                }
                return;
            }
            Some(Err(e)) => {
                stats.decode_errors += 1;
                stats.sample_error(|| format!("decode: {e}"));
                stats.live_error(&self.ctx.live);
                return;
            }
            None => {}
        }
        match codec::decode_server(bytes) {
            Ok(ServerMsg::State(_)) => {}
            Ok(ServerMsg::Pong { client_time, .. }) => {
                let rtt = self.ctx.now_us().saturating_sub(client_time);
                record(&mut stats.rtt_us, rtt);
                self.shared.rtt_us.store(rtt.max(1), Ordering::Relaxed);
            }
            Ok(ServerMsg::MatchEnded(_)) => self.match_ended = true,
            Ok(ServerMsg::Event(_)) => {}
            Ok(ServerMsg::Chat(_)) => {
                stats.chat_received += 1;
                stats.chat_bytes += bytes.len() as u64;
            }
            Ok(ServerMsg::ChatRefused(_)) => stats.chat_refused += 1,
            // The bot sends no requests, so an answer to one is as wrong as a second Welcome.
            Ok(
                other @ (ServerMsg::Welcome(_)
                | ServerMsg::Reject(_)
                | ServerMsg::Reply { .. }
                | ServerMsg::RequestRefused(_)),
            ) => {
                stats.protocol_errors += 1;
                stats.sample_error(|| format!("unexpected after the Welcome: {other:?}"));
                stats.live_error(&self.ctx.live);
            }
            Err(e) => {
                stats.decode_errors += 1;
                stats.sample_error(|| format!("decode: {e}"));
                stats.live_error(&self.ctx.live);
            }
        }
    }

    fn on_state(
        &mut self,
        h: &FrameHeader,
        body: &[u8],
        len: usize,
        now: Instant,
        stats: &mut BotStats,
    ) {
        stats.frames += 1;
        stats.state_bytes += len as u64;
        Live::add(&self.ctx.live.frames, 1);
        self.frames += 1;

        // The header's size, measured by encoding it rather than assuming the varint layout.
        self.header_buf.clear();
        let header_len = match codec::encode_state(h, &[], &mut self.header_buf) {
            Ok(()) => self.header_buf.len(),
            Err(_) => 0,
        };
        stats.header_bytes += header_len as u64;
        if h.baseline_age == 0 {
            stats.full_snapshots += 1;
        }

        // Jitter against the ticks the frame advanced, so a skipped (latest-wins) frame is not
        // counted as a late one.
        if let Some((at, tick)) = self.last {
            if h.tick > tick {
                let expected = f64::from(h.tick - tick) * self.period_us;
                let actual = now.duration_since(at).as_secs_f64() * 1e6;
                record(&mut stats.jitter_us, (actual - expected).abs() as u64);
            }
        }
        if self.first.is_none() {
            self.first = Some((now, h.tick));
        }
        if self.last.is_none_or(|(_, t)| h.tick > t) {
            self.last = Some((now, h.tick));
        }

        self.record_input_latency(h.last_input, stats);

        let ack = match &mut self.replica {
            Some(replica) => {
                match replica.apply_body(h.tick, h.baseline_age, body) {
                    Ok(world) => {
                        self.shared
                            .brain
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .observe(world, h.tick);
                        if stats.verify {
                            stats.verify_frames += 1;
                            if let Err(why) = check_world(self.schema, world, self.welcome) {
                                stats.verify_errors += 1;
                                stats.sample_error(|| format!("tick {}: {why}", h.tick));
                                stats.live_error(&self.ctx.live);
                            }
                            if h.baseline_age != 0 {
                                // Which entities moved is only known against the baseline
                                // world, so the per-entity cost is measured on the verifying
                                // bots.
                                let moving =
                                    moving_entities(self.schema, replica, h.tick - h.baseline_age);
                                stats.delta_frames += 1;
                                stats.delta_body_bytes += len.saturating_sub(header_len) as u64;
                                stats.moving_updates += moving;
                            }
                        }
                    }
                    Err(e) => {
                        if stats.verify {
                            stats.verify_errors += 1;
                        } else {
                            stats.decode_errors += 1;
                        }
                        stats.sample_error(|| format!("apply tick {}: {e}", h.tick));
                        stats.live_error(&self.ctx.live);
                    }
                }
                replica.newest_tick().unwrap_or(0)
            }
            None => h.tick,
        };
        self.shared.ack.fetch_max(ack, Ordering::Relaxed);
    }

    /// Records the latency of every input that `last_input` covers for the first time.
    fn record_input_latency(&mut self, last_input: u32, stats: &mut BotStats) {
        if last_input <= self.acked_input {
            return;
        }
        let now_us = self.ctx.now_us();
        let rtt_us = self.shared.rtt_us.load(Ordering::Relaxed);
        let oldest = last_input.saturating_sub(SENT_RING as u32 - 1);
        for seq in (self.acked_input + 1).max(oldest)..=last_input {
            let slot = &self.shared.sent[seq as usize % SENT_RING];
            if slot.0.load(Ordering::Relaxed) != seq {
                continue;
            }
            let latency = now_us.saturating_sub(slot.1.load(Ordering::Relaxed));
            record(&mut stats.input_latency_us, latency);
            if rtt_us > 0 {
                let beyond = (latency as f64 - rtt_us as f64) / self.period_us;
                record(
                    &mut stats.beyond_rtt_mticks,
                    (beyond.max(0.0) * 1000.0) as u64,
                );
            }
        }
        self.acked_input = last_input;
    }

    /// Adds this session's frame expectations: one frame per tick from the first frame to the
    /// end of measuring (our close, or the server's).
    fn finish(&self, stats: &mut BotStats) {
        let (Some((first_at, first_tick)), Some((_, last_tick))) = (self.first, self.last) else {
            return;
        };
        let closing_at_us = self.shared.closing_at_us.load(Ordering::Relaxed);
        let end_us = if closing_at_us > 0 {
            closing_at_us
        } else {
            self.ctx.now_us()
        };
        let first_us = first_at.duration_since(self.ctx.epoch).as_secs_f64() * 1e6;
        let span_us = (end_us as f64 - first_us).max(0.0);
        stats.frames_expected += 1.0 + span_us / self.period_us;
        let spanned = u64::from(last_tick - first_tick) + 1;
        stats.ticks_skipped += spanned.saturating_sub(self.frames);
    }
}

/// Entities of the replica's newest world whose position differs from the world of
/// `base_tick` (entities in view at both ticks that moved).
fn moving_entities(schema: &Schema, replica: &RowReplica, base_tick: u32) -> u64 {
    let (Some(now), Some(base)) = (replica.world(), replica.world_at(base_tick)) else {
        return 0;
    };
    now.values()
        .filter(|e| {
            let Some((x, y, _)) = schema.position(e.kind) else {
                return false;
            };
            base.get(&e.id).is_some_and(|b| {
                (b.values.get(x), b.values.get(y)) != (e.values.get(x), e.values.get(y))
            })
        })
        .count() as u64
}

/// Checks a rebuilt world: our own entity exists and every positioned entity lies inside the
/// Welcome's map.
fn check_world(schema: &Schema, world: &RowWorld, welcome: &Welcome) -> Result<(), String> {
    if welcome.entity_id != 0 && !world.contains_key(&welcome.entity_id) {
        return Err(format!("own entity {} missing", welcome.entity_id));
    }
    for e in world.values() {
        let Some((xs, ys, scale)) = schema.position(e.kind) else {
            continue;
        };
        let max_x = i64::from(welcome.map.width) * i64::from(scale);
        let max_y = i64::from(welcome.map.height) * i64::from(scale);
        let (x, y) = (
            e.values.get(xs).copied().unwrap_or(0),
            e.values.get(ys).copied().unwrap_or(0),
        );
        if !(0..=max_x).contains(&x) || !(0..=max_y).contains(&y) {
            return Err(format!(
                "entity {} at ({x}, {y}) is outside the {max_x}x{max_y} map (1/{scale} units)",
                e.id
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_proto::msg::MapInfo;
    use tickwire_proto::schema::rows::EntityRow;

    fn welcome() -> Welcome {
        Welcome {
            version: 1,
            game: "arena".into(),
            schema_hash: 0,
            player_id: 1,
            entity_id: 5,
            match_id: 1,
            tick_rate: 30,
            tick: 0,
            session: SessionToken {
                match_id: 1,
                player_id: 1,
                secret: [0; 16],
            },
            resumed: false,
            map: MapInfo {
                name: "open".into(),
                width: 100,
                height: 50,
                walls: Vec::new(),
            },
        }
    }

    #[test]
    fn world_checks() {
        let policy = crate::policy::builtin("arena").unwrap();
        let schema = policy.schema();
        let (n, strings) = schema.row_shape(0).unwrap();
        let (xs, ys, scale) = schema.position(0).unwrap();
        assert_eq!(scale, 8);
        let entity = |id: u32, x: i64, y: i64| {
            let mut values = vec![0; n];
            values[xs] = x;
            values[ys] = y;
            (
                id,
                EntityRow {
                    id,
                    kind: 0,
                    values,
                    strings: vec![String::new(); strings].into(),
                },
            )
        };
        let w = welcome();
        let world = |es: Vec<(u32, EntityRow)>| -> RowWorld { es.into_iter().collect() };
        assert!(
            check_world(
                schema,
                &world(vec![entity(5, 0, 0), entity(6, 800, 400)]),
                &w
            )
            .is_ok()
        );
        assert!(check_world(schema, &world(vec![entity(6, 8, 8)]), &w).is_err());
        assert!(check_world(schema, &world(vec![entity(5, 801, 0)]), &w).is_err());
        assert!(check_world(schema, &world(vec![entity(5, 0, -1)]), &w).is_err());
    }
}
