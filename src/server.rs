//! The assembled server: the network layer's handler, the match registry and the shutdown
//! sequence.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tickwire_net::{Connection, Handler};
use tickwire_proto::EntityState;
use tickwire_proto::msg::EndReason;
use tickwire_sim::{MapDef, Match};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::match_loop::{ConnId, MatchCmd, MatchSettings, MatchTask, ResultsHook};
use crate::registry::{MatchHandle, MatchShared, Registry};

/// A server that failed to start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration or map is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener failed.
    #[error("listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// How long shutdown waits for match tasks to report their results.
const MATCH_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// State shared by every connection and match of one server.
pub struct ServerState {
    /// The effective configuration.
    pub config: Config,
    /// The map every match plays.
    pub map: MapDef,
    /// Running matches.
    pub registry: Arc<Registry>,
    next_conn: AtomicU64,
    draining: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    on_results: ResultsHook,
    seed: AtomicU64,
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

    /// True once shutdown began: no new joins.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Reserves a seat in an open match, creating a match when none has room.
    pub fn reserve_seat(self: &Arc<Self>) -> Option<MatchHandle> {
        self.registry
            .reserve_or_create(self.config.server.max_matches, |id| self.spawn_match(id, 1))
    }

    /// Creates an empty match (for matchmakers and tests); `None` at the match cap.
    pub fn create_match(self: &Arc<Self>) -> Option<MatchHandle> {
        self.registry
            .create(self.config.server.max_matches, |id| self.spawn_match(id, 0))
    }

    fn spawn_match(self: &Arc<Self>, id: u64, reserved: u32) -> MatchHandle {
        let game = self.config.game.clone();
        let rate = u64::from(game.tick_rate.max(1));
        let ms_to_ticks = |ms: u64| u32::try_from(ms * rate / 1000).unwrap_or(u32::MAX);
        let settings = MatchSettings {
            grace_ticks: ms_to_ticks(self.config.server.reconnect_grace_ms).max(1),
            linger_ticks: ms_to_ticks(self.config.server.empty_match_linger_ms).max(1),
            max_spectators: u32::try_from(self.config.server.max_spectators).unwrap_or(u32::MAX),
        };
        let max_seats = u32::from(game.max_players);
        let seed = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            ^ id;
        let sim =
            Match::new(game, self.map.clone(), seed).expect("configuration validated at start");
        let shared = Arc::new(MatchShared {
            id,
            seats: AtomicU32::new(reserved),
            max_seats,
            spectators: AtomicU32::new(0),
            tick: AtomicU32::new(0),
            phase: AtomicU8::new(0),
            open: AtomicBool::new(true),
            created_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        });
        let capacity = (max_seats as usize + settings.max_spectators as usize)
            .max(1)
            .saturating_mul(self.config.server.mailbox_per_seat);
        let (tx, rx) = mpsc::channel(capacity);
        let task = MatchTask::new(
            sim,
            shared.clone(),
            rx,
            self.registry.clone(),
            settings,
            self.shutdown_tx.subscribe(),
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
}

struct GameHandler {
    state: Arc<ServerState>,
}

impl Handler for GameHandler {
    fn on_connection(self: Arc<Self>, conn: Connection) -> impl Future<Output = ()> + Send {
        crate::session::run(self.state.clone(), conn)
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
    /// Validates the configuration and loads the map.
    pub fn new(config: Config) -> Result<Self, ServerError> {
        Self::with_results_hook(config, Arc::new(|_| {}))
    }

    /// Like [`Server::new`], calling `on_results` with each match's final results.
    pub fn with_results_hook(config: Config, on_results: ResultsHook) -> Result<Self, ServerError> {
        config.validate()?;
        let map = config.load_map()?;
        Match::new(config.game.clone(), map.clone(), 0)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let (shutdown_tx, _) = watch::channel(false);
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(Self {
            state: Arc::new(ServerState {
                config,
                map,
                registry: Arc::new(Registry::new()),
                next_conn: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                shutdown_tx,
                tasks: std::sync::Mutex::new(Vec::new()),
                on_results,
                seed: AtomicU64::new(seed),
            }),
        })
    }

    /// A handle to inspect this server while it runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            state: self.state.clone(),
        }
    }

    /// Serves `listener` until `shutdown` resolves; then refuses new players, ends every match
    /// (clients get their results and close 1001) and returns once they reported.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let addr = listener.local_addr()?;
        info!(%addr, "tickwire listening");
        let handler = Arc::new(GameHandler {
            state: self.state.clone(),
        });
        tickwire_net::serve(listener, self.state.config.net_config(), handler, shutdown).await?;
        info!("shutting down: ending matches");
        self.state.draining.store(true, Ordering::Release);
        let _ = self.state.shutdown_tx.send(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.state.tasks.lock().unwrap_or_else(|e| e.into_inner()));
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
        Ok(())
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

    /// Creates an empty match and returns its id (`None` at the match cap).
    pub fn create_match(&self) -> Option<u64> {
        self.state.create_match().map(|m| m.shared.id)
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
