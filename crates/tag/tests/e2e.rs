//! Tag hosted by the real tickwire server over real sockets, the way a studio's binary hosts
//! it: the page is served at `/tag/`; three clients built on tag's schema alone join by game
//! name, play with `TagBot`, rebuild the server's exact world and see "it" change hands; the
//! time limit ends the match with tag's results, and its replay re-simulates to the same.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tickwire::{Config, Games, Server};
use tickwire_client::{Event, GameClient, hello};
use tickwire_proto::msg::{EndReason, GameEvent, Hello, Phase, ServerMsg};
use tickwire_proto::schema::rows::EntityRow;
use tickwire_sim::Game;
use tickwire_tag::{Seen, Tag, TagBot, TagConfig, Tagged};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long any one wait may take.
const WAIT: Duration = Duration::from_secs(5);
/// The running phase, seconds: the match ends by the engine's time limit.
const DURATION_SECS: u32 = 4;

/// `GET path` over a fresh connection: the status code, the Content-Type and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

fn tag_hello(name: &str) -> Hello {
    Hello {
        game: Some("tag".into()),
        ..hello(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bots_play_tag_over_real_sockets() {
    let started = Instant::now();
    let mut config = Config::default();
    let dir = std::env::temp_dir().join(format!("tickwire-tag-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    config.server.data_dir = dir.clone();
    config.game.min_players = 3;
    config.game.match_duration_secs = DURATION_SECS;
    config.server.drain_timeout_ms = 200;
    // All three clients join from 127.0.0.1 within a moment.
    config.server.joins_per_ip_per_sec = 1000;
    let tick_rate = config.game.tick_rate;
    // A small board, so that "it" catches someone within the match's few seconds.
    let mut games = Games::new();
    games
        .register::<Tag>(TagConfig {
            board: 160,
            ..TagConfig::default()
        })
        .unwrap();
    let server = Server::with_games(config, games.clone()).unwrap();
    let handle = server.handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));

    // The page, from the files the crate embeds.
    let (status, ct, body) = http_get(addr, "/tag/").await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(body.contains(r#"src="tag.js""#), "{body}");
    let (status, ct, body) = http_get(addr, "/tag/tag.js").await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    assert!(body.contains("/sdk/tickwire.js"));
    assert_eq!(http_get(addr, "/tag/nothing.js").await.0, 404);
    // What the page draws with: the board and the players' radius.
    let (status, ct, body) = http_get(addr, "/game.json?game=tag").await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let rules: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (rules["board"].as_u64(), rules["radius"].as_f64()),
        (Some(160), Some(12.0))
    );

    let url = format!("ws://{addr}/ws");
    let schema = Tag::schema();
    let mut clients = Vec::new();
    for name in ["ann", "bob", "cat"] {
        let c = GameClient::connect_schema(&url, tag_hello(name), schema.clone())
            .await
            .unwrap();
        assert_eq!(c.welcome().game, "tag");
        assert_eq!(c.welcome().map.width, 160);
        clients.push(c);
    }
    let id = clients[0].welcome().match_id;
    assert!(
        clients.iter().all(|c| c.welcome().match_id == id),
        "one match"
    );

    let bot = TagBot;
    let mut its = Vec::new(); // "it" (an entity id) in order of change, as client 0 sees it
    let mut running_changes = 0; // of which while the match ran (tags made count from then)
    let mut heard = [0u32; 3]; // Tagged events per client
    let mut compared = 0;
    let mut ended = [None, None, None];
    while ended.iter().any(Option::is_none) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the match ends in time"
        );
        for (i, c) in clients.iter_mut().enumerate() {
            if ended[i].is_some() {
                continue;
            }
            let header = loop {
                let event = tokio::time::timeout(WAIT, c.next_event())
                    .await
                    .expect("in time");
                match event.unwrap() {
                    Event::State { header, .. } => break Some(header),
                    Event::Msg(ServerMsg::Event(GameEvent::Game { payload })) => {
                        Tagged::from_bytes(&payload).expect("tag's event");
                        heard[i] += 1;
                    }
                    Event::Msg(ServerMsg::MatchEnded(results)) => {
                        ended[i] = Some(results);
                        break None;
                    }
                    Event::Msg(_) => {}
                }
            };
            let Some(header) = header else { continue };
            let world: Vec<EntityRow> = c.rows().world().unwrap().values().cloned().collect();
            let seen: Vec<Seen> = world.iter().filter_map(Seen::from_row).collect();
            assert_eq!(seen.len(), world.len(), "every row is a player");
            let it: Vec<u32> = seen.iter().filter(|s| s.it).map(|s| s.id).collect();
            assert!(it.len() <= 1, "one it at most: {it:?}");
            if i == 0 && it.len() == 1 && its.last() != Some(&it[0]) {
                if !its.is_empty() && header.phase == Phase::Running {
                    running_changes += 1;
                }
                its.push(it[0]);
            }
            // The client's world is the server's at that tick, exactly.
            if header.tick % 10 == 0 {
                if let Some(rows) = handle.snapshot_rows(id, header.tick).await {
                    assert_eq!(world, rows, "client {i} at tick {}", header.tick);
                    compared += 1;
                }
            }
            let input = bot.input(c.welcome().entity_id, &seen);
            c.send_input(&input.payload()).await.unwrap();
        }
    }
    assert!(its.len() >= 2, "it changed hands: {its:?}");
    assert!(
        heard.iter().all(|&n| n >= 1),
        "everyone heard a tag: {heard:?}"
    );
    assert!(compared >= 10, "worlds compared {compared} times");

    let mut free_total = 0;
    let mut last_results = Vec::new();
    for results in ended.into_iter().flatten() {
        assert_eq!(results.reason, EndReason::TimeLimit);
        assert_eq!(results.players.len(), 3);
        assert!(
            results.players.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
        let tags: u32 = results.players.iter().map(|p| p.kills).sum();
        assert!(
            tags >= running_changes,
            "{tags} tags, {running_changes} seen"
        );
        free_total = results.players.iter().map(|p| p.score).sum::<u32>();
        last_results = results.players;
    }
    // Over the running phase, two of three players are free on every tick.
    let running = DURATION_SECS * u32::from(tick_rate);
    assert!(
        free_total.abs_diff(2 * running) <= 4,
        "free ticks {free_total} of {running} ticks"
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (records, _) = tickwire::results::read_results(&dir.join("results.jsonl")).unwrap();
    let rec = records
        .iter()
        .find(|r| r.match_id == id)
        .expect("the match's results");
    assert_eq!((rec.game.as_str(), rec.map.as_str()), ("tag", "board"));
    assert_eq!(
        rec.results.as_array().map(Vec::len),
        Some(3),
        "{}",
        rec.results
    );
    // The recorded match re-simulates to the same state hashes and results: tag is
    // deterministic, and its setup (the TagConfig) is in the replay's header.
    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay, &games).unwrap();
    assert_eq!(
        (outcome.map_name.as_str(), outcome.ticks),
        ("board", rec.ticks)
    );
    assert!(
        outcome.hashes_checked >= 3,
        "{} hashes",
        outcome.hashes_checked
    );
    let scores =
        |r: &[tickwire_proto::msg::PlayerResult]| r.iter().map(|p| p.score).collect::<Vec<_>>();
    assert_eq!(
        scores(&outcome.results),
        scores(&last_results),
        "replayed results"
    );
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "tag e2e: {} its, {compared} comparisons, {:?}",
        its.len(),
        started.elapsed()
    );
}

/// The load tester plays tag through [`TagPolicy`] (`tickwire_loadtest::run_with`), a game it
/// was not built with: every bot joins tag, rebuilds its world from tag's schema, and nothing
/// goes wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tester_plays_tag_with_its_policy() {
    let mut config = Config::default();
    let dir = std::env::temp_dir().join(format!("tickwire-tag-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    config.server.data_dir = dir.clone();
    config.server.joins_per_ip_per_sec = 1000;
    config.server.record_replays = false;
    config.server.drain_timeout_ms = 0;
    let mut games = Games::new();
    games.register::<Tag>(TagConfig::default()).unwrap();
    let server = Server::with_games(config, games).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));
    let options = tickwire_loadtest::Options {
        url: format!("ws://{addr}/ws"),
        bots: 3,
        per_match: 3,
        verify_sample: 3,
        duration: Duration::from_secs(2),
        quiet: true,
        ..tickwire_loadtest::Options::default()
    };
    let policy = std::sync::Arc::new(tickwire_tag::load::TagPolicy::default());
    let report = tickwire_loadtest::run_with(&options, policy).await.unwrap();
    let f = &report.figures;
    assert_eq!(report.options.game, "tag");
    assert_eq!(
        (f.connected, f.matches, f.verify_bots),
        (3, 1, 3),
        "{report:#?}"
    );
    assert!(f.verify_frames >= 3 * 30, "{report:#?}");
    assert_eq!(
        (f.verify_errors, f.decode_errors, f.errors),
        (0, 0, 0),
        "{report:#?}"
    );
    assert!(
        f.moving_entities_per_frame > 0.0,
        "the bots run: {report:#?}"
    );
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
