//! Shared helpers for the end-to-end tests: a real server on an ephemeral loopback port.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use tickwire::{Config, Server, ServerHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    c.server.data_dir = std::env::temp_dir().join(format!("tickwire-test-{}", std::process::id()));
    c
}
