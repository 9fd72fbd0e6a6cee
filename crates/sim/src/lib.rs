//! The tickwire simulation engine: one authoritative, deterministic match of any [`Game`], the
//! snapshot history its state is replicated from and each client's view of it; plus "arena", a
//! top-down 2D shooter, the first game on it.
//!
//! # Layout
//! - [`engine`]: [`Match`], the state machine the server steps once per tick: seats, input
//!   queues, phases, snapshots, deltas, the state hash.
//! - [`game`]: [`Game`], what a game implements, and what the engine hands it ([`StepCtx`],
//!   [`SnapshotWriter`]).
//! - [`arena`]: [`Arena`], the arena game on the engine, and [`arena::new_match`].
//! - [`chat`]: [`ChatRoom`], in-match chat (caps, rate limits, mutes, history) every game gets.
//! - [`config`]: [`GameConfig`], the rules and physics constants, with validation.
//! - [`map`]: [`MapDef`], the static map (arena size, walls, spawn points), with validation.
//! - [`input`]: [`InputOutcome`], what happened to a pushed input.
//! - [`interest`]: [`ClientView`], each client's replicated view: area of interest, priorities
//!   and byte budget.
//! - [`rng`]: [`SplitMix64`], the seeded generator behind every random choice.
//! - private: `physics` (direction table, collisions, sweeps), `grid` (uniform grid, the
//!   broadphase over players and the index behind areas of interest),
//!   `history` (the snapshot ring).
//!
//! The crate is sans-IO in the style of quinn-proto: no clock, no sockets, no OS randomness and
//! no iteration over hash-map order. Time advances only through [`Match::step`], so the same
//! seed and the same sequence of calls reproduce the same snapshots bit for bit.

pub mod arena;
pub mod chat;
pub mod config;
pub mod engine;
pub mod game;
mod grid;
mod history;
pub mod input;
pub mod interest;
pub mod map;
mod physics;
pub mod rng;

pub use arena::{Arena, ArenaMatch, PlayerStats, SimError, new_match};
pub use chat::{ChatConfig, ChatConfigError, ChatRoom, Member};
pub use config::{ConfigError, GameConfig};
pub use engine::{JoinError, Match, PhaseChange, PlayerId, PlayerInfo, StepReport};
pub use game::{Game, GameInput, SnapshotWriter, StepCtx, WorldBounds};
pub use input::InputOutcome;
pub use interest::{AdaptiveBudget, ClientView, FrameStats};
pub use map::{MapDef, MapError};
pub use rng::SplitMix64;
