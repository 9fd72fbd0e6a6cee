use proptest::prelude::*;
use tickwire_proto::codec::encode_delta;
use tickwire_proto::{EntityKind, EntityState};

use super::*;
use crate::WorldBounds;
use crate::spatial::{SpatialIndex, radius_sq, within_sq};

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

#[test]
fn size_estimates_match_the_codec() {
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
    let mut d = Delta::default();
    diff_into(
        std::slice::from_ref(&a),
        std::slice::from_ref(&b),
        3,
        &mut d,
    );
    let mut bytes = Vec::new();
    encode_delta(&d, &mut bytes).unwrap();
    assert_eq!(delta_len(&d), bytes.len(), "delta_len is exact");
    let (sa, sb) = (Slot::of(&a), Slot::of(&b));
    let estimate = |bits: u32| (bits + DELTA_OVERHEAD).div_ceil(8);
    let est = estimate(entry_bits(Some((&sa, 0)), Some(&sb), 0, 3, None));
    assert!(
        est.abs_diff(bytes.len() as u32) <= 2,
        "{est} {}",
        bytes.len()
    );
    assert_eq!(update(&sa, &sb, 3, 0), b.update_from(&a, 3, 0));
    let mut steady = a.clone();
    (steady.x, steady.y) = a.predict(3);
    assert_eq!(
        update(&sa, &Slot::of(&steady), 3, 0),
        None,
        "a steady mover needs no update"
    );
    assert!(update(&sa, &sa, 3, 0).is_some(), "standing still is news");
    let mut named = entity(300, i32::MIN, i32::MAX, 9);
    named.name = "x".repeat(24);
    diff_into(
        std::slice::from_ref(&a),
        std::slice::from_ref(&named),
        3,
        &mut d,
    );
    bytes.clear();
    encode_delta(&d, &mut bytes).unwrap();
    assert_eq!(delta_len(&d), bytes.len());
    let est = estimate(
        entry_bits(Some((&sa, 0)), None, 0, 3, None)
            + entry_bits(None, Some(&Slot::of(&named)), 24, 3, None),
    );
    assert!(
        est.abs_diff(bytes.len() as u32) <= 4,
        "{est} {}",
        bytes.len()
    );
    // A changed identity is a remove plus a create, as in `diff`.
    let mut other = named.clone();
    other.id = 7;
    let mut view = Vec::new();
    emit(
        &[sa],
        3,
        [(Slot::of(&other), &other)].into_iter(),
        Some(&mut view),
        &mut d,
    );
    assert_eq!(d, tickwire_proto::delta::diff(&[a], &[other], 3));
}

fn arb_snapshot() -> impl Strategy<Value = Vec<EntityState>> {
    proptest::collection::vec((-400i32..9000, -400i32..9000, 0u32..3), 0..120).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (x, y, owner))| entity(i as u32 + 1, x, y, owner))
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
        index.rebuild(&snap);
        for (cx, cy, r) in queries {
            let mut found = Vec::new();
            index.within(&snap, (cx, cy), r, |i| found.push(i));
            found.sort_unstable();
            let brute: Vec<u32> = (0..snap.len() as u32)
                .filter(|&i| within_sq(&snap[i as usize], (cx, cy), radius_sq(r)))
                .collect();
            prop_assert_eq!(found, brute);
        }
        for owner in 0..3 {
            let owned: Vec<u32> = index.owned_by(owner).collect();
            let brute: Vec<u32> = (0..snap.len() as u32)
                .filter(|&i| owner != 0 && snap[i as usize].owner == owner)
                .collect();
            prop_assert_eq!(owned, brute);
        }
    }

}
