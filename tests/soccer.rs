//! Soccer, the second game, hosted by the real server over real sockets: clients built on
//! soccer's schema alone join by game name, play with soccer's bot policy, rebuild the server's
//! exact world every tick, see a goal, and the match's results and replay are soccer's.

mod common;

use std::time::Duration;

use common::{TestServer, data_dir, fast_config};
use tickwire_client::{Event, GameClient, hello};
use tickwire_proto::msg::{EndReason, GameEvent, Hello, RejectReason, ServerMsg};
use tickwire_proto::schema::rows::{EntityRow, RowWorld};
use tickwire_sim::Game;
use tickwire_soccer::{Pitch, Soccer, SoccerBot, SoccerEvent, Team};

const WAIT: Duration = Duration::from_secs(5);

/// Soccer's entity kinds (player 0, ball 1, score 2) and fields, as its schema declares them.
const BALL: u16 = 1;
const SCORE: u16 = 2;
/// A player's `team` field (after x, y, vx, vy, aim).
const TEAM_SLOT: usize = 5;

/// An entity's position in world units (its schema's position scale is 8).
fn pos(e: &EntityRow) -> [f32; 2] {
    [e.values[0] as f32 / 8.0, e.values[1] as f32 / 8.0]
}

fn of_kind(world: &RowWorld, kind: u16) -> Option<&EntityRow> {
    world.values().find(|e| e.kind == kind)
}

fn soccer_hello(name: &str) -> Hello {
    Hello {
        game: Some("soccer".into()),
        ..hello(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soccer_is_played_by_its_bots_scores_and_replays() {
    let mut cfg = fast_config();
    let dir = data_dir("soccer");
    cfg.server.data_dir = dir.clone();
    cfg.game.tick_rate = 60;
    // A small pitch with wide goals, so that two bots score within seconds.
    cfg.soccer.pitch_width = 500;
    cfg.soccer.pitch_height = 300;
    cfg.soccer.goal_width = 200.0;
    cfg.soccer.kickoff_pause_ticks = 10;
    let pitch = Pitch::of(&cfg.soccer);
    let server = TestServer::start(cfg).await;
    let url = server.url();

    let schema = Soccer::schema();
    let a = GameClient::connect_schema(&url, soccer_hello("ann"), schema.clone())
        .await
        .unwrap();
    let b = GameClient::connect_schema(&url, soccer_hello("bob"), schema.clone())
        .await
        .unwrap();
    let id = a.welcome().match_id;
    assert_eq!(b.welcome().match_id, id, "both join the one soccer match");
    assert_eq!(a.welcome().game, "soccer");
    assert_eq!(a.welcome().schema_hash, schema.hash());
    assert_eq!(a.welcome().map.name, "pitch");
    assert_eq!(a.welcome().map.width, 500);
    // The default game is still arena: a Hello naming no game joins an arena match.
    let arena = GameClient::join(&url, "carl").await.unwrap();
    assert_eq!(arena.welcome().game, "arena");
    assert_ne!(arena.welcome().match_id, id);
    drop(arena);

    let mut clients = [a, b];
    let mut bots = [SoccerBot::new(1), SoccerBot::new(2)];
    let mut teams = [None, None];
    let mut goal_events = [0; 2];
    let mut ball_moved_for_b = false;
    let mut compared = 0;
    let mut goals = (0, 0);
    for _ in 0..1800 {
        for (i, c) in clients.iter_mut().enumerate() {
            let header = loop {
                let event = tokio::time::timeout(WAIT, c.next_event()).await;
                match event.expect("a frame in time").unwrap() {
                    Event::State { header, .. } => break header,
                    Event::Msg(ServerMsg::Event(GameEvent::Game { payload })) => {
                        let event = SoccerEvent::from_bytes(&payload).expect("soccer's event");
                        if matches!(event, SoccerEvent::Goal { .. }) {
                            goal_events[i] += 1;
                        }
                    }
                    Event::Msg(_) => {}
                }
            };
            let me = c.welcome().entity_id;
            let world = c.rows().world().unwrap().clone();
            let mine = world.get(&me);
            if let (None, Some(e)) = (teams[i], mine) {
                let team = Team::from_code(e.values[TEAM_SLOT] as u8).expect("a team");
                bots[i].attack(&pitch, team);
                teams[i] = Some(team);
            }
            let ball = of_kind(&world, BALL).map(pos);
            if i == 1 && ball.is_some_and(|p| (p[0] - 250.0).abs() > 5.0) {
                ball_moved_for_b = true;
            }
            if let Some(score) = of_kind(&world, SCORE) {
                goals = (score.values[0], score.values[1]);
            }
            // Every client's world is the server's at that tick, exactly.
            if header.tick % 15 == 0 {
                let server_rows = server.handle.snapshot_rows(id, header.tick).await;
                if let Some(rows) = server_rows {
                    let ours: Vec<EntityRow> = world.values().cloned().collect();
                    assert_eq!(ours, rows, "client {i} at tick {}", header.tick);
                    compared += 1;
                }
            }
            let input = bots[i].input(mine.map(pos), ball, header.tick);
            c.send_input(&input.payload()).await.unwrap();
        }
        if goals.0 + goals.1 >= 1 && goal_events.iter().all(|&n| n >= 1) {
            break;
        }
    }
    assert_eq!(
        teams.iter().flatten().count(),
        2,
        "both players are on the pitch"
    );
    assert_ne!(teams[0], teams[1], "two players go to opposite teams");
    assert!(compared >= 10, "worlds compared {compared} times");
    assert!(ball_moved_for_b, "the other page saw the ball move");
    assert!(goals.0 + goals.1 >= 1, "the bots scored: {goals:?}");
    assert!(
        goal_events.iter().all(|&n| n >= 1),
        "both heard the goal: {goal_events:?}"
    );

    assert!(server.handle.end_match(id, EndReason::Admin).await);
    for c in &mut clients {
        let ended = loop {
            match tokio::time::timeout(WAIT, c.next_event()).await.unwrap() {
                Ok(Event::Msg(ServerMsg::MatchEnded(ended))) => break ended,
                Ok(_) => {}
                Err(e) => panic!("closed before MatchEnded: {e}"),
            }
        };
        assert_eq!(ended.reason, EndReason::Admin);
        assert_eq!(ended.players.len(), 2);
        let scored: u32 = ended.players.iter().map(|p| p.score).sum();
        assert!(
            scored as i64 <= goals.0 + goals.1,
            "own goals credit nobody"
        );
    }

    let (records, _) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    let rec = records.iter().find(|r| r.match_id == id).expect("results");
    assert_eq!(rec.game, "soccer");
    assert_eq!(rec.map, "pitch");
    let team_goals: i64 = rec.results["teams"]
        .as_array()
        .expect("soccer's table has its teams")
        .iter()
        .map(|t| t["goals"].as_i64().unwrap())
        .sum();
    assert_eq!(team_goals, goals.0 + goals.1, "{}", rec.results);
    assert_eq!(rec.results["players"].as_array().unwrap().len(), 2);

    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay, &common::games()).unwrap();
    assert_eq!(outcome.ticks, rec.ticks);
    assert!(outcome.hashes_checked >= 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_for_another_game_than_the_match_is_refused() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let soccer = GameClient::connect_schema(&url, soccer_hello("ann"), Soccer::schema())
        .await
        .unwrap();
    let id = soccer.welcome().match_id;
    // An arena client asking for the soccer match by id hears which game it runs.
    let err = GameClient::connect(
        &url,
        Hello {
            join: tickwire_proto::msg::JoinTarget::Match(id),
            ..hello("bob")
        },
    )
    .await
    .unwrap_err();
    match err {
        tickwire_client::ClientError::Rejected { reason, message } => {
            assert_eq!(reason, RejectReason::UnknownGame);
            assert_eq!(message, "the match runs soccer, not \"arena\"");
        }
        other => panic!("{other:?}"),
    }
    // A soccer input that is not soccer's five bytes closes only its sender, with 1007.
    let mut c = soccer;
    c.send_input(&[1, 2, 3, 4]).await.unwrap();
    assert_eq!(common::closed_with(&mut c).await, 1007);
    server.stop().await;
}

/// The long run: ten players over real sockets for two minutes of a default-size
/// soccer match at 30 Hz. Every client's world equals the server's at every tick it receives,
/// a bot's goal lands in `results.jsonl`, and the replay verifies. Not part of the default run
/// (two minutes); `cargo test --release --test soccer -- --ignored` runs it, and
/// `TICKWIRE_SOCCER_SECS` shortens or lengthens it (seconds, default 120).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "two minutes; run with --ignored"]
async fn ten_players_for_two_minutes_match_the_server_every_tick() {
    let secs: u32 = std::env::var("TICKWIRE_SOCCER_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let mut cfg = fast_config();
    let dir = data_dir("soccer-long");
    cfg.server.data_dir = dir.clone();
    cfg.game.tick_rate = 30;
    cfg.game.min_players = 10;
    cfg.game.max_players = 10;
    cfg.game.match_duration_secs = secs + 60;
    cfg.soccer.score_limit = 0;
    let pitch = Pitch::of(&cfg.soccer);
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let schema = Soccer::schema();
    let mut clients = Vec::new();
    for i in 0..10 {
        let name = format!("bot{i}");
        let c = GameClient::connect_schema(&url, soccer_hello(&name), schema.clone())
            .await
            .unwrap();
        clients.push(c);
    }
    let id = clients[0].welcome().match_id;
    assert!(clients.iter().all(|c| c.welcome().match_id == id));
    // Each client plays in a task of its own and hands every world it rebuilt to the
    // comparer; the comparer asks the server for the snapshots of all the ticks it holds at
    // once (a match answers between ticks), so that checking never holds the players up.
    let ticks = secs * 30;
    let (worlds_tx, mut worlds_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut players = tokio::task::JoinSet::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        let worlds = worlds_tx.clone();
        let mut bot = SoccerBot::new(100 + i as u64);
        players.spawn(async move {
            let mut team = None;
            let mut goals = (0, 0);
            loop {
                let header = loop {
                    match tokio::time::timeout(WAIT, c.next_event()).await {
                        Ok(Ok(Event::State { header, .. })) => break header,
                        Ok(Ok(Event::Msg(_))) => {}
                        other => panic!("client {i}: no frame: {other:?}"),
                    }
                };
                let world = c.rows().world().unwrap();
                let mine = world.get(&c.welcome().entity_id);
                if let (None, Some(e)) = (team, mine) {
                    let t = Team::from_code(e.values[TEAM_SLOT] as u8).expect("a team");
                    bot.attack(&pitch, t);
                    team = Some(t);
                }
                if let Some(score) = of_kind(world, SCORE) {
                    goals = (score.values[0], score.values[1]);
                }
                let input = bot.input(mine.map(pos), of_kind(world, BALL).map(pos), header.tick);
                let rows: Vec<EntityRow> = world.values().cloned().collect();
                let _ = worlds.send((i, header.tick, rows));
                c.send_input(&input.payload()).await.unwrap();
                if header.tick >= ticks {
                    return (c, goals);
                }
            }
        });
    }
    drop(worlds_tx);
    let mut compared = 0u64;
    let mut expired = 0u64;
    while let Some(first) = worlds_rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = worlds_rx.try_recv() {
            batch.push(more);
        }
        let mut wanted: Vec<u32> = batch.iter().map(|(_, t, _)| *t).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut asks = tokio::task::JoinSet::new();
        for tick in wanted {
            let handle = server.handle.clone();
            asks.spawn(async move { (tick, handle.snapshot_rows(id, tick).await) });
        }
        let mut snapshots = std::collections::HashMap::new();
        while let Some(answer) = asks.join_next().await {
            let (tick, rows) = answer.unwrap();
            snapshots.insert(tick, rows);
        }
        for (i, tick, ours) in batch {
            match &snapshots[&tick] {
                Some(rows) => {
                    assert_eq!(&ours, rows, "client {i} at tick {tick}");
                    compared += 1;
                }
                // Past the server's short history: the comparer fell behind.
                None => expired += 1,
            }
        }
    }
    let mut clients = Vec::new();
    let mut goals = (0, 0);
    while let Some(done) = players.join_next().await {
        let (c, g) = done.unwrap();
        goals = goals.max(g);
        clients.push(c);
    }
    assert!(server.handle.end_match(id, EndReason::Admin).await);
    for c in &mut clients {
        loop {
            match tokio::time::timeout(WAIT, c.next_event()).await.unwrap() {
                Ok(Event::Msg(ServerMsg::MatchEnded(_))) => break,
                Ok(_) => {}
                Err(e) => panic!("closed before MatchEnded: {e}"),
            }
        }
    }
    let (records, _) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    let rec = records.iter().find(|r| r.match_id == id).expect("results");
    let scorers: Vec<&serde_json::Value> = rec.results["players"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["goals"].as_u64().unwrap_or(0) > 0)
        .collect();
    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay, &common::games()).unwrap();
    eprintln!(
        "soccer long run: {secs} s, {} ticks, {compared} client worlds compared with the \
         server's and equal, score {goals:?}, {expired} past the server's history, scorers {scorers:?}, replay verified {} ticks \
         with {} hashes",
        rec.ticks, outcome.ticks, outcome.hashes_checked
    );
    assert!(
        compared >= u64::from(ticks) * 10 * 9 / 10,
        "{compared} comparisons ({expired} past the server's history)"
    );
    assert!(goals.0 + goals.1 >= 1, "the bots scored: {goals:?}");
    assert!(
        !scorers.is_empty(),
        "a bot's goal is in results.jsonl: {}",
        rec.results
    );
    assert_eq!(outcome.ticks, rec.ticks);
    server.stop().await;
}
