//! `wss://` through rustls and the Origin allowlist, over real loopback sockets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tickwire_net::rustls::pki_types::CertificateDer;
use tickwire_net::{
    ClientConfig, ClientEvent, Connection, Handler, Message, NetConfig, NetError, TlsConfig,
    TlsError, close, connect, serve,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout};

/// Fails the test instead of hanging it.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    timeout(Duration::from_secs(5), fut)
        .await
        .expect("test step timed out")
}

/// Echoes binary as binary and text as text.
struct Echo;

impl Handler for Echo {
    async fn on_connection(self: Arc<Self>, mut conn: Connection) {
        let out = conn.outbox();
        while let Ok(Some(msg)) = conn.recv().await {
            let _ = match msg {
                Message::Binary(b) => out.send_reliable(b),
                Message::Text(t) => out.send_reliable_text(t),
            };
        }
    }
}

struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(config: NetConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        serve(listener, config, Arc::new(Echo), async move {
            let _ = stopped.await;
        })
        .await
        .expect("serve failed");
    });
    Server { addr, _stop: stop }
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files into a fresh
/// directory under the system temp dir.
struct SelfSigned {
    dir: PathBuf,
    tls: TlsConfig,
    der: CertificateDer<'static>,
}

impl SelfSigned {
    fn generate() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "tickwire-net-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, certified.cert.pem()).unwrap();
        std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
        Self {
            tls: TlsConfig::new(cert_path, key_path),
            der: certified.cert.der().clone(),
            dir,
        }
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tls_config(cert: &SelfSigned) -> NetConfig {
    NetConfig {
        handshake_timeout: Duration::from_millis(500),
        allow_text: true,
        tls: Some(cert.tls.clone()),
        ..NetConfig::default()
    }
}

fn trusting(cert: &SelfSigned) -> ClientConfig {
    ClientConfig {
        tls_roots: vec![cert.der.clone()],
        ..ClientConfig::default()
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

#[tokio::test]
async fn wss_echo_round_trip_and_clean_close() {
    let cert = SelfSigned::generate();
    let server = start(tls_config(&cert)).await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("wss://{host}:{}/ws", server.addr.port());
        let mut client = within(connect(&url, &trusting(&cert))).await.unwrap();
        let big = vec![7u8; 12_000];
        for msg in [&b"hello over tls"[..], &big[..], b""] {
            client.send_binary(msg).await.unwrap();
            assert_eq!(
                next_data(&mut client).await,
                ClientEvent::Binary(Bytes::copy_from_slice(msg))
            );
        }
        client.send_text("héllo").await.unwrap();
        assert_eq!(
            next_data(&mut client).await,
            ClientEvent::Text("héllo".into())
        );
        client.close(close::NORMAL, "bye").await.unwrap();
        assert!(matches!(
            next_data(&mut client).await,
            ClientEvent::Close {
                code: close::NORMAL,
                ..
            }
        ));
    }
}

#[tokio::test]
async fn wss_refuses_untrusted_or_unconfigured_clients() {
    let cert = SelfSigned::generate();
    let server = start(tls_config(&cert)).await;
    let url = format!("wss://127.0.0.1:{}/ws", server.addr.port());

    let err = connect(&url, &ClientConfig::default()).await.unwrap_err();
    assert!(
        matches!(err, NetError::Tls(TlsError::NoTrustRoots)),
        "{err}"
    );

    let other = SelfSigned::generate();
    let err = within(connect(&url, &trusting(&other))).await.unwrap_err();
    assert!(
        matches!(err, NetError::Tls(TlsError::Handshake(_))),
        "{err}"
    );

    // A plain ws:// client gets no WebSocket from a TLS port.
    let plain = format!("ws://127.0.0.1:{}/ws", server.addr.port());
    assert!(
        within(connect(&plain, &ClientConfig::default()))
            .await
            .is_err()
    );

    // The server is unharmed by all of that.
    let mut good = within(connect(&url, &trusting(&cert))).await.unwrap();
    good.send_binary(b"still fine").await.unwrap();
    assert_eq!(
        next_data(&mut good).await,
        ClientEvent::Binary(Bytes::from_static(b"still fine"))
    );
}

#[tokio::test]
async fn silent_tls_peer_is_dropped_within_the_handshake_timeout() {
    let cert = SelfSigned::generate();
    let config = tls_config(&cert);
    let limit = config.handshake_timeout;
    let server = start(config).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    // Never sends a ClientHello: the server must give up on its own.
    loop {
        match within(tcp.read(&mut buf)).await {
            Ok(0) | Err(_) => break,
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
async fn tls_peer_that_never_sends_its_request_is_dropped_within_the_same_timeout() {
    use tickwire_net::rustls;
    let cert = SelfSigned::generate();
    let config = tls_config(&cert);
    let limit = config.handshake_timeout;
    let server = start(config).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let started = Instant::now();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    // A slow start of the TLS handshake uses up part of the deadline...
    tokio::time::sleep(limit * 3 / 5).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    // ...then the handshake completes and the peer goes quiet before its HTTP request.
    let mut tls = within(tokio_rustls::TlsConnector::from(Arc::new(client)).connect(name, tcp))
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    loop {
        match within(tls.read(&mut buf)).await {
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
    // One deadline for TLS and the request head, not one each (that would be 1.6 × limit).
    assert!(
        took < limit + Duration::from_millis(200),
        "dropped too late: {took:?}"
    );
}

#[tokio::test]
async fn bad_tls_files_are_reported() {
    let cert = SelfSigned::generate();
    let missing = TlsConfig::new(cert.dir.join("nope.pem"), &cert.tls.private_key);
    assert!(matches!(
        missing.server_config(),
        Err(TlsError::Pem {
            what: "certificate chain",
            ..
        })
    ));
    // The key file holds no certificate, and the certificate file no key.
    assert!(matches!(
        TlsConfig::load(&cert.tls.private_key, &cert.tls.private_key),
        Err(TlsError::Pem { .. })
    ));
    assert!(matches!(
        TlsConfig::load(&cert.tls.cert_chain, &cert.tls.cert_chain),
        Err(TlsError::Pem {
            what: "private key",
            ..
        })
    ));
    // A key that is not the certificate's.
    let other = SelfSigned::generate();
    assert!(matches!(
        TlsConfig::load(&cert.tls.cert_chain, &other.tls.private_key),
        Err(TlsError::Config(_))
    ));
    assert!(cert.tls.server_config().is_ok());

    // serve refuses to start rather than failing every handshake.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = NetConfig {
        tls: Some(missing),
        ..NetConfig::default()
    };
    let err = within(serve(
        listener,
        config,
        Arc::new(Echo),
        std::future::pending(),
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

fn origin_config() -> NetConfig {
    NetConfig {
        allowed_origins: vec![
            "https://play.example.com".to_owned(),
            "http://localhost:8080".to_owned(),
        ],
        ..NetConfig::default()
    }
}

fn from_origin(origin: Option<&str>) -> ClientConfig {
    ClientConfig {
        origin: origin.map(str::to_owned),
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn upgrades_from_unlisted_origins_get_403() {
    let server = start(origin_config()).await;
    let url = format!("ws://{}/ws", server.addr);
    for allowed in [
        None,
        Some("https://play.example.com"),
        Some("http://localhost:8080"),
    ] {
        let mut client = within(connect(&url, &from_origin(allowed))).await.unwrap();
        client.send_binary(b"hi").await.unwrap();
        assert_eq!(
            next_data(&mut client).await,
            ClientEvent::Binary(Bytes::from_static(b"hi")),
            "{allowed:?}"
        );
    }
    for refused in [
        "https://evil.example.com",
        "null",
        "http://play.example.com",
    ] {
        let err = within(connect(&url, &from_origin(Some(refused))))
            .await
            .unwrap_err();
        match err {
            NetError::Handshake(why) => assert!(why.contains("403"), "{refused}: {why}"),
            other => panic!("{refused}: {other}"),
        }
    }

    // The refusal happens before any upgrade: a plain 403 response, no 101.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let req = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
               Origin: https://evil.example.com\r\nConnection: close\r\n\r\n";
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut response = String::new();
    within(tcp.read_to_string(&mut response)).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(!response.to_ascii_lowercase().contains("upgrade: websocket"));

    // An empty allowlist lets every origin in.
    let open = start(NetConfig::default()).await;
    let url = format!("ws://{}/ws", open.addr);
    within(connect(
        &url,
        &from_origin(Some("https://evil.example.com")),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn malformed_client_origin_is_refused_locally() {
    let server = start(NetConfig::default()).await;
    let url = format!("ws://{}/ws", server.addr);
    let err = connect(&url, &from_origin(Some("https://a\r\nX-Evil: 1")))
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::InvalidUrl(_)), "{err}");
}
