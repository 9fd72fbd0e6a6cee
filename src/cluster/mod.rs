//! Cluster mode: many tickwire instances sharing one Redis directory, a matchmaker any of them
//! answers, seat reservations across instances, and the Agones lifecycle.
//!
//! - [`config`]: the `[cluster]` and `[agones]` sections.
//! - [`directory`]: the Redis connection, key layout and atomic Lua scripts.
//! - [`matchmaker`]: tickets, queues with a widening rating window, placement.
//! - [`http`]: `/matchmake` on the game port.
//! - [`agones`]: the Agones SDK sidecar's REST calls.
//!
//! Everything here is off unless `cluster.redis_url` (or `agones.enabled`) is set: the
//! embedded default never touches Redis. A running match never waits on Redis: the directory
//! only decides where new players go, so Redis going away stops matchmaking (HTTP 503) and
//! nothing else.

pub mod agones;
pub mod config;
pub mod directory;
pub mod http;
pub mod matchmaker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use redis::Script;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tickwire_proto::msg::{RESERVATION_TOKEN_LEN, RejectReason, SESSION_SECRET_LEN, SessionToken};
use tracing::{info, warn};

pub use config::{AgonesSection, ClusterSection};
use directory::{DirectoryError, Redis};

use crate::registry::MatchHandle;
use crate::state::{MatchSpec, ServerState};
use crate::telemetry::family;

/// How long the directory remembers which instance issued a session, for resumes presented
/// to another instance: longer than any match lasts.
const SEAT_MEMORY: Duration = Duration::from_secs(2 * 3600);

/// What the server holds of cluster mode and Agones; both empty by default.
#[derive(Debug, Default)]
pub struct ClusterHooks {
    cluster: OnceLock<Arc<Cluster>>,
    agones: OnceLock<Arc<agones::Agones>>,
}

impl ClusterHooks {
    /// The cluster, once cluster mode started.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// The Agones client, when `agones.enabled`.
    pub fn agones(&self) -> Option<&Arc<agones::Agones>> {
        self.agones.get()
    }

    /// Starts what the configuration turns on for `state`, whose game listener is bound at
    /// `addr`: cluster mode and the Agones reports. A second call changes nothing.
    pub fn start(state: &Arc<ServerState>, addr: SocketAddr) -> Result<(), DirectoryError> {
        if state.config.cluster.enabled() && state.cluster.cluster.get().is_none() {
            let cluster = Cluster::start(state, addr)?;
            let _ = state.cluster.cluster.set(cluster);
        }
        if state.config.agones.enabled && state.cluster.agones.get().is_none() {
            let _ = state.cluster.agones.set(agones::Agones::start(state));
        }
        Ok(())
    }

    /// After the drain: leaves the directory and tells Agones to shut down.
    pub async fn stopped(&self) {
        if let Some(c) = self.cluster.get() {
            c.leave().await;
        }
        if let Some(a) = self.agones.get() {
            a.shutdown().await;
        }
    }
}

/// One cluster match this instance hosts: the local match it runs as, and its queue facts.
#[derive(Clone, Debug)]
struct LocalMatch {
    local_id: u64,
    queue: String,
    capacity: u32,
    rating: String,
}

/// The compiled Lua scripts (sent by hash; reloaded by the client after a Redis restart).
#[derive(Debug)]
struct Scripts {
    heartbeat: Script,
    match_upsert: Script,
    match_remove: Script,
    place_new: Script,
    backfill: Script,
    consume: Script,
    finish: Script,
    open: Script,
}

/// This instance's membership of the cluster.
#[derive(Debug)]
pub struct Cluster {
    cfg: ClusterSection,
    id: String,
    url: String,
    redis: Redis,
    state: Weak<ServerState>,
    local: DashMap<u64, LocalMatch>,
    create: tokio::sync::Mutex<()>,
    scripts: Scripts,
    capacity: u32,
    match_size: u32,
    up: AtomicBool,
    last_warn: std::sync::Mutex<Option<Instant>>,
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory key naming the instance that issued a session: a SHA-1 of its secret.
fn session_key(secret: &[u8; SESSION_SECRET_LEN]) -> String {
    use sha1::Digest;
    format!("tw:sess:{}", hex(&sha1::Sha1::digest(secret)))
}

/// 16 random bytes from the OS as hex: ticket ids and reservation tokens.
fn random_hex() -> String {
    hex(&crate::session_token::new_secret())
}

impl Cluster {
    /// Joins the cluster for `state`, whose game listener is bound at `addr`: starts the
    /// heartbeat and matchmaker tasks (they stop when the server is dropped). Redis need not be
    /// up yet: the heartbeat keeps trying.
    pub fn start(state: &Arc<ServerState>, addr: SocketAddr) -> Result<Arc<Self>, DirectoryError> {
        let cfg = state.config.cluster.clone();
        let id = if cfg.instance_id.is_empty() {
            random_hex()[..12].to_owned()
        } else {
            cfg.instance_id.clone()
        };
        let url = if cfg.public_url.is_empty() {
            let scheme = if state.config.net.tls_cert.as_os_str().is_empty() {
                "ws"
            } else {
                "wss"
            };
            format!("{scheme}://{addr}/ws")
        } else {
            cfg.public_url.clone()
        };
        let match_size = u32::from(state.config.game.max_players);
        let capacity = if cfg.capacity_players == 0 {
            u32::try_from(state.config.server.max_matches)
                .unwrap_or(u32::MAX)
                .saturating_mul(match_size)
        } else {
            cfg.capacity_players
        };
        let redis = Redis::new(&cfg.redis_url, Duration::from_millis(cfg.redis_timeout_ms))?;
        let cluster = Arc::new(Self {
            cfg,
            id,
            url,
            redis,
            state: Arc::downgrade(state),
            local: DashMap::new(),
            create: tokio::sync::Mutex::new(()),
            scripts: Scripts {
                heartbeat: Script::new(directory::HEARTBEAT),
                match_upsert: Script::new(directory::MATCH_UPSERT),
                match_remove: Script::new(directory::MATCH_REMOVE),
                place_new: Script::new(&directory::place_new_script()),
                backfill: Script::new(&directory::backfill_script()),
                consume: Script::new(directory::CONSUME),
                finish: Script::new(directory::FINISH_TICKET),
                open: Script::new(directory::OPEN_TICKET),
            },
            capacity,
            match_size,
            up: AtomicBool::new(false),
            last_warn: std::sync::Mutex::new(None),
        });
        info!(instance = %cluster.id, url = %cluster.url, "cluster mode: joining the directory");
        tokio::spawn(heartbeat_loop(Arc::downgrade(&cluster)));
        tokio::spawn(matchmaker::run(Arc::downgrade(&cluster)));
        Ok(cluster)
    }

    /// This instance's id in the directory.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// This instance's public WebSocket URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True when the last Redis call succeeded.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Records the outcome of a Redis call: a WARN at most every 5 s while it fails.
    fn note<T>(&self, r: Result<T, DirectoryError>) -> Result<T, DirectoryError> {
        match &r {
            Ok(_) => {
                if !self.up.swap(true, Ordering::AcqRel) {
                    info!(instance = %self.id, "cluster directory reachable");
                }
            }
            Err(e) => {
                self.up.store(false, Ordering::Release);
                metrics::counter!(family::CLUSTER_REDIS_ERRORS.name).increment(1);
                let mut last = self.last_warn.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                    *last = Some(Instant::now());
                    warn!(instance = %self.id, error = %e, "cluster directory unavailable; matchmaking answers 503, running matches go on");
                }
            }
        }
        r
    }

    /// One heartbeat: this instance and its cluster matches, with fresh expiries; ended
    /// matches leave the directory.
    async fn beat(&self, state: &ServerState) -> Result<(), DirectoryError> {
        let draining = state.is_draining();
        let expiry = self.cfg.instance_expiry_ms;
        let mut load = 0u64;
        let local: Vec<(u64, LocalMatch)> = self
            .local
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        for (cmid, lm) in local {
            match state.registry.get(lm.local_id) {
                None => {
                    let script = &self.scripts.match_remove;
                    let id = self.id.clone();
                    self.redis
                        .run(|mut c| async move {
                            script.arg(cmid).arg(id).invoke_async::<i64>(&mut c).await
                        })
                        .await?;
                    self.local.remove(&cmid);
                }
                Some(h) => {
                    load += u64::from(lm.capacity);
                    let players = h.shared.seats.load(Ordering::Acquire);
                    let open = h.shared.open.load(Ordering::Acquire) && !draining;
                    let script = &self.scripts.match_upsert;
                    let id = self.id.clone();
                    self.redis
                        .run(|mut c| async move {
                            script
                                .arg(cmid)
                                .arg(id)
                                .arg(&lm.queue)
                                .arg(lm.capacity)
                                .arg(&lm.rating)
                                .arg(players)
                                .arg(if open { "1" } else { "0" })
                                .arg(expiry)
                                .invoke_async::<i64>(&mut c)
                                .await
                        })
                        .await?;
                }
            }
        }
        let players: u32 = state
            .registry
            .all()
            .iter()
            .map(|m| m.shared.seats.load(Ordering::Acquire))
            .sum();
        let matches = state.registry.len();
        let hosted: Vec<u64> = self.local.iter().map(|e| *e.key()).collect();
        let stale_ms = self.cfg.reservation_ttl_ms + 2 * self.cfg.heartbeat_interval_ms;
        let script = &self.scripts.heartbeat;
        self.redis
            .run(|mut c| async move {
                script
                    .arg(&self.id)
                    .arg(&self.url)
                    .arg(&self.cfg.game)
                    .arg(&self.cfg.region)
                    .arg(self.capacity)
                    .arg(self.match_size)
                    .arg(players)
                    .arg(matches)
                    .arg(if draining { "1" } else { "0" })
                    .arg(if draining { "draining" } else { "ready" })
                    .arg(expiry)
                    .arg(load)
                    .arg(stale_ms)
                    .arg(&hosted)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    /// Leaves the directory at once (end of a drain), so nothing is placed here any more.
    pub async fn leave(&self) {
        let id = self.id.clone();
        let r = self
            .redis
            .run(|mut c| async move {
                redis::pipe()
                    .cmd("DEL")
                    .arg(format!("tw:inst:{id}"))
                    .ignore()
                    .cmd("ZREM")
                    .arg("tw:instances")
                    .arg(&id)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        let _ = self.note(r);
    }

    /// Takes the reservation `token` for cluster match `cmid` on this instance: checks it in
    /// constant time against the match's outstanding tokens, uses it up atomically, and returns
    /// the local match hosting the cluster match (created on the first reservation).
    pub async fn take_reservation(
        &self,
        state: &Arc<ServerState>,
        cmid: u64,
        token: &[u8; RESERVATION_TOKEN_LEN],
    ) -> Result<MatchHandle, (RejectReason, String)> {
        let unavailable = |e: DirectoryError| {
            (
                RejectReason::ClusterUnavailable,
                format!("the reservation cannot be checked: {e}"),
            )
        };
        let key = format!("tw:rs:{cmid}");
        let all: HashMap<String, String> =
            self
                .note(
                    self.redis
                        .run(|mut c| async move {
                            redis::cmd("HGETALL").arg(key).query_async(&mut c).await
                        })
                        .await,
                )
                .map_err(unavailable)?;
        let presented = hex(token);
        let mut found = None;
        // Every outstanding token is compared, each in constant time.
        for (field, value) in &all {
            let stored = value.split(' ').next().unwrap_or("");
            let same: bool = stored.as_bytes().ct_eq(presented.as_bytes()).into();
            if same && found.is_none() {
                found = Some((field.clone(), value.clone()));
            }
        }
        let bad = |m: &str| (RejectReason::BadReservation, m.to_owned());
        let Some((field, value)) = found else {
            return Err(bad(
                "the reservation token is unknown, already used or expired; matchmake again",
            ));
        };
        let script = &self.scripts.consume;
        let id = self.id.clone();
        let answer: redis::Value = self
            .note(
                self.redis
                    .run(|mut c| async move {
                        script
                            .arg(cmid)
                            .arg(field)
                            .arg(value)
                            .arg(id)
                            .invoke_async(&mut c)
                            .await
                    })
                    .await,
            )
            .map_err(unavailable)?;
        let facts: Vec<String> = match answer {
            redis::Value::Array(items) => items
                .into_iter()
                .map(|v| redis::from_redis_value::<String>(&v).unwrap_or_default())
                .collect(),
            other => {
                let word = redis::from_redis_value::<String>(&other).unwrap_or_default();
                return Err(match word.as_str() {
                    "expired" => bad("the reservation expired; matchmake again"),
                    "elsewhere" => bad("the reservation is for another instance"),
                    _ => bad("the reservation token was already used"),
                });
            }
        };
        let capacity: u32 = facts.first().and_then(|c| c.parse().ok()).unwrap_or(0);
        if capacity == 0 {
            return Err(bad("the reserved match left the directory"));
        }
        let _guard = self.create.lock().await;
        if let Some(lm) = self.local.get(&cmid).map(|e| e.value().clone()) {
            if let Some(h) = state.registry.get(lm.local_id) {
                return Ok(h);
            }
            return Err((
                RejectReason::NoSuchMatch,
                "the reserved match has ended".to_owned(),
            ));
        }
        let spec = MatchSpec {
            game: None,
            max_players: Some(u16::try_from(capacity).unwrap_or(u16::MAX)),
            ..MatchSpec::default()
        };
        let handle = state.create_match(&spec).map_err(|e| {
            let reason = if state.is_draining() {
                RejectReason::Draining
            } else {
                RejectReason::Full
            };
            (reason, format!("cannot host the reserved match: {e}"))
        })?;
        self.local.insert(
            cmid,
            LocalMatch {
                local_id: handle.shared.id,
                queue: facts.get(1).cloned().unwrap_or_default(),
                capacity,
                rating: facts.get(2).cloned().unwrap_or_default(),
            },
        );
        Ok(handle)
    }

    /// Remembers that this instance issued the session whose secret is `secret`, so a resume
    /// presented to another instance can be sent here. Secrets are random, so this never
    /// confuses two instances' matches that share a local id; only a hash is stored.
    pub async fn record_session(&self, secret: &[u8; SESSION_SECRET_LEN]) {
        let key = session_key(secret);
        let id = self.id.clone();
        let r = self
            .redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(id)
                    .arg("PX")
                    .arg(SEAT_MEMORY.as_millis() as u64)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        let _ = self.note(r);
    }

    /// Where a session this instance could not resume lives: `SeatElsewhere` with the URL of
    /// the live instance that issued it, `InstanceGone` when that instance left the
    /// directory, `ClusterUnavailable` when Redis cannot say, `None` when no other instance
    /// issued it.
    pub async fn locate_session(&self, token: &SessionToken) -> Option<(RejectReason, String)> {
        let key = session_key(&token.secret);
        let unavailable = |e: DirectoryError| {
            Some((
                RejectReason::ClusterUnavailable,
                format!("the session's instance cannot be looked up: {e}"),
            ))
        };
        let issued: Result<Option<String>, _> = self
            .redis
            .run(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await;
        let issuer = match self.note(issued) {
            Ok(Some(id)) if id != self.id => id,
            Ok(_) => return None,
            Err(e) => return unavailable(e),
        };
        let key = format!("tw:inst:{issuer}");
        let url: Result<Option<String>, _> = self
            .redis
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg("url")
                    .query_async(&mut c)
                    .await
            })
            .await;
        match self.note(url) {
            Ok(Some(url)) => Some((RejectReason::SeatElsewhere, url)),
            Ok(None) => Some((
                RejectReason::InstanceGone,
                "the instance that held this seat has left the cluster; matchmake again".to_owned(),
            )),
            Err(e) => unavailable(e),
        }
    }

    /// The cluster as the admin API's `GET /cluster` shows it.
    pub async fn view(&self) -> Result<ClusterView, DirectoryError> {
        let dir = self.note(matchmaker::directory(self).await)?;
        let queues = self.note(matchmaker::queue_views(self).await)?;
        Ok(ClusterView {
            instance_id: self.id.clone(),
            instances: dir,
            queues,
        })
    }
}

/// `GET /cluster`: every live instance with its matches, and every queue.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    /// The instance that answered.
    pub instance_id: String,
    /// Live instances.
    pub instances: Vec<matchmaker::InstanceView>,
    /// Matchmaker queues.
    pub queues: Vec<matchmaker::QueueView>,
}

async fn heartbeat_loop(weak: Weak<Cluster>) {
    let mut last_beat: Option<Instant> = None;
    let mut was_draining = false;
    loop {
        let Some(cluster) = weak.upgrade() else {
            return;
        };
        let Some(state) = cluster.state.upgrade() else {
            return;
        };
        let period = Duration::from_millis(cluster.cfg.heartbeat_interval_ms);
        let draining = state.is_draining();
        // A drain is announced at once, not at the next period: no placement may land here.
        if last_beat.is_none_or(|t| t.elapsed() >= period) || draining != was_draining {
            was_draining = draining;
            last_beat = Some(Instant::now());
            let r = cluster.beat(&state).await;
            let _ = cluster.note(r);
        }
        drop(state);
        drop(cluster);
        tokio::time::sleep(Duration::from_millis(50).min(period)).await;
    }
}
