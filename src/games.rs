//! The games a server hosts, by name: what a game adds to the engine's [`Game`] so that the
//! server can create its matches and speak for it ([`HostedGame`]), and the registry of the
//! games one server runs ([`Games`]).
//!
//! A studio's binary registers its own game the way this one registers arena:
//! `Games::new().with::<MyGame>(hosting)`, then hands the registry to
//! [`crate::server::run`] (or [`crate::Server::with_games`]). Everything else (sessions, match
//! tasks, replays, results, `/schema.json`, the admin API) asks the registry and never names a
//! game.
//!
//! # Layout
//! - [`HostedGame`]: the trait a hosted game implements, beside [`Game`].
//! - [`Games`]: the registry, the first game registered being the default.
//! - [`arena`], [`soccer`]: the hosting of the two games this binary is built with.

pub mod arena;
pub mod soccer;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tickwire_proto::msg::{GameEvent, MapInfo, PlayerResult};
use tickwire_proto::schema::Schema;
use tickwire_sim::{Game, MatchConfig};

use crate::registry::MatchHandle;
use crate::replay::{HeaderInfo, RecordReader, ReplayError, ReplayOutcome};
use crate::state::{CreateError, ServerState, Spawn};

/// A game the server can host: the engine's [`Game`] plus how the server builds its matches
/// from the configuration and tells clients about them. Sans-IO like the game itself: the
/// server calls it, it never calls the server.
pub trait HostedGame:
    Game<
        Input: Send + 'static,
        Event: Clone + Send + 'static,
        Request: Send + 'static,
        Results: Serialize + Default,
    > + Send
    + Sized
    + 'static
{
    /// What the server was configured with for this game, shared by all its matches (arena:
    /// its rules and its maps by name). Built once, when the game is registered.
    type Hosting: Send + Sync + 'static;
    /// Everything beyond the engine's rules that builds one match (arena: its rules and the
    /// map), as a replay records it so that `tickwire replay --verify` rebuilds the match.
    type Setup: Clone + Serialize + DeserializeOwned + Send + 'static;

    /// The map (or pitch, or board) a match gets when none is named.
    fn default_map(hosting: &Self::Hosting) -> &str;

    /// Fits the engine's rules to the game before a match is set up (soccer: no more seats than
    /// two teams hold). The default leaves them as configured.
    fn adapt_rules(hosting: &Self::Hosting, rules: &mut MatchConfig) {
        let _ = (hosting, rules);
    }

    /// The setup of a match on `map` under the engine's `rules`: [`CreateError::UnknownMap`] for
    /// a map the game does not have, [`CreateError::Invalid`] when the rules do not fit it.
    fn setup(
        hosting: &Self::Hosting,
        rules: &MatchConfig,
        map: &str,
    ) -> Result<Self::Setup, CreateError>;

    /// The game of one match from its setup; `seed` drives every random choice. An `Err` says
    /// why the setup cannot build a match.
    fn create(rules: &MatchConfig, setup: &Self::Setup, seed: u64) -> Result<Self, String>;

    /// The wire form of one of the game's reliable events.
    fn wire_event(event: &Self::Event) -> GameEvent;

    /// What a joining client is told of the world (the Welcome's map).
    fn map_info(&self) -> MapInfo;

    /// The results table as the MatchEnded message carries it, best first. (`results.jsonl`
    /// stores the game's own [`Game::Results`] as JSON.)
    fn player_results(results: &Self::Results) -> Vec<PlayerResult>;

    /// The rules a client's prediction and HUD need, served at `/game.json`.
    fn client_rules(hosting: &Self::Hosting, rules: &MatchConfig) -> serde_json::Value;

    /// The game's own web page, served at `/<game>/` (`index.html`) and `/<game>/<path>`
    /// beside the shared client SDK at `/sdk/`; empty (the default): no page.
    fn web_files() -> &'static [WebFile] {
        &[]
    }
}

/// One file of a game's web page, embedded in the binary (usually with `include_bytes!`).
#[derive(Clone, Copy, Debug)]
pub struct WebFile {
    /// Path below the game's folder, without a leading `/` (`index.html`, `js/game.js`).
    pub path: &'static str,
    /// Its Content-Type header (`text/javascript; charset=utf-8`).
    pub content_type: &'static str,
    /// The file.
    pub body: &'static [u8],
}

/// One registered game as the server's game-agnostic parts use it: its match tasks and replay
/// verification are instantiated for the game here, once, at registration.
pub(crate) trait Hosted: Send + Sync {
    /// The game's name, from its schema.
    fn name(&self) -> &str;
    /// The game's replication schema.
    fn schema(&self) -> &Arc<Schema>;
    /// The default map's name.
    fn default_map(&self) -> &str;
    /// Fits the engine's rules to the game ([`HostedGame::adapt_rules`]).
    fn adapt_rules(&self, rules: &mut MatchConfig);
    /// Checks that a match on `map` under `rules` can be built, without building one.
    fn check(&self, rules: &MatchConfig, map: &str) -> Result<(), CreateError>;
    /// Builds and starts the match `spawn` describes.
    fn spawn(&self, state: &Arc<ServerState>, spawn: Spawn) -> Result<MatchHandle, CreateError>;
    /// Re-simulates a replay of this game whose header was read.
    fn verify(
        &self,
        header: HeaderInfo,
        records: RecordReader,
    ) -> Result<ReplayOutcome, ReplayError>;
    /// `/game.json`.
    fn client_rules(&self, rules: &MatchConfig) -> serde_json::Value;
    /// The game's page ([`HostedGame::web_files`]).
    fn web_files(&self) -> &'static [WebFile];
}

/// A game and its hosting, registered.
struct Registered<G: HostedGame> {
    hosting: G::Hosting,
    schema: Arc<Schema>,
}

impl<G: HostedGame> Hosted for Registered<G> {
    fn name(&self) -> &str {
        self.schema.name()
    }

    fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    fn default_map(&self) -> &str {
        G::default_map(&self.hosting)
    }

    fn adapt_rules(&self, rules: &mut MatchConfig) {
        G::adapt_rules(&self.hosting, rules);
    }

    fn check(&self, rules: &MatchConfig, map: &str) -> Result<(), CreateError> {
        let setup = G::setup(&self.hosting, rules, map)?;
        let game = G::create(rules, &setup, 0).map_err(CreateError::Invalid)?;
        tickwire_sim::Match::new(rules.clone(), game)
            .map(drop)
            .map_err(|e| CreateError::Invalid(e.to_string()))
    }

    fn spawn(&self, state: &Arc<ServerState>, spawn: Spawn) -> Result<MatchHandle, CreateError> {
        let setup = G::setup(&self.hosting, &spawn.rules, &spawn.map_name)?;
        state.spawn_match::<G>(self.schema.clone(), spawn, setup)
    }

    fn verify(
        &self,
        header: HeaderInfo,
        records: RecordReader,
    ) -> Result<ReplayOutcome, ReplayError> {
        crate::replay::verify_game::<G>(header, records)
    }

    fn client_rules(&self, rules: &MatchConfig) -> serde_json::Value {
        G::client_rules(&self.hosting, rules)
    }

    fn web_files(&self) -> &'static [WebFile] {
        G::web_files()
    }
}

/// Why a game could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum GamesError {
    /// Two games share a name (their schemas' names).
    #[error("a game named {0:?} is already registered")]
    Duplicate(String),
    /// The configuration names a default game that is not registered.
    #[error("default game {0:?} is not registered (this binary hosts {1})")]
    UnknownDefault(String, String),
}

/// The games one server hosts; the first registered is the default (a Hello or a created match
/// that names no game gets it) until [`Games::set_default`] picks another.
#[derive(Clone, Default)]
pub struct Games {
    /// Registration order; `entries[default]` is the default game.
    entries: Vec<Arc<dyn Hosted>>,
    default: usize,
}

impl std::fmt::Debug for Games {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|g| g.name()))
            .finish()
    }
}

impl Games {
    /// No games yet.
    pub fn new() -> Games {
        Games::default()
    }

    /// Registers `G` with its `hosting`.
    pub fn register<G: HostedGame>(&mut self, hosting: G::Hosting) -> Result<(), GamesError> {
        let schema = Arc::new(G::schema());
        if self.find(schema.name()).is_some() {
            return Err(GamesError::Duplicate(schema.name().to_owned()));
        }
        self.entries
            .push(Arc::new(Registered::<G> { hosting, schema }));
        Ok(())
    }

    /// Makes `name` the default game.
    pub fn set_default(&mut self, name: &str) -> Result<(), GamesError> {
        match self.entries.iter().position(|g| g.name() == name) {
            Some(i) => {
                self.default = i;
                Ok(())
            }
            None => Err(GamesError::UnknownDefault(name.to_owned(), self.names())),
        }
    }

    /// The registered names, comma-separated, default first (for messages).
    pub fn names(&self) -> String {
        let mut names: Vec<&str> = vec![];
        names.extend(self.default_entry().map(|g| g.name()));
        names.extend(
            self.entries
                .iter()
                .map(|g| g.name())
                .filter(|n| Some(*n) != self.default_entry().map(|g| g.name())),
        );
        names.join(", ")
    }

    /// The default game's name (`None` when nothing is registered).
    pub fn default_name(&self) -> Option<&str> {
        self.default_entry().map(|g| g.name())
    }

    /// The schema of the game `name`, or of the default game for `None`.
    pub fn schema(&self, name: Option<&str>) -> Option<&Arc<Schema>> {
        self.get(name).map(|g| g.schema())
    }

    /// Every registered game's name and schema, in registration order.
    pub fn schemas(&self) -> impl Iterator<Item = &Arc<Schema>> {
        self.entries.iter().map(|g| g.schema())
    }

    /// The file `path` (no leading `/`; empty for `index.html`) of the page of the game
    /// `name`, if the game is hosted and has it.
    pub fn web_file(&self, name: &str, path: &str) -> Option<&'static WebFile> {
        let path = if path.is_empty() { "index.html" } else { path };
        self.find(name)?.web_files().iter().find(|f| f.path == path)
    }

    /// Every registered game, in registration order.
    pub(crate) fn hosted(&self) -> impl Iterator<Item = &Arc<dyn Hosted>> {
        self.entries.iter()
    }

    /// The default game.
    fn default_entry(&self) -> Option<&Arc<dyn Hosted>> {
        self.entries.get(self.default)
    }

    fn find(&self, name: &str) -> Option<&Arc<dyn Hosted>> {
        self.entries.iter().find(|g| g.name() == name)
    }

    /// The game `name`, or the default game for `None`.
    pub(crate) fn get(&self, name: Option<&str>) -> Option<&Arc<dyn Hosted>> {
        match name {
            Some(name) => self.find(name),
            None => self.default_entry(),
        }
    }
}

/// The games this binary is built with, from `config`: arena (its `[arena]` section and maps),
/// and soccer (its `[soccer]` section); `server.default_game` is the default.
pub fn builtin(config: &crate::Config) -> Result<Games, crate::config::ConfigError> {
    let mut games = Games::new();
    arena::register(&mut games, config)?;
    soccer::register(&mut games, config)?;
    games
        .set_default(&config.server.default_game)
        .map_err(|e| crate::config::ConfigError::Invalid(format!("server.default_game: {e}")))?;
    Ok(games)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_game_is_the_default_and_names_are_unique() {
        let mut games = builtin(&crate::Config::default()).unwrap();
        assert_eq!(games.default_name(), Some("arena"));
        assert_eq!(
            games.schema(None).map(|s| s.hash()),
            Some(tickwire_arena::schema::schema_hash())
        );
        assert!(games.schema(Some("chess")).is_none());
        let config = crate::Config::default();
        assert!(matches!(
            games.register::<tickwire_arena::Arena>(
                arena::ArenaHosting::from_config(&config).unwrap()
            ),
            Err(GamesError::Duplicate(name)) if name == "arena"
        ));
        assert!(matches!(
            games.set_default("chess"),
            Err(GamesError::UnknownDefault(name, hosted)) if name == "chess" && hosted == "arena, soccer"
        ));
        // The configuration picks the default game.
        let mut config = crate::Config::default();
        config.server.default_game = "soccer".into();
        let games = builtin(&config).unwrap();
        assert_eq!(games.default_name(), Some("soccer"));
        assert_eq!(games.names(), "soccer, arena");
        config.server.default_game = "chess".into();
        let err = builtin(&config).unwrap_err().to_string();
        assert!(
            err.contains("server.default_game") && err.contains("\"chess\""),
            "{err}"
        );
    }
}
