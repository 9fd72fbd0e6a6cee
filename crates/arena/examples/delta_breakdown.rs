//! Where the bytes of interest-managed frames go: 1,000 random-walking players on the big map
//! (each sees about 50 within 150 units), 50 of them watched by a [`ClientView`] that has every
//! frame acknowledged before the next, as on an unloaded server. Prints bytes per frame and what
//! they carry (creates, removals, updates by field mask) after a warm-up.
//!
//! Run: `cargo run --release -p tickwire-sim --example delta_breakdown`

use std::collections::BTreeMap;
use std::f32::consts::TAU;

use tickwire_arena::{ArenaConfig, ArenaInput, MapDef, new_match};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::RowDelta;
use tickwire_sim::interest::delta_len;
use tickwire_sim::{ClientView, FrameScratch, MatchConfig};

/// Arena's rules without a score limit, so a long run never ends by score.
fn unlimited() -> ArenaConfig {
    ArenaConfig {
        score_limit: 0,
        ..ArenaConfig::default()
    }
}

/// Players in the match.
const PLAYERS: u16 = 1000;
/// Players whose frames are measured (every 20th).
const WATCHED: usize = 50;
/// Ticks simulated; the first half is warm-up.
const TICKS: u32 = 600;

fn main() {
    let config = MatchConfig {
        max_players: PLAYERS,
        min_players: 1,
        view_radius: 150.0,
        ..MatchConfig::default()
    };
    let map = MapDef::big_arena(u32::from(PLAYERS), 50, 150.0);
    let mut m = new_match(config, unlimited(), map, 7).expect("valid match");
    let players: Vec<_> = (0..PLAYERS)
        .map(|i| m.add_player(&format!("bot-{i}")).expect("seat"))
        .collect();
    // xorshift64: each player walks in a direction for 0.5 to 2 s, as the load tester's bots.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut walks = vec![(0u8, 0u32); players.len()];
    let mut views: Vec<ClientView> = (0..WATCHED).map(|_| ClientView::new()).collect();
    let mut out = RowDelta::default();
    let mut scratch = FrameScratch::default();
    let (mut frames, mut bytes, mut create_bytes, mut update_bytes) = (0usize, 0, 0, 0);
    let (mut creates, mut elided, mut removes, mut updates) = (0usize, 0, 0, 0);
    let mut masks: BTreeMap<&str, usize> = BTreeMap::new();
    for t in 1..=TICKS {
        for (p, walk) in players.iter().zip(&mut walks) {
            if walk.1 == 0 {
                *walk = (next() as u8, 15 + (next() % 46) as u32);
            }
            walk.1 -= 1;
            let a = f32::from(walk.0) * TAU / 256.0;
            let input = ArenaInput {
                move_x: (a.cos() * 127.0) as i8,
                move_y: (a.sin() * 127.0) as i8,
                aim: walk.0,
                buttons: 0,
            };
            m.push_input(*p, t, input);
        }
        m.step();
        for (i, view) in views.iter_mut().enumerate() {
            let age = view.frame(
                &m,
                Some(players[i * 20]),
                m.tick() - 1,
                None,
                &mut scratch,
                &mut out,
            );
            if t <= TICKS / 2 || age == 0 {
                continue;
            }
            frames += 1;
            let schema = m.schema();
            // Arena's updates are coded alike for every kind: no baseline kinds needed.
            let kind_of = |_| Some(0);
            // Arena's mask groups, as its schema declares them.
            let group = |g| schema.group_mask(g).expect("an arena group");
            let (vel, pos) = (group("VEL"), group("POS"));
            bytes += delta_len(schema, &out, kind_of);
            creates += out.created.len();
            elided += out.strings_elided.len();
            removes += out.removed.len();
            updates += out.updated.len();
            let creates_only = RowDelta {
                created: out.created.clone(),
                strings_elided: out.strings_elided.clone(),
                ..RowDelta::default()
            };
            create_bytes += body::encoded_len(schema, &creates_only, kind_of);
            let updates_only = RowDelta {
                updated: out.updated.clone(),
                update_values: out.update_values.clone(),
                ..RowDelta::default()
            };
            update_bytes += body::encoded_len(schema, &updates_only, kind_of);
            for u in &out.updated {
                let kind = match u.mask {
                    m if m == vel => "velocity only",
                    m if m == pos => "position only",
                    m if m == vel | pos => "velocity and position",
                    _ => "other fields",
                };
                *masks.entry(kind).or_default() += 1;
            }
        }
    }
    let f = frames.max(1) as f64;
    let per = |n: usize| n as f64 / f;
    println!("{frames} frames, {:.1} bytes of delta each", per(bytes));
    println!(
        "creates {:.2} per frame ({:.2} with the name left out), {:.1} B of creates alone",
        per(creates),
        per(elided),
        per(create_bytes)
    );
    println!("removals {:.2} per frame", per(removes));
    println!(
        "updates {:.2} per frame, {:.1} B of updates alone",
        per(updates),
        per(update_bytes)
    );
    for (kind, n) in masks {
        println!(
            "  {kind}: {:.0} %",
            n as f64 * 100.0 / updates.max(1) as f64
        );
    }
}
