//! Binary WebSocket transport for tickwire: frames over TCP, nothing about the game.
//!
//! # Layout
//! - [`config`]: [`NetConfig`], every limit and timer of a server connection.
//! - [`close`]: close codes the server sends and close-reason rules.
//! - [`error`]: [`NetError`] and [`SendError`].
//! - [`server`]: the accept loop ([`serve`]), HTTP routing, the upgrade, and the [`Handler`] trait.
//! - [`connection`]: [`Connection`] (the reader, driven by the handler's task) and [`Outbox`]
//!   (the cloneable handle that feeds the writer: latest-wins state, reliable queue, close).
//! - `writer`: the spawned task that alone writes to a server socket (heartbeats, close handshake).
//! - `assemble`: frame validation and size-capped fragment reassembly, shared by server and clients.
//! - [`client`]: [`Client`] / [`ClientReader`] / [`ClientWriter`] for tests and the load tester,
//!   and [`RawClient`] for sending malformed bytes on purpose.
//!
//! Per connection there is exactly one reader and one writer. Anything the reader owes the
//! peer (pongs, close replies, close frames for errors) is handed to the writer, so the socket
//! has a single writer and a slow peer can only stall its own writer task.

mod assemble;
pub mod client;
pub mod close;
pub mod config;
pub mod connection;
pub mod error;
pub mod server;
mod writer;

pub use client::{
    Client, ClientConfig, ClientEvent, ClientReader, ClientWriter, RawClient, RawFrame, connect,
    connect_raw, encode_frame,
};
pub use config::NetConfig;
pub use connection::{Connection, Message, Outbox};
pub use error::{NetError, SendError};
pub use server::{Admission, Handler, Refusal, serve, text_response};
