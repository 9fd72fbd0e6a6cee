//! Soccer's golden State frames for the browser SDK (`tests/golden/soccer_frames.json`): a real
//! soccer match (`Match<Soccer>`) of six `SoccerBot`s, each frame the delta the server would
//! send one client against the baseline it acknowledged (every other tick acknowledged, one
//! frame in seven lost), with the world the Rust `RowReplica` rebuilt from it, checked here to
//! be the match's snapshot. Arena's frames are in `protocol.json`; these are the second game's.

use serde_json::{Value, json};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{EntityRow, RowDelta, RowReplica};
use tickwire_sim::{MatchConfig, PlayerId};
use tickwire_soccer::{SoccerBot, SoccerConfig, new_match};

use crate::random_schemas::{row_json, served};

/// Ticks of the match in the file.
const TICKS: u32 = 120;

/// The file: soccer's served schema and its frames, in the form of `random_schemas.json`.
pub(crate) fn vectors() -> Value {
    let rules = MatchConfig {
        max_players: 10,
        min_players: 2,
        ..MatchConfig::default()
    };
    let config = SoccerConfig {
        score_limit: 0,
        kickoff_pause_ticks: 10,
        pitch_width: 600,
        pitch_height: 400,
        goal_width: 200.0,
        ..SoccerConfig::default()
    };
    let mut m = new_match(rules, config, 11).expect("a valid soccer match");
    let mut bots: Vec<(PlayerId, SoccerBot)> = (0..6)
        .map(|i| {
            let id = m.add_player(&format!("bot{i}")).expect("a seat");
            let mut bot = SoccerBot::new(u64::from(id) * 7);
            bot.attack(m.game().pitch(), m.game().team_of(id).expect("a team"));
            (id, bot)
        })
        .collect();
    let schema = (**m.schema()).clone();
    let mut replica = RowReplica::new(schema.clone());
    let mut ack = 0;
    let mut frames = Vec::new();
    for seq in 1..=TICKS {
        for (id, bot) in &mut bots {
            let me = m.game().player_body(*id).map(|b| b.pos);
            let input = bot.input(me, Some(m.game().ball().pos), m.tick());
            m.push_input(*id, seq, input);
        }
        m.step();
        let mut delta = RowDelta::default();
        let age = m.delta_since(ack, &mut delta);
        let base: &[EntityRow] = if age == 0 {
            &[]
        } else {
            m.snapshot_at(ack).expect("the baseline is held")
        };
        let mut bytes = Vec::new();
        body::encode(
            &schema,
            &delta,
            |i| base.get(i as usize).map(|e| e.kind),
            &mut bytes,
        )
        .expect("the frame encodes");
        let tick = m.tick();
        if seq % 7 == 3 {
            // Lost on the way: never applied, never acknowledged.
            continue;
        }
        let world = replica
            .apply_body(tick, age, &bytes)
            .expect("every delivered frame applies");
        let rows: Vec<EntityRow> = world.values().cloned().collect();
        assert_eq!(rows, m.snapshot(), "tick {tick}");
        let rows: Vec<Value> = rows.iter().map(|e| row_json(&schema, e)).collect();
        frames.push(json!({"tick": tick, "age": age, "body": crate::hex(&bytes), "world": rows}));
        if tick % 2 == 0 {
            ack = tick;
        }
    }
    json!({
        "about": "Written by tests/golden.rs (tests/soccer_vectors/) from a real soccer match of six bots; decoded by tests/sdk/soccer_frames.test.mjs. Regenerate: TICKWIRE_BLESS=1 cargo test --test golden",
        "schemas": [{"schema": served(&schema), "uniform": schema.uniform_updates(), "frames": frames}],
    })
}
