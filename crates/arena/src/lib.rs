//! Arena, a top-down 2D shooter: the first game on the tickwire engine ([`Game`]), written
//! only against the engine's public API. Players move with acceleration and friction, collide
//! with walls, aim and fire projectiles; a hit costs health, a kill scores; the match ends on
//! the score limit or the engine's time limit.
//!
//! # Layout
//! - this module: [`Arena`], the rules as a [`Game`], and [`new_match`], an arena match.
//! - [`config`]: [`ArenaConfig`], arena's own rules (the `[arena]` section), with validation.
//! - [`map`]: [`MapDef`], the static map (arena size, walls, spawn points), with validation.
//! - [`requests`]: [`ArenaRequest`], arena's one request (an emote) and its payload.
//! - [`schema`]: arena's replication schema, declared once ([`schema::arena_schema`]), and the
//!   conversions between its rows and the typed view.
//! - [`entity`]: [`EntityState`], the typed view of an arena row, and position quantization.
//! - private: `physics` (the baked direction table, collisions, sweeps).

use std::sync::Arc;

use glam::Vec2;
use tickwire_proto::msg::{EndReason, GameEvent, Input, Phase, PlayerResult};
use tickwire_proto::schema::Schema;

use crate::entity::{FLAG_ALIVE, FLAG_CONNECTED, quantize};
use crate::physics::{
    Aabb, clamp_to_bounds, direction, resolve_circle_box, segment_box, segment_circle,
    segment_leaves,
};
use crate::schema::{arena_schema, kind_code};
use tickwire_sim::SplitMix64;
use tickwire_sim::config::{ConfigError, MatchConfig};
use tickwire_sim::engine::{Match, PhaseChange, StepReport};
use tickwire_sim::game::{Game, GameInput, PlayerId, SnapshotWriter, StepCtx, WorldBounds};
use tickwire_sim::grid::Grid;
use tickwire_sim::request::{Refusal, RequestError};

pub mod config;
pub mod entity;
pub mod map;
mod physics;
pub mod requests;
pub mod schema;

pub use config::{ArenaConfig, ArenaConfigError};
pub use entity::{EntityKind, EntityState};
pub use map::{MapDef, MapError};
pub use requests::{ArenaRequest, EMOTE_KINDS};

/// Most movement sub-steps per tick; [`ArenaConfig::validate`] bounds the top speed to match.
const MAX_SUBSTEPS: f32 = 2.0 * config::MAX_RADII_PER_TICK;

/// Speed below which a player without movement intent comes to rest, world units/s.
const MIN_SPEED: f32 = 1.0;

/// Why an arena match could not be created.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The engine's rules are invalid.
    #[error("invalid game config: {0}")]
    Rules(#[from] ConfigError),
    /// Arena's rules are invalid.
    #[error("invalid arena config: {0}")]
    Config(#[from] ArenaConfigError),
    /// The map is invalid.
    #[error("invalid map: {0}")]
    Map(#[from] MapError),
    /// A player (diameter, world units) does not fit in the arena.
    #[error("a player of diameter {diameter} does not fit in a {width}x{height} arena")]
    MapTooSmall {
        /// Player diameter, world units.
        diameter: f32,
        /// Arena width, world units.
        width: u32,
        /// Arena height, world units.
        height: u32,
    },
}

/// A match of arena: the engine running [`Arena`].
pub type ArenaMatch = Match<Arena>;

/// A new arena match in the Waiting phase at tick 0 under the engine's `rules` and arena's
/// `config` on `map`, after validating all three; `seed` drives every random choice (spawn
/// points).
pub fn new_match(
    rules: MatchConfig,
    config: ArenaConfig,
    map: MapDef,
    seed: u64,
) -> Result<ArenaMatch, SimError> {
    let arena = Arena::new(&rules, config, map, seed)?;
    Ok(Match::new(rules, arena)?)
}

/// Bit of [`ArenaInput::buttons`] that fires the player's weapon.
pub const BUTTON_FIRE: u8 = 1;

/// Bytes of arena's input payload: `move_x`, `move_y`, `aim`, `buttons`, one byte each.
pub const ARENA_INPUT_BYTES: usize = 4;

/// One player's input for one tick: movement intent, facing and buttons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArenaInput {
    /// Horizontal movement intent, -127 (left) to 127 (right); -128 is treated as -127.
    pub move_x: i8,
    /// Vertical movement intent, -127 (up) to 127 (down); -128 is treated as -127.
    pub move_y: i8,
    /// Aim angle in 1/256 turns, 0 pointing along +x, increasing towards +y.
    pub aim: u8,
    /// Button bits: [`BUTTON_FIRE`]; other bits are ignored.
    pub buttons: u8,
}

impl ArenaInput {
    /// Arena's input payload: `move_x`, `move_y` (two's complement), `aim`, `buttons`.
    pub fn payload(&self) -> [u8; ARENA_INPUT_BYTES] {
        [
            self.move_x.to_le_bytes()[0],
            self.move_y.to_le_bytes()[0],
            self.aim,
            self.buttons,
        ]
    }

    /// The input of `payload`; `None` unless it is exactly [`ARENA_INPUT_BYTES`] long.
    pub fn from_payload(payload: &[u8]) -> Option<ArenaInput> {
        let [move_x, move_y, aim, buttons] = *payload else {
            return None;
        };
        Some(ArenaInput {
            move_x: i8::from_le_bytes([move_x]),
            move_y: i8::from_le_bytes([move_y]),
            aim,
            buttons,
        })
    }

    /// The Input message carrying this input under the client's `seq` and `ack`.
    pub fn message(&self, seq: u32, ack: u32) -> Input {
        Input {
            seq,
            ack,
            payload: self.payload().into(),
        }
    }

    /// The movement intent as a vector of length at most 1, with -128 folded to -127.
    pub fn move_vector(&self) -> (f32, f32) {
        let x = f32::from(self.move_x.max(-127)) / 127.0;
        let y = f32::from(self.move_y.max(-127)) / 127.0;
        let len_sq = x * x + y * y;
        if len_sq > 1.0 {
            let len = len_sq.sqrt();
            (x / len, y / len)
        } else {
            (x, y)
        }
    }

    /// Whether the fire button is held.
    pub fn fire(&self) -> bool {
        self.buttons & BUTTON_FIRE != 0
    }
}

impl GameInput for ArenaInput {
    /// Movement and the fire button are released; the facing stays.
    fn released(&self) -> ArenaInput {
        ArenaInput {
            aim: self.aim,
            ..ArenaInput::default()
        }
    }
}

/// Every event of a step in delivery order, as arena sends them: the game's (kills), then the
/// engine's phase change.
pub fn events(report: &StepReport<GameEvent>) -> impl Iterator<Item = GameEvent> + '_ {
    report
        .events
        .iter()
        .cloned()
        .chain(report.phase.map(|c: PhaseChange| GameEvent::PhaseChanged {
            phase: c.phase,
            ticks: c.ticks,
        }))
}

/// A player's score in the current phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayerStats {
    /// Score.
    pub score: u32,
    /// Kills.
    pub kills: u32,
    /// Deaths.
    pub deaths: u32,
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
    /// Score in the current phase.
    stats: PlayerStats,
    /// Centre, world units.
    pos: Vec2,
    /// Velocity, world units/s.
    vel: Vec2,
    /// Facing, 1/256 turns.
    aim: u8,
    /// Health, hit points.
    hp: u8,
    /// False between death and respawn.
    alive: bool,
    /// Ticks until the weapon may fire again.
    cooldown: u32,
    /// Ticks until respawn (dead players only).
    respawn_in: u32,
}

/// A projectile in flight.
#[derive(Clone, Debug)]
struct Projectile {
    /// Entity id.
    id: u32,
    /// Shooter's entity id.
    owner_entity: u32,
    /// Shooter's player id.
    owner: PlayerId,
    /// Centre, world units.
    pos: Vec2,
    /// Velocity, world units/s.
    vel: Vec2,
    /// Direction fired, 1/256 turns.
    aim: u8,
    /// Ticks of flight left.
    ticks_left: u32,
    /// Set when it hit something this tick; removed at the end of the projectile pass.
    spent: bool,
}

/// The arena game: its rules and its world, run by the engine.
///
/// # Within one step
/// Dead players count down and respawn; every player (ascending id) takes its input, turns,
/// accelerates, moves with wall collisions and may fire; every projectile (ascending id) sweeps
/// its path and hits the first wall or living non-owner player on it. Hits hurt only while the
/// match runs.
#[derive(Clone, Debug)]
pub struct Arena {
    /// Arena's rules.
    config: ArenaConfig,
    /// The map.
    map: MapDef,
    /// Map walls as float boxes.
    walls: Vec<Aabb>,
    /// Arena size, world units.
    size: Vec2,
    /// Seconds per tick.
    dt: f32,
    /// Derived durations, ticks.
    lifetime_ticks: u32,
    /// Ticks between shots.
    cooldown_ticks: u32,
    /// Ticks from death to respawn (at least 1).
    respawn_ticks: u32,
    /// The phase of the step being simulated.
    phase: Phase,
    /// Spawn choice.
    rng: SplitMix64,
    /// Players by ascending id (hence ascending entity id too).
    players: Vec<Player>,
    /// Projectiles by ascending id.
    projectiles: Vec<Projectile>,
    /// Broadphase over players for projectile hits.
    grid: Grid,
    /// Reused buffer of player positions for the grid.
    scratch_pos: Vec<Vec2>,
    /// A projectile's strings (an empty name), shared by all of them.
    no_name: Arc<[String]>,
}

impl Arena {
    /// The game on `map` under arena's `config` at the tick rate of the engine's `rules` (all
    /// validated); `seed` drives spawn points.
    pub fn new(
        rules: &MatchConfig,
        config: ArenaConfig,
        map: MapDef,
        seed: u64,
    ) -> Result<Arena, SimError> {
        rules.validate()?;
        config.validate(rules)?;
        map.validate()?;
        let diameter = 2.0 * config.player_radius;
        if diameter > map.width.min(map.height) as f32 {
            return Err(SimError::MapTooSmall {
                diameter,
                width: map.width,
                height: map.height,
            });
        }
        Ok(Arena {
            walls: map.walls.iter().map(Aabb::from_wall).collect(),
            size: Vec2::new(map.width as f32, map.height as f32),
            dt: rules.dt(),
            lifetime_ticks: rules.ticks(config.projectile_lifetime_ms).max(1),
            cooldown_ticks: rules.ticks(config.fire_cooldown_ms),
            respawn_ticks: rules.ticks(config.respawn_ms).max(1),
            phase: Phase::Waiting,
            rng: SplitMix64::new(seed),
            players: Vec::new(),
            projectiles: Vec::new(),
            grid: Grid::new(map.width, map.height, map.cell_size),
            scratch_pos: Vec::new(),
            no_name: Arc::from([String::new()]),
            config,
            map,
        })
    }

    /// Arena's rules.
    pub fn config(&self) -> &ArenaConfig {
        &self.config
    }

    /// The map.
    pub fn map(&self) -> &MapDef {
        &self.map
    }

    /// A player's score in the current phase.
    pub fn stats(&self, id: PlayerId) -> Option<PlayerStats> {
        self.index(id).map(|i| self.players[i].stats)
    }

    fn index(&self, id: PlayerId) -> Option<usize> {
        self.players.binary_search_by_key(&id, |p| p.id).ok()
    }

    /// A spawn point chosen by the seeded RNG, kept inside the arena for the player's radius.
    fn spawn_point(&mut self) -> Vec2 {
        let i = self.rng.below(self.map.spawns.len());
        let [x, y] = self.map.spawns.get(i).copied().unwrap_or([0.0, 0.0]);
        let mut pos = Vec2::new(x, y);
        let mut vel = Vec2::ZERO;
        let r = self.config.player_radius;
        // A spawn closer than a radius to a wall would overlap it: push out like a move would.
        for wall in &self.walls {
            resolve_circle_box(&mut pos, &mut vel, r, wall);
        }
        clamp_to_bounds(&mut pos, &mut vel, r, self.size);
        pos
    }

    /// Counts down dead players and respawns those whose time is up, with full health.
    fn respawn_dead(&mut self) {
        for i in 0..self.players.len() {
            if self.players[i].alive {
                continue;
            }
            let p = &mut self.players[i];
            p.respawn_in = p.respawn_in.saturating_sub(1);
            if p.respawn_in == 0 {
                let pos = self.spawn_point();
                let p = &mut self.players[i];
                p.pos = pos;
                p.vel = Vec2::ZERO;
                p.hp = self.config.player_max_hp;
                p.alive = true;
                p.cooldown = 0;
            }
        }
    }

    /// Applies one input per player: aim, acceleration, friction, speed cap, collision-checked
    /// movement, and firing.
    fn move_players(&mut self, ctx: &mut StepCtx<'_, Arena>) {
        let c = &self.config;
        let dt = self.dt;
        let r = c.player_radius;
        let damping = (1.0 - c.player_friction * dt).max(0.0);
        for p in &mut self.players {
            // Disconnected: stand still, keep facing, never fire.
            let input = ctx.input(p.id).unwrap_or(ArenaInput {
                aim: p.aim,
                ..ArenaInput::default()
            });
            p.cooldown = p.cooldown.saturating_sub(1);
            if !p.alive {
                continue;
            }
            p.aim = input.aim;
            let (mx, my) = input.move_vector();
            p.vel += Vec2::new(mx, my) * (c.player_accel * dt);
            p.vel *= damping;
            let speed_sq = p.vel.dot(p.vel);
            if speed_sq > c.player_max_speed * c.player_max_speed {
                p.vel *= c.player_max_speed / speed_sq.sqrt();
            } else if mx == 0.0 && my == 0.0 && speed_sq < MIN_SPEED * MIN_SPEED {
                // Friction alone only decays geometrically; snap to rest so that an idle
                // player's state (and its delta) really stops changing. Only without intent,
                // so that a tiny configured acceleration can still start a player moving.
                p.vel = Vec2::ZERO;
            }
            // Sub-steps of at most half a radius: a circle can then never pass a wall's middle
            // within one sub-step, so it is always pushed back out on the side it came from.
            let dist = p.vel.length() * dt;
            let n = (dist / (0.5 * r)).ceil().clamp(1.0, MAX_SUBSTEPS);
            let sub_dt = dt / n;
            for _ in 0..n as u32 {
                p.pos += p.vel * sub_dt;
                for wall in &self.walls {
                    resolve_circle_box(&mut p.pos, &mut p.vel, r, wall);
                }
                clamp_to_bounds(&mut p.pos, &mut p.vel, r, self.size);
            }
            if input.fire() && p.cooldown == 0 {
                let Some(id) = ctx.new_entity() else {
                    // Entity ids exhausted: no more shots rather than a reused id.
                    continue;
                };
                let dir = direction(input.aim);
                self.projectiles.push(Projectile {
                    id,
                    owner_entity: p.entity_id,
                    owner: p.id,
                    pos: p.pos,
                    vel: dir * c.projectile_speed,
                    aim: input.aim,
                    ticks_left: self.lifetime_ticks,
                    spent: false,
                });
                p.cooldown = self.cooldown_ticks;
            }
        }
    }

    /// Moves every projectile along its path for one tick; the earliest of a wall, the arena
    /// edge or a living non-owner player on the path stops it. Hits only hurt in Running.
    fn move_projectiles(&mut self, ctx: &mut StepCtx<'_, Arena>) {
        if self.projectiles.is_empty() {
            return;
        }
        self.scratch_pos.clear();
        self.scratch_pos.extend(self.players.iter().map(|p| p.pos));
        self.grid.rebuild(&self.scratch_pos);
        let rr = self.config.projectile_radius;
        let reach = self.config.player_radius + rr;
        let lo = Vec2::splat(rr);
        let hi = (self.size - Vec2::splat(rr)).max(lo);
        for k in 0..self.projectiles.len() {
            let proj = &self.projectiles[k];
            let p0 = proj.pos;
            let d = proj.vel * self.dt;
            let mut t_block = segment_leaves(p0, d, lo, hi);
            for wall in &self.walls {
                if let Some(t) = segment_box(p0, d, &wall.expand(rr)) {
                    t_block = Some(t_block.map_or(t, |b| b.min(t)));
                }
            }
            // The first player on the path; ties go to the lower entity id, so the result does
            // not depend on the order the grid lists candidates in.
            let mut hit: Option<(f32, u32, usize)> = None;
            let p1 = p0 + d;
            let players = &self.players;
            self.grid.query(
                p0.min(p1) - Vec2::splat(reach),
                p0.max(p1) + Vec2::splat(reach),
                |i| {
                    let target = &players[i];
                    if !target.alive || target.entity_id == proj.owner_entity {
                        return;
                    }
                    if let Some(t) = segment_circle(p0, d, target.pos, reach) {
                        let better = hit.is_none_or(|(bt, bid, _)| {
                            t < bt || (t == bt && target.entity_id < bid)
                        });
                        if better {
                            hit = Some((t, target.entity_id, i));
                        }
                    }
                },
            );
            match hit {
                Some((t, _, victim)) if t_block.is_none_or(|b| t <= b) => {
                    let owner = proj.owner;
                    self.projectiles[k].spent = true;
                    self.hit(owner, victim, ctx);
                }
                _ if t_block.is_some() => self.projectiles[k].spent = true,
                _ => {
                    let proj = &mut self.projectiles[k];
                    proj.pos = p1;
                    proj.ticks_left = proj.ticks_left.saturating_sub(1);
                    proj.spent = proj.ticks_left == 0;
                }
            }
        }
        self.projectiles.retain(|p| !p.spent);
    }

    /// Applies a hit by `owner`'s projectile on the player at index `victim`.
    fn hit(&mut self, owner: PlayerId, victim: usize, ctx: &mut StepCtx<'_, Arena>) {
        if ctx.phase() != Phase::Running {
            // Warm-up shots are absorbed without damage.
            return;
        }
        let v = &mut self.players[victim];
        v.hp = v.hp.saturating_sub(self.config.projectile_damage);
        if v.hp > 0 {
            return;
        }
        v.alive = false;
        v.vel = Vec2::ZERO;
        v.respawn_in = self.respawn_ticks;
        v.stats.deaths += 1;
        let (victim_id, victim_entity) = (v.id, v.entity_id);
        let mut killer_entity = 0;
        if let Some(k) = self.index(owner) {
            let killer = &mut self.players[k];
            killer.stats.kills += 1;
            killer.stats.score += 1;
            killer_entity = killer.entity_id;
        }
        ctx.emit(GameEvent::Kill {
            killer: owner,
            victim: victim_id,
            killer_entity,
            victim_entity,
        });
    }

    /// Writes players and projectiles, merged by entity id, quantized.
    fn write_snapshot(&self, out: &mut SnapshotWriter<'_>) {
        let dt = self.dt;
        let (mut i, mut j) = (0, 0);
        // Merge players and projectiles, both sorted by entity id.
        while i < self.players.len() || j < self.projectiles.len() {
            let take_player = match (self.players.get(i), self.projectiles.get(j)) {
                (Some(p), Some(q)) => p.entity_id < q.id,
                (Some(_), None) => true,
                _ => false,
            };
            if take_player {
                let p = &self.players[i];
                let mut flags = 0;
                if p.alive {
                    flags |= FLAG_ALIVE;
                }
                if p.connected {
                    flags |= FLAG_CONNECTED;
                }
                write_entity(
                    out,
                    Fields {
                        id: p.entity_id,
                        kind: EntityKind::Player,
                        pos: p.pos,
                        // A dead player stays where it fell whatever its last velocity.
                        step: if p.alive { p.vel * dt } else { Vec2::ZERO },
                        aim: p.aim,
                        hp: p.hp,
                        score: p.stats.score,
                        flags,
                        owner: 0,
                        strings: &p.strings,
                    },
                );
                i += 1;
            } else {
                let q = &self.projectiles[j];
                write_entity(
                    out,
                    Fields {
                        id: q.id,
                        kind: EntityKind::Projectile,
                        pos: q.pos,
                        step: q.vel * dt,
                        aim: q.aim,
                        hp: 0,
                        score: 0,
                        flags: FLAG_ALIVE,
                        owner: q.owner_entity,
                        strings: &self.no_name,
                    },
                );
                j += 1;
            }
        }
    }

    /// Internal positions of every player and projectile, for invariant checks in tests.
    #[cfg(test)]
    pub(crate) fn positions(&self) -> Vec<Vec2> {
        self.players
            .iter()
            .map(|p| p.pos)
            .chain(self.projectiles.iter().map(|p| p.pos))
            .collect()
    }

    /// Teleports a player and sets its velocity, world units and world units/s (tests and
    /// tools: a scripted scene).
    pub fn place(&mut self, id: PlayerId, pos: Vec2, vel: Vec2) {
        if let Some(i) = self.index(id) {
            self.players[i].pos = pos;
            self.players[i].vel = vel;
        }
    }

    /// A player's health and liveness (tests only).
    #[cfg(test)]
    pub(crate) fn health(&self, id: PlayerId) -> Option<(u8, bool)> {
        self.index(id)
            .map(|i| (self.players[i].hp, self.players[i].alive))
    }

    /// Projectiles in flight (tests only).
    #[cfg(test)]
    pub(crate) fn projectile_count(&self) -> usize {
        self.projectiles.len()
    }
}

impl Game for Arena {
    type Input = ArenaInput;
    type Event = GameEvent;
    type Results = Vec<PlayerResult>;
    type Request = ArenaRequest;

    fn schema() -> Schema {
        arena_schema()
    }

    fn decode_input(payload: &[u8]) -> Option<ArenaInput> {
        ArenaInput::from_payload(payload)
    }

    fn decode_request(bytes: &[u8]) -> Result<ArenaRequest, RequestError> {
        ArenaRequest::decode(bytes)
    }

    /// An emote of a known kind becomes a [`GameEvent::Emote`] for everyone, and the reply is
    /// the tick it was shown at (`u32` little-endian).
    fn request(
        &mut self,
        ctx: &mut StepCtx<'_, Arena>,
        player: PlayerId,
        request: ArenaRequest,
    ) -> Result<Vec<u8>, Refusal> {
        match request {
            ArenaRequest::Emote { kind } if kind < EMOTE_KINDS => {
                ctx.emit(GameEvent::Emote { player, kind });
                Ok(ctx.tick().to_le_bytes().to_vec())
            }
            ArenaRequest::Emote { kind } => Err(Refusal::new(format!(
                "unknown emote kind {kind}; kinds are 0..={}",
                EMOTE_KINDS - 1
            ))),
        }
    }

    fn world(&self) -> WorldBounds {
        WorldBounds {
            width: self.map.width,
            height: self.map.height,
            cell_size: self.map.cell_size,
        }
    }

    /// Spawns the player's entity at a spawn point chosen by the seeded RNG.
    fn join(&mut self, player: PlayerId, entity: u32, name: &str) {
        let pos = self.spawn_point();
        self.players.push(Player {
            id: player,
            entity_id: entity,
            name: name.to_owned(),
            strings: Arc::from([name.to_owned()]),
            connected: true,
            stats: PlayerStats::default(),
            pos,
            vel: Vec2::ZERO,
            aim: 0,
            hp: self.config.player_max_hp,
            alive: true,
            cooldown: 0,
            respawn_in: 0,
        });
    }

    /// Removes the player and its projectiles in flight, so every kill has a killer still in
    /// the match.
    fn leave(&mut self, player: PlayerId) {
        if let Some(i) = self.index(player) {
            self.players.remove(i);
        }
        self.projectiles.retain(|p| p.owner != player);
    }

    fn set_connected(&mut self, player: PlayerId, connected: bool) {
        if let Some(i) = self.index(player) {
            self.players[i].connected = connected;
        }
    }

    fn step(&mut self, ctx: &mut StepCtx<'_, Arena>) {
        self.phase = ctx.phase();
        self.respawn_dead();
        self.move_players(ctx);
        self.move_projectiles(ctx);
    }

    /// Fresh scores, and warm-up projectiles cleared so none scores.
    fn start(&mut self) {
        for p in &mut self.players {
            p.stats = PlayerStats::default();
        }
        self.projectiles.clear();
    }

    fn end_condition(&self) -> Option<EndReason> {
        let limit = self.config.score_limit;
        (limit > 0 && self.players.iter().any(|p| p.stats.score >= limit))
            .then_some(EndReason::ScoreLimit)
    }

    fn snapshot(&self, out: &mut SnapshotWriter<'_>) {
        self.write_snapshot(out);
    }

    /// Score descending, then deaths ascending, then id ascending.
    fn results(&self) -> Vec<PlayerResult> {
        let mut out: Vec<PlayerResult> = self
            .players
            .iter()
            .map(|p| PlayerResult {
                player_id: p.id,
                name: p.name.clone(),
                score: p.stats.score,
                kills: p.stats.kills,
                deaths: p.stats.deaths,
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(a.deaths.cmp(&b.deaths))
                .then(a.player_id.cmp(&b.player_id))
        });
        out
    }
}

/// The replicated fields of one entity, borrowed from the simulation.
struct Fields<'a> {
    id: u32,
    kind: EntityKind,
    pos: Vec2,
    /// Displacement per tick at the current velocity, world units.
    step: Vec2,
    aim: u8,
    hp: u8,
    score: u32,
    flags: u8,
    owner: u32,
    strings: &'a Arc<[String]>,
}

/// Writes one snapshot row in arena's schema (see [`arena_schema`]): x, y, vx, vy, aim, hp,
/// score, flags, owner; the name.
fn write_entity(out: &mut SnapshotWriter<'_>, f: Fields<'_>) {
    let values = [
        i64::from(quantize(f.pos.x)),
        i64::from(quantize(f.pos.y)),
        i64::from(quantize(f.step.x)),
        i64::from(quantize(f.step.y)),
        i64::from(f.aim),
        i64::from(f.hp),
        i64::from(f.score),
        i64::from(f.flags),
        i64::from(f.owner),
    ];
    out.push(f.id, kind_code(f.kind), &values, f.strings);
}

#[cfg(test)]
mod tests;
