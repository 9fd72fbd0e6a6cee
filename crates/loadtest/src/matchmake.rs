//! `--matchmake`: a bot asks the cluster matchmaker at `--url` for a seat (`POST /matchmake`,
//! then long polls of `GET /matchmake/{ticket}`) and joins where the reservation says, which
//! may be another instance (PROTOCOL.md §9).

use std::time::{Duration, Instant};

use serde_json::Value;
use tickwire_proto::msg::{JoinTarget, RESERVATION_TOKEN_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why no reservation was obtained.
#[derive(Debug, thiserror::Error)]
pub enum MatchmakeError {
    /// `--url` is not `ws://HOST:PORT/...`.
    #[error("--url {0:?} must be ws://HOST:PORT/... for --matchmake")]
    BadUrl(String),
    /// The HTTP exchange failed.
    #[error("matchmaker I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The matchmaker answered an error or something unexpected.
    #[error("matchmaker answered {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
    /// The ticket ended without a seat (timed out or cancelled).
    #[error("ticket ended {0}")]
    Ended(String),
    /// No answer within the deadline.
    #[error("no placement within {0:?}")]
    Timeout(Duration),
}

/// How long a bot waits for its placement.
const PLACEMENT_DEADLINE: Duration = Duration::from_secs(30);

/// A reservation: where to connect and what to say.
#[derive(Debug)]
pub struct Seat {
    /// The hosting instance's WebSocket URL.
    pub url: String,
    /// The Hello's join target.
    pub join: JoinTarget,
}

fn host_of(url: &str) -> Result<String, MatchmakeError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| MatchmakeError::BadUrl(url.to_owned()))?;
    Ok(rest.split('/').next().unwrap_or(rest).to_owned())
}

async fn http(
    host: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, Value), MatchmakeError> {
    let mut s = TcpStream::connect(host).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn token(hex: &str) -> Option<[u8; RESERVATION_TOKEN_LEN]> {
    let mut t = [0u8; RESERVATION_TOKEN_LEN];
    if hex.len() != 2 * RESERVATION_TOKEN_LEN {
        return None;
    }
    for (i, b) in t.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(t)
}

/// Opens a ticket for `name` at the instance of `url` and waits for its seat.
pub async fn reserve(url: &str, name: &str) -> Result<Seat, MatchmakeError> {
    let host = host_of(url)?;
    let body = serde_json::json!({ "name": name }).to_string();
    let (status, v) = http(&host, "POST", "/matchmake", &body).await?;
    let Some(ticket) = v["ticket"].as_str().filter(|_| status == 202) else {
        return Err(MatchmakeError::Refused {
            status,
            body: v.to_string(),
        });
    };
    let deadline = Instant::now() + PLACEMENT_DEADLINE;
    let path = format!("/matchmake/{ticket}?wait_ms=5000");
    while Instant::now() < deadline {
        let (status, v) = http(&host, "GET", &path, "").await?;
        if status != 200 {
            return Err(MatchmakeError::Refused {
                status,
                body: v.to_string(),
            });
        }
        match v["state"].as_str() {
            Some("queued") => continue,
            Some("placed") => {
                let bad = || MatchmakeError::Refused {
                    status,
                    body: v.to_string(),
                };
                let url = v["url"].as_str().ok_or_else(bad)?.to_owned();
                let match_id = v["match_id"].as_u64().ok_or_else(bad)?;
                let token = v["reservations"][0]["token"]
                    .as_str()
                    .and_then(token)
                    .ok_or_else(bad)?;
                return Ok(Seat {
                    url,
                    join: JoinTarget::Reserved { match_id, token },
                });
            }
            other => return Err(MatchmakeError::Ended(other.unwrap_or("?").to_owned())),
        }
    }
    Err(MatchmakeError::Timeout(PLACEMENT_DEADLINE))
}
