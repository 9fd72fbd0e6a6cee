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
//! | `POST /matches` | create a match from `{"map", "tick_rate", "max_players"}` (all optional); 201 with its id |
//! | `DELETE /matches/{id}` | end it gracefully (results written, clients get results and close 1000); 202 |
//!
//! With `admin.token` set, every request but `/healthz` needs `Authorization: Bearer TOKEN`,
//! else 401. Errors are JSON: `{"error": "...", "status": N}`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use tickwire_proto::msg::EndReason;
use tokio::net::TcpListener;

use crate::match_loop::MatchCmd;
use crate::registry::MatchHandle;
use crate::server::{CreateError, MatchSpec, ServerState};
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
    /// Map name.
    pub map: String,
    /// Unix time of creation, milliseconds.
    pub created_at_ms: u64,
}

/// The body of `POST /matches`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMatch {
    /// Map name (`arena`, `open-arena`, `big-map`: sized for `max_players`).
    pub map: Option<String>,
    /// Ticks per second.
    pub tick_rate: Option<u16>,
    /// Seats.
    pub max_players: Option<u16>,
}

struct Admin {
    state: Arc<ServerState>,
    metrics: Option<PrometheusHandle>,
}

/// A JSON error response.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into(), "status": status.as_u16() });
    (status, Json(body)).into_response()
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
        map: s.map_name.clone(),
        created_at_ms: s.created_at_ms,
    }
}

/// The admin router over `state`; `metrics` renders `/metrics` (503 without it).
pub fn router(state: Arc<ServerState>, metrics: Option<PrometheusHandle>) -> Router {
    let admin = Arc::new(Admin { state, metrics });
    let protected = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/matches", get(list_matches).post(create_match))
        .route("/matches/{id}", get(get_match).delete(end_match))
        .route("/matches/{id}/fault", post(inject_fault))
        .route_layer(middleware::from_fn_with_state(admin.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(admin)
}

/// Serves the admin API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    metrics: Option<PrometheusHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state, metrics))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn require_token(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let token = &admin.state.config.admin.token;
    if !token.is_empty() {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
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

async fn create_match(
    State(admin): State<Arc<Admin>>,
    body: Result<Json<CreateMatch>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    let spec = MatchSpec {
        map: body.map,
        tick_rate: body.tick_rate,
        max_players: body.max_players,
    };
    match admin.state.create_match(&spec) {
        Ok(m) => (StatusCode::CREATED, Json(view(&m))).into_response(),
        Err(e @ CreateError::UnknownMap(_)) | Err(e @ CreateError::Invalid(_)) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
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
