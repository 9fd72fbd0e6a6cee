//! The match itself: players, projectiles, phases, and the snapshots replicated to clients.

use glam::Vec2;
use tickwire_proto::delta::diff_into;
use tickwire_proto::entity::{FLAG_ALIVE, FLAG_CONNECTED, quantize};
use tickwire_proto::msg::{
    Delta, EndReason, FrameHeader, GameEvent, Input, Phase, PlayerResult, sanitize_name,
};
use tickwire_proto::{EntityKind, EntityState};

use crate::config::{ConfigError, GameConfig};
use crate::grid::Grid;
use crate::history::History;
use crate::input::{InputOutcome, InputQueue};
use crate::interest::SpatialIndex;
use crate::map::{MapDef, MapError};
use crate::physics::{
    Aabb, clamp_to_bounds, direction, resolve_circle_box, segment_box, segment_circle,
    segment_leaves,
};
use crate::rng::SplitMix64;

/// A player's id within a match: assigned from 1 upwards, never reused.
pub type PlayerId = u32;

/// Most movement sub-steps per tick; [`GameConfig::validate`] bounds the top speed to match.
const MAX_SUBSTEPS: f32 = 2.0 * crate::config::MAX_RADII_PER_TICK;

/// Speed below which a player without movement intent comes to rest, world units/s.
const MIN_SPEED: f32 = 1.0;

/// Why a [`Match`] could not be created.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The game configuration is invalid.
    #[error("invalid game config: {0}")]
    Config(#[from] ConfigError),
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

/// Why [`Match::add_player`] refused a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum JoinError {
    /// The match has `max_players` players already (or, after billions of joins, ran out of ids).
    #[error("the match is full")]
    Full,
    /// The match is over.
    #[error("the match has ended")]
    Ended,
}

/// A player's public record: identity, connection, input bookkeeping and score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerInfo {
    /// Player id.
    pub id: PlayerId,
    /// Id of the player's entity in snapshots.
    pub entity_id: u32,
    /// Sanitized display name.
    pub name: String,
    /// Whether the player's client is connected (false during a reconnect grace period).
    pub connected: bool,
    /// Sequence number of the newest input applied (0: none yet).
    pub last_applied_seq: u32,
    /// Score in the current phase.
    pub score: u32,
    /// Kills in the current phase.
    pub kills: u32,
    /// Deaths in the current phase.
    pub deaths: u32,
    /// Inputs ignored as duplicates or out of order, inputs.
    pub inputs_stale: u64,
    /// Inputs ignored because the queue was full, inputs.
    pub inputs_dropped: u64,
    /// Inputs ignored for an absurd sequence jump, inputs.
    pub inputs_rejected: u64,
}

/// What one [`Match::step`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// The tick just simulated (the current tick when nothing was simulated).
    pub tick: u32,
    /// Kills and phase changes of this tick, in the order they happened.
    pub events: Vec<GameEvent>,
    /// Set on the tick the match ended by its own rules.
    pub ended: Option<EndReason>,
}

/// A player's simulated state.
#[derive(Clone, Debug)]
struct Player {
    /// Public record.
    info: PlayerInfo,
    /// Pending inputs.
    inputs: InputQueue,
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

/// One authoritative match: a deterministic state machine advanced one tick per [`Match::step`].
///
/// It performs no I/O and reads no clock: the server feeds it joins, inputs and connection
/// changes, calls `step` at the tick rate and replicates what it produced. The same seed and the
/// same sequence of calls always give bit-identical snapshots.
///
/// # Order of calls
/// 1. [`Match::new`] once, with a validated config, map and seed.
/// 2. Between ticks, as things happen: [`Match::add_player`], [`Match::remove_player`],
///    [`Match::set_connected`] and [`Match::push_input`] (any number, in arrival order).
/// 3. Once per tick: [`Match::step`]; forward its [`StepReport::events`]; stop when
///    [`StepReport::ended`] is set.
/// 4. After each step, per client: [`Match::baseline_age`] for its acknowledged tick,
///    [`Match::delta_since`] (once per distinct baseline age) and [`Match::header_for`]; or,
///    with interest management or a budget, the client's
///    [`ClientView`](crate::interest::ClientView) and [`Match::header_for`].
/// 5. To stop early: [`Match::end`]; then [`Match::results`] for the final table.
///
/// # Within one step
/// Dead players count down and respawn; every player (ascending id) takes one input, turns,
/// accelerates, moves with wall collisions and may fire; every projectile (ascending id) sweeps
/// its path and hits the first wall or living non-owner player on it; then the phase advances;
/// last the snapshot is recorded.
#[derive(Clone, Debug)]
pub struct Match {
    /// The rules.
    config: GameConfig,
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
    /// Last simulated tick.
    tick: u32,
    /// Current phase.
    phase: Phase,
    /// Tick at which Running ends by time.
    running_end: u32,
    /// Why the match ended, once it has.
    end_reason: Option<EndReason>,
    /// Spawn choice.
    rng: SplitMix64,
    /// Next player id to hand out.
    next_player: u32,
    /// Next entity id to hand out (players and projectiles share it).
    next_entity: u32,
    /// Players by ascending id (hence ascending entity id too).
    players: Vec<Player>,
    /// Projectiles by ascending id.
    projectiles: Vec<Projectile>,
    /// Recent snapshots.
    history: History,
    /// Broadphase over players for projectile hits.
    grid: Grid,
    /// Reused buffer of player positions for the grid.
    scratch_pos: Vec<Vec2>,
    /// Grid over the current snapshot, for areas of interest.
    interest: SpatialIndex,
}

impl Match {
    /// Creates a match in the Waiting phase at tick 0, after validating `config` and `map`.
    /// `seed` drives every random choice (spawn points).
    pub fn new(config: GameConfig, map: MapDef, seed: u64) -> Result<Match, SimError> {
        config.validate()?;
        map.validate()?;
        let diameter = 2.0 * config.player_radius;
        if diameter > map.width.min(map.height) as f32 {
            return Err(SimError::MapTooSmall {
                diameter,
                width: map.width,
                height: map.height,
            });
        }
        Ok(Match {
            walls: map.walls.iter().map(Aabb::from_wall).collect(),
            size: Vec2::new(map.width as f32, map.height as f32),
            dt: config.dt(),
            lifetime_ticks: config.ticks(config.projectile_lifetime_ms).max(1),
            cooldown_ticks: config.ticks(config.fire_cooldown_ms),
            respawn_ticks: config.ticks(config.respawn_ms).max(1),
            tick: 0,
            phase: Phase::Waiting,
            running_end: 0,
            end_reason: None,
            rng: SplitMix64::new(seed),
            next_player: 1,
            next_entity: 1,
            players: Vec::new(),
            projectiles: Vec::new(),
            history: History::new(config.history_len() as usize),
            grid: Grid::new(map.width, map.height, map.cell_size),
            scratch_pos: Vec::new(),
            interest: SpatialIndex::new(&map),
            config,
            map,
        })
    }

    /// The rules.
    pub fn config(&self) -> &GameConfig {
        &self.config
    }

    /// The map.
    pub fn map(&self) -> &MapDef {
        &self.map
    }

    /// The last simulated tick (0 before the first step).
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Ticks left in the current phase (0 when open-ended: Waiting and Ended).
    pub fn phase_ticks_left(&self) -> u32 {
        match self.phase {
            Phase::Running => self.running_end.saturating_sub(self.tick),
            Phase::Waiting | Phase::Ended => 0,
        }
    }

    /// Why the match ended (`None` while it has not).
    pub fn end_reason(&self) -> Option<EndReason> {
        self.end_reason
    }

    /// Players in the match, connected or not.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    fn index(&self, id: PlayerId) -> Option<usize> {
        self.players.binary_search_by_key(&id, |p| p.info.id).ok()
    }

    /// Adds a connected player (name sanitized) and spawns its entity at a spawn point; it
    /// appears in the snapshot of the next step.
    pub fn add_player(&mut self, name: &str) -> Result<PlayerId, JoinError> {
        if self.phase == Phase::Ended {
            return Err(JoinError::Ended);
        }
        if self.players.len() >= usize::from(self.config.max_players) {
            return Err(JoinError::Full);
        }
        let id = self.next_player;
        let entity_id = self.next_entity;
        let (Some(next_player), Some(next_entity)) = (id.checked_add(1), entity_id.checked_add(1))
        else {
            return Err(JoinError::Full);
        };
        self.next_player = next_player;
        self.next_entity = next_entity;
        let pos = self.spawn_point();
        self.players.push(Player {
            info: PlayerInfo {
                id,
                entity_id,
                name: sanitize_name(name),
                connected: true,
                last_applied_seq: 0,
                score: 0,
                kills: 0,
                deaths: 0,
                inputs_stale: 0,
                inputs_dropped: 0,
                inputs_rejected: 0,
            },
            inputs: InputQueue::default(),
            pos,
            vel: Vec2::ZERO,
            aim: 0,
            hp: self.config.player_max_hp,
            alive: true,
            cooldown: 0,
            respawn_in: 0,
        });
        Ok(id)
    }

    /// Removes a player, its entity and its projectiles in flight; false if it was not here.
    pub fn remove_player(&mut self, id: PlayerId) -> bool {
        let Some(i) = self.index(id) else {
            return false;
        };
        self.players.remove(i);
        // Its shots go too, so every kill has a killer still in the match.
        self.projectiles.retain(|p| p.owner != id);
        true
    }

    /// Marks a player's client connected or not. A disconnected player stands still and does
    /// not fire; its queued inputs are dropped, and after reconnecting its first input is
    /// accepted whatever its sequence number.
    pub fn set_connected(&mut self, id: PlayerId, connected: bool) {
        let Some(i) = self.index(id) else {
            return;
        };
        let p = &mut self.players[i];
        match (p.info.connected, connected) {
            (true, false) => p.inputs.disconnect(),
            (false, true) => p.inputs.reconnect(),
            _ => {}
        }
        p.info.connected = connected;
    }

    /// Queues one input of a player under the queue rules (see [`InputOutcome`]) and counts the
    /// refusals in its [`PlayerInfo`].
    pub fn push_input(&mut self, id: PlayerId, input: Input) -> InputOutcome {
        let Some(i) = self.index(id) else {
            return InputOutcome::UnknownPlayer;
        };
        let p = &mut self.players[i];
        let outcome = p.inputs.push(
            input,
            self.config.max_queued_inputs,
            self.config.max_seq_jump,
        );
        match outcome {
            InputOutcome::Stale => p.info.inputs_stale += 1,
            InputOutcome::Rejected => p.info.inputs_rejected += 1,
            InputOutcome::Dropped => p.info.inputs_dropped += 1,
            InputOutcome::Queued | InputOutcome::UnknownPlayer => {}
        }
        outcome
    }

    /// Advances exactly one tick and records its snapshot. Once the match has ended this does
    /// nothing and returns an empty report for the current tick.
    pub fn step(&mut self) -> StepReport {
        let mut report = StepReport {
            tick: self.tick,
            ..StepReport::default()
        };
        if self.phase == Phase::Ended {
            return report;
        }
        let Some(tick) = self.tick.checked_add(1) else {
            // Years of ticks at 240 Hz; end rather than wrap.
            self.finish(EndReason::Aborted, &mut report);
            return report;
        };
        self.tick = tick;
        report.tick = tick;
        self.respawn_dead();
        self.move_players();
        self.move_projectiles(&mut report.events);
        self.advance_phase(&mut report);
        self.record_snapshot();
        report
    }

    /// Ends the match now (operator, shutdown); later steps do nothing.
    pub fn end(&mut self, reason: EndReason) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            self.end_reason = Some(reason);
        }
    }

    /// The snapshot of the current tick, sorted by entity id.
    pub fn snapshot(&self) -> &[EntityState] {
        self.history.newest()
    }

    /// The snapshot of `tick`, if it is still in the history.
    pub fn snapshot_at(&self, tick: u32) -> Option<&[EntityState]> {
        self.history.get(tick)
    }

    /// Fills `out` with the indices into [`Match::snapshot`] (ascending, so by ascending entity
    /// id) of the entities whose quantized position is within `radius` world units of `center`
    /// (world units, quantized first), inclusive.
    ///
    /// With areas of interest on ([`GameConfig::view_radius`] > 0) the match keeps a uniform
    /// grid over the snapshot (cell side [`MapDef::cell_size`]) and only the cells near
    /// `center` are visited, so the cost grows with the entities nearby, not with the world;
    /// otherwise this scans the snapshot.
    pub fn entities_within(&self, center: [f32; 2], radius: f32, out: &mut Vec<usize>) {
        out.clear();
        let c = (quantize(center[0]), quantize(center[1]));
        let snap = self.snapshot();
        if self.config.view_radius > 0.0 {
            self.interest
                .within(snap, c, radius, |i| out.push(i as usize));
            out.sort_unstable();
        } else {
            let r2 = crate::interest::radius_sq(radius);
            out.extend((0..snap.len()).filter(|&i| crate::interest::within_sq(&snap[i], c, r2)));
        }
    }

    /// The spatial index over the current snapshot (maintained when `view_radius > 0`).
    pub(crate) fn interest_index(&self) -> &SpatialIndex {
        &self.interest
    }

    /// Fills `out` with the delta from `ack` (a tick, 0 = none) to the current tick and returns
    /// the baseline age used (0 = full snapshot).
    pub fn delta_since(&self, ack: u32, out: &mut Delta) -> u32 {
        let age = self.baseline_age(ack);
        let base = if age == 0 {
            &[][..]
        } else {
            self.history.get(ack).unwrap_or(&[])
        };
        diff_into(base, self.history.newest(), age, out);
        age
    }

    /// Baseline age that [`Match::delta_since`] would use for `ack`: `tick - ack` when `ack` is
    /// a past tick still in the history, else 0 (full snapshot).
    pub fn baseline_age(&self, ack: u32) -> u32 {
        if ack == 0 || ack >= self.tick || self.history.get(ack).is_none() {
            0
        } else {
            self.tick - ack
        }
    }

    /// The frame header for a client: `player` is its seat (`None` for a spectator, whose
    /// `last_input` is 0).
    pub fn header_for(&self, player: Option<PlayerId>, baseline_age: u32) -> FrameHeader {
        FrameHeader {
            tick: self.tick,
            baseline_age,
            last_input: player
                .and_then(|id| self.player(id))
                .map_or(0, |p| p.last_applied_seq),
            phase: self.phase,
            phase_ticks_left: self.phase_ticks_left(),
        }
    }

    /// A player's record.
    pub fn player(&self, id: PlayerId) -> Option<&PlayerInfo> {
        self.index(id).map(|i| &self.players[i].info)
    }

    /// Every player's record, ascending id.
    pub fn players(&self) -> impl Iterator<Item = &PlayerInfo> {
        self.players.iter().map(|p| &p.info)
    }

    /// The results table: score descending, then deaths ascending, then id ascending.
    pub fn results(&self) -> Vec<PlayerResult> {
        let mut out: Vec<PlayerResult> = self
            .players
            .iter()
            .map(|p| PlayerResult {
                player_id: p.info.id,
                name: p.info.name.clone(),
                score: p.info.score,
                kills: p.info.kills,
                deaths: p.info.deaths,
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

    /// FNV-1a 64 over the tick, the phase and the current quantized snapshot: equal hashes at
    /// equal ticks mean identical replicated state (for replay checks).
    pub fn state_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.write(&self.tick.to_le_bytes());
        h.write(&[match self.phase {
            Phase::Waiting => 0,
            Phase::Running => 1,
            Phase::Ended => 2,
        }]);
        for e in self.snapshot() {
            h.write(&e.id.to_le_bytes());
            h.write(&[match e.kind {
                EntityKind::Player => 0,
                EntityKind::Projectile => 1,
            }]);
            h.write(&e.x.to_le_bytes());
            h.write(&e.y.to_le_bytes());
            h.write(&e.vx.to_le_bytes());
            h.write(&e.vy.to_le_bytes());
            h.write(&[e.aim, e.hp, e.flags]);
            h.write(&e.score.to_le_bytes());
            h.write(&e.owner.to_le_bytes());
            // Length first so that adjacent names cannot alias.
            h.write(&(e.name.len() as u64).to_le_bytes());
            h.write(e.name.as_bytes());
        }
        h.finish()
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
    fn move_players(&mut self) {
        let c = &self.config;
        let dt = self.dt;
        let r = c.player_radius;
        let damping = (1.0 - c.player_friction * dt).max(0.0);
        for p in &mut self.players {
            let input = if p.info.connected {
                let (input, fresh) = p.inputs.next();
                if fresh {
                    p.info.last_applied_seq = input.seq;
                }
                input
            } else {
                // Disconnected: drop whatever arrives anyway; stand still, keep facing, never
                // fire.
                p.inputs.disconnect();
                Input {
                    aim: p.aim,
                    ..Input::default()
                }
            };
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
                let Some(next) = self.next_entity.checked_add(1) else {
                    // Entity ids exhausted: no more shots rather than a reused id.
                    continue;
                };
                let dir = direction(input.aim);
                self.projectiles.push(Projectile {
                    id: self.next_entity,
                    owner_entity: p.info.entity_id,
                    owner: p.info.id,
                    pos: p.pos,
                    vel: dir * c.projectile_speed,
                    aim: input.aim,
                    ticks_left: self.lifetime_ticks,
                    spent: false,
                });
                self.next_entity = next;
                p.cooldown = self.cooldown_ticks;
            }
        }
    }

    /// Moves every projectile along its path for one tick; the earliest of a wall, the arena
    /// edge or a living non-owner player on the path stops it. Hits only hurt in Running.
    fn move_projectiles(&mut self, events: &mut Vec<GameEvent>) {
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
                    if !target.alive || target.info.entity_id == proj.owner_entity {
                        return;
                    }
                    if let Some(t) = segment_circle(p0, d, target.pos, reach) {
                        let better = hit.is_none_or(|(bt, bid, _)| {
                            t < bt || (t == bt && target.info.entity_id < bid)
                        });
                        if better {
                            hit = Some((t, target.info.entity_id, i));
                        }
                    }
                },
            );
            match hit {
                Some((t, _, victim)) if t_block.is_none_or(|b| t <= b) => {
                    let owner = proj.owner;
                    self.projectiles[k].spent = true;
                    self.hit(owner, victim, events);
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
    fn hit(&mut self, owner: PlayerId, victim: usize, events: &mut Vec<GameEvent>) {
        if self.phase != Phase::Running {
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
        v.info.deaths += 1;
        let (victim_id, victim_entity) = (v.info.id, v.info.entity_id);
        let mut killer_entity = 0;
        if let Some(k) = self.index(owner) {
            let killer = &mut self.players[k].info;
            killer.kills += 1;
            killer.score += 1;
            killer_entity = killer.entity_id;
        }
        events.push(GameEvent::Kill {
            killer: owner,
            victim: victim_id,
            killer_entity,
            victim_entity,
        });
    }

    /// Moves to Running once enough players are connected, and to Ended on the score or time
    /// limit.
    fn advance_phase(&mut self, report: &mut StepReport) {
        match self.phase {
            Phase::Waiting => {
                let connected = self.players.iter().filter(|p| p.info.connected).count();
                if connected >= usize::from(self.config.min_players) {
                    self.start_running();
                    report.events.push(GameEvent::PhaseChanged {
                        phase: Phase::Running,
                        ticks: self.phase_ticks_left(),
                    });
                }
            }
            Phase::Running => {
                let limit = self.config.score_limit;
                if limit > 0 && self.players.iter().any(|p| p.info.score >= limit) {
                    self.finish(EndReason::ScoreLimit, report);
                } else if self.tick >= self.running_end {
                    self.finish(EndReason::TimeLimit, report);
                }
            }
            Phase::Ended => {}
        }
    }

    /// Enters Running: fresh scores, and warm-up projectiles cleared so none scores.
    fn start_running(&mut self) {
        self.phase = Phase::Running;
        self.running_end = self.tick.saturating_add(self.config.match_ticks());
        for p in &mut self.players {
            p.info.score = 0;
            p.info.kills = 0;
            p.info.deaths = 0;
        }
        self.projectiles.clear();
    }

    /// Enters Ended by the match's own rules and reports it.
    fn finish(&mut self, reason: EndReason, report: &mut StepReport) {
        self.end(reason);
        report.ended = Some(reason);
        report.events.push(GameEvent::PhaseChanged {
            phase: Phase::Ended,
            ticks: 0,
        });
    }

    /// Quantizes the world into the snapshot of the current tick and files it in the history.
    fn record_snapshot(&mut self) {
        let dt = self.dt;
        let mut buf = self.history.take_buffer();
        let mut n = 0;
        let (mut i, mut j) = (0, 0);
        // Merge players and projectiles, both sorted by entity id.
        while i < self.players.len() || j < self.projectiles.len() {
            let take_player = match (self.players.get(i), self.projectiles.get(j)) {
                (Some(p), Some(q)) => p.info.entity_id < q.id,
                (Some(_), None) => true,
                _ => false,
            };
            if take_player {
                let p = &self.players[i];
                let mut flags = 0;
                if p.alive {
                    flags |= FLAG_ALIVE;
                }
                if p.info.connected {
                    flags |= FLAG_CONNECTED;
                }
                write_entity(
                    &mut buf,
                    n,
                    Fields {
                        id: p.info.entity_id,
                        kind: EntityKind::Player,
                        pos: p.pos,
                        // A dead player stays where it fell whatever its last velocity.
                        step: if p.alive { p.vel * dt } else { Vec2::ZERO },
                        aim: p.aim,
                        hp: p.hp,
                        score: p.info.score,
                        flags,
                        owner: 0,
                        name: &p.info.name,
                    },
                );
                i += 1;
            } else {
                let q = &self.projectiles[j];
                write_entity(
                    &mut buf,
                    n,
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
                        name: "",
                    },
                );
                j += 1;
            }
            n += 1;
        }
        buf.truncate(n);
        self.history.push(self.tick, buf);
        if self.config.view_radius > 0.0 {
            // Only areas of interest use it; without them, the step stays as cheap as before.
            self.interest.rebuild(self.history.newest());
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

    /// Teleports a player and sets its velocity (tests only).
    #[cfg(test)]
    pub(crate) fn place(&mut self, id: PlayerId, pos: Vec2, vel: Vec2) {
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

    /// Pending inputs of a player (tests only).
    #[cfg(test)]
    pub(crate) fn queued(&self, id: PlayerId) -> usize {
        self.index(id).map_or(0, |i| self.players[i].inputs.len())
    }

    /// Projectiles in flight (tests only).
    #[cfg(test)]
    pub(crate) fn projectile_count(&self) -> usize {
        self.projectiles.len()
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
    name: &'a str,
}

/// Writes entity `n` of a snapshot buffer, overwriting a recycled entry in place (its name
/// string keeps its allocation) or appending.
fn write_entity(buf: &mut Vec<EntityState>, n: usize, f: Fields<'_>) {
    let (x, y) = (quantize(f.pos.x), quantize(f.pos.y));
    let (vx, vy) = (quantize(f.step.x), quantize(f.step.y));
    if let Some(e) = buf.get_mut(n) {
        e.id = f.id;
        e.kind = f.kind;
        e.x = x;
        e.y = y;
        e.vx = vx;
        e.vy = vy;
        e.aim = f.aim;
        e.hp = f.hp;
        e.score = f.score;
        e.flags = f.flags;
        e.owner = f.owner;
        e.name.clear();
        e.name.push_str(f.name);
    } else {
        buf.push(EntityState {
            id: f.id,
            kind: f.kind,
            x,
            y,
            vx,
            vy,
            aim: f.aim,
            hp: f.hp,
            score: f.score,
            flags: f.flags,
            owner: f.owner,
            name: f.name.to_owned(),
        });
    }
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests;
