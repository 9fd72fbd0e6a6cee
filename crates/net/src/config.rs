//! Tunables for the server side of a connection.

use std::time::Duration;

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
    /// HTTP path that upgrades to WebSocket.
    pub ws_path: String,
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
            ws_path: "/ws".to_owned(),
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
        assert_eq!(c.ws_path, "/ws");
    }
}
