//! [`TagPolicy`]: tag's bots for `tickwire_loadtest::run_with`, so that the load tester plays
//! a game it was not built with.

use tickwire_loadtest::{Behavior, BotPolicy, GamePolicy};
use tickwire_proto::msg::{InputPayload, Welcome};
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::RowWorld;

use crate::{Seen, TagBot, tag_schema};

/// Tag as the load tester plays it: every bot rebuilds the world and runs [`TagBot`].
#[derive(Debug)]
pub struct TagPolicy {
    schema: Schema,
}

impl Default for TagPolicy {
    fn default() -> Self {
        TagPolicy {
            schema: tag_schema(),
        }
    }
}

impl GamePolicy for TagPolicy {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn needs_world(&self) -> bool {
        true
    }

    fn bot(&self, _seed: u64, _behavior: Behavior, welcome: &Welcome) -> Box<dyn BotPolicy> {
        Box::new(TagBrain {
            me: welcome.entity_id,
            seen: Vec::new(),
        })
    }
}

/// One bot: what it saw last, and its entity.
struct TagBrain {
    me: u32,
    seen: Vec<Seen>,
}

impl BotPolicy for TagBrain {
    fn observe(&mut self, world: &RowWorld, _tick: u32) {
        self.seen.clear();
        self.seen.extend(world.values().filter_map(Seen::from_row));
    }

    fn input(&mut self) -> InputPayload {
        InputPayload::from(TagBot.input(self.me, &self.seen).payload())
    }
}
