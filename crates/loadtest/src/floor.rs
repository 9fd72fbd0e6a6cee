//! The write floor: the CPU cost of one plain `write()` of a frame-sized buffer to a loopback
//! TCP socket. A server cannot send a state frame for less, so `benches/server.sh` states the
//! server's CPU cost per player-tick as a multiple of it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::LoadtestError;

/// Writes between two clock checks.
const BATCH: u64 = 1024;

/// What [`write_floor`] measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WriteFloor {
    /// Bytes per write, bytes.
    pub bytes: usize,
    /// Writes made, writes.
    pub writes: u64,
    /// CPU time of the writing thread per write, ns.
    pub cpu_ns_per_write: f64,
    /// Wall time per write, ns.
    pub wall_ns_per_write: f64,
    /// Where the CPU time came from: `schedstat` (the thread's own CPU clock in
    /// /proc/thread-self/schedstat) or `wall` (none available: wall time instead).
    pub cpu_source: &'static str,
}

/// The calling thread's CPU time so far, ns (Linux only; `None` elsewhere).
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Writes `bytes`-byte buffers to a loopback TCP socket (Nagle off, as the server's sockets)
/// for about `duration` while another thread drains the other end, and returns the writing
/// thread's cost per write.
pub fn write_floor(bytes: usize, duration: Duration) -> Result<WriteFloor, LoadtestError> {
    if bytes == 0 {
        return Err(LoadtestError::InvalidOption(
            "--write-floor needs at least 1 byte".into(),
        ));
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut out = TcpStream::connect(listener.local_addr()?)?;
    out.set_nodelay(true)?;
    let (mut sink, _) = listener.accept()?;
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while matches!(sink.read(&mut buf), Ok(n) if n > 0) {}
    });
    let frame = vec![0x5au8; bytes];
    // Warm the path (socket buffers, caches) before measuring.
    for _ in 0..BATCH {
        out.write_all(&frame)?;
    }
    let cpu0 = thread_cpu_ns();
    let wall0 = Instant::now();
    let mut writes = 0u64;
    while wall0.elapsed() < duration {
        for _ in 0..BATCH {
            out.write_all(&frame)?;
        }
        writes += BATCH;
    }
    let wall_ns = wall0.elapsed().as_nanos() as f64;
    let cpu = thread_cpu_ns().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    drop(out);
    let _ = drain.join();
    let per = |ns: f64| ns / writes.max(1) as f64;
    Ok(WriteFloor {
        bytes,
        writes,
        cpu_ns_per_write: per(cpu.map_or(wall_ns, |c| c as f64)),
        wall_ns_per_write: per(wall_ns),
        cpu_source: if cpu.is_some() { "schedstat" } else { "wall" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_something() {
        let f = write_floor(100, Duration::from_millis(50)).unwrap();
        assert!(f.writes >= BATCH);
        assert!(f.cpu_ns_per_write > 0.0 && f.wall_ns_per_write > 0.0);
        assert!(write_floor(0, Duration::from_millis(1)).is_err());
    }
}
