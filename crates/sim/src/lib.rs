//! The tickwire simulation engine: one authoritative, deterministic match of any [`Game`], the
//! snapshot history its state is replicated from and each client's view of it. Games live in
//! crates of their own on this crate's public API (arena: `tickwire-arena`).
//!
//! # Layout
//! - [`engine`]: [`Match`], the state machine the server steps once per tick: seats, input
//!   queues, phases, snapshots, deltas, the state hash.
//! - [`game`]: [`Game`], what a game implements, and what the engine hands it ([`StepCtx`],
//!   [`SnapshotWriter`]).
//! - [`chat`]: [`ChatRoom`], in-match chat (caps, rate limits, mutes, history) every game gets.
//! - [`request`]: game-defined requests beside the inputs: the size bound, per-player rate
//!   limits and flood detection ([`RequestConfig`]), the answers ([`Answer`]).
//! - [`config`]: [`MatchConfig`], the engine's rules of a match, with validation.
//! - [`input`]: [`InputOutcome`], what happened to a pushed input.
//! - [`interest`]: [`ClientView`], each client's replicated view: area of interest, priorities
//!   and byte budget.
//! - [`rng`]: [`SplitMix64`], the seeded generator behind every random choice.
//! - [`grid`]: [`grid::Grid`], a uniform grid over points: the index behind areas of interest,
//!   and a broadphase games may use.
//! - private: `history` (the snapshot ring), `spatial` (where the game's schema puts an
//!   entity, and the grid over a snapshot behind areas of interest).
//!
//! Snapshots and deltas are rows of the game's declared schema
//! ([`tickwire_proto::schema::Schema`], from [`Game::schema`]): the engine never knows a
//! game's fields, and the server encodes every frame with the schema's codec.
//!
//! The crate is sans-IO in the style of quinn-proto: no clock, no sockets, no OS randomness and
//! no iteration over hash-map order. Time advances only through [`Match::step`], so the same
//! seed and the same sequence of calls reproduce the same snapshots bit for bit.

pub mod chat;
pub mod config;
pub mod engine;
pub mod game;
pub mod grid;
mod history;
pub mod input;
pub mod interest;
pub mod request;
pub mod rng;
mod spatial;

pub use chat::{ChatConfig, ChatConfigError, ChatRoom, Member};
pub use config::{ConfigError, MatchConfig};
pub use engine::{JoinError, Match, PhaseChange, PlayerInfo, StepReport};
pub use game::{Game, GameInput, PlayerId, SnapshotWriter, StepCtx, WorldBounds};
pub use input::InputOutcome;
pub use interest::{AdaptiveBudget, ClientView, FrameScratch, FrameStats};
pub use request::{
    Answer, MAX_REQUEST_BYTES, NoRequest, Refusal, Refused, RequestConfig, RequestConfigError,
    RequestError,
};
pub use rng::SplitMix64;
