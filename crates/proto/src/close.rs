//! Close codes the game server sends on top of the RFC 6455 ones the network layer owns.
//!
//! 1000–1011 keep their RFC 6455 meaning; 4000 (idle timeout) belongs to the network layer.

/// The protocol version in the Hello is not [`crate::PROTOCOL_VERSION`]; a Reject precedes it.
pub const VERSION_MISMATCH: u16 = 1002;
/// A message did not decode as a client message of this protocol.
pub const DECODE_ERROR: u16 = 1007;
/// The join was refused (match full, bad session, seat expired, draining, unknown game, schema
/// mismatch, …); a Reject precedes it.
pub const JOIN_REJECTED: u16 = 4001;
/// Another connection resumed this seat with its session token; this one is replaced.
pub const SESSION_REPLACED: u16 = 4002;
/// The match ended; a MatchEnded message precedes it.
pub const MATCH_ENDED: u16 = 1000;
/// The client broke the message order (e.g. an Input before Hello, a second Hello).
pub const UNEXPECTED_MESSAGE: u16 = 1008;
