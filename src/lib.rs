//! tickwire: an authoritative multiplayer game server. Clients connect over WebSocket, join a
//! match and send inputs; each match runs a fixed-tick simulation and pushes every client a
//! state delta each tick.
//!
//! This crate assembles the parts: `tickwire-net` (WebSocket frames), `tickwire-proto` (the
//! messages) and `tickwire-sim` (the game).
//!
//! # Layout
//! - [`config`]: the typed configuration and its embedded defaults.
//! - [`server`]: [`Server`], [`run`] and the shutdown sequence.
//! - [`state`]: `ServerState`, what the listener, sessions, admin API and cluster share:
//!   configuration, registry, seat placement, match creation, results.
//! - [`games`]: the games this server hosts by name ([`games::HostedGame`], [`games::Games`]).
//! - [`registry`]: running matches by id and seat placement.
//! - [`match_ids`]: match ids unique for the life of a data directory.
//! - [`match_loop`]: one match's fixed-rate task.
//! - [`session`]: one client connection's protocol state machine.
//! - [`session_token`]: session secrets.
//! - [`address`]: per-address limits on connections, seats, joins and failed admin logins.
//! - [`descriptors`]: the file descriptor limit at start-up and the caps that must fit it.
//! - [`rate_limit`]: the token bucket behind message and join rates.
//! - [`admin`]: the admin HTTP API (health, readiness, metrics, matches).
//! - [`cluster`]: cluster mode on Redis: directory, matchmaker, reservations, Agones.
//! - [`telemetry`]: logging and the Prometheus recorder.
//! - [`results`]: the durable, append-only results log.
//! - [`replay`]: recording matches and re-simulating them.
//! - [`web`]: the browser game client's embedded files, served at `/`.

pub mod address;
pub mod admin;
pub mod cluster;
pub mod config;
pub mod descriptors;
pub mod games;
pub mod match_ids;
pub mod match_loop;
pub mod rate_limit;
pub mod registry;
pub mod replay;
pub mod results;
pub mod server;
pub mod session;
pub mod session_token;
pub mod state;
pub mod telemetry;
mod tick_timer;
pub mod web;

pub use config::Config;
pub use games::{Games, HostedGame, WebFile};
pub use server::{Server, ServerError, ServerHandle, run};
