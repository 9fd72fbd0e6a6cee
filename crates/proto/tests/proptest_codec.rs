//! Property tests of the decoders: any bytes at all are refused or accepted without a panic,
//! oversized input is refused before decoding, and every valid message survives a round trip.
//!
//! The delta diff/apply round trip has its own property tests in `tests/schema_random.rs`;
//! the bound on what a decode may allocate is measured in `tests/decode_alloc.rs`.

mod arena_view;
mod common;

use arena_view::{Delta, EntityUpdate, SCHEMA, frame};
use common::varint;
use std::collections::BTreeSet;

use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::codec::{
    self, CLIENT_MSG_LIMIT, DecodeError, SERVER_MSG_LIMIT, decode_client, decode_server,
};
use tickwire_proto::msg::{
    ChatLine, ChatRefusal, ChatRefusalReason, ClientMsg, EndReason, FrameHeader, GameEvent, Hello,
    Input, InputPayload, JoinTarget, MAX_GAME_NAME_BYTES, MAX_INPUT_PAYLOAD_BYTES, MapInfo,
    MatchResults, Phase, PlayerResult, Reject, RejectReason, ServerMsg, SessionToken, StateFrame,
    WallRect, Welcome,
};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::RowReplica;

// ---- strategies -------------------------------------------------------------------------

/// Any Unicode text of up to `max` chars (so up to 4 × `max` bytes).
fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max).prop_map(String::from_iter)
}

/// A game name within [`MAX_GAME_NAME_BYTES`] (up to 8 chars of up to 4 bytes).
fn game_name() -> impl Strategy<Value = String> {
    text(MAX_GAME_NAME_BYTES / 4)
}

fn token() -> impl Strategy<Value = SessionToken> {
    (any::<u64>(), any::<u32>(), any::<[u8; 16]>()).prop_map(|(match_id, player_id, secret)| {
        SessionToken {
            match_id,
            player_id,
            secret,
        }
    })
}

fn join_target() -> impl Strategy<Value = JoinTarget> {
    prop_oneof![
        Just(JoinTarget::Any),
        any::<u64>().prop_map(JoinTarget::Match),
        any::<u64>().prop_map(JoinTarget::Spectate),
        (any::<u64>(), any::<[u8; 16]>())
            .prop_map(|(match_id, token)| JoinTarget::Reserved { match_id, token }),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    (
        any::<(u32, u32)>(),
        vec(any::<u8>(), 0..=MAX_INPUT_PAYLOAD_BYTES),
    )
        .prop_map(|((seq, ack), payload)| Input {
            seq,
            ack,
            payload: InputPayload::new(&payload).expect("within the bound"),
        })
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (
            any::<u16>(),
            option::of(game_name()),
            option::of(any::<u32>()),
            text(40),
            option::of(token()),
            join_target()
        )
            .prop_map(|(version, game, schema_hash, name, session, join)| {
                ClientMsg::Hello(Hello {
                    version,
                    game,
                    schema_hash,
                    name,
                    session,
                    join,
                })
            }),
        input().prop_map(ClientMsg::Input),
        any::<u32>().prop_map(|tick| ClientMsg::Ack { tick }),
        any::<u64>().prop_map(|client_time| ClientMsg::Ping { client_time }),
        Just(ClientMsg::Leave),
        text(300).prop_map(|text| ClientMsg::Chat { text }),
        any::<(u32, bool)>().prop_map(|(player, muted)| ClientMsg::Mute { player, muted }),
    ]
}

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Waiting),
        Just(Phase::Running),
        Just(Phase::Ended)
    ]
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        phase(),
        any::<u32>(),
    )
        .prop_map(
            |(tick, baseline_age, last_input, phase, phase_ticks_left)| FrameHeader {
                tick,
                baseline_age,
                last_input,
                phase,
                phase_ticks_left,
            },
        )
}

fn entity(id: u32) -> impl Strategy<Value = EntityState> {
    (
        any::<bool>(),
        any::<(i32, i32)>(),
        any::<(i32, i32)>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
        text(6), // at most 24 bytes: MAX_NAME_BYTES
    )
        .prop_map(
            move |(projectile, (x, y), (vx, vy), aim, hp, score, flags, owner, name)| EntityState {
                id,
                kind: if projectile {
                    EntityKind::Projectile
                } else {
                    EntityKind::Player
                },
                x,
                y,
                vx,
                vy,
                aim,
                hp,
                score,
                flags,
                owner,
                name,
            },
        )
}

/// A velocity change or residual: (0, 0) is sent as an absent field.
fn nonzero_pair() -> impl Strategy<Value = (i32, i32)> {
    any::<(i32, i32)>().prop_filter("(0, 0) is sent as absent", |p| *p != (0, 0))
}

/// An update with at least one field set: the wire format has no empty update.
fn update(index: u32) -> impl Strategy<Value = EntityUpdate> {
    (
        option::of(nonzero_pair()),
        option::of(nonzero_pair()),
        option::of(any::<u8>()),
        option::of(any::<u8>()),
        option::of(any::<(u32, u8)>()),
        any::<u8>(),
    )
        .prop_map(
            move |(vel_delta, pos_residual, aim, hp, misc, fallback_hp)| {
                let mut u = EntityUpdate {
                    index,
                    vel_delta,
                    pos_residual,
                    aim,
                    hp,
                    misc,
                };
                if u.is_empty() {
                    u.hp = Some(fallback_hp);
                }
                u
            },
        )
}

/// Ids and indices are sets, so every list comes out strictly ascending as the format
/// requires; 0 is never an entity id (but is a valid baseline index).
fn ids(min: u32, max: usize) -> impl Strategy<Value = BTreeSet<u32>> {
    btree_set(min.., 0..=max)
}

fn delta() -> impl Strategy<Value = Delta> {
    (ids(0, 12), ids(1, 8), ids(0, 16))
        .prop_flat_map(|(removed, created, updated)| {
            let created: Vec<_> = created
                .into_iter()
                .map(|id| (entity(id), any::<bool>()))
                .collect();
            let updated: Vec<_> = updated.into_iter().map(update).collect();
            (Just(removed.into_iter().collect()), created, updated)
        })
        .prop_map(|(removed, created, updated)| {
            // Some creates leave their name out, as for a client that already holds it.
            let mut names_elided = Vec::new();
            let created = created
                .into_iter()
                .map(|(mut e, elide)| {
                    if elide {
                        e.name.clear();
                        names_elided.push(e.id);
                    }
                    e
                })
                .collect();
            Delta {
                removed,
                created,
                updated,
                names_elided,
            }
        })
}

fn state_frame() -> impl Strategy<Value = StateFrame> {
    (header(), delta()).prop_map(|(header, delta)| frame(header, &delta))
}

fn map_info() -> impl Strategy<Value = MapInfo> {
    (
        text(16),
        any::<u32>(),
        any::<u32>(),
        vec(any::<(i32, i32, i32, i32)>(), 0..8),
    )
        .prop_map(|(name, width, height, walls)| MapInfo {
            name,
            width,
            height,
            walls: walls
                .into_iter()
                .map(|(x, y, w, h)| WallRect { x, y, w, h })
                .collect(),
        })
}

fn welcome() -> impl Strategy<Value = Welcome> {
    (
        any::<(u16, u32, u32, u64, u16, u32)>(),
        (game_name(), any::<u32>()),
        token(),
        any::<bool>(),
        map_info(),
    )
        .prop_map(
            |(
                (version, player_id, entity_id, match_id, tick_rate, tick),
                (game, schema_hash),
                session,
                resumed,
                map,
            )| {
                Welcome {
                    version,
                    game,
                    schema_hash,
                    player_id,
                    entity_id,
                    match_id,
                    tick_rate,
                    tick,
                    session,
                    resumed,
                    map,
                }
            },
        )
}

fn reject_reason() -> impl Strategy<Value = RejectReason> {
    prop_oneof![
        Just(RejectReason::VersionMismatch),
        Just(RejectReason::Full),
        Just(RejectReason::NoSuchMatch),
        Just(RejectReason::BadSession),
        Just(RejectReason::SeatExpired),
        Just(RejectReason::Draining),
        Just(RejectReason::Malformed),
        Just(RejectReason::AddressLimit),
        Just(RejectReason::BadReservation),
        Just(RejectReason::SeatElsewhere),
        Just(RejectReason::InstanceGone),
        Just(RejectReason::ClusterUnavailable),
        Just(RejectReason::UnknownGame),
        Just(RejectReason::SchemaMismatch),
    ]
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        Just(EndReason::TimeLimit),
        Just(EndReason::ScoreLimit),
        Just(EndReason::Admin),
        Just(EndReason::Shutdown),
        Just(EndReason::Abandoned),
        Just(EndReason::Aborted),
    ]
}

fn results() -> impl Strategy<Value = MatchResults> {
    let player = (any::<(u32, u32, u32, u32)>(), text(12)).prop_map(
        |((player_id, score, kills, deaths), name)| PlayerResult {
            player_id,
            name,
            score,
            kills,
            deaths,
        },
    );
    (any::<u64>(), end_reason(), any::<u32>(), vec(player, 0..6)).prop_map(
        |(match_id, reason, ticks, players)| MatchResults {
            match_id,
            reason,
            ticks,
            players,
        },
    )
}

fn server_msg() -> impl Strategy<Value = ServerMsg> {
    prop_oneof![
        1 => welcome().prop_map(ServerMsg::Welcome),
        1 => (reject_reason(), text(40))
            .prop_map(|(reason, message)| ServerMsg::Reject(Reject { reason, message })),
        // Weighted up: the state frame is the message with the most structure.
        3 => state_frame().prop_map(ServerMsg::State),
        1 => any::<(u64, u32)>().prop_map(|(client_time, server_tick)| ServerMsg::Pong {
            client_time,
            server_tick
        }),
        1 => prop_oneof![
            any::<(u32, u32, u32, u32)>().prop_map(
                |(killer, victim, killer_entity, victim_entity)| GameEvent::Kill {
                    killer,
                    victim,
                    killer_entity,
                    victim_entity,
                }
            ),
            (phase(), any::<u32>()).prop_map(|(phase, ticks)| GameEvent::PhaseChanged {
                phase,
                ticks
            }),
        ]
        .prop_map(ServerMsg::Event),
        1 => results().prop_map(ServerMsg::MatchEnded),
        1 => (any::<(u32, u32, u32)>(), text(24), text(300)).prop_map(
            |((seq, tick, from), name, text)| ServerMsg::Chat(ChatLine { seq, tick, from, name, text })
        ),
        1 => (prop::sample::select(ChatRefusalReason::ALL.to_vec()), any::<u32>())
            .prop_map(|(reason, limit)| ServerMsg::ChatRefused(ChatRefusal { reason, limit })),
    ]
}

/// Overwrites, inserts or removes bytes of `bytes`, each edit at a position chosen by an index.
fn mutate(bytes: &mut Vec<u8>, edits: &[(u8, prop::sample::Index, u8)]) {
    for (kind, at, value) in edits {
        match kind % 3 {
            0 if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
            1 => {
                let i = at.index(bytes.len() + 1);
                bytes.insert(i, *value);
            }
            _ if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes.remove(i);
            }
            _ => {}
        }
    }
}

// ---- checks applied to whatever decoded -------------------------------------------------

/// Anything the client decoder accepts encodes again and decodes to the same message.
fn accepted_client_is_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(msg) = decode_client(bytes) {
        let again = codec::encode_client(&msg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode_client(&again), Ok(msg));
    }
    Ok(())
}

/// Anything the server decoder accepts encodes again and decodes to the same message, and a
/// decoded state frame can be handed to a replica (which may refuse it, but must not panic).
fn accepted_server_is_stable(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(msg) = decode_server(bytes) {
        let again = codec::encode_server(&msg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode_server(&again), Ok(msg.clone()));
        if let ServerMsg::State(frame) = &msg {
            let replica = &mut RowReplica::new(SCHEMA.clone());
            let _ = replica.apply_body(frame.header.tick, frame.header.baseline_age, &frame.body);
        }
    }
    Ok(())
}

// ---- properties -------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
        accepted_client_is_stable(&bytes)?;
        accepted_server_is_stable(&bytes)?;
    }

    #[test]
    fn every_client_message_round_trips(msg in client_msg()) {
        let bytes = codec::encode_client(&msg).expect("valid messages encode");
        prop_assert!(bytes.len() <= CLIENT_MSG_LIMIT);
        prop_assert_eq!(decode_client(&bytes), Ok(msg));
    }

    #[test]
    fn every_server_message_round_trips(msg in server_msg()) {
        let bytes = codec::encode_server(&msg).expect("valid messages encode");
        prop_assert_eq!(decode_server(&bytes), Ok(msg.clone()));
        // The server's shared-delta path produces the very same bytes from the decoded delta.
        if let ServerMsg::State(frame) = &msg {
            let rows = body::decode(&SCHEMA, &frame.body, |_| Some(0)).expect("a valid body");
            let mut delta = Vec::new();
            codec::encode_rows(&SCHEMA, &rows, |_| Some(0), &mut delta).expect("valid deltas encode");
            let mut joined = Vec::new();
            codec::encode_state(&frame.header, &delta, &mut joined).expect("headers encode");
            prop_assert_eq!(joined, bytes);
        }
    }

    #[test]
    fn damaged_client_messages_never_panic(
        msg in client_msg(),
        edits in vec((any::<u8>(), any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = codec::encode_client(&msg).expect("valid messages encode");
        mutate(&mut bytes, &edits);
        accepted_client_is_stable(&bytes)?;
        // The other decoder sees a wrong-direction message: still no panic.
        accepted_server_is_stable(&bytes)?;
    }

    #[test]
    fn damaged_server_messages_never_panic(
        msg in server_msg(),
        edits in vec((any::<u8>(), any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = codec::encode_server(&msg).expect("valid messages encode");
        mutate(&mut bytes, &edits);
        accepted_server_is_stable(&bytes)?;
        accepted_client_is_stable(&bytes)?;
    }

    #[test]
    fn trailing_bytes_are_refused(msg in client_msg(), extra in vec(any::<u8>(), 1..16)) {
        let mut bytes = codec::encode_client(&msg).expect("valid messages encode");
        bytes.extend_from_slice(&extra);
        prop_assert_eq!(decode_client(&bytes), Err(DecodeError::TrailingBytes(extra.len())));
    }

    #[test]
    fn client_input_over_the_limit_is_refused(
        msg in client_msg(),
        extra in 1usize..4096,
        fill in any::<u8>(),
    ) {
        // A valid message padded past the limit: refused for its size, not decoded at all.
        let mut bytes = codec::encode_client(&msg).expect("valid messages encode");
        let len = CLIENT_MSG_LIMIT + extra;
        bytes.resize(len, fill);
        prop_assert_eq!(
            decode_client(&bytes),
            Err(DecodeError::TooLarge { len, limit: CLIENT_MSG_LIMIT })
        );
    }
}

proptest! {
    // Each case allocates more than 8 MiB: a few are enough to show the check does not depend
    // on the content.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn server_input_over_the_limit_is_refused(
        msg in server_msg(),
        extra in 1usize..4096,
        fill in any::<u8>(),
    ) {
        let mut bytes = codec::encode_server(&msg).expect("valid messages encode");
        let len = SERVER_MSG_LIMIT + extra;
        bytes.resize(len, fill);
        prop_assert_eq!(
            decode_server(&bytes),
            Err(DecodeError::TooLarge { len, limit: SERVER_MSG_LIMIT })
        );
    }
}

proptest! {
    #[test]
    fn an_input_payload_over_the_bound_is_an_error_never_a_panic(
        seq in any::<u32>(),
        ack in any::<u32>(),
        len in (MAX_INPUT_PAYLOAD_BYTES as u64 + 1)..=u64::MAX,
        payload in vec(any::<u8>(), 0..(4 * MAX_INPUT_PAYLOAD_BYTES)),
    ) {
        // An Input whose payload length prefix is over the bound, followed by anything: a
        // Malformed decode error, whatever the bytes behind the prefix are.
        let mut bytes = vec![1];
        for v in [u64::from(seq), u64::from(ack), len] {
            varint(&mut bytes, v);
        }
        bytes.extend_from_slice(&payload);
        prop_assert!(matches!(decode_client(&bytes), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn an_input_payload_within_the_bound_decodes_as_sent(
        seq in any::<u32>(),
        ack in any::<u32>(),
        payload in vec(any::<u8>(), 0..=MAX_INPUT_PAYLOAD_BYTES),
    ) {
        let mut bytes = vec![1];
        for v in [u64::from(seq), u64::from(ack), payload.len() as u64] {
            varint(&mut bytes, v);
        }
        bytes.extend_from_slice(&payload);
        // Which lengths are valid is the game's to say (`Game::decode_input`), not the wire's.
        match decode_client(&bytes) {
            Ok(ClientMsg::Input(input)) => {
                prop_assert_eq!((input.seq, input.ack), (seq, ack));
                prop_assert_eq!(input.payload.as_bytes(), &payload[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn exactly_the_limit_is_not_too_large() {
    // At the limit the size check passes and decoding proper decides.
    let bytes = vec![0u8; CLIENT_MSG_LIMIT];
    assert!(!matches!(
        decode_client(&bytes),
        Err(DecodeError::TooLarge { .. })
    ));
}
