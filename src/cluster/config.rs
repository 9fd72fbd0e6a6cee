//! The `[cluster]` and `[agones]` configuration sections (documented with their units in
//! `assets/server.toml`).

use serde::{Deserialize, Serialize};

/// The `[cluster]` section: Redis directory, matchmaker and reservations. Off while
/// `redis_url` is empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// `redis://host:port/db` of the shared directory; empty turns cluster mode off.
    pub redis_url: String,
    /// This instance's WebSocket URL as clients reach it; empty derives `ws://LISTEN/ws`.
    pub public_url: String,
    /// This instance's id in the directory; empty picks a random one at start-up.
    pub instance_id: String,
    /// Region this instance serves; tickets name the region they want.
    pub region: String,
    /// Game this instance hosts; tickets name the game they want.
    pub game: String,
    /// Players this instance takes, in seats; 0 derives `server.max_matches * game.max_players`.
    pub capacity_players: u32,
    /// Milliseconds between heartbeats to the directory.
    pub heartbeat_interval_ms: u64,
    /// Milliseconds after its last heartbeat that an instance (and its matches) leave the
    /// directory.
    pub instance_expiry_ms: u64,
    /// Milliseconds one Redis call (connect included) may take before it counts as failed.
    pub redis_timeout_ms: u64,
    /// Milliseconds a reservation token stays valid after placement.
    pub reservation_ttl_ms: u64,
    /// Milliseconds a ticket may wait in the queue before it gives up (`timed_out`).
    pub ticket_timeout_ms: u64,
    /// Rating points either side of a ticket's rating accepted at once.
    pub rating_window: f64,
    /// Rating points the window widens by per second of waiting.
    pub rating_window_widen_per_sec: f64,
    /// Players (counting parties) a queue needs before a new match is placed for them.
    pub match_min_players: u32,
    /// Milliseconds between matchmaking passes over the queues.
    pub matchmaker_interval_ms: u64,
    /// Tickets one queue (game, mode, region) holds; more get HTTP 429.
    pub max_queue_len: u32,
    /// Tickets one IP address may open per `ticket_timeout_ms`; more get HTTP 429.
    pub max_tickets_per_ip: u32,
    /// Players in one party (ticket), in players.
    pub max_party_size: u32,
    /// Largest `/matchmake` request body, in bytes; larger gets HTTP 413.
    pub max_body_bytes: usize,
    /// Longest long-poll a `GET /matchmake/{ticket}?wait_ms=` may ask for, in milliseconds.
    pub long_poll_max_ms: u64,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            redis_url: String::new(),
            public_url: String::new(),
            instance_id: String::new(),
            region: "default".into(),
            game: tickwire_arena::schema::GAME_NAME.into(),
            capacity_players: 0,
            heartbeat_interval_ms: 1000,
            instance_expiry_ms: 5000,
            redis_timeout_ms: 1000,
            reservation_ttl_ms: 15000,
            ticket_timeout_ms: 30000,
            rating_window: 100.0,
            rating_window_widen_per_sec: 50.0,
            match_min_players: 2,
            matchmaker_interval_ms: 100,
            max_queue_len: 10000,
            max_tickets_per_ip: 32,
            max_party_size: 8,
            max_body_bytes: 4096,
            long_poll_max_ms: 10000,
        }
    }
}

impl ClusterSection {
    /// True when cluster mode is on.
    pub fn enabled(&self) -> bool {
        !self.redis_url.is_empty()
    }

    /// Checks ranges serde cannot express; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !self.enabled() {
            return Ok(());
        }
        if !self.redis_url.starts_with("redis://") && !self.redis_url.starts_with("unix://") {
            return Err(format!(
                "cluster.redis_url {:?} must start with redis:// (or unix://)",
                self.redis_url
            ));
        }
        if !self.public_url.is_empty()
            && !self.public_url.starts_with("ws://")
            && !self.public_url.starts_with("wss://")
        {
            return Err(format!(
                "cluster.public_url {:?} must be a ws:// or wss:// URL",
                self.public_url
            ));
        }
        if self.heartbeat_interval_ms == 0 || self.instance_expiry_ms <= self.heartbeat_interval_ms
        {
            return Err(
                "cluster.instance_expiry_ms must exceed cluster.heartbeat_interval_ms > 0".into(),
            );
        }
        let ones = [
            ("redis_timeout_ms", self.redis_timeout_ms),
            ("reservation_ttl_ms", self.reservation_ttl_ms),
            ("ticket_timeout_ms", self.ticket_timeout_ms),
            ("matchmaker_interval_ms", self.matchmaker_interval_ms),
            ("match_min_players", u64::from(self.match_min_players)),
            ("max_queue_len", u64::from(self.max_queue_len)),
            ("max_tickets_per_ip", u64::from(self.max_tickets_per_ip)),
            ("max_party_size", u64::from(self.max_party_size)),
            ("max_body_bytes", self.max_body_bytes as u64),
        ];
        if let Some((key, _)) = ones.iter().find(|(_, v)| *v == 0) {
            return Err(format!("cluster.{key} must be at least 1"));
        }
        let usable = |v: f64| v >= 0.0 && v.is_finite();
        if !usable(self.rating_window) || !usable(self.rating_window_widen_per_sec) {
            return Err(
                "cluster.rating_window and rating_window_widen_per_sec must be finite and >= 0"
                    .into(),
            );
        }
        for (key, v) in [("region", &self.region), ("game", &self.game)] {
            if v.is_empty() || v.len() > 64 || v.contains('|') {
                return Err(format!("cluster.{key} must be 1 to 64 bytes without '|'"));
            }
        }
        Ok(())
    }
}

/// The `[agones]` section: lifecycle reports to the Agones SDK sidecar's REST API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgonesSection {
    /// Talk to the sidecar (true/false).
    pub enabled: bool,
    /// Sidecar port on 127.0.0.1; 0 reads `AGONES_SDK_HTTP_PORT`, else 9358.
    pub sdk_port: u16,
    /// Milliseconds between Health calls.
    pub health_interval_ms: u64,
    /// Milliseconds one sidecar request may take.
    pub request_timeout_ms: u64,
}

impl Default for AgonesSection {
    fn default() -> Self {
        Self {
            enabled: false,
            sdk_port: 0,
            health_interval_ms: 2000,
            request_timeout_ms: 1000,
        }
    }
}

impl AgonesSection {
    /// Checks ranges serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && (self.health_interval_ms == 0 || self.request_timeout_ms == 0) {
            return Err(
                "agones.health_interval_ms and agones.request_timeout_ms must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// The sidecar's port: the configured one, else `AGONES_SDK_HTTP_PORT`, else 9358.
    pub fn port(&self) -> u16 {
        if self.sdk_port != 0 {
            return self.sdk_port;
        }
        std::env::var("AGONES_SDK_HTTP_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(9358)
    }
}
