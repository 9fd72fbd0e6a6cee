//! The assembled server: the network layer's handler, connection caps, the match registry,
//! durable results, replays and the shutdown sequence.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tickwire_arena::EntityState;
use tickwire_net::{Admission, Connection, Handler, Refusal};
use tickwire_proto::msg::EndReason;
use tickwire_proto::schema::rows::EntityRow;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use crate::address::{AddressBook, AddressLimits};
use crate::config::{Config, ConfigError};
pub use crate::games::Games;
pub use crate::games::arena::{
    BIG_MAP, BIG_MAP_DEFAULT_RADIUS, BIG_MAP_VISIBLE, DEFAULT_MAP, OPEN_ARENA_MAP,
};
use crate::match_ids::{MatchIdError, MatchIds};
use crate::match_loop::{Lifecycle, MatchCmd, ResultsHook};
use crate::registry::Registry;
use crate::replay::REPLAYS_DIR;
use crate::results::{MatchRecord, ResultsError, ResultsLog};
pub use crate::state::{CreateError, MatchSpec, ServerState};

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
            crate::web::serve(&req, &self.state.games, &self.state.config.game)
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
    /// log, the replays directory and the match id counter; errors name the path. Hosts the
    /// games this binary is built with ([`crate::games::builtin`]).
    pub fn new(config: Config) -> Result<Self, ServerError> {
        let games = crate::games::builtin(&config)?;
        Self::with_games(config, games)
    }

    /// [`Server::new`] hosting `games`, the first registered being the default: how a studio's
    /// binary hosts its own game.
    pub fn with_games(config: Config, games: Games) -> Result<Self, ServerError> {
        config.validate()?;
        if let Some(tls) = &config.net_config().tls {
            // Fail at start, naming the file, rather than on the first connection.
            tls.server_config()
                .map_err(|e| ConfigError::Invalid(format!("net.tls_cert/tls_key: {e}")))?;
        }
        if games.default_name().is_none() {
            return Err(ConfigError::Invalid("no game is registered".into()).into());
        }
        // The configured rules must build a match of every game on its default map.
        for game in games.hosted() {
            let mut rules = config.game.clone();
            game.adapt_rules(&mut rules);
            game.check(&rules, game.default_map())
                .map_err(|e| ConfigError::Invalid(format!("{}: {e}", game.name())))?;
        }
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
                games,
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

    /// The authoritative quantized snapshot of `match_id` at `tick` as arena entities, if still
    /// in its history (see [`ServerHandle::snapshot_rows`]).
    pub async fn snapshot(&self, match_id: u64, tick: u32) -> Option<Vec<EntityState>> {
        arena_entities(self.snapshot_rows(match_id, tick).await?)
    }

    /// The authoritative snapshot of `match_id` at `tick` as rows of its game's schema, if
    /// still in its history.
    pub async fn snapshot_rows(&self, match_id: u64, tick: u32) -> Option<Vec<EntityRow>> {
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
        arena_entities(rx.await.ok().flatten()?)
    }

    /// Asks a match to end; false when no such match runs.
    pub async fn end_match(&self, match_id: u64, reason: EndReason) -> bool {
        match self.state.registry.get(match_id) {
            Some(h) => h.tx.send(MatchCmd::End { reason }).await.is_ok(),
            None => false,
        }
    }
}

/// Arena entities of arena rows (`None` if any row is not one).
fn arena_entities(rows: Vec<EntityRow>) -> Option<Vec<EntityState>> {
    rows.iter()
        .map(tickwire_arena::schema::entity_from_row)
        .collect()
}

/// Runs a server hosting `games` with `config` on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    games: Games,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    Server::with_games(config, games)?
        .run(listener, shutdown)
        .await
}
