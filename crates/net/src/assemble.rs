//! Frame validation and fragment reassembly shared by the server reader and the clients.
//!
//! fastwebsockets parses frame headers; everything a peer can get wrong above that (masking,
//! control payload sizes, close payloads, fragmentation order, total message size, UTF-8)
//! is checked here, so the server and the clients agree on the rules.

use bytes::{Bytes, BytesMut};
use fastwebsockets::{Frame, OpCode, Payload};

use crate::close;
use crate::connection::Message;
use crate::error::NetError;

/// Largest payload of a control frame (ping, pong, close), in bytes (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// One frame as read off the wire, owning its payload.
#[derive(Debug)]
pub(crate) struct InFrame {
    pub(crate) fin: bool,
    pub(crate) opcode: OpCode,
    pub(crate) payload: BytesMut,
}

impl InFrame {
    /// Takes ownership of a frame, checking its mask bit: clients must mask, servers must not.
    pub(crate) fn take(mut frame: Frame<'_>, expect_masked: bool) -> Result<Self, NetError> {
        // fastwebsockets keeps the mask private; formatting the header is the only way to see
        // whether one was present, and costs a few byte writes.
        let mut head = [0u8; 16];
        frame.fmt_head(&mut head);
        let masked = head[1] & 0x80 != 0;
        if masked != expect_masked {
            return Err(NetError::Protocol(if expect_masked {
                "unmasked frame from client"
            } else {
                "masked frame from server"
            }));
        }
        let payload = match frame.payload {
            Payload::Bytes(b) => b,
            other => BytesMut::from(&other[..]),
        };
        Ok(Self {
            fin: frame.fin,
            opcode: frame.opcode,
            payload,
        })
    }
}

/// What a frame amounted to once validated.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// A complete (possibly reassembled) data message.
    Message(Message),
    /// A ping with its payload.
    Ping(Bytes),
    /// A pong with its payload.
    Pong(Bytes),
    /// A close frame: `None` when it carried no status code.
    Close(Option<(u16, String)>),
}

/// Reassembles fragmented messages with a cap on the total size.
#[derive(Debug)]
pub(crate) struct Assembler {
    max_message_bytes: usize,
    allow_text: bool,
    partial: Option<Partial>,
}

#[derive(Debug)]
struct Partial {
    text: bool,
    buf: BytesMut,
    /// Length of the prefix of `buf` already known to be valid UTF-8 (text only), in bytes.
    valid_utf8: usize,
}

impl Partial {
    /// Checks the UTF-8 of a text message received so far, resuming where the last check ended.
    ///
    /// Invalid bytes fail at once (fail fast, RFC 6455 §8.1), without waiting for the final
    /// fragment; a code point cut by a fragment boundary is only an error on the final one.
    fn check_utf8(&mut self, fin: bool) -> Result<(), NetError> {
        if !self.text {
            return Ok(());
        }
        // Restarting a few bytes early is unnecessary: `valid_utf8` always ends on a char boundary.
        match std::str::from_utf8(&self.buf[self.valid_utf8..]) {
            Ok(_) => {
                self.valid_utf8 = self.buf.len();
                Ok(())
            }
            // `error_len() == None`: the bytes so far are a valid prefix of a code point.
            Err(e) if e.error_len().is_none() && !fin => {
                self.valid_utf8 += e.valid_up_to();
                Ok(())
            }
            Err(_) => Err(NetError::InvalidUtf8),
        }
    }
}

impl Assembler {
    /// `max_message_bytes` caps a whole message, in bytes.
    pub(crate) fn new(max_message_bytes: usize, allow_text: bool) -> Self {
        Self {
            max_message_bytes,
            allow_text,
            partial: None,
        }
    }

    /// Feeds one frame; `Ok(None)` means a fragment was stored and more are needed.
    pub(crate) fn push(&mut self, frame: InFrame) -> Result<Option<Incoming>, NetError> {
        let InFrame {
            fin,
            opcode,
            payload,
        } = frame;
        match opcode {
            OpCode::Close | OpCode::Ping | OpCode::Pong => {
                if !fin {
                    return Err(NetError::Protocol("fragmented control frame"));
                }
                if payload.len() > MAX_CONTROL_PAYLOAD {
                    return Err(NetError::Protocol("control frame payload over 125 bytes"));
                }
                Ok(Some(match opcode {
                    OpCode::Ping => Incoming::Ping(payload.freeze()),
                    OpCode::Pong => Incoming::Pong(payload.freeze()),
                    _ => Incoming::Close(parse_close(&payload)?),
                }))
            }
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(NetError::Protocol(
                        "new data frame inside a fragmented message",
                    ));
                }
                let text = opcode == OpCode::Text;
                if text && !self.allow_text {
                    return Err(NetError::TextNotSupported);
                }
                if payload.len() > self.max_message_bytes {
                    return Err(NetError::MessageTooBig(self.max_message_bytes));
                }
                if fin {
                    return finish(text, payload).map(Some);
                }
                let mut partial = Partial {
                    text,
                    buf: payload,
                    valid_utf8: 0,
                };
                partial.check_utf8(false)?;
                self.partial = Some(partial);
                Ok(None)
            }
            OpCode::Continuation => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(NetError::Protocol(
                        "continuation frame without a message to continue",
                    ));
                };
                if partial.buf.len().saturating_add(payload.len()) > self.max_message_bytes {
                    return Err(NetError::MessageTooBig(self.max_message_bytes));
                }
                partial.buf.extend_from_slice(&payload);
                partial.check_utf8(fin)?;
                if !fin {
                    return Ok(None);
                }
                match self.partial.take() {
                    Some(Partial { text, buf, .. }) => finish(text, buf).map(Some),
                    None => Ok(None),
                }
            }
        }
    }
}

fn finish(text: bool, buf: BytesMut) -> Result<Incoming, NetError> {
    let msg = if text {
        // UTF-8 is checked on the whole message: a code point may straddle fragments.
        Message::Text(String::from_utf8(Vec::from(buf)).map_err(|_| NetError::InvalidUtf8)?)
    } else {
        Message::Binary(buf.freeze())
    };
    Ok(Incoming::Message(msg))
}

/// Parses a close payload: empty, or a valid wire code followed by a UTF-8 reason.
pub(crate) fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, NetError> {
    match payload {
        [] => Ok(None),
        [_] => Err(NetError::Protocol("close payload of 1 byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close::is_valid_code(code) {
                return Err(NetError::Protocol("invalid close code"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| NetError::InvalidUtf8)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

/// Builds a close payload: the code big-endian then the reason cut to fit a control frame.
pub(crate) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let reason = close::truncate_reason(reason);
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: OpCode, payload: &[u8]) -> InFrame {
        InFrame {
            fin,
            opcode,
            payload: BytesMut::from(payload),
        }
    }

    fn code_of(r: Result<Option<Incoming>, NetError>) -> Option<u16> {
        r.err().and_then(|e| e.close_code())
    }

    #[test]
    fn single_binary_frame_is_a_message() {
        let mut a = Assembler::new(8, false);
        let got = a.push(frame(true, OpCode::Binary, b"abc")).ok().flatten();
        assert_eq!(
            got,
            Some(Incoming::Message(Message::Binary(Bytes::from_static(
                b"abc"
            ))))
        );
    }

    #[test]
    fn fragments_are_joined_and_capped() {
        let mut a = Assembler::new(8, false);
        assert!(matches!(
            a.push(frame(false, OpCode::Binary, b"abc")),
            Ok(None)
        ));
        assert!(matches!(
            a.push(frame(true, OpCode::Ping, b"p")),
            Ok(Some(Incoming::Ping(_)))
        ));
        assert!(matches!(
            a.push(frame(false, OpCode::Continuation, b"de")),
            Ok(None)
        ));
        let got = a
            .push(frame(true, OpCode::Continuation, b"fgh"))
            .ok()
            .flatten();
        assert_eq!(
            got,
            Some(Incoming::Message(Message::Binary(Bytes::from_static(
                b"abcdefgh"
            ))))
        );
        assert!(matches!(
            a.push(frame(false, OpCode::Binary, b"abcde")),
            Ok(None)
        ));
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Continuation, b"fghi"))),
            Some(1009)
        );
    }

    #[test]
    fn single_frame_over_cap_is_too_big() {
        let mut a = Assembler::new(4, false);
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Binary, b"12345"))),
            Some(1009)
        );
        assert!(a.push(frame(true, OpCode::Binary, b"1234")).is_ok());
    }

    #[test]
    fn fragmentation_order_is_enforced() {
        let mut a = Assembler::new(64, false);
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Continuation, b"x"))),
            Some(1002)
        );
        let mut a = Assembler::new(64, false);
        assert!(a.push(frame(false, OpCode::Binary, b"x")).is_ok());
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Binary, b"y"))),
            Some(1002)
        );
    }

    #[test]
    fn text_rules() {
        let mut a = Assembler::new(64, false);
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Text, b"hi"))),
            Some(1003)
        );
        let mut a = Assembler::new(64, true);
        // "é" is C3 A9, split across two fragments: valid once joined.
        assert!(matches!(
            a.push(frame(false, OpCode::Text, b"a\xC3")),
            Ok(None)
        ));
        let got = a
            .push(frame(true, OpCode::Continuation, b"\xA9"))
            .ok()
            .flatten();
        assert_eq!(got, Some(Incoming::Message(Message::Text("aé".to_owned()))));
        assert!(matches!(
            a.push(frame(false, OpCode::Text, b"a\xC3")),
            Ok(None)
        ));
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Continuation, b"z"))),
            Some(1007)
        );
    }

    #[test]
    fn invalid_utf8_in_a_fragmented_text_fails_at_the_first_bad_fragment() {
        // 0xFF can never appear in UTF-8: refused with the first fragment, not at the end.
        let mut a = Assembler::new(64, true);
        assert_eq!(
            code_of(a.push(frame(false, OpCode::Text, b"ok\xFF"))),
            Some(1007)
        );
        let mut a = Assembler::new(64, true);
        assert!(matches!(
            a.push(frame(false, OpCode::Text, b"fine")),
            Ok(None)
        ));
        assert_eq!(
            code_of(a.push(frame(false, OpCode::Continuation, b"\xED\xA0\x80"))),
            Some(1007),
            "a UTF-16 surrogate is not UTF-8"
        );
        // A 4-byte code point cut across three fragments is fine...
        let mut a = Assembler::new(64, true);
        for part in [&b"\xF0"[..], b"\x9F\x98"] {
            let opcode = if part == b"\xF0" {
                OpCode::Text
            } else {
                OpCode::Continuation
            };
            assert!(matches!(a.push(frame(false, opcode, part)), Ok(None)));
        }
        let got = a
            .push(frame(true, OpCode::Continuation, b"\x80!"))
            .ok()
            .flatten();
        assert_eq!(
            got,
            Some(Incoming::Message(Message::Text("😀!".to_owned())))
        );
        // ...but one left unfinished by the final fragment is not.
        let mut a = Assembler::new(64, true);
        assert!(matches!(
            a.push(frame(false, OpCode::Text, b"a\xF0\x9F")),
            Ok(None)
        ));
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Continuation, b""))),
            Some(1007)
        );
        // Binary fragments are never checked.
        let mut a = Assembler::new(64, false);
        assert!(matches!(
            a.push(frame(false, OpCode::Binary, b"\xFF")),
            Ok(None)
        ));
    }

    #[test]
    fn control_frame_rules() {
        let mut a = Assembler::new(1024, false);
        let big = [0u8; 126];
        assert_eq!(code_of(a.push(frame(true, OpCode::Ping, &big))), Some(1002));
        assert_eq!(code_of(a.push(frame(true, OpCode::Pong, &big))), Some(1002));
        assert_eq!(
            code_of(a.push(frame(true, OpCode::Close, &big))),
            Some(1002)
        );
        assert_eq!(code_of(a.push(frame(false, OpCode::Ping, b""))), Some(1002));
        assert!(matches!(
            a.push(frame(true, OpCode::Pong, &big[..125])),
            Ok(Some(Incoming::Pong(_)))
        ));
    }

    #[test]
    fn close_payload_rules() {
        assert!(matches!(parse_close(b""), Ok(None)));
        assert_eq!(
            parse_close(b"\x03").err().and_then(|e| e.close_code()),
            Some(1002)
        );
        assert_eq!(
            parse_close(b"\x03\xed").err().and_then(|e| e.close_code()),
            Some(1002)
        );
        assert_eq!(
            parse_close(b"\x03\xe8\xff")
                .err()
                .and_then(|e| e.close_code()),
            Some(1007)
        );
        assert_eq!(
            parse_close(b"\x03\xe8bye").ok().flatten(),
            Some((1000, "bye".to_owned()))
        );
        let p = close_payload(4000, &"x".repeat(500));
        assert_eq!(p.len(), 125);
        assert_eq!(&p[..2], &4000u16.to_be_bytes());
    }

    #[test]
    fn mask_bit_is_checked() {
        let unmasked = Frame::binary(Payload::Owned(b"x".to_vec()));
        assert!(InFrame::take(unmasked, true).is_err());
        let unmasked = Frame::binary(Payload::Owned(b"x".to_vec()));
        assert!(InFrame::take(unmasked, false).is_ok());
        let masked = Frame::new(
            true,
            OpCode::Binary,
            Some([1, 2, 3, 4]),
            Payload::Owned(vec![0]),
        );
        assert!(InFrame::take(masked, true).is_ok());
    }
}
