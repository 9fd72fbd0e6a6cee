//! Connection-level behaviour over real sockets: reconnection with a session token, the
//! heartbeat, and hostile input that must close only the offending connection.

mod common;

use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, fast_config};
use tickwire_client::{ClientError, GameClient, hello};
use tickwire_net::client::{self, ClientConfig, ClientEvent};
use tickwire_proto::msg::{Hello, RejectReason, SessionToken};
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(3);

/// Connects with a session token to resume a seat.
async fn resume(url: &str, token: SessionToken, name: &str) -> Result<GameClient, ClientError> {
    GameClient::connect(
        url,
        Hello {
            session: Some(token),
            ..hello(name)
        },
    )
    .await
}

/// Reads until the server closes; returns the close code.
async fn close_code(ws: &mut client::Client) -> u16 {
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.recv().await {
                Ok(ClientEvent::Close { code, .. }) => return code,
                Ok(_) => {}
                Err(e) => panic!("connection ended without a close frame: {e}"),
            }
        }
    })
    .await
    .expect("server closed in time")
}

/// Receives state frames for `dur` and returns how many arrived and the tick span they covered.
async fn frames_during(c: &mut GameClient, dur: Duration) -> (u32, u32) {
    let end = tokio::time::Instant::now() + dur;
    let (mut n, mut first, mut last) = (0, None, 0);
    while tokio::time::Instant::now() < end {
        let h = c.next_state(WAIT).await.unwrap();
        c.arena_input(0, 0, 0, 0).await.unwrap();
        first.get_or_insert(h.tick);
        last = h.tick;
        n += 1;
    }
    (n, last - first.unwrap_or(last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_keeps_the_seat_and_converges() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut a = GameClient::join(&url, "ann").await.unwrap();
    let token = a.welcome().session;
    let (player, entity) = (a.welcome().player_id, a.welcome().entity_id);
    a.next_state(WAIT).await.unwrap();
    // Acknowledged state earns the seat its grace period (a seat that never acknowledged
    // anything is freed at once: `an_unacknowledged_seat_gets_no_grace` in tests/abuse.rs).
    a.arena_input(0, 0, 0, 0).await.unwrap();
    drop(a); // the link dies without a close handshake

    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut back = resume(&url, token, "ann").await.unwrap();
    assert!(back.welcome().resumed);
    assert_eq!(
        (back.welcome().player_id, back.welcome().entity_id),
        (player, entity)
    );
    let h = back.next_state(WAIT).await.unwrap();
    assert_eq!(
        h.baseline_age, 0,
        "a resumed seat starts from a full snapshot"
    );
    for _ in 0..5 {
        back.arena_input(10, 0, 0, 0).await.unwrap();
        back.next_state(WAIT).await.unwrap();
    }
    let tick = back.rows().newest_tick().unwrap();
    let world: Vec<_> = back.arena_world().into_values().collect();
    assert!(world.iter().any(|e| e.id == entity));
    assert_eq!(
        Some(world),
        server.handle.snapshot(token.match_id, tick).await
    );

    // A wrong secret for the same seat is refused.
    let mut forged = token;
    forged.secret[0] ^= 1;
    let err = resume(&url, forged, "mallory").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Rejected {
                reason: RejectReason::BadSession,
                ..
            }
        ),
        "{err}"
    );

    // After the grace period the seat is gone.
    drop(back);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let err = resume(&url, token, "ann").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Rejected {
                reason: RejectReason::SeatExpired,
                ..
            }
        ),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_replaces_a_live_connection() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut a = GameClient::join(&url, "ann").await.unwrap();
    let token: SessionToken = a.welcome().session;
    let b = resume(&url, token, "ann").await.unwrap();
    assert_eq!(b.welcome().player_id, a.welcome().player_id);
    let err = loop {
        if let Err(e) = a.next_event().await {
            break e;
        }
    };
    assert!(
        matches!(err, ClientError::Closed { code: 4002, .. }),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_closed_by_heartbeat_and_the_match_goes_on() {
    let cfg = fast_config();
    let limit = Duration::from_millis(cfg.net.idle_timeout_ms + cfg.net.heartbeat_interval_ms);
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut good = GameClient::join(&url, "good").await.unwrap();
    let quiet_cfg = ClientConfig {
        auto_pong: false,
        ..ClientConfig::default()
    };
    let mut quiet = GameClient::connect_with(&url, hello("quiet"), &quiet_cfg)
        .await
        .unwrap();
    assert_eq!(quiet.welcome().match_id, good.welcome().match_id);
    let started = tokio::time::Instant::now();
    let quiet_task = tokio::spawn(async move {
        loop {
            match quiet.ws().recv().await {
                Ok(ClientEvent::Close { code, .. }) => return Some(code),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    });
    let (n, span) = frames_during(&mut good, limit + Duration::from_millis(300)).await;
    let code = quiet_task.await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(code, Some(tickwire_net::close::IDLE_TIMEOUT));
    assert!(
        elapsed <= limit + Duration::from_millis(500),
        "closed after {elapsed:?}"
    );
    // One frame per tick, give or take scheduling: at least 80 % of the ticks that passed.
    assert!(
        n * 5 >= span * 4,
        "good client got {n} frames over {span} ticks"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_right_close_code_and_disturbs_no_one() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut good = GameClient::join(&url, "good").await.unwrap();
    let started_tick = good.next_state(WAIT).await.unwrap().tick;
    let cfg = ClientConfig::default();

    let attacks = async {
        // A text frame.
        let mut ws = client::connect(&url, &cfg).await.unwrap();
        ws.send_text("hello").await.unwrap();
        assert_eq!(close_code(&mut ws).await, 1003, "text frame");

        // Garbage bytes as a binary message.
        let mut ws = client::connect(&url, &cfg).await.unwrap();
        ws.send_binary(&[0xff, 0x13, 0x37, 0x00, 0x42])
            .await
            .unwrap();
        assert_eq!(close_code(&mut ws).await, 1007, "garbage");

        // A valid Hello followed by garbage.
        let mut c = GameClient::join(&url, "then-garbage").await.unwrap();
        c.ws().send_binary(&[9, 9, 9]).await.unwrap();
        assert_eq!(close_code(c.ws()).await, 1007, "garbage after join");

        // A message claiming a huge length (2^62 bytes) in its frame header.
        let mut raw = client::connect_raw(&url).await.unwrap();
        let mut frame = vec![0x82, 0x80 | 127];
        frame.extend_from_slice(&(1u64 << 62).to_be_bytes());
        frame.extend_from_slice(&[1, 2, 3, 4]);
        raw.stream.write_all(&frame).await.unwrap();
        assert_eq!(raw_close_code(&mut raw).await, 1009, "huge length claim");

        // An oversized binary frame.
        let mut ws = client::connect(&url, &cfg).await.unwrap();
        ws.send_binary(&vec![0u8; 17 * 1024]).await.unwrap();
        assert_eq!(close_code(&mut ws).await, 1009, "oversized");

        // A Hello with a wrong protocol version.
        let err = GameClient::connect(
            &url,
            Hello {
                version: 999,
                ..hello("old")
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Rejected {
                    reason: RejectReason::VersionMismatch,
                    ..
                }
            ),
            "{err}"
        );
    };
    let watch = async {
        let (n, span) = frames_during(&mut good, Duration::from_millis(1500)).await;
        (n, span)
    };
    let ((), (n, span)) = tokio::join!(attacks, watch);
    assert!(
        span > 20,
        "the match kept ticking (started at {started_tick})"
    );
    assert!(
        n * 5 >= span * 4,
        "good client got {n} frames over {span} ticks"
    );
    server.stop().await;
}

/// Reads a close frame from a raw socket (server frames are unmasked): returns its code.
async fn raw_close_code(raw: &mut client::RawClient) -> u16 {
    use tokio::io::AsyncReadExt;
    let mut buf = raw.leftover.clone();
    tokio::time::timeout(WAIT, async {
        loop {
            // Parse complete server frames from the buffer.
            let mut at = 0;
            while buf.len() >= at + 2 {
                let opcode = buf[at] & 0x0f;
                let len = (buf[at + 1] & 0x7f) as usize;
                let (len, hdr) = match len {
                    126 if buf.len() >= at + 4 => {
                        (u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize, 4)
                    }
                    126 => break,
                    127 => panic!("unexpected 64-bit frame from server"),
                    n => (n, 2),
                };
                if buf.len() < at + hdr + len {
                    break;
                }
                if opcode == 0x8 {
                    let p = &buf[at + hdr..at + hdr + len];
                    return u16::from_be_bytes([p[0], p[1]]);
                }
                at += hdr + len;
            }
            let mut chunk = [0u8; 4096];
            let n = raw.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "socket closed without a close frame");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("close frame in time")
}
