//! Arena hosted on the server: its maps by name (the configured or embedded arena, the open
//! arena, and the big map sized per match), its rules from `[arena]`, and its wire forms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tickwire_arena::{Arena, ArenaConfig, MapDef};
use tickwire_proto::msg::{GameEvent, MapInfo, PlayerResult};
use tickwire_sim::MatchConfig;

use super::{Games, GamesError, HostedGame};
use crate::config::{Config, ConfigError};
use crate::state::CreateError;

/// Name of the default map (the configured or embedded arena).
pub const DEFAULT_MAP: &str = "arena";
/// Name of the wall-less 1000 x 1000 map used by the open-arena load scenario.
pub const OPEN_ARENA_MAP: &str = tickwire_arena::map::OPEN_ARENA_NAME;
/// Name of the wall-less map built for the match's seats, so that each player has about
/// [`BIG_MAP_VISIBLE`] others within the view radius (150 units when interest is off): the
/// big-map load scenario.
pub const BIG_MAP: &str = tickwire_arena::map::BIG_ARENA_NAME;
/// Players each player should have within view on [`BIG_MAP`].
pub const BIG_MAP_VISIBLE: u32 = 50;
/// View radius a [`BIG_MAP`] is sized for when interest management is off, world units.
pub const BIG_MAP_DEFAULT_RADIUS: f32 = 150.0;

/// Arena as this server was configured to host it.
#[derive(Clone, Debug)]
pub struct ArenaHosting {
    /// Arena's own rules (`[arena]`).
    pub config: ArenaConfig,
    /// Maps matches can be created on, by name ([`BIG_MAP`] is built per match instead).
    pub maps: BTreeMap<String, MapDef>,
}

impl ArenaHosting {
    /// Arena's rules and maps from the server's configuration: `[arena]`, the map file of
    /// `server.map` (or the embedded arena) and the open arena.
    pub fn from_config(config: &Config) -> Result<ArenaHosting, ConfigError> {
        let mut maps = BTreeMap::new();
        maps.insert(DEFAULT_MAP.to_owned(), config.load_map()?);
        maps.insert(OPEN_ARENA_MAP.to_owned(), MapDef::open_arena(1000, 1000));
        Ok(ArenaHosting {
            config: config.arena.clone(),
            maps,
        })
    }
}

/// What builds one arena match beyond the engine's rules, as its replay records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArenaSetup {
    /// Arena's rules.
    pub arena: ArenaConfig,
    /// The map.
    pub map: MapDef,
}

impl HostedGame for Arena {
    type Hosting = ArenaHosting;
    type Setup = ArenaSetup;

    fn default_map(_: &ArenaHosting) -> &str {
        DEFAULT_MAP
    }

    fn setup(
        hosting: &ArenaHosting,
        rules: &MatchConfig,
        map: &str,
    ) -> Result<ArenaSetup, CreateError> {
        let map = if map == BIG_MAP {
            let radius = if rules.view_radius > 0.0 {
                rules.view_radius
            } else {
                BIG_MAP_DEFAULT_RADIUS
            };
            MapDef::big_arena(u32::from(rules.max_players), BIG_MAP_VISIBLE, radius)
        } else {
            hosting
                .maps
                .get(map)
                .ok_or_else(|| CreateError::UnknownMap(map.to_owned()))?
                .clone()
        };
        Ok(ArenaSetup {
            arena: hosting.config.clone(),
            map,
        })
    }

    fn create(rules: &MatchConfig, setup: &ArenaSetup, seed: u64) -> Result<Arena, String> {
        Arena::new(rules, setup.arena.clone(), setup.map.clone(), seed).map_err(|e| e.to_string())
    }

    fn wire_event(event: &GameEvent) -> GameEvent {
        event.clone()
    }

    fn map_info(&self) -> MapInfo {
        self.map().info()
    }

    fn player_results(results: &Vec<PlayerResult>) -> Vec<PlayerResult> {
        results.clone()
    }

    fn client_rules(hosting: &ArenaHosting, game: &MatchConfig) -> serde_json::Value {
        let arena = &hosting.config;
        serde_json::json!({
            "tick_rate": game.tick_rate,
            "player_radius": arena.player_radius,
            "player_accel": arena.player_accel,
            "player_friction": arena.player_friction,
            "player_max_speed": arena.player_max_speed,
            "projectile_speed": arena.projectile_speed,
            "projectile_radius": arena.projectile_radius,
            "player_max_hp": arena.player_max_hp,
            "max_players": game.max_players,
            "min_players": game.min_players,
            "score_limit": arena.score_limit,
            "match_duration_secs": game.match_duration_secs,
        })
    }
}

/// Registers arena with its hosting from `config`.
pub fn register(games: &mut Games, config: &Config) -> Result<(), ConfigError> {
    let hosting = ArenaHosting::from_config(config)?;
    games
        .register::<Arena>(hosting)
        .map_err(|e: GamesError| ConfigError::Invalid(e.to_string()))
}
