//! Arena through the schema: every State frame of the golden vectors
//! (`tests/golden/protocol.json` at the workspace root) comes out of the schema-driven encoder
//! byte for byte as recorded, and decodes through the schema to the recorded world.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use tickwire_arena::schema::{arena_schema, row_from_entity, world_of};
use tickwire_arena::{EntityKind, EntityState};
use tickwire_proto::codec::decode_server;
use tickwire_proto::msg::{ServerMsg, StateFrame};
use tickwire_proto::schema::body::{self, BodyError};
use tickwire_proto::schema::rows::{self, EntityRow, FrameError, RowReplica};
use tickwire_proto::schema::{FieldKind, Schema, SchemaDecl};

/// The golden vectors, parsed.
fn golden() -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "tests",
        "golden",
        "protocol.json",
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("protocol.json is JSON")
}

/// Bytes of a hex string with spaces.
fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

/// A State message's frame, and its packed body: the last bytes of the message.
fn state_frame(bytes: &[u8]) -> (StateFrame, Vec<u8>) {
    let Ok(ServerMsg::State(frame)) = decode_server(bytes) else {
        panic!("not a State message");
    };
    let packed = frame.body.clone();
    assert!(bytes.ends_with(&packed), "the message ends with its body");
    (frame, packed)
}

/// An entity of a golden world.
fn entity_json(v: &Value) -> EntityState {
    let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"));
    EntityState {
        id: n("id") as u32,
        kind: match v["kind"].as_str() {
            Some("Player") => EntityKind::Player,
            Some("Projectile") => EntityKind::Projectile,
            other => panic!("kind {other:?}"),
        },
        x: n("x") as i32,
        y: n("y") as i32,
        vx: n("vx") as i32,
        vy: n("vy") as i32,
        aim: n("aim") as u8,
        hp: n("hp") as u8,
        score: n("score") as u32,
        flags: n("flags") as u8,
        owner: n("owner") as u32,
        name: v["name"].as_str().expect("name").to_owned(),
    }
}

/// The error's variant name, as the golden vectors record it.
fn variant(e: &impl std::fmt::Debug) -> String {
    let s = format!("{e:?}");
    s.split(['(', ' ']).next().unwrap_or_default().to_owned()
}

/// The variant name of a replica's error, as the golden vectors record it: an update past
/// the end of the baseline is `UnknownIndex` whether the decoder (which needs the entity's
/// kind) or the apply finds it.
fn frame_variant(e: &FrameError) -> String {
    match e {
        FrameError::Apply(a) => variant(a),
        FrameError::Decode(BodyError::UnknownIndex(_)) => "UnknownIndex".to_owned(),
        FrameError::Decode(d) => format!("Decode({d})"),
    }
}

#[test]
fn golden_state_messages_encode_to_the_same_bytes_and_decode_to_the_same_delta() {
    let schema = arena_schema();
    let golden = golden();
    let mut states = 0;
    for m in golden["messages"].as_array().expect("messages") {
        if m["msg"]["type"] != "State" {
            continue;
        }
        let bytes = unhex(m["hex"].as_str().expect("hex"));
        let (_, packed) = state_frame(&bytes);
        // These frames come without their baseline; arena's two kinds have the same update
        // layout, so a baseline of either kind stands in for it.
        let rows = body::decode(&schema, &packed, |_| Some(0)).expect("decodes");
        assert_eq!(
            body::encoded_len(&schema, &rows, |_| Some(0)),
            packed.len(),
            "{}",
            m["hex"]
        );
        for kind in [0, 1] {
            let mut out = Vec::new();
            body::encode(&schema, &rows, |_| Some(kind), &mut out).expect("encodes");
            assert_eq!(out, packed, "{}", m["hex"]);
            let decoded = body::decode(&schema, &packed, |_| Some(kind)).expect("decodes");
            assert_eq!(decoded, rows, "{}", m["hex"]);
        }
        states += 1;
    }
    assert!(states >= 5, "only {states} State messages");
}

#[test]
fn golden_replica_frames_come_out_of_the_schema_diff_with_the_same_bytes_and_world() {
    let schema = arena_schema();
    let golden = golden();
    let mut replica = RowReplica::new(schema.clone());
    // The server's world at each tick a frame was applied for (the replica's, exactly).
    let mut worlds: BTreeMap<u32, Vec<EntityRow>> = BTreeMap::new();
    let (mut frames, mut rediffed, mut refused) = (0, 0, 0);
    for v in golden["replica"].as_array().expect("replica") {
        let bytes = unhex(v["hex"].as_str().expect("hex"));
        let (frame, packed) = state_frame(&bytes);
        let (tick, age) = (frame.header.tick, frame.header.baseline_age);
        // The rows the frame's body holds, decoded against the baseline the replica holds.
        let baseline_kinds: Vec<u16> = replica
            .world_at(tick.wrapping_sub(age))
            .filter(|_| age > 0)
            .map(|w| w.values().map(|e| e.kind).collect())
            .unwrap_or_default();
        let got = replica.apply_body(tick, age, &packed).cloned();
        frames += 1;
        match (&got, v.get("error")) {
            (Ok(got), None) => {
                let golden_world: Vec<EntityState> = v["world"]
                    .as_array()
                    .expect("world")
                    .iter()
                    .map(entity_json)
                    .collect();
                assert_eq!(got.len(), golden_world.len(), "every row is arena's");
                let schema_world: Vec<EntityState> = world_of(got).into_values().collect();
                assert_eq!(schema_world, golden_world, "tick {tick}");
                let sent = body::decode(&schema, &packed, |i| {
                    baseline_kinds.get(i as usize).copied()
                })
                .expect("an applied body decodes");

                // The server side through the schema: diff the worlds, encode, same bytes.
                let cur: Vec<EntityRow> = golden_world.iter().map(row_from_entity).collect();
                let base: &[EntityRow] = if age == 0 {
                    &[]
                } else {
                    worlds.get(&(tick - age)).expect("baseline world")
                };
                let mut delta = rows::diff(&schema, base, &cur, age);
                assert_eq!(delta.removed, sent.removed, "tick {tick}");
                for id in &sent.strings_elided {
                    let e = delta
                        .created
                        .iter_mut()
                        .find(|e| e.id == *id)
                        .expect("elided entity is created");
                    e.strings = vec![String::new()].into();
                    delta.strings_elided.push(*id);
                }
                assert_eq!(delta, sent, "tick {tick}");
                let kinds: Vec<u16> = base.iter().map(|e| e.kind).collect();
                let mut out = Vec::new();
                body::encode(
                    &schema,
                    &delta,
                    |i| kinds.get(i as usize).copied(),
                    &mut out,
                )
                .expect("encodes");
                assert_eq!(out, packed, "tick {tick}");
                rediffed += 1;
                worlds.insert(tick, cur);
            }
            (Err(got), Some(recorded)) => {
                assert_eq!(
                    frame_variant(got),
                    recorded.as_str().expect("error name"),
                    "tick {tick}"
                );
                refused += 1;
            }
            other => panic!("tick {tick}: the replica disagrees with the vectors: {other:?}"),
        }
    }
    assert!(
        frames > 40 && rediffed > 40 && refused >= 5,
        "{frames} {rediffed} {refused}"
    );
}

#[test]
fn arena_schema_declares_the_wire_layout() {
    let s = arena_schema();
    assert_eq!(s.kind_count(), 2);
    assert_eq!(s.kind_code("Player"), Some(0));
    assert_eq!(s.kind_code("Projectile"), Some(1));
    // The mask bits and short codes PROTOCOL.md documents and the golden vectors pin.
    assert_eq!(s.mask_bits(), 5);
    let (vel, pos) = (1, 2);
    for (g, m) in [
        ("VEL", vel),
        ("POS", pos),
        ("AIM", 4),
        ("HP", 8),
        ("MISC", 16),
    ] {
        assert_eq!(s.group_mask(g), Some(m), "{g}");
    }
    assert_eq!(s.short_masks(), [pos, vel, vel | pos]);
    let names: Vec<&str> = s.decl().kinds[0]
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "x", "y", "vx", "vy", "aim", "hp", "score", "flags", "owner", "name"
        ]
    );
    assert_eq!(s.decl().kinds[0].fields, s.decl().kinds[1].fields);
    assert_eq!(s.row_shape(0), Some((9, 1)));
    assert_eq!(s.slot(1, "owner"), Some(8));
    assert_eq!(s.slot(1, "name"), Some(0));
}

#[test]
fn the_schema_hash_is_pinned_and_follows_every_change() {
    let s = arena_schema();
    // Pinned: a change here means every client built for arena is refused; bump it knowingly.
    assert_eq!(format!("{:08x}", s.hash()), "b2b95987");
    let mut decl = s.decl().clone();
    decl.kinds[1].fields[5].name = "health".into();
    assert_ne!(Schema::new(decl).expect("valid").hash(), s.hash());
    let mut decl = s.decl().clone();
    decl.kinds[0].fields.swap(4, 5);
    assert_ne!(Schema::new(decl).expect("valid").hash(), s.hash());
    let mut decl = s.decl().clone();
    decl.kinds[0].fields[0].kind = FieldKind::Pos { scale: 16 };
    assert_ne!(Schema::new(decl).expect("valid").hash(), s.hash());
    let mut decl = s.decl().clone();
    decl.short_masks.swap(0, 1);
    assert_ne!(Schema::new(decl).expect("valid").hash(), s.hash());
}

#[test]
fn the_schema_round_trips_through_json_and_renders_markdown() {
    let s = arena_schema();
    let json = serde_json::to_string_pretty(&s).expect("serialises");
    let back: Schema = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, s);
    assert!(json.contains("\"type\": \"vel\""), "{json}");
    // An invalid schema does not deserialise.
    let mut decl: SchemaDecl = serde_json::from_str(&json).expect("a declaration");
    decl.groups.push("SPARE".into());
    let bad = serde_json::to_string(&decl).expect("serialises");
    assert!(serde_json::from_str::<Schema>(&bad).is_err());

    let md = s.markdown();
    assert!(
        md.contains("| 0 | x | position, 1/8 unit | POS | se(k_xy) | residual se(k_pos) |"),
        "{md}"
    );
    assert!(
        md.contains("| 8 | owner | entity id | identity | eg(0) | — |"),
        "{md}"
    );
    assert!(md.contains("| 3 | VEL \\| POS | `001` |"), "{md}");
    assert!(md.contains("**Projectile** (kind code 1)"), "{md}");
}

#[test]
fn the_encoder_refuses_rows_that_do_not_follow_the_schema() {
    use tickwire_proto::schema::body::EncodeError;
    let schema = arena_schema();
    let ann = row_from_entity(&EntityState {
        id: 4,
        kind: EntityKind::Player,
        x: 10,
        y: 20,
        vx: 1,
        vy: 0,
        aim: 0,
        hp: 100,
        score: 0,
        flags: 3,
        owner: 0,
        name: "ann".into(),
    });
    let encode = |base: &[EntityRow], cur: &[EntityRow]| {
        let delta = rows::diff(&schema, base, cur, 1);
        let mut out = vec![7];
        let r = body::encode(&schema, &delta, |_| Some(0), &mut out);
        assert!(r.is_ok() || out == [7], "nothing appended on an error");
        r
    };
    assert_eq!(encode(&[], std::slice::from_ref(&ann)), Ok(()));

    // A row of the wrong shape, on either side of the diff: no panic, an error.
    let mut short = ann.clone();
    short.values.pop();
    assert_eq!(
        encode(&[], std::slice::from_ref(&short)),
        Err(EncodeError::Shape(4))
    );
    assert_eq!(
        encode(std::slice::from_ref(&short), std::slice::from_ref(&ann)),
        Ok(())
    );
    assert_eq!(
        encode(std::slice::from_ref(&ann), std::slice::from_ref(&short)),
        Err(EncodeError::Shape(4))
    );
    // A value out of its field's range (aim is 8 bits), a name over 24 bytes, an unknown kind.
    let mut wide = ann.clone();
    wide.values[4] = 256;
    assert_eq!(
        encode(&[], std::slice::from_ref(&wide)),
        Err(EncodeError::Range { id: 4, value: 256 })
    );
    assert_eq!(
        encode(std::slice::from_ref(&ann), std::slice::from_ref(&wide)),
        Err(EncodeError::Range { id: 0, value: 256 })
    );
    let mut long = ann.clone();
    long.strings = vec!["x".repeat(25)].into();
    assert_eq!(
        encode(&[], std::slice::from_ref(&long)),
        Err(EncodeError::Str(4))
    );
    let mut alien = ann.clone();
    alien.kind = 2;
    assert_eq!(
        encode(&[], std::slice::from_ref(&alien)),
        Err(EncodeError::Kind(2))
    );
}
