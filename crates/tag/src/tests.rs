//! Tag's rules on the engine alone: inputs are bounded, "it" passes on touch and not straight
//! back, and free ticks score.

use tickwire_sim::{Game, Match, MatchConfig};

use super::*;

fn rules() -> MatchConfig {
    MatchConfig { min_players: 2, tick_rate: 30, ..MatchConfig::default() }
}

#[test]
fn inputs_are_exactly_two_bytes() {
    assert_eq!(Tag::decode_input(&[1, 0xff]), Some(TagInput { dx: 1, dy: -1 }));
    for bad in [&[][..], &[1], &[1, 2, 3]] {
        assert_eq!(Tag::decode_input(bad), None);
    }
    let t = Tagged { from: 1, to: 70_000 };
    assert_eq!(Tagged::from_bytes(&t.to_bytes()), Some(t));
    assert_eq!(Tagged::from_bytes(&[0; 7]), None);
}

#[test]
fn a_bad_board_is_refused() {
    let small = TagConfig { board: 40, ..TagConfig::default() };
    assert!(matches!(Tag::new(&rules(), small, 1), Err(TagError::BoardTooSmall { .. })));
    let nan = TagConfig { speed: f32::NAN, ..TagConfig::default() };
    assert!(matches!(Tag::new(&rules(), nan, 1), Err(TagError::BadSpeed(_))));
}

#[test]
fn it_passes_on_touch_and_free_ticks_score() {
    let config = TagConfig { board: 60, ..TagConfig::default() };
    let game = Tag::new(&rules(), config, 7).unwrap();
    let mut m = Match::new(rules(), game).unwrap();
    let a = m.add_player("ann").unwrap();
    m.add_player("bob").unwrap();
    assert_eq!(m.game().it(), Some(a), "the first player is it");
    let seats: Vec<(u32, u32)> = m.players().map(|p| (p.id, p.entity_id)).collect();
    assert_eq!(seats.len(), 2);
    let bot = TagBot;
    let mut owners = vec![a];
    for seq in 1..=600 {
        let rows: Vec<Seen> = m.snapshot().iter().filter_map(Seen::from_row).collect();
        for &(id, entity) in &seats {
            let _ = m.push_input(id, seq, bot.input(entity, &rows));
        }
        m.step();
        let it = m.game().it().unwrap();
        if owners.last() != Some(&it) {
            owners.push(it);
        }
    }
    assert!(owners.len() >= 3, "it changed hands more than once: {owners:?}");
    let results = m.game().results();
    assert_eq!(results.players.len(), 2);
    let total: u32 = results.players.iter().map(|p| p.free_ticks).sum();
    assert!(total > 0 && results.players[0].free_ticks >= results.players[1].free_ticks);
}
