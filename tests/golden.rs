//! Golden vectors shared with the browser client: the Rust side writes them, the JavaScript side
//! (the SDK in `assets/web/sdk/` and arena's page in `assets/web/js/`) is checked against them by
//! `node --test tests/golden/ tests/sdk/`.
//!
//! * `tests/golden/protocol.json`: messages with their exact bytes (every message type and the
//!   varint, zigzag and length edge cases), byte strings that must not decode, and a sequence
//!   of state frames with the world a replica must hold after each.
//! * `tests/golden/movement.json`: traces of the real simulation moving one player through the
//!   default arena, which the client's prediction must reproduce exactly.
//! * `tests/golden/soccer_frames.json`: a real soccer match's State frames and worlds
//!   (`soccer_vectors`), soccer's vectors for the SDK beside arena's in `protocol.json`.
//! * `tests/golden/random_schemas.json`: random schemas with random churn and acknowledgement
//!   patterns (`random_schemas`), the frames a client receives and the worlds it must rebuild,
//!   which the browser SDK decodes through each served schema (`node --test tests/sdk/`).
//!
//! These tests fail when the Rust side drifts from the committed files. After an intended change
//! of the protocol or the movement rules, regenerate them with
//! `TICKWIRE_BLESS=1 cargo test --test golden` and make the JavaScript side pass again.

use std::path::PathBuf;

use serde_json::{Value, json};
use tickwire::Config;
use tickwire_arena::entity::{FLAG_ALIVE, FLAG_CONNECTED};
use tickwire_arena::schema as arena;
use tickwire_arena::{ArenaInput, new_match};
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::bits::BitWriter;
use tickwire_proto::codec;
use tickwire_proto::msg::{
    ChatLine, ChatRefusal, ChatRefusalReason, ClientMsg, EndReason, FrameHeader, GameEvent, Hello,
    Input, JoinTarget, MAX_GAME_NAME_BYTES, MAX_INPUT_PAYLOAD_BYTES, MapInfo, MatchResults, Phase,
    PlayerResult, Reject, RejectReason, RequestRefusal, RequestRefusalReason, ServerMsg,
    SessionToken, StateFrame, WallRect, Welcome,
};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{EntityRow, FrameError, RowReplica};
use tickwire_sim::MatchConfig;

mod random_schemas;
mod soccer_vectors;

// Arena's deltas as the vectors show them: the proto crate's test view over schema rows
// (`Delta`, `EntityUpdate`), converted both ways through arena's schema.
#[path = "../crates/proto/tests/arena_view/mod.rs"]
mod arena_view;

use arena_view::{Delta, EntityUpdate, SCHEMA, decode_body, diff, frame, server_refuses};

// ---------------------------------------------------------------------------------------------
// JSON forms: exactly the objects the JavaScript module produces and accepts.

/// A u64 as JSON: a number when JavaScript holds it exactly, else a decimal string.
fn u64j(v: u64) -> Value {
    if v < (1u64 << 53) {
        json!(v)
    } else {
        json!(v.to_string())
    }
}

fn token_json(t: &SessionToken) -> Value {
    let SessionToken {
        match_id,
        player_id,
        secret,
    } = t;
    json!({"match_id": u64j(*match_id), "player_id": player_id, "secret": secret.to_vec()})
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Waiting => "Waiting",
        Phase::Running => "Running",
        Phase::Ended => "Ended",
    }
}

fn entity_json(e: &EntityState) -> Value {
    let EntityState {
        id,
        kind,
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
    } = e;
    let kind = match kind {
        EntityKind::Player => "Player",
        EntityKind::Projectile => "Projectile",
    };
    json!({"id": id, "kind": kind, "x": x, "y": y, "vx": vx, "vy": vy, "aim": aim, "hp": hp,
           "score": score, "flags": flags, "owner": owner, "name": name})
}

fn update_json(u: &EntityUpdate) -> Value {
    let EntityUpdate {
        index,
        vel_delta,
        pos_residual,
        aim,
        hp,
        misc,
    } = u;
    json!({"index": index, "vel": vel_delta.map(|(x, y)| vec![x, y]),
           "pos": pos_residual.map(|(x, y)| vec![x, y]), "aim": aim, "hp": hp,
           "misc": misc.map(|(s, f)| vec![u64::from(s), u64::from(f)])})
}

fn client_json(msg: &ClientMsg) -> Value {
    match msg {
        ClientMsg::Hello(Hello {
            version,
            game,
            schema_hash,
            name,
            session,
            join,
        }) => {
            let join = match join {
                JoinTarget::Any => json!({"type": "Any"}),
                JoinTarget::Match(id) => json!({"type": "Match", "match_id": u64j(*id)}),
                JoinTarget::Spectate(id) => json!({"type": "Spectate", "match_id": u64j(*id)}),
                JoinTarget::Reserved { match_id, token } => {
                    json!({"type": "Reserved", "match_id": u64j(*match_id), "token": token.to_vec()})
                }
            };
            json!({"type": "Hello", "version": version, "game": game,
                   "schema_hash": schema_hash, "name": name,
                   "session": session.as_ref().map(token_json), "join": join})
        }
        ClientMsg::Input(Input { seq, ack, payload }) => {
            // The vectors are arena's: its payload is shown as arena's four fields.
            let a = ArenaInput::from_payload(payload.as_bytes()).expect("arena's input");
            json!({"type": "Input", "seq": seq, "ack": ack, "move_x": a.move_x,
                   "move_y": a.move_y, "aim": a.aim, "buttons": a.buttons})
        }
        ClientMsg::Ack { tick } => json!({"type": "Ack", "tick": tick}),
        ClientMsg::Ping { client_time } => {
            json!({"type": "Ping", "client_time": u64j(*client_time)})
        }
        ClientMsg::Leave => json!({"type": "Leave"}),
        ClientMsg::Chat { text } => json!({"type": "Chat", "text": text}),
        ClientMsg::Mute { player, muted } => {
            json!({"type": "Mute", "player": player, "muted": muted})
        }
        ClientMsg::Request { id, payload } => {
            json!({"type": "Request", "id": id, "payload": payload})
        }
    }
}

fn server_json(msg: &ServerMsg) -> Value {
    match msg {
        ServerMsg::Welcome(Welcome {
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
        }) => {
            let MapInfo {
                name,
                width,
                height,
                walls,
            } = map;
            let walls: Vec<Value> = walls
                .iter()
                .map(|WallRect { x, y, w, h }| json!({"x": x, "y": y, "w": w, "h": h}))
                .collect();
            json!({"type": "Welcome", "version": version, "game": game,
                   "schema_hash": schema_hash, "player_id": player_id,
                   "entity_id": entity_id, "match_id": u64j(*match_id), "tick_rate": tick_rate,
                   "tick": tick, "session": token_json(session), "resumed": resumed,
                   "map": {"name": name, "width": width, "height": height, "walls": walls}})
        }
        ServerMsg::Reject(Reject { reason, message }) => {
            json!({"type": "Reject", "reason": format!("{reason:?}"), "message": message})
        }
        ServerMsg::State(StateFrame { header, body }) => {
            let FrameHeader {
                tick,
                baseline_age,
                last_input,
                phase,
                phase_ticks_left,
            } = header;
            let Delta {
                removed,
                created,
                updated,
                names_elided,
            } = decode_body(body).expect("an arena body");
            json!({"type": "State",
                   "header": {"tick": tick, "baseline_age": baseline_age,
                              "last_input": last_input, "phase": phase_name(*phase),
                              "phase_ticks_left": phase_ticks_left},
                   "delta": {"removed": removed,
                             "created": created.iter().map(entity_json).collect::<Vec<_>>(),
                             "updated": updated.iter().map(update_json).collect::<Vec<_>>(),
                             "names_elided": names_elided}})
        }
        ServerMsg::Pong {
            client_time,
            server_tick,
        } => json!({"type": "Pong", "client_time": u64j(*client_time), "server_tick": server_tick}),
        ServerMsg::Event(event) => {
            let event = match event {
                GameEvent::Kill {
                    killer,
                    victim,
                    killer_entity,
                    victim_entity,
                } => {
                    json!({"type": "Kill", "killer": killer, "victim": victim,
                        "killer_entity": killer_entity, "victim_entity": victim_entity})
                }
                GameEvent::PhaseChanged { phase, ticks } => {
                    json!({"type": "PhaseChanged", "phase": phase_name(*phase), "ticks": ticks})
                }
                GameEvent::Emote { player, kind } => {
                    json!({"type": "Emote", "player": player, "kind": kind})
                }
                GameEvent::Game { payload } => {
                    json!({"type": "Game", "payload": payload})
                }
            };
            json!({"type": "Event", "event": event})
        }
        ServerMsg::MatchEnded(MatchResults {
            match_id,
            reason,
            ticks,
            players,
        }) => {
            let players: Vec<Value> = players
                .iter()
                .map(
                    |PlayerResult {
                         player_id,
                         name,
                         score,
                         kills,
                         deaths,
                     }| {
                        json!({"player_id": player_id, "name": name, "score": score,
                               "kills": kills, "deaths": deaths})
                    },
                )
                .collect();
            json!({"type": "MatchEnded",
                   "results": {"match_id": u64j(*match_id), "reason": format!("{reason:?}"),
                               "ticks": ticks, "players": players}})
        }
        ServerMsg::Chat(ChatLine {
            seq,
            tick,
            from,
            name,
            text,
        }) => json!({"type": "Chat", "seq": seq, "tick": tick, "from": from, "name": name,
                     "text": text}),
        ServerMsg::ChatRefused(ChatRefusal { reason, limit }) => {
            json!({"type": "ChatRefused", "reason": format!("{reason:?}"), "limit": limit})
        }
        ServerMsg::Reply { id, payload } => json!({"type": "Reply", "id": id, "payload": payload}),
        ServerMsg::RequestRefused(RequestRefusal {
            id,
            reason,
            limit,
            message,
        }) => json!({"type": "RequestRefused", "id": id, "reason": format!("{reason:?}"),
                     "limit": limit, "message": message}),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The vectors.

/// A deterministic xorshift generator, so the vectors never change by accident.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range_i32(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((i64::from(hi) - i64::from(lo) + 1) as u64) as i32
    }
}

fn secret() -> [u8; 16] {
    let mut s = [0u8; 16];
    for (i, b) in s.iter_mut().enumerate() {
        *b = i as u8;
    }
    s
}

fn token(match_id: u64, player_id: u32) -> SessionToken {
    SessionToken {
        match_id,
        player_id,
        secret: secret(),
    }
}

fn hello(name: &str, session: Option<SessionToken>, join: JoinTarget) -> ClientMsg {
    ClientMsg::Hello(Hello {
        version: 1,
        game: None,
        schema_hash: None,
        name: name.into(),
        session,
        join,
    })
}

fn input(seq: u32, ack: u32, move_x: i8, move_y: i8, aim: u8, buttons: u8) -> ClientMsg {
    let input = ArenaInput {
        move_x,
        move_y,
        aim,
        buttons,
    };
    ClientMsg::Input(input.message(seq, ack))
}

fn client_messages() -> Vec<ClientMsg> {
    let mut v = vec![
        hello("ann", None, JoinTarget::Any),
        hello("ann", None, JoinTarget::Match(300)),
        hello("", None, JoinTarget::Spectate(7)),
        hello(
            "ann",
            None,
            JoinTarget::Reserved {
                match_id: 300,
                token: std::array::from_fn(|i| i as u8 * 17),
            },
        ),
        hello("ann", Some(token(7, 2)), JoinTarget::Any),
        hello(
            "Zoë 🚀 ✓",
            Some(token(u64::MAX, u32::MAX)),
            JoinTarget::Match(1 << 53),
        ),
        hello(
            "x".repeat(300).as_str(),
            None,
            JoinTarget::Spectate(u64::MAX),
        ),
        hello(
            "p",
            Some(token((1 << 53) - 1, 251)),
            JoinTarget::Match(65536),
        ),
        ClientMsg::Hello(Hello {
            version: u16::MAX,
            game: None,
            schema_hash: None,
            name: "v".into(),
            session: None,
            join: JoinTarget::Any,
        }),
        // What arena's page sends: its game and the hash of the schema it loaded.
        ClientMsg::Hello(Hello {
            version: 3,
            game: Some("arena".into()),
            schema_hash: Some(arena::schema_hash()),
            name: "ann".into(),
            session: None,
            join: JoinTarget::Any,
        }),
        ClientMsg::Hello(Hello {
            version: 3,
            game: Some("g".repeat(MAX_GAME_NAME_BYTES)),
            schema_hash: Some(0),
            name: "ann".into(),
            session: Some(token(7, 2)),
            join: JoinTarget::Match(300),
        }),
        ClientMsg::Hello(Hello {
            version: 3,
            game: Some(String::new()),
            schema_hash: Some(u32::MAX),
            name: String::new(),
            session: None,
            join: JoinTarget::Spectate(7),
        }),
        ClientMsg::Hello(Hello {
            version: 3,
            game: None,
            schema_hash: Some(251),
            name: "ann".into(),
            session: None,
            join: JoinTarget::Any,
        }),
        input(300, 299, 127, -127, 64, 1),
        input(1, 0, 0, 0, 0, 0),
        input(u32::MAX, u32::MAX, -128, -128, 255, 255),
        input(250, 251, -1, 1, 128, 2),
        ClientMsg::Ack { tick: 299 },
        ClientMsg::Ping {
            client_time: 1_000_000,
        },
        ClientMsg::Leave,
        ClientMsg::Chat { text: "gg".into() },
        ClientMsg::Chat {
            text: "日本語 ok \u{1F600}".into(),
        },
        // 260 bytes: the length takes the three-byte varint form.
        ClientMsg::Chat {
            text: "x".repeat(260),
        },
        ClientMsg::Chat {
            text: String::new(),
        },
        ClientMsg::Mute {
            player: 3,
            muted: true,
        },
        ClientMsg::Mute {
            player: 70_000,
            muted: false,
        },
    ];
    for tick in [0, 250, 251, 65535, 65536, u32::MAX] {
        v.push(ClientMsg::Ack { tick });
    }
    for client_time in [
        0,
        u64::from(u32::MAX),
        1 << 32,
        (1 << 53) - 1,
        1 << 53,
        u64::MAX,
    ] {
        v.push(ClientMsg::Ping { client_time });
    }
    // Requests: arena's emote, an empty payload, ids across the varint forms, and a payload of
    // 300 bytes (a three-byte length; the engine refuses it as too large, the wire does not).
    for (id, payload) in [
        (1, vec![0, 3]),
        (0, vec![]),
        (250, vec![0xff]),
        (65_536, vec![7; 300]),
        (u32::MAX, vec![0, 255]),
    ] {
        v.push(ClientMsg::Request { id, payload });
    }
    v
}

fn entity(id: u32, kind: EntityKind, x: i32, y: i32, owner: u32, name: &str) -> EntityState {
    EntityState {
        id,
        kind,
        x,
        y,
        vx: 0,
        vy: 0,
        aim: 64,
        hp: if kind == EntityKind::Player { 100 } else { 0 },
        score: 0,
        flags: FLAG_ALIVE | FLAG_CONNECTED,
        owner,
        name: name.into(),
    }
}

fn state(header: FrameHeader, delta: Delta) -> ServerMsg {
    ServerMsg::State(frame(header, &delta))
}

fn header(tick: u32, baseline_age: u32, last_input: u32, phase: Phase, left: u32) -> FrameHeader {
    FrameHeader {
        tick,
        baseline_age,
        last_input,
        phase,
        phase_ticks_left: left,
    }
}

fn server_messages() -> Vec<ServerMsg> {
    let arena = Config::default().load_map().expect("default map").info();
    let mut v = vec![
        ServerMsg::Welcome(Welcome {
            version: 1,
            game: "arena".into(),
            schema_hash: arena::schema_hash(),
            player_id: 2,
            entity_id: 5,
            match_id: 7,
            tick_rate: 30,
            tick: 1000,
            session: token(7, 2),
            resumed: false,
            map: MapInfo {
                name: "arena".into(),
                width: 640,
                height: 480,
                walls: vec![WallRect {
                    x: 100,
                    y: -20,
                    w: 8,
                    h: 64,
                }],
            },
        }),
        ServerMsg::Welcome(Welcome {
            version: 1,
            game: "arena".into(),
            schema_hash: u32::MAX,
            player_id: 3,
            entity_id: 300,
            match_id: u64::MAX,
            tick_rate: 240,
            tick: u32::MAX,
            session: token(u64::MAX, 3),
            resumed: true,
            map: arena,
        }),
        ServerMsg::Welcome(Welcome {
            version: 1,
            game: "ゲーム ✓".into(),
            schema_hash: 0,
            player_id: 0,
            entity_id: 0,
            match_id: 12,
            tick_rate: 1,
            tick: 0,
            session: SessionToken {
                match_id: 12,
                player_id: 0,
                secret: [0; 16],
            },
            resumed: false,
            map: MapInfo {
                name: "edge ✓".into(),
                width: u32::MAX,
                height: 1,
                walls: vec![
                    WallRect {
                        x: i32::MIN,
                        y: i32::MAX,
                        w: -1,
                        h: 0,
                    },
                    WallRect {
                        x: 125,
                        y: -126,
                        w: 32767,
                        h: -32769,
                    },
                ],
            },
        }),
    ];
    for reason in [
        RejectReason::VersionMismatch,
        RejectReason::Full,
        RejectReason::NoSuchMatch,
        RejectReason::BadSession,
        RejectReason::SeatExpired,
        RejectReason::Draining,
        RejectReason::Malformed,
        RejectReason::AddressLimit,
    ] {
        v.push(ServerMsg::Reject(Reject {
            reason,
            message: format!("{reason:?}").to_lowercase(),
        }));
    }
    // The new reasons of version 3, with the server's messages.
    v.push(ServerMsg::Reject(Reject {
        reason: RejectReason::UnknownGame,
        message: "unknown game \"chess\": this server hosts arena".into(),
    }));
    v.push(ServerMsg::Reject(Reject {
        reason: RejectReason::SchemaMismatch,
        message: format!(
            "schema mismatch: server's arena schema is {:08x}, client built for 00000000",
            arena::schema_hash()
        ),
    }));
    // PROTOCOL.md 7.7, 7.8, 7.9.
    v.push(state(
        header(1000, 2, 298, Phase::Running, 5400),
        Delta {
            updated: vec![EntityUpdate {
                index: 1,
                pos_residual: Some((2, -1)),
                ..EntityUpdate::default()
            }],
            ..Delta::default()
        },
    ));
    v.push(state(
        header(1000, 0, 0, Phase::Waiting, 0),
        Delta {
            created: vec![EntityState {
                flags: 3,
                ..entity(5, EntityKind::Player, 800, -240, 0, "ann")
            }],
            ..Delta::default()
        },
    ));
    v.push(state(
        header(1001, 1, 299, Phase::Running, 5399),
        Delta {
            removed: vec![1],
            created: vec![EntityState {
                flags: 1,
                vx: 187,
                ..entity(9, EntityKind::Projectile, 808, -240, 5, "")
            }],
            updated: vec![
                EntityUpdate {
                    index: 0,
                    vel_delta: Some((16, 0)),
                    pos_residual: Some((1, -1)),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 2,
                    aim: Some(80),
                    hp: Some(90),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 3,
                    misc: Some((1, 3)),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 40,
                    hp: Some(0),
                    misc: Some((0, 2)),
                    ..EntityUpdate::default()
                },
            ],
            names_elided: Vec::new(),
        },
    ));
    // Every field at once, extreme values, and index and id gaps of every code length.
    v.push(state(
        header(u32::MAX, u32::MAX, u32::MAX, Phase::Ended, u32::MAX),
        Delta {
            removed: vec![0, 250, 251, 65535, 65536, u32::MAX],
            created: vec![
                EntityState {
                    id: 2,
                    kind: EntityKind::Player,
                    x: i32::MIN,
                    y: i32::MAX,
                    vx: i32::MIN,
                    vy: i32::MAX,
                    aim: 255,
                    hp: 255,
                    score: u32::MAX,
                    flags: 255,
                    owner: u32::MAX,
                    name: "名前".into(),
                },
                entity(3, EntityKind::Projectile, -1, 1, 2, ""),
                entity(u32::MAX, EntityKind::Player, 0, 0, 0, "last"),
            ],
            updated: vec![
                EntityUpdate {
                    index: 15,
                    vel_delta: Some((i32::MAX, i32::MIN)),
                    pos_residual: Some((i32::MIN, i32::MAX)),
                    aim: Some(0),
                    hp: Some(255),
                    misc: Some((u32::MAX, 0)),
                },
                EntityUpdate {
                    index: 15 + 16,
                    aim: Some(1),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 31 + 4096,
                    hp: Some(2),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 4127 + (1 << 28),
                    misc: Some((0, 0)),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: u32::MAX,
                    pos_residual: Some((0, -1)),
                    ..EntityUpdate::default()
                },
            ],
            names_elided: Vec::new(),
        },
    ));
    // Creates that leave out names the client holds.
    v.push(state(
        header(1002, 0, 300, Phase::Running, 5398),
        Delta {
            created: vec![
                entity(5, EntityKind::Player, 800, -240, 0, ""),
                entity(6, EntityKind::Player, 0, 0, 0, "bo"),
                entity(9, EntityKind::Projectile, 808, -240, 5, ""),
                entity(12, EntityKind::Player, 8, 8, 0, ""),
            ],
            names_elided: vec![5, 12],
            ..Delta::default()
        },
    ));
    // Many steady movers: one-bit index gaps and repeated masks.
    v.push(state(
        header(5000, 1, 4990, Phase::Running, 300),
        Delta {
            updated: (0..40)
                .map(|i| EntityUpdate {
                    index: i * 2,
                    // (0, 0) is never sent: it is an absent residual.
                    pos_residual: Some(match ((i % 3) as i32 - 1, (i % 5) as i32 - 2) {
                        (0, 0) => (1, 1),
                        r => r,
                    }),
                    vel_delta: (i % 7 == 0).then_some((i as i32 + 1, -(i as i32) - 1)),
                    ..EntityUpdate::default()
                })
                .collect(),
            ..Delta::default()
        },
    ));
    // A full snapshot of many entities.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut created = Vec::new();
    let mut id = 0u32;
    for i in 0..120 {
        id += 1 + rng.below(300) as u32;
        let kind = if i % 3 == 0 {
            EntityKind::Projectile
        } else {
            EntityKind::Player
        };
        created.push(EntityState {
            id,
            kind,
            x: rng.range_i32(-80_000, 80_000),
            y: rng.range_i32(-80_000, 80_000),
            vx: rng.range_i32(-200, 200),
            vy: rng.range_i32(-200, 200),
            aim: rng.below(256) as u8,
            hp: rng.below(101) as u8,
            score: rng.below(70_000) as u32,
            flags: rng.below(4) as u8,
            owner: rng.below(1000) as u32,
            name: if kind == EntityKind::Player {
                format!("p{i}")
            } else {
                String::new()
            },
        });
    }
    v.push(state(
        header(70_000, 0, 65_536, Phase::Running, 251),
        Delta {
            created,
            ..Delta::default()
        },
    ));
    v.push(ServerMsg::Pong {
        client_time: 1_000_000,
        server_tick: 1000,
    });
    v.push(ServerMsg::Pong {
        client_time: u64::MAX,
        server_tick: 0,
    });
    v.push(ServerMsg::Event(GameEvent::Kill {
        killer: 2,
        victim: 3,
        killer_entity: 5,
        victim_entity: 6,
    }));
    for phase in [Phase::Waiting, Phase::Running, Phase::Ended] {
        v.push(ServerMsg::Event(GameEvent::PhaseChanged {
            phase,
            ticks: 9000,
        }));
    }
    for (i, reason) in [
        EndReason::TimeLimit,
        EndReason::ScoreLimit,
        EndReason::Admin,
        EndReason::Shutdown,
        EndReason::Abandoned,
        EndReason::Aborted,
    ]
    .into_iter()
    .enumerate()
    {
        let players = (0..i as u32)
            .map(|p| PlayerResult {
                player_id: p + 1,
                name: format!("player {p}"),
                score: 20 - p,
                kills: 20 + p * 100,
                deaths: p * 300,
            })
            .collect();
        v.push(ServerMsg::MatchEnded(MatchResults {
            match_id: if i == 5 { 1 << 60 } else { 7 },
            reason,
            ticks: 9000,
            players,
        }));
    }
    v.push(ServerMsg::Chat(ChatLine {
        seq: 1,
        tick: 300,
        from: 2,
        name: "ann".into(),
        text: "gg wp".into(),
    }));
    v.push(ServerMsg::Chat(ChatLine {
        seq: 70_000,
        tick: u32::MAX,
        from: 0,
        name: "watcher 日本".into(),
        text: "**** it".into(),
    }));
    for (i, reason) in ChatRefusalReason::ALL.into_iter().enumerate() {
        let limit = match reason {
            ChatRefusalReason::TooLong => 200,
            ChatRefusalReason::RateLimited => 3000 + i as u32,
            _ => 0,
        };
        v.push(ServerMsg::ChatRefused(ChatRefusal { reason, limit }));
    }
    // Arena's answer to an emote is the tick it was shown at (u32 little-endian).
    v.push(ServerMsg::Reply {
        id: 1,
        payload: 301u32.to_le_bytes().to_vec(),
    });
    v.push(ServerMsg::Reply {
        id: u32::MAX,
        payload: Vec::new(),
    });
    for (i, reason) in RequestRefusalReason::ALL.into_iter().enumerate() {
        let (limit, message) = match reason {
            RequestRefusalReason::TooLarge => (256, ""),
            RequestRefusalReason::RateLimited => (200, ""),
            RequestRefusalReason::Malformed => (0, "unknown request tag 7"),
            RequestRefusalReason::Refused => (0, "unknown emote kind 9; kinds are 0..=7"),
            RequestRefusalReason::NotPlayer => (0, ""),
        };
        v.push(ServerMsg::RequestRefused(RequestRefusal {
            id: 250 + i as u32,
            reason,
            limit,
            message: message.into(),
        }));
    }
    v.push(ServerMsg::Event(GameEvent::Emote { player: 2, kind: 5 }));
    v.push(ServerMsg::Event(GameEvent::Emote {
        player: 70_000,
        kind: 255,
    }));
    v.push(ServerMsg::Event(GameEvent::Game {
        payload: vec![2, 1],
    }));
    v
}

/// Byte strings neither side may accept, with what is wrong with them.
fn invalid_vectors() -> Vec<(&'static str, String, &'static str)> {
    let fixed = vec![
        ("client", "", "empty message"),
        ("client", "07", "truncated Request (no id)"),
        ("client", "08", "unknown ClientMsg variant"),
        (
            "client",
            "07 01 03 00",
            "Request payload shorter than its length",
        ),
        ("client", "07 01 01 00 00", "trailing byte after Request"),
        ("client", "05 03 67 67", "truncated chat text"),
        ("client", "06 03 02", "Mute with bool 2"),
        ("client", "ff", "invalid varint prefix"),
        (
            "client",
            "00 fc 01 00 00 00 00 00 00",
            "u16 version with a u32 prefix",
        ),
        ("client", "00 01 00 00 03 61 6e", "truncated name"),
        ("client", "00 01 00 00 02 ff fe 00 00", "name is not UTF-8"),
        ("client", "00 01 00 00 00 02 00", "Option tag 2"),
        ("client", "00 01 02 00 00 00 00", "game Option tag 2"),
        ("client", "00 01 00 02 00 00 00", "schema_hash Option tag 2"),
        ("client", "00 01 01 05 61 72 65 6e", "truncated game name"),
        (
            "client",
            "00 01 01 02 ff fe 00 00 00 00",
            "game name is not UTF-8",
        ),
        (
            "client",
            "00 01 00 01 fd 00 00 00 00 01 00 00 00 00 00 00",
            "schema_hash with a u64 prefix",
        ),
        (
            "client",
            "00 01 00 00 00 00 04",
            "unknown JoinTarget variant",
        ),
        (
            "client",
            "00 01 00 00 00 00 01 fe",
            "u64 with a u128 prefix",
        ),
        (
            "client",
            "00 01 00 00 00 01 07 02 00 01 02",
            "truncated session secret",
        ),
        ("client", "01 01 00 04 00 00 00", "truncated Input"),
        ("client", "01 01 00", "Input without its payload"),
        (
            "client",
            "01 01 00 fd ff ff ff ff ff ff ff 7f",
            "input payload length beyond any message",
        ),
        (
            "client",
            "01 01 00 04 00 00 00 00 00",
            "trailing byte after Input",
        ),
        (
            "client",
            "02 fd 00 00 00 00 01 00 00 00",
            "u32 with a u64 prefix",
        ),
        ("client", "03 fb 01", "truncated varint"),
        ("client", "04 00", "trailing byte after Leave"),
        ("server", "08", "truncated Reply (no id)"),
        ("server", "0a", "unknown ServerMsg variant"),
        (
            "server",
            "09 01 05 00 00",
            "unknown RequestRefusalReason variant",
        ),
        ("server", "09 01 03 00 02 6f", "truncated refusal message"),
        ("server", "07 06 00", "unknown ChatRefusalReason variant"),
        ("server", "06 01 01 01 00 02 67", "truncated chat line"),
        ("server", "01 0e 00", "unknown RejectReason variant"),
        (
            "server",
            "01 01 05 66 75 6c 6c",
            "string longer than the message",
        ),
        (
            "server",
            "01 01 fd 00 00 00 00 00 00 00 80",
            "string length beyond 2^53",
        ),
        (
            "server",
            "02 01 00 00 03 00 00 00 00",
            "unknown Phase variant",
        ),
        (
            "server",
            "02 01 00 00 00 00 03 00 00 07 00",
            "trailing byte after State",
        ),
        (
            "server",
            "02 01 00 00 00 00 05 00 00 07",
            "delta body longer than the message",
        ),
        (
            "server",
            "02 01 00 00 00 00 02 00 00",
            "delta body truncated",
        ),
        (
            "server",
            "02 01 00 00 00 00 03 00 00 0f",
            "delta body with a non-zero padding bit",
        ),
        (
            "server",
            "02 01 00 00 00 00 04 00 00 07 00",
            "delta body with a trailing byte",
        ),
        ("server", "03 00", "truncated Pong"),
        ("server", "04 03 00 00", "unknown GameEvent variant"),
        ("server", "04 02 01", "Emote without its kind"),
        (
            "server",
            "04 01 03 00",
            "PhaseChanged with an unknown phase",
        ),
        ("server", "05 07 06 00 00", "unknown EndReason variant"),
        (
            "server",
            // tag, version, game "", schema hash, player, entity, match, tick rate, tick, token
            // (2 + 16), resumed = 2, then an empty map.
            "00 01 00 00 00 00 00 1e 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 00",
            "Welcome with resumed = 2",
        ),
    ];
    let mut v: Vec<(&'static str, String, &'static str)> = fixed
        .into_iter()
        .map(|(dir, h, why)| (dir, h.to_owned(), why))
        .collect();
    // Over the bounds of version 3: a game name of 33 bytes (in a Hello and in a Welcome) and
    // an input payload of 65 bytes.
    let over_name = hex(&[b'g'; MAX_GAME_NAME_BYTES + 1]);
    let name_len = MAX_GAME_NAME_BYTES + 1;
    v.push((
        "client",
        format!("00 01 01 {name_len:02x} {over_name} 00 00 00 00"),
        "game name over 32 bytes",
    ));
    v.push((
        "server",
        format!(
            "00 01 {name_len:02x} {over_name} 00 00 00 00 1e 00 00 00{} 00 00 00 00 00",
            " 00".repeat(16)
        ),
        "Welcome game name over 32 bytes",
    ));
    let payload_len = MAX_INPUT_PAYLOAD_BYTES + 1;
    v.push((
        "client",
        format!(
            "01 01 00 {payload_len:02x} {}",
            hex(&[0; MAX_INPUT_PAYLOAD_BYTES + 1])
        ),
        "input payload over 64 bytes",
    ));
    for (why, body) in invalid_bodies() {
        v.push(("server", body, why));
    }
    v
}

/// A State message for tick 1 (full snapshot header) around a packed body written by `f`, as hex.
fn state_with_body(f: impl FnOnce(&mut BitWriter<'_>)) -> String {
    let mut body = Vec::new();
    let mut w = BitWriter::new(&mut body);
    f(&mut w);
    w.finish();
    let mut bytes = vec![0x02, 0x01, 0x00, 0x00, 0x00, 0x00];
    assert!(body.len() <= 250, "one-byte length prefix");
    bytes.push(body.len() as u8);
    bytes.extend_from_slice(&body);
    hex(&bytes)
}

/// Writes the 16 bits of four zero Exp-Golomb orders.
fn zero_orders(w: &mut BitWriter<'_>) {
    w.bits(0, 16);
}

/// A valid create after its id gap: a player at the origin, everything zero, an empty name.
fn create_rest(w: &mut BitWriter<'_>) {
    create_rest_with_name(w, &[]);
}

/// Packed delta bodies that must not decode, each in a State message.
fn invalid_bodies() -> Vec<(&'static str, String)> {
    let update_with_mask = |mask: u32| {
        state_with_body(move |w| {
            zero_orders(w);
            w.eg(0, 0);
            w.eg(0, 0);
            w.eg(0, 1);
            w.eg(0, 0);
            w.bits(0, 3); // the long form
            w.bits(mask, 5);
            w.eg_signed(0, 1);
            w.eg_signed(0, 1);
        })
    };
    vec![
        ("update with an empty mask", update_with_mask(0)),
        (
            "residual of (0, 0)",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 0);
                w.eg(0, 1);
                w.eg(0, 0);
                w.bit(true);
                w.eg_signed(0, 0);
                w.eg_signed(0, 0);
            }),
        ),
        (
            "update mask in the long form though it has a short code",
            update_with_mask(2),
        ),
        (
            "update missing its position",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 0);
                w.eg(0, 1);
                w.eg(0, 0);
                w.bit(true);
            }),
        ),
        (
            "unknown entity kind",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 1);
                w.eg(0, 0);
                w.eg(0, 2);
                w.bits(0, 32);
                w.bits(0, 32);
            }),
        ),
        (
            "created ids overflowing u32",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 2);
                w.eg(0, u32::MAX - 1);
                create_rest(w);
                w.eg(0, 0);
                create_rest(w);
                w.eg(0, 0);
            }),
        ),
        (
            "removed indices overflowing u32",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 2);
                w.eg(0, u32::MAX);
                w.eg(0, 0);
                w.eg(0, 0);
                w.eg(0, 0);
            }),
        ),
        (
            "name longer than 24 bytes",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 1);
                w.eg(0, 0);
                create_rest_with_name(w, &[b'a'; 25]);
                w.eg(0, 0);
            }),
        ),
        (
            "name not UTF-8",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 1);
                w.eg(0, 0);
                create_rest_with_name(w, &[0xff]);
                w.eg(0, 0);
            }),
        ),
        (
            "Exp-Golomb code beyond u32",
            state_with_body(|w| {
                zero_orders(w);
                w.bits(0, 32);
                w.bits(0, 1);
                w.bit(true);
                w.bits(0, 31);
            }),
        ),
        (
            "count larger than the body",
            state_with_body(|w| {
                zero_orders(w);
                w.eg(0, 0);
                w.eg(0, 0);
                w.eg(0, 1000);
            }),
        ),
    ]
}

/// A create after its id gap (a player at the origin, everything zero) with the given raw
/// name bytes.
fn create_rest_with_name(w: &mut BitWriter<'_>, name: &[u8]) {
    w.eg(0, 0); // kind Player
    w.eg_signed(0, 0);
    w.eg_signed(0, 0);
    w.eg_signed(4, 0);
    w.eg_signed(4, 0);
    w.bits(0, 8);
    w.bits(0, 8);
    w.eg(0, 0);
    w.bits(0, 8);
    w.eg(0, 0);
    w.eg(0, name.len() as u32);
    for &b in name {
        w.bits(u32::from(b), 8);
    }
}

/// The variant name of why a replica refused a frame, as the vectors record it. An update or
/// removal past the end of the baseline is `UnknownIndex` whichever step finds it.
fn error_kind(e: &FrameError) -> String {
    let variant = |e: &dyn std::fmt::Debug| {
        let s = format!("{e:?}");
        s.split(['(', ' ']).next().unwrap_or_default().to_owned()
    };
    match e {
        FrameError::Apply(a) => variant(a),
        FrameError::Decode(body::BodyError::UnknownIndex(_)) => "UnknownIndex".to_owned(),
        FrameError::Decode(d) => format!("Decode({d})"),
    }
}

/// Snapshots evolving over ticks, diffed against chosen baselines, with the world a replica
/// holds after each frame (or the error it reports).
fn replica_vectors() -> Vec<Value> {
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    let mut snapshots: Vec<(u32, Vec<EntityState>)> = Vec::new();
    let mut world: Vec<EntityState> = Vec::new();
    let mut next_id = 1u32;
    let mut replica = RowReplica::new(SCHEMA.clone());
    let mut out = Vec::new();
    let mut last_base = 0u32;
    let mut tick = 0u32;
    let push = |replica: &mut RowReplica,
                (header, delta): (FrameHeader, Delta),
                out: &mut Vec<Value>| {
        let frame = frame(header, &delta);
        let bytes = codec::encode_server(&ServerMsg::State(frame.clone())).expect("encodes");
        let result = replica.apply_body(header.tick, header.baseline_age, &frame.body);
        let v = match result {
            Ok(w) => json!({"hex": hex(&bytes),
                            "world": arena::world_of(w).values().map(entity_json).collect::<Vec<_>>()}),
            Err(e) => json!({"hex": hex(&bytes), "error": error_kind(&e)}),
        };
        out.push(v);
    };
    for step in 0..48 {
        let dt = 1 + rng.below(3) as u32;
        tick += dt;
        // Evolve the world: move on by the velocity, steer, damage, score, remove and create
        // entities.
        for e in &mut world {
            (e.x, e.y) = e.predict(dt);
            match rng.below(7) {
                0 => {}
                6 => {
                    e.vx = rng.range_i32(-90, 90);
                    e.vy = rng.range_i32(-90, 90);
                }
                1 => {
                    e.x = e.x.wrapping_add(rng.range_i32(-40, 40));
                    e.y = e.y.wrapping_add(rng.range_i32(-40, 40));
                }
                2 => e.aim = rng.below(256) as u8,
                3 => e.hp = e.hp.saturating_sub(25),
                4 => {
                    e.score += 1;
                    e.flags ^= FLAG_ALIVE;
                }
                _ => {
                    e.x = e.x.wrapping_add(rng.range_i32(-3000, 3000));
                    e.aim = e.aim.wrapping_add(1);
                }
            }
        }
        world.retain(|_| rng.below(8) != 0);
        let births = if step == 0 { 12 } else { rng.below(4) };
        for _ in 0..births {
            let kind = if rng.below(2) == 0 {
                EntityKind::Player
            } else {
                EntityKind::Projectile
            };
            world.push(entity(
                next_id,
                kind,
                rng.range_i32(0, 8000),
                rng.range_i32(0, 8000),
                rng.below(5) as u32,
                if kind == EntityKind::Player { "n" } else { "" },
            ));
            next_id += 1 + rng.below(20) as u32;
        }
        // Identity change of an existing entity: removed and created in the same frame.
        if step % 11 == 5 {
            if let Some(e) = world.first_mut() {
                e.name.push('!');
            }
        }
        snapshots.push((tick, world.clone()));
        // Baseline: a full snapshot now and then, otherwise a held tick at or after the last
        // baseline.
        let held: Vec<u32> = snapshots
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| *t >= last_base && *t < tick)
            .collect();
        let base = if step == 0 || step % 17 == 0 || held.is_empty() {
            None
        } else {
            Some(held[rng.below(held.len() as u64) as usize])
        };
        let (age, delta) = match base {
            None => (0, diff(&[], &world, 0)),
            Some(b) => {
                let bw = &snapshots.iter().find(|(t, _)| *t == b).expect("held").1;
                (tick - b, diff(bw, &world, tick - b))
            }
        };
        if let Some(b) = base {
            last_base = b;
        }
        let frame = (header(tick, age, step, Phase::Running, 100), delta);
        push(&mut replica, frame, &mut out);
        // Frames a replica must refuse (and survive).
        if step == 9 {
            let stale = (header(tick, 1, 0, Phase::Running, 0), Delta::default());
            push(&mut replica, stale, &mut out);
            let missing = (
                header(tick + 50, 49, 0, Phase::Running, 0),
                Delta::default(),
            );
            push(&mut replica, missing, &mut out);
            let bad_age = (
                header(tick + 1, tick + 2, 0, Phase::Running, 0),
                Delta::default(),
            );
            push(&mut replica, bad_age, &mut out);
            let past_the_end = (
                header(tick + 1, 1, 0, Phase::Running, 0),
                Delta {
                    removed: vec![world.len() as u32 + 5],
                    ..Delta::default()
                },
            );
            push(&mut replica, past_the_end, &mut out);
            // That frame made the replica drop every world before `tick`.
            last_base = tick;
        }
        if step == 20 {
            // A full snapshot that leaves out every name the replica holds.
            tick += 1;
            let mut delta = diff(&[], &world, 0);
            for e in delta.created.iter_mut().filter(|e| !e.name.is_empty()) {
                e.name.clear();
                delta.names_elided.push(e.id);
            }
            let frame = (header(tick, 0, step, Phase::Running, 100), delta);
            push(&mut replica, frame, &mut out);
            snapshots.push((tick, world.clone()));
            last_base = tick;
            // One that leaves out a name the replica never received: refused.
            let unknown = (
                header(tick + 1, 0, step, Phase::Running, 100),
                Delta {
                    created: vec![entity(1 << 30, EntityKind::Player, 0, 0, 0, "")],
                    names_elided: vec![1 << 30],
                    ..Delta::default()
                },
            );
            push(&mut replica, unknown, &mut out);
        }
    }
    out
}

fn protocol_golden() -> Value {
    let mut messages = Vec::new();
    for msg in client_messages() {
        let bytes = codec::encode_client(&msg).expect("encodes");
        assert_eq!(
            codec::decode_client(&bytes).expect("decodes"),
            msg,
            "round trip"
        );
        messages.push(json!({"dir": "client", "msg": client_json(&msg), "hex": hex(&bytes)}));
    }
    for msg in server_messages() {
        let bytes = codec::encode_server(&msg).expect("encodes");
        assert_eq!(
            codec::decode_server(&bytes).expect("decodes"),
            msg,
            "round trip"
        );
        messages.push(json!({"dir": "server", "msg": server_json(&msg), "hex": hex(&bytes)}));
    }
    let mut invalid = Vec::new();
    for (dir, h, why) in invalid_vectors() {
        let bytes = unhex(&h);
        let rejected = if dir == "client" {
            codec::decode_client(&bytes).is_err()
        } else {
            server_refuses(&bytes)
        };
        assert!(rejected, "the Rust decoder accepts `{h}` ({why})");
        invalid.push(json!({"dir": dir, "hex": h, "why": why}));
    }
    json!({
        "about": "Written by tests/golden.rs from the Rust proto crate; checked by tests/golden/protocol.test.mjs. Regenerate: TICKWIRE_BLESS=1 cargo test --test golden",
        "messages": messages,
        "invalid": invalid,
        "replica": replica_vectors(),
    })
}

/// One leg of a scripted walk: `move_x`, `move_y`, and for how many ticks.
type Leg = (i8, i8, u32);

/// Scripted walks of a player through the default arena: (seed, legs).
const WALKS: &[(u64, &[Leg])] = &[
    (
        1,
        &[
            (0, 0, 3),
            (127, 0, 40),
            (0, 127, 40),
            (127, 127, 30),
            (-128, 0, 25),
            (0, 0, 20),
            (60, -90, 45),
            (-127, -127, 60),
            (0, -127, 30),
            (-127, 0, 30),
            (127, 40, 50),
        ],
    ),
    (
        7,
        &[
            (0, 127, 70),
            (127, 0, 70),
            (0, -127, 60),
            (-90, 90, 40),
            (5, -3, 30),
            (-127, 127, 80),
            (0, 0, 15),
            (127, -127, 90),
        ],
    ),
];

fn movement_golden() -> Value {
    let config = Config::default();
    let map = config.load_map().expect("default map");
    let game = MatchConfig {
        min_players: 2,
        ..config.game.clone()
    };
    let mut traces = Vec::new();
    for (seed, legs) in WALKS {
        let mut sim =
            new_match(game.clone(), config.arena.clone(), map.clone(), *seed).expect("valid match");
        let player = sim.add_player("walker").expect("seat");
        sim.step();
        // Arena rows start with the position, x then y.
        let xy = |e: &EntityRow| [e.values[0], e.values[1]];
        let start = xy(sim.snapshot().first().expect("the player"));
        let mut inputs = Vec::new();
        let mut positions = Vec::new();
        let mut seq = 0;
        for &(mx, my, n) in *legs {
            for _ in 0..n {
                seq += 1;
                sim.push_input(
                    player,
                    seq,
                    ArenaInput {
                        move_x: mx,
                        move_y: my,
                        ..ArenaInput::default()
                    },
                );
                sim.step();
                let e = sim.snapshot().first().expect("the player");
                inputs.push(vec![mx, my]);
                positions.push(xy(e).to_vec());
            }
        }
        traces.push(json!({"seed": seed, "start": start, "inputs": inputs,
                           "positions": positions}));
    }
    let m = map.info();
    json!({
        "about": "Written by tests/golden.rs from the real simulation; replayed by tests/golden/predict.test.mjs. Regenerate: TICKWIRE_BLESS=1 cargo test --test golden",
        "physics": {
            "tick_rate": game.tick_rate,
            "player_radius": config.arena.player_radius,
            "player_accel": config.arena.player_accel,
            "player_friction": config.arena.player_friction,
            "player_max_speed": config.arena.player_max_speed,
        },
        "map": {
            "width": m.width,
            "height": m.height,
            "walls": m.walls.iter().map(|w| json!({"x": w.x, "y": w.y, "w": w.w, "h": w.h})).collect::<Vec<_>>(),
        },
        "traces": traces,
    })
}

/// Pretty enough for diffs: one vector per line.
fn render(v: &Value) -> String {
    let mut out = String::from("{\n");
    let obj = v.as_object().expect("an object");
    for (i, (k, val)) in obj.iter().enumerate() {
        out.push_str(&format!("  {}: ", serde_json::to_string(k).expect("key")));
        match val {
            Value::Array(items) => {
                out.push_str("[\n");
                for (j, item) in items.iter().enumerate() {
                    out.push_str("    ");
                    out.push_str(&serde_json::to_string(item).expect("json"));
                    out.push_str(if j + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str("  ]");
            }
            Value::Object(_) => {
                let inner = render(val);
                out.push_str(&inner.trim_end().replace('\n', "\n  "));
            }
            _ => out.push_str(&serde_json::to_string(val).expect("json")),
        }
        out.push_str(if i + 1 < obj.len() { ",\n" } else { "\n" });
    }
    out.push_str("}\n");
    out
}

fn check(file: &str, generated: Value) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", file]
        .iter()
        .collect();
    let text = render(&generated);
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("rendered JSON parses"),
        generated,
        "render is lossless"
    );
    if std::env::var_os("TICKWIRE_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write golden file");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let committed: Value = serde_json::from_str(&committed).expect("golden file is JSON");
    if committed != generated {
        // Name the first vector that differs, to make the drift easy to find.
        let mut detail = String::new();
        if let (Some(a), Some(b)) = (committed.as_object(), generated.as_object()) {
            for (k, gv) in b {
                match (a.get(k), gv) {
                    (Some(Value::Array(ca)), Value::Array(ga)) => {
                        if let Some(i) =
                            (0..ca.len().max(ga.len())).find(|i| ca.get(*i) != ga.get(*i))
                        {
                            detail = format!(
                                "{k}[{i}]:\n  committed: {}\n  now:       {}",
                                ca.get(i).map_or("-".into(), Value::to_string),
                                ga.get(i).map_or("-".into(), Value::to_string)
                            );
                            break;
                        }
                    }
                    (Some(c), g) if c != g => {
                        detail = format!("{k}:\n  committed: {c}\n  now:       {g}");
                        break;
                    }
                    (None, _) => {
                        detail = format!("{k} is missing from the committed file");
                        break;
                    }
                    _ => {}
                }
            }
        }
        panic!(
            "the Rust side drifted from tests/golden/{file}: {detail}\n\
             If the change is intended, run `TICKWIRE_BLESS=1 cargo test --test golden`, commit \
             the new file and update assets/web until \
             `node --test tests/golden/ tests/sdk/` passes."
        );
    }
}

#[test]
fn protocol_vectors_match_the_rust_codec() {
    check("protocol.json", protocol_golden());
}

#[test]
fn the_served_schema_matches_the_declaration() {
    // What `/schema.json` serves; tests/golden/schema.test.mjs decodes every State vector with it.
    let served: Value = serde_json::from_str(&tickwire::web::schema_json(
        &tickwire::games::builtin(&Config::default()).unwrap(),
    ))
    .expect("schema JSON");
    check("arena_schema.json", served);
}

#[test]
fn random_schema_vectors_match_the_rust_codec() {
    check("random_schemas.json", random_schemas::vectors());
}

#[test]
fn soccer_frame_vectors_match_the_rust_codec() {
    check("soccer_frames.json", soccer_vectors::vectors());
}

#[test]
fn movement_traces_match_the_simulation() {
    check("movement.json", movement_golden());
}

#[test]
fn golden_vectors_decode_as_recorded() {
    // The committed bytes decode to the committed messages' Rust values (the other direction
    // of the check above, independent of how the JSON is produced).
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        "protocol.json",
    ]
    .iter()
    .collect();
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!("{} is missing", path.display());
    };
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let messages = v["messages"].as_array().expect("messages");
    assert!(messages.len() > 50);
    for m in messages {
        let bytes = unhex(m["hex"].as_str().expect("hex"));
        let json = if m["dir"] == "client" {
            client_json(&codec::decode_client(&bytes).expect("client message decodes"))
        } else {
            server_json(&codec::decode_server(&bytes).expect("server message decodes"))
        };
        assert_eq!(json, m["msg"], "{}", m["hex"]);
    }
}
