//! A quick comparison (no criterion, no assertion on time) of arena's frames through
//! `pack.rs` and through `arena_schema()`: diff + encode on the server, decode + apply on a
//! client, on the same frames; the bytes are checked equal on the way.
//!
//! `cargo run -p tickwire-proto --release --example schema_vs_pack [entities] [frames]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use tickwire_proto::delta::{self, World};
use tickwire_proto::entity::FLAG_ALIVE;
use tickwire_proto::schema::arena::{arena_schema, row_from_entity};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{self, EntityRow, RowDelta, RowWorld};
use tickwire_proto::{EntityKind, EntityState, msg::Delta, pack};

/// SplitMix64, so every run times the same frames.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((hi - lo) as u64) as i32
    }
}

/// Snapshots of a world of `n` entities over `frames` ticks: most move steadily, some steer,
/// are nudged, take damage or score, and a few die and are born.
fn snapshots(n: usize, frames: usize) -> Vec<Vec<EntityState>> {
    let mut rng = Rng(42);
    let mut next_id = 1;
    let mut born = |rng: &mut Rng| {
        let kind = if rng.below(3) == 0 {
            EntityKind::Projectile
        } else {
            EntityKind::Player
        };
        next_id += 1 + rng.below(3) as u32;
        EntityState {
            id: next_id,
            kind,
            x: rng.range(0, 16000),
            y: rng.range(0, 16000),
            vx: rng.range(-60, 60),
            vy: rng.range(-60, 60),
            aim: rng.below(256) as u8,
            hp: 100,
            score: 0,
            flags: 3,
            owner: rng.below(50) as u32,
            name: if kind == EntityKind::Player {
                "player".into()
            } else {
                String::new()
            },
        }
    };
    let mut world: Vec<EntityState> = (0..n).map(|_| born(&mut rng)).collect();
    let mut out = Vec::with_capacity(frames);
    for _ in 0..frames {
        for e in &mut world {
            (e.x, e.y) = e.predict(1);
            match rng.below(20) {
                0 => (e.vx, e.vy) = (rng.range(-60, 60), rng.range(-60, 60)),
                1 | 2 => e.x += rng.range(-2, 3),
                3 => e.aim = e.aim.wrapping_add(3),
                4 => e.hp = e.hp.saturating_sub(10),
                5 => {
                    e.score += 1;
                    e.flags ^= FLAG_ALIVE;
                }
                _ => {}
            }
        }
        world.retain(|_| rng.below(100) != 0);
        while world.len() < n {
            world.push(born(&mut rng));
        }
        out.push(world.clone());
    }
    out
}

/// Time of `f` over every frame pair, best of fifteen rounds (the machine may be busy), per frame.
fn time(frames: usize, mut f: impl FnMut()) -> Duration {
    (0..15)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
        / frames as u32
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let frames: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    const AGE: usize = 2;
    let snaps = snapshots(n, frames + AGE);
    // A game keeps an entity's strings in one shared allocation for its life, as the rows'
    // `Arc` allows; so do these snapshots.
    let mut strings = std::collections::HashMap::new();
    let row_snaps: Vec<Vec<EntityRow>> = snaps
        .iter()
        .map(|s| {
            s.iter()
                .map(|e| {
                    let mut row = row_from_entity(e);
                    row.strings = strings.entry(e.id).or_insert(row.strings).clone();
                    row
                })
                .collect()
        })
        .collect();
    let schema = arena_schema();
    let pairs = frames;

    // Server: diff against a baseline AGE ticks old, then encode.
    let pack_deltas: Vec<Delta> = (0..pairs)
        .map(|i| delta::diff(&snaps[i], &snaps[i + AGE], AGE as u32))
        .collect();
    let row_deltas: Vec<RowDelta> = (0..pairs)
        .map(|i| rows::diff(&schema, &row_snaps[i], &row_snaps[i + AGE], AGE as u32))
        .collect();
    let mut pack_delta = Delta::default();
    let pack_diff = time(pairs, || {
        for i in 0..pairs {
            delta::diff_into(&snaps[i], &snaps[i + AGE], AGE as u32, &mut pack_delta);
            black_box(&pack_delta);
        }
    });
    let mut row_delta = RowDelta::default();
    let schema_diff = time(pairs, || {
        for i in 0..pairs {
            let (base, cur) = (&row_snaps[i], &row_snaps[i + AGE]);
            rows::diff_into(&schema, base, cur, AGE as u32, &mut row_delta);
            black_box(&row_delta);
        }
    });
    let mut pack_bytes = vec![Vec::new(); pairs];
    let pack_encode = time(pairs, || {
        for (d, out) in pack_deltas.iter().zip(&mut pack_bytes) {
            out.clear();
            pack::encode(d, out).expect("encodes");
        }
    });
    let mut schema_bytes = vec![Vec::new(); pairs];
    let schema_encode = time(pairs, || {
        for (i, (d, out)) in row_deltas.iter().zip(&mut schema_bytes).enumerate() {
            out.clear();
            let base = &row_snaps[i];
            let kind_of = |j: u32| base.get(j as usize).map(|e| e.kind);
            body::encode(&schema, d, kind_of, out).expect("encodes");
        }
    });
    assert_eq!(
        pack_bytes, schema_bytes,
        "the schema encoder's bytes are pack.rs's"
    );

    // Client: decode, then apply to the baseline world.
    let pack_worlds: Vec<World> = snaps
        .iter()
        .map(|s| s.iter().map(|e| (e.id, e.clone())).collect())
        .collect();
    let row_worlds: Vec<RowWorld> = row_snaps
        .iter()
        .map(|s| s.iter().map(|e| (e.id, e.clone())).collect())
        .collect();
    let pack_decode = time(pairs, || {
        for bytes in &pack_bytes {
            black_box(pack::decode(bytes).expect("decodes"));
        }
    });
    let schema_decode = time(pairs, || {
        for (i, bytes) in schema_bytes.iter().enumerate() {
            let base = &row_snaps[i];
            let kind_of = |j: u32| base.get(j as usize).map(|e| e.kind);
            black_box(body::decode(&schema, bytes, kind_of).expect("decodes"));
        }
    });
    let pack_apply = time(pairs, || {
        for (i, d) in pack_deltas.iter().enumerate() {
            black_box(delta::apply(&pack_worlds[i], d, AGE as u32).expect("applies"));
        }
    });
    let schema_apply = time(pairs, || {
        for (i, d) in row_deltas.iter().enumerate() {
            black_box(rows::apply(&schema, &row_worlds[i], d, AGE as u32).expect("applies"));
        }
    });

    let bytes: usize = pack_bytes.iter().map(Vec::len).sum();
    println!(
        "{n} entities, {pairs} frames at age {AGE}, {:.1} body bytes per frame (identical)",
        bytes as f64 / pairs as f64
    );
    for (what, p, q) in [
        ("diff", pack_diff, schema_diff),
        ("encode", pack_encode, schema_encode),
        ("decode", pack_decode, schema_decode),
        ("apply", pack_apply, schema_apply),
    ] {
        println!(
            "{what:<7} pack.rs {p:>9.1?}  schema {q:>9.1?}  schema/pack {:.2}",
            q.as_secs_f64() / p.as_secs_f64()
        );
    }
}
