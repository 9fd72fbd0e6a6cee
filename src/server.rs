//! The assembled server: the network layer's handler, connection caps, the match registry,
//! durable results, replays and the shutdown sequence.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tickwire_arena::{MapDef, new_match};
use tickwire_net::{Admission, Connection, Handler, Refusal};
use tickwire_proto::EntityState;
use tickwire_proto::msg::EndReason;
use tickwire_sim::MatchConfig;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::address::{AddressBook, AddressLimits};
use crate::config::{Config, ConfigError};
use crate::match_ids::{MatchIdError, MatchIds};
use crate::match_loop::{
    ConnId, Lifecycle, MatchCmd, MatchSettings, MatchTask, ResultsHook, run_blocking, unix_ms,
};
use crate::registry::{MatchHandle, MatchShared, Registry, RegistryError};
use crate::replay::{REPLAYS_DIR, Record, RecordedMatch, ReplayWriter};
use crate::results::{MatchRecord, ResultsError, ResultsLog};
use crate::telemetry::family;

/// A server that failed to start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration or map is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The results log in the data directory cannot be opened.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The match id counter in the data directory cannot be used.
    #[error(transparent)]
    MatchIds(#[from] MatchIdError),
    /// Cluster mode could not start (a bad `cluster.redis_url`).
    #[error("cluster: {0}")]
    Cluster(#[from] crate::cluster::directory::DirectoryError),
    /// A directory inside the data directory cannot be created or read.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How long the stop phase of shutdown waits for match tasks to report their results.
const MATCH_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Name of the default map (the configured or embedded arena).
pub const DEFAULT_MAP: &str = "arena";
/// Name of the wall-less 1000 x 1000 map used by the open-arena load scenario.
pub const OPEN_ARENA_MAP: &str = tickwire_arena::map::OPEN_ARENA_NAME;
/// Name of the wall-less map built for the match's seats, so that each player has about
/// [`BIG_MAP_VISIBLE`] others within the view radius (150 units when interest is off): the
/// big-map load scenario.
pub const BIG_MAP: &str = tickwire_arena::map::BIG_ARENA_NAME;
/// Players each player should have within view on [`BIG_MAP`].
pub const BIG_MAP_VISIBLE: u32 = 50;
/// View radius a [`BIG_MAP`] is sized for when interest management is off, world units.
pub const BIG_MAP_DEFAULT_RADIUS: f32 = 150.0;

/// A match to create: overrides of the configured rules.
#[derive(Clone, Debug, Default)]
pub struct MatchSpec {
    /// The game's registered name; default the server's (today `arena`, the only one).
    pub game: Option<String>,
    /// Map name (see [`ServerState::maps`]); default [`DEFAULT_MAP`].
    pub map: Option<String>,
    /// Ticks per second.
    pub tick_rate: Option<u16>,
    /// Seats.
    pub max_players: Option<u16>,
}

/// Why a match could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// No game of that name is registered.
    #[error("unknown game {0:?}: this server hosts {GAME}", GAME = tickwire_proto::schema::arena::GAME_NAME)]
    UnknownGame(String),
    /// The map name is unknown.
    #[error("unknown map {0:?}")]
    UnknownMap(String),
    /// The resulting rules are invalid.
    #[error("invalid match settings: {0}")]
    Invalid(String),
    /// The server runs its maximum of matches.
    #[error("the server runs its maximum of matches")]
    AtCapacity,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Draining,
    /// No match id could be allocated (the data directory failed).
    #[error(transparent)]
    Ids(#[from] MatchIdError),
}

impl From<RegistryError> for CreateError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::AtCapacity => Self::AtCapacity,
            RegistryError::Ids(e) => Self::Ids(e),
        }
    }
}

/// State shared by every connection and match of one server.
pub struct ServerState {
    /// The effective configuration.
    pub config: Config,
    /// Maps matches can be created on, by name.
    pub maps: BTreeMap<String, MapDef>,
    /// Running matches.
    pub registry: Arc<Registry>,
    next_conn: AtomicU64,
    draining: AtomicBool,
    results_failed: AtomicBool,
    lifecycle: watch::Sender<Lifecycle>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    on_results: ResultsHook,
    results_log: ResultsLog,
    seed: AtomicU64,
    /// What each IP address holds: connections, seats and its join rate.
    pub addresses: Arc<AddressBook>,
    /// Cluster mode and Agones, once started (both off by default).
    pub cluster: crate::cluster::ClusterHooks,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("matches", &self.registry.len())
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// True once shutdown began: no new joins, not ready.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// True once a match's results could not be written: not ready from then on. It stays so
    /// until a restart, because a record is already lost and the cause (a full or failing disk)
    /// needs an operator; running matches go on.
    pub fn results_failed(&self) -> bool {
        self.results_failed.load(Ordering::Acquire)
    }

    /// Open connections on the game listener (HTTP or WebSocket).
    pub fn connections(&self) -> usize {
        self.addresses.connections()
    }

    /// Reserves a seat in an open match, creating a default match when none has room.
    pub fn reserve_seat(self: &Arc<Self>) -> Option<MatchHandle> {
        if self.is_draining() {
            return None;
        }
        self.registry
            .reserve_or_create(self.config.server.max_matches, |id| {
                let map = self.maps[DEFAULT_MAP].clone();
                self.spawn_match(id, 1, self.config.game.clone(), DEFAULT_MAP, map)
            })
            .map_err(|e| {
                if let RegistryError::Ids(e) = e {
                    error!(error = %e, "cannot allocate a match id; no match created");
                }
            })
            .ok()
    }

    /// Creates an empty match (for matchmakers, the admin API and tests).
    pub fn create_match(self: &Arc<Self>, spec: &MatchSpec) -> Result<MatchHandle, CreateError> {
        if self.is_draining() {
            return Err(CreateError::Draining);
        }
        if let Some(name) = spec.game.as_deref() {
            if name != tickwire_proto::schema::arena::GAME_NAME {
                return Err(CreateError::UnknownGame(name.to_owned()));
            }
        }
        let mut game = self.config.game.clone();
        if let Some(rate) = spec.tick_rate {
            game.tick_rate = rate;
        }
        if let Some(n) = spec.max_players {
            game.max_players = n;
            game.min_players = game.min_players.min(n.max(1));
        }
        let map_name = spec.map.as_deref().unwrap_or(DEFAULT_MAP);
        let map = if map_name == BIG_MAP {
            let radius = if game.view_radius > 0.0 {
                game.view_radius
            } else {
                BIG_MAP_DEFAULT_RADIUS
            };
            MapDef::big_arena(u32::from(game.max_players), BIG_MAP_VISIBLE, radius)
        } else {
            self.maps
                .get(map_name)
                .ok_or_else(|| CreateError::UnknownMap(map_name.to_owned()))?
                .clone()
        };
        new_match(game.clone(), self.config.arena.clone(), map.clone(), 0)
            .map_err(|e| CreateError::Invalid(e.to_string()))?;
        self.registry
            .create(self.config.server.max_matches, |id| {
                self.spawn_match(id, 0, game, map_name, map)
            })
            .map_err(CreateError::from)
    }

    fn spawn_match(
        self: &Arc<Self>,
        id: u64,
        reserved: u32,
        game: MatchConfig,
        map_name: &str,
        map: MapDef,
    ) -> MatchHandle {
        let rate = u64::from(game.tick_rate.max(1));
        let ms_to_ticks = |ms: u64| u32::try_from(ms * rate / 1000).unwrap_or(u32::MAX);
        let server = &self.config.server;
        let settings = MatchSettings {
            grace_ticks: ms_to_ticks(server.reconnect_grace_ms).max(1),
            linger_ticks: ms_to_ticks(server.empty_match_linger_ms).max(1),
            max_spectators: u32::try_from(server.max_spectators).unwrap_or(u32::MAX),
            stall_ticks: ms_to_ticks(server.stall_timeout_ms).max(1),
            map_name: map_name.to_owned(),
            chat: self.config.chat.clone(),
        };
        let max_seats = u32::from(game.max_players);
        let seed = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            ^ id;
        let created_at_ms = unix_ms();
        let writer = server.record_replays.then(|| {
            let header = Record::Header {
                match_id: id,
                seed,
                started_at_ms: created_at_ms,
                game_name: tickwire_proto::schema::arena::GAME_NAME.to_owned(),
                schema_hash: tickwire_proto::schema::arena::schema_hash(),
                map_name: map_name.to_owned(),
                game: game.clone(),
                arena: self.config.arena.clone(),
                map: map.clone(),
            };
            let path = crate::replay::replay_path(&server.data_dir, id);
            // Creating it fsyncs: keep the runtime's other tasks going meanwhile.
            match run_blocking(|| ReplayWriter::create(path.clone(), &header)) {
                Ok(w) => Some(w),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Ids are unique per data directory, so this is someone else's file (a
                    // second server on the directory, a restored backup): never clobber it.
                    error!(match_id = id, path = %path.display(), "replay file already exists; this match is not recorded");
                    None
                }
                Err(e) => {
                    warn!(match_id = id, path = %path.display(), error = %e, "cannot record replay");
                    None
                }
            }
        });
        let tick_rate = game.tick_rate;
        let sim = new_match(game, self.config.arena.clone(), map, seed)
            .expect("match settings validated before spawning");
        let mut sim = RecordedMatch::new(
            sim,
            writer.flatten(),
            server.replay_hash_interval_ticks,
            Duration::from_millis(server.replay_flush_interval_ms),
        );
        sim.set_request_config(self.config.requests.clone())
            .expect("request limits validated with the config");
        let shared = Arc::new(MatchShared {
            id,
            seats: AtomicU32::new(reserved),
            max_seats,
            spectators: AtomicU32::new(0),
            tick: AtomicU32::new(0),
            phase: AtomicU8::new(0),
            open: AtomicBool::new(true),
            created_at_ms,
            tick_rate,
            game: tickwire_proto::schema::arena::GAME_NAME.to_owned(),
            map_name: map_name.to_owned(),
            tick_p99_us: AtomicU64::new(0),
        });
        let capacity = (max_seats as usize + settings.max_spectators as usize)
            .max(1)
            .saturating_mul(server.mailbox_per_seat);
        let (tx, rx) = mpsc::channel(capacity);
        let task = MatchTask::new(
            sim,
            shared.clone(),
            rx,
            self.registry.clone(),
            settings,
            self.lifecycle.subscribe(),
            self.on_results.clone(),
        );
        let join = tokio::spawn(async move {
            task.run().await;
        });
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(join);
        MatchHandle { shared, tx }
    }

    /// Appends `record` durably; a failure is counted, logged with the path and OS error, and
    /// makes the server unready (see [`ServerState::results_failed`]).
    fn write_results(&self, record: &MatchRecord) -> Result<(), ResultsError> {
        let result = self.results_log.append(record);
        if let Err(e) = &result {
            metrics::counter!(family::RESULTS_WRITE_ERRORS.name).increment(1);
            self.results_failed.store(true, Ordering::Release);
            error!(match_id = record.match_id, error = %e, "match results lost; server no longer ready");
        }
        result
    }
}

struct GameHandler {
    state: Arc<ServerState>,
}

impl Handler for GameHandler {
    fn on_connection(self: Arc<Self>, conn: Connection) -> impl Future<Output = ()> + Send {
        crate::session::run(self.state.clone(), conn)
    }

    async fn on_http(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
        if crate::cluster::http::is_matchmaker_path(req.uri().path()) {
            crate::cluster::http::serve(&self.state, req).await
        } else {
            crate::web::serve(&req, &self.state.config.game, &self.state.config.arena)
        }
    }

    fn admit(&self, peer: SocketAddr) -> Result<Admission, Refusal> {
        // One book holds the total and the per-address counts (and seats and joins), so one
        // guard gives both back when the connection ends.
        match self.state.addresses.admit_connection(peer.ip()) {
            Ok(slot) => Ok(Admission::with_guard(slot)),
            Err(refusal) => Err(refusal.refusal()),
        }
    }
}

/// A configured server, ready to run on a listener.
#[derive(Debug, Clone)]
pub struct Server {
    state: Arc<ServerState>,
}

/// A cheap handle for inspecting a running server (tests, admin).
#[derive(Debug, Clone)]
pub struct ServerHandle {
    state: Arc<ServerState>,
}

impl Server {
    /// Validates the configuration, loads the map, and opens the data directory: the results
    /// log, the replays directory and the match id counter; errors name the path.
    pub fn new(config: Config) -> Result<Self, ServerError> {
        config.validate()?;
        if let Some(tls) = &config.net_config().tls {
            // Fail at start, naming the file, rather than on the first connection.
            tls.server_config()
                .map_err(|e| ConfigError::Invalid(format!("net.tls_cert/tls_key: {e}")))?;
        }
        let map = config.load_map()?;
        new_match(config.game.clone(), config.arena.clone(), map.clone(), 0)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut maps = BTreeMap::new();
        maps.insert(DEFAULT_MAP.to_owned(), map);
        maps.insert(OPEN_ARENA_MAP.to_owned(), MapDef::open_arena(1000, 1000));
        let data_dir = &config.server.data_dir;
        let results_log = ResultsLog::open(data_dir)?;
        if config.server.record_replays {
            let replays = data_dir.join(REPLAYS_DIR);
            std::fs::create_dir_all(&replays).map_err(|source| ServerError::DataDir {
                path: replays.clone(),
                source,
            })?;
        }
        // Belt and braces for a lost or old counter file: never below an id already used here.
        let highest_replay =
            crate::replay::highest_replay_id(data_dir).map_err(|source| ServerError::DataDir {
                path: data_dir.join(REPLAYS_DIR),
                source,
            })?;
        let floor = results_log
            .highest_match_id()?
            .max(highest_replay)
            .saturating_add(1);
        let ids = MatchIds::open(data_dir, floor)?;
        let (lifecycle, _) = watch::channel(Lifecycle::Running);
        if config.server.fault_injection {
            warn!(
                "server.fault_injection is ON: the admin API can crash matches on request \
                 (POST /matches/{{id}}/fault); never run it so in production"
            );
        }
        let addresses = AddressBook::new(AddressLimits {
            max_total: config.server.max_connections,
            max_connections: config.server.max_connections_per_ip,
            max_seats: config.server.max_seats_per_ip,
            joins_per_sec: f64::from(config.server.joins_per_ip_per_sec),
            // Nobody logs in on the game listener.
            auth_failure_burst: 0,
            auth_failure_refill: Duration::from_secs(1),
        });
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let state = Arc::new_cyclic(|weak: &std::sync::Weak<ServerState>| {
            let weak = weak.clone();
            let on_results: ResultsHook =
                Arc::new(move |record: &MatchRecord| match weak.upgrade() {
                    Some(state) => state.write_results(record),
                    // The server is gone, so nobody can hear of the match any more.
                    None => Ok(()),
                });
            ServerState {
                config,
                maps,
                registry: Arc::new(Registry::new(ids)),
                next_conn: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                results_failed: AtomicBool::new(false),
                lifecycle,
                tasks: std::sync::Mutex::new(Vec::new()),
                on_results,
                results_log,
                seed: AtomicU64::new(seed),
                addresses,
                cluster: crate::cluster::ClusterHooks::default(),
            }
        });
        Ok(Self { state })
    }

    /// A handle to inspect this server while it runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            state: self.state.clone(),
        }
    }

    /// Serves `listener` until `shutdown` resolves, then drains: readiness goes false and no new
    /// connections or joins are taken; running matches may finish within `drain_timeout_ms`,
    /// after which the rest are ended (clients get their results and close 1001). Returns once
    /// every match has written its results.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let addr = listener.local_addr()?;
        info!(%addr, "tickwire listening");
        crate::cluster::ClusterHooks::start(&self.state, addr)?;
        let handler = Arc::new(GameHandler {
            state: self.state.clone(),
        });
        let state = self.state.clone();
        let shutdown = async move {
            shutdown.await;
            // Readiness drops the moment the signal arrives.
            state.draining.store(true, Ordering::Release);
        };
        tickwire_net::serve(listener, self.state.config.net_config(), handler, shutdown).await?;
        self.drain().await;
        self.state.cluster.stopped().await;
        Ok(())
    }

    async fn drain(&self) {
        let state = &self.state;
        state.draining.store(true, Ordering::Release);
        let _ = state.lifecycle.send(Lifecycle::Draining);
        let drain = Duration::from_millis(state.config.server.drain_timeout_ms);
        info!(matches = state.registry.len(), ?drain, "draining");
        let deadline = tokio::time::Instant::now() + drain;
        while !state.registry.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = state.lifecycle.send(Lifecycle::Stopping);
        let tasks: Vec<_> =
            std::mem::take(&mut *state.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            if tokio::time::timeout(MATCH_STOP_TIMEOUT, task)
                .await
                .is_err()
            {
                warn!("a match did not stop in time");
            }
        }
        // Give writers a moment to flush final messages and close frames.
        tokio::time::sleep(Duration::from_millis(100)).await;
        info!("shutdown complete");
    }
}

impl ServerHandle {
    /// The shared server state.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    /// Ids of running matches, ascending.
    pub fn match_ids(&self) -> Vec<u64> {
        self.state
            .registry
            .all()
            .iter()
            .map(|m| m.shared.id)
            .collect()
    }

    /// Creates an empty default match and returns its id.
    pub fn create_match(&self) -> Result<u64, CreateError> {
        self.state
            .create_match(&MatchSpec::default())
            .map(|m| m.shared.id)
    }

    /// The authoritative quantized snapshot of `match_id` at `tick`, if still in its history.
    pub async fn snapshot(&self, match_id: u64, tick: u32) -> Option<Vec<EntityState>> {
        let handle = self.state.registry.get(match_id)?;
        let (reply, rx) = oneshot::channel();
        handle
            .tx
            .send(MatchCmd::Snapshot { tick, reply })
            .await
            .ok()?;
        rx.await.ok().flatten()
    }

    /// The exact view `player` of `match_id` was sent for `tick` (interest management tests).
    pub async fn sent_view(
        &self,
        match_id: u64,
        player: u32,
        tick: u32,
    ) -> Option<Vec<EntityState>> {
        let handle = self.state.registry.get(match_id)?;
        let (reply, rx) = oneshot::channel();
        let cmd = MatchCmd::SentView {
            player,
            tick,
            reply,
        };
        handle.tx.send(cmd).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Asks a match to end; false when no such match runs.
    pub async fn end_match(&self, match_id: u64, reason: EndReason) -> bool {
        match self.state.registry.get(match_id) {
            Some(h) => h.tx.send(MatchCmd::End { reason }).await.is_ok(),
            None => false,
        }
    }
}

/// Runs a server with `config` on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    Server::new(config)?.run(listener, shutdown).await
}
