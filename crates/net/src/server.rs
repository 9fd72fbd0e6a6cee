//! Accept loop, HTTP/1.1 serving and the WebSocket upgrade.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::upgrade::{UpgradeFut, is_upgrade_request, upgrade};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::NetConfig;
use crate::connection::{self, Connection};

/// Pause after an accept error such as running out of file descriptors, as a duration.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Largest HTTP read buffer per connection, in bytes; bounds what a slow request can pin.
const MAX_HTTP_BUF_BYTES: usize = 64 * 1024;

/// Least time left for the HTTP request head after a slow TLS handshake, as a duration; hyper
/// needs a non-zero header timeout, and a millisecond still drops a peer that is not ready.
const MIN_HEADER_TIMEOUT: Duration = Duration::from_millis(1);

/// The application side of the server: what to do with each connection and request.
pub trait Handler: Send + Sync + 'static {
    /// Called once per upgraded WebSocket connection, in its own task; the connection ends when the future returns (dropping the Connection closes it with 1000 if no close was sent yet).
    fn on_connection(self: Arc<Self>, conn: Connection) -> impl Future<Output = ()> + Send;

    /// Answers any HTTP request that is not a WebSocket upgrade on `ws_path` (default: 404 text); its extensions hold the peer's [`PeerAddr`].
    fn on_http(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send {
        drop(req);
        std::future::ready(text_response(StatusCode::NOT_FOUND, "not found"))
    }

    /// Decides, before any WebSocket or HTTP state is allocated, whether a TCP peer may connect (per-IP and total caps). A [`Refusal`] is answered at once, without reading the request, and counted.
    fn admit(&self, peer: SocketAddr) -> Result<Admission, Refusal> {
        let _ = peer;
        Ok(Admission::new())
    }
}

/// Permission for one TCP connection; dropped when that connection (HTTP or WebSocket) has ended.
///
/// Carry a guard in it (say, a per-IP counter that decrements on drop) to count live connections.
#[derive(Default)]
pub struct Admission {
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Admission {
    /// Admits without a guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits, holding `guard` until the connection ends.
    pub fn with_guard<G: Send + Sync + 'static>(guard: G) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("guarded", &self._guard.is_some())
            .finish()
    }
}

/// Counter of connections refused at accept, labelled `listener` (the listener's
/// [`NetConfig::listener`]) and `reason` (a [`Refusal::label`], or [`OUT_OF_DESCRIPTORS`]).
pub const CONNECTIONS_REFUSED: &str = "tickwire_connections_refused_total";

/// `reason` label of a connection shed because the process ran out of file descriptors.
pub const OUT_OF_DESCRIPTORS: &str = "out_of_descriptors";

/// `reason` label of a [`Refusal`] made with [`Refusal::new`] and no label of its own.
pub const REFUSED: &str = "refused";

/// A refused TCP peer: answered at once, without reading its request, with `status` and
/// `reason` as a text body, then disconnected.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// HTTP status sent back, such as 503 or 429.
    pub status: StatusCode,
    /// Text body explaining the refusal.
    pub reason: String,
    /// The `reason` label counted in [`CONNECTIONS_REFUSED`]: snake_case, one of a fixed set
    /// the handler owns, never anything the peer chose.
    pub label: &'static str,
    /// Sent as `Retry-After`, in whole seconds rounded up, when set.
    pub retry_after: Option<Duration>,
}

impl Refusal {
    /// A refusal with this status and reason, labelled [`REFUSED`], without `Retry-After`.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            label: REFUSED,
            retry_after: None,
        }
    }

    /// The same refusal counted under `label`.
    pub fn labelled(mut self, label: &'static str) -> Self {
        self.label = label;
        self
    }

    /// The same refusal telling the peer to retry after `after`.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The whole HTTP/1.1 response: status line, `Connection: close`, `Retry-After` when set,
    /// and the reason as a text body.
    pub fn to_http(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            self.reason.len(),
        );
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            head.push_str(&format!("Retry-After: {}\r\n", secs.max(1)));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(self.reason.as_bytes());
        out
    }
}

/// The TCP peer of an HTTP request, put in its extensions before [`Handler::on_http`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// A `text/plain` response with `status` and `body`.
pub fn text_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Accepts TCP connections from `listener` until `shutdown` resolves, serving HTTP/1.1; upgrades `ws_path` to WebSocket. Returns after shutdown once the accept loop stops (existing connections are the handler's business).
///
/// With `config.tls` set every connection is TLS (`wss://`); the certificate and key are read
/// once, here, and an unreadable or invalid pair returns an [`io::ErrorKind::InvalidInput`]
/// error (wrapping a [`TlsError`](crate::TlsError)) before anything is accepted.
///
/// Accept errors (a reset peer, running out of file descriptors) are logged and retried, so in
/// practice this returns `Ok(())` once TLS is set up.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: NetConfig,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let tls = match &config.tls {
        Some(tls) => {
            Some(TlsAcceptor::from(tls.server_config().map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidInput, e)
            })?))
        }
        None => None,
    };
    let config = Arc::new(config);
    let mut http = http1::Builder::new();
    // Slowloris: the request head must arrive within the handshake timeout; this also bounds
    // how long an idle keep-alive connection is kept.
    http.timer(TokioTimer::new())
        .header_read_timeout(config.handshake_timeout)
        .max_buf_size(MAX_HTTP_BUF_BYTES);
    tokio::pin!(shutdown);
    let mut reserve = open_reserve();
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(error = %e, "accept failed for one connection");
                continue;
            }
            Err(e) => {
                if is_out_of_descriptors(&e) {
                    let shed = shed_backlog(&listener, &mut reserve, &config).await;
                    tracing::warn!(
                        error = %e,
                        listener = config.listener,
                        shed,
                        "out of file descriptors: shed the pending connections; backing off"
                    );
                } else {
                    tracing::warn!(error = %e, listener = config.listener, "accept failed; backing off");
                }
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let admission = match handler.admit(peer) {
            Ok(admission) => admission,
            Err(refusal) => {
                tracing::debug!(%peer, status = %refusal.status, reason = %refusal.reason, "refused");
                refuse_now(stream, &refusal, tls.is_some(), config.listener);
                continue;
            }
        };
        // Game frames are small and latency-bound; Nagle would hold them back.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, %peer, "set_nodelay failed");
        }
        // A bounded kernel send buffer keeps a slow reader's cost bounded and makes its backlog
        // visible to the writer (and so to latest-wins and the send-rate control) in seconds.
        if let Some(bytes) = config.send_buffer_bytes {
            if let Err(e) = socket2::SockRef::from(&stream).set_send_buffer_size(bytes) {
                tracing::debug!(error = %e, %peer, "set_send_buffer_size failed");
            }
        }
        tokio::spawn(serve_tcp(
            stream,
            tls.clone(),
            peer,
            admission,
            http.clone(),
            Arc::clone(&config),
            Arc::clone(&handler),
        ));
    }
}

/// Longest run of pending connections shed in one go when descriptors ran out, in connections;
/// bounds how long the accept loop spends shedding before it backs off.
const MAX_SHED_PER_EPISODE: usize = 4096;

/// Largest number of request bytes a refused connection's socket is drained of before it is
/// dropped, in bytes; draining what already arrived lets the kernel end it with FIN, not RST.
const REFUSAL_DRAIN_BYTES: usize = 16 * 1024;

/// `EMFILE` and `ENFILE` (the same numbers on Linux, the BSDs and macOS): the process or the
/// system has no file descriptor left for `accept`.
const DESCRIPTOR_ERRNOS: [i32; 2] = [24, 23];

/// Whether `e` means no file descriptor was left for the accepted connection.
fn is_out_of_descriptors(e: &io::Error) -> bool {
    e.raw_os_error()
        .is_some_and(|n| cfg!(unix) && DESCRIPTOR_ERRNOS.contains(&n))
}

/// A descriptor held in reserve so that, when the process runs out, one can be freed to
/// accept (and at once refuse) the connections waiting in the backlog instead of leaving them
/// hanging until a descriptor frees up by chance.
fn open_reserve() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null")
        .inspect_err(|e| tracing::debug!(error = %e, "cannot open a reserve descriptor"))
        .ok()
}

/// Frees the reserve descriptor, accepts every pending connection and refuses it at once (503,
/// `Retry-After: 1`), then takes the reserve back. Returns how many were shed.
async fn shed_backlog(
    listener: &TcpListener,
    reserve: &mut Option<std::fs::File>,
    config: &NetConfig,
) -> usize {
    drop(reserve.take());
    let refusal = Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server out of file descriptors; retry shortly",
    )
    .labelled(OUT_OF_DESCRIPTORS)
    .retry_after(Duration::from_secs(1));
    let mut shed = 0;
    while shed < MAX_SHED_PER_EPISODE {
        // One poll, never a wait: only what is already pending is shed.
        let next = std::future::poll_fn(|cx| match listener.poll_accept(cx) {
            std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await;
        match next {
            Some(Ok((stream, _))) => {
                refuse_now(stream, &refusal, config.tls.is_some(), config.listener);
                shed += 1;
            }
            Some(Err(e)) if is_per_connection(&e) => {}
            // Out of descriptors again (someone took the freed one) or nothing pending.
            Some(Err(_)) | None => break,
        }
    }
    *reserve = open_reserve();
    shed
}

/// Answers a refused connection and closes it, synchronously and without reading its request,
/// so a refusal never holds a descriptor: the response (a few hundred bytes, so it fits the
/// fresh socket's send buffer) is written without waiting, the write side shut (FIN), and
/// whatever request bytes already arrived are drained so that the close is not a reset that
/// could destroy the response before the peer reads it. A TLS peer cannot read plain HTTP, so
/// it is only closed. Counted in [`CONNECTIONS_REFUSED`].
fn refuse_now(stream: TcpStream, refusal: &Refusal, tls: bool, listener: &'static str) {
    metrics::counter!(CONNECTIONS_REFUSED, "listener" => listener, "reason" => refusal.label)
        .increment(1);
    if !tls {
        let response = refusal.to_http();
        if let Err(e) = stream.try_write(&response) {
            tracing::debug!(error = %e, "could not write the refusal");
        }
    }
    let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while drained < REFUSAL_DRAIN_BYTES {
        match stream.try_read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Errors that concern only the connection being accepted, not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Runs the TLS handshake when configured, then serves HTTP on the connection.
async fn serve_tcp<H: Handler>(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    peer: SocketAddr,
    admission: Admission,
    mut http: http1::Builder,
    config: Arc<NetConfig>,
    handler: Arc<H>,
) {
    let Some(acceptor) = tls else {
        return serve_http(stream, peer, admission, http, config, handler).await;
    };
    // The TLS handshake and the request head share one deadline, so a TLS slowloris gets no
    // more time than a plain one.
    let started = Instant::now();
    let stream = match tokio::time::timeout(config.handshake_timeout, acceptor.accept(stream)).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, %peer, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let left = config
        .handshake_timeout
        .saturating_sub(started.elapsed())
        .max(MIN_HEADER_TIMEOUT);
    http.header_read_timeout(left);
    serve_http(stream, peer, admission, http, config, handler).await;
}

/// Serves HTTP/1.1 on a (plain or TLS) stream, upgrading `ws_path` to WebSocket.
async fn serve_http<H: Handler, S>(
    stream: S,
    peer: SocketAddr,
    admission: Admission,
    http: http1::Builder,
    config: Arc<NetConfig>,
    handler: Arc<H>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let io = TokioIo::new(stream);
    let admission = Arc::new(admission);
    let service = service_fn(move |req| {
        route::<H, S>(
            req,
            peer,
            Arc::clone(&config),
            Arc::clone(&handler),
            Arc::clone(&admission),
        )
    });
    if let Err(e) = http.serve_connection(io, service).with_upgrades().await {
        tracing::debug!(error = %e, %peer, "http connection ended badly");
    }
}

async fn route<H: Handler, S>(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    config: Arc<NetConfig>,
    handler: Arc<H>,
    admission: Arc<Admission>,
) -> Result<Response<Full<Bytes>>, Infallible>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let wants_ws = req.method() == Method::GET
        && config.ws_path.as_deref() == Some(req.uri().path())
        && is_upgrade_request(&req);
    if !wants_ws {
        req.extensions_mut().insert(PeerAddr(peer));
        return Ok(handler.on_http(req).await);
    }
    if !origin_allowed(&req, &config.allowed_origins) {
        tracing::debug!(%peer, origin = ?req.headers().get(header::ORIGIN), "origin refused");
        return Ok(text_response(StatusCode::FORBIDDEN, "origin not allowed"));
    }
    let (response, upgrade_fut) = match upgrade(&mut req) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, %peer, "bad upgrade request");
            let mut resp = text_response(StatusCode::BAD_REQUEST, e.to_string());
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                header::HeaderValue::from_static("13"),
            );
            return Ok(resp);
        }
    };
    tokio::spawn(run_websocket::<H, S>(
        upgrade_fut,
        peer,
        config,
        handler,
        admission,
    ));
    Ok(response.map(|_| Full::new(Bytes::new())))
}

/// Whether the request's `Origin` headers (if any) all name an allowed origin; an empty list
/// allows everything.
fn origin_allowed<B>(req: &Request<B>, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    // Browsers send one Origin; should a request carry several, every one must pass.
    req.headers().get_all(header::ORIGIN).iter().all(|value| {
        value.to_str().is_ok_and(|origin| {
            let origin = normalize_origin(origin);
            allowed
                .iter()
                .any(|a| normalize_origin(a).eq_ignore_ascii_case(origin))
        })
    })
}

/// Origins compare without surrounding whitespace or a trailing `/`, which configs often carry.
fn normalize_origin(origin: &str) -> &str {
    let origin = origin.trim();
    origin.strip_suffix('/').unwrap_or(origin)
}

/// Waits for the upgrade, then runs the handler on the WebSocket; `S` is the stream hyper
/// served (plain TCP or TLS), taken back from hyper once the upgrade is done.
async fn run_websocket<H: Handler, S>(
    upgrade_fut: UpgradeFut,
    peer: SocketAddr,
    config: Arc<NetConfig>,
    handler: Arc<H>,
    admission: Arc<Admission>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let ws = match tokio::time::timeout(config.handshake_timeout, upgrade_fut).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, %peer, "upgrade failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "upgrade timed out");
            return;
        }
    };
    // The WebSocket was just built from the upgraded stream, so it has buffered nothing. The
    // stream itself is taken out of hyper's wrapper: the wrapper keeps hyper's read buffer (8 KiB
    // or more) for as long as bytes read past the request are unconsumed, and adds a box and a
    // vtable call to every read. The bytes hyper did read past the request are read first.
    let (conn, writer) = match ws.into_inner().into_inner().downcast::<TokioIo<S>>() {
        Ok(parts) => connection::start(parts.io.into_inner(), &parts.read_buf, peer, &config),
        Err(upgraded) => connection::start(TokioIo::new(upgraded), &[], peer, &config),
    };
    handler.on_connection(conn).await;
    // The admission covers the connection until its socket is really gone.
    if let Err(e) = writer.await {
        tracing::warn!(error = %e, %peer, "writer task failed");
    }
    drop(admission);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_from(origins: &[&str]) -> Request<()> {
        let mut req = Request::builder().uri("/ws");
        for origin in origins {
            req = req.header(header::ORIGIN, *origin);
        }
        req.body(()).unwrap_or_default()
    }

    #[test]
    fn origin_rules() {
        let allowed = vec![
            "https://play.example.com".to_owned(),
            "http://localhost:8080/".to_owned(),
        ];
        let ok = |origins: &[&str]| origin_allowed(&upgrade_from(origins), &allowed);
        assert!(ok(&[]), "no Origin header: a native client");
        assert!(ok(&["https://play.example.com"]));
        assert!(ok(&["HTTPS://Play.Example.com/"]));
        assert!(ok(&["http://localhost:8080"]));
        assert!(!ok(&["https://evil.example.com"]));
        assert!(!ok(&["http://play.example.com"]));
        assert!(!ok(&["null"]));
        assert!(!ok(&[
            "https://play.example.com",
            "https://evil.example.com"
        ]));
        assert!(origin_allowed(&upgrade_from(&["https://anything"]), &[]));
    }
}
