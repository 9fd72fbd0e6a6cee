//! Operating the server over real sockets and real HTTP: the admin API, metrics, results,
//! replays, configuration layering, SIGTERM on the real binary, and durability: restarts on one
//! data directory, `kill -9`, a full disk and an unusable data directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, data_dir, fast_config, http, json, start_admin};
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use tickwire_client::{ClientError, GameClient, hello};
use tickwire_proto::msg::{EndReason, JoinTarget, ServerMsg};

const WAIT: Duration = Duration::from_secs(5);

/// A fresh, empty data directory under the target dir.
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

    // A match of the other game: soccer by name, on its pitch, its seats cut to two teams.
    let (status, body) = http(
        "POST",
        &format!("{admin}/matches"),
        tok,
        Some(r#"{"game":"soccer","max_players":4}"#),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let soccer = json(&body);
    assert_eq!(
        (soccer["game"].as_str(), soccer["map"].as_str()),
        (Some("soccer"), Some("pitch"))
    );
    let soccer_id = soccer["id"].as_u64().unwrap();
    let (_, body) = http("GET", &format!("{admin}/matches"), tok, None).await;
    let listed = json(&body);
    let games: Vec<(u64, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_u64().unwrap(), m["game"].as_str().unwrap()))
        .collect();
    assert!(
        games.contains(&(soccer_id, "soccer")) && games.contains(&(id, "arena")),
        "{games:?}"
    );
    let seated = GameClient::connect_schema(
        &server.url(),
        tickwire_proto::msg::Hello {
            game: Some("soccer".into()),
            schema_hash: None,
            join: JoinTarget::Match(soccer_id),
            ..hello("kicker")
        },
        <tickwire_soccer::Soccer as tickwire_sim::Game>::schema(),
    )
    .await
    .unwrap();
    assert_eq!(seated.welcome().match_id, soccer_id);
    drop(seated);
    let (status, body) = http(
        "POST",
        &format!("{admin}/matches"),
        tok,
        Some(r#"{"game":"soccer","max_players":11}"#),
    )
    .await;
    assert_eq!(
        status, 422,
        "eleven seats do not fit two teams of five: {body}"
    );
    let (status, body) = http(
        "POST",
        &format!("{admin}/matches"),
        tok,
        Some(r#"{"game":"chess"}"#),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap_or("")
            .contains("chess"),
        "{body}"
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
    let (ended, code, _) = read_to_close_reason(c).await;
    (ended, code)
}

/// Reads until the server closes: the MatchEnded results seen, the close code and reason.
async fn read_to_close_reason(
    c: &mut GameClient,
) -> (Option<tickwire_proto::msg::MatchResults>, u16, String) {
    let mut ended = None;
    tokio::time::timeout(WAIT, async {
        loop {
            match c.next_event().await {
                Ok(tickwire_client::Event::Msg(ServerMsg::MatchEnded(r))) => ended = Some(r),
                Ok(_) => {}
                Err(ClientError::Closed { code, reason }) => return (ended.take(), code, reason),
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
            b.arena_input(50, -20, 3, 1).await.unwrap();
            b.next_state(WAIT).await.unwrap();
        }
    }
    // An abrupt TCP drop (no close frame) must be counted too.
    drop(bots.pop());
    let (status, text) = http("GET", &format!("{admin}/metrics"), None, None).await;
    assert_eq!(status, 200);
    let mut expo = parse_metrics(&text);
    let deadline = std::time::Instant::now() + WAIT;
    while sample(&expo, "tickwire_net_disconnects_total", &["abrupt"]) < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "abrupt drop not counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, text) = http("GET", &format!("{admin}/metrics"), None, None).await;
        expo = parse_metrics(&text);
    }
    // Every family the server records has its HELP and TYPE; counters and gauges are exported
    // before anything happened (at 0), histograms once their match ticked.
    for family in tickwire_net::metric::FAMILIES
        .iter()
        .chain(tickwire::telemetry::family::ALL)
    {
        let found = expo
            .families
            .get(family.name)
            .unwrap_or_else(|| panic!("{} is not exported:\n{text}", family.name));
        assert!(!found.help.is_empty(), "{} has no HELP line", family.name);
        let kind = match family.kind {
            tickwire_net::metric::Kind::Counter => PrometheusType::Counter,
            tickwire_net::metric::Kind::Gauge => PrometheusType::Gauge,
            tickwire_net::metric::Kind::Histogram => PrometheusType::Histogram,
        };
        assert_eq!(found.family_type, kind, "{}", family.name);
        if family.kind == tickwire_net::metric::Kind::Counter && !family.zero_labels.is_empty() {
            let names: Vec<&str> = family.zero_labels.iter().map(|(l, _)| *l).collect();
            assert_eq!(found.get_label_names(), names, "{}", family.name);
            for set in family.zero_series() {
                let values: Vec<String> = set.iter().map(|(_, v)| (*v).to_owned()).collect();
                assert!(
                    found.get_sample_by_label_values(&values).is_some(),
                    "{}{set:?} is not exported at zero",
                    family.name
                );
            }
        }
    }
    // Nothing undecodable or stalled happened here: those counters are there, at zero.
    assert_eq!(sample(&expo, "tickwire_decode_errors_total", &[]), 0.0);
    assert_eq!(sample(&expo, "tickwire_stalled_clients_total", &[]), 0.0);
    assert_eq!(sample(&expo, "tickwire_join_rejects_total", &["full"]), 0.0);
    assert!(sample(&expo, "tickwire_join_rejects_total", &["no_such_match"]) >= 1.0);
    // One style of label values: snake_case words or a close code's number.
    for (name, family) in &expo.families {
        for s in family.iter_samples() {
            for label in family.get_label_names() {
                if label == "le" || label == "match" {
                    continue;
                }
                let set = s.get_labelset().unwrap();
                let value = set.get_label_value(label).unwrap_or_default();
                assert!(
                    !value.is_empty()
                        && value
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{name}{{{label}={value:?}}} is not snake_case"
                );
            }
        }
    }
    for name in [
        "tickwire_tick_duration_seconds",
        "tickwire_tick_lateness_seconds",
        "tickwire_players_connected",
        "tickwire_state_bytes_total",
        "tickwire_state_frames_total",
        "tickwire_net_sent_bytes_total",
        "tickwire_net_sent_frames_total",
        "tickwire_join_rejects_total",
        "tickwire_matches",
    ] {
        assert!(sum(&expo, name) > 0.0, "{name} missing or zero in:\n{text}");
    }
    assert!(sum(&expo, "tickwire_players_connected") >= 3.0);
    // Tick work at 30 Hz is far below the budget; lateness is non-negative.
    let (ticks, spent) = histogram_totals(&expo, "tickwire_tick_duration_seconds");
    assert!(
        ticks >= 60.0 && spent / ticks < 0.033,
        "{spent} s over {ticks} ticks"
    );
    server.stop().await;
}

/// Parses Prometheus text exposition into (name{labels}, value), failing on malformed lines.
/// `ticks` ticks of two players moving, aiming and firing in patterns (one input and one state
/// frame each per tick), so a replay has varied inputs to re-simulate.
async fn play_pair(a: &mut GameClient, b: &mut GameClient, ticks: u32) {
    for i in 0..ticks {
        a.arena_input(100, (i % 7) as i8 * 10, (i * 3) as u8, 1)
            .await
            .unwrap();
        b.arena_input(-100, 20, (i * 5) as u8, (i % 2) as u8)
            .await
            .unwrap();
        a.next_state(WAIT).await.unwrap();
        b.next_state(WAIT).await.unwrap();
    }
}

/// Parses a Prometheus text exposition with a strict third-party parser (openmetrics-parser):
/// a malformed line, a sample of an undeclared type or a family declared twice fails here.
fn parse_metrics(text: &str) -> MetricsExposition<PrometheusType, PrometheusValue> {
    openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("/metrics does not parse: {e:?}\n{text}"))
}

/// The value of a counter or gauge sample; 0 when absent.
fn value_of(v: &PrometheusValue) -> f64 {
    match v {
        PrometheusValue::Counter(c) => c.value.as_f64(),
        PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
        PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
        PrometheusValue::Summary(s) => s.count.unwrap_or(0) as f64,
    }
}

/// One sample of `family` by its label values, panicking when the family is missing.
fn sample(
    expo: &MetricsExposition<PrometheusType, PrometheusValue>,
    family: &str,
    labels: &[&str],
) -> f64 {
    let f = expo
        .families
        .get(family)
        .unwrap_or_else(|| panic!("{family} is not exported"));
    let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
    f.get_sample_by_label_values(&labels)
        .map_or(0.0, |s| value_of(&s.value))
}

/// A family's samples summed over their labels (histograms: observation counts); 0 when absent.
fn sum(expo: &MetricsExposition<PrometheusType, PrometheusValue>, family: &str) -> f64 {
    expo.families
        .get(family)
        .map_or(0.0, |f| f.iter_samples().map(|s| value_of(&s.value)).sum())
}

/// A histogram's observation count and sum over all its series.
fn histogram_totals(
    expo: &MetricsExposition<PrometheusType, PrometheusValue>,
    family: &str,
) -> (f64, f64) {
    let mut totals = (0.0, 0.0);
    for s in expo
        .families
        .get(family)
        .into_iter()
        .flat_map(|f| f.iter_samples())
    {
        if let PrometheusValue::Histogram(h) = &s.value {
            totals.0 += h.count.unwrap_or(0) as f64;
            totals.1 += h.sum.as_ref().map_or(0.0, |n| n.as_f64());
        }
    }
    totals
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
    play_pair(&mut a, &mut b, 90).await;
    drop(b); // one player drops mid-match: recorded as a link change
    for _ in 0..10 {
        a.arena_input(0, 50, 0, 1).await.unwrap();
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
    assert_eq!(rec.game, "arena");
    let players = rec
        .results
        .as_array()
        .expect("arena's results are its players");
    assert_eq!(players.len(), 2);
    assert_eq!(players.len(), ended.players.len());
    assert_eq!(players[0]["name"], ended.players[0].name.as_str());

    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay, &common::games()).unwrap();
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
        tickwire::replay::verify(&bad, &common::games()),
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
        "[game]\ntick_rate = 20\nmax_players = 10\n\n[arena]\nscore_limit = 5\n",
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
        printed["arena"]["score_limit"].as_integer(),
        Some(5),
        "file beats defaults, in the game's own section"
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
        assert_eq!(rec.results.as_array().map(Vec::len), Some(3));
    }
    assert_replays_verify(&dir);
}

fn assert_replays_verify(dir: &Path) {
    for entry in std::fs::read_dir(dir.join("replays")).unwrap() {
        let path = entry.unwrap().path();
        tickwire::replay::verify(&path, &common::games())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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

/// How long a real process may take to come up or exit: generous, for a loaded machine.
const PROCESS_DEADLINE: Duration = Duration::from_secs(30);

/// The real `tickwire` binary serving on free loopback ports; killed if the test fails first.
struct TickwireProcess {
    child: Option<std::process::Child>,
    ws: String,
    admin: String,
}

impl TickwireProcess {
    /// Starts the binary on `dir` with extra environment `env`; returns once `/readyz` is 200.
    async fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let (game_port, admin_port) = (free_port(), free_port());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickwire"));
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{game_port}")])
            .args(["--admin-addr", &format!("127.0.0.1:{admin_port}")])
            .arg("--data-dir")
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let process = Self {
            child: Some(cmd.spawn().unwrap()),
            ws: format!("ws://127.0.0.1:{game_port}/ws"),
            admin: format!("http://127.0.0.1:{admin_port}"),
        };
        let deadline = std::time::Instant::now() + PROCESS_DEADLINE;
        let readyz = format!("{}/readyz", process.admin);
        loop {
            let answer = tokio::time::timeout(Duration::from_secs(2), try_http(&readyz)).await;
            if matches!(answer, Ok(Some(200))) {
                return process;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tickwire did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for a successful exit.
    async fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        kill(child.id(), "TERM");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "exit status {status:?}");
    }

    /// SIGKILL (what `kill -9` sends), then reaps the process.
    fn kill_9(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed, so not a clean exit: {status:?}");
    }
}

impl Drop for TickwireProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Creates a match through the admin API of `server`, plays a player in it for a few ticks,
/// ends it through the admin API and stops the process; returns the match id.
async fn play_one_match_then_stop(server: TickwireProcess) -> u64 {
    let (status, body) = http(
        "POST",
        &format!("{}/matches", server.admin),
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = json(&body)["id"].as_u64().unwrap();
    let mut c = GameClient::connect(
        &server.ws,
        tickwire_proto::msg::Hello {
            join: JoinTarget::Match(id),
            ..hello("ann")
        },
    )
    .await
    .unwrap();
    for i in 0..20u32 {
        c.arena_input(40, -40, (i * 9) as u8, (i % 2) as u8)
            .await
            .unwrap();
        c.next_state(WAIT).await.unwrap();
    }
    let url = format!("{}/matches/{id}", server.admin);
    assert_eq!(http("DELETE", &url, None, None).await.0, 202);
    let (ended, code) = read_to_close(&mut c).await;
    assert_eq!(code, 1000);
    assert_eq!(ended.map(|r| r.match_id), Some(id));
    server.stop().await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_data_dir_never_reuses_a_match_id() {
    let dir = data_dir("restart");
    let first = play_one_match_then_stop(TickwireProcess::start(&dir, &[]).await).await;
    let first_replay = tickwire::replay::replay_path(&dir, first);
    let first_bytes = std::fs::read(&first_replay).unwrap();
    tickwire::replay::verify(&first_replay, &common::games()).unwrap();

    let second = play_one_match_then_stop(TickwireProcess::start(&dir, &[]).await).await;
    assert!(
        second > first,
        "match {second} after the restart, {first} before"
    );
    assert_eq!(
        std::fs::read(&first_replay).unwrap(),
        first_bytes,
        "the first match's replay is untouched"
    );
    tickwire::replay::verify(&first_replay, &common::games()).unwrap();
    tickwire::replay::verify(
        &tickwire::replay::replay_path(&dir, second),
        &common::games(),
    )
    .unwrap();
    let (records, skipped) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    assert_eq!(skipped, 0);
    let mut ids: Vec<u64> = records.iter().map(|r| r.match_id).collect();
    assert_eq!(ids, vec![first, second], "one results line per match");
    ids.dedup();
    assert_eq!(ids.len(), records.len(), "no duplicate match_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_match_leaves_a_replay_that_verifies_up_to_the_kill() {
    let dir = data_dir("kill9");
    let flush_ms = 200;
    let server = TickwireProcess::start(
        &dir,
        &[(
            "TICKWIRE_SERVER_REPLAY_FLUSH_INTERVAL_MS",
            &flush_ms.to_string(),
        )],
    )
    .await;
    let mut a = GameClient::join(&server.ws, "ann").await.unwrap();
    let mut b = GameClient::join(&server.ws, "bob").await.unwrap();
    let id = a.welcome().match_id;
    assert_eq!(b.welcome().match_id, id);
    // Three seconds of play at 30 Hz: past many flush periods and several recorded hashes.
    play_pair(&mut a, &mut b, 90).await;
    tokio::time::sleep(Duration::from_millis(3 * flush_ms)).await;
    server.kill_9();

    let replay = tickwire::replay::replay_path(&dir, id);
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["replay", "--verify"])
        .arg(&replay)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a cut replay must fail: {err}");
    let tick: u32 = err
        .split("truncated after tick ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 'truncated after tick N' in: {err}"));
    assert!(tick > 0, "{err}");
    match tickwire::replay::verify(&replay, &common::games()) {
        Err(tickwire::replay::ReplayError::Truncated {
            tick: lib_tick,
            hashes_checked,
        }) => {
            assert_eq!(lib_tick, tick);
            assert!(hashes_checked >= 1, "{hashes_checked} hashes checked");
        }
        other => panic!("expected a truncated replay, got {other:?}"),
    }
    // Nothing was reported for the killed match: no results line claims it ended.
    let (records, _) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    assert!(records.iter().all(|r| r.match_id != id));
}

/// A tiny tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it). `None` when mounting is not
    /// possible here; under CI (`CI` set) that is a failure instead.
    fn mount(name: &str, size: &str) -> Option<Self> {
        let path = data_dir(name);
        std::fs::create_dir_all(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { path }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "cannot mount a tmpfs under CI: {why}"
                );
                eprintln!("SKIPPED: cannot mount a tmpfs (run as root to test a full disk): {why}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: the in-process server's results log may still be open (its state outlives
        // the test's admin task); the tmpfs is detached now and freed once that file closes.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Fills the filesystem holding `dir` until a write fails for want of space.
fn fill_filesystem(dir: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join("filler")).unwrap();
    for chunk in [vec![0u8; 4096], vec![0u8; 1]] {
        while file.write_all(&chunk).is_ok() {}
    }
    let _ = file.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_a_failed_results_write_loud() {
    let Some(disk) = Tmpfs::mount("fulldisk", "256k") else {
        return;
    };
    let mut cfg = fast_config();
    cfg.server.data_dir = disk.path.join("data");
    // Only the results append needs space when the match ends.
    cfg.server.record_replays = false;
    let dir = cfg.server.data_dir.clone();
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let (status, body) = http("GET", &format!("{admin}/readyz"), None, None).await;
    assert_eq!(status, 200, "{body}");
    let id = server.handle.create_match().unwrap();
    let mut c = GameClient::connect(
        &server.url(),
        tickwire_proto::msg::Hello {
            join: JoinTarget::Match(id),
            ..hello("ann")
        },
    )
    .await
    .unwrap();
    c.next_state(WAIT).await.unwrap();

    fill_filesystem(&disk.path);
    assert!(server.handle.end_match(id, EndReason::Admin).await);
    let (ended, code, reason) = read_to_close_reason(&mut c).await;
    assert_eq!(
        ended.map(|r| (r.match_id, r.reason)),
        Some((id, EndReason::Admin)),
        "the client still gets its results"
    );
    assert_eq!(code, tickwire_net::close::INTERNAL_ERROR);
    assert_eq!(reason, tickwire::match_loop::RESULTS_LOST_REASON);

    let (status, body) = http("GET", &format!("{admin}/readyz"), None, None).await;
    assert_eq!(status, 503, "{body}");
    let body = json(&body);
    assert_eq!(body["ready"], false);
    assert_eq!(body["reason"], "results_write_failed");
    let (status, text) = http("GET", &format!("{admin}/metrics"), None, None).await;
    assert_eq!(status, 200);
    let errors = sum(
        &parse_metrics(&text),
        tickwire::telemetry::family::RESULTS_WRITE_ERRORS.name,
    );
    assert!(errors >= 1.0, "{text}");
    let (records, _) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    assert!(records.iter().all(|r| r.match_id != id));
    server.stop().await;
    drop(disk);
}

#[test]
fn start_up_with_an_unusable_data_dir_fails_naming_the_path() {
    let dir = data_dir("unusable");
    std::fs::create_dir_all(&dir).unwrap();
    let plain_file = dir.join("plain-file");
    std::fs::write(&plain_file, b"not a directory").unwrap();
    let bad = plain_file.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["serve", "--addr", "127.0.0.1:0", "--admin-addr", ""])
        .arg("--data-dir")
        .arg(&bad)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + PROCESS_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("tickwire kept running on an unusable data directory");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(err.contains(&bad.display().to_string()), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
