//! Every message of the protocol. One WebSocket binary message carries exactly one
//! [`ClientMsg`] or [`ServerMsg`], encoded by [`crate::codec`].

use std::fmt;

use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

pub use crate::text::sanitize_name;

/// Length in bytes of the random secret inside a [`SessionToken`].
pub const SESSION_SECRET_LEN: usize = 16;

/// Longest player name accepted, in bytes of UTF-8; longer names are cut on a char boundary.
pub const MAX_NAME_BYTES: usize = 24;

/// Longest game name a [`Hello`] or [`Welcome`] may carry, in bytes of UTF-8; the decoder
/// refuses a longer one (names are short identifiers such as `arena`).
pub const MAX_GAME_NAME_BYTES: usize = 32;

/// Longest game input payload an [`Input`] may carry on the wire, in bytes; the decoder refuses
/// a longer length prefix before reading any of the payload. Room for a richer game's input
/// than arena's 4 bytes, small enough that a flood of inputs costs the server little.
pub const MAX_INPUT_PAYLOAD_BYTES: usize = 64;

/// The credential that lets a client resume its seat after a dropped connection.
///
/// The ids say which seat; only the secret (OS randomness, compared in constant time) proves
/// ownership of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionToken {
    /// The match the seat belongs to.
    pub match_id: u64,
    /// The player that owns the seat.
    pub player_id: u32,
    /// 128 random bits issued with the Welcome.
    pub secret: [u8; SESSION_SECRET_LEN],
}

/// What a Hello asks to join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinTarget {
    /// Any open match with room; the server creates one when none has room.
    Any,
    /// One match by id, as placed by a matchmaker.
    Match(u64),
    /// Watch a match by id without a seat.
    Spectate(u64),
    /// Take a seat the cluster matchmaker reserved: the cluster match id and the single-use
    /// reservation token from the matchmaker's answer (cluster mode only).
    Reserved {
        /// The cluster match id from the reservation.
        match_id: u64,
        /// The reservation's random single-use token.
        token: [u8; RESERVATION_TOKEN_LEN],
    },
}

/// Length in bytes of a matchmaker reservation token ([`JoinTarget::Reserved`]).
pub const RESERVATION_TOKEN_LEN: usize = 16;

/// The first message of every connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`crate::PROTOCOL_VERSION`].
    pub version: u16,
    /// The game to join, at most [`MAX_GAME_NAME_BYTES`] bytes; `None` joins the server's
    /// default game.
    #[serde(deserialize_with = "game_name::deserialize_opt")]
    pub game: Option<String>,
    /// CRC-32 of the replication schema the client was built for ([`crate::schema::Schema::hash`]);
    /// `None` when the client does not check (it reads the schema the server serves).
    pub schema_hash: Option<u32>,
    /// Display name (at most [`MAX_NAME_BYTES`] bytes are kept).
    pub name: String,
    /// Present to resume a seat after a dropped connection; `join` is then ignored.
    pub session: Option<SessionToken>,
    /// Which match to join when not resuming.
    pub join: JoinTarget,
}

/// One tick's worth of player input, also carrying the client's acknowledgement.
///
/// On the wire `seq` and `ack` are the engine's framing and the rest is the game's input as a
/// length-prefixed byte string of at most [`MAX_INPUT_PAYLOAD_BYTES`] ([`InputPayload`]). The
/// engine never looks inside the payload: the game decodes it
/// ([`tickwire_sim`'s `Game::decode_input`]), so another game changes only what the bytes hold.
///
/// [`tickwire_sim`'s `Game::decode_input`]: https://docs.rs/tickwire-sim
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Input {
    /// Client sequence number, increasing by one per input; the server applies each at most once.
    pub seq: u32,
    /// Newest state tick the client has applied (0: none yet); deltas are computed against it.
    pub ack: u32,
    /// The game's input bytes (arena: `move_x`, `move_y`, `aim`, `buttons`).
    pub payload: InputPayload,
}

/// A game's input bytes, at most [`MAX_INPUT_PAYLOAD_BYTES`], held inline so an [`Input`] is
/// `Copy` and decoding one allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputPayload {
    /// The bytes; only the first `len` are the payload, the rest are zero.
    buf: [u8; MAX_INPUT_PAYLOAD_BYTES],
    /// The payload's length, at most [`MAX_INPUT_PAYLOAD_BYTES`].
    len: u8,
}

impl InputPayload {
    /// The payload of `bytes`; `None` when longer than [`MAX_INPUT_PAYLOAD_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<InputPayload> {
        let mut buf = [0; MAX_INPUT_PAYLOAD_BYTES];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(InputPayload {
            buf,
            len: u8::try_from(bytes.len()).ok()?,
        })
    }

    /// The payload's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl Default for InputPayload {
    /// The empty payload.
    fn default() -> InputPayload {
        InputPayload {
            buf: [0; MAX_INPUT_PAYLOAD_BYTES],
            len: 0,
        }
    }
}

impl fmt::Debug for InputPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InputPayload({:02x?})", self.as_bytes())
    }
}

impl<const N: usize> From<[u8; N]> for InputPayload {
    /// A payload of a game's fixed-size input encoding. Panics at compile time's first use
    /// when `N` is over [`MAX_INPUT_PAYLOAD_BYTES`], a bug in the game, never in a peer.
    fn from(bytes: [u8; N]) -> InputPayload {
        const { assert!(N <= MAX_INPUT_PAYLOAD_BYTES) };
        InputPayload::new(&bytes).unwrap_or_default()
    }
}

impl Serialize for InputPayload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

/// Messages from a client to the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMsg {
    /// Join or resume; must be the first message and is only accepted once.
    Hello(Hello),
    /// Player input for one tick (players only).
    Input(Input),
    /// Acknowledges the newest applied state tick without sending input (spectators, idle clients).
    Ack {
        /// Newest state tick applied.
        tick: u32,
    },
    /// Round-trip probe; the server answers with [`ServerMsg::Pong`] carrying the same value.
    Ping {
        /// Opaque to the server, typically the client's clock in microseconds.
        client_time: u64,
    },
    /// Leaves the match for good (the seat is freed at once, no grace period).
    Leave,
    /// One line of in-match chat; the match answers [`ServerMsg::Chat`] to everyone who hears
    /// it, or [`ServerMsg::ChatRefused`] to the sender.
    Chat {
        /// The line, UTF-8; cleaned by the server and cut to its configured length.
        text: String,
    },
    /// Stops (or resumes) delivering one player's chat lines to this client.
    Mute {
        /// The player whose lines this client no longer wants.
        player: u32,
        /// True to mute, false to unmute.
        muted: bool,
    },
    /// A game-defined request beside the per-tick inputs (pick a team, an emote): the match
    /// hands it to the game at the start of the next tick and answers [`ServerMsg::Reply`] or
    /// [`ServerMsg::RequestRefused`] with the same `id` (players only).
    Request {
        /// Chosen by the client and echoed in the answer, so answers can be matched to requests.
        id: u32,
        /// The game's bytes. The wire bounds them only by the message limit; the engine refuses
        /// a payload over its request bound with [`RequestRefusalReason::TooLarge`].
        #[serde(deserialize_with = "bounded_vec::deserialize")]
        payload: Vec<u8>,
    },
}

/// A wall of the map: an axis-aligned box in world units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallRect {
    /// Left edge, world units.
    pub x: i32,
    /// Top edge, world units.
    pub y: i32,
    /// Width, world units.
    pub w: i32,
    /// Height, world units.
    pub h: i32,
}

/// The static map of a match, sent once in the Welcome so clients can draw and predict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapInfo {
    /// Map name.
    pub name: String,
    /// Arena width, world units.
    pub width: u32,
    /// Arena height, world units.
    pub height: u32,
    /// Solid walls.
    #[serde(deserialize_with = "bounded_vec::deserialize")]
    pub walls: Vec<WallRect>,
}

/// The server's answer to an accepted Hello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's protocol version.
    pub version: u16,
    /// The game joined, at most [`MAX_GAME_NAME_BYTES`] bytes.
    #[serde(deserialize_with = "game_name::deserialize")]
    pub game: String,
    /// CRC-32 of the game's replication schema, the hash `/schema.json` serves.
    pub schema_hash: u32,
    /// This client's player id in the match (0 for a spectator).
    pub player_id: u32,
    /// The entity this player controls (0 for a spectator).
    pub entity_id: u32,
    /// The match joined.
    pub match_id: u64,
    /// Simulation ticks per second.
    pub tick_rate: u16,
    /// The match's current tick.
    pub tick: u32,
    /// Token to resume this seat after a dropped connection (all zero for a spectator).
    pub session: SessionToken,
    /// True when this Welcome resumed an existing seat.
    pub resumed: bool,
    /// The map being played.
    pub map: MapInfo,
}

/// Why a Hello was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RejectReason {
    /// The Hello's protocol version is not the server's.
    VersionMismatch,
    /// The requested match (or every match, with the server at its match cap) is full.
    Full,
    /// No match with the requested id exists.
    NoSuchMatch,
    /// The session token does not match any seat.
    BadSession,
    /// The session's seat was freed when its grace period ran out.
    SeatExpired,
    /// The server is shutting down and takes no new players.
    Draining,
    /// The first message was not a valid Hello.
    Malformed,
    /// The client's IP address holds its maximum of seats (seats kept for a reconnect count)
    /// or joins faster than the server allows; the message says which.
    AddressLimit,
    /// The seat reservation is unknown, already used, expired, or for another instance.
    BadReservation,
    /// The session's seat lives on another instance of the cluster; the message is exactly
    /// that instance's WebSocket URL.
    SeatElsewhere,
    /// The session's seat was on an instance of the cluster that is gone; matchmake again.
    InstanceGone,
    /// The cluster directory (Redis) cannot be reached, so a reservation or a session from
    /// another instance cannot be checked; retry later.
    ClusterUnavailable,
    /// The Hello names a game this server does not host; the message names the ones it does.
    UnknownGame,
    /// The Hello's schema hash is not the hash of the game's schema; the message gives the
    /// server's hash and the client's.
    SchemaMismatch,
}

impl RejectReason {
    /// Every reason, in wire order.
    pub const ALL: [RejectReason; 14] = [
        Self::VersionMismatch,
        Self::Full,
        Self::NoSuchMatch,
        Self::BadSession,
        Self::SeatExpired,
        Self::Draining,
        Self::Malformed,
        Self::AddressLimit,
        Self::BadReservation,
        Self::SeatElsewhere,
        Self::InstanceGone,
        Self::ClusterUnavailable,
        Self::UnknownGame,
        Self::SchemaMismatch,
    ];

    /// The reason as a snake_case metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::VersionMismatch => "version_mismatch",
            Self::Full => "full",
            Self::NoSuchMatch => "no_such_match",
            Self::BadSession => "bad_session",
            Self::SeatExpired => "seat_expired",
            Self::Draining => "draining",
            Self::Malformed => "malformed",
            Self::AddressLimit => "address_limit",
            Self::BadReservation => "bad_reservation",
            Self::SeatElsewhere => "seat_elsewhere",
            Self::InstanceGone => "instance_gone",
            Self::ClusterUnavailable => "cluster_unavailable",
            Self::UnknownGame => "unknown_game",
            Self::SchemaMismatch => "schema_mismatch",
        }
    }
}

/// A refused Hello; the connection is closed right after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// Human-readable explanation.
    pub message: String,
}

/// The phase a match is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Warm-up: players move and shoot but nothing scores until enough players joined.
    #[default]
    Waiting,
    /// The scored part of the match.
    Running,
    /// Over: results are final.
    Ended,
}

/// The per-client header of a state frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameHeader {
    /// The simulation tick this frame describes.
    pub tick: u32,
    /// `tick - baseline tick`; 0 means a full snapshot (start from an empty world).
    pub baseline_age: u32,
    /// Sequence number of the newest input of this client the simulation has applied.
    pub last_input: u32,
    /// Current match phase.
    pub phase: Phase,
    /// Ticks left in the current phase (0 when open-ended).
    pub phase_ticks_left: u32,
}

/// One state frame: the header for this client plus the packed delta body from its
/// acknowledged baseline.
///
/// The body is kept as bytes: only the game's schema can read it, against the client's
/// baseline ([`crate::schema::rows::RowReplica::apply_body`]), so the message layer carries it
/// undecoded. On the wire it is one length-prefixed byte string (see `PROTOCOL.md`, "Delta
/// body", and [`crate::schema::body`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFrame {
    /// Per-client header.
    pub header: FrameHeader,
    /// The packed delta body, as [`crate::schema::body::encode`] writes it.
    #[serde(deserialize_with = "bounded_vec::deserialize")]
    pub body: Vec<u8>,
}

/// A scoring player's line in the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerResult {
    /// Player id.
    pub player_id: u32,
    /// Display name.
    pub name: String,
    /// Final score.
    pub score: u32,
    /// Kills made.
    pub kills: u32,
    /// Deaths suffered.
    pub deaths: u32,
}

/// Why a match ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EndReason {
    /// The running phase's time ran out.
    TimeLimit,
    /// A player reached the score limit.
    ScoreLimit,
    /// An operator ended it.
    Admin,
    /// The server shut down.
    Shutdown,
    /// Every player left.
    Abandoned,
    /// The simulation failed; results are partial.
    Aborted,
}

/// The final table of a match, sent reliably before the connection closes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchResults {
    /// The match.
    pub match_id: u64,
    /// Why it ended.
    pub reason: EndReason,
    /// Ticks simulated.
    pub ticks: u32,
    /// Every player that held a seat at the end, best score first.
    #[serde(deserialize_with = "bounded_vec::deserialize")]
    pub players: Vec<PlayerResult>,
}

/// Discrete game events, sent reliably.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GameEvent {
    /// One player's projectile killed another player.
    Kill {
        /// Killer's player id.
        killer: u32,
        /// Victim's player id.
        victim: u32,
        /// Killer's entity: what a client sees of the killer (its name, where it is). A
        /// player's entity id is fixed for the whole match.
        killer_entity: u32,
        /// Victim's entity.
        victim_entity: u32,
    },
    /// The match moved to a new phase.
    PhaseChanged {
        /// The new phase.
        phase: Phase,
        /// Ticks the phase lasts (0 when open-ended).
        ticks: u32,
    },
    /// A player showed an emote (arena's one request), seen by every client.
    Emote {
        /// The sender's player id.
        player: u32,
        /// Which emote, `0..arena's emote count`.
        kind: u8,
    },
    /// An event of a game other than arena, in the game's own bytes (soccer: a goal, a team
    /// change, a kickoff); the game's client decodes them.
    Game {
        /// The game's bytes.
        #[serde(deserialize_with = "bounded_vec::deserialize")]
        payload: Vec<u8>,
    },
}

/// Messages from the server to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// The Hello was accepted.
    Welcome(Welcome),
    /// The Hello was refused; a close follows.
    Reject(Reject),
    /// One tick of world state (latest-wins: a client may not see every tick).
    State(StateFrame),
    /// Answer to [`ClientMsg::Ping`].
    Pong {
        /// The value the client sent.
        client_time: u64,
        /// The match tick when the ping was answered.
        server_tick: u32,
    },
    /// A game event.
    Event(GameEvent),
    /// The match is over; a normal close follows.
    MatchEnded(MatchResults),
    /// One line of in-match chat, in the order the match accepted them.
    Chat(ChatLine),
    /// The client's last [`ClientMsg::Chat`] was not delivered.
    ChatRefused(ChatRefusal),
    /// The game's answer to this client's [`ClientMsg::Request`] `id`, sent in tick order.
    Reply {
        /// The request's id, as the client chose it.
        id: u32,
        /// The game's bytes (may be empty).
        #[serde(deserialize_with = "bounded_vec::deserialize")]
        payload: Vec<u8>,
    },
    /// This client's [`ClientMsg::Request`] was not handled, or the game said no.
    RequestRefused(RequestRefusal),
}

/// Why a request was not answered with a [`ServerMsg::Reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestRefusalReason {
    /// The payload is not a request of this game; the message says why.
    Malformed,
    /// The payload is longer than the engine accepts; the limit (bytes) is in the refusal.
    TooLarge,
    /// The sender sends faster than the match allows; retry after the given milliseconds.
    RateLimited,
    /// The game refused the request; the message is the game's short reason.
    Refused,
    /// Only a seated player may send requests (spectators may not).
    NotPlayer,
}

impl RequestRefusalReason {
    /// Every reason, in wire order.
    pub const ALL: [RequestRefusalReason; 5] = [
        Self::Malformed,
        Self::TooLarge,
        Self::RateLimited,
        Self::Refused,
        Self::NotPlayer,
    ];

    /// The reason as a snake_case metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Refused => "refused",
            Self::NotPlayer => "not_player",
        }
    }
}

/// A refused request; the connection stays open unless the sender floods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRefusal {
    /// The request's id, as the client chose it.
    pub id: u32,
    /// Machine-readable reason.
    pub reason: RequestRefusalReason,
    /// For [`RequestRefusalReason::TooLarge`], the longest payload accepted in bytes; for
    /// [`RequestRefusalReason::RateLimited`], milliseconds until the next request is accepted;
    /// 0 otherwise.
    pub limit: u32,
    /// For [`RequestRefusalReason::Refused`] the game's short reason, for
    /// [`RequestRefusalReason::Malformed`] the decoder's; empty otherwise.
    pub message: String,
}

/// One accepted line of in-match chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// Position of the line in the match's chat, from 1, without gaps: a client that sees a gap
    /// missed a line (lines of players it muted are the only ones skipped on purpose).
    pub seq: u32,
    /// Match tick at which the line was accepted.
    pub tick: u32,
    /// The sender's player id; 0 for a spectator.
    pub from: u32,
    /// The sender's display name at the time.
    pub name: String,
    /// The cleaned, filtered text.
    pub text: String,
}

/// Why a chat line was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatRefusalReason {
    /// Chat is switched off for this match.
    Disabled,
    /// Nothing was left of the line after cleaning.
    Empty,
    /// The line is longer than the match allows; the limit is in the refusal.
    TooLong,
    /// The sender sends faster than the match allows; retry after the given time.
    RateLimited,
    /// An operator muted this player's chat.
    Silenced,
    /// Spectators may read but not send in this match.
    Spectator,
}

impl ChatRefusalReason {
    /// Every reason, in wire order.
    pub const ALL: [ChatRefusalReason; 6] = [
        Self::Disabled,
        Self::Empty,
        Self::TooLong,
        Self::RateLimited,
        Self::Silenced,
        Self::Spectator,
    ];

    /// The reason as a snake_case metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::RateLimited => "rate_limited",
            Self::Silenced => "silenced",
            Self::Spectator => "spectator",
        }
    }
}

/// A refused chat line; the connection stays open unless the sender floods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRefusal {
    /// Machine-readable reason.
    pub reason: ChatRefusalReason,
    /// For [`ChatRefusalReason::TooLong`], the longest line accepted in bytes of UTF-8; for
    /// [`ChatRefusalReason::RateLimited`], milliseconds until the next line is accepted; 0
    /// otherwise.
    pub limit: u32,
}

/// The wire form of [`Input`]: `seq`, `ack`, then the payload as a byte string.
impl Serialize for Input {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.seq)?;
        t.serialize_element(&self.ack)?;
        t.serialize_element(&self.payload)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Input, D::Error> {
        /// Reads `seq`, `ack` and the bounded payload.
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Input;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an input: seq, ack and the game's payload")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
                let missing = |i| A::Error::invalid_length(i, &self);
                let n: u32 = seq.next_element()?.ok_or_else(|| missing(0))?;
                let ack: u32 = seq.next_element()?.ok_or_else(|| missing(1))?;
                let payload: InputPayload = seq.next_element()?.ok_or_else(|| missing(2))?;
                Ok(Input {
                    seq: n,
                    ack,
                    payload,
                })
            }
        }
        d.deserialize_tuple(3, Fields)
    }
}

impl<'de> Deserialize<'de> for InputPayload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<InputPayload, D::Error> {
        /// Reads the byte string as a sequence of bytes (the same encoding, as for a state body),
        /// refusing a length prefix over the bound before reading any element.
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = InputPayload;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "an input payload of at most {MAX_INPUT_PAYLOAD_BYTES} bytes"
                )
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<InputPayload, E> {
                InputPayload::new(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<InputPayload, A::Error> {
                if let Some(n) = seq.size_hint().filter(|&n| n > MAX_INPUT_PAYLOAD_BYTES) {
                    return Err(A::Error::invalid_length(n, &self));
                }
                let mut p = InputPayload::default();
                while let Some(b) = seq.next_element::<u8>()? {
                    // A format without a length prefix is bounded here instead.
                    let Some(slot) = p.buf.get_mut(usize::from(p.len)) else {
                        return Err(A::Error::invalid_length(usize::from(p.len) + 1, &self));
                    };
                    *slot = b;
                    p.len += 1;
                }
                Ok(p)
            }
        }
        d.deserialize_seq(Bytes)
    }
}

/// Decodes game names, refusing one over [`MAX_GAME_NAME_BYTES`].
mod game_name {
    use serde::de::{Deserialize, Deserializer, Error};

    use super::MAX_GAME_NAME_BYTES;

    fn checked<E: Error>(name: String) -> Result<String, E> {
        if name.len() > MAX_GAME_NAME_BYTES {
            return Err(E::custom(format_args!(
                "game name of {} bytes is over the {MAX_GAME_NAME_BYTES}-byte bound",
                name.len()
            )));
        }
        Ok(name)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        checked(String::deserialize(d)?)
    }

    pub(super) fn deserialize_opt<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        Option::<String>::deserialize(d)?.map(checked).transpose()
    }
}

/// Deserializes a `Vec` like serde does, but trusts its length prefix for at most
/// [`MAX_PREALLOC_BYTES`](bounded_vec::MAX_PREALLOC_BYTES) of capacity.
///
/// serde's own `Vec` reserves up to 1 MiB from the prefix alone, so a 38-byte message claiming
/// 2^60 walls made a client allocate 1 MiB before finding out the bytes were not there. Past
/// the cap the vector grows as elements actually arrive, so memory follows the input, which the
/// codec's byte limit bounds. The wire format is unchanged.
pub(crate) mod bounded_vec {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    /// Most capacity reserved up front from a length prefix, in bytes: a whole list of a busy
    /// snapshot, a sixteenth of what serde would reserve.
    pub(crate) const MAX_PREALLOC_BYTES: usize = 64 * 1024;

    pub(super) fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        d.deserialize_seq(BoundedVec(PhantomData))
    }

    struct BoundedVec<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for BoundedVec<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let cap = MAX_PREALLOC_BYTES / size_of::<T>().max(1);
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(cap));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_reasons_are_all_listed_with_distinct_labels() {
        // Variants are encoded by index, so ALL is complete when its i-th entry decodes from i
        // and index ALL.len() decodes to nothing.
        for (i, reason) in RejectReason::ALL.iter().enumerate() {
            let mut bytes = Vec::new();
            crate::codec::encode_record(reason, &mut bytes).unwrap();
            assert_eq!(bytes, vec![i as u8]);
        }
        let past = [RejectReason::ALL.len() as u8];
        assert!(crate::codec::decode_record::<RejectReason>(&past).is_err());
        let labels: std::collections::BTreeSet<_> =
            RejectReason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), RejectReason::ALL.len());
    }

    #[test]
    fn request_refusal_reasons_are_all_listed_with_distinct_labels() {
        for (i, reason) in RequestRefusalReason::ALL.iter().enumerate() {
            let mut bytes = Vec::new();
            crate::codec::encode_record(reason, &mut bytes).unwrap();
            assert_eq!(bytes, vec![i as u8]);
        }
        let past = [RequestRefusalReason::ALL.len() as u8];
        assert!(crate::codec::decode_record::<RequestRefusalReason>(&past).is_err());
        let labels: std::collections::BTreeSet<_> = RequestRefusalReason::ALL
            .iter()
            .map(|r| r.label())
            .collect();
        assert_eq!(labels.len(), RequestRefusalReason::ALL.len());
    }

    #[test]
    fn a_request_payload_claiming_more_than_it_holds_is_a_decode_error() {
        // Tag 7 (Request), id 1, a length of 2^60 and two bytes: refused without reserving it.
        let bytes = [7, 1, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10, 1, 2];
        assert!(crate::codec::decode_client(&bytes).is_err());
        let ok = crate::codec::encode_client(&ClientMsg::Request {
            id: 1,
            payload: vec![1; 1000],
        })
        .unwrap();
        assert_eq!(ok[..4], [7, 1, 0xfb, 0xe8]);
    }

    fn input_bytes(len_prefix: &[u8], payload: &[u8]) -> Vec<u8> {
        // Tag 1 (Input), seq 7, ack 6, then the payload's length prefix and bytes.
        let mut bytes = vec![1, 7, 6];
        bytes.extend_from_slice(len_prefix);
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn an_input_is_seq_ack_and_a_length_prefixed_payload() {
        let input = Input {
            seq: 7,
            ack: 6,
            payload: [0xff, 0x7f, 64, 1].into(),
        };
        let bytes = crate::codec::encode_client(&ClientMsg::Input(input)).unwrap();
        assert_eq!(bytes, input_bytes(&[4], &[0xff, 0x7f, 64, 1]));
        assert_eq!(
            crate::codec::decode_client(&bytes),
            Ok(ClientMsg::Input(input))
        );
    }

    #[test]
    fn an_input_payload_over_the_bound_is_a_decode_error() {
        let over = MAX_INPUT_PAYLOAD_BYTES + 1;
        let bytes = input_bytes(&[over as u8], &vec![0; over]);
        let err = crate::codec::decode_client(&bytes).unwrap_err();
        assert!(err.to_string().contains("at most 64 bytes"), "{err}");
        // A prefix far past the bound, with nothing behind it, fails on the prefix alone.
        let huge = input_bytes(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0x40], &[]);
        assert!(crate::codec::decode_client(&huge).is_err());
        // Any length within the bound is the game's to judge, and comes back as sent.
        for len in [0usize, 3, 5, MAX_INPUT_PAYLOAD_BYTES] {
            let payload: Vec<u8> = (0..len as u8).collect();
            let bytes = input_bytes(&[len as u8], &payload);
            match crate::codec::decode_client(&bytes) {
                Ok(ClientMsg::Input(i)) => assert_eq!(i.payload.as_bytes(), &payload[..]),
                other => panic!("{len}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_game_name_over_the_bound_is_a_decode_error() {
        let hello = |game: &str| {
            ClientMsg::Hello(Hello {
                version: crate::PROTOCOL_VERSION,
                game: Some(game.into()),
                schema_hash: None,
                name: "ann".into(),
                session: None,
                join: JoinTarget::Any,
            })
        };
        let longest = "g".repeat(MAX_GAME_NAME_BYTES);
        let bytes = crate::codec::encode_client(&hello(&longest)).unwrap();
        assert_eq!(crate::codec::decode_client(&bytes), Ok(hello(&longest)));
        let bytes = crate::codec::encode_client(&hello(&format!("{longest}g"))).unwrap();
        let err = crate::codec::decode_client(&bytes).unwrap_err();
        assert!(err.to_string().contains("32-byte bound"), "{err}");
    }

    #[test]
    fn a_hello_of_any_version_names_its_version() {
        // A version 2 Hello (no game, no schema hash) does not decode as version 3, but its
        // version is still readable, so it can be answered with a version mismatch.
        let v2 = [0, 2, 3, b'a', b'n', b'n', 0, 0];
        assert!(crate::codec::decode_client(&v2).is_err());
        assert_eq!(crate::codec::hello_version(&v2), Some(2));
        assert_eq!(
            crate::codec::hello_version(&[0, 0xfb, 0x2c, 0x01]),
            Some(300)
        );
        assert_eq!(crate::codec::hello_version(&[1, 2, 3]), None, "an Input");
        assert_eq!(crate::codec::hello_version(&[0]), None, "truncated");
        assert_eq!(crate::codec::hello_version(&[]), None);
    }
}
