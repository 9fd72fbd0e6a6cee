//! Soccer hosted on the server: one pitch from `[soccer]`, two teams of at most
//! `soccer.team_size`, its events as opaque game events and its table in `results.jsonl`.

use tickwire_proto::msg::{GameEvent, MapInfo, PlayerResult};
use tickwire_sim::MatchConfig;
use tickwire_soccer::{Soccer, SoccerConfig, SoccerEvent, SoccerResults};

use super::{Games, HostedGame, WebFile};
use crate::config::{Config, ConfigError};
use crate::state::CreateError;
use crate::web::{CSS, HTML, JS};

/// Name of soccer's one pitch, its size from `[soccer]`.
pub const PITCH: &str = "pitch";

impl HostedGame for Soccer {
    type Hosting = SoccerConfig;
    type Setup = SoccerConfig;

    fn default_map(_: &SoccerConfig) -> &str {
        PITCH
    }

    /// Two teams hold at most twice the team size: the server's seat count is cut to it (and
    /// the players needed to start with it).
    fn adapt_rules(hosting: &SoccerConfig, rules: &mut MatchConfig) {
        let seats = 2 * u16::from(hosting.team_size);
        rules.max_players = rules.max_players.min(seats);
        rules.min_players = rules.min_players.min(rules.max_players);
    }

    fn setup(
        hosting: &SoccerConfig,
        _: &MatchConfig,
        map: &str,
    ) -> Result<SoccerConfig, CreateError> {
        if map != PITCH {
            return Err(CreateError::UnknownMap(map.to_owned()));
        }
        Ok(hosting.clone())
    }

    fn create(rules: &MatchConfig, setup: &SoccerConfig, seed: u64) -> Result<Soccer, String> {
        Soccer::new(rules, setup.clone(), seed).map_err(|e| e.to_string())
    }

    fn wire_event(event: &SoccerEvent) -> GameEvent {
        GameEvent::Game {
            payload: event.to_bytes(),
        }
    }

    fn map_info(&self) -> MapInfo {
        let pitch = self.pitch();
        MapInfo {
            name: PITCH.to_owned(),
            width: pitch.width as u32,
            height: pitch.height as u32,
            // The pitch's edges are its walls; the goals are openings in them, which
            // `/game.json?game=soccer` describes.
            walls: Vec::new(),
        }
    }

    /// Each player's goals as the score; soccer has no kills or deaths (its whole table, teams
    /// and kicks included, is in `results.jsonl`).
    fn player_results(results: &SoccerResults) -> Vec<PlayerResult> {
        results
            .players
            .iter()
            .map(|p| PlayerResult {
                player_id: p.player_id,
                name: p.name.clone(),
                score: p.goals,
                kills: 0,
                deaths: 0,
            })
            .collect()
    }

    fn client_rules(hosting: &SoccerConfig, rules: &MatchConfig) -> serde_json::Value {
        let mut rules = rules.clone();
        Self::adapt_rules(hosting, &mut rules);
        let mut doc = serde_json::to_value(hosting).unwrap_or_default();
        doc["tick_rate"] = rules.tick_rate.into();
        doc["max_players"] = rules.max_players.into();
        doc["min_players"] = rules.min_players.into();
        doc["match_duration_secs"] = rules.match_duration_secs.into();
        doc
    }

    fn web_files() -> &'static [WebFile] {
        PAGE
    }
}

/// A file of soccer's page, `assets/web/soccer/<path>`, embedded.
macro_rules! page_file {
    ($path:literal, $ct:expr) => {
        WebFile {
            path: $path,
            content_type: $ct,
            body: include_bytes!(concat!("../../assets/web/soccer/", $path)),
        }
    };
}

/// Soccer's page (`/soccer/`): its game layer on the shared SDK (`/sdk/`), the shared
/// `style.css` and arena's page chrome (`/js/hud.js`), all served from the root.
static PAGE: &[WebFile] = &[
    page_file!("index.html", HTML),
    page_file!("soccer.css", CSS),
    page_file!("soccer.js", JS),
    page_file!("game.js", JS),
    page_file!("controls.js", JS),
    page_file!("pitch.js", JS),
];

/// Registers soccer with its `[soccer]` section from `config`.
pub fn register(games: &mut Games, config: &Config) -> Result<(), ConfigError> {
    config
        .soccer
        .validate()
        .map_err(|e| ConfigError::Invalid(format!("soccer: {e}")))?;
    games
        .register::<Soccer>(config.soccer.clone())
        .map_err(|e| ConfigError::Invalid(e.to_string()))
}
