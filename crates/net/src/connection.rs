//! One accepted WebSocket: the reader half ([`Connection`]) and the handle to its writer ([`Outbox`]).
//!
//! The reader runs inside the handler's task (each `recv` call drives it); the writer is a
//! spawned task (`writer`) that alone touches the socket's write half. Everything the
//! reader must send (pongs, close replies, close frames for errors) is handed to the writer
//! through a shared state block, so a slow peer never blocks the reader and a chatty peer never blocks
//! the game.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::OpCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::assemble::{Assembler, InFrame, Incoming};
use crate::close;
use crate::config::NetConfig;
use crate::error::{NetError, SendError};
use crate::inbound::FrameReader;
use crate::metric;
use crate::writer;

/// How long, after a close starts, we keep waiting for the peer's close reply, as a duration.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Most pongs waiting for the writer at once, in frames. Beyond it the oldest is dropped:
/// RFC 6455 §5.5.3 lets a server answer only the newest of several pings, and the cap keeps a
/// ping flood from growing the queue, while a short burst of pings still gets every answer.
const MAX_PENDING_PONGS: usize = 16;

/// A complete message received from the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A binary message (the only kind a game client sends).
    Binary(Bytes),
    /// A text message; only delivered when `allow_text` is set.
    Text(String),
}

/// Read half of the socket, boxed so [`Connection`] need not be generic over the transport.
pub(crate) type BoxRead = Box<dyn AsyncRead + Send + Unpin>;

/// A read in progress, kept across `recv` calls so cancelling `recv` never loses a half-read frame.
pub(crate) type PendingRead =
    Pin<Box<dyn Future<Output = (Box<Reader>, Result<Option<Message>, NetError>)> + Send>>;

/// Starts serving an upgraded stream: spawns its writer and returns the reader plus the writer's handle.
///
/// `prefix` holds bytes already read from `stream` past the upgrade request (a client may send
/// its first frames without waiting for the 101); they are read first.
pub(crate) fn start<S>(
    stream: S,
    prefix: &[u8],
    peer: SocketAddr,
    config: &NetConfig,
) -> (Connection, JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (read, write) = tokio::io::split(stream);
    // Pings and closes are answered by us (through the writer), so they count towards idle and
    // are validated by our rules; a frame over `max_message_bytes` is refused from its header.
    let frames = FrameReader::new(Box::new(read) as BoxRead, prefix, config.max_message_bytes);

    let shared = Arc::new(Shared::new(config.reliable_queue_len));
    let (handoff_tx, handoff_rx) = oneshot::channel();
    let floor = Duration::from_millis(1);
    let writer = tokio::spawn(writer::run(
        Arc::clone(&shared),
        write,
        handoff_rx,
        config.heartbeat_interval.max(floor),
        config.idle_timeout.max(floor),
    ));
    let reader = Reader {
        frames,
        writer_done: shared.flags.subscribe(),
        shared: Arc::clone(&shared),
        asm: Assembler::new(config.max_message_bytes, config.allow_text),
        idle: config.idle_timeout,
        last_rx: Instant::now(),
        done: false,
    };
    let conn = Connection {
        peer,
        outbox: Outbox { shared },
        read: Mutex::new(ReadState::Idle(Box::new(reader))),
        handoff: Some(handoff_tx),
    };
    (conn, writer)
}

/// An upgraded WebSocket connection, owned by the handler's task.
pub struct Connection {
    peer: SocketAddr,
    outbox: Outbox,
    // Only ever touched through `&mut self` (`get_mut`, no locking); the Mutex is there so that
    // `Connection` is `Sync` although the boxed read future is only `Send`.
    read: Mutex<ReadState>,
    handoff: Option<oneshot::Sender<Option<PendingRead>>>,
}

enum ReadState {
    Idle(Box<Reader>),
    Reading(PendingRead),
    Done,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("closed", &self.outbox.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The peer's TCP address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// A cheap, cloneable handle to this connection's writer.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// Next complete message. Ok(None) on a clean close (peer's close frame, or our own close completed). Errors (protocol violation, too big, text, idle, io) have ALREADY caused the proper close frame to be sent; the caller just returns.
    ///
    /// Cancel-safe: a read interrupted by `select!` resumes where it stopped on the next call.
    pub async fn recv(&mut self) -> Result<Option<Message>, NetError> {
        let state = self.read.get_mut().unwrap_or_else(PoisonError::into_inner);
        *state = match std::mem::replace(state, ReadState::Done) {
            ReadState::Idle(reader) => ReadState::Reading(Box::pin(reader.next())),
            other => other,
        };
        let ReadState::Reading(pending) = state else {
            return Ok(None);
        };
        let (reader, result) = pending.await;
        *state = if reader.done {
            // Dropping the reader releases our half of the socket as early as possible.
            ReadState::Done
        } else {
            ReadState::Idle(reader)
        };
        result
    }

    /// Same as [`Outbox::close`].
    pub fn close(&self, code: u16, reason: &str) {
        self.outbox.close(code, reason);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.outbox.close(close::INTERNAL_ERROR, "internal error");
        } else {
            self.outbox.close(close::NORMAL, "");
        }
        // The writer waits for the peer's close reply; with the handler gone, only the writer
        // can still read it, so the reader (or its unfinished read) moves there.
        let state = self.read.get_mut().unwrap_or_else(PoisonError::into_inner);
        let pending: Option<PendingRead> = match std::mem::replace(state, ReadState::Done) {
            ReadState::Idle(reader) => Some(Box::pin(reader.next())),
            ReadState::Reading(pending) => Some(pending),
            ReadState::Done => None,
        };
        if let Some(tx) = self.handoff.take() {
            // The writer may already be gone (socket failed); then there is nobody to hand to.
            let _ = tx.send(pending);
        }
    }
}

/// Cloneable handle to a connection's writer; `Arc` inside, `Send + Sync`.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("closed", &self.is_closed())
            .field("bytes_sent", &self.bytes_sent())
            .finish()
    }
}

impl Outbox {
    /// Latest-wins state slot: stores `frame`, replacing an unsent older one (returns true if it replaced one, and counts it). Never blocks, never awaits.
    pub fn send_state(&self, frame: Bytes) -> bool {
        self.shared.send_state(frame)
    }

    /// Small bounded reliable queue (welcome, events, errors); never blocks. On overflow the connection is closed with 1008 "reliable queue overflow" and Err(SendError::Overflow) returned; Err(SendError::Closed) once closed.
    pub fn send_reliable(&self, msg: Bytes) -> Result<(), SendError> {
        self.shared.send_reliable(Outgoing::Binary(msg))
    }

    /// Like [`send_reliable`](Self::send_reliable), but sent as a text message; it shares the
    /// same queue, capacity and order. The game speaks binary only; this serves text peers
    /// such as the conformance echo example.
    pub fn send_reliable_text(&self, text: String) -> Result<(), SendError> {
        self.shared
            .send_reliable(Outgoing::Text(Bytes::from(text.into_bytes())))
    }

    /// Sends a close frame with code and reason (truncated to fit 123 bytes on a char boundary) after whatever reliable messages are already queued, then ends the connection. Idempotent: the first close wins.
    ///
    /// A code that may not appear on the wire (such as 1005 or 999) is replaced by 1011.
    pub fn close(&self, code: u16, reason: &str) {
        self.shared.close(code, reason);
    }

    /// Whether a close has started (by us or the peer) or the socket failed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Bytes of message payload (binary and text, not control frames) written so far (for metrics/tests).
    pub fn bytes_sent(&self) -> u64 {
        self.shared.bytes_sent.load(Ordering::Relaxed)
    }
}

/// A close frame waiting for the writer; `code: None` is an empty close (echoing an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingClose {
    pub(crate) code: Option<u16>,
    pub(crate) reason: String,
}

#[derive(Debug)]
enum CloseState {
    Open,
    Pending(PendingClose),
    Sent,
    /// The socket failed or ended; nothing more can be written.
    Aborted,
}

/// A queued frame for the writer; pongs and reliable messages share one queue so they go out
/// in the order they were queued (a pong for a ping that arrived before a message was echoed
/// must precede the echo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// A pong echoing a ping's payload.
    Pong(Bytes),
    /// A reliable binary message.
    Binary(Bytes),
    /// A reliable text message; the bytes came from a `String`, so they are valid UTF-8.
    Text(Bytes),
}

/// What the writer takes from [`Shared`] on each wake.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Pongs and reliable messages, in queue order.
    pub(crate) reliable: Vec<Outgoing>,
    pub(crate) state: Option<Bytes>,
    pub(crate) close: Option<PendingClose>,
    pub(crate) aborted: bool,
}

#[derive(Debug)]
struct Queues {
    /// Pongs and reliable messages in the order they were queued.
    reliable: VecDeque<Outgoing>,
    /// How many entries of `reliable` are pongs, in frames.
    pongs: usize,
    state: Option<Bytes>,
    close: CloseState,
    close_started: Option<Instant>,
}

/// Bit of [`Shared::flags`]: a close has started or the socket failed.
pub(crate) const CLOSING: u8 = 1;
/// Bit of [`Shared::flags`]: nothing more will come from the peer (its close frame, EOF, or a
/// read error).
pub(crate) const PEER_FINISHED: u8 = 2;
/// Bit of [`Shared::flags`]: the writer has finished with the socket.
pub(crate) const WRITER_DONE: u8 = 4;

/// State shared by the reader, the writer and every [`Outbox`].
#[derive(Debug)]
pub(crate) struct Shared {
    queues: Mutex<Queues>,
    reliable_cap: usize,
    /// Wakes the writer; `notify_one` keeps a permit, so a wake is never lost.
    pub(crate) wake: Notify,
    closed: AtomicBool,
    pub(crate) bytes_sent: AtomicU64,
    /// Milestones of the connection, as bits ([`CLOSING`], [`PEER_FINISHED`], [`WRITER_DONE`])
    /// that are only ever raised: one channel instead of three, because each tokio watch channel
    /// costs about 400 bytes (nine `Notify`s) per connection.
    pub(crate) flags: watch::Sender<u8>,
}

impl Shared {
    /// `reliable_cap` is the reliable queue capacity, in messages.
    pub(crate) fn new(reliable_cap: usize) -> Self {
        Self {
            queues: Mutex::new(Queues {
                // Grown on demand: preallocated, 64 slots were 2.5 KiB per idle connection.
                reliable: VecDeque::new(),
                pongs: 0,
                state: None,
                close: CloseState::Open,
                close_started: None,
            }),
            reliable_cap,
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            bytes_sent: AtomicU64::new(0),
            flags: watch::Sender::new(0),
        }
    }

    /// Raises `flag` (a bit of [`Shared::flags`]), waking whoever waits for it.
    pub(crate) fn raise(&self, flag: u8) {
        self.flags.send_modify(|flags| *flags |= flag);
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // No code panics while holding this lock, and the data stays consistent even if one did.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send_state(&self, frame: Bytes) -> bool {
        let replaced = {
            let mut q = self.lock();
            if !matches!(q.close, CloseState::Open) {
                return false;
            }
            q.state.replace(frame).is_some()
        };
        if replaced {
            metrics::counter!(metric::NET_STATE_FRAMES_REPLACED.name).increment(1);
        }
        self.wake.notify_one();
        replaced
    }

    fn send_reliable(&self, msg: Outgoing) -> Result<(), SendError> {
        {
            let mut q = self.lock();
            if !matches!(q.close, CloseState::Open) {
                return Err(SendError::Closed);
            }
            // Pongs do not count: the capacity is the application's, in messages.
            if q.reliable.len() - q.pongs < self.reliable_cap {
                q.reliable.push_back(msg);
                drop(q);
                self.wake.notify_one();
                return Ok(());
            }
        }
        self.close(close::POLICY_VIOLATION, "reliable queue overflow");
        Err(SendError::Overflow)
    }

    pub(crate) fn close(&self, code: u16, reason: &str) -> bool {
        let code = if close::is_valid_code(code) {
            code
        } else {
            tracing::warn!(code, "close code not allowed on the wire; sending 1011");
            close::INTERNAL_ERROR
        };
        self.start_close(PendingClose {
            code: Some(code),
            reason: close::truncate_reason(reason).to_owned(),
        })
    }

    /// Answers the peer's close frame with the same code and reason.
    pub(crate) fn echo_close(&self, received: Option<(u16, String)>) -> bool {
        let (code, reason) = match received {
            Some((code, reason)) => (Some(code), reason),
            None => (None, String::new()),
        };
        self.start_close(PendingClose { code, reason })
    }

    fn start_close(&self, close: PendingClose) -> bool {
        let label = close::code_label(close.code);
        {
            let mut q = self.lock();
            if !matches!(q.close, CloseState::Open) {
                return false;
            }
            q.close = CloseState::Pending(close);
            q.close_started = Some(Instant::now());
        }
        self.closed.store(true, Ordering::Release);
        self.raise(CLOSING);
        metrics::counter!(metric::NET_DISCONNECTS.name, "code" => label).increment(1);
        self.wake.notify_one();
        true
    }

    /// The socket is unusable: stop without a close frame, unless one is already waiting.
    pub(crate) fn abort(&self) {
        let abrupt = {
            let mut q = self.lock();
            let open = matches!(q.close, CloseState::Open);
            if open {
                q.close = CloseState::Aborted;
                q.close_started = Some(Instant::now());
            }
            open
        };
        if abrupt {
            // No close frame either way: a dropped link, a reset, a peer that vanished.
            metrics::counter!(metric::NET_DISCONNECTS.name, "code" => close::ABRUPT_LABEL)
                .increment(1);
        }
        self.closed.store(true, Ordering::Release);
        self.raise(CLOSING);
        self.wake.notify_one();
    }

    /// Queues a pong behind whatever is already queued; past [`MAX_PENDING_PONGS`] unsent
    /// pongs the oldest is dropped.
    fn queue_pong(&self, payload: Bytes) {
        {
            let mut q = self.lock();
            if !matches!(q.close, CloseState::Open) {
                return;
            }
            if q.pongs >= MAX_PENDING_PONGS {
                if let Some(oldest) = q
                    .reliable
                    .iter()
                    .position(|o| matches!(o, Outgoing::Pong(_)))
                {
                    q.reliable.remove(oldest);
                    q.pongs -= 1;
                }
            }
            q.reliable.push_back(Outgoing::Pong(payload));
            q.pongs += 1;
        }
        self.wake.notify_one();
    }

    /// Moves everything due into `batch`: pongs and reliable messages, state, and a pending close.
    pub(crate) fn take_batch(&self, batch: &mut Batch) {
        let mut q = self.lock();
        batch.reliable.extend(q.reliable.drain(..));
        q.pongs = 0;
        match std::mem::replace(&mut q.close, CloseState::Open) {
            CloseState::Open => {
                batch.state = q.state.take();
            }
            CloseState::Pending(close) => {
                // After our close nothing else may be sent; unsent state is stale anyway.
                q.state = None;
                batch.close = Some(close);
                q.close = CloseState::Sent;
            }
            other @ (CloseState::Sent | CloseState::Aborted) => {
                batch.aborted = true;
                q.close = other;
            }
        }
    }

    /// When we stop waiting for the peer's close reply, if a close has started.
    pub(crate) fn close_deadline(&self) -> Option<Instant> {
        self.lock().close_started.map(|t| t + CLOSE_GRACE)
    }
}

/// The reading side of a connection: frames in, validated messages out.
pub(crate) struct Reader {
    frames: FrameReader<BoxRead>,
    shared: Arc<Shared>,
    /// [`Shared::flags`], watched for [`WRITER_DONE`].
    writer_done: watch::Receiver<u8>,
    asm: Assembler,
    idle: Duration,
    last_rx: Instant,
    /// Nothing more will be read: the peer closed, the socket ended, or the writer finished.
    pub(crate) done: bool,
}

enum ReadOutcome {
    Frame(InFrame),
    Failed(NetError),
    Timeout,
    WriterDone,
}

impl Reader {
    /// Reads the next message, returning the reader with it so the future can own it.
    pub(crate) async fn next(
        mut self: Box<Self>,
    ) -> (Box<Self>, Result<Option<Message>, NetError>) {
        let result = self.next_message().await;
        (self, result)
    }

    async fn next_message(&mut self) -> Result<Option<Message>, NetError> {
        loop {
            if self.done {
                return Ok(None);
            }
            // Once a close has started we only wait, briefly, for the peer's close reply.
            let closing = self.shared.close_deadline();
            // Checked up front because the read below wins every race it is ready for: a peer
            // flooding us after our close must not extend the wait.
            let expired = closing.is_some_and(|deadline| Instant::now() >= deadline);
            if expired || *self.writer_done.borrow() & WRITER_DONE != 0 {
                return Ok(self.finish());
            }
            let deadline = closing.unwrap_or(self.last_rx + self.idle);
            let frame = match self.read_one(deadline).await {
                ReadOutcome::Frame(frame) => frame,
                ReadOutcome::WriterDone => return Ok(self.finish()),
                ReadOutcome::Timeout if closing.is_some() => return Ok(self.finish()),
                ReadOutcome::Timeout => return Err(self.fail(NetError::IdleTimeout)),
                ReadOutcome::Failed(e) if closing.is_some() => {
                    tracing::debug!(error = %e, "read error while closing");
                    return Ok(self.finish());
                }
                ReadOutcome::Failed(e) => return Err(self.fail(e)),
            };
            self.last_rx = Instant::now();
            if closing.is_some() {
                // After our close frame the peer's data is ignored (RFC 6455 §5.5.1).
                if frame.opcode == OpCode::Close {
                    return Ok(self.finish());
                }
                continue;
            }
            match self.asm.push(frame) {
                Ok(None) | Ok(Some(Incoming::Pong(_))) => {}
                Ok(Some(Incoming::Message(msg))) => return Ok(Some(msg)),
                Ok(Some(Incoming::Ping(payload))) => self.shared.queue_pong(payload),
                Ok(Some(Incoming::Close(received))) => {
                    self.shared.echo_close(received);
                    return Ok(self.finish());
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Nothing more will come from the peer; lets the writer stop waiting for it.
    fn finish(&mut self) -> Option<Message> {
        self.done = true;
        self.shared.raise(PEER_FINISHED);
        None
    }

    /// Sends the close frame `err` calls for (or gives up on the socket), then returns `err`.
    fn fail(&mut self, err: NetError) -> NetError {
        match err.close_code() {
            Some(code) => {
                tracing::debug!(error = %err, code, "closing connection");
                self.shared.close(code, &err.to_string());
                // Failing the connection (RFC 6455 §7.1.7): nothing more is read, so the writer
                // closes TCP right after our close frame instead of waiting for a reply that a
                // peer breaking the protocol may never send (§7.1.1: the server closes first).
                self.finish();
            }
            None => {
                tracing::debug!(error = %err, "connection lost");
                self.finish();
                self.shared.abort();
            }
        }
        err
    }

    async fn read_one(&mut self, deadline: Instant) -> ReadOutcome {
        let Self {
            frames,
            writer_done,
            ..
        } = self;
        tokio::select! {
            biased;
            read = frames.read_frame() => match read {
                Ok(frame) => ReadOutcome::Frame(frame),
                Err(e) => ReadOutcome::Failed(e),
            },
            _ = writer_done.wait_for(|f| f & WRITER_DONE != 0) => ReadOutcome::WriterDone,
            () = tokio::time::sleep_until(deadline) => ReadOutcome::Timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_slot_is_latest_wins() {
        let s = Shared::new(4);
        assert!(!s.send_state(Bytes::from_static(b"1")));
        assert!(s.send_state(Bytes::from_static(b"2")));
        assert!(s.send_state(Bytes::from_static(b"3")));
        let mut b = Batch::default();
        s.take_batch(&mut b);
        assert_eq!(b.state.as_deref(), Some(&b"3"[..]));
        assert!(!s.send_state(Bytes::from_static(b"4")));
    }

    #[test]
    fn reliable_overflow_closes_with_1008_after_queued_messages() {
        let s = Shared::new(2);
        let msg = |b: &'static [u8]| Outgoing::Binary(Bytes::from_static(b));
        assert_eq!(s.send_reliable(msg(b"a")), Ok(()));
        assert_eq!(s.send_reliable(msg(b"b")), Ok(()));
        assert_eq!(s.send_reliable(msg(b"c")), Err(SendError::Overflow));
        assert_eq!(s.send_reliable(msg(b"d")), Err(SendError::Closed));
        assert!(s.closed.load(Ordering::Acquire));
        let mut b = Batch::default();
        s.take_batch(&mut b);
        assert_eq!(b.reliable.len(), 2);
        assert_eq!(
            b.close,
            Some(PendingClose {
                code: Some(1008),
                reason: "reliable queue overflow".to_owned()
            })
        );
        assert!(b.state.is_none());
    }

    #[test]
    fn first_close_wins_and_bad_codes_become_1011() {
        let s = Shared::new(1);
        assert!(s.close(1005, "nope"));
        assert!(!s.close(1000, "late"));
        let mut b = Batch::default();
        s.take_batch(&mut b);
        assert_eq!(b.close.map(|c| c.code), Some(Some(1011)));
        let mut b = Batch::default();
        s.take_batch(&mut b);
        assert!(b.aborted);
    }

    #[test]
    fn pongs_keep_their_place_and_only_the_newest_are_kept() {
        let s = Shared::new(1);
        s.queue_pong(Bytes::from_static(b"p0"));
        assert_eq!(
            s.send_reliable(Outgoing::Binary(Bytes::from_static(b"m"))),
            Ok(())
        );
        for i in 1..=MAX_PENDING_PONGS {
            s.queue_pong(Bytes::from(format!("p{i}")));
        }
        // Pongs do not use the message capacity of 1.
        assert_eq!(
            s.send_reliable(Outgoing::Text(Bytes::from_static(b"t"))),
            Err(SendError::Overflow)
        );
        let mut b = Batch::default();
        s.take_batch(&mut b);
        // p0 was dropped for p16; the message stays where it was queued.
        let mut want = vec![Outgoing::Binary(Bytes::from_static(b"m"))];
        want.extend((1..=MAX_PENDING_PONGS).map(|i| Outgoing::Pong(Bytes::from(format!("p{i}")))));
        assert_eq!(b.reliable, want);
    }

    #[test]
    fn outbox_and_connection_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Outbox>();
        check::<Connection>();
    }
}
