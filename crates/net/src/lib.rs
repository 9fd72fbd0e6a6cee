//! Binary WebSocket transport for tickwire: frames over TCP, nothing about the game.
//!
//! # Layout
//! - [`config`]: [`NetConfig`], every limit and timer of a server connection.
//! - [`close`]: close codes the server sends and close-reason rules.
//! - [`error`]: [`NetError`] and [`SendError`].
//! - [`metric`]: the metric families this crate records, described once ([`metric::Family`]).
//! - [`server`]: the accept loop ([`serve`]), HTTP routing, the upgrade, and the [`Handler`] trait.
//! - [`connection`]: [`Connection`] (the reader, driven by the handler's task) and [`Outbox`]
//!   (the cloneable handle that feeds the writer: latest-wins state, reliable queue, close).
//! - `writer`: the spawned task that alone writes to a server socket (heartbeats, close handshake).
//! - `assemble`: frame validation and size-capped fragment reassembly, shared by server and clients.
//! - [`client`]: [`Client`] / [`ClientReader`] / [`ClientWriter`] for tests and the load tester,
//!   and [`RawClient`] for sending malformed bytes on purpose.
//! - [`tls`]: [`TlsConfig`] (the server's certificate and key) and the clients' trust roots, for
//!   `wss://` through rustls (ring provider).
//!
//! Per connection there is exactly one reader and one writer. Anything the reader owes the
//! peer (pongs, close replies, close frames for errors) is handed to the writer, so the socket
//! has a single writer and a slow peer can only stall its own writer task. Pongs and reliable
//! messages share one ordered queue, so replies leave in the order their causes arrived.
//!
//! # TLS and origins
//! With [`NetConfig::tls`] set, [`serve`] speaks TLS only (`https://`, `wss://`); the TLS
//! handshake and the HTTP request head share `handshake_timeout`. The clients connect to
//! `wss://` URLs and trust exactly [`ClientConfig::tls_roots`]. [`NetConfig::allowed_origins`]
//! refuses, with 403 and before any upgrade, a browser upgrade whose `Origin` is not listed.
//!
//! # Conformance
//! `crates/net/conformance/run.sh` (a CI step) runs the Autobahn TestSuite's fuzzingclient
//! cases, driven by kosoku 0.1.0, against `examples/echo.rs`: [`serve`] and [`Connection`] with
//! text allowed and a 16 MiB message cap, echoing text as text and binary as binary. All 301
//! cases run pass: 296 OK, 2 NON-STRICT, 3 INFORMATIONAL.
//!
//! - Excluded: 12.* and 13.* (permessage-deflate), since the server never offers compression.
//!   Nothing else is excluded.
//! - NON-STRICT (conformant, short of a SHOULD): 6.4.3 and 6.4.4 send one text frame whose
//!   invalid UTF-8 arrives in a later TCP chunk. Frames are read whole, so the 1007 close comes
//!   when the frame is complete rather than at the offending byte. Across frames of a
//!   fragmented message validation is incremental and fails at the first bad frame (6.4.1,
//!   6.4.2 are OK).
//! - INFORMATIONAL (behaviour the spec leaves open): 7.1.6 (data after a close) and 7.13.1/2
//!   (close codes 5000 and 65535, answered with 1002).

mod assemble;
pub mod client;
pub mod close;
pub mod config;
pub mod connection;
pub mod error;
mod inbound;
pub mod metric;
pub mod server;
pub mod tls;
mod writer;

/// The rustls this crate is built with, so callers name the same `ServerConfig` and
/// `CertificateDer` types.
pub use rustls;

pub use client::{
    Client, ClientConfig, ClientEvent, ClientReader, ClientWriter, RawClient, RawFrame, connect,
    connect_raw, encode_frame,
};
pub use config::NetConfig;
pub use connection::{Connection, Message, Outbox};
pub use error::{NetError, SendError};
pub use server::{Admission, Handler, PeerAddr, Refusal, serve, text_response};
pub use tls::{TlsConfig, TlsError};
