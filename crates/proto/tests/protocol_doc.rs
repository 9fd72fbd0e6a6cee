//! Keeps `PROTOCOL.md` honest: every worked example in it is encoded here with the real codec
//! and compared byte for byte, and the document must contain each hex string verbatim.

mod arena_view;

use arena_view::{Delta, EntityUpdate, frame, server_refuses, try_encode_body};
use tickwire_arena::entity::{FLAG_ALIVE, FLAG_CONNECTED};
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::codec::{self, DecodeError};
use tickwire_proto::msg::{
    ChatLine, ChatRefusal, ChatRefusalReason, ClientMsg, EndReason, FrameHeader, GameEvent, Hello,
    Input, JoinTarget, MapInfo, MatchResults, Phase, PlayerResult, Reject, RejectReason,
    RequestRefusal, RequestRefusalReason, ServerMsg, SessionToken, WallRect, Welcome,
};

const DOC: &str = include_str!("../PROTOCOL.md");

/// PROTOCOL.md 7.7: one update.
const EX_7_7: &str = "02 fb e8 03 02 fb 2a 01 01 fb 18 15 04 01 00 4b 6d";
/// PROTOCOL.md 7.8: a full snapshot with one player.
const EX_7_8: &str = "02 fb e8 03 00 00 00 00 0f 00 19 65 09 81 f7 43 00 22 3b 90 86 b9 b9 05";
/// PROTOCOL.md 7.9: remove, create and several updates.
const EX_7_9: &str = "02 fb e9 03 01 fb 2b 01 01 fb 17 15 1c 30 29 92 8c 08 85 f7 61 58 00 02 18 c0 44 93 22 2c 81 41 69 05 d4 00 48 81 01 0a 00";

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

fn check_client(msg: &ClientMsg, expected: &str) {
    let bytes = codec::encode_client(msg).expect("encodes");
    assert_eq!(hex(&bytes), expected, "{msg:?}");
    assert_eq!(&codec::decode_client(&bytes).expect("decodes"), msg);
    assert!(DOC.contains(expected), "PROTOCOL.md lacks `{expected}`");
}

fn check_server(msg: &ServerMsg, expected: &str) {
    let bytes = codec::encode_server(msg).expect("encodes");
    assert_eq!(hex(&bytes), expected, "{msg:?}");
    assert_eq!(&codec::decode_server(&bytes).expect("decodes"), msg);
    assert!(DOC.contains(expected), "PROTOCOL.md lacks `{expected}`");
}

fn std_bytes<T: serde::Serialize>(v: T) -> String {
    hex(&bincode::serde::encode_to_vec(v, bincode::config::standard()).expect("encodes"))
}

fn token() -> SessionToken {
    let mut secret = [0u8; 16];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = i as u8;
    }
    SessionToken {
        match_id: 7,
        player_id: 2,
        secret,
    }
}

#[test]
fn primitives() {
    assert_eq!(std_bytes(0u32), "00");
    assert_eq!(std_bytes(250u32), "fa");
    assert_eq!(std_bytes(251u32), "fb fb 00");
    assert_eq!(std_bytes(300u32), "fb 2c 01");
    assert_eq!(std_bytes(65535u32), "fb ff ff");
    assert_eq!(std_bytes(65536u32), "fc 00 00 01 00");
    assert_eq!(std_bytes(1u64 << 32), "fd 00 00 00 00 01 00 00 00");
    assert_eq!(std_bytes(1u16), "01");
    assert_eq!(std_bytes(0i32), "00");
    assert_eq!(std_bytes(-1i32), "01");
    assert_eq!(std_bytes(1i32), "02");
    assert_eq!(std_bytes(-2i32), "03");
    assert_eq!(std_bytes(125i32), "fa");
    assert_eq!(std_bytes(-126i32), "fb fb 00");
    assert_eq!(std_bytes(800i32), "fb 40 06");
    assert_eq!(std_bytes(i32::MIN), "fc ff ff ff ff");
    assert_eq!(std_bytes(-1i8), "ff");
    assert_eq!(std_bytes(-127i8), "81");
    assert_eq!(std_bytes(200u8), "c8");
    assert_eq!(std_bytes(true), "01");
    assert_eq!(std_bytes(Some(5u32)), "01 05");
    assert_eq!(std_bytes(None::<u32>), "00");
    assert_eq!(std_bytes("ann"), "03 61 6e 6e");
    assert_eq!(std_bytes(vec![1u32, 300]), "02 01 fb 2c 01");
    assert_eq!(std_bytes([0xabu8; 3]), "ab ab ab");
    assert_eq!(std_bytes((2i32, -1i32)), "04 01");
}

#[test]
fn client_examples() {
    let hello = |session, join| {
        ClientMsg::Hello(Hello {
            version: 3,
            game: None,
            schema_hash: None,
            name: "ann".into(),
            session,
            join,
        })
    };
    check_client(
        &hello(None, JoinTarget::Any),
        "00 03 00 00 03 61 6e 6e 00 00",
    );
    check_client(
        &ClientMsg::Hello(Hello {
            version: 3,
            game: Some("arena".into()),
            schema_hash: Some(0xb2b9_5987),
            name: "ann".into(),
            session: None,
            join: JoinTarget::Any,
        }),
        "00 03 01 05 61 72 65 6e 61 01 fc 87 59 b9 b2 03 61 6e 6e 00 00",
    );
    check_client(
        &hello(None, JoinTarget::Match(300)),
        "00 03 00 00 03 61 6e 6e 00 01 fb 2c 01",
    );
    check_client(
        &ClientMsg::Hello(Hello {
            version: 3,
            game: None,
            schema_hash: None,
            name: String::new(),
            session: None,
            join: JoinTarget::Spectate(7),
        }),
        "00 03 00 00 00 00 02 07",
    );
    let mut reservation = [0u8; 16];
    for (i, b) in reservation.iter_mut().enumerate() {
        *b = i as u8;
    }
    check_client(
        &hello(
            None,
            JoinTarget::Reserved {
                match_id: 300,
                token: reservation,
            },
        ),
        "00 03 00 00 03 61 6e 6e 00 03 fb 2c 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
    );
    check_client(
        &hello(Some(token()), JoinTarget::Any),
        "00 03 00 00 03 61 6e 6e 01 07 02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 00",
    );
    check_client(
        &ClientMsg::Input(Input {
            seq: 300,
            ack: 299,
            // Arena's move_x 127, move_y -127, aim 64, buttons 1.
            payload: [0x7f, 0x81, 0x40, 0x01].into(),
        }),
        "01 fb 2c 01 fb 2b 01 04 7f 81 40 01",
    );
    check_client(&ClientMsg::Ack { tick: 299 }, "02 fb 2b 01");
    check_client(
        &ClientMsg::Ping {
            client_time: 1_000_000,
        },
        "03 fc 40 42 0f 00",
    );
    check_client(&ClientMsg::Leave, "04");
    check_client(&ClientMsg::Chat { text: "gg".into() }, "05 02 67 67");
    check_client(
        &ClientMsg::Request {
            id: 1,
            payload: vec![0, 3],
        },
        "07 01 02 00 03",
    );
    check_client(
        &ClientMsg::Request {
            id: 300,
            payload: vec![],
        },
        "07 fb 2c 01 00",
    );
    check_client(
        &ClientMsg::Mute {
            player: 3,
            muted: true,
        },
        "06 03 01",
    );
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

#[test]
fn server_examples() {
    check_server(
        &ServerMsg::Welcome(Welcome {
            version: 3,
            game: "arena".into(),
            schema_hash: 0xb2b9_5987,
            player_id: 2,
            entity_id: 5,
            match_id: 7,
            tick_rate: 30,
            tick: 1000,
            session: token(),
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
        "00 03 05 61 72 65 6e 61 fc 87 59 b9 b2 02 05 07 1e fb e8 03 07 02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 00 \
         05 61 72 65 6e 61 fb 80 02 fb e0 01 01 c8 27 10 80",
    );
    check_server(
        &ServerMsg::Reject(Reject {
            reason: RejectReason::Full,
            message: "full".into(),
        }),
        "01 01 04 66 75 6c 6c",
    );
    check_server(
        &ServerMsg::Reject(Reject {
            reason: RejectReason::SchemaMismatch,
            message: "stale".into(),
        }),
        "01 0d 05 73 74 61 6c 65",
    );
    // The brief's example: the entity at baseline index 1 ends up (+2, -1) away from where
    // its velocity predicted it, against the frame two ticks back.
    check_server(
        &ServerMsg::State(frame(
            header(1000, 2, 298, Phase::Running, 5400),
            &Delta {
                updated: vec![EntityUpdate {
                    index: 1,
                    pos_residual: Some((2, -1)),
                    ..EntityUpdate::default()
                }],
                ..Delta::default()
            },
        )),
        EX_7_7,
    );
    let ann = EntityState {
        id: 5,
        kind: EntityKind::Player,
        x: 800,
        y: -240,
        vx: 0,
        vy: 0,
        aim: 64,
        hp: 100,
        score: 0,
        flags: FLAG_ALIVE | FLAG_CONNECTED,
        owner: 0,
        name: "ann".into(),
    };
    check_server(
        &ServerMsg::State(frame(
            header(1000, 0, 0, Phase::Waiting, 0),
            &Delta {
                created: vec![ann.clone()],
                ..Delta::default()
            },
        )),
        EX_7_8,
    );
    let shot = EntityState {
        id: 9,
        kind: EntityKind::Projectile,
        x: 808,
        y: -240,
        vx: 187,
        vy: 0,
        aim: 64,
        hp: 0,
        score: 0,
        flags: FLAG_ALIVE,
        owner: 5,
        name: String::new(),
    };
    check_server(
        &ServerMsg::State(frame(
            header(1001, 1, 299, Phase::Running, 5399),
            &Delta {
                removed: vec![1],
                created: vec![shot],
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
        )),
        EX_7_9,
    );
    // A frame with no corrections at all.
    check_server(
        &ServerMsg::State(frame(header(1, 1, 0, Phase::Running, 0), &Delta::default())),
        "02 01 01 00 01 00 03 00 00 07",
    );
    check_server(
        &ServerMsg::Pong {
            client_time: 1_000_000,
            server_tick: 1000,
        },
        "03 fc 40 42 0f 00 fb e8 03",
    );
    check_server(
        &ServerMsg::Event(GameEvent::Kill {
            killer: 2,
            victim: 3,
            killer_entity: 5,
            victim_entity: 6,
        }),
        "04 00 02 03 05 06",
    );
    check_server(
        &ServerMsg::Event(GameEvent::PhaseChanged {
            phase: Phase::Running,
            ticks: 9000,
        }),
        "04 01 01 fb 28 23",
    );
    check_server(
        &ServerMsg::MatchEnded(MatchResults {
            match_id: 7,
            reason: EndReason::ScoreLimit,
            ticks: 9000,
            players: vec![PlayerResult {
                player_id: 2,
                name: "ann".into(),
                score: 20,
                kills: 20,
                deaths: 3,
            }],
        }),
        "05 07 01 fb 28 23 01 02 03 61 6e 6e 14 14 03",
    );
    check_server(
        &ServerMsg::Chat(ChatLine {
            seq: 1,
            tick: 300,
            from: 2,
            name: "ann".into(),
            text: "gg".into(),
        }),
        "06 01 fb 2c 01 02 03 61 6e 6e 02 67 67",
    );
    check_server(
        &ServerMsg::Reply {
            id: 1,
            payload: 301u32.to_le_bytes().to_vec(),
        },
        "08 01 04 2d 01 00 00",
    );
    check_server(
        &ServerMsg::RequestRefused(RequestRefusal {
            id: 1,
            reason: RequestRefusalReason::TooLarge,
            limit: 256,
            message: String::new(),
        }),
        "09 01 01 fb 00 01 00",
    );
    check_server(
        &ServerMsg::RequestRefused(RequestRefusal {
            id: 2,
            reason: RequestRefusalReason::Refused,
            limit: 0,
            message: "no".into(),
        }),
        "09 02 03 00 02 6e 6f",
    );
    check_server(
        &ServerMsg::Event(GameEvent::Emote { player: 2, kind: 5 }),
        "04 02 02 05",
    );
    check_server(
        &ServerMsg::Event(GameEvent::Game {
            payload: vec![2, 1],
        }),
        "04 03 02 02 01",
    );
    check_server(
        &ServerMsg::ChatRefused(ChatRefusal {
            reason: ChatRefusalReason::RateLimited,
            limit: 3000,
        }),
        "07 03 fb b8 0b",
    );
}

#[test]
fn documented_errors() {
    // Trailing bytes after a complete message.
    assert_eq!(
        codec::decode_client(&unhex("04 00")),
        Err(DecodeError::TrailingBytes(1))
    );
    // Over the client limit.
    let big = vec![0u8; codec::CLIENT_MSG_LIMIT + 1];
    assert!(matches!(
        codec::decode_client(&big),
        Err(DecodeError::TooLarge { .. })
    ));
    // Unknown variant index, truncated message, bad bool / option tag.
    assert!(codec::decode_client(&unhex("05")).is_err());
    assert!(codec::decode_client(&unhex("02 fb 2b")).is_err());
    assert!(codec::decode_client(&unhex("00 03 02 00 03 61 6e 6e 00 00")).is_err());
    // An Input payload over the 64-byte bound (which lengths below it are valid is the
    // game's to say, and a match closes with 1007 on one its game does not decode).
    assert!(codec::decode_client(&unhex("01 01 00 41")).is_err());
    // A packed delta with non-zero padding, or a trailing byte inside its byte string: the
    // message decodes (the body is the schema's to read), the body does not.
    assert!(server_refuses(&unhex("02 01 00 00 00 00 03 00 00 0f")));
    assert!(server_refuses(&unhex("02 01 00 00 00 00 04 00 00 07 00")));
    // Non-ascending update indices cannot even be encoded.
    let bad = Delta {
        updated: vec![
            EntityUpdate {
                index: 5,
                hp: Some(1),
                ..EntityUpdate::default()
            },
            EntityUpdate {
                index: 5,
                hp: Some(2),
                ..EntityUpdate::default()
            },
        ],
        ..Delta::default()
    };
    assert!(try_encode_body(&bad).is_err());
}

/// The text between `<!-- schema:NAME -->` and its end marker in PROTOCOL.md.
fn schema_section(name: &str) -> &'static str {
    let start = format!("<!-- schema:{name} -->\n");
    let end = format!("\n<!-- /schema:{name} -->");
    let from = DOC
        .find(&start)
        .unwrap_or_else(|| panic!("PROTOCOL.md has the {name} schema section"))
        + start.len();
    let to = DOC[from..].find(&end).expect("and its end marker") + from;
    DOC[from..to].trim_end()
}

#[test]
fn the_arena_schema_tables_are_the_declarations() {
    assert_eq!(
        schema_section("arena"),
        tickwire_arena::schema::arena_schema().markdown().trim_end(),
        "PROTOCOL.md §2.3 differs from arena_schema(): paste `tickwire schema --game arena --markdown`"
    );
}

#[test]
fn the_soccer_schema_tables_are_the_declarations() {
    use tickwire_sim::Game as _;
    assert_eq!(
        schema_section("soccer"),
        tickwire_soccer::Soccer::schema().markdown().trim_end(),
        "PROTOCOL.md §2.4 differs from Soccer::schema(): paste `tickwire schema --game soccer --markdown`"
    );
}
