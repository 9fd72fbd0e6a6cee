//! End-to-end test of `tickwire loadtest`: the real binary runs bots against an embedded
//! server over real sockets and the test checks the JSON figures it writes.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Bots of the main run, bots.
const BOTS: u64 = 20;
/// Least share of the expected state frames (one per tick per bot) that must arrive, ratio.
/// Latest-wins delivery may drop a frame now and then on a loaded 2-core CI machine.
const MIN_FRAME_RATIO: f64 = 0.85;

fn json_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tickwire-loadtest-{}-{name}.json",
        std::process::id()
    ))
}

fn loadtest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .arg("loadtest")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the tickwire binary runs")
}

/// Runs a successful `tickwire loadtest` with `args` plus `--json FILE --quiet` and returns the
/// JSON report it wrote (`name` tells the runs' files apart).
fn loadtest_report(name: &str, args: &[&str]) -> Value {
    let path = json_path(name);
    let mut all = args.to_vec();
    all.extend(["--json", path.to_str().expect("utf-8 temp path"), "--quiet"]);
    let out = loadtest(&all);
    assert!(
        out.status.success(),
        "loadtest failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("the JSON report exists");
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text).expect("the report is JSON")
}

fn figure(json: &Value, key: &str) -> f64 {
    json[key]
        .as_f64()
        .unwrap_or_else(|| panic!("figure {key} missing from {json:#}"))
}

#[test]
fn embedded_run_reports_consistent_figures() {
    let json = loadtest_report(
        "main",
        &[
            "--embedded",
            "--bots",
            &BOTS.to_string(),
            "--duration",
            "3s",
        ],
    );
    let f = |key| figure(&json, key);

    // Every bot joined, once, into one match of 50 seats.
    assert_eq!(f("connected"), BOTS as f64, "{json:#}");
    assert_eq!(f("sessions"), BOTS as f64, "{json:#}");
    assert_eq!(f("matches"), 1.0, "{json:#}");
    assert_eq!(f("connect_errors"), 0.0, "{json:#}");

    // Every frame decoded, and one state frame per tick per bot arrived (within tolerance).
    assert_eq!(f("decode_errors"), 0.0, "{json:#}");
    assert_eq!(f("tick_rate"), 30.0);
    assert!(f("frame_ratio") >= MIN_FRAME_RATIO, "{json:#}");
    let per_bot = f("frames_per_bot_per_s");
    assert!(
        (MIN_FRAME_RATIO * 30.0..=1.05 * 30.0).contains(&per_bot),
        "{per_bot} frames per bot per second\n{json:#}"
    );
    assert!(f("bytes_per_moving_entity") > 0.0, "{json:#}");

    // The verifying bots applied every delta to a full world and found it consistent.
    assert_eq!(f("verify_bots"), 4.0, "{json:#}");
    assert!(
        f("verify_frames") >= 4.0 * 30.0 * 3.0 * MIN_FRAME_RATIO,
        "{json:#}"
    );
    assert_eq!(f("verify_errors"), 0.0, "{json:#}");

    // Latency was measured, and nothing went wrong at all.
    assert!(
        f("rtt_samples") > 0.0 && f("input_samples") > 0.0,
        "{json:#}"
    );
    assert!(f("p50_input_latency_ms") > 0.0, "{json:#}");
    assert_eq!(f("disconnects"), 0.0, "{json:#}");
    assert_eq!(f("errors"), 0.0, "{json:#}");
}

#[test]
fn fail_if_sets_the_exit_status() {
    let out = loadtest(&[
        "--embedded",
        "--bots",
        "2",
        "--duration",
        "300ms",
        "--quiet",
        "--fail-if",
        "errors>1000",
        "--fail-if",
        "connected>=1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connected>=1"), "{stderr}");
    assert!(!stderr.contains("errors>1000"), "{stderr}");
}

#[test]
fn unknown_figures_are_refused_before_running() {
    let out = loadtest(&["--embedded", "--quiet", "--fail-if", "no_such_figure>1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_figure"));
}

#[test]
fn hostile_bots_are_reported_apart() {
    let json = loadtest_report(
        "hostile",
        &[
            "--embedded",
            "--bots",
            "12",
            "--hostile",
            "50",
            "--duration",
            "7s",
        ],
    );
    let f = |key| figure(&json, key);

    // Six of each: the well-behaved figures count only the well-behaved bots, and stay clean.
    assert_eq!((f("bots"), f("hostile_bots")), (6.0, 6.0), "{json:#}");
    assert_eq!(f("connected"), 6.0, "{json:#}");
    assert_eq!(f("sessions"), 6.0, "{json:#}");
    assert_eq!(f("errors"), 0.0, "{json:#}");
    assert!(f("frame_ratio") >= MIN_FRAME_RATIO, "{json:#}");

    // Two of each hostile kind, each doing its thing; a reconnector (dropping its link every
    // 2 to 6 s) resumed its seat with its session token at least once.
    for kind in ["slow-reader", "flooder", "reconnector"] {
        assert_eq!(json["hostile"][kind]["bots"], 2, "{json:#}");
    }
    assert!(
        json["hostile"]["flooder"]["bursts"].as_u64() > Some(0),
        "{json:#}"
    );
    assert!(
        json["hostile"]["reconnector"]["drops"].as_u64() > Some(0),
        "{json:#}"
    );
    assert!(
        json["hostile"]["reconnector"]["resumes"].as_u64() > Some(0),
        "{json:#}"
    );
    assert!(f("hostile_resumes") > 0.0, "{json:#}");
}

/// Starts the real binary as an external server with default match settings on a free port
/// (no admin API, a throw-away data directory); returns it and its WebSocket URL.
fn external_server(name: &str) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let data = std::env::temp_dir().join(format!("tickwire-lt-{name}-{}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--admin-addr",
            "",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server starts");
    let addr = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "the server listens");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (child, format!("ws://{addr}/ws"))
}

#[test]
fn a_server_not_set_up_for_the_run_is_an_error_not_a_report() {
    let (mut server, url) = external_server("setup");
    // The default server seats 16 per match; the run asks for 8.
    let out = loadtest(&[
        "--url",
        &url,
        "--bots",
        "20",
        "--per-match",
        "8",
        "--ramp",
        "100",
        "--duration",
        "500ms",
        "--quiet",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not --per-match 8") && err.contains("--players-per-match 8"),
        "{err}"
    );
    // The open-arena scenario against a server without that match plays the default arena.
    let out = loadtest(&[
        "--url",
        &url,
        "--scenario",
        "open-arena",
        "--bots",
        "5",
        "--duration",
        "500ms",
        "--quiet",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("\"arena\", not \"open-arena\""), "{err}");
    assert!(err.contains("POST /matches"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn server_flags_without_embedded_are_refused() {
    let out = loadtest(&["--tick-rate", "60", "--bots", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("add --embedded"), "{err}");
}

#[test]
fn soccer_bots_play_soccer_and_every_one_rebuilds_the_world() {
    let json = loadtest_report(
        "soccer",
        &[
            "--embedded",
            "--game",
            "soccer",
            "--bots",
            "10",
            "--per-match",
            "10",
            "--verify-sample",
            "10",
            "--duration",
            "3s",
        ],
    );
    let f = |key| figure(&json, key);
    assert_eq!(json["options"]["game"], "soccer", "{json:#}");
    // Ten bots fill one five-a-side match.
    assert_eq!(f("connected"), 10.0, "{json:#}");
    assert_eq!(f("matches"), 1.0, "{json:#}");
    assert_eq!(f("verify_bots"), 10.0, "{json:#}");
    assert!(
        f("verify_frames") >= 10.0 * 30.0 * 3.0 * MIN_FRAME_RATIO,
        "{json:#}"
    );
    assert_eq!(f("verify_errors"), 0.0, "{json:#}");
    assert_eq!(f("decode_errors"), 0.0, "{json:#}");
    // The bots run for the ball: entities move, and every update was measured.
    assert!(f("bytes_per_moving_entity") > 0.0, "{json:#}");
    assert!(f("frame_ratio") >= MIN_FRAME_RATIO, "{json:#}");
    assert_eq!(f("errors"), 0.0, "{json:#}");
}

#[test]
fn a_game_without_a_bot_policy_is_refused() {
    let out = loadtest(&["--embedded", "--quiet", "--game", "chess"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"chess\"") && stderr.contains("arena, soccer"),
        "{stderr}"
    );
}
