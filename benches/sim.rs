//! Simulation benchmarks: one `Match::step` at several player counts, the per-client
//! replication cost (delta plus encoding), and interest management on a big map.

use std::hint::black_box;

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_main};
use tickwire_arena::BUTTON_FIRE;
use tickwire_arena::{ArenaConfig, ArenaInput, ArenaMatch, MapDef, new_match};
use tickwire_proto::codec::encode_rows;
use tickwire_proto::schema::rows::RowDelta;
use tickwire_sim::{ClientView, FrameScratch, MatchConfig, SplitMix64};

/// Arena's rules without a score limit, so a long run never ends by score.
fn unlimited() -> ArenaConfig {
    ArenaConfig {
        score_limit: 0,
        ..ArenaConfig::default()
    }
}

/// Player counts of the step benchmark.
const PLAYER_COUNTS: [usize; 4] = [8, 64, 512, 2048];

/// Players of the delta benchmark.
const DELTA_PLAYERS: usize = 64;

/// Ticks simulated before measuring, so projectiles and respawns are in their steady state.
const WARMUP_TICKS: u32 = 90;

/// Deterministic random-walk inputs for every player of a match.
struct Walkers {
    rng: SplitMix64,
    /// Per player: sequence number, move x, move y, aim.
    state: Vec<(u32, i8, i8, u8)>,
}

impl Walkers {
    fn new(players: usize, seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            state: vec![(0, 0, 0, 0); players],
        }
    }

    /// Pushes one input per player: the stick and aim drift a little every tick and the fire
    /// button is held a quarter of the time.
    fn push(&mut self, m: &mut ArenaMatch) {
        for (i, (seq, mx, my, aim)) in self.state.iter_mut().enumerate() {
            let bits = self.rng.next_u64();
            let drift = |v: i8, b: u64| v.saturating_add((b % 41) as i8 - 20);
            *seq += 1;
            *mx = drift(*mx, bits);
            *my = drift(*my, bits >> 8);
            *aim = aim.wrapping_add((bits >> 16) as u8 % 9).wrapping_sub(4);
            let input = ArenaInput {
                move_x: *mx,
                move_y: *my,
                aim: *aim,
                buttons: if (bits >> 24) % 4 == 0 {
                    BUTTON_FIRE
                } else {
                    0
                },
            };
            m.push_input(i as u32 + 1, *seq, input);
        }
    }
}

/// A running match of `players` players on an open arena sized for about 120 x 120 world units
/// per player (at least 1000 x 1000), after the warm-up.
fn setup(players: usize) -> (ArenaMatch, Walkers) {
    let config = MatchConfig {
        max_players: u16::try_from(players).expect("player count fits u16"),
        match_duration_secs: 7 * 24 * 3600,
        ..MatchConfig::default()
    };
    let side = ((players as f64).sqrt() * 120.0).max(1000.0) as u32;
    let mut m =
        new_match(config, unlimited(), MapDef::open_arena(side, side), 42).expect("valid setup");
    for i in 0..players {
        m.add_player(&format!("bot{i}"))
            .expect("room for every player");
    }
    let mut walkers = Walkers::new(players, 7);
    for _ in 0..WARMUP_TICKS {
        walkers.push(&mut m);
        m.step();
    }
    (m, walkers)
}

fn sim_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim_step");
    for players in PLAYER_COUNTS {
        let (mut m, mut walkers) = setup(players);
        group.throughput(Throughput::Elements(players as u64));
        group.bench_function(BenchmarkId::from_parameter(players), |b| {
            b.iter(|| {
                walkers.push(&mut m);
                black_box(m.step());
            })
        });
    }
    group.finish();
}

fn delta(c: &mut Criterion) {
    let mut group = c.benchmark_group("delta");
    let (m, _) = setup(DELTA_PLAYERS);
    let mut delta = RowDelta::default();
    let mut bytes = Vec::with_capacity(16 * 1024);
    group.throughput(Throughput::Elements(DELTA_PLAYERS as u64));
    // A client two ticks behind (the common case) and one needing a full snapshot.
    for (name, ack) in [("age_2", m.tick() - 2), ("full", 0)] {
        group.bench_function(BenchmarkId::new(name, DELTA_PLAYERS), |b| {
            b.iter(|| {
                let age = m.delta_since(black_box(ack), &mut delta);
                bytes.clear();
                encode_rows(m.schema(), &delta, |_| Some(0), &mut bytes).expect("delta encodes");
                black_box((age, bytes.len()))
            })
        });
    }
    group.finish();
}

/// Players of the interest benchmark ("big-map"), the others each sees, and the view radius.
const BIG_PLAYERS: usize = 1000;
/// Others each player of the big map sees, about.
const BIG_VISIBLE: u32 = 50;
/// View radius of the big map, world units.
const BIG_RADIUS: f32 = 150.0;
/// Bytes per second of the budgeted variant (266 bytes per frame at 30 Hz).
const BIG_BUDGET: u32 = 8000;

/// The big-map match after the warm-up, with one client view per player that has been sent
/// the last two ticks (so the next frame has a two-tick-old baseline, the common case).
fn setup_big(budget: u32) -> (ArenaMatch, Walkers, Vec<ClientView>) {
    let config = MatchConfig {
        max_players: BIG_PLAYERS as u16,
        match_duration_secs: 7 * 24 * 3600,
        view_radius: BIG_RADIUS,
        replication_budget_bytes_per_sec: budget,
        ..MatchConfig::default()
    };
    let map = MapDef::big_arena(BIG_PLAYERS as u32, BIG_VISIBLE, BIG_RADIUS);
    let mut m = new_match(config, unlimited(), map, 42).expect("valid setup");
    for i in 0..BIG_PLAYERS {
        m.add_player(&format!("bot{i}"))
            .expect("room for every player");
    }
    let mut walkers = Walkers::new(BIG_PLAYERS, 7);
    let mut views = vec![ClientView::new(); BIG_PLAYERS];
    let mut delta = RowDelta::default();
    let mut scratch = FrameScratch::default();
    for _ in 0..WARMUP_TICKS {
        walkers.push(&mut m);
        m.step();
        frame_all(&m, &mut views, &mut scratch, &mut delta, &mut Vec::new());
    }
    (m, walkers, views)
}

/// One frame per client (player `i + 1`, acknowledging two ticks back) plus its encoding;
/// returns the bytes encoded.
fn frame_all(
    m: &ArenaMatch,
    views: &mut [ClientView],
    scratch: &mut FrameScratch,
    delta: &mut RowDelta,
    bytes: &mut Vec<u8>,
) -> usize {
    let budget = m.config().frame_budget_bytes();
    let ack = m.tick().saturating_sub(2);
    let mut total = 0;
    for (i, view) in views.iter_mut().enumerate() {
        view.frame(m, Some(i as u32 + 1), ack, budget, scratch, delta);
        bytes.clear();
        encode_rows(m.schema(), delta, |_| Some(0), bytes).expect("delta encodes");
        total += bytes.len();
    }
    total
}

fn interest(c: &mut Criterion) {
    let mut group = c.benchmark_group("interest");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, budget) in [("unlimited", 0), ("budget_8000", BIG_BUDGET)] {
        let (mut m, mut walkers, mut views) = setup_big(budget);
        let mut delta = RowDelta::default();
        let mut scratch = FrameScratch::default();
        let mut bytes = Vec::with_capacity(64 * 1024);
        // One client's frame (a clone of its view, so every run builds the same tick).
        {
            let view = views[0].clone();
            let budget = m.config().frame_budget_bytes();
            let ack = m.tick() - 1;
            let s = {
                let mut v = view.clone();
                v.frame(&m, Some(1), ack, budget, &mut scratch, &mut delta);
                *v.stats()
            };
            eprintln!(
                "interest/{name}: client 1 sees {} entities, frame {} bytes, {} deferred",
                s.relevant,
                tickwire_sim::interest::delta_len(m.schema(), &delta, |_| Some(0)),
                s.deferred
            );
            group.throughput(Throughput::Elements(1));
            group.bench_function(BenchmarkId::new("frame_1_client", name), |b| {
                b.iter_batched(
                    || view.clone(),
                    |mut v| {
                        let age = v.frame(
                            &m,
                            Some(1),
                            black_box(ack),
                            budget,
                            &mut scratch,
                            &mut delta,
                        );
                        (v, age)
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        if budget == 0 {
            m.delta_since(m.tick() - 2, &mut delta);
            bytes.clear();
            encode_rows(m.schema(), &delta, |_| Some(0), &mut bytes).expect("delta encodes");
            eprintln!(
                "interest: without interest management every client frame is {} bytes",
                bytes.len()
            );
            // The step alone, for comparison with the whole tick below.
            group.throughput(Throughput::Elements(BIG_PLAYERS as u64));
            group.bench_function(BenchmarkId::new("step_only", name), |b| {
                let mut m = m.clone();
                b.iter(|| {
                    walkers.push(&mut m);
                    black_box(m.step())
                })
            });
        }
        // The whole tick: step, then a frame and its encoding for each of the 1,000 clients.
        let total = frame_all(&m, &mut views, &mut scratch, &mut delta, &mut bytes);
        let relevant: usize = views.iter().map(|v| v.stats().relevant).sum();
        let deferring = views.iter().filter(|v| v.stats().deferred > 0).count();
        eprintln!(
            "interest/{name}: per client frame {} bytes, {} entities on average; {deferring} of \
             {BIG_PLAYERS} frames deferred some",
            total / BIG_PLAYERS,
            relevant / BIG_PLAYERS,
        );
        group.throughput(Throughput::Elements(BIG_PLAYERS as u64));
        group.bench_function(BenchmarkId::new("tick_1000_clients", name), |b| {
            b.iter(|| {
                walkers.push(&mut m);
                m.step();
                black_box(frame_all(
                    &m,
                    &mut views,
                    &mut scratch,
                    &mut delta,
                    &mut bytes,
                ))
            })
        });
    }
    group.finish();
}

/// Runs every group (written out instead of `criterion_group!`, whose generated function has no
/// doc comment for the workspace's `missing_docs` lint).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    sim_step(&mut c);
    delta(&mut c);
    interest(&mut c);
}

criterion_main!(benches);
