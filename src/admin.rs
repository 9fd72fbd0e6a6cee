//! The admin HTTP API on its own listener: health, readiness, Prometheus metrics, and the
//! match endpoints a matchmaker or operator uses.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /healthz` | 200 while the process runs (no token needed) |
//! | `GET /readyz` | 200 when accepting players; 503 with `reason` `draining` while draining, or `results_write_failed` once a match's results could not be written (until a restart) |
//! | `GET /metrics` | Prometheus text exposition |
//! | `GET /matches` | every running match as JSON |
//! | `GET /matches/{id}` | one match, 404 when unknown |
//! | `POST /matches` | create a match from `{"game", "map", "tick_rate", "max_players"}` (all optional; an empty body is `{}`); 201 with its id |
//! | `DELETE /matches/{id}` | end it gracefully (results written, clients get results and close 1000); 202 |
//! | `GET /cluster` | cluster mode: every live instance (URL, capacity, load, players, draining, matches) and every matchmaker queue (tickets, players, oldest and mean wait); 404 when cluster mode is off, 503 while Redis is unreachable |
//! | `GET /matches/{id}/chat` | the match's recent chat lines, oldest first (`chat.history_lines`) |
//! | `POST /matches/{id}/chat/mute` | silence `{"player", "muted"}` (`muted` defaults to true); 404 when the match has no such player |
//!
//! With `admin.token` set, every request but `/healthz` needs `Authorization: Bearer TOKEN`,
//! else 401. Tokens are compared in constant time; each failure is counted in
//! [`AUTH_FAILURES`] and logged at WARN with the peer's address (never the token, at most once
//! per [`AUTH_LOG_EVERY`]), and an address that fails more often than `admin.auth_failure_burst`
//! in a burst (one more per `auth_failure_refill_ms`) gets 429 with `Retry-After` on every
//! request until its budget refills, before its token is even looked at. Errors are JSON:
//! `{"error": "...", "status": N}`.
//!
//! The API is served by the game listener's accept loop ([`tickwire_net::serve`], never
//! upgrading), so it has the same defences: connections over `admin.max_connections` (503) or
//! `admin.max_connections_per_ip` (429) are refused at once, unread; a request head must arrive
//! within `admin.header_timeout_ms`, which also ends idle keep-alive connections; a whole
//! request, body included, within `admin.request_timeout_ms` (else 408 and the connection is
//! closed); a body is at most `admin.max_body_bytes` (else 413).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, Full};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tickwire_net::{Admission, Connection, Handler, PeerAddr, Refusal};
use tickwire_proto::msg::EndReason;
use tokio::net::TcpListener;
use tracing::warn;

use crate::address::{AddressBook, AddressLimits, AddressRefusal};
use crate::match_loop::MatchCmd;
use crate::registry::MatchHandle;
use crate::state::{CreateError, MatchSpec, ServerState};
use crate::telemetry::family;

/// One match as the admin API describes it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MatchView {
    /// Match id.
    pub id: u64,
    /// `waiting`, `running` or `ended`.
    pub phase: String,
    /// Seats taken.
    pub players: u32,
    /// Seats in total.
    pub max_players: u32,
    /// Spectators watching.
    pub spectators: u32,
    /// Current tick.
    pub tick: u32,
    /// Ticks per second.
    pub tick_rate: u16,
    /// 99th percentile of recent tick work, milliseconds.
    pub tick_p99_ms: f64,
    /// The game it plays.
    pub game: String,
    /// Map name.
    pub map: String,
    /// Unix time of creation, milliseconds.
    pub created_at_ms: u64,
}

/// The body of `POST /matches`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMatch {
    /// The game to play (default: the server's default game).
    pub game: Option<String>,
    /// Map name (`arena`, `open-arena`, `big-map`: sized for `max_players`).
    pub map: Option<String>,
    /// Ticks per second.
    pub tick_rate: Option<u16>,
    /// Seats.
    pub max_players: Option<u16>,
}

/// Counter of admin requests refused for their token, labelled `reason`: `missing` or `wrong`.
pub const AUTH_FAILURES: &str = "tickwire_admin_auth_failures_total";
/// [`AUTH_FAILURES`] reason of a request without a bearer token.
pub const AUTH_MISSING: &str = "missing";
/// [`AUTH_FAILURES`] reason of a request with a wrong bearer token.
pub const AUTH_WRONG: &str = "wrong";

/// Least time between two WARN lines about failed logins, as a duration; failures in between
/// are counted and reported in the next line, so a guessing flood cannot flood the log.
pub const AUTH_LOG_EVERY: Duration = Duration::from_secs(1);

struct Admin {
    state: Arc<ServerState>,
    metrics: Option<PrometheusHandle>,
    /// Connections and failed logins per address on the admin listener.
    addresses: Arc<AddressBook>,
    auth_log: AuthLog,
}

/// Rate-limited WARN lines about failed logins.
struct AuthLog {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last line, plus [`AUTH_LOG_EVERY`] (0: none yet).
    next_ms: AtomicU64,
    /// Failures not logged since the last line.
    suppressed: AtomicU64,
}

impl AuthLog {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Logs one failure from `peer`, unless a line was written within [`AUTH_LOG_EVERY`].
    fn failure(&self, peer: Option<SocketAddr>, reason: &'static str) {
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        let due = now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms + AUTH_LOG_EVERY.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok();
        if due {
            let suppressed = self.suppressed.swap(0, Ordering::AcqRel);
            let peer = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
            warn!(%peer, reason, suppressed, "admin request refused: bad bearer token");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The JSON body of an error: `{"error": "...", "status": N}`.
fn error_json(status: StatusCode, message: impl Into<String>) -> serde_json::Value {
    serde_json::json!({ "error": message.into(), "status": status.as_u16() })
}

/// A JSON error response.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(error_json(status, message))).into_response()
}

fn view(m: &MatchHandle) -> MatchView {
    let s = &m.shared;
    let phase = family::PHASE_LABELS[usize::from(s.phase.load(Ordering::Acquire)).min(2)];
    MatchView {
        id: s.id,
        phase: phase.to_owned(),
        players: s.seats.load(Ordering::Acquire),
        max_players: s.max_seats,
        spectators: s.spectators.load(Ordering::Acquire),
        tick: s.tick.load(Ordering::Acquire),
        tick_rate: s.tick_rate,
        tick_p99_ms: s.tick_p99_us.load(Ordering::Relaxed) as f64 / 1000.0,
        game: s.game.clone(),
        map: s.map_name.clone(),
        created_at_ms: s.created_at_ms,
    }
}

/// The admin router; request bodies are capped at `max_body_bytes`.
fn router(admin: Arc<Admin>, max_body_bytes: usize) -> Router {
    let protected = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/matches", get(list_matches).post(create_match))
        .route("/cluster", get(cluster_view))
        .route("/matches/{id}", get(get_match).delete(end_match))
        .route("/matches/{id}/fault", post(inject_fault))
        .route("/matches/{id}/chat", get(chat_log))
        .route("/matches/{id}/chat/mute", post(chat_mute))
        .route_layer(middleware::from_fn_with_state(admin.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(admin)
}

/// Serves the admin API on `listener` until `shutdown` resolves, through the game listener's
/// hardened accept loop with the `[admin]` caps and timeouts (see the module docs).
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    metrics: Option<PrometheusHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let net = state.config.admin_net_config();
    let a = &state.config.admin;
    let addresses = AddressBook::new(AddressLimits::connections_only(
        a.max_connections,
        a.max_connections_per_ip,
        a.auth_failure_burst,
        Duration::from_millis(a.auth_failure_refill_ms),
    ));
    let request_timeout = Duration::from_millis(a.request_timeout_ms);
    let max_body_bytes = a.max_body_bytes;
    let admin = Arc::new(Admin {
        state,
        metrics,
        addresses: addresses.clone(),
        auth_log: AuthLog::new(),
    });
    let handler = Arc::new(AdminHandler {
        router: router(admin, max_body_bytes),
        addresses,
        request_timeout,
    });
    tickwire_net::serve(listener, net, handler, shutdown).await
}

/// The admin listener's side of the accept loop: per-address and total caps, then the router
/// under the request timeout.
struct AdminHandler {
    router: Router,
    addresses: Arc<AddressBook>,
    request_timeout: Duration,
}

impl AdminHandler {
    /// Runs `req` through the router, the body's arrival and the response included, within
    /// the request timeout.
    async fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let mut router = self.router.clone();
        let work = async move {
            let resp = match tower_service::Service::call(&mut router, req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            body.collect().await.map(|b| (parts, b.to_bytes()))
        };
        let (mut parts, body) = match tokio::time::timeout(self.request_timeout, work).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return json_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(_) => {
                return json_response(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request took longer than admin.request_timeout_ms",
                );
            }
        };
        // A request whose body was cut short leaves unread bytes behind: never reuse it.
        if parts.status == StatusCode::PAYLOAD_TOO_LARGE {
            parts.headers.insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        hyper::Response::from_parts(parts, Full::new(body))
    }
}

/// A JSON error response for the network layer, closing the connection after it.
fn json_response(status: StatusCode, message: impl Into<String>) -> hyper::Response<Full<Bytes>> {
    let body = error_json(status, message).to_string();
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    resp
}

impl Handler for AdminHandler {
    async fn on_connection(self: Arc<Self>, conn: Connection) {
        // Never called: the admin listener has no WebSocket path.
        drop(conn);
    }

    async fn on_http(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        self.answer(req).await
    }

    fn admit(&self, peer: SocketAddr) -> Result<Admission, Refusal> {
        match self.addresses.admit_connection(peer.ip()) {
            Ok(slot) => Ok(Admission::with_guard(slot)),
            Err(refusal) => Err(refusal.refusal()),
        }
    }
}

async fn require_token(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let token = &admin.state.config.admin.token;
    if token.is_empty() {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0);
    let now = Instant::now();
    if let Some(ip) = peer.map(|p| p.ip()) {
        if let Err(AddressRefusal::AuthFailures { retry_after }) =
            admin.addresses.check_auth_budget(ip, now)
        {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from this address; retry later",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
            return resp;
        }
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .filter(|t| !t.is_empty());
    let failure = match presented {
        None => Some(AUTH_MISSING),
        Some(t) if !bool::from(t.ct_eq(token.as_bytes())) => Some(AUTH_WRONG),
        Some(_) => None,
    };
    if let Some(reason) = failure {
        metrics::counter!(AUTH_FAILURES, "reason" => reason).increment(1);
        if let Some(ip) = peer.map(|p| p.ip()) {
            admin.addresses.record_auth_failure(ip, now);
        }
        admin.auth_log.failure(peer, reason);
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    next.run(req).await
}

async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn readyz(State(admin): State<Arc<Admin>>) -> Response {
    // Draining is named first: it is the state an orchestrator acts on during a rollout.
    let reason = if admin.state.is_draining() {
        "draining"
    } else if admin.state.results_failed() {
        "results_write_failed"
    } else {
        return Json(serde_json::json!({ "ready": true })).into_response();
    };
    let body = serde_json::json!({ "ready": false, "reason": reason });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn metrics_text(State(admin): State<Arc<Admin>>) -> Response {
    let Some(handle) = &admin.metrics else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed",
        );
    };
    let mut by_phase = [0u32; 3];
    for m in admin.state.registry.all() {
        let p = usize::from(m.shared.phase.load(Ordering::Acquire)).min(2);
        by_phase[p] += 1;
    }
    for (phase, n) in family::PHASE_LABELS.iter().zip(by_phase) {
        metrics::gauge!(family::MATCHES.name, "phase" => *phase).set(f64::from(n));
    }
    metrics::gauge!(family::CONNECTIONS_OPEN.name).set(admin.state.connections() as f64);
    metrics::gauge!(family::ADMIN_CONNECTIONS_OPEN.name).set(admin.addresses.connections() as f64);
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

async fn cluster_view(State(admin): State<Arc<Admin>>) -> Response {
    let Some(cluster) = admin.state.cluster.cluster() else {
        return error(
            StatusCode::NOT_FOUND,
            "cluster mode is off (cluster.redis_url is empty)",
        );
    };
    match cluster.view().await {
        Ok(view) => Json(view).into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the cluster directory cannot be reached: {e}"),
        ),
    }
}

async fn list_matches(State(admin): State<Arc<Admin>>) -> Response {
    let views: Vec<MatchView> = admin.state.registry.all().iter().map(view).collect();
    Json(views).into_response()
}

/// A match id from the path; a malformed one is answered with 400 by the handler.
type MatchId = Result<Path<u64>, PathRejection>;

fn bad_id(e: &PathRejection) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        format!("not a match id: {}", e.body_text()),
    )
}

async fn get_match(State(admin): State<Arc<Admin>>, id: MatchId) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => return bad_id(&e),
    };
    match admin.state.registry.get(id) {
        Some(m) => Json(view(&m)).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no match {id}")),
    }
}

/// Whether `headers` declare a JSON body (`application/json` or `application/*+json`).
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

async fn create_match(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    // An empty body asks for the defaults, like `{}`: `curl -X POST .../matches` just works.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        CreateMatch::default()
    } else if !declares_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`",
        );
    } else {
        match Json::<CreateMatch>::from_bytes(&body) {
            Ok(Json(b)) => b,
            Err(e) => return error(e.status(), e.body_text()),
        }
    };
    let spec = MatchSpec {
        game: body.game,
        map: body.map,
        tick_rate: body.tick_rate,
        max_players: body.max_players,
    };
    match admin.state.create_match(&spec) {
        Ok(m) => (StatusCode::CREATED, Json(view(&m))).into_response(),
        Err(
            e @ (CreateError::UnknownGame(..)
            | CreateError::UnknownMap(_)
            | CreateError::Invalid(_)),
        ) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn end_match(State(admin): State<Arc<Admin>>, id: MatchId) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => return bad_id(&e),
    };
    let Some(m) = admin.state.registry.get(id) else {
        return error(StatusCode::NOT_FOUND, format!("no match {id}"));
    };
    if m.tx
        .send(MatchCmd::End {
            reason: EndReason::Admin,
        })
        .await
        .is_err()
    {
        return error(StatusCode::NOT_FOUND, format!("match {id} already ended"));
    }
    let body = serde_json::json!({ "id": id, "ending": true });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

async fn inject_fault(State(admin): State<Arc<Admin>>, id: MatchId) -> Response {
    if !admin.state.config.server.fault_injection {
        return error(StatusCode::NOT_FOUND, "fault injection is disabled");
    }
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => return bad_id(&e),
    };
    match admin.state.registry.get(id) {
        Some(m) if m.tx.send(MatchCmd::InjectPanic).await.is_ok() => {
            (StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, format!("no match {id}")),
    }
}

async fn chat_log(State(admin): State<Arc<Admin>>, id: MatchId) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => return bad_id(&e),
    };
    let Some(m) = admin.state.registry.get(id) else {
        return error(StatusCode::NOT_FOUND, format!("no match {id}"));
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    if m.tx.send(MatchCmd::ChatLog { reply }).await.is_err() {
        return error(StatusCode::NOT_FOUND, format!("match {id} already ended"));
    }
    match rx.await {
        Ok(lines) => Json(serde_json::json!({ "id": id, "lines": lines })).into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, format!("match {id} already ended")),
    }
}

/// Body of `POST /matches/{id}/chat/mute`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatMute {
    /// The player whose chat is silenced or let through again.
    player: u32,
    /// True to silence (the default), false to lift it.
    #[serde(default = "yes")]
    muted: bool,
}

fn yes() -> bool {
    true
}

async fn chat_mute(
    State(admin): State<Arc<Admin>>,
    id: MatchId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(e) => return bad_id(&e),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    if !declares_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`",
        );
    }
    let body = match Json::<ChatMute>::from_bytes(&body) {
        Ok(Json(b)) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    let Some(m) = admin.state.registry.get(id) else {
        return error(StatusCode::NOT_FOUND, format!("no match {id}"));
    };
    let (reply, rx) = tokio::sync::oneshot::channel();
    let cmd = MatchCmd::Silence {
        player: body.player,
        silenced: body.muted,
        reply,
    };
    if m.tx.send(cmd).await.is_err() {
        return error(StatusCode::NOT_FOUND, format!("match {id} already ended"));
    }
    match rx.await {
        Ok(true) => Json(serde_json::json!({
            "id": id, "player": body.player, "muted": body.muted
        }))
        .into_response(),
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("match {id} has no player {}", body.player),
        ),
        Err(_) => error(StatusCode::NOT_FOUND, format!("match {id} already ended")),
    }
}
