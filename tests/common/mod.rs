//! Shared helpers for the end-to-end tests: a real server on an ephemeral loopback port.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tickwire::{Config, Server, ServerHandle};
use tickwire_client::{ClientError, Event, GameClient, hello};
use tickwire_proto::msg::{ClientMsg, Hello, JoinTarget, ServerMsg};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long helpers wait for a frame or a reply.
const WAIT: Duration = Duration::from_secs(5);

/// A server running in this test process on 127.0.0.1:0.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tickwire::ServerError>>>,
}

impl TestServer {
    /// Starts the real server with `config` on an ephemeral loopback port.
    pub async fn start(config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::new(config).unwrap();
        let handle = server.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            handle,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The WebSocket URL of the game endpoint.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Signals shutdown and waits for the server to return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s")
                .unwrap()
                .unwrap();
        }
    }
}

/// The embedded defaults with short timeouts so tests finish fast.
pub fn fast_config() -> Config {
    let mut c = Config::default();
    c.net.heartbeat_interval_ms = 200;
    c.net.idle_timeout_ms = 800;
    c.net.handshake_timeout_ms = 1000;
    c.server.reconnect_grace_ms = 1500;
    c.server.hello_timeout_ms = 1000;
    c.game.min_players = 2;
    c.server.drain_timeout_ms = 200;
    // Every test client joins from 127.0.0.1; the per-address caps are tested on their own
    // (tests/abuse.rs) with their defaults.
    c.server.max_seats_per_ip = 10_000;
    c.server.joins_per_ip_per_sec = 10_000;
    // Tests log in wrongly on purpose from 127.0.0.1; the failed-login budget is tested on its
    // own (tests/hardening.rs) with its defaults.
    c.admin.auth_failure_burst = 10_000;
    c.server.data_dir = std::env::temp_dir().join(format!("tickwire-test-{}", std::process::id()));
    c
}

/// A well-behaved player in its own match, counting the frames it receives.
pub struct Witness {
    started: tokio::time::Instant,
    stop: oneshot::Sender<()>,
    task: JoinHandle<(u32, u32)>,
}

impl Witness {
    pub async fn start(server: &TestServer) -> Witness {
        let id = server.handle.create_match().unwrap();
        let mut c = GameClient::connect(
            &server.url(),
            Hello {
                join: JoinTarget::Match(id),
                ..hello("witness")
            },
        )
        .await
        .unwrap();
        let first = c.next_state(WAIT).await.unwrap().tick;
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let (mut frames, mut last) = (0u32, first);
            loop {
                tokio::select! {
                    _ = &mut stopped => return (frames, last - first),
                    h = c.next_state(WAIT) => {
                        let h = h.expect("the witness keeps receiving state");
                        c.arena_input(20, 0, 0, 0).await.unwrap();
                        frames += 1;
                        last = h.tick;
                    }
                }
            }
        });
        Witness {
            started: tokio::time::Instant::now(),
            stop,
            task,
        }
    }

    /// Stops and asserts one frame per tick within the stated tolerance.
    pub async fn check(self) {
        // Watch for at least a second so the frame count means something.
        tokio::time::sleep_until(self.started + Duration::from_secs(1)).await;
        let _ = self.stop.send(());
        let (frames, ticks) = self.task.await.unwrap();
        assert!(
            ticks >= 10,
            "the witness's match kept ticking ({ticks} ticks)"
        );
        assert!(
            frames * 5 >= ticks * 4,
            "witness got {frames} frames over {ticks} ticks"
        );
    }
}

/// A fresh data directory for one test, under the target's temporary directory.
pub fn data_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts the admin API for `server` on an ephemeral port; returns its base URL.
pub async fn start_admin(server: &TestServer) -> String {
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
pub async fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
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

pub fn dechunk(mut s: &str) -> String {
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

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Reads until the server closes the connection; returns the close code.
pub async fn closed_with(c: &mut GameClient) -> u16 {
    tokio::time::timeout(WAIT, async {
        loop {
            match c.next_event().await {
                Ok(_) => {}
                Err(ClientError::Closed { code, .. }) => return code,
                Err(e) => panic!("unexpected: {e}"),
            }
        }
    })
    .await
    .expect("closed in time")
}

/// A spectator of `match_id` on `server`.
pub async fn spectator(server: &TestServer, match_id: u64) -> GameClient {
    GameClient::connect(
        &server.url(),
        Hello {
            join: JoinTarget::Spectate(match_id),
            ..hello("watcher")
        },
    )
    .await
    .unwrap()
}

/// What a bystander saw while another client flooded: it reads for one second from `started`,
/// acknowledging every State frame, and returns the State frames, the messages `counts`
/// picked out, and the newest tick.
pub async fn watch_for_a_second(
    bystander: &mut GameClient,
    started: tokio::time::Instant,
    first: u32,
    counts: impl Fn(&ServerMsg) -> bool,
) -> (u32, u32, u32) {
    let (mut frames, mut counted, mut last) = (0u32, 0u32, first);
    while started.elapsed() < Duration::from_secs(1) {
        match bystander.next_event().await.unwrap() {
            Event::State { header, .. } => {
                bystander
                    .send(&ClientMsg::Ack { tick: header.tick })
                    .await
                    .unwrap();
                frames += 1;
                last = header.tick;
            }
            Event::Msg(m) if counts(&m) => counted += 1,
            Event::Msg(_) => {}
        }
    }
    (frames, counted, last)
}

/// Arena's input through a [`GameClient`]: the tests here play arena.
#[allow(dead_code, reason = "not every test binary sends inputs")]
pub trait ArenaInputs {
    /// Sends arena's input `(move_x, move_y, aim, buttons)` for the next sequence number.
    async fn arena_input(
        &mut self,
        move_x: i8,
        move_y: i8,
        aim: u8,
        buttons: u8,
    ) -> Result<u32, ClientError>;
}

impl ArenaInputs for GameClient {
    async fn arena_input(
        &mut self,
        move_x: i8,
        move_y: i8,
        aim: u8,
        buttons: u8,
    ) -> Result<u32, ClientError> {
        let input = tickwire_arena::ArenaInput {
            move_x,
            move_y,
            aim,
            buttons,
        };
        self.send_input(&input.payload()).await
    }
}

/// The games the `tickwire` binary hosts, with their default configuration (what `tickwire
/// replay --verify` uses).
#[allow(dead_code, reason = "not every test binary verifies replays")]
pub fn games() -> tickwire::Games {
    tickwire::games::builtin(&Config::default()).expect("the built-in games")
}
