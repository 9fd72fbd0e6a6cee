//! The Agones lifecycle of a real `tickwire` process, against a recording HTTP endpoint in
//! place of the SDK sidecar (which cannot run here): the documented requests, in order, with
//! JSON bodies.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tickwire_client::GameClient;
use tickwire_proto::msg::ClientMsg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Log = Arc<Mutex<Vec<(String, String, String)>>>;

/// A sidecar stand-in: answers every request 200 `{}` and records method, path and body.
async fn recorder() -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let rec = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let rec = rec.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                let (head, mut body) = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (
                            String::from_utf8_lossy(&buf[..i]).into_owned(),
                            buf[i + 4..].to_vec(),
                        );
                    }
                };
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while body.len() < len {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_owned();
                let path = first.next().unwrap_or("").to_owned();
                rec.lock().unwrap().push((
                    method,
                    path,
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                    .await;
            });
        }
    });
    (port, log)
}

fn free_addr() -> SocketAddr {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn wait_for(log: &Log, what: &str, pred: impl Fn(&(String, String, String)) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.lock().unwrap().iter().any(&pred) {
        assert!(
            Instant::now() < deadline,
            "no {what} request; got {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agones_lifecycle_requests_reach_the_sidecar() {
    let (sdk_port, log) = recorder().await;
    let game = free_addr();
    let dir = std::env::temp_dir().join(format!("tickwire-agones-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "[server]\nlisten = \"{game}\"\ndata_dir = \"{}\"\ndrain_timeout_ms = 500\nrecord_replays = false\n[admin]\nlisten = \"\"\n[agones]\nenabled = true\nhealth_interval_ms = 100\n",
        dir.join("data").display()
    );
    std::fs::write(dir.join("server.toml"), config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .arg("--config")
        .arg(dir.join("server.toml"))
        .env("AGONES_SDK_HTTP_PORT", sdk_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let is =
        |m: &'static str, p: &'static str| move |r: &(String, String, String)| r.0 == m && r.1 == p;
    wait_for(&log, "Ready", is("POST", "/ready")).await;
    let mut c = GameClient::join(&format!("ws://{game}/ws"), "ann")
        .await
        .unwrap();
    wait_for(&log, "Allocate", is("POST", "/allocate")).await;
    wait_for(&log, "player count 1", |r| {
        r.0 == "PATCH" && r.1 == "/v1beta1/counters/players" && r.2.contains("\"1\"")
    })
    .await;
    c.send(&ClientMsg::Leave).await.unwrap();
    wait_for(&log, "player count 0", |r| {
        r.0 == "PATCH" && r.1 == "/v1beta1/counters/players" && r.2.contains("\"0\"")
    })
    .await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tickwire did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = log.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(log.first().map(|r| r.1.as_str()), Some("/ready"), "{log:?}");
    assert_eq!(
        log.last().map(|r| r.1.as_str()),
        Some("/shutdown"),
        "{log:?}"
    );
    let health = log.iter().filter(|r| r.1 == "/health").count();
    assert!(health >= 3, "Health on its period: {health} calls");
    for (method, path, body) in &log {
        assert!(
            serde_json::from_str::<serde_json::Value>(body).is_ok(),
            "{method} {path}: body {body:?} is JSON"
        );
        assert!(
            matches!(method.as_str(), "POST" | "PATCH"),
            "{method} {path}"
        );
    }
}
