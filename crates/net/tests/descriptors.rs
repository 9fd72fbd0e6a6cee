//! Running out of file descriptors sheds connections rather than leaving them hanging, and the
//! listener serves again once descriptors are released. The server runs in a child process (this
//! test binary re-executed) with a low `RLIMIT_NOFILE`, so the parent's descriptors are not at
//! stake.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tickwire_net::{Connection, Handler, NetConfig, serve, text_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Set in the child's environment: only then does the child test serve.
const CHILD_ENV: &str = "TICKWIRE_NET_DESCRIPTOR_CHILD";
/// The child's descriptor limit, in descriptors: room for a few dozen connections.
const CHILD_LIMIT: u64 = 64;
/// Connections the parent opens and holds, well over what the child can accept.
const HELD: usize = 150;

struct Web;

impl Handler for Web {
    async fn on_connection(self: Arc<Self>, _conn: Connection) {}
    async fn on_http(self: Arc<Self>, _req: Request<Incoming>) -> Response<Full<Bytes>> {
        text_response(StatusCode::OK, "served")
    }
}

/// The child: serves with few descriptors until killed. Not a test of its own, so an ordinary
/// run lists it as ignored; the parent runs it with `--ignored`.
#[test]
#[ignore = "the child process of running_out_of_descriptors_sheds_connections_then_serves_again"]
fn child_server_with_few_descriptors() {
    assert!(
        std::env::var_os(CHILD_ENV).is_some(),
        "run only as the child of running_out_of_descriptors_sheds_connections_then_serves_again"
    );
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, CHILD_LIMIT, hard).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("PORT {}", listener.local_addr().unwrap().port());
        let config = NetConfig {
            // Idle connections stay for the whole test: only the descriptor limit acts.
            handshake_timeout: Duration::from_secs(60),
            ..NetConfig::default()
        };
        serve(listener, config, Arc::new(Web), std::future::pending())
            .await
            .unwrap();
    });
}

/// The child process, killed when dropped so that a failing test leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends a GET on a fresh connection; returns what came back before EOF, or None if nothing
/// came within `wait` (a connection left hanging).
async fn probe(port: u16, wait: Duration) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut out = Vec::new();
    match timeout(wait, s.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_sheds_connections_then_serves_again() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let mut child = Child(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_server_with_few_descriptors",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let port: u16 = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest may print the test's name on the same line first.
        .find_map(|l| l.split("PORT ").nth(1).map(|p| p.trim().parse().unwrap()))
        .expect("the child prints its port");

    assert!(
        probe(port, Duration::from_secs(2))
            .await
            .is_some_and(|r| r.ends_with("served")),
        "served before exhaustion"
    );
    // Idle connections: the first few dozen are accepted and held, the rest find no descriptor.
    let mut held = Vec::new();
    for _ in 0..HELD {
        held.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each held connection was either accepted (still open, silent) or shed (503, then EOF).
    let mut reads = tokio::task::JoinSet::new();
    for mut s in held.drain(..) {
        reads.spawn(async move {
            let mut buf = Vec::new();
            let got = timeout(Duration::from_millis(1500), s.read_to_end(&mut buf)).await;
            (s, got.is_ok(), String::from_utf8_lossy(&buf).into_owned())
        });
    }
    let (mut shed, mut open) = (0, 0);
    while let Some(r) = reads.join_next().await {
        let (s, ended, text) = r.unwrap();
        if ended {
            assert!(
                text.starts_with("HTTP/1.1 503"),
                "a shed peer is told: {text:?}"
            );
            assert!(text.contains("Retry-After: 1"), "{text}");
            shed += 1;
        } else {
            open += 1;
            held.push(s);
        }
    }
    assert!(shed > 0 && open > 0, "shed {shed}, open {open}");
    assert!(open < CHILD_LIMIT as usize, "open {open}");
    // A new peer while exhausted is refused at once, not left hanging.
    let refused = probe(port, Duration::from_secs(2))
        .await
        .expect("a connection while out of descriptors is answered, not left waiting");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");

    // Released: served again.
    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(r) = probe(port, Duration::from_secs(2)).await {
            if r.ends_with("served") {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not served again after release"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(child);
}
