//! Operating the server over real sockets and real HTTP: the admin API, metrics, results,
//! replays, configuration layering and SIGTERM on the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestServer, fast_config};
use tickwire_client::{ClientError, GameClient, hello};
use tickwire_proto::msg::{EndReason, JoinTarget, ServerMsg};

const WAIT: Duration = Duration::from_secs(5);

/// A fresh, empty data directory under the target dir.
fn data_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts the admin API for `server` on an ephemeral port; returns its base URL.
async fn start_admin(server: &TestServer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = server.handle.state().clone();
    tokio::spawn(tickwire::admin::serve(
        listener,
        state,
        tickwire::telemetry::prometheus(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

/// A minimal HTTP/1.1 client over a raw TCP socket: (status, body).
async fn http(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status: u16 = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = s.split_once("\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_endpoints_and_auth() {
    let mut cfg = fast_config();
    cfg.admin.token = "letmein".into();
    cfg.server.data_dir = data_dir("admin");
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let tok = Some("letmein");

    assert_eq!(
        http("GET", &format!("{admin}/healthz"), None, None).await.0,
        200
    );
    for (method, path) in [
        ("GET", "/readyz"),
        ("GET", "/matches"),
        ("GET", "/metrics"),
        ("POST", "/matches"),
    ] {
        let (status, body) = http(method, &format!("{admin}{path}"), None, None).await;
        assert_eq!(status, 401, "{method} {path} without token: {body}");
        assert_eq!(json(&body)["status"], 401);
        let (status, _) = http(method, &format!("{admin}{path}"), Some("wrong"), None).await;
        assert_eq!(status, 401, "{method} {path} with a wrong token");
    }
    let (status, body) = http("GET", &format!("{admin}/readyz"), tok, None).await;
    assert_eq!((status, json(&body)["ready"].as_bool()), (200, Some(true)));

    // Create a match for a matchmaker, then place a player in it by id.
    let (status, body) = http(
        "POST",
        &format!("{admin}/matches"),
        tok,
        Some(r#"{"map":"open-arena","tick_rate":20,"max_players":4}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let created = json(&body);
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["tick_rate"], 20);
    assert_eq!(created["max_players"], 4);
    assert_eq!(created["map"], "open-arena");
    let mut c = GameClient::connect(
        &server.url(),
        tickwire_proto::msg::Hello {
            join: JoinTarget::Match(id),
            ..hello("placed")
        },
    )
    .await
    .unwrap();
    assert_eq!(c.welcome().match_id, id);
    assert_eq!(c.welcome().tick_rate, 20);
    c.next_state(WAIT).await.unwrap();

    let (status, body) = http("GET", &format!("{admin}/matches/{id}"), tok, None).await;
    assert_eq!(status, 200);
    let m = json(&body);
    assert_eq!(m["players"], 1);
    assert!(m["tick"].as_u64().unwrap() > 0);
    assert!(m["tick_p99_ms"].is_number() && m["created_at_ms"].as_u64().unwrap() > 0);
    assert_eq!(m["phase"], "waiting");
    let (status, body) = http("GET", &format!("{admin}/matches"), tok, None).await;
    assert_eq!(status, 200);
    assert!(
        json(&body)
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id)
    );

    // Bad requests get JSON errors with the right status codes.
    for (method, path, body, want) in [
        ("GET", "/matches/999999".to_string(), None, 404),
        ("DELETE", "/matches/999999".to_string(), None, 404),
        ("GET", "/matches/banana".to_string(), None, 400),
        ("POST", "/matches".to_string(), Some("{not json"), 400),
        (
            "POST",
            "/matches".to_string(),
            Some(r#"{"map":"moon"}"#),
            422,
        ),
        (
            "POST",
            "/matches".to_string(),
            Some(r#"{"tick_rate":0}"#),
            422,
        ),
        ("POST", "/matches".to_string(), Some(r#"{"bogus":1}"#), 422),
        ("GET", "/nope".to_string(), None, 404),
    ] {
        let (status, text) = http(method, &format!("{admin}{path}"), tok, body).await;
        assert_eq!(status, want, "{method} {path} {body:?}: {text}");
        assert_eq!(json(&text)["status"], want, "{text}");
    }

    // End it gracefully: the player gets the results and a normal close.
    let (status, _) = http("DELETE", &format!("{admin}/matches/{id}"), tok, None).await;
    assert_eq!(status, 202);
    let (ended, code) = read_to_close(&mut c).await;
    assert!(matches!(ended, Some(r) if r.match_id == id && r.reason == EndReason::Admin));
    assert_eq!(code, 1000);
    let (status, _) = http("GET", &format!("{admin}/matches/{id}"), tok, None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

/// Reads until the server closes: the MatchEnded results seen, and the close code.
async fn read_to_close(c: &mut GameClient) -> (Option<tickwire_proto::msg::MatchResults>, u16) {
    let mut ended = None;
    tokio::time::timeout(WAIT, async {
        loop {
            match c.next_event().await {
                Ok(tickwire_client::Event::Msg(ServerMsg::MatchEnded(r))) => ended = Some(r),
                Ok(_) => {}
                Err(ClientError::Closed { code, .. }) => return (ended.take(), code),
                Err(e) => panic!("unexpected: {e}"),
            }
        }
    })
    .await
    .expect("closed in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_the_named_series_while_bots_play() {
    let mut cfg = fast_config();
    cfg.server.data_dir = data_dir("metrics");
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let url = server.url();
    let mut bots = Vec::new();
    for i in 0..4 {
        bots.push(GameClient::join(&url, &format!("bot{i}")).await.unwrap());
    }
    // Someone gets rejected, someone floods inputs into the queue.
    let _ = GameClient::connect(
        &url,
        tickwire_proto::msg::Hello {
            join: JoinTarget::Match(424242),
            ..hello("lost")
        },
    )
    .await;
    for _ in 0..60 {
        for b in bots.iter_mut() {
            b.send_input(50, -20, 3, 1).await.unwrap();
            b.next_state(WAIT).await.unwrap();
        }
    }
    let (status, text) = http("GET", &format!("{admin}/metrics"), None, None).await;
    assert_eq!(status, 200);
    let samples = parse_prometheus(&text);
    let value = |name: &str| -> f64 {
        samples
            .iter()
            .filter(|(n, _)| n == name || n.starts_with(&format!("{name}{{")))
            .map(|(_, v)| *v)
            .sum()
    };
    for name in [
        "tickwire_tick_duration_seconds_count",
        "tickwire_tick_lateness_seconds_count",
        "tickwire_players_connected",
        "tickwire_state_bytes_total",
        "tickwire_state_frames_total",
        "tickwire_net_bytes_sent_total",
        "tickwire_net_frames_sent_total",
        "tickwire_join_rejects_total",
        "tickwire_matches",
    ] {
        assert!(value(name) > 0.0, "{name} missing or zero in:\n{text}");
    }
    assert!(
        text.contains("tickwire_tick_duration_seconds_bucket{"),
        "histogram buckets"
    );
    assert!(text.contains("tickwire_join_rejects_total{reason=\"NoSuchMatch\"}"));
    assert!(value("tickwire_players_connected") >= 4.0);
    // Tick work at 30 Hz is far below the budget; lateness is non-negative.
    let ticks = value("tickwire_tick_duration_seconds_count");
    let spent = value("tickwire_tick_duration_seconds_sum");
    assert!(
        ticks >= 60.0 && spent / ticks < 0.033,
        "{spent} s over {ticks} ticks"
    );
    server.stop().await;
}

/// Parses Prometheus text exposition into (name{labels}, value), failing on malformed lines.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let kind = rest.split_whitespace().nth(1).unwrap();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
            }
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let bare = name.split('{').next().unwrap();
        assert!(
            bare.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name {bare}"
        );
        out.push((name.to_owned(), value));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_match_writes_results_and_a_verifiable_replay() {
    let mut cfg = fast_config();
    let dir = data_dir("replay");
    cfg.server.data_dir = dir.clone();
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut a = GameClient::join(&url, "ann").await.unwrap();
    let mut b = GameClient::join(&url, "bob").await.unwrap();
    let id = a.welcome().match_id;
    for i in 0..90u32 {
        a.send_input(100, (i % 7) as i8 * 10, (i * 3) as u8, 1)
            .await
            .unwrap();
        b.send_input(-100, 20, (i * 5) as u8, (i % 2) as u8)
            .await
            .unwrap();
        a.next_state(WAIT).await.unwrap();
        b.next_state(WAIT).await.unwrap();
    }
    drop(b); // one player drops mid-match: recorded as a link change
    for _ in 0..10 {
        a.send_input(0, 50, 0, 1).await.unwrap();
        a.next_state(WAIT).await.unwrap();
    }
    assert!(server.handle.end_match(id, EndReason::Admin).await);
    let (ended, code) = read_to_close(&mut a).await;
    assert_eq!(code, 1000);
    let ended = ended.expect("MatchEnded before the close");

    // The results line was written (and fsynced) before the client heard of the end.
    let (records, skipped) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    assert_eq!(skipped, 0);
    let rec = records
        .iter()
        .find(|r| r.match_id == id)
        .expect("results line");
    assert_eq!(rec.reason, "admin");
    assert_eq!(rec.map, "arena");
    assert!(rec.ticks >= 100 && rec.ended_at_ms >= rec.started_at_ms);
    assert_eq!(rec.players.len(), 2);
    assert_eq!(rec.players.len(), ended.players.len());

    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay).unwrap();
    assert_eq!(outcome.ticks, rec.ticks);
    assert!(outcome.hashes_checked >= 3);
    let bin = env!("CARGO_BIN_EXE_tickwire");
    let out = Command::new(bin)
        .args(["replay", "--verify"])
        .arg(&replay)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ann"));

    // Corrupt one byte in the middle: verification fails and names the tick.
    let mut bytes = std::fs::read(&replay).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let bad = dir.join("corrupt.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let out = Command::new(bin)
        .args(["replay", "--verify"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tick"), "{err}");
    // A truncated file is detected too.
    std::fs::write(&bad, &std::fs::read(&replay).unwrap()[..mid]).unwrap();
    assert!(matches!(
        tickwire::replay::verify(&bad),
        Err(tickwire::replay::ReplayError::Truncated { .. })
    ));
    server.stop().await;
}

#[test]
fn config_precedence_and_errors_through_the_binary() {
    let bin = env!("CARGO_BIN_EXE_tickwire");
    let dir = data_dir("config");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.toml");
    std::fs::write(
        &file,
        "[game]\ntick_rate = 20\nmax_players = 10\nscore_limit = 5\n",
    )
    .unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(bin);
        cmd.args(args).env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let config_arg = file.to_str().unwrap();
    let out = run(
        &[
            "config",
            "--print",
            "--config",
            config_arg,
            "--players-per-match",
            "12",
        ],
        &[
            ("TICKWIRE_GAME_TICK_RATE", "40"),
            ("TICKWIRE_GAME_MAX_PLAYERS", "11"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: toml::Table = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let game = printed["game"].as_table().unwrap();
    assert_eq!(game["tick_rate"].as_integer(), Some(40), "env beats file");
    assert_eq!(game["max_players"].as_integer(), Some(12), "flag beats env");
    assert_eq!(
        game["score_limit"].as_integer(),
        Some(5),
        "file beats defaults"
    );
    assert_eq!(
        game["min_players"].as_integer(),
        Some(2),
        "defaults fill the rest"
    );

    std::fs::write(&file, "[net]\nmax_mesage_bytes = 10\n").unwrap();
    let out = run(&["config", "--print", "--config", config_arg], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("max_mesage_bytes") && err.contains("server.toml"),
        "{err}"
    );
    std::fs::write(&file, "[game]\ntick_rate = \"fast\"\n").unwrap();
    let out = run(&["config", "--print", "--config", config_arg], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("tick_rate"), "{err}");
    let out = run(
        &["config", "--print"],
        &[("TICKWIRE_SERVER_MAX_MATCHES", "-3")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("TICKWIRE_SERVER_MAX_MATCHES"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free loopback port (bound and released; the race is acceptable for a test).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_closes_1001_and_writes_results() {
    let dir = data_dir("sigterm");
    let (game_port, admin_port) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["serve", "--addr", &format!("127.0.0.1:{game_port}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .arg("--data-dir")
        .arg(&dir)
        .env("TICKWIRE_SERVER_DRAIN_TIMEOUT_MS", "300")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("ws://127.0.0.1:{game_port}/ws");
    let mut clients = Vec::new();
    for attempt in 0..100 {
        match GameClient::join(&url, "p0").await {
            Ok(c) => {
                clients.push(c);
                break;
            }
            Err(_) if attempt < 99 => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("server did not come up: {e}"),
        }
    }
    for i in 1..3 {
        clients.push(GameClient::join(&url, &format!("p{i}")).await.unwrap());
    }
    let ids: Vec<u64> = clients.iter().map(|c| c.welcome().match_id).collect();
    for c in clients.iter_mut() {
        c.next_state(WAIT).await.unwrap();
    }
    let admin = format!("http://127.0.0.1:{admin_port}");
    assert_eq!(
        http("GET", &format!("{admin}/readyz"), None, None).await.0,
        200
    );

    kill(child.id(), "TERM");
    // Readiness goes false at once while the drain runs.
    let mut saw_unready = false;
    for _ in 0..20 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            try_http(&format!("{admin}/readyz")),
        )
        .await
        {
            Ok(Some(503)) => {
                saw_unready = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    assert!(saw_unready, "readyz did not go 503 during the drain");
    for c in clients.iter_mut() {
        let (ended, code) = read_to_close(c).await;
        assert_eq!(code, 1001, "every client is closed with 1001");
        assert_eq!(ended.map(|r| r.reason), Some(EndReason::Shutdown));
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let (records, skipped) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    assert_eq!(skipped, 0);
    for id in ids {
        let rec = records
            .iter()
            .find(|r| r.match_id == id)
            .expect("results line per match");
        assert_eq!(rec.reason, "shutdown");
        assert_eq!(rec.players.len(), 3);
    }
    assert_replays_verify(&dir);
}

fn assert_replays_verify(dir: &Path) {
    for entry in std::fs::read_dir(dir.join("replays")).unwrap() {
        let path = entry.unwrap().path();
        tickwire::replay::verify(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

async fn try_http(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/')?);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(host).await.ok()?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    String::from_utf8_lossy(&buf).get(9..12)?.parse().ok()
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}
