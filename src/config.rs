//! The server's typed configuration. Layers, lowest precedence first: the embedded defaults in
//! `assets/server.toml`, an optional TOML file, `TICKWIRE_SECTION_KEY` environment variables,
//! then command-line flags.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tickwire_arena::{ArenaConfig, MapDef};
use tickwire_net::{NetConfig, TlsConfig};
use tickwire_sim::{ChatConfig, MatchConfig, RequestConfig};

/// The embedded default configuration file.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../assets/server.toml");
/// The embedded default map.
pub const DEFAULT_MAP_TOML: &str = include_str!("../assets/maps/arena.toml");

/// Everything the server can be configured with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listener, matches and sessions.
    pub server: ServerSection,
    /// WebSocket limits and heartbeat.
    pub net: NetSection,
    /// The admin HTTP API.
    pub admin: AdminSection,
    /// In-match chat, for every game.
    #[serde(default)]
    pub chat: ChatConfig,
    /// Game-defined requests' rate and flood limits, for every game.
    #[serde(default)]
    pub requests: RequestConfig,
    /// The engine's rules of every match: tick rate, players, duration, input limits,
    /// replication.
    #[serde(default)]
    pub game: MatchConfig,
    /// Arena's own rules: score limit, movement and weapon constants.
    #[serde(default)]
    pub arena: ArenaConfig,
    /// Soccer's own rules: pitch, ball, kicks, team size, score limit.
    #[serde(default)]
    pub soccer: tickwire_soccer::SoccerConfig,
    /// Cluster mode: Redis directory and matchmaker (off while `redis_url` is empty).
    #[serde(default)]
    pub cluster: crate::cluster::ClusterSection,
    /// Agones SDK sidecar lifecycle reports (off by default).
    #[serde(default)]
    pub agones: crate::cluster::AgonesSection,
    /// Settings of games this binary does not know, by game name (`[games.tag]`): a studio's
    /// own binary reads its game's with [`Config::game_section`]. File only (no `TICKWIRE_*`
    /// variables), and checked by the game that reads it, not here.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub games: std::collections::BTreeMap<String, toml::Table>,
}

/// The `[admin]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin API; empty disables it.
    pub listen: String,
    /// Bearer token for every admin request but `/healthz`; empty for none.
    pub token: String,
    /// Whether the admin API may listen on a non-loopback address without a token (an
    /// explicit opt-in: otherwise such a configuration refuses to start).
    pub allow_unauthenticated_remote: bool,
    /// Admin connections open at once, in total, in connections; more get HTTP 503 at once.
    pub max_connections: usize,
    /// Admin connections open at once from one IP address, in connections; more get HTTP 429.
    pub max_connections_per_ip: usize,
    /// Milliseconds a request head may take to arrive; also how long an idle keep-alive
    /// connection is kept.
    pub header_timeout_ms: u64,
    /// Milliseconds one request may take from its head to the end of its response, the body
    /// included; slower gets HTTP 408 and the connection closed.
    pub request_timeout_ms: u64,
    /// Largest request body, in bytes; larger gets HTTP 413.
    pub max_body_bytes: usize,
    /// Failed logins (missing or wrong token) one IP address may make in a burst, in attempts;
    /// past it every request from it gets HTTP 429 with `Retry-After`.
    pub auth_failure_burst: u32,
    /// Milliseconds for one more failed login to be allowed again.
    pub auth_failure_refill_ms: u64,
}

/// The `[server]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address the game listener binds.
    pub listen: SocketAddr,
    /// The game a Hello or a created match gets when it names none.
    pub default_game: String,
    /// Map file (TOML); empty for the embedded arena.
    pub map: PathBuf,
    /// Matches run at once.
    pub max_matches: usize,
    /// Spectators per match.
    pub max_spectators: usize,
    /// Milliseconds a dropped player keeps its seat.
    pub reconnect_grace_ms: u64,
    /// Milliseconds a connection has to send its Hello.
    pub hello_timeout_ms: u64,
    /// Milliseconds a match without seated players lingers before ending.
    pub empty_match_linger_ms: u64,
    /// Mailbox capacity per seat, in messages.
    pub mailbox_per_seat: usize,
    /// WebSocket connections at once, in total.
    pub max_connections: usize,
    /// WebSocket connections at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Client messages per second per connection (averaged over 2 s); never less than two
    /// per tick of the connection's match.
    pub max_messages_per_sec: u32,
    /// Seats one IP address may hold at once, counting seats in their reconnect grace period.
    pub max_seats_per_ip: u32,
    /// Joins (new seats and spectators) per second from one IP address, bursts of 2 s' worth;
    /// resumes with a session token are not counted.
    pub joins_per_ip_per_sec: u32,
    /// Milliseconds without any acknowledgement before a client is closed.
    pub stall_timeout_ms: u64,
    /// Milliseconds matches may run on after a shutdown signal.
    pub drain_timeout_ms: u64,
    /// Directory of `results.jsonl`, `replays/` and the `match_ids` counter.
    pub data_dir: PathBuf,
    /// Ticks between state hashes in replays.
    pub replay_hash_interval_ticks: u32,
    /// Milliseconds between flushes (with fsync) of a running match's replay: at most this much
    /// of a match is lost from its replay when the process is killed.
    pub replay_flush_interval_ms: u64,
    /// Whether matches record replays.
    pub record_replays: bool,
    /// Test-only: lets the admin API inject a panic into a match.
    pub fault_injection: bool,
}

/// The `[net]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSection {
    /// Largest message, bytes.
    pub max_message_bytes: usize,
    /// Milliseconds between pings.
    pub heartbeat_interval_ms: u64,
    /// Milliseconds of silence before closing.
    pub idle_timeout_ms: u64,
    /// Milliseconds the upgrade handshake may take.
    pub handshake_timeout_ms: u64,
    /// Reliable messages queued per connection.
    pub reliable_queue_len: usize,
    /// Kernel send buffer per connection, bytes; 0 for the system default.
    pub send_buffer_bytes: usize,
    /// PEM certificate chain for TLS; empty for plain TCP.
    pub tls_cert: PathBuf,
    /// PEM private key for TLS; empty for plain TCP.
    pub tls_key: PathBuf,
    /// Browser origins allowed to open a WebSocket; empty allows all.
    pub allowed_origins: Vec<String>,
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid TOML for the configuration (unknown key, wrong type, bad value).
    #[error("{path}: {message}")]
    Parse {
        /// The file (`<embedded>` for the defaults).
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A value parsed but is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The admin API would listen on a non-loopback address without a token.
    #[error(
        "admin.listen {listen} is not a loopback address and admin.token is empty: anyone who reaches it could end matches; set admin.token, listen on 127.0.0.1, or set admin.allow_unauthenticated_remote = true"
    )]
    UnauthenticatedRemoteAdmin {
        /// The configured `admin.listen`.
        listen: SocketAddr,
    },
    /// A `TICKWIRE_*` environment variable does not name a known key or holds a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
}

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "TICKWIRE_";
const SECTIONS: [&str; 9] = [
    "server", "net", "admin", "chat", "game", "arena", "soccer", "cluster", "agones",
];

impl Default for Config {
    fn default() -> Self {
        Self::parse(DEFAULT_CONFIG_TOML, Path::new("<embedded>"))
            .expect("embedded default configuration is valid")
    }
}

impl Config {
    /// Parses a whole configuration from TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(cfg)
    }

    /// Loads the embedded defaults, then `file` (if any), then the `TICKWIRE_*` variables of
    /// `env` (such as `std::env::vars_os()`); errors name the file or the variable and the key.
    /// Variables of other programs are never read, whatever bytes they hold; a `TICKWIRE_*`
    /// variable that is not UTF-8 is an error naming it.
    pub fn layered<K: Into<OsString>, V: Into<OsString>>(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(DEFAULT_CONFIG_TOML).expect("embedded TOML");
        let mut origin = PathBuf::from("<embedded>");
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let over: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            // Validate the file on its own terms first, so errors cite its own lines.
            check_file(&text, path)?;
            merge(&mut table, over);
            origin = path.to_owned();
        }
        let mut env = ours(env)?;
        env.sort();
        for (var, value) in env {
            let rest = var[ENV_PREFIX.len()..].to_ascii_lowercase();
            let Some((section, key)) = SECTIONS.iter().find_map(|s| {
                rest.strip_prefix(s)
                    .and_then(|r| r.strip_prefix('_'))
                    .map(|k| (*s, k.to_owned()))
            }) else {
                // Variables such as TICKWIRE_LOG are not configuration keys.
                continue;
            };
            let value = parse_env_value(&value);
            let mut one = table.clone();
            let sec = one
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = sec {
                t.insert(key.clone(), value);
            }
            Self::from_table(one.clone(), &origin).map_err(|e| ConfigError::Env {
                var: var.clone(),
                message: match e {
                    ConfigError::Parse { message, .. } => message,
                    other => other.to_string(),
                },
            })?;
            table = one;
        }
        Self::from_table(table, &origin)
    }

    /// The `[games.NAME]` section as a game's own settings type; its `Default` when the file
    /// has none. Unknown keys are refused if `T` refuses them (`#[serde(deny_unknown_fields)]`).
    pub fn game_section<T: serde::de::DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<T, ConfigError> {
        match self.games.get(name) {
            None => Ok(T::default()),
            Some(table) => table
                .clone()
                .try_into()
                .map_err(|e| ConfigError::Invalid(format!("games.{name}: {e}"))),
        }
    }

    /// Loads `path` over the embedded defaults (no environment).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::layered(Some(path), std::iter::empty::<(OsString, OsString)>())
    }

    fn from_table(table: toml::Table, path: &Path) -> Result<Self, ConfigError> {
        let text = toml::to_string(&table).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Self::parse(&text, path)
    }

    /// Checks ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.game
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("game: {e}")))?;
        self.arena
            .validate(&self.game)
            .map_err(|e| ConfigError::Invalid(format!("arena: {e}")))?;
        self.cluster.validate().map_err(ConfigError::Invalid)?;
        self.agones.validate().map_err(ConfigError::Invalid)?;
        self.chat
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.requests
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let n = &self.net;
        // No client message may be larger than the decoder accepts: above it a message would
        // pass the transport and then close 1007 instead of 1009.
        let limit = tickwire_proto::codec::CLIENT_MSG_LIMIT;
        if n.max_message_bytes < 256 || n.max_message_bytes > limit {
            return Err(ConfigError::Invalid(format!(
                "net.max_message_bytes must be within 256..={limit} (the client message decoder's limit)"
            )));
        }
        if n.heartbeat_interval_ms == 0 || n.idle_timeout_ms <= n.heartbeat_interval_ms {
            return Err(ConfigError::Invalid(
                "net.idle_timeout_ms must exceed net.heartbeat_interval_ms > 0".into(),
            ));
        }
        let s = &self.server;
        if s.max_connections == 0
            || s.max_connections_per_ip == 0
            || s.max_messages_per_sec == 0
            || s.max_seats_per_ip == 0
            || s.joins_per_ip_per_sec == 0
        {
            return Err(ConfigError::Invalid(
                "server.max_connections, max_connections_per_ip, max_messages_per_sec, max_seats_per_ip and joins_per_ip_per_sec must be at least 1"
                    .into(),
            ));
        }
        if s.replay_hash_interval_ticks == 0 {
            return Err(ConfigError::Invalid(
                "server.replay_hash_interval_ticks must be at least 1".into(),
            ));
        }
        if s.replay_flush_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "server.replay_flush_interval_ms must be at least 1".into(),
            ));
        }
        let a = &self.admin;
        if !a.listen.is_empty() {
            let Ok(listen) = a.listen.parse::<SocketAddr>() else {
                return Err(ConfigError::Invalid(format!(
                    "admin.listen {:?} is not an address like 127.0.0.1:7778",
                    a.listen
                )));
            };
            if !listen.ip().is_loopback() && a.token.is_empty() && !a.allow_unauthenticated_remote {
                return Err(ConfigError::UnauthenticatedRemoteAdmin { listen });
            }
        }
        if a.max_connections == 0
            || a.max_connections_per_ip == 0
            || a.header_timeout_ms == 0
            || a.request_timeout_ms == 0
            || a.max_body_bytes == 0
            || a.auth_failure_burst == 0
            || a.auth_failure_refill_ms == 0
        {
            return Err(ConfigError::Invalid(
                "admin.max_connections, max_connections_per_ip, header_timeout_ms, request_timeout_ms, max_body_bytes, auth_failure_burst and auth_failure_refill_ms must be at least 1"
                    .into(),
            ));
        }
        if n.tls_cert.as_os_str().is_empty() != n.tls_key.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "net.tls_cert and net.tls_key must be set together".into(),
            ));
        }
        if n.reliable_queue_len == 0 || self.server.mailbox_per_seat == 0 {
            return Err(ConfigError::Invalid(
                "queue lengths must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The network layer's settings.
    pub fn net_config(&self) -> NetConfig {
        NetConfig {
            max_message_bytes: self.net.max_message_bytes,
            heartbeat_interval: Duration::from_millis(self.net.heartbeat_interval_ms),
            idle_timeout: Duration::from_millis(self.net.idle_timeout_ms),
            handshake_timeout: Duration::from_millis(self.net.handshake_timeout_ms),
            reliable_queue_len: self.net.reliable_queue_len,
            tls: (!self.net.tls_cert.as_os_str().is_empty())
                .then(|| TlsConfig::new(&self.net.tls_cert, &self.net.tls_key)),
            allowed_origins: self.net.allowed_origins.clone(),
            send_buffer_bytes: (self.net.send_buffer_bytes > 0)
                .then_some(self.net.send_buffer_bytes),
            listener: crate::telemetry::family::GAME_LISTENER,
            ..NetConfig::default()
        }
    }

    /// The admin listener's settings: the game listener's accept loop with the `[admin]`
    /// timeouts, never upgrading to WebSocket.
    pub fn admin_net_config(&self) -> NetConfig {
        NetConfig {
            handshake_timeout: Duration::from_millis(self.admin.header_timeout_ms),
            ws_path: None,
            listener: crate::telemetry::family::ADMIN_LISTENER,
            ..NetConfig::default()
        }
    }

    /// Loads the configured map, or the embedded arena.
    pub fn load_map(&self) -> Result<MapDef, ConfigError> {
        let (text, path) = if self.server.map.as_os_str().is_empty() {
            (
                DEFAULT_MAP_TOML.to_owned(),
                PathBuf::from("<embedded arena>"),
            )
        } else {
            let path = self.server.map.clone();
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            (text, path)
        };
        let map: MapDef = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        map.validate().map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        })?;
        Ok(map)
    }
}

/// An environment value as TOML: numbers, booleans and arrays as such, anything else a string.
fn parse_env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// Deserializes the user's `text` with the embedded defaults filled in underneath, keeping the
/// positions of the user's own keys, so that an unknown key or a bad value is reported at its
/// line in the user's file (not in a merged document the user never saw).
fn check_file(text: &str, path: &Path) -> Result<(), ConfigError> {
    use serde::Deserialize as _;
    use toml::de::{DeTable, DeValue};

    fn fill<'i>(user: &mut DeTable<'i>, defaults: DeTable<'i>) {
        for (key, value) in defaults {
            match user.get_mut(&key) {
                None => {
                    user.insert(key, value);
                }
                Some(mine) => {
                    if let (DeValue::Table(mine), DeValue::Table(theirs)) =
                        (mine.get_mut(), value.into_inner())
                    {
                        fill(mine, theirs);
                    }
                }
            }
        }
    }

    let parse_error = |e: toml::de::Error| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut user = DeTable::parse(text).map_err(parse_error)?;
    let defaults = DeTable::parse(DEFAULT_CONFIG_TOML).expect("embedded TOML");
    fill(user.get_mut(), defaults.into_inner());
    Config::deserialize(toml::de::Deserializer::from(user))
        .map(drop)
        .map_err(|mut e| {
            e.set_input(Some(text));
            parse_error(e)
        })
}

/// The `TICKWIRE_*` variables of `env` as text. Other variables are skipped unread: the
/// process environment may hold anything, and a stranger's non-UTF-8 value is not ours to
/// refuse.
fn ours<K: Into<OsString>, V: Into<OsString>>(
    env: impl IntoIterator<Item = (K, V)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (key, value) in env {
        let (key, value) = (key.into(), value.into());
        if !key.as_encoded_bytes().starts_with(ENV_PREFIX.as_bytes()) {
            continue;
        }
        let var = key.to_string_lossy().into_owned();
        let (Some(_), Some(value)) = (key.to_str(), value.to_str()) else {
            return Err(ConfigError::Env {
                var,
                message: "is not valid UTF-8".to_owned(),
            });
        };
        out.push((var, value.to_owned()));
    }
    Ok(out)
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.game.tick_rate, 30);
        assert_eq!(c.net.max_message_bytes, 16 * 1024);
        c.load_map().unwrap();
    }

    #[test]
    fn a_studio_game_reads_its_own_section() {
        #[derive(Debug, Default, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        struct Board {
            side: u32,
            cooldown_ms: u32,
        }
        let dir = std::env::temp_dir().join(format!("tw-cfg-games-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[games.tag]\nside = 300\n").unwrap();
        let c = Config::load(&file).unwrap();
        let board: Board = c.game_section("tag").unwrap();
        assert_eq!(
            board,
            Board {
                side: 300,
                cooldown_ms: 0
            }
        );
        // No section: the game's defaults.
        assert_eq!(c.game_section::<Board>("chess").unwrap(), Board::default());
        std::fs::write(&file, "[games.tag]\nsides = 300\n").unwrap();
        let c = Config::load(&file).unwrap();
        let err = c.game_section::<Board>("tag").unwrap_err().to_string();
        assert!(err.contains("games.tag") && err.contains("sides"), "{err}");
        // A stock section is still strict.
        std::fs::write(&file, "[gmae]\ntick_rate = 20\n").unwrap();
        assert!(Config::load(&file).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn environment_overrides_file_and_names_bad_keys() {
        let dir = std::env::temp_dir().join(format!("tw-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[game]\ntick_rate = 20\nmax_players = 10\n").unwrap();
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let c = Config::layered(Some(&file), env(&[("TICKWIRE_GAME_TICK_RATE", "60")])).unwrap();
        assert_eq!((c.game.tick_rate, c.game.max_players), (60, 10));
        let c = Config::layered(
            None,
            env(&[
                ("TICKWIRE_ADMIN_TOKEN", "s3cret"),
                ("TICKWIRE_LOG", "debug"),
            ]),
        )
        .unwrap();
        assert_eq!(c.admin.token, "s3cret");
        let err = Config::layered(None, env(&[("TICKWIRE_NET_BOGUS", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TICKWIRE_NET_BOGUS") && err.contains("bogus"),
            "{err}"
        );
        let err = Config::layered(None, env(&[("TICKWIRE_GAME_TICK_RATE", "fast")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TICKWIRE_GAME_TICK_RATE") && err.contains("tick_rate"),
            "{err}"
        );
        std::fs::write(&file, "[game]\ntick_rat = 20\n").unwrap();
        let err = Config::load(&file).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("tick_rat"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_remote_admin_api_needs_a_token_or_an_explicit_opt_in() {
        let mut c = Config::default();
        c.admin.listen = "0.0.0.0:7778".into();
        let err = c.validate().unwrap_err();
        assert!(
            matches!(err, ConfigError::UnauthenticatedRemoteAdmin { .. }),
            "{err}"
        );
        let text = err.to_string();
        for key in [
            "admin.listen",
            "admin.token",
            "admin.allow_unauthenticated_remote",
        ] {
            assert!(text.contains(key), "{text}");
        }
        c.admin.allow_unauthenticated_remote = true;
        c.validate().unwrap();
        c.admin.allow_unauthenticated_remote = false;
        c.admin.token = "s3cret".into();
        c.validate().unwrap();
        c.admin.token.clear();
        c.admin.listen = "[::1]:7778".into();
        c.validate().unwrap();
        c.admin.max_body_bytes = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn unknown_keys_name_the_key_and_file() {
        let err = Config::parse(
            &DEFAULT_CONFIG_TOML.replace("[net]", "[net]\nbogus_key = 1"),
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.toml") && err.contains("bogus_key"), "{err}");
    }
}
