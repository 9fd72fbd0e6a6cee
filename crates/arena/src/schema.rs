//! Arena's entities declared as a [`Schema`], and the typed view of its rows
//! ([`EntityState`]) that arena's simulation, tests and tools read.
//!
//! The declaration fixes arena's wire layout (kinds, create order, mask bits and short masks),
//! which the golden vectors in `tests/golden/protocol.json` pin byte for byte. The typed view
//! is a conversion over rows, never a codec of its own: every State frame goes through
//! [`tickwire_proto::schema::body`].

use std::sync::{Arc, LazyLock};

use std::collections::BTreeMap;

use tickwire_proto::msg::MAX_NAME_BYTES;
use tickwire_proto::schema::rows::{EntityRow, RowWorld};
use tickwire_proto::schema::{Field, FieldKind, IntCoding, KindDecl, Schema, SchemaDecl};

use crate::entity::{EntityKind, EntityState, POS_SCALE};

/// Arena's game name: what a Hello names to join it, what a Welcome reports, and its schema's
/// name.
pub const GAME_NAME: &str = "arena";

/// Arena's schema hash, computed once (a Hello's check compares against it).
pub fn schema_hash() -> u32 {
    static HASH: LazyLock<u32> = LazyLock::new(|| arena_schema().hash());
    *HASH
}

/// Value slots of an arena row, in declaration order (`name` is string slot 0).
const X: usize = 0;
/// Slot of `y`.
const Y: usize = 1;
/// Slot of `vx`.
const VX: usize = 2;
/// Slot of `vy`.
const VY: usize = 3;
/// Slot of `aim`.
const AIM: usize = 4;
/// Slot of `hp`.
const HP: usize = 5;
/// Slot of `score`.
const SCORE: usize = 6;
/// Slot of `flags`.
const FLAGS: usize = 7;
/// Slot of `owner`.
const OWNER: usize = 8;

/// Arena's fields, the same for both kinds, in create order.
fn fields() -> Vec<Field> {
    let bits = |n| FieldKind::UInt {
        coding: IntCoding::Bits(n),
    };
    let eg0 = FieldKind::UInt {
        coding: IntCoding::ExpGolomb(0),
    };
    let pos = FieldKind::Pos {
        scale: POS_SCALE as u32,
    };
    let vel = |of: &str| FieldKind::Vel {
        of: of.into(),
        create_order: 4,
    };
    vec![
        Field::new("x", pos.clone(), "POS"),
        Field::new("y", pos, "POS"),
        Field::new("vx", vel("x"), "VEL"),
        Field::new("vy", vel("y"), "VEL"),
        Field::new("aim", bits(8), "AIM"),
        Field::new("hp", bits(8), "HP"),
        Field::new("score", eg0, "MISC"),
        Field::new("flags", bits(8), "MISC"),
        Field::identity("owner", FieldKind::Ref),
        Field::identity(
            "name",
            FieldKind::Str {
                max_bytes: MAX_NAME_BYTES as u32,
            },
        ),
    ]
}

/// Arena's layout as a schema: kinds Player (code 0) and Projectile (code 1), groups
/// VEL, POS, AIM, HP, MISC (mask bits 1 to 16), short masks POS, VEL, VEL|POS.
pub fn arena_schema() -> Schema {
    let group = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let decl = SchemaDecl {
        name: GAME_NAME.into(),
        groups: group(&["VEL", "POS", "AIM", "HP", "MISC"]),
        short_masks: vec![group(&["POS"]), group(&["VEL"]), group(&["VEL", "POS"])],
        kinds: vec![
            KindDecl {
                name: "Player".into(),
                fields: fields(),
            },
            KindDecl {
                name: "Projectile".into(),
                fields: fields(),
            },
        ],
    };
    Schema::new(decl).expect("arena's schema is valid")
}

/// The kind code of an arena kind.
pub fn kind_code(kind: EntityKind) -> u16 {
    match kind {
        EntityKind::Player => 0,
        EntityKind::Projectile => 1,
    }
}

/// The row of an arena entity.
pub fn row_from_entity(e: &EntityState) -> EntityRow {
    EntityRow {
        id: e.id,
        kind: kind_code(e.kind),
        values: vec![
            i64::from(e.x),
            i64::from(e.y),
            i64::from(e.vx),
            i64::from(e.vy),
            i64::from(e.aim),
            i64::from(e.hp),
            i64::from(e.score),
            i64::from(e.flags),
            i64::from(e.owner),
        ],
        strings: Arc::from([e.name.clone()]),
    }
}

/// The arena entity of a row of [`arena_schema`], `None` when it is not one (unknown kind,
/// wrong shape, a value out of its field's range).
pub fn entity_from_row(r: &EntityRow) -> Option<EntityState> {
    let kind = match r.kind {
        0 => EntityKind::Player,
        1 => EntityKind::Projectile,
        _ => return None,
    };
    let v = |i: usize| r.values.get(i).copied();
    let [name] = &*r.strings else {
        return None;
    };
    if r.values.len() != 9 {
        return None;
    }
    Some(EntityState {
        id: r.id,
        kind,
        x: i32::try_from(v(X)?).ok()?,
        y: i32::try_from(v(Y)?).ok()?,
        vx: i32::try_from(v(VX)?).ok()?,
        vy: i32::try_from(v(VY)?).ok()?,
        aim: u8::try_from(v(AIM)?).ok()?,
        hp: u8::try_from(v(HP)?).ok()?,
        score: u32::try_from(v(SCORE)?).ok()?,
        flags: u8::try_from(v(FLAGS)?).ok()?,
        owner: u32::try_from(v(OWNER)?).ok()?,
        name: name.clone(),
    })
}

/// The typed view of an arena world: every row that is an arena entity (see
/// [`entity_from_row`]), by id; a row of another schema is left out.
pub fn world_of(world: &RowWorld) -> BTreeMap<u32, EntityState> {
    world
        .values()
        .filter_map(entity_from_row)
        .map(|e| (e.id, e))
        .collect()
}
