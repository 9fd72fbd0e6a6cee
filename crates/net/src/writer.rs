//! The per-connection writer task: the only code that writes to a server socket.
//!
//! Each wake it drains, in order: every queued pong and reliable message (in the order they
//! were queued), the state slot, a heartbeat ping when due, and finally a pending close frame.
//! Its memory is bounded by the reliable queue capacity plus a few pongs and one state frame; a
//! peer that stops reading stalls only this task, and a stalled write is abandoned after
//! `idle_timeout` (or when a close's grace is over).
//!
//! A batch is encoded into one buffer sized to it and written with one `write_all`, so a wake
//! is one syscall; the buffer goes when the batch is written, so an idle connection keeps none
//! (a standing 8 KiB `BufWriter` per connection was most of an idle connection's memory).

use std::sync::Arc;
use std::time::Duration;

use fastwebsockets::OpCode;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::assemble::close_payload;
use crate::connection::{
    Batch, CLOSING, Outgoing, PEER_FINISHED, PendingRead, Shared, WRITER_DONE,
};

/// Upper bound on the final socket shutdown, as a duration.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(200);

/// Runs the writer until the connection's close completes or the socket fails.
///
/// `heartbeat` is the ping period; `stall` is how long one batch may take to write.
pub(crate) async fn run<W>(
    shared: Arc<Shared>,
    mut write: W,
    handoff: oneshot::Receiver<Option<PendingRead>>,
    heartbeat: Duration,
    stall: Duration,
) where
    W: AsyncWrite + Send + Unpin + 'static,
{
    let close_sent = write_loop(&shared, &mut write, heartbeat, stall).await;
    if close_sent {
        wait_for_peer(&shared, handoff).await;
    }
    // FIN after the closing handshake: the server closes TCP first (RFC 6455 §7.1.1), which
    // spares it the TIME_WAIT and makes the peer see a clean end.
    let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, write.shutdown()).await;
    shared.raise(WRITER_DONE);
}

/// Writes batches until a close frame is written (true) or the socket is abandoned (false).
async fn write_loop<S>(shared: &Shared, ws: &mut S, heartbeat: Duration, stall: Duration) -> bool
where
    S: AsyncWrite + Unpin,
{
    let mut closing = shared.flags.subscribe();
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
async fn close_grace_over(shared: &Shared, flags: &mut watch::Receiver<u8>) {
    if flags.wait_for(|f| f & CLOSING != 0).await.is_err() {
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

async fn write_batch<S>(ws: &mut S, batch: &mut Batch, ping_due: bool) -> std::io::Result<Report>
where
    S: AsyncWrite + Unpin,
{
    let mut report = Report::default();
    let close = batch.close.take().map(|close| match close.code {
        Some(code) => close_payload(code, &close.reason),
        None => Vec::new(),
    });
    let sizes = batch.reliable.iter().map(|out| match out {
        Outgoing::Pong(p) | Outgoing::Binary(p) | Outgoing::Text(p) => p.len(),
    });
    let size = sizes
        .chain(batch.state.as_ref().map(|s| s.len()))
        .chain(close.as_ref().map(Vec::len))
        .map(|len| len + MAX_SERVER_HEADER)
        .sum::<usize>()
        + MAX_SERVER_HEADER;
    let mut out = Vec::with_capacity(size);
    for frame in batch.reliable.drain(..) {
        match frame {
            Outgoing::Pong(payload) => encode_frame(&mut out, OpCode::Pong, &payload),
            Outgoing::Binary(msg) => {
                encode_frame(&mut out, OpCode::Binary, &msg);
                report.count(msg.len());
            }
            Outgoing::Text(msg) => {
                encode_frame(&mut out, OpCode::Text, &msg);
                report.count(msg.len());
            }
        }
    }
    if let Some(state) = batch.state.take() {
        encode_frame(&mut out, OpCode::Binary, &state);
        report.count(state.len());
    }
    if ping_due && close.is_none() {
        encode_frame(&mut out, OpCode::Ping, &[]);
    }
    if let Some(payload) = close {
        encode_frame(&mut out, OpCode::Close, &payload);
        report.closed = true;
    }
    ws.write_all(&out).await?;
    ws.flush().await?;
    Ok(report)
}

/// Longest header of a server frame (unmasked): 2 bytes and an 8-byte length, in bytes.
const MAX_SERVER_HEADER: usize = 10;

/// Appends one final, unmasked frame (RFC 6455 §5.2: servers never mask) to `out`.
fn encode_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    out.push(0x80 | opcode as u8);
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// After our close frame, waits (until the close deadline) for the peer's reply.
///
/// If the handler already dropped its [`Connection`](crate::Connection), the reader was handed
/// over and is driven here; otherwise the handler's own `recv` sees the reply and signals it.
async fn wait_for_peer(shared: &Shared, handoff: oneshot::Receiver<Option<PendingRead>>) {
    let Some(deadline) = shared.close_deadline() else {
        return;
    };
    let mut finished = shared.flags.subscribe();
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
        _ = finished.wait_for(|f| f & PEER_FINISHED != 0) => {}
        () = tokio::time::sleep_until(deadline) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_use_the_shortest_length_form() {
        for (len, header) in [(0, 2), (125, 2), (126, 4), (0xffff, 4), (0x1_0000, 10)] {
            let payload = vec![7u8; len];
            let mut out = Vec::new();
            encode_frame(&mut out, OpCode::Binary, &payload);
            assert_eq!(out.len(), header + len, "len {len}");
            assert_eq!(out[0], 0x82);
            assert_eq!(out[1] & 0x80, 0, "a server never masks");
            assert!(out[header..].iter().all(|&b| b == 7));
        }
        let mut out = Vec::new();
        encode_frame(&mut out, OpCode::Close, &[0x03, 0xe8]);
        assert_eq!(out, [0x88, 2, 0x03, 0xe8]);
        let mut out = Vec::new();
        encode_frame(&mut out, OpCode::Ping, &[]);
        assert_eq!(out, [0x89, 0]);
    }
}
