//! Tag's rules on the engine alone: inputs are bounded, "it" passes on touch and not straight
//! back, and free ticks score.

use tickwire_sim::{Game, Match, MatchConfig};

use super::*;

fn rules() -> MatchConfig {
    MatchConfig {
        min_players: 2,
        tick_rate: 30,
        ..MatchConfig::default()
    }
}

/// The entity that is "it" in the newest snapshot.
fn it_of(m: &Match<Tag>) -> Option<u32> {
    let rows: Vec<Seen> = m.snapshot().iter().filter_map(Seen::from_row).collect();
    let mut it = rows.iter().filter(|s| s.it).map(|s| s.id);
    let first = it.next();
    assert_eq!(it.next(), None, "one it at most");
    first
}

#[test]
fn inputs_are_exactly_two_bytes() {
    assert_eq!(Tag::decode_input(&[1, 0xff]), Some(TagInput([1, -1])));
    assert_eq!(TagInput([1, -1]).payload(), [1, 0xff]);
    for bad in [&[][..], &[1], &[1, 2, 3]] {
        assert_eq!(Tag::decode_input(bad), None);
    }
    let t = Tagged {
        from: 1,
        to: 70_000,
    };
    assert_eq!(Tagged::from_bytes(&t.to_bytes()), Some(t));
    assert_eq!(Tagged::from_bytes(&[0; 7]), None);
    assert_eq!(Tagged::from_bytes(&[0; 9]), None);
}

#[test]
fn a_board_too_small_for_two_or_too_large_is_refused() {
    let small = TagConfig {
        board: 48,
        ..TagConfig::default()
    };
    let err = Tag::new(&rules(), &small, 1).unwrap_err();
    assert_eq!(err, TagError::BadBoard(48));
    assert!(err.to_string().contains("more than 48"), "{err}");
    let huge = TagConfig {
        board: MAX_BOARD + 1,
        ..TagConfig::default()
    };
    assert!(Tag::new(&rules(), &huge, 1).is_err());
    let largest = TagConfig {
        board: MAX_BOARD,
        ..TagConfig::default()
    };
    assert!(Tag::new(&rules(), &largest, 1).is_ok());
}

#[test]
fn it_passes_on_touch_not_straight_back_and_free_ticks_score() {
    let config = TagConfig {
        board: 60,
        cooldown_ms: 500,
    };
    let game = Tag::new(&rules(), &config, 7).unwrap();
    let mut m = Match::new(rules(), game).unwrap();
    m.add_player("ann").unwrap();
    m.add_player("bob").unwrap();
    let seats: Vec<(u32, u32)> = m.players().map(|p| (p.id, p.entity_id)).collect();
    // The first player is it, and may tag at once: the two may appear touching.
    match m.step().events.as_slice() {
        [] => assert_eq!(it_of(&m), Some(seats[0].1)),
        [tagged] => assert_eq!((tagged.from, it_of(&m)), (seats[0].0, Some(seats[1].1))),
        more => panic!("{more:?}"),
    }
    let bot = TagBot;
    let mut changes = vec![m.tick()];
    let mut owner = it_of(&m);
    for seq in 1..=600 {
        let rows: Vec<Seen> = m.snapshot().iter().filter_map(Seen::from_row).collect();
        for &(id, entity) in &seats {
            let _ = m.push_input(id, seq, bot.input(entity, &rows));
        }
        let report = m.step();
        if it_of(&m) != owner {
            owner = it_of(&m);
            changes.push(m.tick());
            assert_eq!(report.events.len(), 1, "a change is a Tagged event");
        }
    }
    assert!(
        changes.len() >= 3,
        "it changed hands more than once: {changes:?}"
    );
    // 500 ms at 30 Hz: no tag-back within 15 ticks.
    assert!(changes.windows(2).all(|w| w[1] - w[0] >= 15), "{changes:?}");
    let results = m.game().results();
    assert_eq!(results.len(), 2);
    let free: u32 = results.iter().map(|p| p.free_ticks).sum();
    assert!(free > 0 && results[0].free_ticks >= results[1].free_ticks);
    let tags: u32 = results.iter().map(|p| p.tags).sum();
    assert!(tags as usize >= changes.len() - 1);
}
