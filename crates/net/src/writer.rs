//! The per-connection writer task: the only code that writes to a server socket.
//!
//! Each wake it drains, in order: every queued pong and reliable message (in the order they
//! were queued), the state slot, a heartbeat ping when due, and finally a pending close frame.
//! Its memory is bounded by the reliable queue capacity plus a few pongs and one state frame; a
//! peer that stops reading stalls only this task, and a stalled write is abandoned after
//! `idle_timeout` (or when a close's grace is over).

use std::sync::Arc;
use std::time::Duration;

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocketError, WebSocketWrite};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::assemble::close_payload;
use crate::connection::{Batch, Outgoing, PendingRead, Shared};

/// Upper bound on the final socket shutdown, as a duration.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(200);

/// Runs the writer until the connection's close completes or the socket fails.
///
/// `heartbeat` is the ping period; `stall` is how long one batch may take to write.
pub(crate) async fn run<W>(
    shared: Arc<Shared>,
    write: W,
    handoff: oneshot::Receiver<Option<PendingRead>>,
    heartbeat: Duration,
    stall: Duration,
) where
    W: AsyncWrite + Send + Unpin + 'static,
{
    // Batches are small frames; buffering them turns a wake into one syscall.
    let mut out = BufWriter::new(write);
    let close_sent = {
        let (_, mut ws) =
            fastwebsockets::after_handshake_split(tokio::io::empty(), &mut out, Role::Server);
        write_loop(&shared, &mut ws, heartbeat, stall).await
    };
    if close_sent {
        wait_for_peer(&shared, handoff).await;
    }
    // FIN after the closing handshake: the server closes TCP first (RFC 6455 §7.1.1), which
    // spares it the TIME_WAIT and makes the peer see a clean end.
    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, out.shutdown()).await;
    shared.writer_done.send_replace(true);
}

/// Writes batches until a close frame is written (true) or the socket is abandoned (false).
async fn write_loop<S>(
    shared: &Shared,
    ws: &mut WebSocketWrite<S>,
    heartbeat: Duration,
    stall: Duration,
) -> bool
where
    S: AsyncWrite + Unpin,
{
    let mut closing = shared.closing.subscribe();
    let mut batch = Batch::default();
    let mut next_ping = Instant::now() + heartbeat;
    loop {
        // A deadline rather than an interval in a biased select: a steady stream of state
        // updates must not starve the heartbeat.
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep_until(next_ping) => {}
        }
        let now = Instant::now();
        let ping_due = now >= next_ping;
        if ping_due {
            next_ping = now + heartbeat;
        }
        shared.take_batch(&mut batch);
        if batch.aborted {
            return false;
        }
        let outcome = tokio::select! {
            r = tokio::time::timeout(stall, write_batch(ws, &mut batch, ping_due)) => match r {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("write stalled: peer is not reading".to_owned()),
            },
            () = close_grace_over(shared, &mut closing) => Err("close grace over".to_owned()),
        };
        match outcome {
            Ok(report) => {
                report.record(shared);
                if report.closed {
                    return true;
                }
            }
            Err(why) => {
                tracing::debug!(%why, "abandoning socket");
                batch.reliable.clear();
                shared.abort();
                return false;
            }
        }
    }
}

/// Resolves once a close has started and its grace period has run out.
async fn close_grace_over(shared: &Shared, closing: &mut watch::Receiver<bool>) {
    if closing.wait_for(|c| *c).await.is_err() {
        return std::future::pending().await;
    }
    match shared.close_deadline() {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What one batch put on the wire.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    /// Message payload bytes written (binary and text).
    bytes: u64,
    /// Message frames written.
    frames: u64,
    /// Whether the batch ended with our close frame.
    closed: bool,
}

impl Report {
    fn count(&mut self, len: usize) {
        self.bytes += len as u64;
        self.frames += 1;
    }

    fn record(self, shared: &Shared) {
        if self.frames > 0 {
            shared
                .bytes_sent
                .fetch_add(self.bytes, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!(crate::metric::NET_SENT_BYTES.name).increment(self.bytes);
            metrics::counter!(crate::metric::NET_SENT_FRAMES.name).increment(self.frames);
        }
    }
}

async fn write_batch<S>(
    ws: &mut WebSocketWrite<S>,
    batch: &mut Batch,
    ping_due: bool,
) -> Result<Report, WebSocketError>
where
    S: AsyncWrite + Unpin,
{
    let mut report = Report::default();
    for out in batch.reliable.drain(..) {
        match out {
            Outgoing::Pong(payload) => {
                ws.write_frame(Frame::pong(Payload::Borrowed(&payload)))
                    .await?;
            }
            Outgoing::Binary(msg) => {
                ws.write_frame(Frame::binary(Payload::Borrowed(&msg)))
                    .await?;
                report.count(msg.len());
            }
            Outgoing::Text(msg) => {
                ws.write_frame(Frame::text(Payload::Borrowed(&msg))).await?;
                report.count(msg.len());
            }
        }
    }
    if let Some(state) = batch.state.take() {
        ws.write_frame(Frame::binary(Payload::Borrowed(&state)))
            .await?;
        report.count(state.len());
    }
    if ping_due && batch.close.is_none() {
        ws.write_frame(Frame::new(true, OpCode::Ping, None, Payload::Borrowed(&[])))
            .await?;
    }
    if let Some(close) = batch.close.take() {
        let payload = match close.code {
            Some(code) => close_payload(code, &close.reason),
            None => Vec::new(),
        };
        ws.write_frame(Frame::close_raw(Payload::Owned(payload)))
            .await?;
        report.closed = true;
    }
    ws.flush().await?;
    Ok(report)
}

/// After our close frame, waits (until the close deadline) for the peer's reply.
///
/// If the handler already dropped its [`Connection`](crate::Connection), the reader was handed
/// over and is driven here; otherwise the handler's own `recv` sees the reply and signals it.
async fn wait_for_peer(shared: &Shared, handoff: oneshot::Receiver<Option<PendingRead>>) {
    let Some(deadline) = shared.close_deadline() else {
        return;
    };
    let mut finished = shared.peer_finished.subscribe();
    let drain = async move {
        // `Ok(None)` or a dropped sender: the reader already finished, nothing to wait for.
        if let Ok(Some(mut pending)) = handoff.await {
            loop {
                let (reader, result) = pending.await;
                if reader.done || !matches!(result, Ok(Some(_))) {
                    break;
                }
                pending = Box::pin(reader.next());
            }
        }
    };
    tokio::select! {
        () = drain => {}
        _ = finished.wait_for(|f| *f) => {}
        () = tokio::time::sleep_until(deadline) => {}
    }
}
