//! [`SoccerBot`], a seeded policy for load tests: run behind the ball, kick it towards the
//! goal it attacks. Deterministic: the same seed and the same observations give the same
//! inputs (no clock, no OS randomness).

use glam::Vec2;
use tickwire_sim::SplitMix64;

use crate::aim::{aim_towards, direction};
use crate::config::SoccerConfig;
use crate::input::{BUTTON_KICK, BUTTON_SPRINT, SoccerInput};
use crate::{Pitch, Team};

/// Distance to the ball within which the bot kicks, world units (the default kick reach).
const KICK_DISTANCE: f32 = 38.0;
/// How far behind the ball (seen from the goal) the bot lines up, world units.
const LINE_UP: f32 = 30.0;
/// Distance to its target beyond which the bot sprints, world units.
const SPRINT_DISTANCE: f32 = 250.0;
/// Ticks between two changes of direction while the bot wanders without a ball to see.
const WANDER_TICKS: u32 = 30;

/// A bot that chases the ball and kicks it towards the goal it attacks.
#[derive(Clone, Debug)]
pub struct SoccerBot {
    /// Its random choices: kick power, aim jitter, wandering.
    rng: SplitMix64,
    /// Centre of the goal it attacks, world units.
    goal: Vec2,
    /// The wandering direction, 1/256 turns.
    wander: u8,
}

impl SoccerBot {
    /// A bot seeded with `seed`, attacking the right goal of the default pitch (home's
    /// attack); see [`SoccerBot::attack`].
    pub fn new(seed: u64) -> Self {
        let pitch = Pitch::of(&SoccerConfig::default());
        SoccerBot {
            rng: SplitMix64::new(seed),
            goal: Vec2::from_array(pitch.goal_centre(Team::Away)),
            wander: 0,
        }
    }

    /// Makes the bot attack for `team` on `pitch`: towards the goal of the other team.
    pub fn attack(&mut self, pitch: &Pitch, team: Team) {
        self.goal = Vec2::from_array(pitch.goal_centre(team.other()));
    }

    /// The input for `tick` given where the bot's player (`me`) and the ball are, world
    /// units (`None`: not seen).
    pub fn input(
        &mut self,
        me: Option<[f32; 2]>,
        ball: Option<[f32; 2]>,
        tick: u32,
    ) -> SoccerInput {
        let r = self.rng.next_u64();
        let Some(me) = me.map(Vec2::from_array) else {
            return SoccerInput::default();
        };
        let Some(ball) = ball.map(Vec2::from_array) else {
            if tick % WANDER_TICKS == 0 {
                self.wander = r as u8;
            }
            return steer(direction(self.wander), self.wander, 0, 0);
        };
        let to_goal = self.goal - ball;
        let shot = if to_goal == Vec2::ZERO {
            Vec2::X
        } else {
            to_goal / to_goal.length()
        };
        // A little jitter so that a crowd of bots does not move as one.
        let jitter = (r >> 8) as u8 % 9;
        let aim = aim_towards(shot).wrapping_add(jitter).wrapping_sub(4);
        let to_ball = ball - me;
        if to_ball.length() <= KICK_DISTANCE {
            let power = 128 + (r >> 16) as u8 % 128;
            return steer(to_ball, aim, BUTTON_KICK, power);
        }
        let target = ball - shot * LINE_UP;
        let to_target = target - me;
        let sprint = if to_target.length() > SPRINT_DISTANCE {
            BUTTON_SPRINT
        } else {
            0
        };
        steer(to_target, aim, sprint, 0)
    }
}

/// An input moving at full stick along `v` (standing for a zero vector).
fn steer(v: Vec2, aim: u8, buttons: u8, power: u8) -> SoccerInput {
    let len = v.length();
    let (x, y) = if len > 0.0 {
        let u = v / len * 127.0;
        (u.x.round() as i8, u.y.round() as i8)
    } else {
        (0, 0)
    };
    SoccerInput {
        move_x: x,
        move_y: y,
        aim,
        buttons,
        power,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chases_the_ball_and_kicks_towards_the_goal() {
        let mut bot = SoccerBot::new(1);
        let far = bot.input(Some([100.0, 500.0]), Some([800.0, 500.0]), 1);
        assert!(far.move_x > 100, "{far:?}");
        assert_eq!(far.buttons & BUTTON_KICK, 0);
        assert_ne!(far.buttons & BUTTON_SPRINT, 0, "far from the ball: sprint");
        let near = bot.input(Some([790.0, 500.0]), Some([800.0, 500.0]), 2);
        assert_ne!(near.buttons & BUTTON_KICK, 0);
        assert!(near.power >= 128);
        // Towards the right goal: aim within a few steps of 0.
        assert!(near.aim <= 8 || near.aim >= 248, "{near:?}");
        let mut away = SoccerBot::new(1);
        away.attack(&Pitch::of(&SoccerConfig::default()), Team::Away);
        let near = away.input(Some([790.0, 500.0]), Some([800.0, 500.0]), 2);
        assert!(near.aim.abs_diff(128) <= 8, "{near:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let run = |seed| {
            let mut bot = SoccerBot::new(seed);
            (0..100u32)
                .map(|t| {
                    let me = (t % 7 != 0).then_some([t as f32 * 3.0, 400.0]);
                    let ball = (t % 5 != 0).then_some([500.0, 300.0 + t as f32]);
                    bot.input(me, ball, t)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
