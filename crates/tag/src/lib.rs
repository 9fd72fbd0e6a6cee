//! Tag, the minimal third game on the tickwire engine and the worked example of
//! `crates/tag/README.md` ("Write your own game"). Players run on a square board; one is "it";
//! "it" touching another player passes it on, and the new "it" may not tag back for a short
//! cooldown. A player scores one point per running tick it is not "it"; the engine's time
//! limit ends the match.
//!
//! # Layout
//! - this module: [`Tag`], the rules as a [`Game`]; its config, input, event, schema and results.
//! - [`bot`]: [`TagBot`], chase the nearest player when "it", else flee from "it".
//! - [`hosting`]: `HostedGame` for [`Tag`], so a tickwire server hosts it, with its web page.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tickwire_proto::msg::MAX_NAME_BYTES;
use tickwire_proto::schema::{Field, FieldKind, KindDecl, Schema, SchemaDecl};
use tickwire_sim::request::NoRequest;
use tickwire_sim::{Game, GameInput, MatchConfig, PlayerId, SnapshotWriter, SplitMix64, StepCtx};

pub mod bot;
pub mod hosting;

pub use bot::{Seen, TagBot};

/// Tag's game name, and its schema's name.
pub const GAME_NAME: &str = "tag";
/// Kind code of a player, the schema's only kind.
pub const PLAYER: u16 = 0;
/// Wire units per world unit of a position.
pub const POS_SCALE: f32 = 8.0;
/// Bytes of an input's payload: `dx`, `dy` (i8 each; only the sign counts).
pub const INPUT_BYTES: usize = 2;
/// How much faster "it" runs, so that a chase ends on an open board too.
const IT_BOOST: f32 = 1.25;
/// A diagonal step's share on each axis (1/√2), so that diagonals are not faster.
const DIAGONAL: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Tag's own rules; a hosting serves them at `/game.json?game=tag`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagConfig {
    /// Side of the square board, world units.
    pub board: u32,
    /// Running speed, world units per second ("it" runs a quarter faster).
    pub speed: f32,
    /// A player's radius, world units: two players touch within twice this.
    pub radius: f32,
    /// After a tag, how long the new "it" cannot tag, milliseconds (no tag-backs).
    pub cooldown_ms: u32,
}

impl Default for TagConfig {
    fn default() -> Self {
        TagConfig { board: 400, speed: 120.0, radius: 12.0, cooldown_ms: 1000 }
    }
}

/// Why a tag match could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TagError {
    /// The board has no room for two players side by side.
    #[error("board {board} is too small for players of radius {radius}")]
    BoardTooSmall {
        /// `board`, world units.
        board: u32,
        /// `radius`, world units.
        radius: f32,
    },
    /// The speed is not a positive number.
    #[error("speed {0} must be positive")]
    BadSpeed(f32),
}

/// One player's input for one tick: which way to run (the sign of each axis).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TagInput {
    /// Left (negative), still (0) or right (positive).
    pub dx: i8,
    /// Up (negative), still (0) or down (positive).
    pub dy: i8,
}

impl GameInput for TagInput {}

impl TagInput {
    /// The payload: `dx`, `dy`.
    pub fn payload(self) -> [u8; INPUT_BYTES] {
        [self.dx as u8, self.dy as u8]
    }
}

/// Tag's reliable event: who tagged whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// The player that was "it".
    pub from: PlayerId,
    /// The player that is "it" now.
    pub to: PlayerId,
}

impl Tagged {
    /// Its bytes on the wire: `from`, `to`, u32 little-endian each.
    pub fn to_bytes(self) -> Vec<u8> {
        [self.from.to_le_bytes(), self.to.to_le_bytes()].concat()
    }

    /// Decodes [`Tagged::to_bytes`]; `None` for anything but 8 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Tagged> {
        let &[f0, f1, f2, f3, t0, t1, t2, t3] = b else { return None };
        let (from, to) = (u32::from_le_bytes([f0, f1, f2, f3]), u32::from_le_bytes([t0, t1, t2, t3]));
        Some(Tagged { from, to })
    }
}

/// One player's line of the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagScore {
    /// Player id.
    pub player_id: PlayerId,
    /// Display name.
    pub name: String,
    /// Running ticks spent not being "it": the score.
    pub free_ticks: u32,
    /// Tags made.
    pub tags: u32,
    /// Times tagged.
    pub tagged: u32,
}

/// Tag's results table, best first (most free ticks, then lowest id).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagResults {
    /// Every seated player's line.
    pub players: Vec<TagScore>,
}

/// Tag's replication schema: one kind, `player`, with `x`, `y`, `vx`, `vy` (1/8 world units
/// and per tick) in group `MOVE`, `it` (enum: 0 no, 1 yes) in `IT`, and `name` (sent once).
pub fn tag_schema() -> Schema {
    let pos = FieldKind::Pos { scale: POS_SCALE as u32 };
    let vel = |of: &str| FieldKind::Vel { of: of.into(), create_order: 4 };
    let name = FieldKind::Str { max_bytes: MAX_NAME_BYTES as u32 };
    let fields = vec![
        Field::new("x", pos.clone(), "MOVE"),
        Field::new("y", pos, "MOVE"),
        Field::new("vx", vel("x"), "MOVE"),
        Field::new("vy", vel("y"), "MOVE"),
        Field::new("it", FieldKind::Enum { values: 2 }, "IT"),
        Field::identity("name", name),
    ];
    let decl = SchemaDecl {
        name: GAME_NAME.into(),
        groups: vec!["MOVE".into(), "IT".into()],
        short_masks: vec![vec!["MOVE".into()]],
        kinds: vec![KindDecl { name: "player".into(), fields }],
    };
    Schema::new(decl).expect("tag's schema is valid")
}

/// A seated player.
#[derive(Clone, Debug)]
struct Player {
    score: TagScore,
    entity: u32,
    /// Its name as every snapshot shares it (a reference count, not a copy, per tick).
    strings: Arc<[String]>,
    pos: [f32; 2],
    /// This tick's displacement, world units.
    step: [f32; 2],
}

/// The game of tag: its rules and its world, run by the engine.
#[derive(Clone, Debug)]
pub struct Tag {
    config: TagConfig,
    /// Distance a player runs per tick, world units.
    step: f32,
    cooldown_ticks: u32,
    /// Where players appear.
    rng: SplitMix64,
    /// By ascending id, which is ascending entity id too: snapshots need no sort.
    players: Vec<Player>,
    /// Who is "it" (`None` only on an empty board).
    it: Option<PlayerId>,
    /// Ticks until "it" may tag.
    cooldown: u32,
}

impl Tag {
    /// The game under `config` at the tick rate of the engine's `rules`; `seed` places players.
    pub fn new(rules: &MatchConfig, config: TagConfig, seed: u64) -> Result<Tag, TagError> {
        if config.radius.is_nan() || config.board as f32 <= 4.0 * config.radius {
            return Err(TagError::BoardTooSmall { board: config.board, radius: config.radius });
        }
        if config.speed.is_nan() || config.speed <= 0.0 {
            return Err(TagError::BadSpeed(config.speed));
        }
        Ok(Tag {
            step: config.speed * rules.dt(),
            cooldown_ticks: rules.ticks(config.cooldown_ms),
            rng: SplitMix64::new(seed),
            players: Vec::new(),
            it: None,
            cooldown: 0,
            config,
        })
    }

    /// Tag's rules.
    pub fn config(&self) -> &TagConfig {
        &self.config
    }

    /// Who is "it".
    pub fn it(&self) -> Option<PlayerId> {
        self.it
    }

    /// Makes `to` "it"; the cooldown stops it tagging straight back.
    fn pass_it(&mut self, ctx: &mut StepCtx<'_, Tag>, from: usize, to: usize) {
        self.players[from].score.tags += 1;
        self.players[to].score.tagged += 1;
        let (from, to) = (self.players[from].score.player_id, self.players[to].score.player_id);
        self.it = Some(to);
        self.cooldown = self.cooldown_ticks;
        ctx.emit(Tagged { from, to });
    }
}

/// `v` kept in `lo..=hi` (`f32::clamp` would panic on a bad range; `new` rules that out anyway).
fn clamp(v: f32, lo: f32, hi: f32) -> f32 {
    v.max(lo).min(hi)
}

impl Game for Tag {
    type Input = TagInput;
    type Event = Tagged;
    type Results = TagResults;
    type Request = NoRequest;

    fn schema() -> Schema {
        tag_schema()
    }

    fn world(&self) -> tickwire_sim::WorldBounds {
        let side = self.config.board;
        tickwire_sim::WorldBounds { width: side, height: side, cell_size: (side / 4).max(1) }
    }

    /// Places the player at a seeded spot; the first player on an empty board is "it".
    fn join(&mut self, player: PlayerId, entity: u32, name: &str) {
        let room = (self.config.board as f32 - 2.0 * self.config.radius).max(1.0) as usize;
        let mut at = || self.config.radius + self.rng.below(room) as f32;
        let pos = [at(), at()];
        let score = TagScore { player_id: player, name: name.to_owned(), free_ticks: 0, tags: 0, tagged: 0 };
        let strings = Arc::from([name.to_owned()]);
        self.players.push(Player { score, entity, strings, pos, step: [0.0; 2] });
        self.it = self.it.or(Some(player));
    }

    /// Removes the player; if it was "it", the lowest id left is "it" now.
    fn leave(&mut self, player: PlayerId) {
        self.players.retain(|p| p.score.player_id != player);
        if self.it == Some(player) {
            self.it = self.players.first().map(|p| p.score.player_id);
            self.cooldown = self.cooldown_ticks;
        }
    }

    /// Exactly [`INPUT_BYTES`] bytes; anything else is not tag's input.
    fn decode_input(payload: &[u8]) -> Option<TagInput> {
        let &[dx, dy] = payload else { return None };
        Some(TagInput { dx: dx as i8, dy: dy as i8 })
    }

    /// Everyone runs (a disconnected player stands), then "it" tags the nearest player it
    /// touches, and the players not "it" score.
    fn step(&mut self, ctx: &mut StepCtx<'_, Tag>) {
        let (lo, hi) = (self.config.radius, self.config.board as f32 - self.config.radius);
        for p in &mut self.players {
            let input = ctx.input(p.score.player_id).unwrap_or_default();
            let (dx, dy) = (f32::from(input.dx.signum()), f32::from(input.dy.signum()));
            let mut step = if self.it == Some(p.score.player_id) { self.step * IT_BOOST } else { self.step };
            if dx != 0.0 && dy != 0.0 {
                step *= DIAGONAL;
            }
            let to = [clamp(p.pos[0] + dx * step, lo, hi), clamp(p.pos[1] + dy * step, lo, hi)];
            p.step = [to[0] - p.pos[0], to[1] - p.pos[1]];
            p.pos = to;
        }
        self.cooldown = self.cooldown.saturating_sub(1);
        let it = self.players.iter().position(|p| Some(p.score.player_id) == self.it);
        if let (Some(i), 0) = (it, self.cooldown) {
            let reach = 2.0 * self.config.radius;
            let at = self.players[i].pos;
            let dist = |p: &Player| (p.pos[0] - at[0]).hypot(p.pos[1] - at[1]);
            // The nearest touching player; the first (lowest id) on a tie, for determinism.
            let victim = (0..self.players.len())
                .filter(|&j| j != i && dist(&self.players[j]) <= reach)
                .min_by(|&a, &b| dist(&self.players[a]).total_cmp(&dist(&self.players[b])));
            if let Some(j) = victim {
                self.pass_it(ctx, i, j);
            }
        }
        if ctx.phase() == tickwire_proto::msg::Phase::Running {
            for p in self.players.iter_mut().filter(|p| Some(p.score.player_id) != self.it) {
                p.score.free_ticks += 1;
            }
        }
    }

    /// The warm-up's scores do not count.
    fn start(&mut self) {
        for p in &mut self.players {
            p.score = TagScore { free_ticks: 0, tags: 0, tagged: 0, ..p.score.clone() };
        }
    }

    fn snapshot(&self, out: &mut SnapshotWriter<'_>) {
        let q = |v: f32| (v * POS_SCALE).round() as i64;
        for p in &self.players {
            let it = i64::from(self.it == Some(p.score.player_id));
            let values = [q(p.pos[0]), q(p.pos[1]), q(p.step[0]), q(p.step[1]), it];
            out.push(p.entity, PLAYER, &values, &p.strings);
        }
    }

    fn results(&self) -> TagResults {
        let mut players: Vec<TagScore> = self.players.iter().map(|p| p.score.clone()).collect();
        players.sort_by(|a, b| b.free_ticks.cmp(&a.free_ticks).then(a.player_id.cmp(&b.player_id)));
        TagResults { players }
    }
}

#[cfg(test)]
mod tests;
