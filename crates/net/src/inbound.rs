//! Reading a client's frames off the socket without a standing read buffer.
//!
//! fastwebsockets' reader allocates an 8 KiB buffer per connection up front and keeps it for the
//! connection's life; with thousands of idle connections those buffers were most of the server's
//! memory. Here each poll reads into a chunk on the stack, and only bytes that did arrive are kept
//! on the heap, for as long as they form an incomplete frame: an idle connection holds no read
//! buffer at all. The header rules (and so the close codes) are those fastwebsockets applied.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use fastwebsockets::OpCode;
use tokio::io::{AsyncRead, ReadBuf};

use crate::assemble::InFrame;
use crate::error::NetError;

/// Most bytes read from the socket in one poll, in bytes; the chunk lives on the stack only
/// while the poll runs, so it costs nothing between reads.
const READ_CHUNK: usize = 8 * 1024;

/// Longest frame header a client sends: 2 bytes, an 8-byte length and a 4-byte mask, in bytes.
const MAX_HEADER: usize = 14;

/// Frames in from a client, with a buffer only while a frame is incomplete.
pub(crate) struct FrameReader<R> {
    io: R,
    /// Bytes read but not yet returned as frames; unallocated whenever that is nothing.
    buf: BytesMut,
    /// Largest payload accepted in one frame, in bytes.
    max_payload: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `io`, starting with `prefix` (bytes already read from it, such as those
    /// the HTTP server buffered past the upgrade request); `max_payload` is in bytes.
    pub(crate) fn new(io: R, prefix: &[u8], max_payload: usize) -> Self {
        Self {
            io,
            buf: BytesMut::from(prefix),
            max_payload,
        }
    }

    /// The next whole frame, unmasked. Cancel-safe: bytes are only taken off the socket inside
    /// a poll that keeps them, so dropping the future between polls loses nothing.
    pub(crate) async fn read_frame(&mut self) -> Result<InFrame, NetError> {
        loop {
            if let Some(frame) = parse_frame(&mut self.buf, self.max_payload)? {
                if self.buf.is_empty() {
                    // Lets the allocation go with the frame's payload instead of keeping it.
                    self.buf = BytesMut::new();
                }
                return Ok(frame);
            }
            let read =
                std::future::poll_fn(|cx| poll_chunk(&mut self.io, &mut self.buf, cx)).await?;
            if read == 0 {
                return Err(NetError::ConnectionLost);
            }
        }
    }

    /// Bytes of heap the reader holds for incomplete frames (0 when idle), in bytes.
    #[cfg(test)]
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Reads what the socket has (at most [`READ_CHUNK`]) and appends it to `buf`.
fn poll_chunk<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
    let mut read = ReadBuf::uninit(&mut chunk);
    ready!(Pin::new(io).poll_read(cx, &mut read))?;
    buf.extend_from_slice(read.filled());
    Poll::Ready(Ok(read.filled().len()))
}

/// Takes one whole client frame off the front of `buf`, `Ok(None)` if more bytes are needed.
///
/// Checks in fastwebsockets' order: reserved bits, opcode, fragmented control frame, ping
/// size, payload size (over `max_payload` bytes is [`NetError::MessageTooBig`], refused before
/// the payload arrives), then the mask and a final text frame's UTF-8.
pub(crate) fn parse_frame(
    buf: &mut BytesMut,
    max_payload: usize,
) -> Result<Option<InFrame>, NetError> {
    let [b0, b1, ..] = buf[..] else {
        return Ok(None);
    };
    if b0 & 0b0111_0000 != 0 {
        return Err(NetError::Protocol("reserved bits set"));
    }
    let opcode = match b0 & 0x0f {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        _ => return Err(NetError::Protocol("unknown opcode")),
    };
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    let extra = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let header = 2 + extra + if masked { 4 } else { 0 };
    if buf.len() < header {
        return Ok(None);
    }
    let payload_len = match extra {
        0 => u64::from(b1 & 0x7f),
        2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
        _ => {
            let mut len = [0u8; 8];
            len.copy_from_slice(&buf[2..10]);
            u64::from_be_bytes(len)
        }
    };
    let is_control = matches!(opcode, OpCode::Close | OpCode::Ping | OpCode::Pong);
    if is_control && !fin {
        return Err(NetError::Protocol("fragmented control frame"));
    }
    if opcode == OpCode::Ping && payload_len > 125 {
        return Err(NetError::Protocol("control frame payload over 125 bytes"));
    }
    let payload_len = match usize::try_from(payload_len) {
        Ok(len) if len <= max_payload => len,
        _ => return Err(NetError::MessageTooBig(max_payload)),
    };
    let total = header + payload_len;
    if buf.len() < total {
        // One allocation for the rest of the frame (and the next header, saving a read);
        // bounded because the size was checked above.
        buf.reserve(total + MAX_HEADER - buf.len());
        return Ok(None);
    }
    if !masked {
        return Err(NetError::Protocol("unmasked frame from client"));
    }
    let mask = [
        buf[header - 4],
        buf[header - 3],
        buf[header - 2],
        buf[header - 1],
    ];
    let mut payload = buf.split_to(total);
    payload.advance(header);
    fastwebsockets::unmask(&mut payload, mask);
    if opcode == OpCode::Text && fin && std::str::from_utf8(&payload).is_err() {
        return Err(NetError::InvalidUtf8);
    }
    Ok(Some(InFrame {
        fin,
        opcode,
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A client frame: header, mask, masked payload.
    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    const MASK: [u8; 4] = [1, 2, 3, 4];

    #[test]
    fn parses_masked_frames_of_every_length_form_byte_by_byte() {
        for len in [0, 5, 125, 126, 300, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let wire = client_frame(0x82, &payload, MASK);
            let mut buf = BytesMut::new();
            for (i, byte) in wire.iter().enumerate() {
                buf.extend_from_slice(&[*byte]);
                let got = parse_frame(&mut buf, 100_000).map_err(|e| e.to_string());
                if i + 1 < wire.len() {
                    assert!(matches!(got, Ok(None)), "len {len}, byte {i}");
                } else {
                    let Ok(Some(frame)) = got else {
                        panic!("len {len}: no frame at the last byte");
                    };
                    assert!(frame.fin);
                    assert_eq!(frame.opcode, OpCode::Binary);
                    assert_eq!(&frame.payload[..], &payload[..]);
                }
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn leaves_the_next_frame_in_the_buffer() {
        let mut wire = client_frame(0x89, b"hi", MASK);
        wire.extend(client_frame(0x02, b"part", MASK));
        let mut buf = BytesMut::from(&wire[..]);
        let ping = parse_frame(&mut buf, 10).ok().flatten();
        assert!(matches!(
            ping,
            Some(InFrame {
                opcode: OpCode::Ping,
                ..
            })
        ));
        let part = parse_frame(&mut buf, 10).ok().flatten();
        let Some(part) = part else {
            panic!("no second frame")
        };
        assert!(!part.fin);
        assert_eq!(&part.payload[..], b"part");
        assert!(matches!(parse_frame(&mut buf, 10), Ok(None)));
    }

    #[test]
    fn refusals_match_the_old_close_codes() {
        let code = |wire: Vec<u8>, max: usize| {
            let mut buf = BytesMut::from(&wire[..]);
            parse_frame(&mut buf, max)
                .err()
                .and_then(|e| e.close_code())
        };
        assert_eq!(code(client_frame(0xc2, b"x", MASK), 10), Some(1002), "rsv1");
        assert_eq!(
            code(client_frame(0x83, b"x", MASK), 10),
            Some(1002),
            "opcode 3"
        );
        assert_eq!(
            code(client_frame(0x09, b"", MASK), 10),
            Some(1002),
            "fragmented ping"
        );
        assert_eq!(code(client_frame(0x89, &[0; 126], MASK), 1000), Some(1002));
        assert_eq!(code(client_frame(0x82, &[0; 11], MASK), 10), Some(1009));
        assert_eq!(code(client_frame(0x81, &[0xff], MASK), 10), Some(1007));
        // A fragment of text may end inside a code point; only the assembler can judge it.
        assert_eq!(code(client_frame(0x01, &[0xe2, 0x82], MASK), 10), None);
        let mut unmasked = client_frame(0x82, b"abc", MASK);
        unmasked[1] &= 0x7f;
        unmasked.drain(2..6);
        assert_eq!(code(unmasked, 10), Some(1002));
        // A huge length claim is refused from the header alone, before any payload.
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend_from_slice(&MASK);
        assert_eq!(code(huge, 16 * 1024), Some(1009));
        // Exactly the limit is fine.
        let mut buf = BytesMut::from(&client_frame(0x82, &[7; 10], MASK)[..]);
        assert!(matches!(parse_frame(&mut buf, 10), Ok(Some(_))));
    }

    #[tokio::test]
    async fn an_idle_reader_holds_no_buffer() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(server, &[], 1024);
        assert_eq!(reader.buffered_capacity(), 0);
        let wire = client_frame(0x82, b"hello", MASK);
        tokio::io::AsyncWriteExt::write_all(&mut client, &wire)
            .await
            .ok();
        let frame = reader.read_frame().await.map_err(|e| e.to_string());
        assert_eq!(
            frame.map(|f| f.payload.freeze()),
            Ok(Bytes::from_static(b"hello"))
        );
        assert_eq!(reader.buffered_capacity(), 0);
        drop(client);
        assert!(matches!(
            reader.read_frame().await,
            Err(NetError::ConnectionLost)
        ));
    }

    #[tokio::test]
    async fn starts_with_the_prefix() {
        let (_client, server) = tokio::io::duplex(64);
        let wire = client_frame(0x82, b"early", MASK);
        let mut reader = FrameReader::new(server, &wire, 1024);
        let frame = reader.read_frame().await.map_err(|e| e.to_string());
        assert_eq!(
            frame.map(|f| f.payload.freeze()),
            Ok(Bytes::from_static(b"early"))
        );
    }
}
