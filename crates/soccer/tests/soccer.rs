//! Soccer through the engine: `Match<Soccer>` seats, steps and replicates it exactly as a
//! server would, with scripted inputs and requests.

use proptest::prelude::*;
use tickwire_proto::codec;
use tickwire_proto::msg::{EndReason, Phase, RequestRefusalReason};
use tickwire_proto::schema::body;
use tickwire_proto::schema::rows::{EntityRow, RowDelta, RowReplica};
use tickwire_sim::{ClientView, FrameScratch, Game, MatchConfig, PlayerId};
use tickwire_soccer::schema::{BALL, SCORE};
use tickwire_soccer::{
    BUTTON_KICK, Soccer, SoccerBot, SoccerConfig, SoccerEvent, SoccerInput, SoccerMatch,
    SoccerRequest, Team, new_match,
};

/// The engine's rules for ten seats, leaving Waiting at `min_players`.
fn rules(min_players: u16) -> MatchConfig {
    MatchConfig {
        max_players: 10,
        min_players,
        ..MatchConfig::default()
    }
}

/// A match of `players` players (p1, p2, …) under `config`, leaving Waiting at `min_players`.
fn game(players: usize, min_players: u16, config: SoccerConfig) -> SoccerMatch {
    let mut m = new_match(rules(min_players), config, 7).expect("valid configs");
    for i in 1..=players {
        m.add_player(&format!("p{i}")).expect("a seat");
    }
    m
}

/// Soccer's defaults without a kickoff pause.
fn no_pause() -> SoccerConfig {
    SoccerConfig {
        kickoff_pause_ticks: 0,
        ..SoccerConfig::default()
    }
}

/// A kick along aim step `aim` at `power`, standing still.
fn kick(aim: u8, power: u8) -> SoccerInput {
    SoccerInput {
        aim,
        buttons: BUTTON_KICK,
        power,
        ..SoccerInput::default()
    }
}

/// Steps `n` ticks, returning every game event.
fn run(m: &mut SoccerMatch, n: u32) -> Vec<SoccerEvent> {
    (0..n).flat_map(|_| m.step().events).collect()
}

/// The ball's speed, world units/s.
fn ball_speed(m: &SoccerMatch) -> f32 {
    let [x, y] = m.game().ball().vel;
    (x * x + y * y).sqrt()
}

/// Player `id`'s position, world units.
fn pos(m: &SoccerMatch, id: PlayerId) -> [f32; 2] {
    m.game().player_body(id).expect("a player").pos
}

#[test]
fn joining_players_go_to_the_smaller_team_home_on_a_tie() {
    let mut m = game(4, 10, SoccerConfig::default());
    let teams: Vec<_> = (1..=4).map(|id| m.game().team_of(id).unwrap()).collect();
    assert_eq!(teams, [Team::Home, Team::Away, Team::Home, Team::Away]);
    assert!(m.remove_player(3));
    assert_eq!(m.game().team_len(Team::Home), 1);
    let id = m.add_player("p5").unwrap();
    assert_eq!(m.game().team_of(id), Some(Team::Home));
    let id = m.add_player("p6").unwrap();
    assert_eq!(m.game().team_of(id), Some(Team::Home), "a tie goes home");
    // Every player starts on its own half.
    m.step();
    for p in m.players() {
        let [x, _] = pos(&m, p.id);
        match m.game().team_of(p.id).unwrap() {
            Team::Home => assert!(x < 800.0, "{x}"),
            Team::Away => assert!(x > 800.0, "{x}"),
        }
    }
}

#[test]
fn choose_team_is_accepted_while_waiting_and_moves_the_player() {
    let mut m = game(2, 3, SoccerConfig::default());
    m.step();
    m.push_request(
        1,
        11,
        &SoccerRequest::ChooseTeam { team: Team::Away }.payload(),
    )
    .unwrap();
    let report = m.step();
    assert_eq!(m.phase(), Phase::Waiting);
    assert_eq!(report.answers.len(), 1);
    assert_eq!(report.answers[0].id, 11);
    assert_eq!(report.answers[0].result, Ok(vec![1]));
    assert_eq!(
        report.events,
        [SoccerEvent::TeamChanged {
            player: 1,
            team: Team::Away
        }]
    );
    assert_eq!(m.game().team_of(1), Some(Team::Away));
    assert!(pos(&m, 1)[0] > 800.0, "moved to the away half");
    // Choosing the team one is on changes nothing and says so.
    m.push_request(1, 12, &[1]).unwrap();
    let report = m.step();
    assert_eq!(report.answers[0].result, Ok(vec![1]));
    assert!(report.events.is_empty());
}

#[test]
fn choose_team_is_refused_when_full_running_or_malformed() {
    let small = SoccerConfig {
        team_size: 2,
        ..SoccerConfig::default()
    };
    let mut m = new_match(
        MatchConfig {
            max_players: 4,
            min_players: 4,
            ..MatchConfig::default()
        },
        small,
        1,
    )
    .unwrap();
    for i in 0..3 {
        m.add_player(&format!("p{i}")).unwrap();
    }
    // Home p1, p3; away p2. p1 to away fills it; p3 then finds it full.
    m.push_request(1, 1, &[1]).unwrap();
    m.push_request(3, 2, &[1]).unwrap();
    let report = m.step();
    assert_eq!(report.answers[0].result, Ok(vec![1]));
    let refusal = report.answers[1].result.clone().unwrap_err();
    assert_eq!(refusal.reason, RequestRefusalReason::Refused);
    assert_eq!(refusal.message, "the away team is full (2 players)");
    assert_eq!(m.game().team_of(3), Some(Team::Home));

    // Malformed bytes are refused when pushed, with the decoder's reason.
    for bad in [&[][..], &[2], &[0, 0]] {
        let refused = m.push_request(3, 9, bad).unwrap_err();
        assert_eq!(
            refused.refusal.reason,
            RequestRefusalReason::Malformed,
            "{bad:?}"
        );
    }

    // Once running, teams are fixed.
    let mut m = game(2, 1, SoccerConfig::default());
    m.step();
    assert_eq!(m.phase(), Phase::Running);
    m.push_request(1, 5, &[1]).unwrap();
    let report = m.step();
    let refusal = report.answers[0].result.clone().unwrap_err();
    assert_eq!(
        refusal.message,
        "teams are fixed once the match has started"
    );
    assert_eq!(m.game().team_of(1), Some(Team::Home));
}

#[test]
fn a_kick_in_reach_moves_the_ball_with_speed_by_power_and_out_of_reach_does_nothing() {
    let speed_after = |power: u8, offset: f32| {
        let mut m = game(1, 1, no_pause());
        m.step();
        let [x, y] = pos(&m, 1);
        m.game_mut().place_ball([x + offset, y], [0.0, 0.0]);
        m.push_input(1, 1, kick(0, power));
        m.step();
        let kicks = m.results().players[0].kicks;
        (ball_speed(&m), m.game().ball().vel, kicks)
    };
    let (full, vel, kicks) = speed_after(255, 35.0);
    assert_eq!(kicks, 1);
    // Full power is the top speed, less one tick of friction, along aim 0 (+x).
    let expected = 900.0 * (1.0 - 0.8 / 30.0);
    assert!((full - expected).abs() < 0.01, "{full}");
    assert!(vel[0] > 0.0 && vel[1].abs() < 1e-3, "{vel:?}");
    let (third, _, _) = speed_after(85, 35.0);
    assert!((third * 3.0 - full).abs() < 0.1, "{third} vs {full}");
    let (none, _, kicks) = speed_after(255, 41.0);
    assert_eq!(
        (none, kicks),
        (0.0, 0),
        "41 units is beyond the 40-unit reach"
    );
}

#[test]
fn kicks_wait_for_the_cooldown() {
    let mut m = game(1, 1, no_pause());
    m.step();
    let [x, y] = pos(&m, 1);
    m.game_mut().place_ball([x + 35.0, y], [0.0, 0.0]);
    m.push_input(1, 1, kick(64, 40));
    m.step();
    assert_eq!(m.results().players[0].kicks, 1);
    // Back in reach at once: the held kick must wait 250 ms (8 ticks at 30 Hz).
    m.game_mut().place_ball([x + 35.0, y], [0.0, 0.0]);
    m.step();
    assert_eq!(m.results().players[0].kicks, 1);
    for _ in 0..8 {
        m.game_mut().place_ball([x + 35.0, y], [0.0, 0.0]);
        m.step();
    }
    assert_eq!(m.results().players[0].kicks, 2);
}

#[test]
fn friction_slows_the_ball_and_stops_it() {
    let mut m = game(1, 1, no_pause());
    m.step();
    m.game_mut().place_ball([800.0, 200.0], [300.0, 0.0]);
    let mut last = ball_speed(&m);
    for _ in 0..30 {
        m.step();
        let s = ball_speed(&m);
        assert!(s < last, "{s} !< {last}");
        last = s;
    }
    run(&mut m, 300);
    assert_eq!(ball_speed(&m), 0.0);
    let at = m.game().ball().pos;
    let rows = m.snapshot().to_vec();
    run(&mut m, 5);
    assert_eq!(m.game().ball().pos, at, "a ball at rest stays");
    assert_eq!(
        m.snapshot(),
        rows,
        "and its replicated state stops changing"
    );
    // It rolled about speed / friction = 375 units.
    assert!((at[0] - 800.0 - 375.0).abs() < 25.0, "{at:?}");
}

#[test]
fn the_ball_bounces_off_walls_but_not_inside_a_goal_mouth() {
    let mut m = game(1, 1, no_pause());
    m.step();
    m.game_mut().place_ball([800.0, 30.0], [0.0, -600.0]);
    run(&mut m, 3);
    let b = m.game().ball();
    assert!(b.vel[1] > 0.0 && b.pos[1] >= 10.0, "{b:?}");
    // The right wall, outside the mouth (y 350..650).
    m.game_mut().place_ball([1570.0, 150.0], [600.0, 0.0]);
    run(&mut m, 3);
    let b = m.game().ball();
    assert!(b.vel[0] < 0.0 && b.pos[0] <= 1590.0, "{b:?}");
    assert_eq!(m.game().score(), (0, 0));
}

#[test]
fn a_kicked_goal_scores_credits_the_kicker_and_kicks_off() {
    let config = SoccerConfig {
        kickoff_pause_ticks: 10,
        score_limit: 0,
        ..SoccerConfig::default()
    };
    let mut m = game(2, 2, config);
    let events = run(&mut m, 1);
    assert_eq!(m.phase(), Phase::Running);
    assert!(events.is_empty());
    let spot = pos(&m, 1);
    assert_eq!(m.game().kickoff_ticks_left(), 10);
    // p2 stands on the away kickoff spot, in the ball's path: out of the way.
    m.game_mut().place(2, [960.0, 900.0]);
    // Run at the ball with the kick held at full power, aiming at the away goal (+x).
    let dribble = SoccerInput {
        move_x: 127,
        ..kick(0, 255)
    };
    m.push_input(1, 1, dribble);
    let events = run(&mut m, 5);
    assert!(matches!(events[..], [SoccerEvent::Kickoff { .. }]));
    assert_eq!(pos(&m, 1), spot, "nobody moves during the kickoff pause");
    let mut goal = None;
    for _ in 0..200 {
        let events = m.step().events;
        if !events.is_empty() {
            goal = Some(events);
            break;
        }
    }
    let events = goal.expect("a goal within 200 ticks");
    assert_eq!(
        events,
        [
            SoccerEvent::Goal {
                team: Team::Home,
                scorer: Some(1),
                home: 1,
                away: 0
            },
            SoccerEvent::Kickoff { team: Team::Away },
        ]
    );
    assert_eq!(m.game().score(), (1, 0));
    assert_eq!(m.game().ball().pos, [800.0, 500.0]);
    assert_eq!(m.game().ball().vel, [0.0, 0.0]);
    assert_eq!(pos(&m, 1), spot, "back on the kickoff spot");
    assert_eq!(m.game().kickoff_ticks_left(), 10);
    let results = m.results();
    assert_eq!(results.players[0].player_id, 1);
    assert_eq!((results.players[0].goals, results.players[0].kicks), (1, 1));
    // The score board says so too.
    let board = m.snapshot().iter().find(|e| e.kind == SCORE).unwrap();
    assert_eq!(board.values, [1, 0, 10]);
}

#[test]
fn an_own_goal_counts_for_the_other_team_without_a_scorer() {
    let mut m = game(2, 1, no_pause());
    m.step();
    m.game_mut().place(1, [100.0, 500.0]);
    m.game_mut().place_ball([70.0, 500.0], [0.0, 0.0]);
    m.push_input(1, 1, kick(128, 255));
    let events = run(&mut m, 10);
    let goals: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, SoccerEvent::Goal { .. }))
        .collect();
    assert_eq!(
        goals,
        [&SoccerEvent::Goal {
            team: Team::Away,
            scorer: None,
            home: 0,
            away: 1
        }]
    );
    assert_eq!(m.results().winner, Some(Team::Away));
}

#[test]
fn a_warm_up_goal_is_only_a_kickoff() {
    let mut m = game(1, 2, no_pause());
    m.step();
    m.game_mut().place_ball([1500.0, 500.0], [800.0, 0.0]);
    let events = run(&mut m, 10);
    assert_eq!(events, [SoccerEvent::Kickoff { team: Team::Away }]);
    assert_eq!(m.game().score(), (0, 0));
    assert_eq!(m.phase(), Phase::Waiting);
}

#[test]
fn the_score_limit_ends_the_match_with_a_results_table() {
    let config = SoccerConfig {
        score_limit: 2,
        ..no_pause()
    };
    let mut m = game(3, 1, config);
    m.step();
    let mut ended = None;
    for goal in 0..2 {
        // p2 (away) shoots at the home goal from just in front of it.
        m.game_mut().place(2, [100.0, 500.0]);
        m.game_mut().place_ball([70.0, 500.0], [0.0, 0.0]);
        m.push_input(2, goal + 1, kick(128, 255));
        for _ in 0..10 {
            let r = m.step();
            if r.ended.is_some() {
                ended = r.ended;
                break;
            }
        }
        assert_eq!(m.game().score(), (0, goal + 1));
    }
    assert_eq!(ended, Some(EndReason::ScoreLimit));
    assert_eq!(m.phase(), Phase::Ended);
    assert_eq!(m.end_reason(), Some(EndReason::ScoreLimit));
    let r = m.results();
    assert_eq!(r.winner, Some(Team::Away));
    let teams: Vec<_> = r
        .teams
        .iter()
        .map(|t| (t.team, t.name.as_str(), t.goals))
        .collect();
    assert_eq!(teams, [(Team::Home, "home", 0), (Team::Away, "away", 2)]);
    let players: Vec<_> = r
        .players
        .iter()
        .map(|p| (p.player_id, p.name.as_str(), p.team, p.goals, p.kicks))
        .collect();
    assert_eq!(
        players,
        [
            (2, "p2", Team::Away, 2, 2),
            (1, "p1", Team::Home, 0, 0),
            (3, "p3", Team::Home, 0, 0)
        ]
    );
    // The results serialize for the results log.
    let back: tickwire_soccer::SoccerResults = codec::decode_record(&{
        let mut b = Vec::new();
        codec::encode_record(&r, &mut b).unwrap();
        b
    })
    .unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_disconnected_player_stands_still() {
    let mut m = game(1, 1, no_pause());
    m.step();
    m.push_input(
        1,
        1,
        SoccerInput {
            move_y: 127,
            ..SoccerInput::default()
        },
    );
    m.step();
    let moved = pos(&m, 1);
    m.set_connected(1, false);
    run(&mut m, 5);
    assert_eq!(pos(&m, 1), moved);
}

/// A match of `n` bots under `seed`, each seeing the true positions, for `ticks` ticks;
/// `each` sees the match after every step.
fn bots(seed: u64, n: usize, ticks: u32, mut each: impl FnMut(&SoccerMatch)) {
    let config = SoccerConfig {
        score_limit: 0,
        kickoff_pause_ticks: 15,
        ..SoccerConfig::default()
    };
    let mut m = new_match(rules(2), config, seed).unwrap();
    let mut brains: Vec<(PlayerId, SoccerBot)> = (0..n)
        .map(|i| {
            let id = m.add_player(&format!("bot{i}")).unwrap();
            let mut bot = SoccerBot::new(seed ^ u64::from(id));
            let team = m.game().team_of(id).unwrap();
            bot.attack(m.game().pitch(), team);
            (id, bot)
        })
        .collect();
    for seq in 1..=ticks {
        for (id, bot) in &mut brains {
            let me = m.game().player_body(*id).map(|b| b.pos);
            let input = bot.input(me, Some(m.game().ball().pos), m.tick());
            m.push_input(*id, seq, input);
        }
        m.step();
        each(&m);
    }
}

#[test]
fn the_same_seed_and_inputs_give_the_same_state_every_tick() {
    let mut a = Vec::new();
    bots(42, 6, 400, |m| a.push(m.state_hash()));
    let mut b = Vec::new();
    bots(42, 6, 400, |m| b.push(m.state_hash()));
    assert_eq!(a.len(), 400);
    assert_eq!(a, b);
    // The state moves (the hashes are not all one value) and bots touch the ball.
    a.dedup();
    assert!(a.len() > 300, "{}", a.len());
    let mut kicks = 0;
    bots(42, 6, 400, |m| {
        kicks = m.results().players.iter().map(|p| p.kicks).sum();
    });
    assert!(kicks > 0);
}

#[test]
fn snapshot_rows_fit_the_schema_and_replicate_exactly() {
    let mut replica: Option<RowReplica> = None;
    let mut ack = 0;
    let mut frames = 0;
    bots(5, 10, 300, |m| {
        let schema = m.schema();
        let replica = replica.get_or_insert_with(|| RowReplica::new((**schema).clone()));
        let mut delta = RowDelta::default();
        let age = m.delta_since(ack, &mut delta);
        let base: &[EntityRow] = if age == 0 {
            &[]
        } else {
            m.snapshot_at(ack).unwrap()
        };
        let kind_of = |i: u32| base.get(i as usize).map(|e| e.kind);
        let mut framed = Vec::new();
        codec::encode_rows(schema, &delta, kind_of, &mut framed).expect("the frame encodes");
        let mut bytes = Vec::new();
        body::encode(schema, &delta, kind_of, &mut bytes).expect("the body encodes");
        let world = replica
            .apply_body(m.tick(), age, &bytes)
            .expect("it applies");
        let world: Vec<EntityRow> = world.values().cloned().collect();
        assert_eq!(world, m.snapshot(), "tick {}", m.tick());
        // Acknowledge every other frame so that some deltas are two ticks old.
        if m.tick() % 2 == 0 {
            ack = m.tick();
        }
        frames += 1;
    });
    assert_eq!(frames, 300);
}

#[test]
fn the_score_board_reaches_every_client_whatever_its_area_of_interest() {
    let mut m = new_match(
        MatchConfig {
            view_radius: 100.0,
            ..rules(2)
        },
        SoccerConfig::default(),
        3,
    )
    .unwrap();
    for i in 0..4 {
        m.add_player(&format!("p{i}")).unwrap();
    }
    run(&mut m, 3);
    let mut view = ClientView::new();
    let mut out = Default::default();
    view.frame(&m, Some(1), 0, None, &mut FrameScratch::default(), &mut out);
    let sent = view.sent_view(m.tick(), &m).unwrap();
    assert!(
        sent.iter().any(|e| e.kind == SCORE),
        "the board has no position"
    );
    assert!(
        !sent.iter().any(|e| e.kind == BALL),
        "the ball at the centre is beyond 100 units of p1's kickoff spot"
    );
    assert!(sent.len() < m.snapshot().len());
}

proptest! {
    #[test]
    fn decoders_never_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = SoccerInput::from_payload(&bytes);
        let _ = SoccerEvent::from_bytes(&bytes);
        let decoded = Soccer::decode_request(&bytes);
        prop_assert_eq!(decoded.is_ok(), bytes.len() == 1 && bytes[0] <= 1);
    }
}

#[test]
fn a_ball_shot_at_a_player_rebounds_and_a_run_dribbles_it() {
    let mut m = game(1, 1, no_pause());
    m.step();
    let [x, y] = pos(&m, 1);
    m.game_mut().place_ball([x + 60.0, y], [-600.0, 0.0]);
    run(&mut m, 3);
    let b = m.game().ball();
    assert!(b.vel[0] > 0.0, "rebounds: {b:?}");
    assert!(
        b.pos[0] >= x + 30.0 - 1e-3,
        "never inside the player: {b:?}"
    );
    // Running into a still ball pushes it ahead, faster than the runner.
    m.game_mut().place_ball([x + 40.0, y], [0.0, 0.0]);
    m.push_input(
        1,
        1,
        SoccerInput {
            move_x: 127,
            ..SoccerInput::default()
        },
    );
    run(&mut m, 4);
    let b = m.game().ball();
    assert!(b.vel[0] > 250.0, "{b:?}");
    assert_eq!(m.game().last_kicker(), None, "a dribble is not a kick");
}

#[test]
fn the_board_counts_the_kickoff_pause_down() {
    let mut m = game(2, 2, SoccerConfig::default());
    m.step();
    let kickoff = |m: &SoccerMatch| {
        m.snapshot()
            .iter()
            .find(|e| e.kind == SCORE)
            .map(|e| e.values[2])
    };
    assert_eq!(kickoff(&m), Some(60));
    run(&mut m, 20);
    assert_eq!(kickoff(&m), Some(40));
    run(&mut m, 50);
    assert_eq!(kickoff(&m), Some(0));
}

#[test]
fn a_crowd_beyond_five_a_side_lines_up_apart_on_its_own_half() {
    let config = SoccerConfig {
        pitch_width: 8000,
        pitch_height: 5000,
        goal_width: 1200.0,
        team_size: 100,
        ..SoccerConfig::default()
    };
    let rules = MatchConfig {
        max_players: 200,
        min_players: 200,
        ..MatchConfig::default()
    };
    let mut m = new_match(rules, config, 3).expect("a hundred a side fit a big pitch");
    for i in 1..=200 {
        m.add_player(&format!("p{i}")).expect("a seat");
    }
    m.step();
    let spots: Vec<([f32; 2], Team)> = m
        .players()
        .map(|p| (pos(&m, p.id), m.game().team_of(p.id).unwrap()))
        .collect();
    assert_eq!(spots.len(), 200);
    for (i, ([x, y], team)) in spots.iter().enumerate() {
        match team {
            Team::Home => assert!(*x < 4000.0, "{x}"),
            Team::Away => assert!(*x > 4000.0, "{x}"),
        }
        assert!((0.0..=5000.0).contains(y));
        for ([x2, y2], _) in &spots[i + 1..] {
            let d = ((x - x2).powi(2) + (y - y2).powi(2)).sqrt();
            assert!(d >= 40.0, "two players start {d} apart");
        }
    }
}
