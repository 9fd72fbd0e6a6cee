//! Hostile clients over real sockets. Each test asserts the close code or HTTP status the
//! offender gets, and that a well-behaved client in another match keeps receiving one state
//! frame per tick throughout: at least 80 % of the ticks that passed (the slack covers
//! scheduling noise on a loaded 2-core CI machine, not lost frames).

mod common;

use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, Witness, fast_config};
use tickwire::Config;
use tickwire_client::{ClientError, Event, GameClient, hello};
use tickwire_net::client::{self, ClientConfig, ClientEvent, encode_frame};
use tickwire_proto::codec;
use tickwire_proto::msg::{ClientMsg, Hello, Input, JoinTarget, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

fn config() -> Config {
    let mut c = fast_config();
    c.server.stall_timeout_ms = 800;
    c.server.max_messages_per_sec = 60;
    c
}

async fn joined_raw(url: &str) -> client::RawClient {
    let mut raw = client::connect_raw(url).await.unwrap();
    let hello = codec::encode_client(&ClientMsg::Hello(hello("raw"))).unwrap();
    raw.write_all(&encode_frame(true, 0x2, &hello, Some([1, 2, 3, 4])))
        .await
        .unwrap();
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_bounded_and_closed_after_the_stall_timeout() {
    let mut cfg = config();
    // The stall timeout is the subject here, not the heartbeat's idle timeout.
    cfg.net.idle_timeout_ms = 4000;
    let server = TestServer::start(cfg).await;
    let witness = Witness::start(&server).await;
    // A player that stops reading its socket entirely.
    let mut slow = GameClient::join(&server.url(), "slow").await.unwrap();
    slow.next_state(WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // What was buffered meanwhile is bounded: latest-wins keeps one state frame, so far fewer
    // frames than ticks are waiting, then the close.
    let mut frames = 0;
    let code = loop {
        match slow.next_event().await {
            Ok(Event::State { .. }) => frames += 1,
            Ok(_) => {}
            Err(ClientError::Closed { code, .. }) => break code,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(code, 1008, "stalled client closed with policy violation");
    assert!(
        frames < 45,
        "{frames} frames were buffered for a reader that stopped"
    );
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_floods_are_dropped_then_disconnected() {
    let server = TestServer::start(config()).await;
    let witness = Witness::start(&server).await;
    let mut flooder = GameClient::join(&server.url(), "flooder").await.unwrap();
    let mut mover = GameClient::join(&server.url(), "mover").await.unwrap();
    let me = flooder.welcome().entity_id;
    let first = flooder.next_state(WAIT).await.unwrap().tick;
    // 10 inputs per tick for a while, within the message cap: at most one applies per tick,
    // so the flooder moves no faster than a player sending one.
    let start_x = x_of(&flooder, me);
    for _ in 0..10 {
        for _ in 0..5 {
            flooder.arena_input(127, 0, 0, 0).await.unwrap();
        }
        flooder.next_state(WAIT).await.unwrap();
        mover.arena_input(0, 0, 0, 0).await.unwrap();
        mover.next_state(WAIT).await.unwrap();
    }
    let elapsed_ticks = flooder.rows().newest_tick().unwrap() - first;
    let moved = (x_of(&flooder, me) - start_x) as f32 / tickwire_arena::entity::POS_SCALE;
    let max_speed = server.handle.state().config.arena.player_max_speed;
    let budget = max_speed / 30.0 * elapsed_ticks as f32 + 1.0;
    assert!(
        moved <= budget,
        "moved {moved} units in {elapsed_ticks} ticks"
    );
    // Now far over the message rate cap: disconnected with 1008.
    let err = async {
        for _ in 0..2000 {
            if let Err(e) = flooder.arena_input(0, 0, 0, 0).await {
                return Some(e);
            }
        }
        None
    }
    .await;
    drop(err);
    let code = loop {
        match flooder.next_event().await {
            Err(ClientError::Closed { code, .. }) => break code,
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
    };
    assert_eq!(code, 1008);
    // The flooder's own match-mate was not disturbed.
    for _ in 0..5 {
        mover.arena_input(0, 0, 0, 0).await.unwrap();
        mover.next_state(WAIT).await.unwrap();
    }
    witness.check().await;
    server.stop().await;
}

fn x_of(c: &GameClient, entity: u32) -> i32 {
    c.arena_world()[&entity].x
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_floods_are_answered_at_a_bounded_rate() {
    let server = TestServer::start(config()).await;
    let witness = Witness::start(&server).await;
    let mut ws = client::connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    for i in 0..5000u32 {
        ws.send_ping(&i.to_be_bytes()).await.unwrap();
    }
    // Count the pongs that come back within a second.
    let mut pongs = 0;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(ev) = ws.recv().await {
            if let ClientEvent::Pong(_) = ev {
                pongs += 1;
            }
        }
    })
    .await;
    assert!(
        pongs < 5000,
        "every one of 5000 pings was answered ({pongs})"
    );
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_floods_hit_the_per_ip_and_global_caps() {
    let mut cfg = config();
    cfg.server.max_connections_per_ip = 4;
    cfg.server.max_connections = 6;
    let server = TestServer::start(cfg).await;
    let witness = Witness::start(&server).await; // one connection from 127.0.0.1
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            client::connect(&server.url(), &ClientConfig::default())
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        http_status(&server, "127.0.0.1").await,
        429,
        "fifth from one IP"
    );
    // Other loopback addresses are other IPs: they hit the global cap instead.
    let mut extra = Vec::new();
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        extra.push(sock.connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = http_status(&server, "127.0.0.4").await;
    assert_eq!(status, 503, "over the global cap");
    drop(held);
    witness.check().await;
    server.stop().await;
}

/// Opens a connection from `ip` and sends a WebSocket upgrade; returns the HTTP status.
async fn http_status(server: &TestServer, ip: &str) -> u16 {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    let mut s = sock.connect(server.addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n])[9..12].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_handshakes_are_cut() {
    let server = TestServer::start(config()).await;
    let witness = Witness::start(&server).await;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let started = tokio::time::Instant::now();
    for b in b"GET /ws HTTP/1.1\r\nHost: x\r\n" {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let limit = Duration::from_millis(server.handle.state().config.net.handshake_timeout_ms);
    assert_eq!(n, 0, "connection dropped without a response");
    assert!(started.elapsed() < limit * 2 + Duration::from_millis(500));
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_protocol_errors() {
    let server = TestServer::start(config()).await;
    let witness = Witness::start(&server).await;
    let url = server.url();
    let mask = Some([9, 8, 7, 6]);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "unmasked client frame",
            encode_frame(true, 0x2, &[1, 2, 3], None),
            1002,
        ),
        (
            "reserved bits",
            {
                let mut f = encode_frame(true, 0x2, &[1], mask);
                f[0] |= 0x40;
                f
            },
            1002,
        ),
        ("unknown opcode", encode_frame(true, 0x3, &[1], mask), 1002),
        (
            "continuation without start",
            encode_frame(true, 0x0, &[1], mask),
            1002,
        ),
        (
            "control frame over 125 bytes",
            encode_frame(true, 0x9, &[0; 126], mask),
            1002,
        ),
        (
            "close reason not UTF-8",
            encode_frame(true, 0x8, &[0x03, 0xe8, 0xff, 0xfe], mask),
            1007,
        ),
        (
            "fragmented message over the cap",
            {
                let mut f = encode_frame(false, 0x2, &[0; 9000], mask);
                f.extend(encode_frame(true, 0x0, &[0; 9000], mask));
                f
            },
            1009,
        ),
        (
            "an input whose payload is not arena's four bytes",
            {
                let msg = ClientMsg::Input(Input {
                    seq: 1,
                    ack: 0,
                    payload: [1, 2, 3].into(),
                });
                let body = codec::encode_client(&msg).unwrap();
                encode_frame(true, 0x2, &body, mask)
            },
            1007,
        ),
    ];
    for (what, bytes, want) in cases {
        let mut raw = joined_raw(&url).await;
        raw.write_all(&bytes).await.unwrap();
        let (code, _) = raw.read_close().await.unwrap();
        assert_eq!(code, want, "{what}");
    }
    // Out-of-range input values never reach the simulation as they are.
    let mut c = GameClient::join(&url, "cheater").await.unwrap();
    let me = c.welcome().entity_id;
    c.next_state(WAIT).await.unwrap();
    let absurd = tickwire_arena::ArenaInput {
        move_x: i8::MIN,
        move_y: i8::MIN,
        aim: 255,
        buttons: 0xff,
    }
    .message(u32::MAX - 1, u32::MAX);
    c.send(&ClientMsg::Input(absurd)).await.unwrap();
    for _ in 0..5 {
        let h = c.next_state(WAIT).await.unwrap();
        assert_ne!(
            h.last_input,
            u32::MAX - 1,
            "an absurd sequence jump was applied"
        );
    }
    assert!(c.rows().world().unwrap().contains_key(&me));
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_match_ends_alone_with_1011_and_aborted_results() {
    let mut cfg = config();
    cfg.server.fault_injection = true;
    let dir = cfg.server.data_dir.join("panic");
    cfg.server.data_dir = dir.clone();
    let server = TestServer::start(cfg).await;
    let witness = Witness::start(&server).await;
    let victim_match = server.handle.create_match().unwrap();
    let mut victim = GameClient::connect(
        &server.url(),
        Hello {
            join: JoinTarget::Match(victim_match),
            ..hello("victim")
        },
    )
    .await
    .unwrap();
    victim.next_state(WAIT).await.unwrap();
    let handle = server.handle.state().registry.get(victim_match).unwrap();
    handle
        .tx
        .send(tickwire::match_loop::MatchCmd::InjectPanic)
        .await
        .unwrap();
    let mut ended = None;
    let code = loop {
        match victim.next_event().await {
            Ok(Event::Msg(ServerMsg::MatchEnded(r))) => ended = Some(r),
            Ok(_) => {}
            Err(ClientError::Closed { code, .. }) => break code,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(code, 1011);
    assert_eq!(
        ended.map(|r| r.reason),
        Some(tickwire_proto::msg::EndReason::Aborted)
    );
    let (records, _) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.match_id == victim_match && r.reason == "aborted")
    );
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_through_rustls_and_the_origin_allowlist() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let mut cfg = config();
    let dir = cfg
        .server
        .data_dir
        .join(format!("tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    cfg.net.tls_cert = dir.join("cert.pem");
    cfg.net.tls_key = dir.join("key.pem");
    std::fs::write(&cfg.net.tls_cert, certified.cert.pem()).unwrap();
    std::fs::write(&cfg.net.tls_key, certified.signing_key.serialize_pem()).unwrap();
    cfg.net.allowed_origins = vec!["https://game.example".to_owned()];
    let server = TestServer::start(cfg).await;
    let url = format!("wss://127.0.0.1:{}/ws", server.addr.port());
    let trusted = ClientConfig {
        tls_roots: vec![certified.cert.der().clone()],
        ..ClientConfig::default()
    };
    let mut c = GameClient::connect_with(&url, hello("secure"), &trusted)
        .await
        .unwrap();
    c.next_state(WAIT).await.unwrap();
    // A browser page from an allowed origin may connect, another may not (HTTP 403).
    let allowed = ClientConfig {
        origin: Some("https://game.example".to_owned()),
        ..trusted.clone()
    };
    client::connect(&url, &allowed).await.unwrap();
    let evil = ClientConfig {
        origin: Some("https://evil.example".to_owned()),
        ..trusted.clone()
    };
    let err = client::connect(&url, &evil).await.unwrap_err().to_string();
    assert!(err.contains("403"), "{err}");
    // Plain ws:// against a TLS listener does not get a game session.
    assert!(
        GameClient::join(
            &format!("ws://127.0.0.1:{}/ws", server.addr.port()),
            "plain"
        )
        .await
        .is_err()
    );
    server.stop().await;
}
