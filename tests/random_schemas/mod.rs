//! Random-schema vectors for the browser SDK (`tests/golden/random_schemas.json`): schemas drawn
//! at random (every field type, random groups and short masks, kinds that code updates alike or
//! not), random entity churn (births, deaths, re-creates, identity changes, moves), and random
//! acknowledgement patterns (frames lost on the way, baselines any held tick, full snapshots
//! now and then, stale frames delivered again). Each frame is what the server would send; its
//! world is what the Rust `RowReplica` rebuilt from it, checked here to be the server's world.
//!
//! The generation mirrors `crates/proto/tests/schema_random.rs` (the Rust property test over
//! random schemas) with a fixed seed, so the file only changes when the codec does.

use serde_json::{Value, json};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{self, EntityRow, FrameError, RowReplica, RowWorld};
use tickwire_proto::schema::{Field, FieldKind, IntCoding, KindDecl, Schema, SchemaDecl};

/// Schemas in the file.
const SCHEMAS: usize = 24;
/// Ticks of churn per schema.
const TICKS: u32 = 28;

/// xorshift64*, seeded once for the whole file.
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

// ---- schemas ----------------------------------------------------------------------------

fn coding(rng: &mut Rng) -> IntCoding {
    if rng.chance(2) {
        IntCoding::Bits(1 + rng.below(32) as u8)
    } else {
        IntCoding::ExpGolomb(rng.below(16) as u8)
    }
}

/// A field other than a position or velocity, with its group index (`None`: identity; a
/// string always is).
fn other_field(rng: &mut Rng) -> (FieldKind, Option<usize>) {
    let kind = match rng.below(5) {
        0 => FieldKind::UInt {
            coding: coding(rng),
        },
        1 => FieldKind::SInt {
            coding: coding(rng),
        },
        2 => FieldKind::Enum {
            values: if rng.chance(2) {
                2 + rng.below(3) as u32
            } else {
                2 + rng.below(u64::from(u32::MAX) - 1) as u32
            },
        },
        3 => FieldKind::Ref,
        _ => FieldKind::Str {
            max_bytes: 1 + rng.below(11) as u32,
        },
    };
    let group = match kind {
        FieldKind::Str { .. } => None,
        _ if rng.chance(4) => None,
        _ => Some(rng.below(13) as usize),
    };
    (kind, group)
}

/// One kind's fields in a random order: up to 2 positions, each maybe with its velocity, and
/// up to 6 other fields.
fn kind_fields(rng: &mut Rng) -> Vec<(String, FieldKind, Option<usize>)> {
    let mut out = Vec::new();
    for i in 0..rng.below(3) {
        let p = format!("p{i}");
        if rng.chance(2) {
            let kind = FieldKind::Vel {
                of: p.clone(),
                create_order: rng.below(16) as u8,
            };
            out.push((
                rng.next(),
                format!("v{i}"),
                kind,
                Some(rng.below(13) as usize),
            ));
        }
        let kind = FieldKind::Pos {
            scale: 1 + rng.below(63) as u32,
        };
        out.push((rng.next(), p, kind, Some(rng.below(13) as usize)));
    }
    for i in 0..rng.below(7) {
        let (kind, group) = other_field(rng);
        out.push((rng.next(), format!("f{i}"), kind, group));
    }
    out.sort_by_key(|f| f.0);
    out.into_iter().map(|(_, n, k, g)| (n, k, g)).collect()
}

/// A valid schema of 1 to 3 kinds over up to 13 groups (those no field uses are left out) and
/// up to 4 short masks.
fn random_schema(rng: &mut Rng, index: usize) -> Schema {
    let n_groups = 1 + rng.below(13) as usize;
    let group = |g: usize| format!("g{}", g % n_groups);
    let kinds: Vec<KindDecl> = (0..1 + rng.below(3))
        .map(|k| KindDecl {
            name: format!("k{k}"),
            fields: kind_fields(rng)
                .into_iter()
                .map(|(name, kind, g)| Field {
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
    for _ in 0..rng.below(5) {
        let bits = 1 + rng.below(255);
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
        name: format!("random{index}"),
        groups: used,
        short_masks,
        kinds,
    };
    Schema::new(decl.clone())
        .unwrap_or_else(|e| panic!("generated schema is invalid: {e}: {decl:?}"))
}

/// The schema as `/schema.json` serves it (`tickwire::web::schema_json`'s form).
pub(crate) fn served(schema: &Schema) -> Value {
    json!({
        "hash": format!("{:08x}", schema.hash()),
        "schema": serde_json::to_value(schema.decl()).expect("a declaration serialises"),
    })
}

// ---- churn ------------------------------------------------------------------------------

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

/// A row as the SDK gives it: `{id, kind, values: {field: n}, strings: {field: s}}`.
pub(crate) fn row_json(schema: &Schema, row: &EntityRow) -> Value {
    let decl = &schema.decl().kinds[usize::from(row.kind)];
    let (mut values, mut strings) = (serde_json::Map::new(), serde_json::Map::new());
    let (mut v, mut s) = (row.values.iter(), row.strings.iter());
    for f in &decl.fields {
        match f.kind {
            FieldKind::Str { .. } => {
                strings.insert(f.name.clone(), json!(s.next().expect("a string")));
            }
            _ => {
                values.insert(f.name.clone(), json!(v.next().expect("a value")));
            }
        }
    }
    json!({"id": row.id, "kind": decl.name, "values": values, "strings": strings})
}

/// The name of why a replica refused a frame, as the SDK's `ApplyError.kind` says it
/// (`Decode` for a body that did not decode).
fn error_kind(e: &FrameError) -> String {
    match e {
        FrameError::Decode(_) => "Decode".into(),
        FrameError::Apply(a) => {
            let s = format!("{a:?}");
            s.split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned()
        }
    }
}

/// One schema's frames as a client receives them, each with the world it must rebuild (or the
/// error it must refuse it with).
fn frames(rng: &mut Rng, schema: &Schema) -> Vec<Value> {
    let mut out = Vec::new();
    let mut world: Vec<EntityRow> = Vec::new();
    let mut snapshots: std::collections::BTreeMap<u32, Vec<EntityRow>> = Default::default();
    let mut replica = RowReplica::new(schema.clone());
    // Ticks the client applied and may still be asked to diff against.
    let mut held: Vec<u32> = Vec::new();
    // Frames delivered, to deliver one again (stale).
    let mut sent: Vec<(u32, u32, Vec<u8>)> = Vec::new();
    let mut next_id = 1u32;
    let mut tick = 0u32;
    let world_of =
        |rows: &[EntityRow]| -> RowWorld { rows.iter().map(|e| (e.id, e.clone())).collect() };
    for step in 0..TICKS {
        let dt = 1 + rng.below(3) as u32;
        tick += dt;
        for e in &mut world {
            if rng.chance(40) {
                // A new kind for an old id: removed and created again.
                *e = new_row(rng, schema, e.id);
            } else {
                evolve(rng, schema, e, dt);
            }
        }
        world.retain(|_| !rng.chance(8));
        let births = if step == 0 { 6 } else { rng.below(4) };
        for _ in 0..births {
            world.push(new_row(rng, schema, next_id));
            next_id += 1 + if rng.chance(10) {
                rng.below(100_000) as u32
            } else {
                rng.below(3) as u32
            };
        }
        snapshots.insert(tick, world.clone());

        // The baseline: a tick the client applied (acknowledgements only move forward), or a
        // full snapshot.
        let base_tick = if held.is_empty() || rng.chance(8) {
            None
        } else {
            Some(held[rng.below(held.len() as u64) as usize])
        };
        let empty = Vec::new();
        let base = base_tick.map_or(&empty, |t| &snapshots[&t]);
        let age = base_tick.map_or(0, |t| tick - t);
        let mut delta = rows::diff(schema, base, &world, age);
        // The server leaves out the strings a client holds.
        for e in &mut delta.created {
            if replica.strings_of(e.id) == Some(&*e.strings) && rng.chance(2) {
                e.strings = vec![String::new(); e.strings.len()].into();
                delta.strings_elided.push(e.id);
            }
        }
        let kinds: Vec<u16> = base.iter().map(|e| e.kind).collect();
        let mut bytes = Vec::new();
        body::encode(
            schema,
            &delta,
            |i| kinds.get(i as usize).copied(),
            &mut bytes,
        )
        .expect("a diff encodes");
        if rng.chance(5) {
            // Lost on the way: the client never sees it, and never acknowledges it.
            continue;
        }
        let got = replica
            .apply_body(tick, age, &bytes)
            .expect("every delivered frame applies");
        assert_eq!(got, &world_of(&world), "tick {tick}");
        let rows: Vec<Value> = got.values().map(|e| row_json(schema, e)).collect();
        out.push(json!({"tick": tick, "age": age, "body": crate::hex(&bytes), "world": rows}));
        if let Some(b) = base_tick {
            held.retain(|&t| t >= b);
        }
        held.push(tick);
        sent.push((tick, age, bytes));
        // Now and then an older frame arrives late (latest-wins delivery): refused as stale.
        if sent.len() > 2 && rng.chance(6) {
            let (t, a, b) = sent[rng.below(sent.len() as u64 - 1) as usize].clone();
            let e = replica
                .apply_body(t, a, &b)
                .expect_err("an old frame is refused");
            out.push(json!({"tick": t, "age": a, "body": crate::hex(&b), "error": error_kind(&e)}));
        }
    }
    // A baseline the client never held (tick 0 is never a frame's), and one older than tick
    // 0: refused, and harmless.
    let newest = replica.newest_tick().unwrap_or(0);
    for (t, a) in [(newest + 5, newest + 5), (newest + 6, newest + 7)] {
        let e = replica
            .apply_body(t, a, &[0, 0, 7])
            .expect_err("a baseline not held is refused");
        out.push(json!({"tick": t, "age": a, "body": "00 00 07", "error": error_kind(&e)}));
    }
    out
}

/// The whole file: every schema with its frames.
pub(crate) fn vectors() -> Value {
    let mut rng = Rng(0x7469_636b_7769_7265);
    let schemas: Vec<Value> = (0..SCHEMAS)
        .map(|i| {
            let schema = random_schema(&mut rng, i);
            let frames = frames(&mut rng, &schema);
            json!({"schema": served(&schema), "uniform": schema.uniform_updates(), "frames": frames})
        })
        .collect();
    json!({
        "about": "Written by tests/golden.rs (tests/random_schemas/) from random schemas, entity churn and acknowledgement patterns; decoded by tests/sdk/random_schemas.test.mjs. Regenerate: TICKWIRE_BLESS=1 cargo test --test golden",
        "schemas": schemas,
    })
}
