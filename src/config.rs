//! The server's typed configuration: the embedded defaults in `assets/server.toml`, an optional
//! file over them, then command-line overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tickwire_net::NetConfig;
use tickwire_sim::{GameConfig, MapDef};

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
    /// The game's rules and tick rate.
    #[serde(default)]
    pub game: GameConfig,
}

/// The `[server]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address the game listener binds.
    pub listen: SocketAddr,
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
}

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

    /// Loads `path`, whose keys override the embedded defaults (a file may set only some keys).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut base: toml::Table = toml::from_str(DEFAULT_CONFIG_TOML).expect("embedded TOML");
        let over: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        merge(&mut base, over);
        let merged = toml::to_string(&base).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Self::parse(&merged, path)
    }

    /// Checks ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.game
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("game: {e}")))?;
        let n = &self.net;
        if n.max_message_bytes < 256 || n.max_message_bytes > 1 << 20 {
            return Err(ConfigError::Invalid(
                "net.max_message_bytes must be within 256..=1048576".into(),
            ));
        }
        if n.heartbeat_interval_ms == 0 || n.idle_timeout_ms <= n.heartbeat_interval_ms {
            return Err(ConfigError::Invalid(
                "net.idle_timeout_ms must exceed net.heartbeat_interval_ms > 0".into(),
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
