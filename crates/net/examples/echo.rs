//! Echo server for WebSocket conformance testing (the Autobahn fuzzingclient cases, run by
//! `crates/net/conformance/run.sh`), built on the crate's own [`serve`] and [`Connection`]:
//! every text message comes back as text, every binary message as binary.
//!
//! ```sh
//! cargo run --release -p tickwire-net --example echo -- 127.0.0.1:0
//! ```
//!
//! The argument is the address to bind (default `127.0.0.1:9001`; port 0 picks a free one).
//! Once bound it prints `listening on ADDR` on stdout, then serves WebSocket on `/` until killed
//! or interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tickwire_net::{Connection, Handler, Message, NetConfig, serve};
use tokio::net::TcpListener;

/// Autobahn's biggest messages (cases 9.1.6 and 9.2.6) are 16 MiB, in bytes.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

struct Echo;

impl Handler for Echo {
    async fn on_connection(self: Arc<Self>, mut conn: Connection) {
        let out = conn.outbox();
        // Errors have already closed the connection with the right code; nothing else to do.
        while let Ok(Some(msg)) = conn.recv().await {
            let sent = match msg {
                Message::Binary(b) => out.send_reliable(b),
                Message::Text(t) => out.send_reliable_text(t),
            };
            if sent.is_err() {
                break;
            }
        }
    }
}

fn config() -> NetConfig {
    NetConfig {
        max_message_bytes: MAX_MESSAGE_BYTES,
        // A case records every frame it receives, so an unsolicited heartbeat ping would fail
        // it: pings come far less often than any case lasts.
        heartbeat_interval: Duration::from_secs(300),
        idle_timeout: Duration::from_secs(600),
        handshake_timeout: Duration::from_secs(10),
        // Cases 9.7 and 9.8 stream 1000 messages; each is echoed as it arrives.
        reliable_queue_len: 4096,
        allow_text: true,
        ws_path: Some("/".to_owned()),
        ..NetConfig::default()
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        None => SocketAddr::from(([127, 0, 0, 1], 9001)),
    };
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    // The runner script waits for this line to learn the port; one blocking write is fine
    // before anything is served.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {bound}")?;
    stdout.flush()?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(listener, config(), Arc::new(Echo), shutdown).await
}
