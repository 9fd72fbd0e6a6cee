//! Typed errors for connections, outboxes and clients.

use crate::close;

/// Why a connection (server or client side) stopped or could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The peer broke the WebSocket protocol; on the server a 1002 close was sent.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// A message was larger than the configured limit (in bytes); on the server a 1009 close was sent.
    #[error("message larger than {0} bytes")]
    MessageTooBig(usize),
    /// A text message arrived while only binary is accepted; a 1003 close was sent.
    #[error("text frames are not supported")]
    TextNotSupported,
    /// A text message or close reason was not valid UTF-8; on the server a 1007 close was sent.
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    /// Nothing arrived from the peer for `idle_timeout`; a 4000 close was sent.
    #[error("idle timeout")]
    IdleTimeout,
    /// The TCP stream ended without a close frame (abnormal closure, 1006).
    #[error("connection lost without a close frame")]
    ConnectionLost,
    /// The connection was already closed when the call was made.
    #[error("connection closed")]
    ConnectionClosed,
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The URL is not of the form `ws://host[:port][/path]` or `wss://…` (or a client setting
    /// that goes into the request, such as the origin, is malformed); the text says what is wrong.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// TCP connect plus HTTP upgrade took longer than `connect_timeout`.
    #[error("connect timed out")]
    ConnectTimeout,
    /// The server did not answer the upgrade with a valid 101; the text says what it did instead.
    #[error("websocket handshake failed: {0}")]
    Handshake(String),
    /// TLS could not be set up or the TLS handshake failed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl NetError {
    /// The close code this error caused us to send, if any.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Protocol(_) => Some(close::PROTOCOL_ERROR),
            Self::MessageTooBig(_) => Some(close::MESSAGE_TOO_BIG),
            Self::TextNotSupported => Some(close::UNSUPPORTED_DATA),
            Self::InvalidUtf8 => Some(close::INVALID_PAYLOAD),
            Self::IdleTimeout => Some(close::IDLE_TIMEOUT),
            _ => None,
        }
    }

    /// Maps a fastwebsockets read error onto ours; `limit` is the message cap in bytes.
    pub(crate) fn from_ws(err: fastwebsockets::WebSocketError, limit: usize) -> Self {
        use fastwebsockets::WebSocketError as W;
        match err {
            W::FrameTooLarge => Self::MessageTooBig(limit),
            W::InvalidUTF8 => Self::InvalidUtf8,
            W::ReservedBitsNotZero => Self::Protocol("reserved bits set"),
            W::InvalidValue => Self::Protocol("unknown opcode"),
            W::ControlFrameFragmented => Self::Protocol("fragmented control frame"),
            W::PingFrameTooLarge => Self::Protocol("control frame payload over 125 bytes"),
            W::InvalidCloseFrame => Self::Protocol("invalid close payload"),
            W::InvalidCloseCode => Self::Protocol("invalid close code"),
            W::InvalidFragment | W::InvalidContinuationFrame => {
                Self::Protocol("invalid fragmentation")
            }
            W::UnexpectedEOF => Self::ConnectionLost,
            W::ConnectionClosed => Self::ConnectionClosed,
            W::IoError(e) => Self::Io(e),
            other => Self::Handshake(other.to_string()),
        }
    }
}

/// Why an [`Outbox`](crate::Outbox) refused a reliable message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The reliable queue was full; the connection is now closing with 1008.
    #[error("reliable queue overflow")]
    Overflow,
    /// The connection is closed or closing; nothing more is sent.
    #[error("connection closed")]
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_follow_the_error() {
        assert_eq!(NetError::Protocol("x").close_code(), Some(1002));
        assert_eq!(NetError::MessageTooBig(1).close_code(), Some(1009));
        assert_eq!(NetError::TextNotSupported.close_code(), Some(1003));
        assert_eq!(NetError::InvalidUtf8.close_code(), Some(1007));
        assert_eq!(NetError::IdleTimeout.close_code(), Some(4000));
        assert_eq!(NetError::ConnectionLost.close_code(), None);
    }

    #[test]
    fn library_errors_map_to_close_codes() {
        use fastwebsockets::WebSocketError as W;
        let code = |e| NetError::from_ws(e, 10).close_code();
        assert_eq!(code(W::FrameTooLarge), Some(1009));
        assert_eq!(code(W::ReservedBitsNotZero), Some(1002));
        assert_eq!(code(W::InvalidValue), Some(1002));
        assert_eq!(code(W::PingFrameTooLarge), Some(1002));
        assert_eq!(code(W::InvalidUTF8), Some(1007));
        assert_eq!(code(W::UnexpectedEOF), None);
    }
}
