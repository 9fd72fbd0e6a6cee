//! The Agones lifecycle over the SDK sidecar's REST API (HTTP/1.1 on 127.0.0.1, port from
//! `agones.sdk_port` or `AGONES_SDK_HTTP_PORT`):
//!
//! | when | request |
//! | --- | --- |
//! | the game listener accepts players | `POST /ready` `{}` (retried until the sidecar answers 2xx) |
//! | every `agones.health_interval_ms` | `POST /health` `{}` |
//! | the first player takes a seat | `POST /allocate` `{}` (the fleet will not scale this server down while it hosts players) |
//! | the seated player count changes | `PATCH /v1beta1/counters/players` `{"count": "N"}` (a Counter named `players` in the Fleet spec) |
//! | the drain ended (every match finished) | `POST /shutdown` `{}` |
//!
//! Failures are logged at WARN (at most every 5 s) and never stop the game.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::AgonesSection;
use crate::server::ServerState;

/// Why a sidecar request failed.
#[derive(Debug, thiserror::Error)]
pub enum AgonesError {
    /// The sidecar could not be reached or the connection broke.
    #[error("agones sidecar: {0}")]
    Io(#[from] std::io::Error),
    /// The sidecar did not answer within `agones.request_timeout_ms`.
    #[error("agones sidecar did not answer within {0:?}")]
    Timeout(Duration),
    /// The sidecar answered with a status other than 2xx.
    #[error("agones sidecar answered HTTP {0}")]
    Status(u16),
    /// The sidecar's answer was not HTTP.
    #[error("agones sidecar answered something that is not HTTP")]
    BadResponse,
}

/// The client of one instance's Agones sidecar.
#[derive(Debug)]
pub struct Agones {
    cfg: AgonesSection,
    port: u16,
    allocated: AtomicBool,
    last_warn: std::sync::Mutex<Option<Instant>>,
}

impl Agones {
    /// Starts reporting for `state`: Ready at once (retried), then Health, allocation and
    /// player counts on the period, until the server is dropped.
    pub fn start(state: &Arc<ServerState>) -> Arc<Self> {
        let cfg = state.config.agones.clone();
        let port = cfg.port();
        let agones = Arc::new(Self {
            cfg,
            port,
            allocated: AtomicBool::new(false),
            last_warn: std::sync::Mutex::new(None),
        });
        info!(port, "agones: reporting to the SDK sidecar");
        tokio::spawn(run(agones.clone(), Arc::downgrade(state)));
        agones
    }

    /// One request to the sidecar with a JSON body.
    pub async fn request(&self, method: &str, path: &str, body: &str) -> Result<(), AgonesError> {
        let timeout = Duration::from_millis(self.cfg.request_timeout_ms);
        let call = async {
            let mut s = TcpStream::connect(("127.0.0.1", self.port)).await?;
            let req = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.port,
                body.len()
            );
            s.write_all(req.as_bytes()).await?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await?;
            let head = String::from_utf8_lossy(&buf[..buf.len().min(64)]).into_owned();
            let status: u16 = head
                .strip_prefix("HTTP/1.")
                .and_then(|r| r.get(2..5))
                .and_then(|c| c.parse().ok())
                .ok_or(AgonesError::BadResponse)?;
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(AgonesError::Status(status))
            }
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| AgonesError::Timeout(timeout))?
    }

    fn warn(&self, what: &str, e: &AgonesError) {
        let mut last = self.last_warn.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            *last = Some(Instant::now());
            warn!(error = %e, "agones {what} failed");
        }
    }

    /// Tells the sidecar the server is done (after the drain).
    pub async fn shutdown(&self) {
        if let Err(e) = self.request("POST", "/shutdown", "{}").await {
            self.warn("Shutdown", &e);
        } else {
            info!("agones: Shutdown sent");
        }
    }
}

/// How often the seated player count is compared with the last one reported.
const COUNT_EVERY: Duration = Duration::from_millis(100);

async fn run(agones: Arc<Agones>, state: Weak<ServerState>) {
    let period = Duration::from_millis(agones.cfg.health_interval_ms);
    loop {
        match agones.request("POST", "/ready", "{}").await {
            Ok(()) => break,
            Err(e) => agones.warn("Ready", &e),
        }
        if state.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    info!("agones: Ready sent");
    let mut reported: Option<u32> = None;
    let mut last_health: Option<Instant> = None;
    loop {
        let players = {
            let Some(state) = state.upgrade() else { return };
            if state.is_draining() {
                // Health goes on during the drain; Shutdown comes from the server when it ends.
                None
            } else {
                Some(
                    state
                        .registry
                        .all()
                        .iter()
                        .map(|m| m.shared.seats.load(Ordering::Acquire))
                        .sum::<u32>(),
                )
            }
        };
        if last_health.is_none_or(|t| t.elapsed() >= period) {
            last_health = Some(Instant::now());
            if let Err(e) = agones.request("POST", "/health", "{}").await {
                agones.warn("Health", &e);
            }
        }
        if let Some(n) = players {
            if n > 0 && !agones.allocated.load(Ordering::Acquire) {
                match agones.request("POST", "/allocate", "{}").await {
                    Ok(()) => agones.allocated.store(true, Ordering::Release),
                    Err(e) => agones.warn("Allocate", &e),
                }
            }
            if reported != Some(n) {
                let body = format!("{{\"count\": \"{n}\"}}");
                match agones
                    .request("PATCH", "/v1beta1/counters/players", &body)
                    .await
                {
                    Ok(()) => reported = Some(n),
                    Err(e) => agones.warn("player counter update", &e),
                }
            }
        }
        tokio::time::sleep(COUNT_EVERY.min(period)).await;
    }
}
