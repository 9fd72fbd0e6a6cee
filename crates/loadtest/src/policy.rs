//! Per-game bot policies: which game the bots join, with which schema, and what each bot sends
//! every tick given what it sees.
//!
//! The tester itself knows no game: a bot joins [`GamePolicy::game`] checking
//! [`GamePolicy::schema`], decodes frames with that schema (every frame when the policy
//! [needs the world](GamePolicy::needs_world), the verifying bots' frames otherwise) and asks
//! its [`BotPolicy`] for one input payload per tick. [`builtin`] has the two games tickwire
//! ships; a studio's own binary passes its game's policy to [`crate::run_with`].

use std::f32::consts::TAU;
use std::fmt::Debug;
use std::sync::Arc;

use tickwire_arena::{Arena, BUTTON_FIRE};
use tickwire_proto::msg::{InputPayload, Welcome};
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::RowWorld;
use tickwire_sim::Game;
use tickwire_soccer::{Pitch, Soccer, SoccerBot, SoccerConfig, Team};

use crate::options::Behavior;
use crate::rng::SplitMix64;

/// One game as the load tester plays it.
pub trait GamePolicy: Debug + Send + Sync {
    /// The game's replication schema: frames are decoded with it and the Hello carries its hash.
    fn schema(&self) -> &Schema;
    /// The game's name, as the Hello names it: its schema's.
    fn game(&self) -> &str {
        self.schema().name()
    }
    /// Whether every bot needs the decoded world to choose its inputs (soccer's chase the
    /// ball); when not, only the verifying bots decode frame bodies and the others read headers.
    fn needs_world(&self) -> bool;
    /// The brain of one bot for one session, seeded with `seed`, after `welcome`.
    fn bot(&self, seed: u64, behavior: Behavior, welcome: &Welcome) -> Box<dyn BotPolicy>;
}

/// One bot's choices during one session. The reader calls [`BotPolicy::observe`] after each
/// decoded frame, the writer [`BotPolicy::input`] once per tick.
pub trait BotPolicy: Send {
    /// Sees the world of `tick`, as the bot rebuilt it from the frames.
    fn observe(&mut self, world: &RowWorld, tick: u32);
    /// The game's input payload for the next tick.
    fn input(&mut self) -> InputPayload;
}

/// The policies of the games this tester is built with: arena's and soccer's; `None` for
/// another name.
pub fn builtin(game: &str) -> Option<Arc<dyn GamePolicy>> {
    match game {
        tickwire_arena::schema::GAME_NAME => Some(Arc::new(ArenaPolicy {
            schema: Arena::schema(),
        })),
        SOCCER => Some(Arc::new(SoccerPolicy {
            schema: Soccer::schema(),
        })),
        _ => None,
    }
}

/// The names [`builtin`] knows, for error messages.
pub const BUILTIN_GAMES: &str = "arena, soccer";

/// Soccer's game name (its schema's).
const SOCCER: &str = "soccer";

/// Arena: a random walk, with the fire button held for [`Behavior::WalkShoot`].
#[derive(Debug)]
struct ArenaPolicy {
    schema: Schema,
}

impl GamePolicy for ArenaPolicy {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn needs_world(&self) -> bool {
        false
    }

    fn bot(&self, seed: u64, behavior: Behavior, welcome: &Welcome) -> Box<dyn BotPolicy> {
        let mut rng = SplitMix64::for_bot(seed, 0);
        Box::new(Walker {
            behavior,
            tick_rate: u32::from(welcome.tick_rate.max(1)),
            dir: rng.next_u64() as u8,
            ticks_left: 0,
            rng,
        })
    }
}

/// Arena's stick: a random walk (or standing still).
struct Walker {
    behavior: Behavior,
    /// Ticks per second: a direction is held for half a second to two seconds.
    tick_rate: u32,
    /// Walking direction, 1/256 turns.
    dir: u8,
    /// Ticks until the next change of direction.
    ticks_left: u32,
    rng: SplitMix64,
}

impl Walker {
    /// `(move_x, move_y, aim, buttons)` for the next tick.
    fn stick(&mut self) -> (i8, i8, u8, u8) {
        if self.behavior == Behavior::Idle {
            return (0, 0, self.dir, 0);
        }
        if self.ticks_left == 0 {
            self.dir = self.rng.next_u64() as u8;
            self.ticks_left = self
                .rng
                .range(self.tick_rate / 2, self.tick_rate * 2)
                .max(1);
        }
        self.ticks_left -= 1;
        let angle = f32::from(self.dir) * TAU / 256.0;
        let mx = (angle.cos() * 127.0).round() as i8;
        let my = (angle.sin() * 127.0).round() as i8;
        if self.behavior == Behavior::WalkShoot {
            // Sweep the aim a little around the walking direction; the cooldown limits shots.
            let aim = self
                .dir
                .wrapping_add((self.rng.next_u64() % 33) as u8)
                .wrapping_sub(16);
            (mx, my, aim, BUTTON_FIRE)
        } else {
            (mx, my, self.dir, 0)
        }
    }
}

impl BotPolicy for Walker {
    fn observe(&mut self, _world: &RowWorld, _tick: u32) {}

    fn input(&mut self) -> InputPayload {
        let (mx, my, aim, buttons) = self.stick();
        InputPayload::from([mx.to_le_bytes()[0], my.to_le_bytes()[0], aim, buttons])
    }
}

/// Soccer: [`SoccerBot`], which runs behind the ball and kicks it at the goal it attacks.
#[derive(Debug)]
struct SoccerPolicy {
    schema: Schema,
}

impl GamePolicy for SoccerPolicy {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn needs_world(&self) -> bool {
        true
    }

    fn bot(&self, seed: u64, _behavior: Behavior, welcome: &Welcome) -> Box<dyn BotPolicy> {
        let kind = |name: &str| self.schema.kind_code(name);
        let (player, ball) = (kind("player"), kind("ball"));
        // The Welcome's map is the pitch; the goals are centred on its short walls.
        let pitch = Pitch::of(&SoccerConfig {
            pitch_width: welcome.map.width,
            pitch_height: welcome.map.height,
            ..SoccerConfig::default()
        });
        Box::new(SoccerBrain {
            bot: SoccerBot::new(seed),
            pitch,
            me: welcome.entity_id,
            pos: player.and_then(|k| self.schema.position(k)),
            ball_kind: ball,
            ball_pos: ball.and_then(|k| self.schema.position(k)),
            team_slot: player.and_then(|k| self.schema.slot(k, "team")),
            team: None,
            seen: (None, None),
            tick: 0,
        })
    }
}

/// One soccer bot: [`SoccerBot`] fed from the decoded world.
struct SoccerBrain {
    bot: SoccerBot,
    pitch: Pitch,
    /// The bot's own entity id.
    me: u32,
    /// A player's position slots and scale.
    pos: Option<(usize, usize, u32)>,
    /// The ball's kind code.
    ball_kind: Option<u16>,
    /// The ball's position slots and scale.
    ball_pos: Option<(usize, usize, u32)>,
    /// A player's team slot.
    team_slot: Option<usize>,
    /// Its team, once seen.
    team: Option<Team>,
    /// Where it and the ball were last seen, world units.
    seen: (Option<[f32; 2]>, Option<[f32; 2]>),
    /// Tick of the last observed world.
    tick: u32,
}

/// A row's position in world units.
fn world_pos(values: &[i64], (x, y, scale): (usize, usize, u32)) -> Option<[f32; 2]> {
    let s = scale.max(1) as f32;
    Some([*values.get(x)? as f32 / s, *values.get(y)? as f32 / s])
}

impl BotPolicy for SoccerBrain {
    fn observe(&mut self, world: &RowWorld, tick: u32) {
        self.tick = tick;
        let mine = world.get(&self.me);
        if let (None, Some(e), Some(slot)) = (self.team, mine, self.team_slot) {
            let code = e.values.get(slot).copied().unwrap_or(0);
            if let Some(team) = u8::try_from(code).ok().and_then(Team::from_code) {
                self.bot.attack(&self.pitch, team);
                self.team = Some(team);
            }
        }
        let me = mine
            .zip(self.pos)
            .and_then(|(e, p)| world_pos(&e.values, p));
        let ball = world
            .values()
            .find(|e| Some(e.kind) == self.ball_kind)
            .zip(self.ball_pos)
            .and_then(|(e, p)| world_pos(&e.values, p));
        self.seen = (me, ball);
    }

    fn input(&mut self) -> InputPayload {
        let (me, ball) = self.seen;
        let input = self.bot.input(me, ball, self.tick);
        InputPayload::from(input.payload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_proto::msg::{MapInfo, SessionToken};
    use tickwire_proto::schema::rows::EntityRow;

    fn welcome(game: &str, entity_id: u32) -> Welcome {
        Welcome {
            version: 1,
            game: game.into(),
            schema_hash: 0,
            player_id: 1,
            entity_id,
            match_id: 1,
            tick_rate: 30,
            tick: 0,
            session: SessionToken {
                match_id: 1,
                player_id: 1,
                secret: [0; 16],
            },
            resumed: false,
            map: MapInfo {
                name: "pitch".into(),
                width: 1000,
                height: 600,
                walls: vec![],
            },
        }
    }

    #[test]
    fn builtin_policies_name_their_games() {
        for game in ["arena", "soccer"] {
            let p = builtin(game).expect(game);
            assert_eq!(p.game(), game);
            assert_eq!(p.schema().name(), game);
        }
        assert!(builtin("chess").is_none());
        assert!(!builtin("arena").unwrap().needs_world());
        assert!(builtin("soccer").unwrap().needs_world());
    }

    #[test]
    fn walker_moves_at_full_stick_and_idles() {
        let p = builtin("arena").unwrap();
        let mut walk = p.bot(7, Behavior::WalkShoot, &welcome("arena", 5));
        let bytes = walk.input();
        let b = bytes.as_bytes();
        let (mx, my) = (b[0] as i8, b[1] as i8);
        let len = (f32::from(mx).powi(2) + f32::from(my).powi(2)).sqrt();
        assert!((120.0..=130.0).contains(&len), "{mx} {my}");
        assert_eq!(b[3], BUTTON_FIRE);
        let mut idle = p.bot(7, Behavior::Idle, &welcome("arena", 5));
        let b = idle.input();
        assert_eq!(
            (b.as_bytes()[0], b.as_bytes()[1], b.as_bytes()[3]),
            (0, 0, 0)
        );
    }

    #[test]
    fn soccer_brain_chases_the_ball_it_sees() {
        let p = builtin("soccer").unwrap();
        let schema = p.schema();
        let mut brain = p.bot(3, Behavior::Walk, &welcome("soccer", 5));
        // Unseen: stands still.
        assert_eq!(brain.input().as_bytes()[..2], [0, 0]);
        let player = schema.kind_code("player").unwrap();
        let ball = schema.kind_code("ball").unwrap();
        let (pn, ps) = schema.row_shape(player).unwrap();
        let (bn, bs) = schema.row_shape(ball).unwrap();
        let (px, py, scale) = schema.position(player).unwrap();
        let mut me = vec![0; pn];
        me[px] = 100 * i64::from(scale);
        me[py] = 300 * i64::from(scale);
        let (bx, by, _) = schema.position(ball).unwrap();
        let mut b = vec![0; bn];
        b[bx] = 600 * i64::from(scale);
        b[by] = 300 * i64::from(scale);
        let row = |id, kind, values, n| EntityRow {
            id,
            kind,
            values,
            strings: vec![String::new(); n].into(),
        };
        let world: RowWorld = [(5, row(5, player, me, ps)), (9, row(9, ball, b, bs))].into();
        brain.observe(&world, 10);
        let input = brain.input();
        assert!((input.as_bytes()[0] as i8) > 100, "runs right, to the ball");
    }
}
