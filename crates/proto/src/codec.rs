//! The one place that calls bincode: bincode 2 standard configuration (little-endian,
//! variable-length integers, zigzag for signed ones), with a byte limit on every decode.
//!
//! Swapping the format means changing this module only.

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};

use crate::msg::{ClientMsg, FrameHeader, ServerMsg};

/// Largest client message the decoder accepts, in bytes (the network layer caps frames too).
pub const CLIENT_MSG_LIMIT: usize = 16 * 1024;
/// Largest server message a client decoder accepts, in bytes.
pub const SERVER_MSG_LIMIT: usize = 8 * 1024 * 1024;

/// Largest record [`decode_record`] accepts (replay files), in bytes.
pub const RECORD_LIMIT: usize = 16 * 1024 * 1024;

type RecordConfig = Configuration<LittleEndian, Varint, Limit<RECORD_LIMIT>>;

fn record_config() -> RecordConfig {
    config::standard().with_limit::<RECORD_LIMIT>()
}

/// The wire tag of [`ServerMsg::State`] (its variant index as a varint).
const STATE_TAG: u8 = 2;

/// The wire tag of [`ClientMsg::Hello`].
const HELLO_TAG: u32 = 0;

type ClientConfig = Configuration<LittleEndian, Varint, Limit<CLIENT_MSG_LIMIT>>;
type ServerConfig = Configuration<LittleEndian, Varint, Limit<SERVER_MSG_LIMIT>>;

fn client_config() -> ClientConfig {
    config::standard().with_limit::<CLIENT_MSG_LIMIT>()
}

fn server_config() -> ServerConfig {
    config::standard().with_limit::<SERVER_MSG_LIMIT>()
}

/// A message that could not be decoded; the connection that sent it gets close code 1007.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a valid encoding of the expected message type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message decoded but was followed by extra bytes.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The message is larger than the decoder's limit.
    #[error("message of {len} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

/// A message that could not be encoded: only a server-side bug (e.g. unsorted updates) does it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode message: {0}")]
pub struct EncodeError(String);

fn decode<T: serde::de::DeserializeOwned, C: config::Config>(
    bytes: &[u8],
    limit: usize,
    config: C,
) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (msg, used) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - used));
    }
    Ok(msg)
}

fn encode_into<T: serde::Serialize, C: config::Config>(
    value: &T,
    out: &mut Vec<u8>,
    config: C,
) -> Result<(), EncodeError> {
    bincode::serde::encode_into_std_write(value, out, config)
        .map(|_| ())
        .map_err(|e| EncodeError(e.to_string()))
}

/// Decodes one client message, rejecting trailing bytes and anything over [`CLIENT_MSG_LIMIT`].
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, DecodeError> {
    decode(bytes, CLIENT_MSG_LIMIT, client_config())
}

/// The protocol version a client message claims when it starts like a Hello, read from its tag
/// and version alone; `None` when it does not.
///
/// Every version's Hello begins with the tag and the version, but what follows changes between
/// versions, so a Hello of another version may not decode as this one: the server reads the
/// version this way to answer it with a version mismatch rather than a decode error.
pub fn hello_version(bytes: &[u8]) -> Option<u16> {
    let bytes = &bytes[..bytes.len().min(CLIENT_MSG_LIMIT)];
    let ((tag, version), _): ((u32, u16), usize) =
        bincode::serde::decode_from_slice(bytes, client_config()).ok()?;
    (tag == HELLO_TAG).then_some(version)
}

/// Decodes one server message, rejecting trailing bytes and anything over [`SERVER_MSG_LIMIT`].
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, DecodeError> {
    decode(bytes, SERVER_MSG_LIMIT, server_config())
}

/// Encodes one client message.
pub fn encode_client(msg: &ClientMsg) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(32);
    encode_into(msg, &mut out, client_config())?;
    Ok(out)
}

/// Encodes one server message.
pub fn encode_server(msg: &ServerMsg) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    encode_into(msg, &mut out, server_config())?;
    Ok(out)
}

/// Appends the body of a state frame as the game's schema encodes `delta` (see
/// [`crate::schema::body::encode`]), behind the same length prefix a byte string has in every
/// other message; `kind_of` gives the baseline entity's kind at an index. The bytes equal
/// those `encode_server` writes for a [`crate::msg::StateFrame`]'s body.
///
/// A tick's delta against one baseline is the same for every client acknowledging that
/// baseline, so the server encodes it once and joins it to each client's header with
/// [`encode_state`].
pub fn encode_rows(
    schema: &crate::schema::Schema,
    delta: &crate::schema::rows::RowDelta,
    kind_of: impl Fn(u32) -> Option<u16>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let mut body = Vec::with_capacity(256);
    crate::schema::body::encode(schema, delta, kind_of, &mut body)
        .map_err(|e| EncodeError(e.to_string()))?;
    // The length prefix of a byte string, as serde writes it for `StateFrame::body`.
    encode_into(&(body.len() as u64), out, server_config())?;
    out.extend_from_slice(&body);
    Ok(())
}

/// Appends a whole [`ServerMsg::State`] message to `out`: the tag, the client's header and an
/// already encoded delta body; the bytes equal `encode_server(&ServerMsg::State(..))`.
pub fn encode_state(
    header: &FrameHeader,
    delta_bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.push(STATE_TAG);
    encode_into(header, out, server_config())?;
    out.extend_from_slice(delta_bytes);
    Ok(())
}

/// Splits a [`ServerMsg::State`] message into its header and its packed body without decoding
/// the body, for a client that decodes bodies with the schema the server serves (any game's);
/// `None` when `bytes` is another message. The body is checked only for its length here.
pub fn decode_state_raw(bytes: &[u8]) -> Option<Result<(FrameHeader, &[u8]), DecodeError>> {
    let (&tag, rest) = bytes.split_first()?;
    if tag != STATE_TAG {
        return None;
    }
    Some(split_state(bytes.len(), rest))
}

/// The header and body of a State message's bytes after its tag.
fn split_state(len: usize, rest: &[u8]) -> Result<(FrameHeader, &[u8]), DecodeError> {
    if len > SERVER_MSG_LIMIT {
        return Err(DecodeError::TooLarge {
            len,
            limit: SERVER_MSG_LIMIT,
        });
    }
    let malformed = |e: bincode::error::DecodeError| DecodeError::Malformed(e.to_string());
    let (header, used): (FrameHeader, usize) =
        bincode::serde::decode_from_slice(rest, server_config()).map_err(malformed)?;
    let rest = &rest[used..];
    let (body_len, used): (u64, usize) =
        bincode::serde::decode_from_slice(rest, server_config()).map_err(malformed)?;
    let rest = &rest[used..];
    match usize::try_from(body_len) {
        Ok(n) if n == rest.len() => Ok((header, rest)),
        Ok(n) if n < rest.len() => Err(DecodeError::TrailingBytes(rest.len() - n)),
        _ => Err(DecodeError::Malformed(format!(
            "state body of {body_len} bytes, {} left in the message",
            rest.len()
        ))),
    }
}

/// Appends any serde value in the same encoding as the wire messages; the server uses it for
/// replay records so that every bincode call stays in this module.
pub fn encode_record<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_into(value, out, record_config())
}

/// Decodes a value written by [`encode_record`], rejecting trailing bytes and anything over
/// [`RECORD_LIMIT`].
pub fn decode_record<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode(bytes, RECORD_LIMIT, record_config())
}

#[cfg(test)]
mod raw_state_tests {
    use super::*;

    #[test]
    fn a_state_message_splits_into_its_header_and_body() {
        let header = FrameHeader {
            tick: 300,
            baseline_age: 2,
            ..FrameHeader::default()
        };
        // A byte string: its length (3), then the packed body.
        let body = [3u8, 1, 2, 3];
        let mut bytes = Vec::new();
        encode_state(&header, &body, &mut bytes).unwrap();
        let (h, b) = decode_state_raw(&bytes).unwrap().unwrap();
        assert_eq!((h, b), (header, &body[1..]));
        // A body longer or shorter than its prefix says is an error, another message is None.
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode_state_raw(&longer).unwrap(),
            Err(DecodeError::TrailingBytes(1))
        );
        assert!(
            decode_state_raw(&bytes[..bytes.len() - 1])
                .unwrap()
                .is_err()
        );
        assert!(decode_state_raw(&[3, 0]).is_none());
        assert!(decode_state_raw(&[]).is_none());
    }
}
