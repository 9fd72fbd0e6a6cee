//! Listener hardening over real sockets: the admin port cannot take the game port down,
//! refusals are answered at once, a connection flood from one address stays bounded, admin
//! logins are counted and throttled, close codes stay a fixed label set, and start-up refuses
//! an unauthenticated remote admin API. Where traffic is involved a witness in another match
//! keeps one frame per tick.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, Witness, fast_config};
use tickwire::Config;
use tickwire_client::{GameClient, hello};
use tickwire_net::client::{self, ClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);

/// Starts the admin API for `server` (with its `[admin]` settings) on an ephemeral port.
async fn start_admin(server: &TestServer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tickwire::admin::serve(
        listener,
        server.handle.state().clone(),
        tickwire::telemetry::prometheus(),
        std::future::pending(),
    ));
    addr
}

/// A TCP connection to `addr` from the loopback address `ip`.
async fn connect_from(ip: &str, addr: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Everything `s` receives until EOF (or a reset), or None when it is still open after `wait`.
async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// One HTTP/1.1 request from `ip` on a fresh connection (`Connection: close`): status and the
/// whole response text.
async fn request(
    ip: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = connect_from(ip, addr).await;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let _ = s.write_all(req.as_bytes()).await;
    let text = read_until_closed(&mut s, WAIT)
        .await
        .expect("answered and closed");
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

/// The sum of every sample of `name` in `/metrics` whose labels contain all of `labels`, and
/// how many series of `name` there are.
async fn metric(admin: SocketAddr, name: &str, labels: &[&str]) -> (f64, usize) {
    let (status, text) = request("127.0.0.1", admin, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200, "{text}");
    let (mut sum, mut series) = (0.0, 0);
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        series += 1;
        if labels.iter().all(|l| rest.contains(l)) {
            sum += rest
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
    }
    (sum, series)
}

fn config() -> Config {
    let mut c = fast_config();
    c.server.data_dir = std::env::temp_dir().join(format!("tickwire-hard-{}", std::process::id()));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_admin_connections_cannot_take_the_game_port_down() {
    let mut cfg = config();
    cfg.admin.max_connections = 32;
    cfg.admin.max_connections_per_ip = 16;
    cfg.admin.header_timeout_ms = 10_000;
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let witness = Witness::start(&server).await;

    // 400 idle connections: 20 from one address (past its cap of 16), then the rest from 20
    // others (past the total of 32).
    let mut idle = Vec::new();
    for i in 0..400 {
        let ip = if i < 20 {
            "127.0.0.2".to_owned()
        } else {
            format!("127.0.0.{}", 3 + i % 20)
        };
        idle.push(connect_from(&ip, admin).await);
    }
    let mut reads = tokio::task::JoinSet::new();
    for mut s in idle {
        reads.spawn(async move {
            let answer = read_until_closed(&mut s, Duration::from_millis(1000)).await;
            (s, answer)
        });
    }
    let (mut held, mut refused_503, mut refused_429) = (Vec::new(), 0, 0);
    while let Some(r) = reads.join_next().await {
        let (s, answer) = r.unwrap();
        match answer {
            None => held.push(s),
            Some(t) if t.starts_with("HTTP/1.1 503") => refused_503 += 1,
            Some(t) if t.starts_with("HTTP/1.1 429") => refused_429 += 1,
            Some(t) => panic!("unexpected answer {t:?}"),
        }
    }
    assert_eq!(held.len(), 32, "the admin holds exactly its cap");
    assert_eq!(held.len() + refused_503 + refused_429, 400);
    assert_eq!((refused_429, refused_503), (4, 364));

    // The game port still accepts and plays.
    let mut player = GameClient::join(&server.url(), "player").await.unwrap();
    for _ in 0..10 {
        player.next_state(WAIT).await.unwrap();
        player.arena_input(0, 0, 0, 0).await.unwrap();
    }
    witness.check().await;
    drop(held);
    // Released, the admin answers again.
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, _) = request("127.0.0.1", admin, "GET", "/healthz", &[], "").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "admin did not recover: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (refused, _) = metric(
        admin,
        "tickwire_connections_refused_total",
        &["listener=\"admin\"", "reason=\"total\""],
    )
    .await;
    assert!(refused >= refused_503 as f64, "{refused}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keep_alive_slow_bodies_and_oversized_bodies_are_cut() {
    let mut cfg = config();
    cfg.admin.header_timeout_ms = 500;
    cfg.admin.request_timeout_ms = 700;
    cfg.admin.max_body_bytes = 1024;
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let witness = Witness::start(&server).await;

    // An idle keep-alive connection is closed after the header timeout.
    let mut s = connect_from("127.0.0.1", admin).await;
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {admin}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    let text = read_until_closed(&mut s, Duration::from_secs(2))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(started.elapsed() < Duration::from_millis(1500));

    // A silent connection is closed after the header timeout.
    let mut silent = connect_from("127.0.0.1", admin).await;
    assert!(
        read_until_closed(&mut silent, Duration::from_secs(2))
            .await
            .is_some(),
        "a silent connection is closed"
    );

    // A body dribbled a byte at a time is cut at the request timeout with 408.
    let mut slow = connect_from("127.0.0.1", admin).await;
    slow.write_all(
        format!(
            "POST /matches HTTP/1.1\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let dribble = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = timeout(Duration::from_millis(1200), dribble).await;
    let text = read_until_closed(&mut slow, Duration::from_secs(2))
        .await
        .expect("a slow body is cut");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // An oversized body gets 413 and the connection closed.
    let mut big = connect_from("127.0.0.1", admin).await;
    big.write_all(
        format!(
            "POST /matches HTTP/1.1\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let _ = big.write_all(&vec![b' '; 8192]).await;
    let text = read_until_closed(&mut big, Duration::from_secs(2))
        .await
        .expect("an oversized body is cut");
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        server.handle.match_ids().len() == 1,
        "nothing was created but the witness's match"
    );
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_answered_without_waiting_for_the_request() {
    let mut cfg = config();
    cfg.server.max_connections_per_ip = 2;
    cfg.server.max_connections = 4;
    cfg.net.handshake_timeout_ms = 5000;
    cfg.admin.max_connections_per_ip = 1;
    cfg.admin.header_timeout_ms = 5000;
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let witness = Witness::start(&server).await; // one game connection from 127.0.0.1

    let _held = [
        connect_from("127.0.0.2", server.addr).await,
        connect_from("127.0.0.2", server.addr).await,
    ];
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Over the per-address cap: 429 at once, though we send nothing at all.
    let started = Instant::now();
    let mut third = connect_from("127.0.0.2", server.addr).await;
    let text = read_until_closed(&mut third, Duration::from_secs(1))
        .await
        .expect("refused and closed at once");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(text.contains("Connection: close"), "{text}");
    assert!(text.contains("Retry-After: 1"), "{text}");
    assert!(
        text.ends_with("too many connections from this address"),
        "{text}"
    );

    // Over the total cap: 503 at once.
    let _fourth = connect_from("127.0.0.3", server.addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let mut fifth = connect_from("127.0.0.4", server.addr).await;
    let text = read_until_closed(&mut fifth, Duration::from_secs(1))
        .await
        .expect("refused and closed at once");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");

    // The admin listener refuses the same way.
    let _admin_held = connect_from("127.0.0.5", admin).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let mut over = connect_from("127.0.0.5", admin).await;
    let text = read_until_closed(&mut over, Duration::from_secs(1))
        .await
        .expect("admin refusal at once");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");

    for labels in [
        ["listener=\"game\"", "reason=\"per_ip\""],
        ["listener=\"game\"", "reason=\"total\""],
        ["listener=\"admin\"", "reason=\"per_ip\""],
    ] {
        let (n, _) = metric(admin, "tickwire_connections_refused_total", &labels).await;
        assert!(n >= 1.0, "{labels:?}: {n}");
    }
    witness.check().await;
    server.stop().await;
}

/// Descriptors this process has open now.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_from_one_address_is_refused_at_once() {
    let mut cfg = config();
    // Long enough that a connection left open until its header timeout would still be open.
    cfg.net.handshake_timeout_ms = 10_000;
    let per_ip = cfg.server.max_connections_per_ip;
    let server = TestServer::start(cfg).await;
    let witness = Witness::start(&server).await;
    let before = open_descriptors();

    // 2,000 connections from 127.0.0.1, all kept open on our side.
    let mut flood = Vec::with_capacity(2000);
    for _ in 0..2000 {
        flood.push(connect_from("127.0.0.1", server.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = open_descriptors();
    // Our 2,000 plus what the server holds: at most its per-address cap, and a little slack
    // for the runtime and the witness's match.
    let server_side = during.saturating_sub(before + flood.len());
    assert!(
        server_side <= per_ip + 32,
        "the server holds {server_side} descriptors for a flood from one address (cap {per_ip})"
    );
    assert!(server.handle.state().connections() <= per_ip);
    // The refused ones were answered and closed.
    let mut answered = 0;
    for s in flood.iter_mut().rev().take(100) {
        if let Some(t) = read_until_closed(s, Duration::from_millis(500)).await {
            assert!(t.starts_with("HTTP/1.1 429"), "{t}");
            answered += 1;
        }
    }
    assert_eq!(answered, 100, "the last 100 of the flood were all refused");

    // Another address still joins and plays.
    let other = ClientConfig {
        local_ip: Some(IpAddr::from([127, 0, 0, 2])),
        ..ClientConfig::default()
    };
    let mut c = GameClient::connect_with(&server.url(), hello("second"), &other)
        .await
        .unwrap();
    for _ in 0..10 {
        c.next_state(WAIT).await.unwrap();
        c.arena_input(0, 0, 0, 0).await.unwrap();
    }
    witness.check().await;
    drop(flood);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_guesses_are_counted_and_throttled_per_address() {
    let defaults = Config::default();
    let mut cfg = config();
    cfg.admin.token = "letmein".into();
    cfg.admin.auth_failure_burst = defaults.admin.auth_failure_burst;
    cfg.admin.auth_failure_refill_ms = defaults.admin.auth_failure_refill_ms;
    let burst = cfg.admin.auth_failure_burst;
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let token = [("Authorization", "Bearer letmein")];
    let (missing_before, _) = metric_with_token(admin, "reason=\"missing\"").await;
    let (wrong_before, _) = metric_with_token(admin, "reason=\"wrong\"").await;

    // Guess as fast as we can for one second from 127.0.0.2.
    let started = Instant::now();
    let (mut unauthorized, mut throttled, mut retry_after) = (0u32, 0u32, false);
    let mut i = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        let guess = format!("Bearer guess{i}");
        let headers: &[(&str, &str)] = if i % 2 == 0 {
            &[("Authorization", &guess)]
        } else {
            &[]
        };
        let (status, text) = request("127.0.0.2", admin, "GET", "/matches", headers, "").await;
        match status {
            401 => unauthorized += 1,
            429 => {
                throttled += 1;
                retry_after |= text.contains("retry-after: ") || text.contains("Retry-After: ");
            }
            other => panic!("unexpected {other}: {text}"),
        }
        i += 1;
    }
    // At most the burst and the refills of one second are even looked at.
    assert!(
        unauthorized <= burst + 2,
        "{unauthorized} guesses evaluated in a second ({i} made)"
    );
    assert!(throttled > 0 && retry_after, "{throttled} throttled");
    // Another address is unaffected.
    let (status, _) = request("127.0.0.3", admin, "GET", "/matches", &token, "").await;
    assert_eq!(status, 200);
    let (missing, _) = metric_with_token(admin, "reason=\"missing\"").await;
    let (wrong, _) = metric_with_token(admin, "reason=\"wrong\"").await;
    assert_eq!(
        (missing - missing_before) + (wrong - wrong_before),
        f64::from(unauthorized)
    );
    assert!(missing > missing_before && wrong > wrong_before);
    // The budget refills.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = request("127.0.0.2", admin, "GET", "/matches", &token, "").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// `tickwire_admin_auth_failures_total` samples with `label`, read with the right token from an
/// address of its own.
async fn metric_with_token(admin: SocketAddr, label: &str) -> (f64, usize) {
    let (status, text) = request(
        "127.0.0.9",
        admin,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer letmein")],
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let mut sum = 0.0;
    let mut series = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("tickwire_admin_auth_failures_total{") {
            series += 1;
            if rest.contains(label) {
                sum += rest.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
            }
        }
    }
    (sum, series)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_close_codes_map_onto_a_fixed_label_set() {
    let server = TestServer::start(config()).await;
    let admin = start_admin(&server).await;
    let witness = Witness::start(&server).await;
    for code in 3000..3500u16 {
        let mut c = client::connect(&server.url(), &ClientConfig::default())
            .await
            .unwrap();
        c.close(code, "chosen by the client").await.unwrap();
        // The server echoes the close; wait for it so that it has been counted.
        loop {
            match timeout(WAIT, c.recv()).await.unwrap() {
                Ok(client::ClientEvent::Close { .. }) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    let (others, series) =
        metric(admin, "tickwire_net_disconnects_total", &["code=\"other\""]).await;
    assert!(others >= 500.0, "{others}");
    // The fixed set: every named code, `other`, and `abrupt` for drops without a close frame.
    assert!(
        series <= tickwire_net::close::CODE_LABELS.len() + 1,
        "{series} series for 500 distinct close codes"
    );
    // The server's own 4000-range codes keep their names.
    for code in [
        tickwire_proto::close::JOIN_REJECTED,
        tickwire_proto::close::SESSION_REPLACED,
    ] {
        assert_ne!(
            tickwire_net::close::code_label(Some(code)),
            tickwire_net::close::OTHER_LABEL
        );
    }
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_a_match_with_an_empty_body_creates_one() {
    let server = TestServer::start(config()).await;
    let admin = start_admin(&server).await;
    let (status, text) = request("127.0.0.1", admin, "POST", "/matches", &[], "").await;
    assert_eq!(status, 201, "{text}");
    let (status, text) = request(
        "127.0.0.1",
        admin,
        "POST",
        "/matches",
        &[("Content-Type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let (status, text) = request(
        "127.0.0.1",
        admin,
        "POST",
        "/matches",
        &[("Content-Type", "application/json")],
        "{\"max_players\": 4}",
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert!(text.contains("\"max_players\":4"), "{text}");
    let (status, text) = request("127.0.0.1", admin, "POST", "/matches", &[], "{}").await;
    assert_eq!(
        status, 415,
        "a non-empty body still needs its JSON type: {text}"
    );
    assert_eq!(server.handle.match_ids().len(), 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_names_its_game_and_an_unknown_game_is_refused_by_name() {
    let server = TestServer::start(config()).await;
    let admin = start_admin(&server).await;
    let json = [("Content-Type", "application/json")];
    let (status, text) = request(
        "127.0.0.1",
        admin,
        "POST",
        "/matches",
        &json,
        "{\"game\": \"arena\"}",
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert!(text.contains("\"game\":\"arena\""), "{text}");
    let (status, text) = request(
        "127.0.0.1",
        admin,
        "POST",
        "/matches",
        &json,
        "{\"game\": \"chess\"}",
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("unknown game") && text.contains("chess") && text.contains("hosts arena"),
        "the refusal names the game asked for and the one hosted: {text}"
    );
    let (status, text) = request("127.0.0.1", admin, "GET", "/matches", &[], "").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"game\":\"arena\""), "{text}");
    assert_eq!(server.handle.match_ids().len(), 1);
    server.stop().await;
}

/// Runs the binary with `args` and `env` for at most `wait`; returns (exit status if it
/// ended, stderr).
fn run_binary(args: &[&str], env: &[(&str, &str)], wait: Duration) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickwire"));
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + wait;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (code, err)
}

#[test]
fn a_remote_admin_api_without_a_token_refuses_to_start() {
    let dir = std::env::temp_dir().join(format!("tickwire-remote-{}", std::process::id()));
    let dir = dir.to_str().unwrap();
    let common = ["serve", "--addr", "127.0.0.1:0", "--data-dir", dir];
    let (code, err) = run_binary(
        &[&common[..], &["--admin-addr", "0.0.0.0:0"]].concat(),
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{err}");
    for key in [
        "admin.token",
        "admin.allow_unauthenticated_remote",
        "0.0.0.0",
    ] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    // The explicit opt-in starts (and runs until stopped); fault injection warns loudly.
    let (code, err) = run_binary(
        &[&common[..], &["--admin-addr", "0.0.0.0:0"]].concat(),
        &[
            ("TICKWIRE_ADMIN_ALLOW_UNAUTHENTICATED_REMOTE", "true"),
            ("TICKWIRE_SERVER_FAULT_INJECTION", "true"),
        ],
        Duration::from_secs(2),
    );
    assert_eq!(code, None, "kept running: {err}");
    assert!(
        err.lines()
            .any(|l| l.contains("WARN") && l.contains("server.fault_injection is ON")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_logged_with_the_peer_and_never_the_token() {
    let dir = std::env::temp_dir().join(format!("tickwire-authlog-{}", std::process::id()));
    let admin_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
        .arg("--data-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .env("TICKWIRE_ADMIN_TOKEN", "letmein")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let admin: SocketAddr = ([127, 0, 0, 1], admin_port).into();
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(admin).await.is_err() {
        assert!(Instant::now() < deadline, "admin did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..3 {
        let headers = [("Authorization", "Bearer hunter2-secret-guess")];
        let (status, _) = request("127.0.0.2", admin, "GET", "/matches", &headers, "").await;
        assert_eq!(status, 401);
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = err
        .lines()
        .filter(|l| l.contains("bad bearer token"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line per second, not one per guess: {err}"
    );
    assert!(
        lines[0].contains("WARN") && lines[0].contains("127.0.0.2"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the guessed token is never logged: {err}"
    );
}
