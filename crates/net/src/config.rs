//! Tunables for the server side of a connection.

use std::time::Duration;

use crate::tls::TlsConfig;

/// Limits and timers applied to every server-side WebSocket connection.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Largest whole (reassembled) message accepted from a peer, in bytes; anything bigger closes with 1009.
    pub max_message_bytes: usize,
    /// How often the server sends a Ping, as a duration.
    pub heartbeat_interval: Duration,
    /// How long nothing at all (no frame, no pong) may arrive before closing with 4000, as a duration.
    pub idle_timeout: Duration,
    /// How long the HTTP request and upgrade may take before the TCP connection is dropped, as a duration.
    pub handshake_timeout: Duration,
    /// Capacity of the reliable queue, in messages; overflowing it closes with 1008.
    pub reliable_queue_len: usize,
    /// Whether text messages are delivered; when false a text message closes with 1003.
    pub allow_text: bool,
    /// HTTP path that upgrades to WebSocket; `None` never upgrades (a plain HTTP listener such
    /// as the admin API, served through the same hardened accept loop).
    pub ws_path: Option<String>,
    /// Name of this listener in logs and in the `listener` label of
    /// `tickwire_connections_refused_total` (`game`, `admin`).
    pub listener: &'static str,
    /// Serve TLS (`https://`, `wss://`) with this certificate and key; `None` serves plain TCP.
    /// The TLS handshake counts towards `handshake_timeout`.
    pub tls: Option<TlsConfig>,
    /// Origins (`scheme://host[:port]`, compared ignoring ASCII case and a trailing `/`) whose
    /// browsers may open a WebSocket; an upgrade whose `Origin` header names any other origin is
    /// refused with 403. Empty allows every origin. Requests without an `Origin` header (native
    /// clients, bots) are always allowed: the check protects against other web pages.
    pub allowed_origins: Vec<String>,
    /// Kernel send buffer per connection, in bytes (`SO_SNDBUF`; Linux doubles it for its own
    /// bookkeeping); `None` leaves the system's auto-tuning (up to megabytes per socket).
    pub send_buffer_bytes: Option<usize>,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 * 1024,
            heartbeat_interval: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(6),
            handshake_timeout: Duration::from_secs(5),
            reliable_queue_len: 64,
            allow_text: false,
            ws_path: Some("/ws".to_owned()),
            listener: "game",
            tls: None,
            allowed_origins: Vec::new(),
            send_buffer_bytes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = NetConfig::default();
        assert_eq!(c.max_message_bytes, 16 * 1024);
        assert_eq!(c.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(c.idle_timeout, Duration::from_secs(6));
        assert_eq!(c.handshake_timeout, Duration::from_secs(5));
        assert_eq!(c.reliable_queue_len, 64);
        assert!(!c.allow_text);
        assert_eq!(c.ws_path.as_deref(), Some("/ws"));
        assert_eq!(c.listener, "game");
        assert!(c.tls.is_none());
        assert!(c.allowed_origins.is_empty());
    }
}
