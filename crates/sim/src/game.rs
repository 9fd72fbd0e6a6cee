//! What a game implements to run on the engine: the [`Game`] trait, the input it consumes
//! ([`GameInput`]), and what the engine hands it during a step ([`StepCtx`]) and a snapshot
//! ([`SnapshotWriter`]).
//!
//! The engine ([`crate::Match`]) owns everything a game should not write again: seats, input
//! queues with their sequence, stale, duplicate and flood rules, the phases (waiting, running,
//! ended; the time limit), the snapshot ring, deltas, the state hash and areas of interest. A
//! game owns its rules and its world, declares once what of it replicates ([`Game::schema`]),
//! and describes that world once per tick as rows of that schema (a snapshot).
//!
//! # Order of calls (made by [`crate::Match`], never by the server)
//! 1. [`Game::schema`] and [`Game::world`] once, when the match is created.
//! 2. Between ticks, as things happen: [`Game::decode_input`] for each input message (the
//!    server hands the decoded input to [`crate::Match::push_input`]); [`Game::join`] (after the engine has given the player
//!    its seat and entity id), [`Game::leave`], [`Game::set_connected`]; and
//!    [`Game::decode_request`] for each request that passed the engine's size and rate checks.
//! 3. Once per tick, with the tick already advanced and every seat's input for it taken from
//!    its queue: [`Game::request`] for each request accepted since the last step, in arrival
//!    order; [`Game::step`]; then, when the match is waiting and enough players are
//!    connected, [`Game::start`]; when it is running, [`Game::end_condition`]; last
//!    [`Game::snapshot`].
//! 4. Whenever the server asks: [`Game::results`].
//!
//! Like the engine, a game is sans-IO and deterministic: no clock, no sockets, no OS randomness,
//! no iteration over hash-map order, no platform libm in anything that reaches its state.

use std::sync::Arc;

use tickwire_proto::msg::{EndReason, Phase};
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::EntityRow;

use crate::request::{Refusal, RequestError};

/// A player's id within a match: assigned from 1 upwards, never reused.
pub type PlayerId = u32;

/// One player's input for one tick, as a game defines it.
pub trait GameInput: Copy + Default + std::fmt::Debug {
    /// What the engine repeats for a player whose queue ran dry after a disconnect: the
    /// input with every momentary control released and only what persists (a facing, say)
    /// kept. The default releases everything.
    fn released(&self) -> Self {
        Self::default()
    }
}

/// The world's extent, which the engine's spatial index over snapshots covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldBounds {
    /// Width, world units.
    pub width: u32,
    /// Height, world units.
    pub height: u32,
    /// Side of a spatial index cell, world units.
    pub cell_size: u32,
}

/// A game the engine can run: its rules, its world and what it replicates.
pub trait Game {
    /// One player's input for one tick.
    type Input: GameInput;
    /// A reliable event of the game (a kill, a goal), sent to every client in order.
    type Event;
    /// The final table, written to the results log.
    type Results;
    /// A request of the game (see [`crate::request`]); a game that takes none names
    /// [`NoRequest`](crate::request::NoRequest) and keeps the default decoder and handler
    /// (stable Rust has no defaults for associated types).
    type Request: Clone + std::fmt::Debug;

    /// The game's replication schema: its entity kinds and their fields, declared once. The
    /// engine derives the deltas, their encoding, the state hash and areas of interest (an
    /// entity's position and owner, see [`Schema::position`] and [`Schema::owner_slot`])
    /// from it, and [`Game::snapshot`] writes rows of it. Called once per match.
    fn schema() -> Schema;

    /// The world's extent, for areas of interest.
    fn world(&self) -> WorldBounds;

    /// A player took the seat `player`, controlling entity `entity`, under the sanitized
    /// `name`; it appears in the next snapshot.
    fn join(&mut self, player: PlayerId, entity: u32, name: &str);

    /// A player left for good: its entity (and whatever it owns) goes.
    fn leave(&mut self, player: PlayerId);

    /// A player's client dropped (`false`) or came back (`true`); inputs of a disconnected
    /// player are not handed to [`Game::step`].
    fn set_connected(&mut self, player: PlayerId, connected: bool) {
        let _ = (player, connected);
    }

    /// Decodes one input's payload, the game's bytes of an Input message (at most
    /// [`MAX_INPUT_PAYLOAD_BYTES`](tickwire_proto::msg::MAX_INPUT_PAYLOAD_BYTES) long); `None`
    /// when the bytes are not an input of this game. It must not panic on any bytes: they come
    /// straight from a client.
    fn decode_input(payload: &[u8]) -> Option<Self::Input>;

    /// Decodes a request's payload, at most [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES)
    /// long. It must not panic on any bytes: they come straight from a client. The default
    /// takes no requests.
    fn decode_request(bytes: &[u8]) -> Result<Self::Request, RequestError> {
        let _ = bytes;
        Err(RequestError::Unsupported)
    }

    /// Handles one request of `player`, at the start of the step of `ctx`'s tick (before
    /// [`Game::step`], in arrival order). `Ok` is the reply payload for the sender (may be
    /// empty); `Err` refuses it with a short reason. Events emitted through `ctx` are the
    /// tick's reliable events, for every client ([`StepCtx::emit`]) or for some players
    /// ([`StepCtx::emit_to`]). The default refuses every request.
    fn request(
        &mut self,
        ctx: &mut StepCtx<'_, Self>,
        player: PlayerId,
        request: Self::Request,
    ) -> Result<Vec<u8>, Refusal> {
        let _ = (ctx, player, request);
        Err(Refusal::new("this game takes no requests"))
    }

    /// Advances the world by one tick, reading each player's input from `ctx`.
    fn step(&mut self, ctx: &mut StepCtx<'_, Self>);

    /// The match leaves the warm-up: reset what the warm-up must not carry into the match
    /// (scores, shots in flight).
    fn start(&mut self);

    /// Called after each running step: `Some` ends the match by the game's own rules (a score
    /// limit). The time limit is the engine's.
    fn end_condition(&self) -> Option<EndReason> {
        None
    }

    /// Writes this tick's entities, ids strictly ascending, quantized as they replicate.
    fn snapshot(&self, out: &mut SnapshotWriter<'_>);

    /// The results table as it stands.
    fn results(&self) -> Self::Results;
}

/// What one step of a game sees and may do: the tick, the phase, each player's input for this
/// tick, new entity ids, and the events it emits.
pub struct StepCtx<'a, G: Game + ?Sized> {
    /// The tick being simulated.
    pub(crate) tick: u32,
    /// The phase during the step.
    pub(crate) phase: Phase,
    /// This tick's input per seat, by ascending player id (`None`: disconnected).
    pub(crate) inputs: &'a [(PlayerId, Option<G::Input>)],
    /// Where the next [`StepCtx::input`] looks first: just after the last one found, so a
    /// game that walks its players in id order (the common case) never searches.
    pub(crate) next_input: std::cell::Cell<usize>,
    /// The next entity id to hand out.
    pub(crate) next_entity: &'a mut u32,
    /// Events emitted so far this tick.
    pub(crate) events: &'a mut Vec<G::Event>,
    /// Events for one player each, emitted so far this tick.
    pub(crate) private: &'a mut Vec<(PlayerId, G::Event)>,
}

impl<G: Game + ?Sized> StepCtx<'_, G> {
    /// The tick being simulated (1 on the first step).
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The phase the match is in during this step.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// `player`'s input for this tick: the oldest queued one, or the last one repeated when
    /// none arrived in time; `None` when the player is disconnected or not seated.
    pub fn input(&self, player: PlayerId) -> Option<G::Input> {
        let guess = self.next_input.get();
        let i = match self.inputs.get(guess) {
            Some(&(id, _)) if id == player => guess,
            _ => self
                .inputs
                .binary_search_by_key(&player, |&(id, _)| id)
                .ok()?,
        };
        self.next_input.set(i + 1);
        self.inputs[i].1
    }

    /// A new entity id (ids are shared with the players' entities and never reused), or
    /// `None` once ids are exhausted.
    pub fn new_entity(&mut self) -> Option<u32> {
        let id = *self.next_entity;
        *self.next_entity = id.checked_add(1)?;
        Some(id)
    }

    /// Emits a reliable event for every client, delivered before this tick's frame in
    /// emission order.
    pub fn emit(&mut self, event: G::Event) {
        self.events.push(event);
    }

    /// Emits a reliable event for `player` alone (a team's secret, a private hint), delivered
    /// after this tick's events for everyone, in emission order; dropped when the player has
    /// no connection.
    pub fn emit_to(&mut self, player: PlayerId, event: G::Event) {
        self.private.push((player, event));
    }
}

/// Where [`Game::snapshot`] writes a tick's entities, as rows of the game's schema. It
/// recycles the rows of an evicted snapshot, so a steady state allocates nothing (strings are
/// shared, not copied).
pub struct SnapshotWriter<'a> {
    /// The snapshot buffer, reused.
    pub(crate) buf: &'a mut Vec<EntityRow>,
    /// Rows written so far.
    pub(crate) len: usize,
}

impl SnapshotWriter<'_> {
    /// Adds entity `id` of kind `kind` (its code in the schema) with its numeric fields and
    /// string fields in declaration order. Ids must come out strictly ascending. Strings are
    /// an entity's identity and never change for an id: keep one `Arc` per entity and hand it
    /// in every tick, which costs a reference count, not a copy.
    ///
    /// A row that does not fit the schema (unknown kind, wrong number of fields, a value out
    /// of its field's range) is a bug in the game: the engine replicates it as a re-create and
    /// the server's encoder refuses the frame, so it shows at once.
    pub fn push(&mut self, id: u32, kind: u16, values: &[i64], strings: &Arc<[String]>) {
        match self.buf.get_mut(self.len) {
            Some(row) => {
                row.id = id;
                row.kind = kind;
                row.values.clear();
                row.values.extend_from_slice(values);
                if !Arc::ptr_eq(&row.strings, strings) {
                    row.strings = Arc::clone(strings);
                }
            }
            None => self.buf.push(EntityRow {
                id,
                kind,
                values: values.to_vec(),
                strings: Arc::clone(strings),
            }),
        }
        self.len += 1;
    }

    /// Entities written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
