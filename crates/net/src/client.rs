//! WebSocket clients for tests and the load tester: a well-behaved [`Client`] (splittable into
//! reader and writer halves for bots) and a [`RawClient`] that can send anything at all.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket, WebSocketRead, WebSocketWrite};
use rustls::pki_types::{CertificateDer, ServerName};
use sha1::{Digest, Sha1};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
    ReadHalf, WriteHalf,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::assemble::{Assembler, InFrame, Incoming};
use crate::close;
use crate::connection::Message;
use crate::error::NetError;
use crate::tls::{self, TlsError};

/// Longest HTTP response head accepted during the handshake, in bytes.
const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;

/// Largest payload [`RawClient::read_frame`] accepts, in bytes; keeps a test from allocating
/// whatever a broken server claims.
const MAX_RAW_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// Capacity of the reader-to-writer obligation channel, in frames.
const OBLIGATION_QUEUE_LEN: usize = 8;

/// GUID appended to the key to compute `Sec-WebSocket-Accept` (RFC 6455 §1.3).
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Settings for [`connect`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Largest whole message accepted from the server, in bytes (default 1 MiB).
    pub max_message_bytes: usize,
    /// Whether pings are answered with pongs automatically (default true).
    pub auto_pong: bool,
    /// Limit on TCP connect plus TLS handshake plus HTTP upgrade, as a duration (default 5 s).
    pub connect_timeout: Duration,
    /// Certificates trusted to sign a `wss://` server's certificate: a CA, or a self-signed
    /// server certificate itself (see [`load_pem_certs`](crate::tls::load_pem_certs)). No
    /// system roots are built in, so `wss://` needs at least one (default: none).
    pub tls_roots: Vec<CertificateDer<'static>>,
    /// `Origin` header sent with the upgrade, as a browser would (default: none, like a native client).
    pub origin: Option<String>,
    /// Kernel receive buffer, bytes (`SO_RCVBUF`); `None` leaves auto-tuning. A small one makes
    /// a slow reader's backlog reach the server quickly (tests of throttled links).
    pub recv_buffer_bytes: Option<usize>,
    /// Local address the TCP socket binds before connecting (port 0: any); `None` lets the
    /// system choose. Tests use another loopback address (127.0.0.2) to act as a second host.
    pub local_ip: Option<std::net::IpAddr>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            auto_pong: true,
            connect_timeout: Duration::from_secs(5),
            tls_roots: Vec::new(),
            origin: None,
            recv_buffer_bytes: None,
            local_ip: None,
        }
    }
}

/// Something the client received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A complete binary message.
    Binary(Bytes),
    /// A complete text message.
    Text(String),
    /// A ping (already answered when `auto_pong` is on).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The server's close frame (already answered); `code` is 1005 when it carried none.
    Close {
        /// Close code sent by the server.
        code: u16,
        /// Close reason sent by the server.
        reason: String,
    },
}

type ClientStream = BufReader<Transport>;

/// The client's socket: plain TCP for `ws://`, TLS over TCP for `wss://`.
#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    // Boxed: a TLS session is a few kilobytes, a TcpStream a few words.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connected WebSocket client.
pub struct Client {
    ws: WebSocket<ClientStream>,
    asm: Assembler,
    max_message_bytes: usize,
    auto_pong: bool,
    close_sent: bool,
    /// Set once the server's close arrived or the stream broke: nothing more to read.
    finished: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("close_sent", &self.close_sent)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Connects to `ws://host[:port][/path]` or `wss://host[:port][/path]` and performs the
/// WebSocket upgrade; `wss://` verifies the server against `config.tls_roots`.
pub async fn connect(url: &str, config: &ClientConfig) -> Result<Client, NetError> {
    let target = Target::parse(url)?;
    let stream = tokio::time::timeout(config.connect_timeout, open(&target, config))
        .await
        .map_err(|_| NetError::ConnectTimeout)??;
    let mut ws = WebSocket::after_handshake(stream, Role::Client);
    ws.set_auto_pong(false);
    ws.set_auto_close(false);
    ws.set_max_message_size(config.max_message_bytes.saturating_add(1));
    Ok(Client {
        ws,
        asm: Assembler::new(config.max_message_bytes, true),
        max_message_bytes: config.max_message_bytes,
        auto_pong: config.auto_pong,
        close_sent: false,
        finished: false,
    })
}

/// Performs the HTTP upgrade by hand and returns the raw TCP stream after the 101, so tests can write malformed frames (huge length claims, garbage, unmasked frames). Leftover bytes after the 101 response must not be lost (return them too or use a BufReader).
///
/// Uses the default connect timeout (5 s). Speaks `ws://` only: a `wss://` URL is an
/// [`NetError::InvalidUrl`].
pub async fn connect_raw(url: &str) -> Result<RawClient, NetError> {
    let target = Target::parse(url)?;
    if target.tls {
        return Err(NetError::InvalidUrl(format!(
            "{url:?}: the raw client speaks ws:// only"
        )));
    }
    let config = ClientConfig::default();
    let stream = tokio::time::timeout(config.connect_timeout, open(&target, &config))
        .await
        .map_err(|_| NetError::ConnectTimeout)??;
    let leftover = stream.buffer().to_vec();
    match stream.into_inner() {
        Transport::Plain(stream) => Ok(RawClient { stream, leftover }),
        Transport::Tls(_) => Err(NetError::InvalidUrl(format!(
            "{url:?}: the raw client speaks ws:// only"
        ))),
    }
}

impl Client {
    /// Sends one binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.send(Frame::binary(Payload::Borrowed(data))).await
    }

    /// Sends one text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), NetError> {
        self.send(Frame::text(Payload::Borrowed(text.as_bytes())))
            .await
    }

    /// Sends a ping with `payload` (at most 125 bytes, or the server closes with 1002).
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), NetError> {
        self.send(ping_frame(payload)).await
    }

    async fn send(&mut self, frame: Frame<'_>) -> Result<(), NetError> {
        if self.close_sent {
            return Err(NetError::ConnectionClosed);
        }
        write_and_flush(&mut self.ws, frame).await
    }

    /// Next event; a received Close is returned as [`ClientEvent::Close`] (after auto-replying); later calls error [`NetError::ConnectionClosed`].
    pub async fn recv(&mut self) -> Result<ClientEvent, NetError> {
        loop {
            if self.finished {
                return Err(NetError::ConnectionClosed);
            }
            let frame = match self.ws.read_frame().await {
                Ok(frame) => InFrame::take(frame, false),
                // fastwebsockets refuses data frames once our close is out; the server may
                // legitimately still have had some in flight.
                Err(fastwebsockets::WebSocketError::ConnectionClosed) if self.close_sent => {
                    continue;
                }
                Err(e) => Err(NetError::from_ws(e, self.max_message_bytes)),
            };
            let incoming = match frame.and_then(|f| self.asm.push(f)) {
                Ok(Some(incoming)) => incoming,
                Ok(None) => continue,
                Err(e) => return Err(self.fail(e).await),
            };
            match incoming {
                Incoming::Message(msg) => return Ok(message_event(msg)),
                Incoming::Pong(payload) => return Ok(ClientEvent::Pong(payload)),
                Incoming::Ping(payload) => {
                    if self.auto_pong && !self.close_sent {
                        write_and_flush(&mut self.ws, Frame::pong(Payload::Borrowed(&payload)))
                            .await?;
                    }
                    return Ok(ClientEvent::Ping(payload));
                }
                Incoming::Close(received) => {
                    self.finished = true;
                    if !self.close_sent {
                        self.close_sent = true;
                        // The server may already have shut the socket; its close is what matters.
                        let _ = write_and_flush(&mut self.ws, close_reply(&received)).await;
                    }
                    return Ok(close_event(received));
                }
            }
        }
    }

    /// Best effort: tells the server why we are giving up, then stops reading.
    async fn fail(&mut self, err: NetError) -> NetError {
        self.finished = true;
        if let (Some(code), false) = (err.close_code(), self.close_sent) {
            self.close_sent = true;
            let _ = write_and_flush(&mut self.ws, close_frame(code, &err.to_string())).await;
        }
        err
    }

    /// Sends a close frame; keep calling [`recv`](Self::recv) to see the server's reply. Idempotent.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), NetError> {
        if self.close_sent {
            return Ok(());
        }
        self.close_sent = true;
        write_and_flush(&mut self.ws, close_frame(code, reason)).await
    }

    /// Splits into a reader and a writer that can live in separate tasks.
    pub fn split(self) -> (ClientReader, ClientWriter) {
        let (tx, rx) = mpsc::channel(OBLIGATION_QUEUE_LEN);
        let (read, write) = self.ws.split(tokio::io::split);
        (
            ClientReader {
                ws: read,
                asm: self.asm,
                max_message_bytes: self.max_message_bytes,
                auto_pong: self.auto_pong,
                finished: self.finished,
                obligations: tx,
            },
            ClientWriter {
                ws: write,
                obligations: rx,
                pending: None,
                close_sent: self.close_sent,
            },
        )
    }
}

/// A frame the reader owes the server, sent by the writer (fastwebsockets' send obligation).
#[derive(Debug)]
enum Obligation {
    Pong(Bytes),
    Close(Option<(u16, String)>),
}

/// Reading half of a split [`Client`]; hands pongs and close replies to its [`ClientWriter`].
pub struct ClientReader {
    ws: WebSocketRead<ReadHalf<ClientStream>>,
    asm: Assembler,
    max_message_bytes: usize,
    auto_pong: bool,
    finished: bool,
    obligations: mpsc::Sender<Obligation>,
}

impl std::fmt::Debug for ClientReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientReader")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl ClientReader {
    /// Next event, as [`Client::recv`]; replies are queued for the writer rather than sent here.
    pub async fn recv(&mut self) -> Result<ClientEvent, NetError> {
        loop {
            if self.finished {
                return Err(NetError::ConnectionClosed);
            }
            let obligations = &self.obligations;
            // With auto_pong/auto_close off fastwebsockets owes nothing itself; should it, the
            // frame goes to the writer like ours.
            let mut forward = |frame: Frame<'_>| {
                let obligation = match frame.opcode {
                    OpCode::Close => Some(Obligation::Close(
                        crate::assemble::parse_close(&frame.payload).ok().flatten(),
                    )),
                    OpCode::Pong => Some(Obligation::Pong(Bytes::copy_from_slice(&frame.payload))),
                    _ => None,
                };
                if let Some(obligation) = obligation {
                    let _ = obligations.try_send(obligation);
                }
                std::future::ready(Ok::<(), Infallible>(()))
            };
            let frame = match self.ws.read_frame(&mut forward).await {
                Ok(frame) => InFrame::take(frame, false),
                Err(e) => Err(NetError::from_ws(e, self.max_message_bytes)),
            };
            let incoming = match frame.and_then(|f| self.asm.push(f)) {
                Ok(Some(incoming)) => incoming,
                Ok(None) => continue,
                Err(e) => {
                    self.finished = true;
                    if let Some(code) = e.close_code() {
                        let _ = self
                            .obligations
                            .try_send(Obligation::Close(Some((code, e.to_string()))));
                    }
                    return Err(e);
                }
            };
            match incoming {
                Incoming::Message(msg) => return Ok(message_event(msg)),
                Incoming::Pong(payload) => return Ok(ClientEvent::Pong(payload)),
                Incoming::Ping(payload) => {
                    // One slot stays free for a close reply; a dropped pong is allowed when
                    // newer pings follow (RFC 6455 §5.5.3).
                    if self.auto_pong && self.obligations.capacity() > 1 {
                        let _ = self.obligations.try_send(Obligation::Pong(payload.clone()));
                    }
                    return Ok(ClientEvent::Ping(payload));
                }
                Incoming::Close(received) => {
                    self.finished = true;
                    let _ = self
                        .obligations
                        .try_send(Obligation::Close(received.clone()));
                    return Ok(close_event(received));
                }
            }
        }
    }
}

/// Writing half of a split [`Client`]; also sends the pongs and close replies its reader queued.
pub struct ClientWriter {
    ws: WebSocketWrite<WriteHalf<ClientStream>>,
    obligations: mpsc::Receiver<Obligation>,
    pending: Option<Obligation>,
    close_sent: bool,
}

impl std::fmt::Debug for ClientWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientWriter")
            .field("close_sent", &self.close_sent)
            .finish_non_exhaustive()
    }
}

impl ClientWriter {
    /// Sends one binary message, after any queued pongs or close reply.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.send(Frame::binary(Payload::Borrowed(data))).await
    }

    /// Sends one text message, after any queued pongs or close reply.
    pub async fn send_text(&mut self, text: &str) -> Result<(), NetError> {
        self.send(Frame::text(Payload::Borrowed(text.as_bytes())))
            .await
    }

    /// Sends a ping, after any queued pongs or close reply.
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), NetError> {
        self.send(ping_frame(payload)).await
    }

    async fn send(&mut self, frame: Frame<'_>) -> Result<(), NetError> {
        self.answer_obligations().await?;
        if self.close_sent {
            return Err(NetError::ConnectionClosed);
        }
        write_and_flush_half(&mut self.ws, frame).await
    }

    /// Sends a close frame (after any queued pongs). Idempotent.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), NetError> {
        self.answer_obligations().await?;
        if self.close_sent {
            return Ok(());
        }
        self.close_sent = true;
        write_and_flush_half(&mut self.ws, close_frame(code, reason)).await
    }

    /// Waits until the reader has queued a pong or close reply; false once the reader is gone.
    ///
    /// Cancel-safe, so a bot can `select!` on it next to its send timer, then call
    /// [`answer_obligations`](Self::answer_obligations).
    pub async fn obligation_ready(&mut self) -> bool {
        if self.pending.is_none() {
            self.pending = self.obligations.recv().await;
        }
        self.pending.is_some()
    }

    /// Sends every pong and close reply the reader has queued. Not cancel-safe.
    pub async fn answer_obligations(&mut self) -> Result<(), NetError> {
        loop {
            let next = match self.pending.take() {
                Some(obligation) => obligation,
                None => match self.obligations.try_recv() {
                    Ok(obligation) => obligation,
                    Err(_) => return Ok(()),
                },
            };
            if self.close_sent {
                continue;
            }
            match next {
                Obligation::Pong(payload) => {
                    write_and_flush_half(&mut self.ws, Frame::pong(Payload::Borrowed(&payload)))
                        .await?;
                }
                Obligation::Close(received) => {
                    self.close_sent = true;
                    write_and_flush_half(&mut self.ws, close_reply(&received)).await?;
                }
            }
        }
    }
}

fn message_event(msg: Message) -> ClientEvent {
    match msg {
        Message::Binary(b) => ClientEvent::Binary(b),
        Message::Text(t) => ClientEvent::Text(t),
    }
}

fn close_event(received: Option<(u16, String)>) -> ClientEvent {
    let (code, reason) = received.unwrap_or((close::NO_STATUS, String::new()));
    ClientEvent::Close { code, reason }
}

fn ping_frame(payload: &[u8]) -> Frame<'_> {
    Frame::new(true, OpCode::Ping, None, Payload::Borrowed(payload))
}

fn close_frame(code: u16, reason: &str) -> Frame<'static> {
    Frame::close_raw(Payload::Owned(crate::assemble::close_payload(code, reason)))
}

/// Our answer to the server's close: the same code, or an empty close for an empty one.
fn close_reply(received: &Option<(u16, String)>) -> Frame<'static> {
    match received {
        Some((code, _)) => close_frame(*code, ""),
        None => Frame::close_raw(Payload::Owned(Vec::new())),
    }
}

async fn write_and_flush(
    ws: &mut WebSocket<ClientStream>,
    frame: Frame<'_>,
) -> Result<(), NetError> {
    ws.write_frame(frame).await.map_err(map_write_error)?;
    ws.flush().await.map_err(map_write_error)
}

async fn write_and_flush_half(
    ws: &mut WebSocketWrite<WriteHalf<ClientStream>>,
    frame: Frame<'_>,
) -> Result<(), NetError> {
    ws.write_frame(frame).await.map_err(map_write_error)?;
    ws.flush().await.map_err(map_write_error)
}

fn map_write_error(e: fastwebsockets::WebSocketError) -> NetError {
    NetError::from_ws(e, 0)
}

/// A client that performed the upgrade and then speaks raw bytes, for misbehaviour tests.
///
/// Read `leftover` before `stream`: it holds whatever the server sent right after its 101
/// that the handshake had already read. The helper methods do this for you.
#[derive(Debug)]
pub struct RawClient {
    /// The TCP stream, positioned after `leftover`.
    pub stream: TcpStream,
    /// Bytes received after the 101 response but before `stream`'s current position.
    pub leftover: Vec<u8>,
}

/// One frame as the server sent it, read by [`RawClient::read_frame`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// FIN bit.
    pub fin: bool,
    /// The 4-bit opcode as sent.
    pub opcode: u8,
    /// Whether the frame was masked (a server must never mask).
    pub masked: bool,
    /// Payload, unmasked.
    pub payload: Vec<u8>,
}

impl RawClient {
    /// Writes `bytes` as they are.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Fills `buf` from `leftover` first, then from the socket.
    async fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), NetError> {
        let from_leftover = buf.len().min(self.leftover.len());
        buf[..from_leftover].copy_from_slice(&self.leftover[..from_leftover]);
        self.leftover.drain(..from_leftover);
        self.stream
            .read_exact(&mut buf[from_leftover..])
            .await
            .map_err(eof_is_lost)?;
        Ok(())
    }

    /// Reads one frame; payloads over 16 MiB are refused rather than allocated.
    pub async fn read_frame(&mut self) -> Result<RawFrame, NetError> {
        let mut head = [0u8; 2];
        self.read_exact(&mut head).await?;
        let len = match head[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                self.read_exact(&mut b).await?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                self.read_exact(&mut b).await?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let masked = head[1] & 0x80 != 0;
        let mut mask = [0u8; 4];
        if masked {
            self.read_exact(&mut mask).await?;
        }
        if len > MAX_RAW_PAYLOAD_BYTES {
            return Err(NetError::MessageTooBig(MAX_RAW_PAYLOAD_BYTES as usize));
        }
        let mut payload = vec![0u8; len as usize];
        self.read_exact(&mut payload).await?;
        if masked {
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b ^= mask[i % 4]);
        }
        Ok(RawFrame {
            fin: head[0] & 0x80 != 0,
            opcode: head[0] & 0x0F,
            masked,
            payload,
        })
    }

    /// Skips frames until a close arrives and returns its code (1005 if none) and reason.
    pub async fn read_close(&mut self) -> Result<(u16, String), NetError> {
        loop {
            let frame = self.read_frame().await?;
            if frame.opcode != OpCode::Close as u8 {
                continue;
            }
            return Ok(match frame.payload.as_slice() {
                [] => (close::NO_STATUS, String::new()),
                [hi, lo, reason @ ..] => (
                    u16::from_be_bytes([*hi, *lo]),
                    String::from_utf8_lossy(reason).into_owned(),
                ),
                [_] => return Err(NetError::Protocol("close payload of 1 byte")),
            });
        }
    }

    /// Waits until the server ends the TCP stream, discarding what it still sends.
    pub async fn read_to_end(&mut self) -> Result<(), NetError> {
        self.leftover.clear();
        let mut sink = [0u8; 4096];
        loop {
            match self.stream.read(&mut sink).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn eof_is_lost(e: io::Error) -> NetError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        NetError::ConnectionLost
    } else {
        NetError::Io(e)
    }
}

/// Encodes one frame byte for byte: any opcode, optional mask, no validation (for misbehaving on purpose).
pub fn encode_frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(u8::from(fin) << 7 | (opcode & 0x0F));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Where to connect and what to ask for.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// Whether the URL was `wss://`.
    tls: bool,
    /// The host alone (no brackets, no port): the TLS server name to verify.
    host: String,
    /// `host:port` for `TcpStream::connect`.
    addr: String,
    /// Value of the `Host` header.
    host_header: String,
    /// Request path, query included.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, NetError> {
        let bad = |why: &str| NetError::InvalidUrl(format!("{url:?}: {why}"));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else {
            return Err(bad("expected ws:// or wss://"));
        };
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("whitespace or control characters"));
        }
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        // The fragment never goes on the wire.
        let path = path.split('#').next().unwrap_or("");
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the url are not supported"));
        }
        let (host, port, bracketed) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
            };
            (host, port, true)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port), false),
                None => (authority, None, false),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let port: u16 = match port {
            None if tls => 443,
            None => 80,
            Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
        };
        let addr = if bracketed {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            tls,
            host: host.to_owned(),
            addr,
            host_header: authority.to_owned(),
            path,
        })
    }
}

/// TCP connect, the TLS handshake for `wss://`, then the upgrade handshake; the returned stream
/// is positioned right after the 101.
/// Connects to the first address `addr` resolves to whose family matches `ip`, from `ip`.
async fn connect_from(ip: std::net::IpAddr, addr: &str) -> io::Result<TcpStream> {
    let local = std::net::SocketAddr::new(ip, 0);
    let mut last = None;
    for remote in tokio::net::lookup_host(addr).await? {
        if remote.is_ipv4() != ip.is_ipv4() {
            continue;
        }
        let socket = match ip {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.bind(local)?;
        match socket.connect(remote).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{addr} has no address of the family of {ip}"),
        )
    }))
}

async fn open(target: &Target, config: &ClientConfig) -> Result<ClientStream, NetError> {
    let origin = match &config.origin {
        // Visible ASCII only: anything else could smuggle extra header lines.
        Some(o) if o.is_empty() || !o.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(NetError::InvalidUrl(format!("invalid origin {o:?}")));
        }
        Some(o) => format!("Origin: {o}\r\n"),
        None => String::new(),
    };
    // Checked before connecting, so a missing root fails fast rather than after a TCP connect.
    let tls = match target.tls {
        true => Some((
            tls::client_config(&config.tls_roots)?,
            ServerName::try_from(target.host.clone())
                .map_err(|_| TlsError::InvalidServerName(target.host.clone()))?,
        )),
        false => None,
    };
    let tcp = match config.local_ip {
        None => TcpStream::connect(&target.addr).await?,
        Some(ip) => connect_from(ip, &target.addr).await?,
    };
    tcp.set_nodelay(true)?;
    if let Some(bytes) = config.recv_buffer_bytes {
        socket2::SockRef::from(&tcp).set_recv_buffer_size(bytes)?;
    }
    let transport = match tls {
        Some((client_config, server_name)) => Transport::Tls(Box::new(
            TlsConnector::from(Arc::clone(&client_config))
                .connect(server_name, tcp)
                .await
                .map_err(TlsError::Handshake)?,
        )),
        None => Transport::Plain(tcp),
    };
    let mut stream = BufReader::new(transport);
    let key = new_key()?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n",
        target.path, target.host_header
    );
    let conn = stream.get_mut();
    conn.write_all(request.as_bytes()).await?;
    // A TLS stream holds written bytes in its session until flushed.
    conn.flush().await?;

    let mut head = Vec::new();
    loop {
        let room = MAX_RESPONSE_HEAD_BYTES.saturating_sub(head.len()) as u64;
        if room == 0 {
            return Err(NetError::Handshake("response head too large".to_owned()));
        }
        let n = (&mut stream)
            .take(room)
            .read_until(b'\n', &mut head)
            .await?;
        if n == 0 {
            return Err(NetError::Handshake(
                "connection closed during the handshake".to_owned(),
            ));
        }
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    check_response(&head, &key)?;
    Ok(stream)
}

fn new_key() -> Result<String, NetError> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)
        .map_err(|e| NetError::Handshake(format!("no randomness for the key: {e}")))?;
    Ok(BASE64.encode(nonce))
}

fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Checks the status line and the upgrade headers of the server's response.
fn check_response(head: &[u8], key: &str) -> Result<(), NetError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| NetError::Handshake("response head is not UTF-8".to_owned()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    if status_line.split_whitespace().nth(1) != Some("101") {
        return Err(NetError::Handshake(format!(
            "server answered {status_line:?}"
        )));
    }
    let (mut upgrade, mut connection, mut accept) = (false, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= value.eq_ignore_ascii_case("websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept = Some(value);
        }
    }
    if !upgrade || !connection {
        return Err(NetError::Handshake("missing upgrade headers".to_owned()));
    }
    if accept != Some(accept_for(key).as_str()) {
        return Err(NetError::Handshake("wrong Sec-WebSocket-Accept".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let t = Target::parse("ws://127.0.0.1:9000/ws").ok();
        assert_eq!(
            t,
            Some(Target {
                tls: false,
                host: "127.0.0.1".into(),
                addr: "127.0.0.1:9000".into(),
                host_header: "127.0.0.1:9000".into(),
                path: "/ws".into()
            })
        );
        let t = Target::parse("ws://example.com").ok();
        assert_eq!(
            t.map(|t| (t.addr, t.path)),
            Some(("example.com:80".into(), "/".into()))
        );
        let t = Target::parse("ws://[::1]:81?x=1#frag").ok();
        assert_eq!(
            t.map(|t| (t.addr, t.path)),
            Some(("[::1]:81".into(), "/?x=1".into()))
        );
        let t = Target::parse("wss://example.com/ws").ok();
        assert_eq!(
            t.map(|t| (t.tls, t.host, t.addr)),
            Some((true, "example.com".into(), "example.com:443".into()))
        );
        let t = Target::parse("wss://[::1]:8443/").ok();
        assert_eq!(t.map(|t| t.host), Some("::1".into()));
        for bad in [
            "https://a/",
            "http://a/",
            "ws://",
            "ws://:80/",
            "ws://a:99999/",
            "ws://a/ b",
            "ws://a/\r\nX: y",
            "ws://u@a/",
            "ws://[::1/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accept_matches_the_rfc_example() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn response_checks() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_response(ok, key).is_ok());
        let not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert!(check_response(not_found, key).is_err());
        let wrong = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n";
        assert!(check_response(wrong, key).is_err());
    }

    #[test]
    fn frames_encode() {
        assert_eq!(
            encode_frame(true, 2, b"hi", None),
            vec![0x82, 2, b'h', b'i']
        );
        let masked = encode_frame(false, 1, b"ab", Some([1, 2, 3, 4]));
        assert_eq!(masked, vec![0x01, 0x82, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2]);
        assert_eq!(
            &encode_frame(true, 2, &[0; 300], None)[..4],
            &[0x82, 126, 1, 44]
        );
        assert_eq!(encode_frame(true, 2, &[0; 70_000], None)[1], 127);
    }
}
