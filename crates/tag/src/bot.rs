//! [`TagBot`], a policy for tests and load: when "it", run at the nearest player; otherwise
//! run straight away from "it". Deterministic: the same view gives the same input.

use tickwire_proto::schema::rows::EntityRow;

use crate::{PLAYER, POS_SCALE, TagInput};

/// How far off an axis a target must be before the bot moves along it, world units: without
/// it a bot level with its target would twitch from side to side every tick.
const DEAD_ZONE: f32 = 2.0;

/// One player as a client sees it, decoded from a row of tag's schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seen {
    /// Its entity id.
    pub id: u32,
    /// Its centre, world units.
    pub pos: [f32; 2],
    /// Whether it is "it".
    pub it: bool,
}

impl Seen {
    /// A player row (`x`, `y`, `vx`, `vy`, `it`), or `None` for anything else.
    pub fn from_row(row: &EntityRow) -> Option<Seen> {
        let &[x, y, _, _, it] = row.values.as_slice() else {
            return None;
        };
        (row.kind == PLAYER).then(|| Seen {
            id: row.id,
            pos: [x, y].map(|v| v as f32 / POS_SCALE as f32),
            it: it == 1,
        })
    }
}

/// The chase-or-flee bot.
#[derive(Clone, Copy, Debug, Default)]
pub struct TagBot;

impl TagBot {
    /// The input for the player with entity `me` among `seen` (itself included): towards the
    /// nearest other player when it is "it", away from "it" otherwise; still when it cannot
    /// see itself or has nobody to chase or flee.
    pub fn input(&self, me: u32, seen: &[Seen]) -> TagInput {
        let Some(mine) = seen.iter().find(|s| s.id == me) else {
            return TagInput::default();
        };
        let dist = |s: &Seen| (s.pos[0] - mine.pos[0]).hypot(s.pos[1] - mine.pos[1]);
        let others = seen.iter().filter(|s| s.id != me);
        let (target, sign) = if mine.it {
            (others.min_by(|a, b| dist(a).total_cmp(&dist(b))), 1.0)
        } else {
            (others.into_iter().find(|s| s.it), -1.0)
        };
        let Some(target) = target else {
            return TagInput::default();
        };
        let axis = |d: f32| match d * sign {
            d if d > DEAD_ZONE => 1,
            d if d < -DEAD_ZONE => -1,
            _ => 0,
        };
        let dir = [0, 1].map(|a| axis(target.pos[a] - mine.pos[a]));
        // Fleeing level with "it" (dead zone on both axes): run anywhere rather than stand.
        if !mine.it && dir == [0, 0] {
            return TagInput([1, 0]);
        }
        TagInput(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_chases_the_nearest_and_the_others_flee() {
        let seen = [
            Seen {
                id: 1,
                pos: [100.0, 100.0],
                it: true,
            },
            Seen {
                id: 2,
                pos: [150.0, 100.0],
                it: false,
            },
            Seen {
                id: 3,
                pos: [10.0, 300.0],
                it: false,
            },
        ];
        let bot = TagBot;
        assert_eq!(bot.input(1, &seen), TagInput([1, 0]));
        assert_eq!(bot.input(2, &seen), TagInput([1, 0]));
        assert_eq!(bot.input(3, &seen), TagInput([-1, 1]));
        assert_eq!(bot.input(9, &seen), TagInput::default(), "not on the board");
    }
}
