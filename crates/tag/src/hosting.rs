//! Tag hosted on a tickwire server ([`HostedGame`]): one board, its rules from the hosting
//! value (tickwire's configuration file has no section for a studio's game, so the binary
//! builds a [`TagConfig`] itself), [`Tagged`] events as opaque game events (their bytes are
//! defined here), and its page.

use serde::{Deserialize, Serialize};
use tickwire::WebFile;
use tickwire::games::HostedGame;
use tickwire::state::CreateError;
use tickwire_proto::msg::{GameEvent, MapInfo, PlayerResult};
use tickwire_sim::{Game, MatchConfig};

use crate::{Tag, TagResults, Tagged};

/// Tag's own rules: the hosting and setup value (a replay records it), served at
/// `/game.json?game=tag`. The server refuses to start when they cannot build a match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagConfig {
    /// Side of the square board, world units.
    pub board: u32,
    /// After a tag, how long the new "it" cannot tag, milliseconds (no tag-backs).
    pub cooldown_ms: u32,
}

impl Default for TagConfig {
    fn default() -> Self {
        TagConfig {
            board: 400,
            cooldown_ms: 1000,
        }
    }
}

/// Name of tag's one board.
pub const BOARD: &str = "board";

/// The page served at `/tag/`: an HTML shell, its style sheet and one module on the SDK (the
/// server's CSP allows only same-origin script files, so nothing is inline).
static WEB: &[WebFile] = &[
    WebFile {
        path: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../web/index.html"),
    },
    WebFile {
        path: "tag.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../web/tag.css"),
    },
    WebFile {
        path: "tag.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/tag.js"),
    },
];

impl Tagged {
    /// Its bytes in a `GameEvent::Game`: `from`, `to`, u32 little-endian each.
    pub fn to_bytes(self) -> Vec<u8> {
        [self.from.to_le_bytes(), self.to.to_le_bytes()].concat()
    }

    /// Decodes [`Tagged::to_bytes`]; `None` for anything but 8 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Tagged> {
        let b: [u8; 8] = bytes.try_into().ok()?;
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (from, to) = (word(0), word(4));
        Some(Tagged { from, to })
    }
}

impl HostedGame for Tag {
    type Hosting = TagConfig;
    type Setup = TagConfig;

    fn default_map(_: &TagConfig) -> &str {
        BOARD
    }

    fn setup(hosting: &TagConfig, _: &MatchConfig, map: &str) -> Result<TagConfig, CreateError> {
        match map {
            BOARD => Ok(hosting.clone()),
            _ => Err(CreateError::UnknownMap(map.to_owned())),
        }
    }

    fn create(rules: &MatchConfig, setup: &TagConfig, seed: u64) -> Result<Tag, String> {
        Tag::new(rules, setup, seed).map_err(|e| e.to_string())
    }

    fn wire_event(event: &Tagged) -> GameEvent {
        GameEvent::Game {
            payload: event.to_bytes(),
        }
    }

    fn map_info(&self) -> MapInfo {
        let side = self.world().width;
        MapInfo {
            name: BOARD.to_owned(),
            width: side,
            height: side,
            walls: Vec::new(),
        }
    }

    /// Free ticks as the score, tags made as kills (tag counts no deaths). The table is
    /// already best first ([`Game::results`]).
    fn player_results(results: &TagResults) -> Vec<PlayerResult> {
        let line = |p: &crate::TagScore| PlayerResult {
            player_id: p.player_id,
            name: p.name.clone(),
            score: p.free_ticks,
            kills: p.tags,
            deaths: 0,
        };
        results.iter().map(line).collect()
    }

    fn client_rules(hosting: &TagConfig, rules: &MatchConfig) -> serde_json::Value {
        let mut doc = serde_json::to_value(hosting).unwrap_or_default();
        doc["radius"] = crate::RADIUS.into();
        doc["speed"] = crate::SPEED.into();
        doc["tick_rate"] = rules.tick_rate.into();
        doc["match_duration_secs"] = rules.match_duration_secs.into();
        doc
    }

    fn web_files() -> &'static [WebFile] {
        WEB
    }
}
