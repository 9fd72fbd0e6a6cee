use proptest::prelude::*;
use tickwire_arena::schema::{arena_schema, row_from_entity};
use tickwire_arena::{EntityKind, EntityState};

use super::*;
use crate::WorldBounds;
use crate::spatial::{Placement, SpatialIndex, within_sq};
fn entity(id: u32, x: i32, y: i32, owner: u32) -> EntityState {
    EntityState {
        id,
        kind: if owner == 0 {
            EntityKind::Player
        } else {
            EntityKind::Projectile
        },
        x,
        y,
        vx: 0,
        vy: 0,
        aim: 0,
        hp: 100,
        score: 0,
        flags: 1,
        owner,
        name: String::new(),
    }
}

#[test]
fn adaptive_budget_backs_off_and_recovers() {
    let mut b = AdaptiveBudget::new(1000);
    assert_eq!(b.current(), 1000);
    assert_eq!(b.next(true), 500);
    assert_eq!(b.next(true), 250);
    for _ in 0..10 {
        b.next(true);
    }
    assert_eq!(b.current(), MIN_FRAME_BUDGET_BYTES);
    let ticks = (0..100).take_while(|_| b.next(false) < 1000).count();
    assert_eq!(ticks, 13);
    assert_eq!(b.next(false), 1000);
    assert_eq!(AdaptiveBudget::new(0).current(), MIN_FRAME_BUDGET_BYTES);
}

/// The encoded body of `d` with its length prefix, as the server sends it.
fn encoded(schema: &Schema, d: &RowDelta) -> usize {
    let mut bytes = Vec::new();
    body::encode(schema, d, |_| Some(0), &mut bytes).unwrap();
    let prefix = match bytes.len() {
        0..=250 => 1,
        251..=0xffff => 3,
        _ => 5,
    };
    prefix + bytes.len()
}

#[test]
fn size_estimates_match_the_codec() {
    let schema = arena_schema();
    let a = EntityState {
        vx: 20,
        vy: -4,
        ..entity(7, 100, -100, 0)
    };
    let mut b = a.clone();
    b.vx += 3;
    b.x += 3 * 20 + 1;
    b.y -= 300;
    b.hp = 5;
    b.score = 1000;
    let (ra, rb) = (row_from_entity(&a), row_from_entity(&b));
    let mut d = RowDelta::default();
    rows::diff_into(
        &schema,
        std::slice::from_ref(&ra),
        std::slice::from_ref(&rb),
        3,
        &mut d,
    );
    let len = encoded(&schema, &d);
    assert_eq!(
        delta_len(&schema, &d, |_| Some(0)),
        len,
        "delta_len is exact"
    );
    let estimate = |bits: u32| (bits + DELTA_OVERHEAD).div_ceil(8);
    let mut scratch = RowDelta::default();
    let bits = entry_bits(
        &schema,
        Some((ra.row_ref(), 0)),
        Some(rb.row_ref()),
        true,
        3,
        None,
        &mut scratch,
    );
    let est = estimate(bits);
    assert!(est.abs_diff(len as u32) <= 2, "{est} {len}");
    let mut steady = a.clone();
    (steady.x, steady.y) = a.predict(3);
    let steady = row_from_entity(&steady);
    let mut d2 = RowDelta::default();
    assert!(
        !rows::push_update(&schema, ra.row_ref(), steady.row_ref(), 3, 0, &mut d2),
        "a steady mover needs no update"
    );
    assert!(
        rows::push_update(&schema, ra.row_ref(), ra.row_ref(), 3, 0, &mut d2),
        "standing still is news"
    );
    let mut named = entity(300, i32::MIN, i32::MAX, 9);
    named.name = "x".repeat(24);
    let rn = row_from_entity(&named);
    rows::diff_into(
        &schema,
        std::slice::from_ref(&ra),
        std::slice::from_ref(&rn),
        3,
        &mut d,
    );
    let len = encoded(&schema, &d);
    assert_eq!(delta_len(&schema, &d, |_| Some(0)), len);
    // The create of the named entity, its strings sent or held by the client.
    let mut create = |held| {
        entry_bits(
            &schema,
            None,
            Some(rn.row_ref()),
            held,
            3,
            None,
            &mut scratch,
        )
    };
    let (sent, held) = (create(false), create(true));
    let removal = entry_bits(
        &schema,
        Some((ra.row_ref(), 0)),
        None,
        false,
        3,
        None,
        &mut scratch,
    );
    let est = estimate(removal + sent);
    assert!(est.abs_diff(len as u32) <= 4, "{est} {len}");
    // A create whose strings the client holds is priced without them:
    // 24 bytes, and a length code of 9 bits (Exp-Golomb of 25) instead of 1 (of 0).
    assert_eq!(sent - held, 24 * 8 + 8);
    // A changed identity is a remove plus a create, as in `diff`.
    let mut other = named.clone();
    other.id = 7;
    let ro = row_from_entity(&other);
    let mut base = Rows::default();
    base.push(ra.row_ref());
    let mut view = Rows::default();
    emit(
        &schema,
        &base,
        3,
        [(ro.row_ref(), &ro)].into_iter(),
        Some(&mut view),
        &mut d,
    );
    assert_eq!(d, rows::diff(&schema, &[ra], std::slice::from_ref(&ro), 3));
    assert_eq!(view.len(), 1);
    assert_eq!(view.row(0, &ro.strings), ro.row_ref());
}

fn arb_snapshot() -> impl Strategy<Value = Vec<EntityRow>> {
    proptest::collection::vec((-400i32..9000, -400i32..9000, 0u32..3), 0..120).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (x, y, owner))| row_from_entity(&entity(i as u32 + 1, x, y, owner)))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn grid_query_equals_brute_force(
        snap in arb_snapshot(),
        side in 50u32..1200,
        cell in 1u32..400,
        queries in proptest::collection::vec((-500i32..10_000, -500i32..10_000, 0.0f32..700.0), 1..8),
    ) {
        let mut index = SpatialIndex::new(WorldBounds {
            width: side,
            height: side,
            cell_size: cell.min(side),
        });
        let place = Placement::new(&arena_schema());
        index.rebuild(&snap, &place);
        prop_assert!(index.unplaced().is_empty(), "every arena kind has a position");
        for (cx, cy, r) in queries {
            let mut found = Vec::new();
            index.within(&snap, &place, (cx, cy), r, |i| found.push(i));
            found.sort_unstable();
            let brute: Vec<u32> = (0..snap.len() as u32)
                .filter(|&i| {
                    let p = place.position(&snap[i as usize]).unwrap();
                    within_sq(p, (cx, cy), place.radius_sq(r))
                })
                .collect();
            prop_assert_eq!(found, brute);
        }
        for owner in 0..3 {
            let owned: Vec<u32> = index.owned_by(owner).collect();
            let brute: Vec<u32> = (0..snap.len() as u32)
                .filter(|&i| owner != 0 && place.owner(&snap[i as usize]) == owner)
                .collect();
            prop_assert_eq!(owned, brute);
        }
    }

}
