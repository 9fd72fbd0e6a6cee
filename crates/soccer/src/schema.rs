//! Soccer's replication schema, [`soccer_schema`]: what of the pitch clients see.
//!
//! # Kinds
//! - `player` (code [`PLAYER`]): `x`, `y` (positions, 1/[`POS_SCALE`] world units), `vx`, `vy`
//!   (velocities, 1/[`POS_SCALE`] world units per tick), all in `MOVE`; `aim` (8 bits, 1/256
//!   turns) in `AIM`; `team` (enum: 0 home, 1 away) and `flags` ([`FLAG_CONNECTED`],
//!   [`FLAG_SPRINTING`]; 2 bits) in `INFO`; `name` (a string, identity: sent once).
//! - `ball` (code [`BALL`]): `x`, `y`, `vx`, `vy` as a player's, in `MOVE`.
//! - `score` (code [`SCORE`]), one, without a position, so every client sees it whatever its
//!   area of interest: `home`, `away` (goals) in `SCORE`; `kickoff` (pause ticks left) in
//!   `CLOCK`, which changes every tick of a pause and so is a group of its own.
//!
//! No kind declares a reference field, so no entity is owned by another (players are placed
//! by their positions like everything else).
//!
//! # Groups and short masks
//! Groups `MOVE`, `AIM`, `INFO`, `SCORE`, `CLOCK` (mask bits 1 to 16). Short masks, commonest
//! first: `MOVE` (a moving player or ball), `MOVE|AIM` (a player running and turning), `AIM`,
//! `CLOCK`.

use tickwire_proto::msg::MAX_NAME_BYTES;
use tickwire_proto::schema::{Field, FieldKind, IntCoding, KindDecl, Schema, SchemaDecl};

/// Soccer's game name, and its schema's name.
pub const GAME_NAME: &str = "soccer";
/// Wire units per world unit of a position.
pub const POS_SCALE: f32 = 8.0;
/// Kind code of a player.
pub const PLAYER: u16 = 0;
/// Kind code of the ball.
pub const BALL: u16 = 1;
/// Kind code of the score board.
pub const SCORE: u16 = 2;
/// Player flag: its client is connected.
pub const FLAG_CONNECTED: i64 = 1;
/// Player flag: sprinting this tick.
pub const FLAG_SPRINTING: i64 = 2;

/// A position field and its velocity, as both moving kinds declare them.
fn moving() -> Vec<Field> {
    let pos = FieldKind::Pos {
        scale: POS_SCALE as u32,
    };
    let vel = |of: &str| FieldKind::Vel {
        of: of.into(),
        create_order: 4,
    };
    vec![
        Field::new("x", pos.clone(), "MOVE"),
        Field::new("y", pos, "MOVE"),
        Field::new("vx", vel("x"), "MOVE"),
        Field::new("vy", vel("y"), "MOVE"),
    ]
}

/// Soccer's schema: kinds `player`, `ball`, `score` (see the module docs).
pub fn soccer_schema() -> Schema {
    let names = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let bits = |n| FieldKind::UInt {
        coding: IntCoding::Bits(n),
    };
    let goals = FieldKind::UInt {
        coding: IntCoding::ExpGolomb(0),
    };
    let mut player = moving();
    player.extend([
        Field::new("aim", bits(8), "AIM"),
        Field::new("team", FieldKind::Enum { values: 2 }, "INFO"),
        Field::new("flags", bits(2), "INFO"),
        Field::identity(
            "name",
            FieldKind::Str {
                max_bytes: MAX_NAME_BYTES as u32,
            },
        ),
    ]);
    let decl = SchemaDecl {
        name: GAME_NAME.into(),
        groups: names(&["MOVE", "AIM", "INFO", "SCORE", "CLOCK"]),
        short_masks: vec![
            names(&["MOVE"]),
            names(&["MOVE", "AIM"]),
            names(&["AIM"]),
            names(&["CLOCK"]),
        ],
        kinds: vec![
            KindDecl {
                name: "player".into(),
                fields: player,
            },
            KindDecl {
                name: "ball".into(),
                fields: moving(),
            },
            KindDecl {
                name: "score".into(),
                fields: vec![
                    Field::new("home", goals.clone(), "SCORE"),
                    Field::new("away", goals, "SCORE"),
                    Field::new(
                        "kickoff",
                        FieldKind::UInt {
                            coding: IntCoding::ExpGolomb(2),
                        },
                        "CLOCK",
                    ),
                ],
            },
        ],
    };
    Schema::new(decl).expect("soccer's schema is valid")
}

/// A world coordinate or per-tick displacement in wire units (`round` is IEEE-exact).
pub(crate) fn quantize(v: f32) -> i64 {
    (v * POS_SCALE).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_positions_and_owners() {
        let s = soccer_schema();
        assert_eq!(s.name(), GAME_NAME);
        assert_eq!(s.kind_code("player"), Some(PLAYER));
        assert_eq!(s.kind_code("ball"), Some(BALL));
        assert_eq!(s.kind_code("score"), Some(SCORE));
        assert_eq!(s.row_shape(PLAYER), Some((7, 1)));
        assert_eq!(s.row_shape(BALL), Some((4, 0)));
        assert_eq!(s.row_shape(SCORE), Some((3, 0)));
        assert_eq!(s.position(PLAYER), Some((0, 1, 8)));
        assert_eq!(s.position(BALL), Some((0, 1, 8)));
        assert_eq!(s.position(SCORE), None, "the board is relevant to everyone");
        for k in [PLAYER, BALL, SCORE] {
            assert_eq!(s.owner_slot(k), None);
        }
        assert!(!s.uniform_updates());
        assert_ne!(s.hash(), tickwire_arena::schema::schema_hash());
    }
}
