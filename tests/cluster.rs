//! Cluster mode over real processes: a `redis-server` of the test's own on a free loopback
//! port with a temporary directory, and real `tickwire` binaries on ephemeral ports, each with
//! its own data directory and admin API. Short heartbeats and expiries keep the run brief.
//!
//! Without `redis-server` on the PATH these tests fail when `CI=true` and are skipped (with a
//! line on stderr) otherwise.

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tickwire_client::GameClient;
use tickwire_proto::PROTOCOL_VERSION;
use tickwire_proto::msg::{Hello, JoinTarget, RejectReason, SessionToken};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tickwire-cluster-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `redis-server` of this test's own.
struct Redis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    /// Starts one, or `None` (skip) when `redis-server` is missing outside CI.
    fn start() -> Option<Redis> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("redis-server is not installed (apt-get install -y redis-server)");
            }
            eprintln!("SKIPPED: redis-server is not installed");
            return None;
        }
        let mut r = Redis {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        };
        r.spawn();
        Some(r)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One `tickwire` process in cluster mode.
struct Instance {
    id: String,
    game: SocketAddr,
    admin: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
}

/// Settings of one test's instances.
#[derive(Clone)]
struct Setup {
    match_size: u16,
    min_players: u32,
    rating_window: f64,
    widen: f64,
    reservation_ttl_ms: u64,
    ticket_timeout_ms: u64,
    drain_timeout_ms: u64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            match_size: 4,
            min_players: 2,
            rating_window: 100.0,
            widen: 0.0,
            reservation_ttl_ms: 5000,
            ticket_timeout_ms: 8000,
            drain_timeout_ms: 10000,
        }
    }
}

impl Instance {
    fn start(id: &str, redis: &Redis, s: &Setup) -> Instance {
        let game: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let dir = temp_dir(id);
        let config = format!(
            r#"
[server]
listen = "{game}"
data_dir = "{data}"
record_replays = false
drain_timeout_ms = {drain}
reconnect_grace_ms = 3000
empty_match_linger_ms = 2000
max_matches = 8
[admin]
listen = "{admin}"
[game]
max_players = {size}
min_players = 2
[cluster]
redis_url = "{redis}"
instance_id = "{id}"
heartbeat_interval_ms = 200
instance_expiry_ms = 1200
redis_timeout_ms = 300
reservation_ttl_ms = {ttl}
ticket_timeout_ms = {timeout}
rating_window = {window:.1}
rating_window_widen_per_sec = {widen:.1}
match_min_players = {min}
matchmaker_interval_ms = 50
"#,
            data = dir.join("data").display(),
            drain = s.drain_timeout_ms,
            size = s.match_size,
            redis = redis.url(),
            ttl = s.reservation_ttl_ms,
            timeout = s.ticket_timeout_ms,
            window = s.rating_window,
            widen = s.widen,
            min = s.min_players,
        );
        let path = dir.join("server.toml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.join("log.txt")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "warn,tickwire=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tickwire");
        Instance {
            id: id.to_owned(),
            game,
            admin,
            dir,
            child: Some(child),
        }
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.game)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn terminate(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- log of {} ---\n{}", self.id, self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One HTTP/1.1 request; the status and the body as JSON (`null` when not JSON).
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status: u16 = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Waits until every instance is listed in the directory.
async fn wait_listed(instances: &[&Instance]) {
    let want: HashSet<String> = instances.iter().map(|i| i.id.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Ok((200, v))) = tokio::time::timeout(
            Duration::from_secs(2),
            try_http(instances[0].admin, "GET", "/cluster"),
        )
        .await
        {
            let ids: HashSet<String> = listed(&v);
            if want.is_subset(&ids) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "instances never all listed; log:\n{}",
            instances[0].log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn listed(v: &Value) -> HashSet<String> {
    v["instances"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn try_http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, Value)> {
    tokio::net::TcpStream::connect(addr).await?;
    Ok(http(addr, method, path, None).await)
}

/// Opens a ticket at `inst`; returns its id.
async fn ticket(inst: &Instance, body: Value) -> String {
    let (status, v) = http(inst.game, "POST", "/matchmake", Some(&body)).await;
    assert_eq!(status, 202, "POST /matchmake: {v}");
    v["ticket"].as_str().unwrap().to_owned()
}

/// Long-polls a ticket until it is no longer queued (or `within` passed).
async fn settle(inst: &Instance, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, v) = http(
            inst.game,
            "GET",
            &format!("/matchmake/{id}?wait_ms=500"),
            None,
        )
        .await;
        assert_eq!(status, 200, "GET ticket: {v}");
        if v["state"] != "queued" || Instant::now() >= deadline {
            return v;
        }
    }
}

fn token_bytes(hex: &str) -> [u8; 16] {
    let mut t = [0u8; 16];
    for (i, b) in t.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    t
}

fn reserved_hello(placed: &Value, seat: usize) -> Hello {
    let r = &placed["reservations"][seat];
    Hello {
        version: PROTOCOL_VERSION,
        game: None,
        schema_hash: None,
        name: r["name"].as_str().unwrap_or("p").to_owned(),
        session: None,
        join: JoinTarget::Reserved {
            match_id: placed["match_id"].as_u64().unwrap(),
            token: token_bytes(r["token"].as_str().unwrap()),
        },
    }
}

async fn take_seat(placed: &Value, seat: usize) -> GameClient {
    let url = placed["url"].as_str().unwrap();
    GameClient::connect(url, reserved_hello(placed, seat))
        .await
        .unwrap_or_else(|e| panic!("seat {seat} of {placed}: {e}"))
}

async fn refused(url: &str, hello: Hello) -> (RejectReason, String) {
    match GameClient::connect(url, hello).await {
        Err(tickwire_client::ClientError::Rejected { reason, message }) => (reason, message),
        Err(e) => panic!("expected a Reject, got {e}"),
        Ok(c) => panic!("expected a Reject, got a Welcome {:?}", c.welcome()),
    }
}

fn resume_hello(token: SessionToken) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        game: None,
        schema_hash: None,
        name: String::new(),
        session: Some(token),
        join: JoinTarget::Any,
    }
}

/// Reads frames until `n` state frames arrived (the match ticks and this client is in it).
async fn ticks(c: &mut GameClient, n: usize) {
    for _ in 0..n {
        c.next_state(Duration::from_secs(3))
            .await
            .expect("state frames keep coming");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn party_of_four_lands_in_one_match() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup {
        match_size: 6,
        ..Setup::default()
    };
    let a = Instance::start("party-a", &redis, &s);
    let b = Instance::start("party-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    // Three parties of 4 in matches of 6: no two fit together, none may be split.
    let mut ids = Vec::new();
    for p in 0..3 {
        let at = if p % 2 == 0 { &a } else { &b };
        let party: Vec<String> = (0..4).map(|i| format!("p{p}m{i}")).collect();
        ids.push(ticket(at, json!({"party": party})).await);
    }
    let mut matches = HashSet::new();
    for id in &ids {
        let placed = settle(&a, id, Duration::from_secs(5)).await;
        assert_eq!(placed["state"], "placed", "{placed}");
        assert_eq!(placed["reservations"].as_array().unwrap().len(), 4);
        assert!(matches.insert(placed["match_id"].as_u64().unwrap()));
        let mut local = HashSet::new();
        let mut clients = Vec::new();
        for seat in 0..4 {
            let c = take_seat(&placed, seat).await;
            local.insert(c.welcome().match_id);
            clients.push(c);
        }
        assert_eq!(local.len(), 1, "the party's four seats are in one match");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rated_queue_places_within_window() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup {
        ticket_timeout_ms: 2000,
        ..Setup::default()
    };
    let a = Instance::start("rated-a", &redis, &s);
    wait_listed(&[&a]).await;
    let ratings = [1000.0, 1080.0, 1500.0, 1560.0, 2000.0, 2095.0];
    let mut ids = Vec::new();
    for r in ratings {
        ids.push((r, ticket(&a, json!({"mode": "ranked", "rating": r})).await));
    }
    let lonely = ticket(&a, json!({"mode": "ranked", "rating": 9000.0})).await;
    let cancelled = ticket(&a, json!({"mode": "ranked", "rating": 20000.0})).await;
    let mut by_match: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for (r, id) in &ids {
        let placed = settle(&a, id, Duration::from_secs(5)).await;
        assert_eq!(placed["state"], "placed", "{placed}");
        let gap = placed["rating_gap"].as_f64().unwrap();
        assert!(gap <= 100.0, "rating gap {gap} within the window of 100");
        by_match
            .entry(placed["match_id"].as_u64().unwrap())
            .or_default()
            .push(*r);
    }
    for (m, rs) in &by_match {
        let spread = rs.iter().cloned().fold(f64::MIN, f64::max)
            - rs.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread <= 100.0, "match {m} mixes ratings {rs:?}");
    }
    assert_eq!(by_match.len(), 3, "{by_match:?}");
    // Cancel: once, then it is no longer queued.
    let (status, v) = http(a.game, "DELETE", &format!("/matchmake/{cancelled}"), None).await;
    assert_eq!((status, v["state"].as_str()), (200, Some("cancelled")));
    let (status, _) = http(a.game, "DELETE", &format!("/matchmake/{cancelled}"), None).await;
    assert_eq!(status, 409);
    // Nobody near 9000: it gives up with a clear reason.
    let v = settle(&a, &lonely, Duration::from_secs(5)).await;
    assert_eq!(v["state"], "timed_out", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("ticket_timeout_ms"));
    // Bad tickets get clear 400s, unknown tickets 404.
    let (status, v) = http(a.game, "POST", "/matchmake", Some(&json!({"rating": "x"}))).await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = http(a.game, "POST", "/matchmake", Some(&json!({"party": []}))).await;
    assert_eq!(status, 400);
    let (status, _) = http(
        a.game,
        "GET",
        &format!("/matchmake/{}", "0".repeat(32)),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservation_token_reused_or_expired_is_refused() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup {
        reservation_ttl_ms: 1000,
        ..Setup::default()
    };
    let a = Instance::start("token-a", &redis, &s);
    let b = Instance::start("token-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    let id = ticket(&a, json!({"party": ["ann", "bob"]})).await;
    let placed = settle(&a, &id, Duration::from_secs(5)).await;
    assert_eq!(placed["state"], "placed", "{placed}");
    let url = placed["url"].as_str().unwrap().to_owned();
    let other = if url == a.ws_url() { &b } else { &a };
    // Presented to the wrong instance: refused there, and still good where it belongs.
    let (reason, _) = refused(&other.ws_url(), reserved_hello(&placed, 0)).await;
    assert_eq!(reason, RejectReason::BadReservation);
    let _ann = take_seat(&placed, 0).await;
    let (reason, message) = refused(&url, reserved_hello(&placed, 0)).await;
    assert_eq!(reason, RejectReason::BadReservation, "{message}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (reason, message) = refused(&url, reserved_hello(&placed, 1)).await;
    assert_eq!(reason, RejectReason::BadReservation);
    assert!(message.contains("expired"), "{message}");
    // Outside the matchmaker there are no seats on a cluster instance.
    let (reason, _) = refused(&url, tickwire_client::hello("x")).await;
    assert_eq!(reason, RejectReason::BadReservation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_race_for_the_last_seat() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup {
        match_size: 3,
        ..Setup::default()
    };
    let a = Instance::start("race-a", &redis, &s);
    let b = Instance::start("race-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    for round in 0..3 {
        let party = ticket(
            &a,
            json!({"mode": format!("race{round}"), "party": ["x", "y"]}),
        )
        .await;
        let placed = settle(&a, &party, Duration::from_secs(5)).await;
        let cmid = placed["match_id"].as_u64().unwrap();
        // One seat left; one ticket through each instance at once, both instances' passes
        // running.
        let body = json!({"mode": format!("race{round}")});
        let (t1, t2) = tokio::join!(ticket(&a, body.clone()), ticket(&b, body.clone()));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (v1, v2) = tokio::join!(
            settle(&a, &t1, Duration::ZERO),
            settle(&b, &t2, Duration::ZERO)
        );
        let winners: Vec<&Value> = [&v1, &v2]
            .into_iter()
            .filter(|v| v["state"] == "placed")
            .collect();
        assert_eq!(winners.len(), 1, "exactly one wins: {v1} {v2}");
        assert_eq!(winners[0]["match_id"].as_u64(), Some(cmid));
        let loser = if v1["state"] == "placed" { &v2 } else { &v1 };
        assert_eq!(loser["state"], "queued");
        let c1 = take_seat(&placed, 0).await;
        let _c2 = take_seat(&placed, 1).await;
        let c3 = take_seat(winners[0], 0).await;
        assert_eq!(c1.welcome().match_id, c3.welcome().match_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_sigkill_leaves_directory() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup::default();
    let mut a = Instance::start("kill-a", &redis, &s);
    let b = Instance::start("kill-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    // Seat players until one sits on A (placement spreads, so this takes a few at most).
    let mut on_a = None;
    let mut keep = Vec::new();
    for round in 0..6 {
        let id = ticket(
            &b,
            json!({"mode": format!("k{round}"), "party": ["p", "q"]}),
        )
        .await;
        let placed = settle(&b, &id, Duration::from_secs(5)).await;
        let c = take_seat(&placed, 0).await;
        if placed["url"] == a.ws_url() {
            on_a = Some(c.welcome().session);
            keep.push(c);
            break;
        }
        keep.push(c);
    }
    let session = on_a.expect("some match was placed on A");
    // A session of A presented to B: B names A. A publishes its seats to the directory after
    // the join (asynchronously), so under load B may not know the seat for a moment yet.
    let mut answer = refused(&b.ws_url(), resume_hello(session)).await;
    for _ in 0..30 {
        if answer.0 == RejectReason::SeatElsewhere {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = refused(&b.ws_url(), resume_hello(session)).await;
    }
    let (reason, message) = answer;
    assert_eq!(reason, RejectReason::SeatElsewhere);
    assert_eq!(message, a.ws_url());
    let killed = Instant::now();
    a.kill();
    // Expiry is 1.2 s: A leaves the directory within a few seconds.
    loop {
        let (status, v) = http(b.admin, "GET", "/cluster", None).await;
        assert_eq!(status, 200);
        if !listed(&v).contains("kill-a") {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(4),
            "A still listed {:?} after SIGKILL",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Resuming A's session now: gone, at once.
    let (reason, _) = refused(&b.ws_url(), resume_hello(session)).await;
    assert_eq!(reason, RejectReason::InstanceGone);
    // Nothing is placed on A any more.
    for round in 0..4 {
        let id = ticket(
            &b,
            json!({"mode": format!("after{round}"), "party": ["p", "q"]}),
        )
        .await;
        let placed = settle(&b, &id, Duration::from_secs(5)).await;
        assert_eq!(placed["state"], "placed");
        assert_eq!(placed["url"], b.ws_url(), "placed on B only: {placed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stop_and_restart_keeps_matches_and_recovers() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let s = Setup::default();
    let a = Instance::start("redis-a", &redis, &s);
    wait_listed(&[&a]).await;
    let id = ticket(&a, json!({"party": ["ann", "bob"]})).await;
    let placed = settle(&a, &id, Duration::from_secs(5)).await;
    let mut ann = take_seat(&placed, 0).await;
    let mut bob = take_seat(&placed, 1).await;
    ticks(&mut ann, 5).await;
    redis.stop();
    // The match keeps ticking with both players, with Redis gone for over two expiries.
    let down = Instant::now();
    let mut saw_503 = false;
    while down.elapsed() < Duration::from_secs(3) {
        ticks(&mut ann, 3).await;
        ticks(&mut bob, 3).await;
        if !saw_503 {
            let (status, v) = http(a.game, "POST", "/matchmake", Some(&json!({}))).await;
            if status == 503 {
                assert_eq!(v["error"], "cluster_unavailable");
                saw_503 = true;
            }
        }
    }
    assert!(saw_503, "matchmaking answers 503 while Redis is down");
    let (status, _) = http(a.admin, "GET", "/cluster", None).await;
    assert_eq!(status, 503);
    let (_, matches) = http(a.admin, "GET", "/matches", None).await;
    assert_eq!(matches[0]["players"], 2, "{matches}");
    redis.spawn();
    // Matchmaking works again without restarting the instance.
    let up = Instant::now();
    let id = loop {
        let (status, v) = http(
            a.game,
            "POST",
            "/matchmake",
            Some(&json!({"party": ["c", "d"]})),
        )
        .await;
        if status == 202 {
            break v["ticket"].as_str().unwrap().to_owned();
        }
        assert!(
            up.elapsed() < Duration::from_secs(5),
            "still {status} after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let placed = settle(&a, &id, Duration::from_secs(5)).await;
    assert_eq!(placed["state"], "placed", "{placed}");
    let _c = take_seat(&placed, 0).await;
    ticks(&mut ann, 3).await;
    ticks(&mut bob, 3).await;
    let (_, matches) = http(a.admin, "GET", "/matches", None).await;
    let total: u64 = matches
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["players"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3, "{matches}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_instance_takes_no_placements_and_finishes_its_match() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup::default();
    let mut a = Instance::start("drain-a", &redis, &s);
    let b = Instance::start("drain-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    let mut on_a = None;
    for round in 0..6 {
        let id = ticket(
            &b,
            json!({"mode": format!("d{round}"), "party": ["p", "q"]}),
        )
        .await;
        let placed = settle(&b, &id, Duration::from_secs(5)).await;
        if placed["url"] == a.ws_url() {
            on_a = Some(placed);
            break;
        }
    }
    let placed = on_a.expect("some match was placed on A");
    let mut p = take_seat(&placed, 0).await;
    ticks(&mut p, 3).await;
    a.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for round in 0..3 {
        let id = ticket(
            &b,
            json!({"mode": format!("dd{round}"), "party": ["p", "q"]}),
        )
        .await;
        let v = settle(&b, &id, Duration::from_secs(5)).await;
        assert_eq!(
            v["url"],
            b.ws_url(),
            "no placement on a draining instance: {v}"
        );
    }
    // The running match on A goes on during the drain.
    ticks(&mut p, 10).await;
    let (_, v) = http(b.admin, "GET", "/cluster", None).await;
    let a_view = v["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "drain-a")
        .cloned();
    if let Some(a_view) = a_view {
        assert_eq!(a_view["draining"], true, "{a_view}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cluster_and_metrics_show_the_matchmaker() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup::default();
    let a = Instance::start("ops-a", &redis, &s);
    let b = Instance::start("ops-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    let id = ticket(&a, json!({"party": ["a", "b"]})).await;
    let placed = settle(&a, &id, Duration::from_secs(5)).await;
    let _c = take_seat(&placed, 0).await;
    let _waiting = ticket(&a, json!({"mode": "solo"})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, v) = http(a.admin, "GET", "/cluster", None).await;
    assert_eq!(status, 200, "{v}");
    let insts = v["instances"].as_array().unwrap();
    assert_eq!(insts.len(), 2, "{v}");
    let urls: HashSet<&str> = insts.iter().filter_map(|i| i["url"].as_str()).collect();
    assert!(urls.contains(a.ws_url().as_str()) && urls.contains(b.ws_url().as_str()));
    let total: usize = insts
        .iter()
        .map(|i| i["matches"].as_array().unwrap().len())
        .sum();
    assert_eq!(total, 1, "{v}");
    let solo = v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "arena|solo|default")
        .expect("the solo queue is listed");
    assert_eq!(solo["tickets"], 1);
    assert!(solo["oldest_wait_ms"].as_u64().unwrap() >= 300, "{solo}");
    let mut metrics = String::new();
    for inst in [&a, &b] {
        let mut s = tokio::net::TcpStream::connect(inst.admin).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        s.read_to_string(&mut metrics).await.unwrap();
    }
    // The pass of either instance may have placed the ticket: the series are read from both.
    for series in [
        "tickwire_matchmaker_tickets_opened_total",
        "tickwire_matchmaker_tickets_queued",
        "tickwire_matchmaker_tickets_placed_total",
        "tickwire_matchmaker_tickets_timed_out_total",
        "tickwire_matchmaker_placement_latency_seconds",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadtest_matchmake_follows_reservations_to_every_instance() {
    let Some(redis) = Redis::start() else { return };
    let s = Setup::default();
    let a = Instance::start("lt-a", &redis, &s);
    let b = Instance::start("lt-b", &redis, &s);
    wait_listed(&[&a, &b]).await;
    let json = a.dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["loadtest", "--matchmake", "--quiet", "--url", &a.ws_url()])
        .args([
            "--bots",
            "16",
            "--per-match",
            "4",
            "--ramp",
            "100",
            "--duration",
            "2s",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    let (_, a_matches) = http(a.admin, "GET", "/matches", None).await;
    let (_, b_matches) = http(b.admin, "GET", "/matches", None).await;
    let (na, nb) = (
        a_matches.as_array().unwrap().len(),
        b_matches.as_array().unwrap().len(),
    );
    assert!(
        na >= 1 && nb >= 1,
        "matches on both instances: {na} and {nb}"
    );
    assert_eq!(na + nb, 4, "16 bots in matches of 4");
}
