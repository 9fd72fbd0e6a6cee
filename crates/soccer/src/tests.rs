//! Unit tests of the game's pieces that need no match: teams, the pitch, construction.

use super::*;

#[test]
fn team_codes_round_trip() {
    for t in Team::BOTH {
        assert_eq!(Team::from_code(t.code()), Some(t));
        assert_eq!(t.other().other(), t);
    }
    assert_eq!(Team::from_code(2), None);
    assert_eq!((Team::Home.name(), Team::Away.name()), ("home", "away"));
}

#[test]
fn the_pitch_describes_both_goal_mouths() {
    let p = Pitch::of(&SoccerConfig::default());
    assert_eq!((p.width, p.height, p.goal_width), (1600.0, 1000.0, 300.0));
    assert_eq!(
        p.home_goal,
        Rect {
            x: -GOAL_DEPTH,
            y: 350.0,
            w: GOAL_DEPTH,
            h: 300.0
        }
    );
    assert_eq!(p.away_goal.x, 1600.0);
    assert_eq!(p.away_goal.y, 350.0);
    assert_eq!(p.goal_centre(Team::Away), [1600.0, 500.0]);
}

#[test]
fn new_refuses_what_two_teams_cannot_hold_or_too_fast_a_ball() {
    let rules = MatchConfig {
        max_players: 11,
        ..MatchConfig::default()
    };
    assert!(matches!(
        Soccer::new(&rules, SoccerConfig::default(), 0),
        Err(SoccerError::TooManyPlayers { .. })
    ));
    let slow = MatchConfig {
        tick_rate: 1,
        max_players: 10,
        min_players: 1,
        ..MatchConfig::default()
    };
    assert!(matches!(
        Soccer::new(&slow, SoccerConfig::default(), 0),
        Err(SoccerError::TooFast {
            field: "player_speed * sprint_multiplier",
            ..
        })
    ));
    let bad = SoccerConfig {
        team_size: 0,
        ..SoccerConfig::default()
    };
    assert!(matches!(
        new_match(MatchConfig::default(), bad, 0),
        Err(SoccerError::Config(_))
    ));
    let ten = MatchConfig {
        max_players: 10,
        ..MatchConfig::default()
    };
    let m = new_match(ten, SoccerConfig::default(), 0).unwrap();
    assert_eq!(m.world().width, 1600);
    assert_eq!(m.schema().name(), "soccer");
}
