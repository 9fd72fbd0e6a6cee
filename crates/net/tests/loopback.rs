//! End-to-end tests over real loopback sockets: a tiny echo server and the crate's own clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tickwire_net::{
    Admission, ClientConfig, ClientEvent, Connection, Handler, Message, NetConfig, NetError,
    Refusal, SendError, close, connect, connect_raw, encode_frame, serve, text_response,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout};

const MASK: Option<[u8; 4]> = Some([0x11, 0x22, 0x33, 0x44]);

fn fast_config() -> NetConfig {
    NetConfig {
        max_message_bytes: 1024,
        heartbeat_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(600),
        handshake_timeout: Duration::from_millis(300),
        reliable_queue_len: 8,
        ..NetConfig::default()
    }
}

/// Fails the test instead of hanging it.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    timeout(Duration::from_secs(3), fut)
        .await
        .expect("test step timed out")
}

struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start<H: Handler>(config: NetConfig, handler: H) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, config, Arc::new(handler), async move {
            let _ = stopped.await;
        }));
        Self { addr, _stop: stop }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

/// Echoes every message back through the reliable queue; reports how `recv` ended.
struct Echo {
    ended: Option<mpsc::UnboundedSender<Result<(), String>>>,
}

impl Echo {
    fn new() -> Self {
        Self { ended: None }
    }
}

impl Handler for Echo {
    async fn on_connection(self: Arc<Self>, mut conn: Connection) {
        let out = conn.outbox();
        let end = loop {
            match conn.recv().await {
                Ok(Some(Message::Binary(b))) => {
                    let _ = out.send_reliable(b);
                }
                Ok(Some(Message::Text(t))) => {
                    let _ = out.send_reliable(Bytes::from(t));
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.to_string()),
            }
        };
        if let Some(tx) = &self.ended {
            let _ = tx.send(end);
        }
    }
}

/// Next data or close event, skipping heartbeats.
async fn next_data(client: &mut tickwire_net::Client) -> ClientEvent {
    loop {
        match within(client.recv()).await.unwrap() {
            ClientEvent::Ping(_) | ClientEvent::Pong(_) => {}
            other => return other,
        }
    }
}

async fn expect_close(client: &mut tickwire_net::Client) -> (u16, String) {
    loop {
        match next_data(client).await {
            ClientEvent::Close { code, reason } => return (code, reason),
            ClientEvent::Binary(_) | ClientEvent::Text(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn raw_close_code(server: &Server, bytes: &[u8]) -> u16 {
    let mut raw = within(connect_raw(&server.url())).await.unwrap();
    raw.write_all(bytes).await.unwrap();
    within(raw.read_close()).await.unwrap().0
}

#[tokio::test]
async fn binary_echo_round_trip_and_clean_close() {
    let (tx, mut ended) = mpsc::unbounded_channel();
    let server = Server::start(fast_config(), Echo { ended: Some(tx) }).await;
    let mut client = within(connect(&server.url(), &ClientConfig::default()))
        .await
        .unwrap();
    for msg in [&b"hello"[..], &[0u8; 1024][..], b""] {
        client.send_binary(msg).await.unwrap();
        assert_eq!(
            next_data(&mut client).await,
            ClientEvent::Binary(Bytes::copy_from_slice(msg))
        );
    }
    client.close(close::NORMAL, "bye").await.unwrap();
    assert_eq!(expect_close(&mut client).await.0, close::NORMAL);
    assert_eq!(within(ended.recv()).await, Some(Ok(())));
    assert!(matches!(
        client.recv().await,
        Err(NetError::ConnectionClosed)
    ));
}

#[tokio::test]
async fn dropping_the_connection_closes_with_1000() {
    struct Quit;
    impl Handler for Quit {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            let _ = conn.recv().await;
        }
    }
    let server = Server::start(fast_config(), Quit).await;
    let mut client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    client.send_binary(b"bye").await.unwrap();
    assert_eq!(expect_close(&mut client).await.0, close::NORMAL);
}

#[tokio::test]
async fn state_is_latest_wins() {
    struct Flood(mpsc::UnboundedSender<usize>);
    impl Handler for Flood {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            let out = conn.outbox();
            // No await between sends: the writer cannot run on this single-threaded runtime.
            let replaced = (0..100u8)
                .filter(|i| out.send_state(Bytes::from(vec![*i])))
                .count();
            let _ = self.0.send(replaced);
            while let Ok(Some(_)) = conn.recv().await {}
        }
    }
    let (tx, mut replaced) = mpsc::unbounded_channel();
    let server = Server::start(fast_config(), Flood(tx)).await;
    let mut client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    let mut received = 0;
    loop {
        match next_data(&mut client).await {
            ClientEvent::Binary(b) => {
                received += 1;
                if b[..] == [99] {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(within(replaced.recv()).await, Some(99));
    assert!(received < 100);
    assert_eq!(
        received, 1,
        "only the newest state should have been written"
    );
}

#[tokio::test]
async fn reliable_queue_overflow_closes_1008_after_queued_messages() {
    struct Overflow(mpsc::UnboundedSender<Vec<Result<(), SendError>>>);
    impl Handler for Overflow {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            let out = conn.outbox();
            let results = (0..4u8)
                .map(|i| out.send_reliable(Bytes::from(vec![i])))
                .collect();
            let _ = self.0.send(results);
            while let Ok(Some(_)) = conn.recv().await {}
        }
    }
    let config = NetConfig {
        reliable_queue_len: 2,
        ..fast_config()
    };
    let (tx, mut results) = mpsc::unbounded_channel();
    let server = Server::start(config, Overflow(tx)).await;
    let mut client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(
        next_data(&mut client).await,
        ClientEvent::Binary(Bytes::from_static(&[0]))
    );
    assert_eq!(
        next_data(&mut client).await,
        ClientEvent::Binary(Bytes::from_static(&[1]))
    );
    assert_eq!(
        next_data(&mut client).await,
        ClientEvent::Close {
            code: close::POLICY_VIOLATION,
            reason: "reliable queue overflow".into()
        }
    );
    assert_eq!(
        within(results.recv()).await,
        Some(vec![
            Ok(()),
            Ok(()),
            Err(SendError::Overflow),
            Err(SendError::Closed)
        ])
    );
}

#[tokio::test]
async fn text_is_refused_with_1003() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let mut client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    client.send_text("hi").await.unwrap();
    assert_eq!(
        expect_close(&mut client).await,
        (
            close::UNSUPPORTED_DATA,
            "text frames are not supported".into()
        )
    );
}

#[tokio::test]
async fn text_is_echoed_when_allowed_and_checked_across_fragments() {
    let config = NetConfig {
        allow_text: true,
        ..fast_config()
    };
    let server = Server::start(config, Echo::new()).await;
    let mut client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    client.send_text("héllo").await.unwrap();
    assert_eq!(
        next_data(&mut client).await,
        ClientEvent::Binary(Bytes::from("héllo"))
    );

    // "é" (C3 A9) split across fragments is fine...
    let mut raw = connect_raw(&server.url()).await.unwrap();
    let mut bytes = encode_frame(false, 0x1, b"a\xC3", MASK);
    bytes.extend(encode_frame(true, 0x0, b"\xA9", MASK));
    raw.write_all(&bytes).await.unwrap();
    let echoed = within(raw.read_frame()).await.unwrap();
    assert_eq!(echoed.payload, "aé".as_bytes());
    // ...but a broken sequence closes with 1007.
    let mut bytes = encode_frame(false, 0x1, b"a\xC3", MASK);
    bytes.extend(encode_frame(true, 0x0, b"z", MASK));
    assert_eq!(
        raw_close_code(&server, &bytes).await,
        close::INVALID_PAYLOAD
    );
}

#[tokio::test]
async fn oversized_single_frame_closes_1009() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let mut client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    client.send_binary(&[7u8; 1024]).await.unwrap();
    assert_eq!(
        next_data(&mut client).await,
        ClientEvent::Binary(Bytes::from(vec![7u8; 1024]))
    );
    client.send_binary(&[7u8; 1025]).await.unwrap();
    assert_eq!(expect_close(&mut client).await.0, close::MESSAGE_TOO_BIG);
}

#[tokio::test]
async fn oversized_fragmented_message_closes_1009() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let mut bytes = encode_frame(false, 0x2, &[1u8; 600], MASK);
    bytes.extend(encode_frame(false, 0x0, &[2u8; 300], MASK));
    bytes.extend(encode_frame(true, 0x0, &[3u8; 300], MASK));
    assert_eq!(
        raw_close_code(&server, &bytes).await,
        close::MESSAGE_TOO_BIG
    );
}

#[tokio::test]
async fn huge_length_claim_closes_1009_without_waiting_for_the_payload() {
    let server = Server::start(fast_config(), Echo::new()).await;
    // Binary, masked, 64-bit length 2^62, then the mask: no payload follows.
    let mut bytes = vec![0x82, 0x80 | 127];
    bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(
        raw_close_code(&server, &bytes).await,
        close::MESSAGE_TOO_BIG
    );
}

#[tokio::test]
async fn garbage_closes_1002() {
    let server = Server::start(fast_config(), Echo::new()).await;
    assert_eq!(
        raw_close_code(&server, b"\xff\xfe this is not a websocket frame").await,
        close::PROTOCOL_ERROR
    );
}

#[tokio::test]
async fn protocol_violations_get_the_right_close_code() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let two = |a: Vec<u8>, b: Vec<u8>| [a, b].concat();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked frame", encode_frame(true, 0x2, b"x", None), 1002),
        (
            "continuation without start",
            encode_frame(true, 0x0, b"x", MASK),
            1002,
        ),
        (
            "new data frame while fragmented",
            two(
                encode_frame(false, 0x2, b"x", MASK),
                encode_frame(true, 0x2, b"y", MASK),
            ),
            1002,
        ),
        (
            "ping over 125",
            encode_frame(true, 0x9, &[0; 126], MASK),
            1002,
        ),
        (
            "pong over 125",
            encode_frame(true, 0xA, &[0; 126], MASK),
            1002,
        ),
        (
            "close over 125",
            encode_frame(true, 0x8, &[3; 126], MASK),
            1002,
        ),
        ("close of 1 byte", encode_frame(true, 0x8, &[3], MASK), 1002),
        (
            "close code 1005",
            encode_frame(true, 0x8, &[0x03, 0xED], MASK),
            1002,
        ),
        (
            "close reason not utf-8",
            encode_frame(true, 0x8, b"\x03\xe8\xff", MASK),
            1007,
        ),
        (
            "reserved bit",
            {
                let mut f = encode_frame(true, 0x2, b"x", MASK);
                f[0] |= 0x40;
                f
            },
            1002,
        ),
        ("unknown opcode", encode_frame(true, 0x3, b"x", MASK), 1002),
        (
            "fragmented ping",
            encode_frame(false, 0x9, b"x", MASK),
            1002,
        ),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(raw_close_code(&server, &bytes).await, want, "{name}");
    }
}

#[tokio::test]
async fn peer_close_is_echoed_with_its_code() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let mut raw = connect_raw(&server.url()).await.unwrap();
    raw.write_all(&encode_frame(true, 0x8, b"\x0f\xa0done", MASK))
        .await
        .unwrap();
    assert_eq!(
        within(raw.read_close()).await.unwrap(),
        (4000, "done".into())
    );
    within(raw.read_to_end()).await.unwrap();
}

#[tokio::test]
async fn silent_client_is_closed_4000_and_ponging_client_is_not() {
    let config = fast_config();
    let limit = config.idle_timeout + config.heartbeat_interval;
    let server = Server::start(config, Echo::new()).await;

    let quiet = ClientConfig {
        auto_pong: false,
        ..ClientConfig::default()
    };
    let started = Instant::now();
    let mut silent = connect(&server.url(), &quiet).await.unwrap();
    let mut pings = 0;
    let closed = loop {
        match within(silent.recv()).await.unwrap() {
            ClientEvent::Ping(_) => pings += 1,
            ClientEvent::Close { code, reason } => break (code, reason),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(closed, (close::IDLE_TIMEOUT, "idle timeout".into()));
    assert!(pings >= 1, "heartbeat pings should have arrived");
    assert!(
        started.elapsed() < limit,
        "closed after {:?}",
        started.elapsed()
    );

    // Auto-pong answers the heartbeat, which counts as traffic.
    let mut alive = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_millis(1000);
    while let Ok(event) = tokio::time::timeout_at(until, alive.recv()).await {
        assert!(matches!(event, Ok(ClientEvent::Ping(_))), "{event:?}");
    }
    alive.send_binary(b"still here").await.unwrap();
    assert_eq!(
        next_data(&mut alive).await,
        ClientEvent::Binary(Bytes::from_static(b"still here"))
    );
}

#[tokio::test]
async fn split_client_answers_pings_from_its_writer() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let client = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    let (mut reader, mut writer) = client.split();
    let pump = tokio::spawn(async move {
        while writer.obligation_ready().await {
            if writer.answer_obligations().await.is_err() {
                break;
            }
        }
        writer
    });
    let until = Instant::now() + Duration::from_millis(1000);
    let mut pings = 0;
    while let Ok(event) = tokio::time::timeout_at(until, reader.recv()).await {
        assert!(matches!(event, Ok(ClientEvent::Ping(_))), "{event:?}");
        pings += 1;
    }
    assert!(pings >= 3);
    pump.abort();
}

#[tokio::test]
async fn slowloris_is_dropped_after_the_handshake_timeout() {
    let config = fast_config();
    let limit = config.handshake_timeout;
    let server = Server::start(config, Echo::new()).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websock")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match within(tcp.read(&mut buf)).await {
            Ok(0) | Err(_) => break,
            // hyper may answer 408 before closing; the drop is what matters.
            Ok(_) => {}
        }
    }
    let took = started.elapsed();
    assert!(
        took >= limit - Duration::from_millis(50),
        "dropped too early: {took:?}"
    );
    assert!(
        took < limit + Duration::from_millis(500),
        "dropped too late: {took:?}"
    );
}

#[tokio::test]
async fn a_bad_connection_does_not_disturb_a_good_one() {
    let server = Server::start(fast_config(), Echo::new()).await;
    let mut good = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    good.send_binary(b"one").await.unwrap();
    assert_eq!(
        next_data(&mut good).await,
        ClientEvent::Binary(Bytes::from_static(b"one"))
    );

    let mut bad = connect_raw(&server.url()).await.unwrap();
    bad.write_all(b"\x8f\xff\xff garbage").await.unwrap();
    assert_eq!(
        within(bad.read_close()).await.unwrap().0,
        close::PROTOCOL_ERROR
    );

    for i in 0..10u8 {
        good.send_binary(&[i]).await.unwrap();
        assert_eq!(
            next_data(&mut good).await,
            ClientEvent::Binary(Bytes::from(vec![i]))
        );
    }
}

#[tokio::test]
async fn recv_survives_cancellation_mid_frame() {
    struct Impatient;
    impl Handler for Impatient {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            let out = conn.outbox();
            loop {
                tokio::select! {
                    r = conn.recv() => match r {
                        Ok(Some(Message::Binary(b))) => { let _ = out.send_reliable(b); }
                        _ => return,
                    },
                    () = sleep(Duration::from_millis(1)) => {}
                }
            }
        }
    }
    let server = Server::start(fast_config(), Impatient).await;
    let mut raw = connect_raw(&server.url()).await.unwrap();
    let payload: Vec<u8> = (0..900u16).map(|i| i as u8).collect();
    let mut bytes = encode_frame(false, 0x2, &payload[..500], MASK);
    bytes.extend(encode_frame(true, 0x0, &payload[500..], MASK));
    // Dribble the message so reads are interrupted between every chunk.
    for chunk in bytes.chunks(97) {
        raw.write_all(chunk).await.unwrap();
        sleep(Duration::from_millis(5)).await;
    }
    let echoed = loop {
        let frame = within(raw.read_frame()).await.unwrap();
        if frame.opcode == 0x2 {
            break frame;
        }
    };
    assert_eq!(echoed.payload, payload);
}

#[tokio::test]
async fn other_paths_get_on_http_and_unknown_ones_404() {
    struct Web;
    impl Handler for Web {
        async fn on_connection(self: Arc<Self>, _conn: Connection) {}
        async fn on_http(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
            if req.uri().path() == "/hello" {
                text_response(StatusCode::OK, "hi there")
            } else {
                text_response(StatusCode::NOT_FOUND, "nope")
            }
        }
    }
    let server = Server::start(fast_config(), Web).await;
    let hello = http_get(server.addr, "/hello").await;
    assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
    assert!(hello.ends_with("hi there"), "{hello}");
    // A plain GET on the WebSocket path is not an upgrade: it goes to on_http too.
    assert!(
        http_get(server.addr, "/ws")
            .await
            .starts_with("HTTP/1.1 404")
    );

    let default = Server::start(fast_config(), Echo::new()).await;
    assert!(
        http_get(default.addr, "/index.html")
            .await
            .starts_with("HTTP/1.1 404")
    );
    let err = connect(
        &format!("ws://{}/elsewhere", default.addr),
        &ClientConfig::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, NetError::Handshake(_)), "{err}");
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    within(tcp.read_to_string(&mut out)).await.unwrap();
    out
}

#[tokio::test]
async fn admission_guard_lives_as_long_as_the_connection_and_refusals_get_their_status() {
    struct Gate(Arc<AtomicUsize>);
    struct Slot(Arc<AtomicUsize>);
    impl Drop for Slot {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    impl Handler for Gate {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            while let Ok(Some(_)) = conn.recv().await {}
        }
        fn admit(&self, _peer: SocketAddr) -> Result<Admission, Refusal> {
            if self.0.fetch_add(1, Ordering::SeqCst) >= 1 {
                self.0.fetch_sub(1, Ordering::SeqCst);
                return Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "full"));
            }
            Ok(Admission::with_guard(Slot(Arc::clone(&self.0))))
        }
    }
    let live = Arc::new(AtomicUsize::new(0));
    let server = Server::start(fast_config(), Gate(Arc::clone(&live))).await;
    let mut first = connect(&server.url(), &ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(live.load(Ordering::SeqCst), 1);

    let refused = http_get(server.addr, "/ws").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.ends_with("full"), "{refused}");

    first.close(close::NORMAL, "").await.unwrap();
    assert_eq!(expect_close(&mut first).await.0, close::NORMAL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while live.load(Ordering::SeqCst) != 0 {
        assert!(Instant::now() < deadline, "admission guard never dropped");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Closes at once, then reports what `recv` returned.
struct CloseFirst(mpsc::UnboundedSender<Result<Option<Message>, String>>);

impl Handler for CloseFirst {
    async fn on_connection(self: Arc<Self>, mut conn: Connection) {
        conn.close(4001, "bye");
        let r = conn.recv().await.map_err(|e| e.to_string());
        let _ = self.0.send(r);
    }
}

#[tokio::test]
async fn server_close_waits_for_the_reply_then_shuts_the_socket() {
    let (tx, mut ended) = mpsc::unbounded_channel();
    let server = Server::start(fast_config(), CloseFirst(tx)).await;

    // A peer that answers: recv sees the reply as a clean end and the socket goes quickly.
    let mut polite = connect_raw(&server.url()).await.unwrap();
    assert_eq!(
        within(polite.read_close()).await.unwrap(),
        (4001, "bye".into())
    );
    let started = Instant::now();
    polite
        .write_all(&encode_frame(true, 0x8, b"\x0f\xa1", MASK))
        .await
        .unwrap();
    within(polite.read_to_end()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(within(ended.recv()).await, Some(Ok(None)));

    // A peer that never answers: the server gives up after its ~1 s grace.
    let mut rude = connect_raw(&server.url()).await.unwrap();
    assert_eq!(within(rude.read_close()).await.unwrap().0, 4001);
    let started = Instant::now();
    within(rude.read_to_end()).await.unwrap();
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(700) && took < Duration::from_millis(1400),
        "{took:?}"
    );
    assert_eq!(within(ended.recv()).await, Some(Ok(None)));
}

#[tokio::test]
async fn a_peer_that_never_reads_cannot_hold_the_connection_open() {
    struct Firehose(mpsc::UnboundedSender<Duration>);
    impl Handler for Firehose {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            let out = conn.outbox();
            let frame = Bytes::from(vec![0u8; 64 * 1024]);
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                out.send_state(frame.clone());
                sleep(Duration::from_millis(1)).await;
            }
            let started = Instant::now();
            out.close(close::GOING_AWAY, "shutting down");
            while let Ok(Some(_)) = conn.recv().await {}
            let _ = self.0.send(started.elapsed());
        }
    }
    let (tx, mut ended) = mpsc::unbounded_channel();
    let server = Server::start(fast_config(), Firehose(tx)).await;
    let _deaf = connect_raw(&server.url()).await.unwrap();
    let took = within(ended.recv()).await.unwrap();
    assert!(took < Duration::from_millis(1300), "{took:?}");
}

#[tokio::test]
async fn text_goes_back_as_text_and_pongs_keep_their_order() {
    struct TextEcho;
    impl Handler for TextEcho {
        async fn on_connection(self: Arc<Self>, mut conn: Connection) {
            let out = conn.outbox();
            while let Ok(Some(msg)) = conn.recv().await {
                let _ = match msg {
                    Message::Text(t) => out.send_reliable_text(t),
                    Message::Binary(b) => out.send_reliable(b),
                };
            }
        }
    }
    let config = NetConfig {
        allow_text: true,
        // No heartbeat pings in the middle of the exchange below.
        heartbeat_interval: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..fast_config()
    };
    let server = Server::start(config, TextEcho).await;
    let mut raw = connect_raw(&server.url()).await.unwrap();
    // Written in one go, so the server reads all of it before its writer runs: a message,
    // ten pings, a message. Every ping is answered, each reply in the order of its cause.
    let mut bytes = encode_frame(true, 0x1, "héllo".as_bytes(), MASK);
    for i in 0..10u8 {
        bytes.extend(encode_frame(true, 0x9, &[i], MASK));
    }
    bytes.extend(encode_frame(true, 0x2, b"bin", MASK));
    raw.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..12 {
        let f = within(raw.read_frame()).await.unwrap();
        assert!(f.fin && !f.masked);
        got.push((f.opcode, f.payload));
    }
    let mut want = vec![(0x1, "héllo".as_bytes().to_vec())];
    want.extend((0..10u8).map(|i| (0xA, vec![i])));
    want.push((0x2, b"bin".to_vec()));
    assert_eq!(got, want);
}

#[tokio::test]
async fn after_failing_on_a_bad_close_frame_the_server_closes_tcp_itself() {
    // Long idle timeout: only failing the connection may end it early.
    let config = NetConfig {
        idle_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(10),
        ..fast_config()
    };
    let server = Server::start(config, Echo::new()).await;
    let over_long: Vec<u8> = [0x03, 0xe8].into_iter().chain([b'x'; 124]).collect();
    let cases: [(&str, &[u8], u16); 4] = [
        ("invalid code 1005", &[0x03, 0xed], close::PROTOCOL_ERROR),
        ("1-byte payload", &[0x03], close::PROTOCOL_ERROR),
        ("over-long reason", &over_long, close::PROTOCOL_ERROR),
        (
            "invalid UTF-8 reason",
            &[0x03, 0xe8, 0xff, 0xfe],
            close::INVALID_PAYLOAD,
        ),
    ];
    for (what, payload, want) in cases {
        let mut raw = connect_raw(&server.url()).await.unwrap();
        raw.write_all(&encode_frame(true, 0x8, payload, MASK))
            .await
            .unwrap();
        let started = Instant::now();
        let (code, _) = within(raw.read_close()).await.unwrap();
        assert_eq!(code, want, "{what}");
        // We send nothing more, not even our close reply: the server must end TCP itself, well
        // before its 1 s grace for a normal closing handshake.
        timeout(Duration::from_secs(1), raw.read_to_end())
            .await
            .unwrap_or_else(|_| panic!("{what}: no EOF within a second"))
            .unwrap();
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "{what}: EOF after {took:?}"
        );
    }
}
