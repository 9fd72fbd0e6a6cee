//! What every part of the server shares while it runs: the configuration, the registry of
//! matches, seat placement, match creation and the results log. The listener (`server`), the
//! sessions, the admin API and the cluster each hold an `Arc<ServerState>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tickwire_proto::schema::Schema;
use tickwire_sim::MatchConfig;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, warn};

use crate::address::AddressBook;
use crate::config::Config;
use crate::games::{Games, HostedGame};
use crate::match_ids::MatchIdError;
use crate::match_loop::{
    ConnId, Lifecycle, MatchSettings, MatchTask, ResultsHook, run_blocking, unix_ms,
};
use crate::registry::{MatchHandle, MatchShared, Registry, RegistryError};
use crate::replay::{Record, RecordedMatch, ReplayWriter};
use crate::results::{MatchRecord, ResultsError, ResultsLog};
use crate::telemetry::family;

/// A match to create: overrides of the configured rules.
#[derive(Clone, Debug, Default)]
pub struct MatchSpec {
    /// The game's registered name; default the server's default game.
    pub game: Option<String>,
    /// Map name, one of the game's; default the game's default map.
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
    #[error("unknown game {0:?}: this server hosts {1}")]
    UnknownGame(String, String),
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

/// One match to spawn: its id, the seats already reserved in it, the engine's rules and the
/// game's map.
#[derive(Clone, Debug)]
pub(crate) struct Spawn {
    /// The match id.
    pub(crate) id: u64,
    /// Seats reserved before the match exists (1 for a join that creates it).
    pub(crate) reserved: u32,
    /// The engine's rules.
    pub(crate) rules: MatchConfig,
    /// The map's name, one of the game's.
    pub(crate) map_name: String,
}

/// State shared by every connection and match of one server.
pub struct ServerState {
    /// The effective configuration.
    pub config: Config,
    /// The games this server hosts, by name.
    pub games: Games,
    /// Running matches.
    pub registry: Arc<Registry>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) draining: AtomicBool,
    pub(crate) results_failed: AtomicBool,
    pub(crate) lifecycle: watch::Sender<Lifecycle>,
    pub(crate) tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    pub(crate) on_results: ResultsHook,
    pub(crate) results_log: ResultsLog,
    pub(crate) seed: AtomicU64,
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

    /// Reserves a seat in an open match of `game` (`None`: the default game), creating a match
    /// when none has room; `None` when draining, at capacity or the game is unknown.
    pub fn reserve_seat(self: &Arc<Self>, game: Option<&str>) -> Option<MatchHandle> {
        if self.is_draining() {
            return None;
        }
        let hosted = self.games.get(game)?.clone();
        self.registry
            .reserve_or_create(hosted.name(), self.config.server.max_matches, |id| {
                let mut rules = self.config.game.clone();
                hosted.adapt_rules(&mut rules);
                let spawn = Spawn {
                    id,
                    reserved: 1,
                    rules,
                    map_name: hosted.default_map().to_owned(),
                };
                hosted.spawn(self, spawn)
            })
            .map_err(|e| match e {
                CreateError::Ids(e) => {
                    error!(error = %e, "cannot allocate a match id; no match created");
                }
                CreateError::AtCapacity => {}
                e => error!(error = %e, "cannot create a match of the default rules"),
            })
            .ok()
    }

    /// Creates an empty match (for matchmakers, the admin API and tests).
    pub fn create_match(self: &Arc<Self>, spec: &MatchSpec) -> Result<MatchHandle, CreateError> {
        if self.is_draining() {
            return Err(CreateError::Draining);
        }
        let hosted = self.games.get(spec.game.as_deref()).ok_or_else(|| {
            CreateError::UnknownGame(spec.game.clone().unwrap_or_default(), self.games.names())
        })?;
        let mut rules = self.config.game.clone();
        if let Some(rate) = spec.tick_rate {
            rules.tick_rate = rate;
        }
        if let Some(n) = spec.max_players {
            rules.max_players = n;
            rules.min_players = rules.min_players.min(n.max(1));
        }
        hosted.adapt_rules(&mut rules);
        // The configured default may exceed what a game holds and is cut to fit; seats asked for
        // by name are refused instead, so that nobody is handed a smaller match than asked.
        if let Some(n) = spec.max_players.filter(|&n| n > rules.max_players) {
            return Err(CreateError::Invalid(format!(
                "max_players {n}: a match of {} holds at most {} players",
                hosted.name(),
                rules.max_players
            )));
        }
        let map_name = spec.map.as_deref().unwrap_or(hosted.default_map());
        hosted.check(&rules, map_name)?;
        self.registry.create(self.config.server.max_matches, |id| {
            let spawn = Spawn {
                id,
                reserved: 0,
                rules,
                map_name: map_name.to_owned(),
            };
            hosted.spawn(self, spawn)
        })
    }

    /// Builds the match `spawn` describes as a match of `G` on `setup` and starts its task.
    pub(crate) fn spawn_match<G: HostedGame>(
        self: &Arc<Self>,
        schema: Arc<Schema>,
        spawn: Spawn,
        setup: G::Setup,
    ) -> Result<MatchHandle, CreateError> {
        let Spawn {
            id,
            reserved,
            rules,
            map_name,
        } = spawn;
        let rate = u64::from(rules.tick_rate.max(1));
        let ms_to_ticks = |ms: u64| u32::try_from(ms * rate / 1000).unwrap_or(u32::MAX);
        let server = &self.config.server;
        let settings = MatchSettings {
            grace_ticks: ms_to_ticks(server.reconnect_grace_ms).max(1),
            linger_ticks: ms_to_ticks(server.empty_match_linger_ms).max(1),
            max_spectators: u32::try_from(server.max_spectators).unwrap_or(u32::MAX),
            stall_ticks: ms_to_ticks(server.stall_timeout_ms).max(1),
            map_name: map_name.clone(),
            chat: self.config.chat.clone(),
        };
        let max_seats = u32::from(rules.max_players);
        let seed = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            ^ id;
        let game = G::create(&rules, &setup, seed).map_err(CreateError::Invalid)?;
        let sim = tickwire_sim::Match::new(rules.clone(), game)
            .map_err(|e| CreateError::Invalid(e.to_string()))?;
        let created_at_ms = unix_ms();
        let writer = server.record_replays.then(|| {
            let header = Record::Header {
                match_id: id,
                seed,
                started_at_ms: created_at_ms,
                game_name: schema.name().to_owned(),
                schema_hash: schema.hash(),
                map_name: map_name.clone(),
                game: rules.clone(),
                setup: serde_json::to_string(&setup).unwrap_or_default(),
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
        let tick_rate = rules.tick_rate;
        let mut sim = RecordedMatch::new(
            sim,
            writer.flatten(),
            server.replay_hash_interval_ticks,
            Duration::from_millis(server.replay_flush_interval_ms),
        );
        sim.set_request_config(self.config.requests.clone())
            .map_err(|e| CreateError::Invalid(e.to_string()))?;
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
            game: schema.name().to_owned(),
            map_name,
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
            settings,
            self.lifecycle.subscribe(),
            self.on_results.clone(),
        );
        // The registry forgets the match once its task is over (results written, clients
        // told), so the match task itself never needs the registry.
        let registry = self.registry.clone();
        let join = tokio::spawn(async move {
            task.run().await;
            registry.remove(id);
        });
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(join);
        Ok(MatchHandle { shared, tx })
    }

    /// Appends `record` durably; a failure is counted, logged with the path and OS error, and
    /// makes the server unready (see [`ServerState::results_failed`]).
    pub(crate) fn write_results(&self, record: &MatchRecord) -> Result<(), ResultsError> {
        let result = self.results_log.append(record);
        if let Err(e) = &result {
            metrics::counter!(family::RESULTS_WRITE_ERRORS.name).increment(1);
            self.results_failed.store(true, Ordering::Release);
            error!(match_id = record.match_id, error = %e, "match results lost; server no longer ready");
        }
        result
    }
}
