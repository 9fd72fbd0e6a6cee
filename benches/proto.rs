//! Wire protocol benchmarks: encode and decode of every message kind, one client's delta
//! (diff plus encode), and a whole tick's fan-out to 1,000 clients in the shape the match loop
//! uses (one delta body per distinct baseline, one header per client). Snapshots are arena's
//! schema rows and bodies the schema's encoding, as the server's.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use tickwire_arena::schema as arena;
use tickwire_arena::{ArenaInput, BUTTON_FIRE};
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::PROTOCOL_VERSION;
use tickwire_proto::codec::{
    decode_client, decode_server, encode_client, encode_rows, encode_server, encode_state,
};
use tickwire_proto::msg::{
    ClientMsg, EndReason, FrameHeader, Hello, JoinTarget, MapInfo, MatchResults, Phase,
    PlayerResult, ServerMsg, SessionToken, StateFrame, WallRect, Welcome,
};
use tickwire_proto::schema::rows::{EntityRow, RowDelta, diff};
use tickwire_proto::schema::{Schema, body};

/// Players in the state-frame benchmarks.
const PLAYERS: u32 = 50;
/// Clients in the fan-out benchmark.
const FANOUT_CLIENTS: usize = 1000;
/// Distinct baselines the fan-out's clients acknowledge (ack lag of 1 to this many ticks).
const FANOUT_BASELINES: u32 = 4;
/// Largest per-tick step of a player, in 1/8 world units (300 units/s at 30 Hz is 80).
const MAX_STEP: i32 = 80;

/// A tiny deterministic generator, so every run benchmarks the same bytes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn step(&mut self) -> i32 {
        (self.next() % (2 * MAX_STEP as u64 + 1)) as i32 - MAX_STEP
    }
}

/// A snapshot of `PLAYERS` players spread over a 1000 x 1000 arena.
fn snapshot(rng: &mut XorShift) -> Vec<EntityState> {
    (1..=PLAYERS)
        .map(|id| EntityState {
            id,
            kind: EntityKind::Player,
            x: (rng.next() % 8000) as i32,
            y: (rng.next() % 8000) as i32,
            vx: rng.step(),
            vy: rng.step(),
            aim: rng.next() as u8,
            hp: 100,
            score: 0,
            flags: 3,
            owner: 0,
            name: format!("player{id}"),
        })
        .collect()
}

/// The snapshot one tick later: every player moved, a few turned.
fn advance(prev: &[EntityState], rng: &mut XorShift) -> Vec<EntityState> {
    prev.iter()
        .map(|e| {
            let mut e = e.clone();
            // Steady movers whose rounding wobbles by a unit, as players at speed do.
            e.x += e.vx + (rng.next() % 3) as i32 - 1;
            e.y += e.vy + (rng.next() % 3) as i32 - 1;
            if rng.next() % 4 == 0 {
                e.aim = e.aim.wrapping_add(3);
            }
            e
        })
        .collect()
}

/// Arena's schema rows of a snapshot.
fn rows(snapshot: &[EntityState]) -> Vec<EntityRow> {
    snapshot.iter().map(arena::row_from_entity).collect()
}

/// The packed body of `delta` (arena's updates are coded alike for every kind: no baseline
/// kinds needed).
fn packed(schema: &Schema, delta: &RowDelta) -> Vec<u8> {
    let mut out = Vec::new();
    body::encode(schema, delta, |_| Some(0), &mut out).expect("encodes");
    out
}

fn header(tick: u32, baseline_age: u32) -> FrameHeader {
    FrameHeader {
        tick,
        baseline_age,
        last_input: tick.saturating_sub(3),
        phase: Phase::Running,
        phase_ticks_left: 5400,
    }
}

fn token() -> SessionToken {
    SessionToken {
        match_id: 7,
        player_id: 2,
        secret: [0xab; 16],
    }
}

fn client_messages() -> Vec<(&'static str, ClientMsg)> {
    vec![
        (
            "hello",
            ClientMsg::Hello(Hello {
                version: PROTOCOL_VERSION,
                game: Some(arena::GAME_NAME.into()),
                schema_hash: Some(arena::schema_hash()),
                name: "player2".into(),
                session: Some(token()),
                join: JoinTarget::Any,
            }),
        ),
        (
            "input",
            ClientMsg::Input(
                ArenaInput {
                    move_x: 127,
                    move_y: -90,
                    aim: 64,
                    buttons: BUTTON_FIRE,
                }
                .message(3000, 2998),
            ),
        ),
    ]
}

fn server_messages() -> Vec<(&'static str, ServerMsg)> {
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let schema = arena::arena_schema();
    let base = snapshot(&mut rng);
    let cur = rows(&advance(&base, &mut rng));
    let base = rows(&base);
    let walls = (0..9)
        .map(|i| WallRect {
            x: 100 * i,
            y: 50,
            w: 30,
            h: 160,
        })
        .collect();
    vec![
        (
            "welcome",
            ServerMsg::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                game: arena::GAME_NAME.into(),
                schema_hash: arena::schema_hash(),
                player_id: 2,
                entity_id: 5,
                match_id: 7,
                tick_rate: 30,
                tick: 1000,
                session: token(),
                resumed: false,
                map: MapInfo {
                    name: "arena".into(),
                    width: 1000,
                    height: 1000,
                    walls,
                },
            }),
        ),
        (
            "state_full_50",
            ServerMsg::State(StateFrame {
                header: header(1000, 0),
                body: packed(&schema, &diff(&schema, &[], &cur, 0)),
            }),
        ),
        (
            "state_delta_50_moving",
            ServerMsg::State(StateFrame {
                header: header(1000, 1),
                body: packed(&schema, &diff(&schema, &base, &cur, 1)),
            }),
        ),
        (
            "pong",
            ServerMsg::Pong {
                client_time: 1_234_567_890,
                server_tick: 1000,
            },
        ),
        (
            "match_ended",
            ServerMsg::MatchEnded(MatchResults {
                match_id: 7,
                reason: EndReason::TimeLimit,
                ticks: 9000,
                players: (1..=PLAYERS)
                    .map(|id| PlayerResult {
                        player_id: id,
                        name: format!("player{id}"),
                        score: 50 - id,
                        kills: 50 - id,
                        deaths: id % 7,
                    })
                    .collect(),
            }),
        ),
    ]
}

fn codec(c: &mut Criterion) {
    let mut enc = c.benchmark_group("encode");
    for (name, msg) in client_messages() {
        let len = encode_client(&msg).expect("encodes").len();
        enc.throughput(Throughput::Bytes(len as u64));
        enc.bench_function(name, |b| b.iter(|| encode_client(black_box(&msg))));
    }
    for (name, msg) in server_messages() {
        let len = encode_server(&msg).expect("encodes").len();
        enc.throughput(Throughput::Bytes(len as u64));
        enc.bench_function(name, |b| b.iter(|| encode_server(black_box(&msg))));
    }
    enc.finish();

    let mut dec = c.benchmark_group("decode");
    for (name, msg) in client_messages() {
        let bytes = encode_client(&msg).expect("encodes");
        dec.throughput(Throughput::Bytes(bytes.len() as u64));
        dec.bench_function(name, |b| b.iter(|| decode_client(black_box(&bytes))));
    }
    // A State frame's decode includes its body's, with the schema, as a client does it.
    let schema = arena::arena_schema();
    let decode = |bytes: &[u8]| match decode_server(bytes) {
        Ok(ServerMsg::State(frame)) => body::decode(&schema, &frame.body, |_| Some(0)).is_ok(),
        other => other.is_ok(),
    };
    for (name, msg) in server_messages() {
        let bytes = encode_server(&msg).expect("encodes");
        dec.throughput(Throughput::Bytes(bytes.len() as u64));
        dec.bench_function(name, |b| b.iter(|| decode(black_box(&bytes))));
    }
    dec.finish();
}

/// One client's frame: diff against its baseline, encode the body, then header plus body.
fn one_client_delta(c: &mut Criterion) {
    let mut rng = XorShift(0x0bad_5eed_dead_beef);
    let schema = arena::arena_schema();
    let base = snapshot(&mut rng);
    let cur = rows(&advance(&base, &mut rng));
    let base = rows(&base);
    let mut group = c.benchmark_group("delta");
    group.throughput(Throughput::Elements(u64::from(PLAYERS)));
    let (mut body, mut frame) = (Vec::with_capacity(512), Vec::with_capacity(512));
    group.bench_function("one_client_50_moving", |b| {
        b.iter(|| {
            let delta = diff(&schema, black_box(&base), black_box(&cur), 1);
            body.clear();
            encode_rows(&schema, &delta, |_| Some(0), &mut body).expect("encodes");
            frame.clear();
            encode_state(&header(1000, 1), &body, &mut frame).expect("encodes");
            frame.len()
        })
    });
    group.finish();
}

/// A tick's fan-out as the match loop does it: each distinct baseline's delta is diffed and
/// encoded once, then every client gets its own header joined to that body, copied into the
/// `Bytes` its connection's writer sends.
fn fanout(c: &mut Criterion) {
    let mut rng = XorShift(0xfeed_f00d_1234_4321);
    let mut history = vec![snapshot(&mut rng)];
    for _ in 0..FANOUT_BASELINES {
        let next = advance(history.last().expect("non-empty"), &mut rng);
        history.push(next);
    }
    let schema = arena::arena_schema();
    let history: Vec<Vec<EntityRow>> = history.iter().map(|s| rows(s)).collect();
    let cur = history.last().expect("non-empty").clone();
    let tick = 1000;
    // Client i acknowledged a tick 1..=FANOUT_BASELINES behind, round robin.
    let ages: Vec<u32> = (0..FANOUT_CLIENTS)
        .map(|i| 1 + (i as u32 % FANOUT_BASELINES))
        .collect();
    let mut group = c.benchmark_group("fanout");
    group.throughput(Throughput::Elements(FANOUT_CLIENTS as u64));
    let mut bodies: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut frame = Vec::with_capacity(1024);
    group.bench_function(
        BenchmarkId::new(
            "tick",
            format!("{FANOUT_CLIENTS}_clients_{PLAYERS}_players"),
        ),
        |b| {
            b.iter(|| {
                bodies.clear();
                let mut total = 0usize;
                for &age in &ages {
                    let idx = match bodies.iter().position(|(a, _)| *a == age) {
                        Some(i) => i,
                        None => {
                            let base = &history[history.len() - 1 - age as usize];
                            let mut body = Vec::new();
                            let delta = diff(&schema, base, &cur, age);
                            encode_rows(&schema, &delta, |_| Some(0), &mut body).expect("encodes");
                            bodies.push((age, body));
                            bodies.len() - 1
                        }
                    };
                    frame.clear();
                    encode_state(&header(tick, age), &bodies[idx].1, &mut frame).expect("encodes");
                    let out = Bytes::copy_from_slice(&frame);
                    total += black_box(out).len();
                }
                total
            })
        },
    );
    group.finish();
}

/// Runs every group (written out instead of `criterion_group!`, whose generated function has no
/// doc comment for the workspace's `missing_docs` lint).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    codec(&mut c);
    one_client_delta(&mut c);
    fanout(&mut c);
}

criterion_main!(benches);
