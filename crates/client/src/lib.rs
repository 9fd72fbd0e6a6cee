//! A Rust game client for tickwire: connects, joins, sends inputs and rebuilds the world from
//! the state deltas it receives. Tests and the load tester play through it; it is also the
//! reference for client authors next to `crates/proto/PROTOCOL.md`.
//!
//! Every client decodes State frames with its game's [`Schema`] into a [`RowReplica`]: an
//! arena client ([`GameClient::join`], [`GameClient::connect`]) with arena's schema, a client
//! of any other game with the one it names ([`GameClient::connect_schema`]).
//! [`GameClient::arena_world`] gives an arena client's world as typed entities.
//!
//! # Layout
//! - [`GameClient`]: one connection's protocol state (Welcome, replica, input sequence).
//! - [`Event`]: what [`GameClient::next_event`] yields.
//! - [`ClientError`]: why a client stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tickwire_arena::EntityState;
use tickwire_arena::schema as arena;
use tickwire_net::NetError;
use tickwire_net::client::{self, Client, ClientConfig, ClientEvent};
use tickwire_proto::PROTOCOL_VERSION;
use tickwire_proto::codec::{self, DecodeError};
use tickwire_proto::msg::{
    ClientMsg, FrameHeader, Hello, Input, InputPayload, JoinTarget, RejectReason, ServerMsg,
    Welcome,
};
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::{FrameError, RowDelta, RowReplica};

/// Why a client stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket layer failed.
    #[error("network: {0}")]
    Net(#[from] NetError),
    /// A server message did not decode.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
    /// A state frame could not be decoded or applied with the game's schema.
    #[error("state frame: {0}")]
    Frame(#[from] FrameError),
    /// The server refused the Hello.
    #[error("rejected ({reason:?}): {message}")]
    Rejected {
        /// Machine-readable reason.
        reason: RejectReason,
        /// Server's explanation.
        message: String,
    },
    /// The server closed the connection.
    #[error("closed with {code}: {reason}")]
    Closed {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// The server sent something out of protocol order.
    #[error("unexpected: {0}")]
    Unexpected(String),
    /// An input payload was longer than an Input message carries.
    #[error("an input payload of {0} bytes is over the protocol's bound")]
    InputTooLong(usize),
    /// Nothing arrived in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// What [`GameClient::next_event`] yields.
#[derive(Debug)]
pub enum Event {
    /// A state frame was applied to the replica.
    State {
        /// Its header.
        header: FrameHeader,
        /// Its size on the wire, bytes.
        bytes: usize,
    },
    /// Any other server message.
    Msg(ServerMsg),
}

/// One connected, joined game client.
pub struct GameClient {
    ws: Client,
    /// The replica in rows of the game's schema.
    rows: RowReplica,
    welcome: Welcome,
    next_seq: u32,
    apply_states: bool,
}

impl std::fmt::Debug for GameClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameClient")
            .field("player_id", &self.welcome.player_id)
            .field("tick", &self.rows.newest_tick())
            .finish_non_exhaustive()
    }
}

/// How long [`GameClient::connect`] waits for the Welcome.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(5);

/// A Hello for protocol version [`PROTOCOL_VERSION`] joining any match of arena, checking the
/// server's schema is the one this client's decoder was built for.
pub fn hello(name: &str) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        game: Some(arena::GAME_NAME.to_owned()),
        schema_hash: Some(arena::schema_hash()),
        name: name.to_owned(),
        session: None,
        join: JoinTarget::Any,
    }
}

impl GameClient {
    /// Connects to `url` as an arena client, sends `hello` and waits for the Welcome; State
    /// frames are decoded with arena's schema.
    pub async fn connect(url: &str, hello: Hello) -> Result<Self, ClientError> {
        Self::connect_with(url, hello, &ClientConfig::default()).await
    }

    /// [`GameClient::connect`] with explicit WebSocket client settings.
    pub async fn connect_with(
        url: &str,
        hello: Hello,
        config: &ClientConfig,
    ) -> Result<Self, ClientError> {
        Self::connect_schema_with(url, hello, arena::arena_schema(), config).await
    }

    /// Connects to `url` as a client of the game `schema` declares: `hello` names that game and
    /// its schema hash, and State frames are decoded with the schema into
    /// [`GameClient::rows`].
    pub async fn connect_schema(
        url: &str,
        hello: Hello,
        schema: Schema,
    ) -> Result<Self, ClientError> {
        let hello = Hello {
            game: Some(schema.name().to_owned()),
            schema_hash: Some(schema.hash()),
            ..hello
        };
        Self::connect_schema_with(url, hello, schema, &ClientConfig::default()).await
    }

    /// Sends `hello` (as given) and waits for the Welcome, decoding frames with `schema`.
    async fn connect_schema_with(
        url: &str,
        hello: Hello,
        schema: Schema,
        config: &ClientConfig,
    ) -> Result<Self, ClientError> {
        let mut ws = client::connect(url, config).await?;
        let asked = (hello.game.clone(), hello.schema_hash);
        ws.send_binary(&encode(&ClientMsg::Hello(hello))?).await?;
        let welcome = tokio::time::timeout(WELCOME_TIMEOUT, async {
            match recv_msg(&mut ws).await? {
                ServerMsg::Welcome(w) => Ok(w),
                ServerMsg::Reject(r) => Err(ClientError::Rejected {
                    reason: r.reason,
                    message: r.message,
                }),
                other => Err(ClientError::Unexpected(format!("{other:?} before Welcome"))),
            }
        })
        .await
        .map_err(|_| ClientError::Timeout("Welcome"))??;
        // A server that accepted the Hello joined what it named; anything else is a server bug
        // this client's decoder must not run into.
        let (game, schema_hash) = asked;
        if game.is_some_and(|g| g != welcome.game)
            || schema_hash.is_some_and(|h| h != welcome.schema_hash)
        {
            return Err(ClientError::Unexpected(format!(
                "Welcome to game {:?} with schema {:08x}, not the one asked for",
                welcome.game, welcome.schema_hash
            )));
        }
        Ok(Self {
            ws,
            rows: RowReplica::new(schema),
            welcome,
            next_seq: 1,
            apply_states: true,
        })
    }

    /// The rebuilt worlds, in rows of the game's schema.
    pub fn rows(&self) -> &RowReplica {
        &self.rows
    }

    /// The newest rebuilt world of an arena client as typed entities (empty before the first
    /// frame; rows that are not arena's are left out, see [`arena::world_of`]).
    pub fn arena_world(&self) -> BTreeMap<u32, EntityState> {
        self.rows.world().map(arena::world_of).unwrap_or_default()
    }

    /// Joins any open match as `name`.
    pub async fn join(url: &str, name: &str) -> Result<Self, ClientError> {
        Self::connect(url, hello(name)).await
    }

    /// The Welcome received.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The game joined, as the Welcome named it.
    pub fn game(&self) -> &str {
        &self.welcome.game
    }

    /// The hash of the joined game's schema, as the Welcome gave it.
    pub fn schema_hash(&self) -> u32 {
        self.welcome.schema_hash
    }

    /// Whether state frames are applied to the replica (true by default). A load-test bot that
    /// only decodes turns it off and acknowledges the frames' ticks instead.
    pub fn set_apply_states(&mut self, apply: bool) {
        self.apply_states = apply;
    }

    /// The tick to acknowledge: the newest applied (or, when not applying, received) tick.
    pub fn ack_tick(&self) -> u32 {
        self.rows.newest_tick().unwrap_or(0)
    }

    /// Sends one input of the game, its `payload` bytes (at most
    /// [`MAX_INPUT_PAYLOAD_BYTES`](tickwire_proto::msg::MAX_INPUT_PAYLOAD_BYTES)), for the next
    /// sequence number, acknowledging [`GameClient::ack_tick`]; returns the sequence number used.
    pub async fn send_input(&mut self, payload: &[u8]) -> Result<u32, ClientError> {
        let payload = InputPayload::new(payload).ok_or(ClientError::InputTooLong(payload.len()))?;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let input = Input {
            seq,
            ack: self.ack_tick(),
            payload,
        };
        self.send(&ClientMsg::Input(input)).await?;
        Ok(seq)
    }

    /// Sends any client message.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), ClientError> {
        self.ws.send_binary(&encode(msg)?).await?;
        Ok(())
    }

    /// The underlying WebSocket client, for sending raw frames in tests.
    pub fn ws(&mut self) -> &mut Client {
        &mut self.ws
    }

    /// Waits for the next server message; state frames are applied to the replica first.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        let bytes = recv_bytes(&mut self.ws).await?;
        match codec::decode_state_raw(&bytes) {
            Some(state) => {
                let (header, body) = state?;
                if self.apply_states {
                    self.rows
                        .apply_body(header.tick, header.baseline_age, body)?;
                } else {
                    // Not decoding the body: an empty world for the tick keeps the ack moving.
                    self.rows
                        .apply(header.tick, 0, &RowDelta::default())
                        .map_err(FrameError::from)?;
                }
                Ok(Event::State {
                    header,
                    bytes: bytes.len(),
                })
            }
            None => Ok(Event::Msg(codec::decode_server(&bytes)?)),
        }
    }

    /// Waits up to `timeout` for the next state frame, returning other messages' errors.
    pub async fn next_state(&mut self, timeout: Duration) -> Result<FrameHeader, ClientError> {
        tokio::time::timeout(timeout, async {
            loop {
                if let Event::State { header, .. } = self.next_event().await? {
                    return Ok(header);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout("a state frame"))?
    }

    /// Gives up the protocol state and returns the joined connection with its Welcome, for
    /// callers that drive the socket themselves: the load tester splits it into a reader and a
    /// writer half ([`Client::split`]) so one task can read frames and send inputs concurrently.
    pub fn into_parts(self) -> (Client, Welcome) {
        (self.ws, self.welcome)
    }

    /// Closes the connection cleanly.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.ws.close(1000, "bye").await?;
        Ok(())
    }
}

fn encode(msg: &ClientMsg) -> Result<Vec<u8>, ClientError> {
    codec::encode_client(msg).map_err(|e| ClientError::Unexpected(e.to_string()))
}

async fn recv_msg(ws: &mut Client) -> Result<ServerMsg, ClientError> {
    Ok(codec::decode_server(&recv_bytes(ws).await?)?)
}

/// The next binary message's bytes.
async fn recv_bytes(ws: &mut Client) -> Result<Bytes, ClientError> {
    loop {
        match ws.recv().await? {
            ClientEvent::Binary(bytes) => return Ok(bytes),
            ClientEvent::Close { code, reason } => {
                return Err(ClientError::Closed { code, reason });
            }
            ClientEvent::Text(t) => {
                return Err(ClientError::Unexpected(format!("text frame {t:?}")));
            }
            ClientEvent::Ping(_) | ClientEvent::Pong(_) => {}
        }
    }
}
