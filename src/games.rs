//! The game this server hosts, and the facts about it that the other modules ask for: its name,
//! its declared replication schema and that schema's hash. Written once here, so hosting
//! another game (or, next, several by name) changes this module and not every caller.

use std::sync::LazyLock;

use tickwire_proto::schema::Schema;
use tickwire_sim::Game;

/// The game every match of this server runs.
pub type HostedGame = tickwire_arena::Arena;

/// The hosted game's schema, built once.
static SCHEMA: LazyLock<Schema> = LazyLock::new(<HostedGame as Game>::schema);

/// The hosted game's schema: what State frames follow and `/schema.json` serves.
pub fn schema() -> &'static Schema {
    &SCHEMA
}

/// The hosted game's name, as Hello, Welcome, `/matches`, results and replays carry it.
pub fn name() -> &'static str {
    SCHEMA.name()
}

/// The hash of the hosted game's schema, which a client's Hello must match.
pub fn schema_hash() -> u32 {
    SCHEMA.hash()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosted_game_is_arena_with_its_schema() {
        assert_eq!(name(), tickwire_proto::schema::arena::GAME_NAME);
        assert_eq!(schema_hash(), tickwire_proto::schema::arena::schema_hash());
    }
}
