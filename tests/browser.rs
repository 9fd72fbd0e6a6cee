//! The browser clients, end to end: the real server on 127.0.0.1:0, headless Chromium driven by
//! `tests/browser/e2e.mjs` (Playwright with the system Chromium): arena's page played, watched
//! and resumed, then soccer's page (`/soccer/`) played by two pages that score a goal; every
//! claim about the game checked through the server rather than the page.
//!
//! Needs `chromium` (Debian's package) and `npm ci --prefix tests/browser`; `.ci/run` installs
//! both. Without them the test is reported as *ignored* (with the reason on stderr; this file
//! has its own libtest-mimic harness so that the decision is made at run time), except under CI
//! (`CI` set), where it fails. `TICKWIRE_CHROMIUM` overrides the browser path. Screenshots land in
//! `target/browser-artifacts/`; `TICKWIRE_UPDATE_SCREENSHOT=1` also copies the match screenshot
//! to `assets/web/screenshot.png` (the README's picture).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestServer, fast_config};
use serde_json::{Value, json};
use tickwire::ServerHandle;
use tickwire_arena::EntityKind;
use tickwire_proto::msg::EndReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The whole browser scenario must finish within this.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What the browser test needs, or why it cannot run.
struct Prereqs {
    chromium: PathBuf,
    node: PathBuf,
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn prerequisites() -> Result<Prereqs, String> {
    let chromium = match std::env::var_os("TICKWIRE_CHROMIUM") {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(format!("TICKWIRE_CHROMIUM={} is not a file", p.display()));
            }
            p
        }
        None => ["chromium", "chromium-browser"]
            .iter()
            .find_map(|n| find_in_path(n))
            .ok_or("chromium is not installed (apt-get install -y chromium)")?,
    };
    let node = find_in_path("node").ok_or("node is not installed")?;
    let module = repo().join("tests/browser/node_modules/playwright-core/package.json");
    if !module.is_file() {
        return Err(
            "tests/browser/node_modules is missing (npm ci --prefix tests/browser)".to_owned(),
        );
    }
    Ok(Prereqs { chromium, node })
}

/// The test harness: the browser scenario is ignored (counted as such) when its prerequisites
/// are missing outside CI; under CI, or with `--include-ignored`, it runs and a missing
/// prerequisite fails it.
fn main() -> std::process::ExitCode {
    use libtest_mimic::{Arguments, Failed, Trial};
    let args = Arguments::from_args();
    let pre = prerequisites();
    let ignore = match &pre {
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "browser_client_plays_spectates_and_resumes is ignored: {why}. \
                 .ci/run installs what it needs."
            );
            true
        }
        _ => false,
    };
    let on_runtime = |test: std::pin::Pin<Box<dyn Future<Output = ()>>>| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(test);
    };
    let trials = vec![
        Trial::test("browser_client_plays_spectates_and_resumes", move || {
            let pre = pre.map_err(|why| Failed::from(format!("cannot run: {why}")))?;
            on_runtime(Box::pin(browser_client_plays_spectates_and_resumes(pre)));
            Ok(())
        })
        .with_ignored_flag(ignore),
        Trial::test("the_server_serves_the_client_files", move || {
            on_runtime(Box::pin(the_server_serves_the_client_files()));
            Ok(())
        }),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy in front of the server that the test can cut or stall.

struct ProxyConn {
    pumps: [JoinHandle<()>; 2],
    frozen: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Proxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<ProxyConn>>>,
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.load(Ordering::Acquire) {
            // Stalled: swallow everything, close nothing.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        let conns = proxy.conns.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                let frozen = Arc::new(AtomicBool::new(false));
                let pumps = [
                    tokio::spawn(pump(ir, ow, frozen.clone())),
                    tokio::spawn(pump(or, iw, frozen.clone())),
                ];
                conns.lock().unwrap().push(ProxyConn { pumps, frozen });
            }
        });
        proxy
    }

    /// Drops every live proxied connection (both sockets close without a WebSocket close).
    fn kill(&self) -> usize {
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        let live = conns.iter().filter(|c| !c.pumps[0].is_finished()).count();
        for c in conns {
            for p in c.pumps {
                p.abort();
            }
        }
        live
    }

    /// Stops forwarding on every live proxied connection, leaving the sockets open.
    fn freeze(&self) -> usize {
        let conns = self.conns.lock().unwrap();
        let mut n = 0;
        for c in conns.iter().filter(|c| !c.pumps[0].is_finished()) {
            c.frozen.store(true, Ordering::Release);
            n += 1;
        }
        n
    }
}

// ---------------------------------------------------------------------------------------------
// Answers to the script's questions, from the server itself.

async fn players(handle: &ServerHandle) -> Value {
    let mut players = Vec::new();
    let mut projectiles = Vec::new();
    let mut spectators = 0;
    let mut match_ids = Vec::new();
    for id in handle.match_ids() {
        let Some(m) = handle.state().registry.get(id) else {
            continue;
        };
        // Arena's entities only: the soccer scenario asks `soccer` about its matches.
        if m.shared.game != "arena" {
            continue;
        }
        spectators += m.shared.spectators.load(Ordering::Acquire);
        let tick = m.shared.tick.load(Ordering::Acquire);
        match_ids.push(id.to_string());
        let Some(snapshot) = handle.snapshot(id, tick).await else {
            continue;
        };
        for e in snapshot.iter().filter(|e| e.kind == EntityKind::Projectile) {
            projectiles.push(json!({
                "owner": e.owner,
                "x": f64::from(e.x) / 8.0,
                "y": f64::from(e.y) / 8.0,
            }));
        }
        for e in snapshot.iter().filter(|e| e.kind == EntityKind::Player) {
            players.push(json!({
                "match_id": id.to_string(),
                "entity_id": e.id,
                "name": e.name,
                "x": f64::from(e.x) / 8.0,
                "y": f64::from(e.y) / 8.0,
                "flags": e.flags,
                "hp": e.hp,
                "tick": tick,
            }));
        }
    }
    json!({
        "players": players,
        "projectiles": projectiles,
        "spectators": spectators,
        "match_ids": match_ids,
    })
}

/// Soccer's kinds (player 0, ball 1, score 2) and a row's fields, as its schema declares them.
const SOCCER_BALL: u16 = 1;
const SOCCER_SCORE: u16 = 2;
/// A soccer player's `team` field (after x, y, vx, vy, aim).
const SOCCER_TEAM: usize = 5;

/// Every soccer match's newest snapshot: its phase, players (with their team, 0 home, 1 away),
/// the ball and the score board (home, away, kickoff ticks left), positions in world units.
async fn soccer(handle: &ServerHandle) -> Value {
    let mut matches = Vec::new();
    for id in handle.match_ids() {
        let Some(m) = handle.state().registry.get(id) else {
            continue;
        };
        if m.shared.game != "soccer" {
            continue;
        }
        let tick = m.shared.tick.load(Ordering::Acquire);
        let Some(rows) = handle.snapshot_rows(id, tick).await else {
            continue;
        };
        let at = |r: &tickwire_proto::schema::rows::EntityRow| json!({"x": r.values[0] as f64 / 8.0, "y": r.values[1] as f64 / 8.0});
        let players: Vec<Value> = rows
            .iter()
            .filter(|r| r.kind == 0)
            .map(|r| {
                let mut p = at(r);
                p["entity_id"] = r.id.into();
                p["name"] = r.strings.first().cloned().unwrap_or_default().into();
                p["team"] = r.values[SOCCER_TEAM].into();
                p
            })
            .collect();
        let ball = rows.iter().find(|r| r.kind == SOCCER_BALL).map(at);
        let score = rows
            .iter()
            .find(|r| r.kind == SOCCER_SCORE)
            .map(|r| json!({"home": r.values[0], "away": r.values[1], "kickoff": r.values[2]}));
        matches.push(json!({
            "match_id": id.to_string(),
            "tick": tick,
            "phase": m.shared.phase.load(Ordering::Acquire),
            "players": players,
            "ball": ball,
            "score": score,
        }));
    }
    json!({ "matches": matches })
}

async fn answer(cmd: &Value, handle: &ServerHandle, proxy: &Proxy) -> Value {
    let mut reply = match cmd["cmd"].as_str() {
        Some("players") => players(handle).await,
        Some("soccer") => soccer(handle).await,
        Some("kill_proxy") => json!({"killed": proxy.kill()}),
        Some("freeze_proxy") => json!({"frozen": proxy.freeze()}),
        Some("end_match") => {
            let id = cmd["match_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            json!({"ended": handle.end_match(id, EndReason::Admin).await})
        }
        other => json!({"error": format!("unknown command {other:?}")}),
    };
    reply["id"] = cmd["id"].clone();
    reply
}

/// Kills the node process (and so its browser) if the test ends early.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser_client_plays_spectates_and_resumes(pre: Prereqs) {
    let mut config = fast_config();
    // Browser-friendly timings: a stalled link must be noticed by the page (2.5 s of silence)
    // and resumed well within the grace period.
    config.net.heartbeat_interval_ms = 1000;
    config.net.idle_timeout_ms = 3000;
    config.net.handshake_timeout_ms = 5000;
    config.server.hello_timeout_ms = 5000;
    config.server.reconnect_grace_ms = 10_000;
    // A small soccer pitch with wide goals and a short kickoff pause, so that one kick from the
    // kickoff spot scores within a second (arena's matches are not affected).
    config.soccer.pitch_width = 500;
    config.soccer.pitch_height = 300;
    config.soccer.goal_width = 200.0;
    config.soccer.kickoff_pause_ticks = 10;
    let server = TestServer::start(config).await;
    let proxy = Proxy::start(server.addr).await;
    let artifacts = repo().join("target/browser-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);

    let child = Command::new(&pre.node)
        .arg(repo().join("tests/browser/e2e.mjs"))
        .current_dir(repo().join("tests/browser"))
        .env("TICKWIRE_URL", format!("http://{}", server.addr))
        .env("TICKWIRE_PROXY_URL", format!("http://{}", proxy.addr))
        .env("TICKWIRE_CHROMIUM", &pre.chromium)
        .env("TICKWIRE_ARTIFACTS", &artifacts)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let mut child = ChildGuard(child);
    let mut stdin = child.0.stdin.take().expect("stdin");
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let started = Instant::now();
    let mut done = false;
    loop {
        let left = SCENARIO_TIMEOUT.saturating_sub(started.elapsed());
        let line = match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(_) => panic!("the browser scenario took more than {SCENARIO_TIMEOUT:?}"),
        };
        let Some(cmd) = line.strip_prefix("@@ ") else {
            println!("browser: {line}");
            continue;
        };
        let cmd: Value = serde_json::from_str(cmd).expect("a command line is JSON");
        if cmd["cmd"] == "done" {
            done = true;
            continue;
        }
        let reply = answer(&cmd, &server.handle, &proxy).await;
        writeln!(stdin, "{reply}").expect("write to the script");
        stdin.flush().expect("flush");
    }
    let status = child.0.wait().expect("node exits");
    assert!(
        status.success() && done,
        "the browser scenario failed ({status}); see its output above"
    );
    println!(
        "browser scenario passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let shot = artifacts.join("match.png");
    let bytes = std::fs::read(&shot).expect("the match screenshot was saved");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} is a real screenshot",
        shot.display()
    );
    if std::env::var_os("TICKWIRE_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, repo().join("assets/web/screenshot.png")).expect("copy screenshot");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The HTTP side, over a real socket (no browser needed).

async fn http(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("the server answers")
        .unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&out[..split]).to_lowercase();
    (head, out[split + 4..].to_vec())
}

async fn the_server_serves_the_client_files() {
    let server = TestServer::start(fast_config()).await;
    let addr = server.addr;
    let get = |path: &str, method: &str| {
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    };
    let (head, body) = http(addr, &get("/", "GET")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html; charset=utf-8"));
    assert!(head.contains("cache-control: no-cache"));
    assert!(head.contains("etag: \""));
    assert!(String::from_utf8_lossy(&body).contains("<canvas id=\"game\""));

    let (head, body) = http(addr, &get("/sdk/tickwire.js", "GET")).await;
    assert!(head.contains("content-type: text/javascript"), "{head}");
    let len = body.len();
    let (head, body) = http(addr, &get("/sdk/tickwire.js", "HEAD")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {len}")), "{head}");
    assert!(body.is_empty());

    for path in [
        "/nope.js",
        "/../Cargo.toml",
        "/js/../../Cargo.toml",
        "/%2e%2e/src/web.rs",
    ] {
        let (head, _) = http(addr, &get(path, "GET")).await;
        assert!(head.starts_with("http/1.1 404"), "{path}: {head}");
    }
    // Soccer's page, from the files soccer embeds, under the same policy.
    let (head, body) = http(addr, &get("/soccer/", "GET")).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("src=\"soccer.js\""));
    let (head, _) = http(addr, &get("/soccer/soccer.js", "GET")).await;
    assert!(head.contains("content-type: text/javascript"), "{head}");
    let (head, _) = http(addr, &get("/soccer", "GET")).await;
    assert!(
        head.starts_with("http/1.1 302") && head.contains("location: /soccer/"),
        "{head}"
    );
    let (head, _) = http(addr, &get("/soccer/nope.js", "GET")).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    let (head, _) = http(addr, &get("/", "POST")).await;
    assert!(head.starts_with("http/1.1 405"), "{head}");

    let (head, body) = http(addr, &get("/game.json", "GET")).await;
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["tick_rate"], 30);
    // The WebSocket endpoint is unaffected.
    let (head, _) = http(addr, &get("/ws", "GET")).await;
    assert!(
        head.starts_with("http/1.1 404"),
        "a plain GET /ws is not a page: {head}"
    );
    server.stop().await;
}
