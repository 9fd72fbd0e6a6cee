//! The tickwire simulation: one authoritative, deterministic match of "arena", a top-down 2D
//! shooter, plus the snapshot history its state is replicated from.
//!
//! # Layout
//! - [`chat`]: [`ChatRoom`], in-match chat (caps, rate limits, mutes, history) every game gets.
//! - [`config`]: [`GameConfig`], the rules and physics constants, with validation.
//! - [`map`]: [`MapDef`], the static map (arena size, walls, spawn points), with validation.
//! - [`game`]: [`Match`], the state machine the server steps once per tick, and its reports.
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

pub mod chat;
pub mod config;
pub mod game;
mod grid;
mod history;
pub mod input;
pub mod interest;
pub mod map;
mod physics;
pub mod rng;

pub use chat::{ChatConfig, ChatConfigError, ChatRoom, Member};
pub use config::{ConfigError, GameConfig};
pub use game::{JoinError, Match, PlayerId, PlayerInfo, SimError, StepReport};
pub use input::InputOutcome;
pub use interest::{AdaptiveBudget, ClientView, FrameStats};
pub use map::{MapDef, MapError};
pub use rng::SplitMix64;
