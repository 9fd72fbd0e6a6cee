//! Tag, the minimal third game on the tickwire engine and the worked example of
//! `crates/tag/README.md` ("Write your own game"). Players run on a square board; one is "it";
//! "it" touching another player passes it on, and the new "it" may not tag back for a short
//! cooldown. A player scores one point per running tick it is not "it"; the engine's time
//! limit ends the match.
//!
//! # Layout
//! - this module: [`Tag`], the rules as a [`Game`]; its input, event, schema and results.
//! - [`bot`]: [`TagBot`], chase the nearest player when "it", else flee from "it".
//! - [`hosting`]: `HostedGame` for [`Tag`], so a tickwire server hosts it: its rules as a
//!   server configures them ([`TagConfig`]), its events' bytes and its web page.
//! - [`load`]: [`load::TagPolicy`], [`TagBot`] for the load tester (`tickwire_loadtest::run_with`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tickwire_proto::msg::{MAX_NAME_BYTES, Phase};
use tickwire_proto::schema::{Field, FieldKind, KindDecl, Schema, SchemaDecl};
use tickwire_sim::{Game, GameInput, MatchConfig, PlayerId, SnapshotWriter, SplitMix64, StepCtx};

pub mod bot;
pub mod hosting;
pub mod load;

pub use bot::{Seen, TagBot};
pub use hosting::TagConfig;

/// Tag's game name, and its schema's name.
pub const GAME_NAME: &str = "tag";
/// Kind code of a player, the schema's only kind.
pub const PLAYER: u16 = 0;
/// Wire units per world unit of a position.
pub const POS_SCALE: u32 = 8;
/// A player's radius, world units: two players touch within twice this.
pub const RADIUS: f32 = 12.0;
/// Running speed, world units per second.
pub const SPEED: f32 = 120.0;
/// How much faster "it" runs, so that a chase ends on an open board too.
const IT_BOOST: f32 = 1.25;
/// A diagonal step's share on each axis (1/√2): a diagonal step is as long as a straight one.
const DIAGONAL: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// The largest board side, world units: far inside what a quantized position can hold.
pub const MAX_BOARD: u32 = 1 << 20;

/// Why a tag match could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The board has no room for two players side by side, or positions would overflow the
    /// schema's 32-bit fields.
    #[error("board {0} must be more than {min} and at most {MAX_BOARD} units", min = 4.0 * RADIUS)]
    BadBoard(u32),
}

/// One player's input for one tick: which way to run along x and y, each negative (left, up),
/// 0 or positive (right, down); only the sign counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TagInput(pub [i8; 2]);

impl GameInput for TagInput {}

impl TagInput {
    /// The payload, two bytes: x then y.
    pub fn payload(self) -> [u8; 2] {
        self.0.map(|d| d as u8)
    }
}

/// Tag's reliable event: who tagged whom (its bytes are the hosting's, [`hosting`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// The player that was "it".
    pub from: PlayerId,
    /// The player that is "it" now.
    pub to: PlayerId,
}

/// One player's line of the results.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagScore {
    /// Player id.
    pub player_id: PlayerId,
    /// Display name.
    pub name: String,
    /// Running ticks spent not being "it": the score.
    pub free_ticks: u32,
    /// Tags made (running or not).
    pub tags: u32,
}

/// Tag's results table: every seated player, most free ticks first (then lowest id).
pub type TagResults = Vec<TagScore>;

/// Tag's replication schema: one kind, `player`, with `x`, `y`, `vx`, `vy` (1/8 world units,
/// and per tick) in group `MOVE`, `it` (enum: 0 no, 1 yes) in `IT`, and `name` (sent once).
pub fn tag_schema() -> Schema {
    let pos = FieldKind::Pos { scale: POS_SCALE };
    let vel = |of: &str| FieldKind::Vel {
        of: of.into(),
        create_order: 4,
    };
    let max_bytes = MAX_NAME_BYTES as u32;
    let name = FieldKind::Str { max_bytes };
    let fields = vec![
        Field::new("x", pos.clone(), "MOVE"),
        Field::new("y", pos, "MOVE"),
        Field::new("vx", vel("x"), "MOVE"),
        Field::new("vy", vel("y"), "MOVE"),
        Field::new("it", FieldKind::Enum { values: 2 }, "IT"),
        Field::identity("name", name),
    ];
    let name = "player".into();
    let decl = SchemaDecl {
        name: GAME_NAME.into(),
        groups: vec!["MOVE".into(), "IT".into()],
        short_masks: vec![vec!["MOVE".into()]],
        kinds: vec![KindDecl { name, fields }],
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
    /// This tick's displacement, world units: the replicated velocity.
    step: [f32; 2],
}

/// The game of tag: its rules and its world, run by the engine.
#[derive(Clone, Debug)]
pub struct Tag {
    /// Side of the board, world units.
    board: f32,
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
    pub fn new(rules: &MatchConfig, config: &TagConfig, seed: u64) -> Result<Tag, TagError> {
        if config.board as f32 <= 4.0 * RADIUS || config.board > MAX_BOARD {
            return Err(TagError::BadBoard(config.board));
        }
        Ok(Tag {
            board: config.board as f32,
            step: SPEED * rules.dt(),
            cooldown_ticks: rules.ticks(config.cooldown_ms),
            rng: SplitMix64::new(seed),
            players: Vec::new(),
            it: None,
            cooldown: 0,
        })
    }
}

impl Game for Tag {
    type Input = TagInput;
    type Event = Tagged;
    type Results = TagResults;
    type Request = tickwire_sim::request::NoRequest;

    fn schema() -> Schema {
        tag_schema()
    }

    fn world(&self) -> tickwire_sim::WorldBounds {
        let side = self.board as u32;
        tickwire_sim::WorldBounds {
            width: side,
            height: side,
            cell_size: side / 4,
        }
    }

    /// Places the player at a seeded spot; the first player on an empty board is "it".
    fn join(&mut self, player: PlayerId, entity: u32, name: &str) {
        let room = (self.board - 2.0 * RADIUS) as usize;
        let pos = [0; 2].map(|_| RADIUS + self.rng.below(room) as f32);
        let (name, strings) = (name.to_owned(), Arc::from([name.to_owned()]));
        let score = TagScore {
            player_id: player,
            name,
            ..TagScore::default()
        };
        let step = [0.0; 2];
        self.players.push(Player {
            score,
            entity,
            strings,
            pos,
            step,
        });
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

    /// Exactly two bytes; anything else is not tag's input (the server closes its sender).
    fn decode_input(payload: &[u8]) -> Option<TagInput> {
        let &[dx, dy] = payload else { return None };
        Some(TagInput([dx as i8, dy as i8]))
    }

    /// Everyone runs (a disconnected player stands) and those not "it" score; then "it", off
    /// its cooldown, tags the first (lowest id) player it touches.
    fn step(&mut self, ctx: &mut StepCtx<'_, Tag>) {
        let running = ctx.phase() == Phase::Running;
        // `new` keeps the board wider than two players, so this range is never empty.
        let (lo, hi) = (RADIUS, self.board - RADIUS);
        for p in &mut self.players {
            let input = ctx.input(p.score.player_id).unwrap_or_default();
            let is_it = self.it == Some(p.score.player_id);
            let dir = input.0.map(|d| f32::from(d.signum()));
            let boost = if is_it { IT_BOOST } else { 1.0 };
            let diagonal = if dir.contains(&0.0) { 1.0 } else { DIAGONAL };
            let step = self.step * boost * diagonal;
            let to = [0, 1].map(|a| (p.pos[a] + dir[a] * step).clamp(lo, hi));
            p.step = [to[0] - p.pos[0], to[1] - p.pos[1]];
            p.pos = to;
            p.score.free_ticks += u32::from(running && !is_it);
        }
        self.cooldown = self.cooldown.saturating_sub(1);
        let it = self
            .players
            .iter()
            .position(|p| Some(p.score.player_id) == self.it);
        let Some(i) = it else { return };
        let at = self.players[i].pos;
        // Squared distances: IEEE `+` and `*` only (no libm), so every platform agrees.
        let gap = |p: &Player, a: usize| (p.pos[a] - at[a]) * (p.pos[a] - at[a]);
        let touches = |p: &Player| gap(p, 0) + gap(p, 1) <= (2.0 * RADIUS) * (2.0 * RADIUS);
        let victim = (0..self.players.len()).find(|&j| j != i && touches(&self.players[j]));
        if let (Some(j), 0) = (victim, self.cooldown) {
            self.players[i].score.tags += 1;
            let (from, to) = (self.it.unwrap_or_default(), self.players[j].score.player_id);
            ctx.emit(Tagged { from, to });
            (self.it, self.cooldown) = (Some(to), self.cooldown_ticks);
        }
    }

    /// The warm-up's scores do not count.
    fn start(&mut self) {
        let reset = |p: &mut Player| (p.score.free_ticks, p.score.tags) = (0, 0);
        self.players.iter_mut().for_each(reset);
    }

    fn snapshot(&self, out: &mut SnapshotWriter<'_>) {
        let q = |v: f32| (v * POS_SCALE as f32).round() as i64;
        for p in &self.players {
            let it = i64::from(self.it == Some(p.score.player_id));
            let values = [q(p.pos[0]), q(p.pos[1]), q(p.step[0]), q(p.step[1]), it];
            out.push(p.entity, PLAYER, &values, &p.strings);
        }
    }

    fn results(&self) -> TagResults {
        let mut players: TagResults = self.players.iter().map(|p| p.score.clone()).collect();
        players.sort_by_key(|p| (std::cmp::Reverse(p.free_ticks), p.player_id));
        players
    }
}

#[cfg(test)]
mod tests;
