//! One client connection's protocol state machine: Hello, placement, then inputs and
//! acknowledgements forwarded to its match until the connection ends.
//!
//! Bad input closes only this connection, with a code and a reason: 1007 for bytes that do not
//! decode, 1002 for a wrong protocol version, 1008 for messages out of order.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use metrics::counter;
use tickwire_net::{Connection, Message, Outbox};
use tickwire_proto::msg::{ClientMsg, Hello, JoinTarget, RejectReason, ServerMsg};
use tickwire_proto::{PROTOCOL_VERSION, close, codec};
use tokio::sync::oneshot;
use tracing::debug;

use crate::address::{AddressRefusal, SeatClaim};
use crate::games::Games;
use crate::match_loop::{ConnId, Joined, MatchCmd, reject, send_msg};
use crate::rate_limit::RateLimit;
use crate::registry::MatchHandle;
use crate::state::ServerState;
use crate::telemetry::family;

/// Drives one connection from its first message to its end.
pub async fn run(state: Arc<ServerState>, mut conn: Connection) {
    let id = state.next_conn_id();
    let outbox = conn.outbox();
    let hello_timeout = Duration::from_millis(state.config.server.hello_timeout_ms);
    let first = match tokio::time::timeout(hello_timeout, conn.recv()).await {
        Err(_) => {
            outbox.close(
                close::UNEXPECTED_MESSAGE,
                "no Hello within the hello timeout",
            );
            return;
        }
        Ok(Ok(Some(msg))) => msg,
        Ok(_) => return,
    };
    // Boxed: a connection waiting for its Hello then holds only this small future, not the
    // state of placement and play (several KiB, most of an idle connection's memory).
    Box::pin(after_hello(state, id, conn, outbox, first)).await;
}

/// Everything after the first message: the version check, placement, then play.
async fn after_hello(
    state: Arc<ServerState>,
    id: ConnId,
    mut conn: Connection,
    outbox: Outbox,
    first: Message,
) {
    // The version first, from the Hello's first bytes alone: a Hello of another version may
    // not decode as this version's, and its client should hear why.
    if let Message::Binary(bytes) = &first {
        if let Some(version) = codec::hello_version(bytes).filter(|&v| v != PROTOCOL_VERSION) {
            let message = format!(
                "protocol version mismatch: server speaks {PROTOCOL_VERSION}, client sent {version}"
            );
            reject(
                &outbox,
                RejectReason::VersionMismatch,
                &message,
                close::VERSION_MISMATCH,
            );
            return;
        }
    }
    let Some(ClientMsg::Hello(hello)) = decode(&outbox, first) else {
        if !outbox.is_closed() {
            reject(
                &outbox,
                RejectReason::Malformed,
                "the first message must be Hello",
                close::UNEXPECTED_MESSAGE,
            );
        }
        return;
    };
    // A Hello for any match is checked against the game it names (or the default) here; one
    // for a given match or seat, against that match's game once it is found.
    let any_match = hello.session.is_none() && hello.join == JoinTarget::Any;
    let checked = if any_match {
        check_game(&state.games, &hello, None)
    } else {
        Ok(())
    };
    if let Err((reason, message)) = checked {
        reject(&outbox, reason, &message, close::JOIN_REJECTED);
        return;
    }
    let peer = conn.peer().ip();
    let Some((handle, joined)) = place(&state, id, peer, &hello, &outbox).await else {
        return;
    };
    if let (Some(cluster), Some(secret)) = (state.cluster.cluster(), joined.secret) {
        let cluster = cluster.clone();
        tokio::spawn(async move { cluster.record_session(&secret).await });
    }
    debug!(conn = id, match_id = handle.shared.id, player = ?joined.player_id, "client placed");
    serve_client(
        message_cap(
            state.config.server.max_messages_per_sec,
            handle.shared.tick_rate,
        ),
        id,
        &mut conn,
        &outbox,
        &handle,
        joined,
    )
    .await;
    // Gone must reach the match even if its mailbox is momentarily full: it frees the seat.
    let _ = handle.tx.send(MatchCmd::Gone { conn: id }).await;
}

async fn serve_client(
    max_messages_per_sec: u32,
    id: ConnId,
    conn: &mut Connection,
    outbox: &Outbox,
    handle: &MatchHandle,
    joined: Joined,
) {
    let seated = joined.player_id.is_some();
    let mut bucket = RateLimit::new(f64::from(max_messages_per_sec));
    loop {
        let msg = match conn.recv().await {
            Ok(Some(msg)) => msg,
            Ok(None) | Err(_) => return,
        };
        if !bucket.allow(Instant::now()) {
            counter!(family::FLOOD_DISCONNECTS.name).increment(1);
            outbox.close(
                tickwire_net::close::POLICY_VIOLATION,
                "message rate limit exceeded",
            );
            return;
        }
        let Some(msg) = decode(outbox, msg) else {
            return;
        };
        let cmd = match msg {
            ClientMsg::Input(input) if seated => MatchCmd::Input { conn: id, input },
            ClientMsg::Input(input) => MatchCmd::Ack {
                conn: id,
                tick: input.ack,
            },
            ClientMsg::Ack { tick } => MatchCmd::Ack { conn: id, tick },
            ClientMsg::Ping { client_time } => {
                let pong = ServerMsg::Pong {
                    client_time,
                    server_tick: handle.shared.tick.load(Ordering::Acquire),
                };
                if !send_msg(outbox, &pong) {
                    return;
                }
                continue;
            }
            ClientMsg::Leave => {
                let _ = handle.tx.send(MatchCmd::Leave { conn: id }).await;
                return;
            }
            // Chat waits for room in the mailbox rather than being dropped like a late input:
            // a line must arrive, and the message cap bounds how much one client can queue.
            ClientMsg::Chat { text } => {
                if handle
                    .tx
                    .send(MatchCmd::Chat { conn: id, text })
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            // Like chat: a request must be answered, so it waits for room rather than vanish.
            ClientMsg::Request {
                id: request,
                payload,
            } => {
                if handle
                    .tx
                    .send(MatchCmd::Request {
                        conn: id,
                        id: request,
                        payload,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            ClientMsg::Mute { player, muted } => MatchCmd::Mute {
                conn: id,
                player,
                muted,
            },
            ClientMsg::Hello(_) => {
                outbox.close(close::UNEXPECTED_MESSAGE, "Hello sent twice");
                return;
            }
        };
        if handle.tx.try_send(cmd).is_err() {
            // The match is behind or gone; an input dropped here is like one lost in transit.
            counter!(family::INPUT_DROPS.name, "reason" => family::INPUT_DROP_MAILBOX_FULL)
                .increment(1);
            if handle.tx.is_closed() {
                return;
            }
        }
    }
}

/// Messages per second a connection of a match at `tick_rate` may send: the configured cap, but
/// never less than [`MESSAGES_PER_TICK`] per tick, so a client that sends one Input per tick
/// (and pings) as the protocol asks is never closed for it, whatever the match's rate.
fn message_cap(configured: u32, tick_rate: u16) -> u32 {
    configured.max(MESSAGES_PER_TICK * u32::from(tick_rate))
}

/// Messages per tick the message cap always allows: one Input, with as much again for Acks,
/// Pings and catching up after a stall.
const MESSAGES_PER_TICK: u32 = 2;

/// Decodes a client message, closing the connection with a reason when it does not decode.
fn decode(outbox: &Outbox, msg: Message) -> Option<ClientMsg> {
    let bytes: Bytes = match msg {
        Message::Binary(b) => b,
        Message::Text(_) => {
            outbox.close(
                tickwire_net::close::UNSUPPORTED_DATA,
                "text frames are not supported",
            );
            return None;
        }
    };
    match codec::decode_client(&bytes) {
        Ok(msg) => Some(msg),
        Err(e) => {
            counter!(family::DECODE_ERRORS.name).increment(1);
            outbox.close(close::DECODE_ERROR, &format!("undecodable message: {e}"));
            None
        }
    }
}

/// Refuses a Hello that names a game this server does not host, or another game than the
/// match it asks for (`running`, that match's game), or a schema hash other than its game's.
/// A Hello that names no game means the match's game (or, for any match, the default game);
/// one with no schema hash is not checked for it.
fn check_game(games: &Games, hello: &Hello, running: Option<&str>) -> Result<(), Refused> {
    let named = hello.game.as_deref();
    if let (Some(named), Some(running)) = (named, running) {
        if named != running {
            // Debug formatting quotes the name and escapes whatever control characters it has.
            let message = format!("the match runs {running}, not {named:?}");
            return Err((RejectReason::UnknownGame, Cow::Owned(message)));
        }
    }
    let Some(schema) = games.schema(running.or(named)) else {
        let message = format!(
            "unknown game {:?}: this server hosts {}",
            named.unwrap_or_default(),
            games.names()
        );
        return Err((RejectReason::UnknownGame, Cow::Owned(message)));
    };
    let server = schema.hash();
    match hello.schema_hash {
        Some(client) if client != server => {
            let message = format!(
                "schema mismatch: server's {} schema is {server:08x}, client built for {client:08x}",
                schema.name()
            );
            Err((RejectReason::SchemaMismatch, Cow::Owned(message)))
        }
        _ => Ok(()),
    }
}

/// Finds the match for a Hello and waits for the seat; on refusal the Reject has been sent.
async fn place(
    state: &Arc<ServerState>,
    id: ConnId,
    peer: IpAddr,
    hello: &Hello,
    outbox: &Outbox,
) -> Option<(MatchHandle, Joined)> {
    match seat(state, id, peer, hello, outbox).await {
        Ok(placed) => Some(placed),
        Err((reason, message)) => {
            reject(outbox, reason, &message, close::JOIN_REJECTED);
            None
        }
    }
}

/// A refused join: the reason and what the client is told.
type Refused = (RejectReason, Cow<'static, str>);

fn refused(reason: RejectReason, message: &'static str) -> Refused {
    (reason, Cow::Borrowed(message))
}

fn address_refused(refusal: AddressRefusal) -> Refused {
    counter!(family::JOIN_ADDRESS_REFUSALS.name, "reason" => refusal.label()).increment(1);
    (RejectReason::AddressLimit, Cow::Owned(refusal.to_string()))
}

fn lookup(
    state: &ServerState,
    match_id: u64,
    missing: impl FnOnce() -> Refused,
) -> Result<MatchHandle, Refused> {
    state.registry.get(match_id).ok_or_else(missing)
}

async fn seat(
    state: &Arc<ServerState>,
    id: ConnId,
    peer: IpAddr,
    hello: &Hello,
    outbox: &Outbox,
) -> Result<(MatchHandle, Joined), Refused> {
    if state.is_draining() {
        return Err(refused(RejectReason::Draining, "server is shutting down"));
    }
    let no_such_match = || refused(RejectReason::NoSuchMatch, "no such match");
    let claim_seat = || {
        state
            .addresses
            .claim_seat(peer, Instant::now())
            .map_err(address_refused)
    };
    let cluster = state.cluster.cluster().cloned();
    let in_match =
        |handle: &MatchHandle| check_game(&state.games, hello, Some(&handle.shared.game));
    let (handle, result) = if let Some(token) = hello.session {
        let local = state.registry.get(token.match_id);
        if let Some(handle) = &local {
            in_match(handle)?;
        }
        let result = match &local {
            Some(handle) => {
                let (reply, rx) = oneshot::channel();
                let cmd = MatchCmd::Resume {
                    conn: id,
                    token,
                    outbox: outbox.clone(),
                    reply,
                };
                ask(handle, cmd, rx).await
            }
            None => Err(RejectReason::SeatExpired),
        };
        // A session this instance cannot resume may be another instance's.
        if let (Err(_), Some(cluster)) = (&result, &cluster) {
            if let Some((reason, message)) = cluster.locate_session(&token).await {
                return Err((reason, Cow::Owned(message)));
            }
        }
        let Some(handle) = local else {
            return Err(refused(
                RejectReason::SeatExpired,
                "the session's match no longer exists",
            ));
        };
        (handle, result)
    } else {
        match hello.join {
            JoinTarget::Any | JoinTarget::Match(_) if cluster.is_some() => {
                return Err(refused(
                    RejectReason::BadReservation,
                    "this instance is in cluster mode: seats come from the matchmaker (POST /matchmake), joined with JoinTarget::Reserved",
                ));
            }
            JoinTarget::Reserved { match_id, token } => {
                let Some(cluster) = &cluster else {
                    return Err(refused(
                        RejectReason::BadReservation,
                        "this server is not in cluster mode: it issues no reservations",
                    ));
                };
                let mut claim = Some(claim_seat()?);
                let handle = cluster
                    .take_reservation(state, match_id, &token)
                    .await
                    .map_err(|(reason, message)| (reason, Cow::Owned(message)))?;
                in_match(&handle)?;
                if !handle.shared.try_reserve() {
                    return Err(refused(RejectReason::Full, "the reserved match is full"));
                }
                let result = join(&handle, id, hello, outbox, &mut claim).await;
                (handle, result)
            }
            JoinTarget::Any => {
                // A match can end between reservation and join: try a few times (a join that
                // reached a match consumed its claim; a retry claims again).
                let mut claim = None;
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    if claim.is_none() {
                        claim = Some(claim_seat()?);
                    }
                    let handle = state.reserve_seat(hello.game.as_deref()).ok_or_else(|| {
                        refused(
                            RejectReason::Full,
                            "every match is full and the server runs its maximum of matches",
                        )
                    })?;
                    let result = join(&handle, id, hello, outbox, &mut claim).await;
                    if result.is_ok() || attempt >= 3 {
                        break (handle, result);
                    }
                }
            }
            JoinTarget::Match(match_id) => {
                let handle = lookup(state, match_id, no_such_match)?;
                in_match(&handle)?;
                let mut claim = Some(claim_seat()?);
                if !handle.shared.try_reserve() {
                    return Err(refused(RejectReason::Full, "match is full"));
                }
                let result = join(&handle, id, hello, outbox, &mut claim).await;
                (handle, result)
            }
            JoinTarget::Spectate(match_id) => {
                let handle = lookup(state, match_id, no_such_match)?;
                in_match(&handle)?;
                state
                    .addresses
                    .allow_join(peer, Instant::now())
                    .map_err(address_refused)?;
                let (reply, rx) = oneshot::channel();
                let cmd = MatchCmd::Spectate {
                    conn: id,
                    name: tickwire_proto::msg::sanitize_name(&hello.name),
                    outbox: outbox.clone(),
                    reply,
                };
                let result = ask(&handle, cmd, rx).await;
                (handle, result)
            }
        }
    };
    let joined = result.map_err(|reason| {
        let message = match reason {
            RejectReason::BadSession => "session token does not match any seat",
            RejectReason::SeatExpired => "the seat was freed when its grace period ended",
            RejectReason::Full => "match is full",
            RejectReason::NoSuchMatch => "the match ended",
            _ => "join refused",
        };
        refused(reason, message)
    })?;
    Ok((handle, joined))
}

/// Sends the join with the address's seat claim, which travels with it into the seat; a failed
/// join drops it.
async fn join(
    handle: &MatchHandle,
    id: ConnId,
    hello: &Hello,
    outbox: &Outbox,
    claim: &mut Option<SeatClaim>,
) -> Result<Joined, RejectReason> {
    let Some(taken) = claim.take() else {
        return Err(RejectReason::Full);
    };
    let (reply, rx) = oneshot::channel();
    let cmd = MatchCmd::Join {
        conn: id,
        name: hello.name.clone(),
        outbox: outbox.clone(),
        claim: taken,
        reply,
    };
    let result = ask(handle, cmd, rx).await;
    if result.is_err() && handle.tx.is_closed() {
        // The match ended before reading the join; its reservation died with it.
        return Err(RejectReason::NoSuchMatch);
    }
    result
}

async fn ask(
    handle: &MatchHandle,
    cmd: MatchCmd,
    rx: oneshot::Receiver<Result<Joined, RejectReason>>,
) -> Result<Joined, RejectReason> {
    if handle.tx.send(cmd).await.is_err() {
        return Err(RejectReason::NoSuchMatch);
    }
    rx.await.unwrap_or(Err(RejectReason::NoSuchMatch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(game: Option<&str>, schema_hash: Option<u32>) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            game: game.map(str::to_owned),
            schema_hash,
            name: "ann".into(),
            session: None,
            join: JoinTarget::Any,
        }
    }

    #[test]
    fn a_hello_must_name_a_hosted_game_and_its_schema_or_nothing() {
        let games = crate::games::builtin(&crate::Config::default()).unwrap();
        let check_game = |hello: &Hello| check_game(&games, hello, None);
        let hash = tickwire_arena::schema::schema_hash();
        assert!(check_game(&hello(None, None)).is_ok());
        assert!(check_game(&hello(Some("arena"), Some(hash))).is_ok());
        let (reason, message) = check_game(&hello(Some("chess\n"), None)).unwrap_err();
        assert_eq!(reason, RejectReason::UnknownGame);
        assert_eq!(
            message,
            "unknown game \"chess\\n\": this server hosts arena, soccer"
        );
        let (reason, message) = check_game(&hello(None, Some(0))).unwrap_err();
        assert_eq!(reason, RejectReason::SchemaMismatch);
        assert_eq!(
            message,
            format!(
                "schema mismatch: server's arena schema is {hash:08x}, client built for 00000000"
            )
        );
        // The game is checked first: an unknown game has no schema to compare with.
        let (reason, _) = check_game(&hello(Some("chess"), Some(0))).unwrap_err();
        assert_eq!(reason, RejectReason::UnknownGame);
        // A given match is checked against its own game.
        let (reason, message) =
            super::check_game(&games, &hello(Some("arena"), None), Some("soccer")).unwrap_err();
        assert_eq!(reason, RejectReason::UnknownGame);
        assert_eq!(message, "the match runs soccer, not \"arena\"");
    }

    #[test]
    fn the_message_cap_follows_the_tick_rate() {
        assert_eq!(
            message_cap(120, 30),
            120,
            "the configured cap when it is higher"
        );
        assert_eq!(
            message_cap(120, 240),
            480,
            "two messages per tick at 240 Hz"
        );
        assert_eq!(message_cap(1000, 240), 1000);
    }
}
