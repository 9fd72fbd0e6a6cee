//! The tickwire wire protocol: every message a client and the server exchange, the one codec
//! that turns them into bytes, and the schema-driven state-delta format with both of its
//! directions (diff on the server, apply on the client).
//!
//! # Layout
//! - [`msg`]: the messages themselves (serde types), client-to-server and server-to-client.
//! - [`schema`]: a game's declared replication schema, and the generic rows, delta
//!   ([`schema::rows`], with the client's [`schema::rows::RowReplica`]) and packed body
//!   ([`schema::body`]) it drives, and the velocity prediction ([`schema::rows::predict`]).
//!   A game's own declaration lives in its crate (arena's: `tickwire_arena::schema`).
//! - [`bits`]: the bit-level codes of a packed body.
//! - [`text`]: cleaning of display text players send each other (names, chat lines).
//! - [`codec`]: the only module that calls bincode; encode and decode with byte limits.
//! - [`close`]: the application close codes the server uses on top of RFC 6455's.
//!
//! `PROTOCOL.md` beside this crate describes every message byte for byte.

pub mod bits;
pub mod close;
pub mod codec;
pub mod msg;
pub mod schema;
pub mod text;

pub use codec::DecodeError;
pub use msg::{ClientMsg, ServerMsg};

/// The protocol version this build speaks; a Hello with any other version is rejected.
pub const PROTOCOL_VERSION: u16 = 3;
