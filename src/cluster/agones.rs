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
//! Each request is one HTTP/1.1 exchange on a fresh connection through hyper's client. Failures
//! are logged at WARN (at most every 5 s) and never stop the game.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::AgonesSection;
use crate::state::ServerState;

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
    /// The exchange failed at the HTTP level (not HTTP, or the connection broke mid-answer).
    #[error("agones sidecar: {0}")]
    Http(#[from] hyper::Error),
    /// The method or path given could not form an HTTP request.
    #[error("agones sidecar: not a valid request")]
    BadRequest,
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
            let stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            // The connection task ends when the response is read and `sender` is dropped.
            tokio::spawn(conn);
            let req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, format!("127.0.0.1:{}", self.port))
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body.to_owned())))
                .map_err(|_| AgonesError::BadRequest)?;
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            // Read the (small) body so the sidecar sees the exchange completed.
            let _ = resp.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(AgonesError::Status(status.as_u16()))
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
