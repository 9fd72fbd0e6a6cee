//! The schema-driven codec over random schemas: random field sets, random entity churn, random
//! baselines and lost frames. Every encoded delta decodes to itself and applies to exactly the
//! encoder's world, and the decoder refuses or accepts any bytes without a panic.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{self, EntityRow, RowReplica, RowWorld};
use tickwire_proto::schema::{Field, FieldKind, IntCoding, KindDecl, Schema, SchemaDecl};

// ---- random schemas ---------------------------------------------------------------------

/// A field other than a position or velocity, with its group choice (`None`: identity; a
/// string always is).
fn other_field() -> impl Strategy<Value = (FieldKind, Option<usize>)> {
    let coding = prop_oneof![
        (1u8..=32).prop_map(IntCoding::Bits),
        (0u8..=15).prop_map(IntCoding::ExpGolomb),
    ];
    let kind = prop_oneof![
        coding.clone().prop_map(|coding| FieldKind::UInt { coding }),
        coding.prop_map(|coding| FieldKind::SInt { coding }),
        prop_oneof![2u32..5, 2u32..=u32::MAX].prop_map(|values| FieldKind::Enum { values }),
        Just(FieldKind::Ref),
        (1u32..12).prop_map(|max_bytes| FieldKind::Str { max_bytes }),
    ];
    (kind, proptest::option::weighted(0.75, 0usize..13)).prop_map(|(k, g)| match k {
        FieldKind::Str { .. } => (k, None),
        k => (k, g),
    })
}

/// One kind's fields (names, kinds, group indices) before shuffling: positions, each maybe
/// with its velocity, then other fields; each with a random sort key.
fn kind_fields() -> impl Strategy<Value = Vec<(u16, String, FieldKind, Option<usize>)>> {
    let positions = vec(
        (
            1u32..64,
            0usize..13,
            proptest::option::of((0u8..=15, 0usize..13)),
        ),
        0..3,
    );
    (positions, vec(other_field(), 0..7), vec(any::<u16>(), 16)).prop_map(
        |(positions, others, keys)| {
            let mut keys = keys.into_iter();
            let mut out = Vec::new();
            for (i, (scale, group, vel)) in positions.into_iter().enumerate() {
                let p = format!("p{i}");
                if let Some((create_order, g)) = vel {
                    let kind = FieldKind::Vel {
                        of: p.clone(),
                        create_order,
                    };
                    out.push((keys.next().unwrap_or(0), format!("v{i}"), kind, Some(g)));
                }
                out.push((
                    keys.next().unwrap_or(0),
                    p,
                    FieldKind::Pos { scale },
                    Some(group),
                ));
            }
            for (i, (kind, group)) in others.into_iter().enumerate() {
                out.push((keys.next().unwrap_or(0), format!("f{i}"), kind, group));
            }
            out.sort_by_key(|f| f.0);
            out
        },
    )
}

/// A valid schema: 1 to 3 kinds over up to 13 groups (those no field uses are left out; some
/// schemas have too many kinds and groups for the codec's mask plans), and up to 4 short masks.
fn arb_schema() -> impl Strategy<Value = Schema> {
    (vec(kind_fields(), 1..4), 1usize..=13, vec(1u32..256, 0..5)).prop_map(
        |(kinds, n_groups, shorts)| {
            let group = |g: usize| format!("g{}", g % n_groups);
            let kinds: Vec<KindDecl> = kinds
                .into_iter()
                .enumerate()
                .map(|(k, fields)| KindDecl {
                    name: format!("k{k}"),
                    fields: fields
                        .into_iter()
                        .map(|(_, name, kind, g)| Field {
                            name,
                            kind,
                            group: g.map(group),
                        })
                        .collect(),
                })
                .collect();
            let used: Vec<String> = (0..n_groups)
                .map(group)
                .filter(|g| {
                    kinds
                        .iter()
                        .any(|k| k.fields.iter().any(|f| f.group.as_ref() == Some(g)))
                })
                .collect();
            let mut short_masks: Vec<Vec<String>> = Vec::new();
            for bits in shorts {
                let m: Vec<String> = used
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .map(|(_, g)| g.clone())
                    .collect();
                if !m.is_empty() && !short_masks.contains(&m) {
                    short_masks.push(m);
                }
            }
            let decl = SchemaDecl {
                name: "random".into(),
                groups: used,
                short_masks,
                kinds,
            };
            Schema::new(decl.clone())
                .unwrap_or_else(|e| panic!("generated schema is invalid: {e}: {decl:?}"))
        },
    )
}

// ---- a deterministic world evolving over ticks ------------------------------------------

/// xorshift64*: the churn is a function of the proptest-chosen seed, so failures shrink.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    /// A signed 32-bit value: mostly small, sometimes anything.
    fn i32(&mut self) -> i64 {
        match self.below(8) {
            0 => i64::from(self.next() as i32),
            1 => [i64::from(i32::MIN), i64::from(i32::MAX), 0][self.below(3) as usize],
            _ => self.below(4001) as i64 - 2000,
        }
    }
}

/// A random value of a numeric field.
fn value(rng: &mut Rng, kind: &FieldKind) -> i64 {
    let small_or = |rng: &mut Rng, max: u64| {
        if rng.chance(4) {
            rng.below(max.saturating_add(1)) as i64
        } else {
            rng.below(100.min(max + 1)) as i64
        }
    };
    match kind {
        FieldKind::Pos { .. } | FieldKind::Vel { .. } => rng.i32(),
        FieldKind::UInt {
            coding: IntCoding::Bits(n),
        } => small_or(rng, (1u64 << n) - 1),
        FieldKind::UInt { .. } | FieldKind::Ref => small_or(rng, u64::from(u32::MAX)),
        FieldKind::SInt {
            coding: IntCoding::Bits(n),
        } => {
            let half = 1i64 << (n - 1);
            rng.below(2 * half as u64) as i64 - half
        }
        FieldKind::SInt { .. } => rng.i32(),
        FieldKind::Enum { values } => small_or(rng, u64::from(values - 1)),
        FieldKind::Str { .. } => 0,
    }
}

/// A random string of at most `max` bytes (some of them multi-byte chars).
fn string(rng: &mut Rng, max: u32) -> String {
    let mut s = String::new();
    let len = rng.below(u64::from(max) + 1);
    while (s.len() as u64) < len {
        let c = ['a', 'Z', 'é', '✓', '🚀'][rng.below(5) as usize];
        if s.len() + c.len_utf8() > max as usize {
            break;
        }
        s.push(c);
    }
    s
}

/// A new random entity of a random kind.
fn new_row(rng: &mut Rng, schema: &Schema, id: u32) -> EntityRow {
    let kind = rng.below(schema.kind_count() as u64) as u16;
    let (mut values, mut strings) = (Vec::new(), Vec::new());
    for f in &schema.decl().kinds[usize::from(kind)].fields {
        match f.kind {
            FieldKind::Str { max_bytes } => strings.push(string(rng, max_bytes)),
            ref k => values.push(value(rng, k)),
        }
    }
    EntityRow {
        id,
        kind,
        values,
        strings: strings.into(),
    }
}

/// Moves an entity on by `dt` ticks and changes some of its fields: the mutable ones often,
/// the identity ones rarely (a re-create).
fn evolve(rng: &mut Rng, schema: &Schema, row: &mut EntityRow, dt: u32) {
    let decl = &schema.decl().kinds[usize::from(row.kind)];
    let slot = |name: &str| schema.slot(row.kind, name).expect("field");
    for f in &decl.fields {
        if let FieldKind::Vel { of, .. } = &f.kind {
            let (p, v) = (slot(of), slot(&f.name));
            let moved =
                (row.values[p] as i32).wrapping_add((row.values[v] as i32).wrapping_mul(dt as i32));
            row.values[p] = i64::from(moved);
        }
    }
    for f in &decl.fields {
        let s = slot(&f.name);
        let odds = if f.group.is_some() { 4 } else { 40 };
        if !rng.chance(odds) {
            continue;
        }
        match f.kind {
            FieldKind::Str { max_bytes } => {
                let mut strings = row.strings.to_vec();
                strings[s] = string(rng, max_bytes);
                row.strings = strings.into();
            }
            FieldKind::Pos { .. } if rng.chance(2) => {
                let nudge = rng.below(11) as i32 - 5;
                row.values[s] = i64::from((row.values[s] as i32).wrapping_add(nudge));
            }
            ref k => row.values[s] = value(rng, k),
        }
    }
}

/// A world as the rows of the server's snapshot.
fn world_of(rows: &[EntityRow]) -> RowWorld {
    rows.iter().map(|e| (e.id, e.clone())).collect()
}

/// What a run exercised, to check the churn reaches every part of the format.
#[derive(Debug, Default)]
struct Seen {
    /// Frames against a baseline (age above 0).
    deltas: u32,
    /// Removed entities.
    removed: u32,
    /// Created entities.
    created: u32,
    /// Updates.
    updated: u32,
    /// Creates that left their strings out.
    elided: u32,
    /// Frames lost on the way.
    lost: u32,
}

/// Runs `ticks` frames of churn: each frame is diffed against a baseline the client holds
/// (or is a full snapshot), has the strings the client holds left out, is encoded, decoded
/// and applied; some frames are lost on the way.
fn run(schema: &Schema, seed: u64, ticks: u32) -> Result<Seen, TestCaseError> {
    let mut seen = Seen::default();
    let mut rng = Rng(seed | 1);
    let mut world: Vec<EntityRow> = Vec::new();
    let mut snapshots: BTreeMap<u32, Vec<EntityRow>> = BTreeMap::new();
    let mut replica = RowReplica::new(schema.clone());
    let mut held: Vec<u32> = Vec::new();
    let mut next_id = 1u32;
    let mut tick = 0u32;
    for step in 0..ticks {
        let dt = 1 + rng.below(3) as u32;
        tick += dt;
        for e in &mut world {
            if rng.chance(60) {
                // A new kind for an old id: removed and created again.
                *e = new_row(&mut rng, schema, e.id);
            } else {
                evolve(&mut rng, schema, e, dt);
            }
        }
        world.retain(|_| !rng.chance(8));
        let births = if step == 0 { 6 } else { rng.below(4) };
        for _ in 0..births {
            world.push(new_row(&mut rng, schema, next_id));
            next_id += 1 + if rng.chance(10) {
                rng.below(100_000) as u32
            } else {
                rng.below(3) as u32
            };
        }
        snapshots.insert(tick, world.clone());

        // The baseline: a tick the client applied (acknowledgements only move forward), or
        // none for a full snapshot.
        let base_tick = if held.is_empty() || rng.chance(10) {
            None
        } else {
            Some(held[rng.below(held.len() as u64) as usize])
        };
        let empty = Vec::new();
        let base = base_tick.map_or(&empty, |t| &snapshots[&t]);
        let age = base_tick.map_or(0, |t| tick - t);
        let mut delta = rows::diff(schema, base, &world, age);
        for e in &mut delta.created {
            let holds = replica.strings_of(e.id) == Some(&*e.strings);
            if holds && rng.chance(2) {
                e.strings = vec![String::new(); e.strings.len()].into();
                delta.strings_elided.push(e.id);
            }
        }
        seen.deltas += u32::from(age > 0);
        seen.removed += delta.removed.len() as u32;
        seen.created += delta.created.len() as u32;
        seen.updated += delta.updated.len() as u32;
        seen.elided += delta.strings_elided.len() as u32;
        let kinds: Vec<u16> = base.iter().map(|e| e.kind).collect();
        let kind_of = |i: u32| kinds.get(i as usize).copied();
        let mut bytes = Vec::new();
        body::encode(schema, &delta, kind_of, &mut bytes)
            .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        prop_assert_eq!(body::encoded_len(schema, &delta, kind_of), bytes.len());
        let decoded = body::decode(schema, &bytes, kind_of)
            .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
        prop_assert_eq!(&decoded, &delta);
        // Without the replica's string memory, the delta applies to the world minus the
        // strings it left out.
        let applied = rows::apply(schema, &world_of(base), &delta, age)
            .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
        prop_assert_eq!(applied.len(), world.len());

        if rng.chance(5) {
            seen.lost += 1;
            continue;
        }
        let got = replica
            .apply_body(tick, age, &bytes)
            .map_err(|e| TestCaseError::fail(format!("replica: {e}")))?;
        prop_assert_eq!(got, &world_of(&world), "tick {}", tick);
        if let Some(b) = base_tick {
            held.retain(|&t| t >= b);
        }
        held.push(tick);
    }
    Ok(seen)
}

#[test]
fn a_schema_with_too_many_groups_for_mask_plans_round_trips() {
    // 2^13 masks is past the codec's plans (at most 4096 per schema): the walk over groups.
    let mut fields = vec![
        Field::new("x", FieldKind::Pos { scale: 1 }, "g0"),
        Field::new(
            "vx",
            FieldKind::Vel {
                of: "x".into(),
                create_order: 3,
            },
            "g0",
        ),
        Field::identity("name", FieldKind::Str { max_bytes: 8 }),
    ];
    for g in 1..13 {
        let coding = IntCoding::Bits(g as u8);
        fields.push(Field::new(
            &format!("f{g}"),
            FieldKind::UInt { coding },
            &format!("g{g}"),
        ));
    }
    let decl = SchemaDecl {
        name: "wide".into(),
        groups: (0..13).map(|g| format!("g{g}")).collect(),
        short_masks: vec![vec!["g0".into()]],
        kinds: vec![
            KindDecl {
                name: "a".into(),
                fields: fields.clone(),
            },
            KindDecl {
                name: "b".into(),
                fields: fields.into_iter().rev().collect(),
            },
        ],
    };
    let schema = Schema::new(decl).expect("valid");
    assert!(!schema.uniform_updates());
    let seen = run(&schema, 11, 150).expect("runs");
    assert!(seen.updated > 100 && seen.elided > 0, "{seen:?}");
}

#[test]
fn the_churn_reaches_every_part_of_the_format() {
    let schema = tickwire_arena::schema::arena_schema();
    let seen = run(&schema, 7, 200).expect("runs");
    assert!(
        seen.deltas > 100
            && seen.removed > 50
            && seen.created > 50
            && seen.updated > 200
            && seen.elided > 5
            && seen.lost > 10,
        "{seen:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_frame_decodes_and_applies_to_the_encoders_world(schema in arb_schema(), seed in any::<u64>()) {
        run(&schema, seed, 40)?;
    }

    #[test]
    fn random_bytes_never_panic_the_decoder(
        schema in arb_schema(),
        bytes in vec(any::<u8>(), 0..256),
        kinds in vec(0u16..5, 0..32),
    ) {
        let _ = body::decode(&schema, &bytes, |i| kinds.get(i as usize).copied());
        let mut replica = RowReplica::new(schema);
        let _ = replica.apply_body(1, 0, &bytes);
    }

    #[test]
    fn corrupted_frames_never_panic_the_decoder(
        schema in arb_schema(),
        seed in any::<u64>(),
        flips in vec((any::<usize>(), 0u8..8), 1..4),
        cut in any::<usize>(),
    ) {
        // A real frame, then bits flipped and maybe a tail cut off: the decoder gets far into
        // the body before anything is wrong.
        let mut rng = Rng(seed | 1);
        let world: Vec<EntityRow> = (1..=8).map(|id| new_row(&mut rng, &schema, id)).collect();
        let mut cur = world.clone();
        for e in &mut cur {
            evolve(&mut rng, &schema, e, 1);
        }
        let delta = rows::diff(&schema, &world, &cur, 1);
        let kind_of = |i: u32| world.get(i as usize).map(|e| e.kind);
        let mut bytes = Vec::new();
        body::encode(&schema, &delta, kind_of, &mut bytes).expect("encodes");
        if bytes.is_empty() {
            return Ok(());
        }
        for (at, bit) in flips {
            let n = bytes.len();
            bytes[at % n] ^= 1 << bit;
        }
        if cut % 2 == 1 {
            bytes.truncate(cut % bytes.len());
        }
        if let Ok(d) = body::decode(&schema, &bytes, kind_of) {
            // Whatever decodes is a delta the encoder accepts, and one the decoder reads back.
            let mut again = Vec::new();
            if body::encode(&schema, &d, kind_of, &mut again).is_ok() {
                prop_assert_eq!(body::decode(&schema, &again, kind_of).ok(), Some(d));
            }
        }
    }
}
