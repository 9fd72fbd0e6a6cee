//! The matchmaker's HTTP endpoint on the game port (documented in PROTOCOL.md, §8):
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /matchmake` | opens a ticket from `{"game", "mode", "region", "rating", "name", "party"}` (all optional); 202 with the ticket |
//! | `GET /matchmake/{ticket}` | the ticket; `?wait_ms=N` waits up to N ms (at most `cluster.long_poll_max_ms`) while it is queued |
//! | `DELETE /matchmake/{ticket}` | cancels a queued ticket: 200; 409 once placed or ended |
//!
//! Errors are JSON `{"error": CODE, "message": TEXT}` with 400 (bad body), 404 (unknown
//! ticket, or cluster mode off), 405, 409, 413 (body over `cluster.max_body_bytes`), 415 (not
//! JSON), 429 (`queue_full`, `ip_limit`) or 503 (`cluster_unavailable`: Redis is down; retry).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tickwire_net::PeerAddr;

use super::Cluster;
use super::directory::DirectoryError;
use super::matchmaker;
use crate::state::ServerState;

/// The URL path prefix the matchmaker answers on.
pub const PATH: &str = "/matchmake";

/// Longest game, mode or region name, in bytes.
const MAX_LABEL_BYTES: usize = 64;
/// Largest rating magnitude accepted, in rating points.
const MAX_RATING: f64 = 1e9;
/// How often a long poll looks at its ticket again.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// The body of `POST /matchmake`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketRequest {
    game: Option<String>,
    mode: Option<String>,
    region: Option<String>,
    rating: Option<f64>,
    name: Option<String>,
    party: Option<Vec<String>>,
}

/// True when `path` is the matchmaker's.
pub fn is_matchmaker_path(path: &str) -> bool {
    path == PATH || path.starts_with("/matchmake/")
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({"error": code, "message": message}))
}

fn unavailable(e: &DirectoryError) -> Response<Full<Bytes>> {
    let mut resp = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "cluster_unavailable",
        &format!("the cluster directory cannot be reached ({e}); retry shortly"),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// Answers one request under [`PATH`].
pub async fn serve(state: &Arc<ServerState>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(cluster) = state.cluster.cluster().cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "cluster_off",
            "this server is not in cluster mode (cluster.redis_url is empty)",
        );
    };
    let peer = req
        .extensions()
        .get::<PeerAddr>()
        .map(|p| p.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    if path == PATH {
        if req.method() != Method::POST {
            return method_not_allowed("POST");
        }
        return open(&cluster, state, req, peer).await;
    }
    let id = &path["/matchmake/".len()..];
    if id.len() != 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return error(StatusCode::NOT_FOUND, "unknown_ticket", "no such ticket");
    }
    match *req.method() {
        Method::GET => {
            let wait = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("wait_ms="))
                .map(|v| v.parse::<u64>());
            let wait_ms = match wait {
                None => 0,
                Some(Ok(ms)) => ms.min(cluster.cfg.long_poll_max_ms),
                Some(Err(_)) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "wait_ms must be a whole number of milliseconds",
                    );
                }
            };
            poll(&cluster, id, Duration::from_millis(wait_ms)).await
        }
        Method::DELETE => match cluster.note(matchmaker::cancel(&cluster, id).await) {
            Err(e) => unavailable(&e),
            Ok((_, s)) if s.is_empty() => {
                error(StatusCode::NOT_FOUND, "unknown_ticket", "no such ticket")
            }
            Ok((true, _)) => {
                json_response(StatusCode::OK, &json!({"ticket": id, "state": "cancelled"}))
            }
            Ok((false, s)) => json_response(
                StatusCode::CONFLICT,
                &json!({"error": "not_queued", "message": format!("the ticket is {s}, not queued"), "state": s}),
            ),
        },
        _ => method_not_allowed("GET, DELETE"),
    }
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("allowed: {allow}"),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn label(v: Option<String>, default: &str, key: &str) -> Result<String, String> {
    let v = v.unwrap_or_else(|| default.to_owned());
    if v.is_empty()
        || v.len() > MAX_LABEL_BYTES
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!(
            "{key} must be 1 to {MAX_LABEL_BYTES} bytes of letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(v)
}

async fn open(
    cluster: &Arc<Cluster>,
    state: &Arc<ServerState>,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Response<Full<Bytes>> {
    if state.is_draining() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this instance is shutting down; ask another",
        );
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json"));
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be application/json",
        );
    }
    let limit = cluster.cfg.max_body_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    &format!("the body is over cluster.max_body_bytes ({limit} bytes)"),
                );
            }
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the body could not be read",
            );
        }
    };
    let ticket: TicketRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TicketRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(t) => t,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("bad ticket: {e}"),
                );
            }
        }
    };
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "bad_request", &m);
    let game = match label(ticket.game, &cluster.cfg.game, "game") {
        Ok(v) => v,
        Err(m) => return bad(m),
    };
    let mode = match label(ticket.mode, "default", "mode") {
        Ok(v) => v,
        Err(m) => return bad(m),
    };
    let region = match label(ticket.region, &cluster.cfg.region, "region") {
        Ok(v) => v,
        Err(m) => return bad(m),
    };
    if let Some(r) = ticket.rating {
        if !r.is_finite() || r.abs() > MAX_RATING {
            return bad(format!(
                "rating must be a finite number within ±{MAX_RATING}"
            ));
        }
    }
    let names: Vec<String> = match (ticket.party, ticket.name) {
        (Some(_), Some(_)) => return bad("give either name or party, not both".into()),
        (Some(party), None) => party,
        (None, name) => vec![name.unwrap_or_default()],
    };
    let max = cluster.cfg.max_party_size as usize;
    if names.is_empty() || names.len() > max {
        return bad(format!(
            "a party has 1 to {max} players (cluster.max_party_size)"
        ));
    }
    let names: Vec<String> = names
        .iter()
        .map(|n| tickwire_proto::msg::sanitize_name(n))
        .collect();
    let queue = format!("{game}|{mode}|{region}");
    let opened =
        matchmaker::open_ticket(cluster, &queue, ticket.rating, &names, &peer.to_string()).await;
    match cluster.note(opened) {
        Err(e) => unavailable(&e),
        Ok(Err(word)) => {
            let message = if word == "ip_limit" {
                format!(
                    "this address opened cluster.max_tickets_per_ip ({}) tickets recently; retry later",
                    cluster.cfg.max_tickets_per_ip
                )
            } else {
                "the queue is full (cluster.max_queue_len); retry later".to_owned()
            };
            error(StatusCode::TOO_MANY_REQUESTS, &word, &message)
        }
        Ok(Ok(id)) => json_response(
            StatusCode::ACCEPTED,
            &json!({"ticket": id, "state": "queued", "queue": queue, "size": names.len(),
                    "poll": format!("{PATH}/{id}")}),
        ),
    }
}

/// The ticket as JSON, waiting up to `wait` while it is queued.
async fn poll(cluster: &Arc<Cluster>, id: &str, wait: Duration) -> Response<Full<Bytes>> {
    let deadline = Instant::now() + wait;
    loop {
        let t = match cluster.note(matchmaker::ticket(cluster, id).await) {
            Ok(t) => t,
            Err(e) => return unavailable(&e),
        };
        if t.is_empty() {
            return error(StatusCode::NOT_FOUND, "unknown_ticket", "no such ticket");
        }
        let queued = t.get("state").is_some_and(|s| s == "queued");
        if !queued || Instant::now() >= deadline {
            return json_response(StatusCode::OK, &ticket_json(id, &t));
        }
        tokio::time::sleep(POLL_EVERY.min(deadline - Instant::now())).await;
    }
}

/// The public view of a ticket's hash.
fn ticket_json(id: &str, t: &HashMap<String, String>) -> Value {
    let num = |k: &str| t.get(k).and_then(|v| v.parse::<u64>().ok());
    let state = t.get("state").cloned().unwrap_or_default();
    let mut v = json!({
        "ticket": id,
        "state": state,
        "queue": t.get("queue"),
        "size": num("size"),
        "created_ms": num("created_ms"),
    });
    if let Some(r) = t.get("rating").and_then(|r| r.parse::<f64>().ok()) {
        v["rating"] = json!(r);
    }
    match state.as_str() {
        "placed" => {
            let names: Vec<String> = t
                .get("names")
                .and_then(|n| serde_json::from_str(n).ok())
                .unwrap_or_default();
            let tokens: Vec<&str> = t
                .get("tokens")
                .map(|s| s.split(',').collect())
                .unwrap_or_default();
            let seats: Vec<Value> = tokens
                .iter()
                .enumerate()
                .map(|(i, tok)| json!({"name": names.get(i), "token": tok}))
                .collect();
            v["url"] = json!(t.get("url"));
            v["instance"] = json!(t.get("instance"));
            v["match_id"] = json!(num("cmid"));
            v["reservations"] = json!(seats);
            v["placed_ms"] = json!(num("placed_ms"));
            v["expires_ms"] = json!(num("expires_ms"));
            if let Some(g) = t.get("rating_gap").and_then(|g| g.parse::<f64>().ok()) {
                v["rating_gap"] = json!(g);
            }
        }
        _ => {
            if let Some(r) = t.get("reason") {
                v["reason"] = json!(r);
            }
        }
    }
    v
}
