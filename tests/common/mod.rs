//! Shared helpers for the end-to-end tests: a real server on an ephemeral loopback port.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use tickwire::{Config, Server, ServerHandle};
use tickwire_client::{GameClient, hello};
use tickwire_proto::msg::{Hello, JoinTarget};
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
                        c.send_input(20, 0, 0, 0).await.unwrap();
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
