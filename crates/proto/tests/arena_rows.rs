//! The delta format's rules on arena's schema: diff and apply (steady movers cost nothing, a
//! replica applies against any acknowledged baseline, bad indices are errors) and the packed
//! body (exact lengths, a few bits per steady update, the encoder's refusals, canonical masks).
//!
//! These were the typed arena codec's unit tests; the schema-driven codec that replaced it
//! keeps every rule they pinned.

mod arena_view;

use arena_view::{Delta, EntityUpdate, SCHEMA, diff, encode_body, rows_of, try_encode_body};
use proptest::prelude::*;
use tickwire_arena::schema::world_of;
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::bits::BitWriter;
use tickwire_proto::schema::body::{self, BodyError};
use tickwire_proto::schema::rows::{self, ApplyError, FrameError, RowReplica, RowWorld};

fn ent(id: u32, x: i32, y: i32, hp: u8) -> EntityState {
    EntityState {
        id,
        kind: EntityKind::Player,
        x,
        y,
        vx: 0,
        vy: 0,
        aim: 0,
        hp,
        score: 0,
        flags: 1,
        owner: 0,
        name: format!("p{id}"),
    }
}

/// The row world of typed entities.
fn world(entities: &[EntityState]) -> RowWorld {
    rows_of(entities).into_iter().map(|e| (e.id, e)).collect()
}

/// Applies `delta` to `base` (`age` ticks old) with the schema's apply, as typed entities.
fn apply(base: &[EntityState], delta: &Delta, age: u32) -> Result<Vec<EntityState>, ApplyError> {
    let w = rows::apply(&SCHEMA, &world(base), &delta.to_rows(), age)?;
    Ok(world_of(&w).into_values().collect())
}

/// Feeds a replica the frame for `tick`, `age` ticks after its baseline, through the wire.
fn feed(
    r: &mut RowReplica,
    tick: u32,
    age: u32,
    delta: &Delta,
) -> Result<Vec<EntityState>, FrameError> {
    let w = r.apply_body(tick, age, &encode_body(delta))?;
    Ok(world_of(w).into_values().collect())
}

#[test]
fn unchanged_entities_cost_nothing() {
    let a = vec![ent(1, 0, 0, 100), ent(2, 5, 5, 100)];
    let d = diff(&a, &a, 1);
    assert!(d.removed.is_empty() && d.created.is_empty() && d.updated.is_empty());
}

#[test]
fn replica_applies_against_acknowledged_baseline() {
    let s1 = vec![ent(1, 0, 0, 100)];
    let s2 = vec![ent(1, 3, 0, 100), ent(2, 9, 9, 100)];
    let s3 = vec![ent(2, 9, 10, 90)];
    let mut r = RowReplica::new(SCHEMA.clone());
    feed(&mut r, 1, 0, &diff(&[], &s1, 0)).unwrap();
    feed(&mut r, 2, 1, &diff(&s1, &s2, 1)).unwrap();
    // The server has not seen the ack for tick 2 yet: delta against tick 1.
    let w = feed(&mut r, 3, 2, &diff(&s1, &s3, 2)).unwrap();
    assert_eq!(w, s3);
    assert_eq!(
        feed(&mut r, 3, 1, &Delta::default()),
        Err(FrameError::Apply(ApplyError::Stale { tick: 3, newest: 3 }))
    );
    assert_eq!(
        feed(&mut r, 9, 5, &Delta::default()),
        Err(FrameError::Apply(ApplyError::MissingBaseline(4)))
    );
}

#[test]
fn steady_movers_cost_nothing_and_are_predicted() {
    let mut a = vec![ent(1, 0, 0, 100), ent(2, 50, 50, 100)];
    a[0].vx = 10;
    a[0].vy = -3;
    let mut b = a.clone();
    (b[0].x, b[0].y) = (30, -9);
    let d = diff(&a, &b, 3);
    assert_eq!(d, Delta::default());
    assert_eq!(apply(&a, &d, 3).unwrap(), b);
}

#[test]
fn bad_indices_are_errors() {
    let a = [ent(1, 0, 0, 100)];
    let removes_past_end = Delta {
        removed: vec![1],
        ..Delta::default()
    };
    assert_eq!(
        apply(&a, &removes_past_end, 1),
        Err(ApplyError::UnknownIndex(1))
    );
    let both = Delta {
        removed: vec![0],
        updated: vec![EntityUpdate {
            index: 0,
            hp: Some(3),
            ..EntityUpdate::default()
        }],
        ..Delta::default()
    };
    assert_eq!(apply(&a, &both, 1), Err(ApplyError::UnknownIndex(0)));
    let dup = Delta {
        created: vec![ent(1, 0, 0, 1)],
        ..Delta::default()
    };
    assert_eq!(apply(&a, &dup, 1), Err(ApplyError::DuplicateEntity(1)));
}

#[test]
fn delta_after_a_second_full_snapshot_can_use_an_earlier_acknowledged_tick() {
    // Tick 3 full, acked; tick 4 full again (computed before the ack arrived); tick 5 is a
    // delta against the acknowledged tick 3.
    let s3 = vec![ent(1, 0, 0, 100)];
    let s4 = vec![ent(1, 1, 0, 100)];
    let s5 = vec![ent(1, 2, 0, 100)];
    let mut r = RowReplica::new(SCHEMA.clone());
    feed(&mut r, 3, 0, &diff(&[], &s3, 0)).unwrap();
    feed(&mut r, 4, 0, &diff(&[], &s4, 0)).unwrap();
    let w = feed(&mut r, 5, 2, &diff(&s3, &s5, 2)).unwrap();
    assert_eq!(w, s5);
}

fn arb_entity() -> impl Strategy<Value = EntityState> {
    (
        1u32..40,
        any::<bool>(),
        -5000i32..5000,
        -5000i32..5000,
        (-100i32..100, -100i32..100),
        any::<u8>(),
        any::<u8>(),
        0u32..100,
        0u8..4,
        0u32..3,
    )
        .prop_map(
            |(id, proj, x, y, (vx, vy), aim, hp, score, flags, owner)| EntityState {
                id,
                kind: if proj {
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
                name: if proj { String::new() } else { "n".into() },
            },
        )
}

fn arb_snapshot() -> impl Strategy<Value = Vec<EntityState>> {
    proptest::collection::vec(arb_entity(), 0..30).prop_map(|mut v| {
        v.sort_by_key(|e| e.id);
        v.dedup_by_key(|e| e.id);
        v
    })
}

proptest! {
    #[test]
    fn diff_then_apply_is_exact(a in arb_snapshot(), b in arb_snapshot(), age in 1u32..10) {
        let d = diff(&a, &b, age);
        // Through the wire too: what the client decodes is what the server diffed.
        let packed = encode_body(&d);
        let d2 = Delta::from_rows(&body::decode(&SCHEMA, &packed, |_| Some(0)).unwrap());
        prop_assert_eq!(&d2, &d);
        prop_assert_eq!(apply(&a, &d2, age).unwrap(), b);
    }
}

fn player(id: u32, x: i32, y: i32) -> EntityState {
    EntityState {
        id,
        kind: EntityKind::Player,
        x,
        y,
        vx: 3,
        vy: -2,
        aim: 7,
        hp: 100,
        score: 2,
        flags: 3,
        owner: 0,
        name: "ann".into(),
    }
}

fn sample() -> Delta {
    Delta {
        removed: vec![0, 4],
        created: vec![
            player(9, 800, -40),
            EntityState {
                name: String::new(),
                ..player(12, 0, 0)
            },
        ],
        names_elided: vec![12],
        updated: vec![
            EntityUpdate {
                index: 1,
                pos_residual: Some((1, -1)),
                ..EntityUpdate::default()
            },
            EntityUpdate {
                index: 2,
                pos_residual: Some((0, 1)),
                ..EntityUpdate::default()
            },
            EntityUpdate {
                index: 5,
                vel_delta: Some((-20, 17)),
                pos_residual: Some((0, 2)),
                aim: Some(200),
                hp: Some(55),
                misc: Some((1000, 1)),
            },
        ],
    }
}

/// The schema's exact length of `d`'s body.
fn encoded_len(d: &Delta) -> usize {
    body::encoded_len(&SCHEMA, &d.to_rows(), |_| Some(0))
}

#[test]
fn a_delta_round_trips_and_its_length_is_exact() {
    for d in [Delta::default(), sample()] {
        let out = encode_body(&d);
        assert_eq!(out.len(), encoded_len(&d));
        let back = body::decode(&SCHEMA, &out, |_| Some(0)).unwrap();
        assert_eq!(Delta::from_rows(&back), d);
    }
}

#[test]
fn consecutive_residual_updates_cost_a_few_bits_each() {
    let d = Delta {
        updated: (0..48)
            .map(|i| EntityUpdate {
                index: i,
                pos_residual: Some(((i % 3) as i32 - 1, 0)),
                ..EntityUpdate::default()
            })
            .collect(),
        ..Delta::default()
    };
    // Gap (1 bit) + POS mask (1 bit) + two residuals of 1 or 2 bits at order 1.
    assert!(encoded_len(&d) <= 48 * 6 / 8 + 4, "{}", encoded_len(&d));
}

#[test]
fn invalid_deltas_are_refused_by_the_encoder() {
    let mut d = sample();
    d.removed = vec![3, 3];
    let mut out = vec![9];
    assert!(body::encode(&SCHEMA, &d.to_rows(), |_| Some(0), &mut out).is_err());
    assert_eq!(out, vec![9], "nothing appended");
    let mut d = sample();
    d.names_elided = vec![9];
    assert!(try_encode_body(&d).is_err(), "elided name not empty");
    let mut d = sample();
    d.names_elided = vec![12, 13];
    assert!(try_encode_body(&d).is_err(), "elided id not created");
    let mut d = sample();
    d.created.swap(0, 1);
    assert!(try_encode_body(&d).is_err());
    let mut d = sample();
    d.updated[0] = EntityUpdate {
        index: 1,
        ..EntityUpdate::default()
    };
    assert!(
        try_encode_body(&d).is_err(),
        "an update must change something"
    );
}

#[test]
fn non_canonical_masks_and_huge_counts_are_rejected() {
    let pos = SCHEMA.group_mask("POS").unwrap();
    // Orders 0, no removes, no creates, one update at index 0 with the long form of a mask
    // that has a short code.
    let mut out = Vec::new();
    let mut w = BitWriter::new(&mut out);
    w.bits(0, 16);
    w.eg(0, 0);
    w.eg(0, 0);
    w.eg(0, 1);
    w.eg(0, 0);
    w.bits(0, 3);
    w.bits(pos, SCHEMA.mask_bits());
    w.eg_signed(0, 1);
    w.eg_signed(0, 1);
    w.finish();
    assert_eq!(
        body::decode(&SCHEMA, &out, |_| Some(0)),
        Err(BodyError::Mask(pos))
    );

    let mut out = Vec::new();
    let mut w = BitWriter::new(&mut out);
    w.bits(0, 16);
    w.eg(0, 1_000_000);
    w.finish();
    assert_eq!(
        body::decode(&SCHEMA, &out, |_| Some(0)),
        Err(BodyError::Count(1_000_000))
    );
}
