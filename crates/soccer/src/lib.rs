//! Soccer, a top-down 2D team game: the second game on the tickwire engine ([`Game`]), written
//! only against the engine's public API. Two teams (five a side by default) run, sprint and kick one ball
//! on a rectangular pitch with a goal in the middle of the left and right walls; a goal sends
//! everyone back to a kickoff; the match ends on the score limit or the engine's time limit.
//!
//! # Layout
//! - this module: [`Soccer`], the rules as a [`Game`]; [`new_match`], a soccer match; [`Team`],
//!   [`Pitch`] and the results ([`SoccerResults`]).
//! - [`config`]: [`SoccerConfig`], soccer's own rules (the `[soccer]` section), with validation.
//! - [`input`]: [`SoccerInput`], one player's input for one tick, and its payload.
//! - [`event`]: [`SoccerEvent`], the reliable events (goals, team changes, kickoffs) and their
//!   bytes.
//! - [`request`]: [`SoccerRequest`], soccer's one request (choose a team) and its payload.
//! - [`schema`]: [`soccer_schema`], what replicates: players, the ball and the score board.
//! - [`bot`]: [`SoccerBot`], a seeded policy for load tests.
//! - private: `aim` (aim directions without libm).
//!
//! # Sides
//! Home defends the left goal (x = 0) and attacks the right one; Away the opposite. A ball
//! whose centre crosses a goal line between the posts is a goal for the team attacking it.

use std::sync::Arc;

use glam::Vec2;
use serde::{Deserialize, Serialize};
use tickwire_proto::msg::{EndReason, Phase};
use tickwire_proto::schema::Schema;
use tickwire_sim::SplitMix64;
use tickwire_sim::config::{ConfigError, MatchConfig};
use tickwire_sim::engine::Match;
use tickwire_sim::game::{Game, PlayerId, SnapshotWriter, StepCtx, WorldBounds};
use tickwire_sim::request::{Refusal, RequestError};

mod aim;
pub mod bot;
pub mod config;
pub mod event;
pub mod input;
pub mod request;
pub mod schema;

pub use bot::SoccerBot;
pub use config::{SoccerConfig, SoccerConfigError};
pub use event::SoccerEvent;
pub use input::{BUTTON_KICK, BUTTON_SPRINT, SOCCER_INPUT_BYTES, SoccerInput};
pub use request::SoccerRequest;
pub use schema::soccer_schema;

use crate::aim::direction;
use crate::schema::{BALL, FLAG_CONNECTED, FLAG_SPRINTING, PLAYER, SCORE, quantize};

/// Depth of the goal rectangles [`Pitch`] describes behind each goal line, world units (for
/// drawing: a goal is scored on the line).
pub const GOAL_DEPTH: f32 = 40.0;

/// Side of a cell of the engine's spatial index over the pitch, world units.
const CELL_SIZE: u32 = 200;

/// Ball speed below which it comes to rest, world units/s: friction alone only decays
/// geometrically, and a ball at rest must stop changing its replicated state.
const MIN_BALL_SPEED: f32 = 2.0;

/// Share of the closing speed a ball keeps when it bounces off a player: 0 stops dead
/// against it, 1 is a perfect bounce.
const PLAYER_RESTITUTION: f32 = 0.5;

/// Kickoff spots of the home team, by slot (rank by player id within the team), as fractions
/// of the pitch's width and height; away's are mirrored in x.
const KICKOFF_SPOTS: [[f32; 2]; 5] = [
    [0.40, 0.50],
    [0.25, 0.30],
    [0.25, 0.70],
    [0.10, 0.40],
    [0.10, 0.60],
];

/// Players per rank of a team's crowd beyond its five kickoff spots.
const CROWD_RANK: usize = 10;

/// One of the two teams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    /// Defends the left goal, attacks the right one; code 0.
    Home,
    /// Defends the right goal, attacks the left one; code 1.
    Away,
}

impl Team {
    /// Both teams, home first.
    pub const BOTH: [Team; 2] = [Team::Home, Team::Away];

    /// The team's code in bytes and the schema's `team` enum: 0 home, 1 away.
    pub fn code(self) -> u8 {
        match self {
            Team::Home => 0,
            Team::Away => 1,
        }
    }

    /// The team of a code, `None` past 1.
    pub fn from_code(code: u8) -> Option<Team> {
        match code {
            0 => Some(Team::Home),
            1 => Some(Team::Away),
            _ => None,
        }
    }

    /// The other team.
    pub fn other(self) -> Team {
        match self {
            Team::Home => Team::Away,
            Team::Away => Team::Home,
        }
    }

    /// Its display name: "home" or "away".
    pub fn name(self) -> &'static str {
        match self {
            Team::Home => "home",
            Team::Away => "away",
        }
    }

    /// Index into per-team arrays.
    fn index(self) -> usize {
        usize::from(self.code())
    }
}

/// An axis-aligned rectangle, world units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge, world units.
    pub x: f32,
    /// Top edge, world units.
    pub y: f32,
    /// Width, world units.
    pub w: f32,
    /// Height, world units.
    pub h: f32,
}

/// The pitch as a server describes it to clients.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pitch {
    /// Width (x), world units; the pitch spans `0..width`.
    pub width: f32,
    /// Height (y), world units; the pitch spans `0..height`.
    pub height: f32,
    /// Width of each goal mouth, world units.
    pub goal_width: f32,
    /// Home's goal (left): [`GOAL_DEPTH`] behind the line x = 0, centred in y.
    pub home_goal: Rect,
    /// Away's goal (right): [`GOAL_DEPTH`] behind the line x = width, centred in y.
    pub away_goal: Rect,
}

impl Pitch {
    /// The pitch of a config.
    pub fn of(config: &SoccerConfig) -> Pitch {
        let (w, h, g) = (
            config.pitch_width as f32,
            config.pitch_height as f32,
            config.goal_width,
        );
        let y = 0.5 * (h - g);
        Pitch {
            width: w,
            height: h,
            goal_width: g,
            home_goal: Rect {
                x: -GOAL_DEPTH,
                y,
                w: GOAL_DEPTH,
                h: g,
            },
            away_goal: Rect {
                x: w,
                y,
                w: GOAL_DEPTH,
                h: g,
            },
        }
    }

    /// The centre of the goal `team` defends, world units.
    pub fn goal_centre(&self, team: Team) -> [f32; 2] {
        match team {
            Team::Home => [0.0, 0.5 * self.height],
            Team::Away => [self.width, 0.5 * self.height],
        }
    }
}

/// Why a soccer match could not be created.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SoccerError {
    /// The engine's rules are invalid.
    #[error("invalid game config: {0}")]
    Rules(#[from] ConfigError),
    /// Soccer's rules are invalid.
    #[error("invalid soccer config: {0}")]
    Config(#[from] SoccerConfigError),
    /// The engine would seat more players than two teams hold.
    #[error("max_players {max_players} exceeds two teams of {team_size}")]
    TooManyPlayers {
        /// The engine's `max_players`, players.
        max_players: u16,
        /// Soccer's `team_size`, players.
        team_size: u8,
    },
    /// Something moves farther in one tick than half a goal mouth, so it could jump past a
    /// post or a goal line unseen.
    #[error("{field} moves {per_tick} units per tick at {tick_rate} Hz, more than {limit}")]
    TooFast {
        /// The speed setting.
        field: &'static str,
        /// Its distance per tick, world units.
        per_tick: f32,
        /// The largest distance per tick, world units (half the goal width).
        limit: f32,
        /// The tick rate, Hz.
        tick_rate: u16,
    },
}

/// A match of soccer: the engine running [`Soccer`].
pub type SoccerMatch = Match<Soccer>;

/// A new soccer match in the Waiting phase at tick 0 under the engine's `rules` and soccer's
/// `config`, after validating both; `seed` decides which team kicks off first.
pub fn new_match(
    rules: MatchConfig,
    config: SoccerConfig,
    seed: u64,
) -> Result<SoccerMatch, SoccerError> {
    let soccer = Soccer::new(&rules, config, seed)?;
    Ok(Match::new(rules, soccer)?)
}

/// One team's line of the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamResult {
    /// The team.
    pub team: Team,
    /// Its name: "home" or "away".
    pub name: String,
    /// Goals scored.
    pub goals: u32,
}

/// One player's line of the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerResult {
    /// Player id.
    pub player_id: PlayerId,
    /// Display name.
    pub name: String,
    /// Its team.
    pub team: Team,
    /// Goals credited.
    pub goals: u32,
    /// Kicks that connected with the ball.
    pub kicks: u32,
}

/// Soccer's results table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoccerResults {
    /// Home then away.
    pub teams: Vec<TeamResult>,
    /// Players by goals descending, then kicks descending, then id ascending.
    pub players: Vec<PlayerResult>,
    /// The team with more goals; `None` for a draw.
    pub winner: Option<Team>,
}

/// A player's simulated state.
#[derive(Clone, Debug)]
struct Player {
    /// Player id.
    id: PlayerId,
    /// Its entity.
    entity_id: u32,
    /// Display name.
    name: String,
    /// The entity's strings as snapshots share them: the name.
    strings: Arc<[String]>,
    /// Whether its client is connected.
    connected: bool,
    /// Its team.
    team: Team,
    /// Centre, world units.
    pos: Vec2,
    /// Velocity this tick, world units/s.
    vel: Vec2,
    /// Facing, 1/256 turns.
    aim: u8,
    /// Sprinting this tick.
    sprinting: bool,
    /// Ticks until it may kick again.
    cooldown: u32,
    /// Goals credited in the current phase.
    goals: u32,
    /// Kicks in the current phase.
    kicks: u32,
}

/// The ball.
#[derive(Clone, Debug)]
struct Ball {
    /// Centre, world units.
    pos: Vec2,
    /// Velocity, world units/s.
    vel: Vec2,
    /// The last player to kick it since the last kickoff.
    last_kicker: Option<PlayerId>,
}

/// The ball and players as a test or tool reads them, world units and world units/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Body {
    /// Centre, world units.
    pub pos: [f32; 2],
    /// Velocity, world units/s.
    pub vel: [f32; 2],
}

/// The soccer game: its rules and its world, run by the engine.
///
/// # Within one step
/// The ball and score board get their entities (first step); a pending kickoff is announced;
/// unless a kickoff pause holds them, players (ascending id) take their input, face their
/// aim, move at walking or sprint speed within the pitch and kick the ball when it is within
/// reach and their cooldown is over (a later kick in the same tick wins); players push the
/// ball out of their way; the ball moves, slows by friction, bounces off the walls outside
/// the goal mouths and, crossing a goal line between the posts, scores and restarts with a
/// kickoff. Goals only count while the match runs: a warm-up goal is just a kickoff.
#[derive(Clone, Debug)]
pub struct Soccer {
    /// Soccer's rules.
    config: SoccerConfig,
    /// The pitch.
    pitch: Pitch,
    /// Seconds per tick.
    dt: f32,
    /// Ticks between two kicks of one player.
    cooldown_ticks: u32,
    /// The coin toss for the first kickoff.
    rng: SplitMix64,
    /// Players by ascending id (hence ascending entity id too).
    players: Vec<Player>,
    /// The ball.
    ball: Ball,
    /// The ball's entity, once the first step gave it one.
    ball_id: Option<u32>,
    /// The score board's entity, once the first step gave it one.
    score_id: Option<u32>,
    /// Goals per team (home, away) in the current phase.
    goals: [u32; 2],
    /// Ticks of kickoff pause left.
    kickoff_left: u32,
    /// A kickoff made outside a step (at the start), announced at the next step.
    pending_kickoff: Option<Team>,
    /// The strings of the ball and the board: none.
    no_strings: Arc<[String]>,
}

impl Soccer {
    /// The game under soccer's `config` at the tick rate of the engine's `rules` (both
    /// validated, and checked against each other); `seed` decides the first kickoff.
    pub fn new(
        rules: &MatchConfig,
        config: SoccerConfig,
        seed: u64,
    ) -> Result<Soccer, SoccerError> {
        rules.validate()?;
        config.validate()?;
        if u32::from(rules.max_players) > 2 * u32::from(config.team_size) {
            return Err(SoccerError::TooManyPlayers {
                max_players: rules.max_players,
                team_size: config.team_size,
            });
        }
        let dt = rules.dt();
        let limit = 0.5 * config.goal_width;
        for (field, speed) in [
            (
                "player_speed * sprint_multiplier",
                config.player_speed * config.sprint_multiplier,
            ),
            ("max_kick_speed", config.max_kick_speed),
        ] {
            let per_tick = speed * dt;
            if per_tick > limit {
                return Err(SoccerError::TooFast {
                    field,
                    per_tick,
                    limit,
                    tick_rate: rules.tick_rate,
                });
            }
        }
        let pitch = Pitch::of(&config);
        Ok(Soccer {
            ball: Ball {
                pos: Vec2::new(0.5 * pitch.width, 0.5 * pitch.height),
                vel: Vec2::ZERO,
                last_kicker: None,
            },
            pitch,
            dt,
            cooldown_ticks: rules.ticks(config.kick_cooldown_ms),
            rng: SplitMix64::new(seed),
            players: Vec::new(),
            ball_id: None,
            score_id: None,
            goals: [0; 2],
            kickoff_left: 0,
            pending_kickoff: None,
            no_strings: Arc::from([]),
            config,
        })
    }

    /// Soccer's rules.
    pub fn config(&self) -> &SoccerConfig {
        &self.config
    }

    /// The pitch: its size and goal mouths.
    pub fn pitch(&self) -> &Pitch {
        &self.pitch
    }

    /// Goals (home, away) in the current phase.
    pub fn score(&self) -> (u32, u32) {
        (self.goals[0], self.goals[1])
    }

    /// Ticks of kickoff pause left (0: play is on).
    pub fn kickoff_ticks_left(&self) -> u32 {
        self.kickoff_left
    }

    /// A player's team.
    pub fn team_of(&self, id: PlayerId) -> Option<Team> {
        self.index(id).map(|i| self.players[i].team)
    }

    /// Players on `team`.
    pub fn team_len(&self, team: Team) -> usize {
        self.players.iter().filter(|p| p.team == team).count()
    }

    /// A player's position and velocity.
    pub fn player_body(&self, id: PlayerId) -> Option<Body> {
        self.index(id).map(|i| {
            let p = &self.players[i];
            Body {
                pos: p.pos.to_array(),
                vel: p.vel.to_array(),
            }
        })
    }

    /// The ball's position and velocity.
    pub fn ball(&self) -> Body {
        Body {
            pos: self.ball.pos.to_array(),
            vel: self.ball.vel.to_array(),
        }
    }

    /// The last player to kick the ball since the last kickoff.
    pub fn last_kicker(&self) -> Option<PlayerId> {
        self.ball.last_kicker
    }

    /// Teleports a player, world units (tests and tools: a scripted scene).
    pub fn place(&mut self, id: PlayerId, pos: [f32; 2]) {
        if let Some(i) = self.index(id) {
            self.players[i].pos = Vec2::from_array(pos);
        }
    }

    /// Teleports the ball and sets its velocity, world units and world units/s (tests and
    /// tools: a scripted scene).
    pub fn place_ball(&mut self, pos: [f32; 2], vel: [f32; 2]) {
        self.ball.pos = Vec2::from_array(pos);
        self.ball.vel = Vec2::from_array(vel);
    }

    fn index(&self, id: PlayerId) -> Option<usize> {
        self.players.binary_search_by_key(&id, |p| p.id).ok()
    }

    /// The kickoff spot of the player at index `i`: its team's spot for its rank by id within
    /// the team, kept inside the pitch for its radius.
    fn kickoff_spot(&self, i: usize) -> Vec2 {
        let team = self.players[i].team;
        let slot = self.players[..i].iter().filter(|p| p.team == team).count();
        let [fx, fy] = match KICKOFF_SPOTS.get(slot) {
            Some(&spot) => spot,
            None => {
                // Crowds beyond five a side line up in ranks of CROWD_RANK across their half,
                // from the halfway line back, so that nobody starts on top of another.
                let j = slot - KICKOFF_SPOTS.len();
                let ranks = usize::from(self.config.team_size)
                    .saturating_sub(KICKOFF_SPOTS.len())
                    .div_ceil(CROWD_RANK)
                    .max(1);
                let (rank, file) = (j / CROWD_RANK, j % CROWD_RANK);
                [
                    0.45 - 0.4 * (rank as f32 + 0.5) / ranks as f32,
                    (file as f32 + 0.5) / CROWD_RANK as f32,
                ]
            }
        };
        let fx = match team {
            Team::Home => fx,
            Team::Away => 1.0 - fx,
        };
        self.clamp_player(Vec2::new(fx * self.pitch.width, fy * self.pitch.height))
    }

    /// `pos` kept inside the pitch for a player's radius.
    fn clamp_player(&self, pos: Vec2) -> Vec2 {
        let r = self.config.player_radius;
        pos.clamp(
            Vec2::splat(r),
            Vec2::new(self.pitch.width - r, self.pitch.height - r),
        )
    }

    /// Every player back on its kickoff spot facing the other goal, the ball on the centre
    /// spot, and the pause starts (the caller announces which team kicks off).
    fn kickoff(&mut self) {
        for i in 0..self.players.len() {
            let spot = self.kickoff_spot(i);
            let p = &mut self.players[i];
            p.pos = spot;
            p.vel = Vec2::ZERO;
            p.sprinting = false;
            p.cooldown = 0;
            p.aim = match p.team {
                Team::Home => 0,
                Team::Away => 128,
            };
        }
        self.ball = Ball {
            pos: Vec2::new(0.5 * self.pitch.width, 0.5 * self.pitch.height),
            vel: Vec2::ZERO,
            last_kicker: None,
        };
        self.kickoff_left = self.config.kickoff_pause_ticks;
    }

    /// Applies one input per player: facing, movement and kicks; nothing moves in a pause.
    fn move_players(&mut self, ctx: &mut StepCtx<'_, Soccer>, paused: bool) {
        let c = &self.config;
        let (lo, hi) = (
            Vec2::splat(c.player_radius),
            Vec2::new(
                self.pitch.width - c.player_radius,
                self.pitch.height - c.player_radius,
            ),
        );
        for p in &mut self.players {
            // Disconnected: stand still, keep facing, never kick.
            let input = ctx.input(p.id).unwrap_or(SoccerInput {
                aim: p.aim,
                ..SoccerInput::default()
            });
            p.cooldown = p.cooldown.saturating_sub(1);
            p.aim = input.aim;
            if paused {
                p.vel = Vec2::ZERO;
                p.sprinting = false;
                continue;
            }
            let mv = input.move_vector();
            p.sprinting = input.sprint() && mv != Vec2::ZERO;
            let speed = if p.sprinting {
                c.player_speed * c.sprint_multiplier
            } else {
                c.player_speed
            };
            let wanted = p.pos + mv * speed * self.dt;
            let at = wanted.clamp(lo, hi);
            // The replicated velocity is what the player really did, walls included.
            p.vel = (at - p.pos) / self.dt;
            p.pos = at;
            if input.kick() && p.cooldown == 0 && p.pos.distance(self.ball.pos) <= c.kick_reach {
                let speed = c.max_kick_speed * f32::from(input.power) / 255.0;
                self.ball.vel = direction(input.aim) * speed;
                self.ball.last_kicker = Some(p.id);
                p.cooldown = self.cooldown_ticks;
                p.kicks += 1;
            }
        }
    }

    /// Pushes the ball out of every player it overlaps; a ball and player closing in bounce
    /// apart (a run into a still ball dribbles it ahead, a ball shot at a player rebounds).
    fn push_ball(&mut self) {
        let reach = self.config.player_radius + self.config.ball_radius;
        for p in &self.players {
            let d = self.ball.pos - p.pos;
            let dist = d.length();
            if dist >= reach {
                continue;
            }
            // Exactly on top of each other: out towards the goal the player attacks.
            let n = if dist > 0.0 {
                d / dist
            } else {
                match p.team {
                    Team::Home => Vec2::X,
                    Team::Away => Vec2::NEG_X,
                }
            };
            self.ball.pos = p.pos + n * reach;
            // Closing speed along the normal; a ball closing in bounces off the player.
            let closing = p.vel.dot(n) - self.ball.vel.dot(n);
            if closing > 0.0 {
                self.ball.vel += n * (closing * (1.0 + PLAYER_RESTITUTION));
            }
        }
    }

    /// Moves the ball one tick with friction and bounces; `Some(team)` when it crossed the
    /// goal line of the goal `team` attacks.
    fn move_ball(&mut self) -> Option<Team> {
        let c = &self.config;
        let r = c.ball_radius;
        let (w, h) = (self.pitch.width, self.pitch.height);
        let b = &mut self.ball;
        let max = c.max_kick_speed;
        let speed_sq = b.vel.dot(b.vel);
        if speed_sq > max * max {
            b.vel *= max / speed_sq.sqrt();
        }
        b.pos += b.vel * self.dt;
        b.vel *= (1.0 - c.ball_friction * self.dt).max(0.0);
        if b.vel.dot(b.vel) < MIN_BALL_SPEED * MIN_BALL_SPEED {
            b.vel = Vec2::ZERO;
        }
        let in_mouth = (b.pos.y - 0.5 * h).abs() < 0.5 * c.goal_width;
        if in_mouth && b.pos.x < 0.0 {
            return Some(Team::Away);
        }
        if in_mouth && b.pos.x > w {
            return Some(Team::Home);
        }
        // Reflect off the walls; inside a goal mouth the side walls are open.
        if b.pos.y < r {
            b.pos.y = 2.0 * r - b.pos.y;
            b.vel.y = b.vel.y.abs();
        } else if b.pos.y > h - r {
            b.pos.y = 2.0 * (h - r) - b.pos.y;
            b.vel.y = -b.vel.y.abs();
        }
        if !in_mouth {
            if b.pos.x < r {
                b.pos.x = 2.0 * r - b.pos.x;
                b.vel.x = b.vel.x.abs();
            } else if b.pos.x > w - r {
                b.pos.x = 2.0 * (w - r) - b.pos.x;
                b.vel.x = -b.vel.x.abs();
            }
        }
        // A reflection is at most one tick's travel, which `Soccer::new` bounds well inside
        // the pitch; the clamp only guards the open mouths' edges.
        b.pos.y = b.pos.y.clamp(r, h - r);
        if !in_mouth {
            b.pos.x = b.pos.x.clamp(r, w - r);
        }
        None
    }

    /// A goal for `team`: counted while running, then a kickoff by the other team.
    fn goal(&mut self, ctx: &mut StepCtx<'_, Soccer>, team: Team) {
        if ctx.phase() == Phase::Running {
            self.goals[team.index()] += 1;
            let scorer = self
                .ball
                .last_kicker
                .and_then(|id| self.index(id))
                .filter(|&i| self.players[i].team == team)
                .map(|i| {
                    self.players[i].goals += 1;
                    self.players[i].id
                });
            ctx.emit(SoccerEvent::Goal {
                team,
                scorer,
                home: self.goals[0],
                away: self.goals[1],
            });
        }
        self.kickoff();
        ctx.emit(SoccerEvent::Kickoff { team: team.other() });
    }

    /// One player's row: x, y, vx, vy, aim, team, flags; the name.
    fn write_player(&self, out: &mut SnapshotWriter<'_>, p: &Player) {
        let mut flags = 0;
        if p.connected {
            flags |= FLAG_CONNECTED;
        }
        if p.sprinting {
            flags |= FLAG_SPRINTING;
        }
        let step = p.vel * self.dt;
        let values = [
            quantize(p.pos.x),
            quantize(p.pos.y),
            quantize(step.x),
            quantize(step.y),
            i64::from(p.aim),
            i64::from(p.team.code()),
            flags,
        ];
        out.push(p.entity_id, PLAYER, &values, &p.strings);
    }

    /// The ball's or the board's row.
    fn write_extra(&self, out: &mut SnapshotWriter<'_>, id: u32, kind: u16) {
        if kind == BALL {
            let step = self.ball.vel * self.dt;
            let values = [
                quantize(self.ball.pos.x),
                quantize(self.ball.pos.y),
                quantize(step.x),
                quantize(step.y),
            ];
            out.push(id, BALL, &values, &self.no_strings);
        } else {
            let values = [
                i64::from(self.goals[0]),
                i64::from(self.goals[1]),
                i64::from(self.kickoff_left),
            ];
            out.push(id, SCORE, &values, &self.no_strings);
        }
    }
}

impl Game for Soccer {
    type Input = SoccerInput;
    type Event = SoccerEvent;
    type Results = SoccerResults;
    type Request = SoccerRequest;

    fn schema() -> Schema {
        soccer_schema()
    }

    fn world(&self) -> WorldBounds {
        WorldBounds {
            width: self.config.pitch_width,
            height: self.config.pitch_height,
            cell_size: CELL_SIZE,
        }
    }

    /// Seats the player on the smaller team (home on a tie), at its kickoff spot. The engine
    /// seats at most two teams' worth ([`new_match`] checks `max_players`).
    fn join(&mut self, player: PlayerId, entity: u32, name: &str) {
        let team = if self.team_len(Team::Away) < self.team_len(Team::Home) {
            Team::Away
        } else {
            Team::Home
        };
        self.players.push(Player {
            id: player,
            entity_id: entity,
            name: name.to_owned(),
            strings: Arc::from([name.to_owned()]),
            connected: true,
            team,
            pos: Vec2::ZERO,
            vel: Vec2::ZERO,
            aim: match team {
                Team::Home => 0,
                Team::Away => 128,
            },
            sprinting: false,
            cooldown: 0,
            goals: 0,
            kicks: 0,
        });
        let i = self.players.len() - 1;
        self.players[i].pos = self.kickoff_spot(i);
    }

    /// Removes the player; a ball it kicked last scores for nobody.
    fn leave(&mut self, player: PlayerId) {
        if let Some(i) = self.index(player) {
            self.players.remove(i);
        }
        if self.ball.last_kicker == Some(player) {
            self.ball.last_kicker = None;
        }
    }

    fn set_connected(&mut self, player: PlayerId, connected: bool) {
        if let Some(i) = self.index(player) {
            self.players[i].connected = connected;
        }
    }

    fn decode_input(payload: &[u8]) -> Option<SoccerInput> {
        SoccerInput::from_payload(payload)
    }

    fn decode_request(bytes: &[u8]) -> Result<SoccerRequest, RequestError> {
        SoccerRequest::decode(bytes)
    }

    /// Moves the sender to the team asked for, before kickoff only and when it has room; a
    /// change is announced with [`SoccerEvent::TeamChanged`]. The reply is the sender's team,
    /// one byte.
    fn request(
        &mut self,
        ctx: &mut StepCtx<'_, Soccer>,
        player: PlayerId,
        request: SoccerRequest,
    ) -> Result<Vec<u8>, Refusal> {
        let SoccerRequest::ChooseTeam { team } = request;
        let Some(i) = self.index(player) else {
            return Err(Refusal::new("not a player of this match"));
        };
        if ctx.phase() != Phase::Waiting {
            return Err(Refusal::new("teams are fixed once the match has started"));
        }
        if self.players[i].team == team {
            return Ok(vec![team.code()]);
        }
        if self.team_len(team) >= usize::from(self.config.team_size) {
            return Err(Refusal::new(format!(
                "the {} team is full ({} players)",
                team.name(),
                self.config.team_size
            )));
        }
        self.players[i].team = team;
        self.players[i].pos = self.kickoff_spot(i);
        ctx.emit(SoccerEvent::TeamChanged { player, team });
        Ok(vec![team.code()])
    }

    fn step(&mut self, ctx: &mut StepCtx<'_, Soccer>) {
        if self.ball_id.is_none() {
            self.ball_id = ctx.new_entity();
            self.score_id = ctx.new_entity();
        }
        if let Some(team) = self.pending_kickoff.take() {
            ctx.emit(SoccerEvent::Kickoff { team });
        }
        let paused = self.kickoff_left > 0;
        self.kickoff_left = self.kickoff_left.saturating_sub(1);
        self.move_players(ctx, paused);
        if !paused {
            self.push_ball();
        }
        if let Some(team) = self.move_ball() {
            self.goal(ctx, team);
        }
    }

    /// Fresh scores and stats, and the first kickoff by the team the seeded coin toss picks.
    fn start(&mut self) {
        self.goals = [0; 2];
        for p in &mut self.players {
            p.goals = 0;
            p.kicks = 0;
        }
        self.kickoff();
        let team = if self.rng.below(2) == 0 {
            Team::Home
        } else {
            Team::Away
        };
        // `start` has no step context to emit through: the next step announces it.
        self.pending_kickoff = Some(team);
    }

    fn end_condition(&self) -> Option<EndReason> {
        let limit = self.config.score_limit;
        (limit > 0 && self.goals.iter().any(|&g| g >= limit)).then_some(EndReason::ScoreLimit)
    }

    /// Players, the ball and the board, merged by entity id.
    fn snapshot(&self, out: &mut SnapshotWriter<'_>) {
        let extras = [(self.ball_id, BALL), (self.score_id, SCORE)];
        let mut extras = extras
            .iter()
            .filter_map(|&(id, kind)| id.map(|id| (id, kind)))
            .peekable();
        for p in &self.players {
            while let Some(&(id, kind)) = extras.peek().filter(|e| e.0 < p.entity_id) {
                self.write_extra(out, id, kind);
                extras.next();
            }
            self.write_player(out, p);
        }
        for (id, kind) in extras {
            self.write_extra(out, id, kind);
        }
    }

    fn results(&self) -> SoccerResults {
        let teams = Team::BOTH
            .iter()
            .map(|&team| TeamResult {
                team,
                name: team.name().to_owned(),
                goals: self.goals[team.index()],
            })
            .collect();
        let mut players: Vec<PlayerResult> = self
            .players
            .iter()
            .map(|p| PlayerResult {
                player_id: p.id,
                name: p.name.clone(),
                team: p.team,
                goals: p.goals,
                kicks: p.kicks,
            })
            .collect();
        players.sort_by(|a, b| {
            b.goals
                .cmp(&a.goals)
                .then(b.kicks.cmp(&a.kicks))
                .then(a.player_id.cmp(&b.player_id))
        });
        let winner = match self.goals[0].cmp(&self.goals[1]) {
            std::cmp::Ordering::Greater => Some(Team::Home),
            std::cmp::Ordering::Less => Some(Team::Away),
            std::cmp::Ordering::Equal => None,
        };
        SoccerResults {
            teams,
            players,
            winner,
        }
    }
}

#[cfg(test)]
mod tests;
