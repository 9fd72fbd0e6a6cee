//! In-match chat over real sockets: delivery and order to every player and spectator, the caps
//! and their refusals, mutes, a flood that closes only the flooder, the admin endpoints, and
//! chat lines in a replay that still verifies.

mod common;

use std::time::Duration;

use common::ArenaInputs as _;
use common::{
    TestServer, closed_with, data_dir, fast_config, http, json, spectator, start_admin,
    watch_for_a_second,
};
use tickwire_client::{Event, GameClient};
use tickwire_proto::msg::{
    ChatLine, ChatRefusal, ChatRefusalReason, ClientMsg, EndReason, ServerMsg,
};

const WAIT: Duration = Duration::from_secs(5);

/// The next chat message (a line or a refusal), acknowledging state frames on the way so the
/// client is never closed as stalled.
async fn next_chat(c: &mut GameClient) -> ServerMsg {
    tokio::time::timeout(WAIT, async {
        loop {
            match c.next_event().await {
                Ok(Event::State { header, .. }) => {
                    c.send(&ClientMsg::Ack { tick: header.tick }).await.unwrap();
                }
                Ok(Event::Msg(msg @ (ServerMsg::Chat(_) | ServerMsg::ChatRefused(_)))) => {
                    return msg;
                }
                Ok(Event::Msg(_)) => {}
                Err(e) => panic!("connection ended while waiting for chat: {e}"),
            }
        }
    })
    .await
    .expect("a chat message in time")
}

async fn next_line(c: &mut GameClient) -> ChatLine {
    match next_chat(c).await {
        ServerMsg::Chat(line) => line,
        other => panic!("expected a chat line, got {other:?}"),
    }
}

async fn next_refusal(c: &mut GameClient) -> ChatRefusal {
    match next_chat(c).await {
        ServerMsg::ChatRefused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn say(c: &mut GameClient, text: &str) {
    c.send(&ClientMsg::Chat { text: text.into() })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_every_player_and_spectator_in_order() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let mut bob = GameClient::join(&url, "bob").await.unwrap();
    let mut cat = GameClient::join(&url, "cat").await.unwrap();
    let id = ann.welcome().match_id;
    assert_eq!((bob.welcome().match_id, cat.welcome().match_id), (id, id));
    let mut watcher = spectator(&server, id).await;

    // Interleaved senders; a bidirectional override and a zero-width space are cleaned away.
    let script = [
        (0, "hello all", "hello all"),
        (1, "hi \u{202e}ann\u{200b}", "hi ann"),
        (2, "gg", "gg"),
        (0, "  spaced   out  ", "spaced out"),
        (1, "日本語 ok", "日本語 ok"),
    ];
    let names = ["ann", "bob", "cat"];
    let player_ids = [
        ann.welcome().player_id,
        bob.welcome().player_id,
        cat.welcome().player_id,
    ];
    let mut seen = Vec::new();
    for (who, text, clean) in script {
        let sender = [&mut ann, &mut bob, &mut cat].into_iter().nth(who).unwrap();
        say(sender, text).await;
        // The spectator never sends: waiting for its copy fixes the order of the script.
        let line = next_line(&mut watcher).await;
        assert_eq!(
            (line.from, line.name.as_str(), line.text.as_str()),
            (player_ids[who], names[who], clean)
        );
        seen.push(line);
    }
    let seqs: Vec<u32> = seen.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "numbered in order without gaps");
    assert!(seen.windows(2).all(|w| w[0].tick <= w[1].tick));
    // Every player, senders included, reads exactly the same lines in the same order.
    for player in [&mut ann, &mut bob, &mut cat] {
        let mut got = Vec::new();
        for _ in 0..seen.len() {
            got.push(next_line(player).await);
        }
        assert_eq!(got, seen);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_answer_with_a_refusal_and_keep_the_connection() {
    let mut cfg = fast_config();
    cfg.chat.max_line_bytes = 16;
    cfg.chat.burst = 3;
    cfg.chat.lines_per_minute = 6;
    cfg.chat.word_filter = vec!["darn".into()];
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let id = ann.welcome().match_id;
    let mut watcher = spectator(&server, id).await;

    say(&mut ann, &"x".repeat(17)).await;
    assert_eq!(
        next_refusal(&mut ann).await,
        ChatRefusal {
            reason: ChatRefusalReason::TooLong,
            limit: 16
        }
    );
    say(&mut ann, "\u{200b}\n\u{2066}").await;
    assert_eq!(
        next_refusal(&mut ann).await.reason,
        ChatRefusalReason::Empty
    );
    say(&mut ann, "DARN it").await;
    assert_eq!(next_line(&mut ann).await.text, "**** it");
    say(&mut ann, "two").await;
    say(&mut ann, "three").await;
    assert_eq!(next_line(&mut ann).await.text, "two");
    assert_eq!(next_line(&mut ann).await.text, "three");
    // The burst of 3 is spent; at 6 lines a minute the next is 10 s away.
    say(&mut ann, "four").await;
    let limited = next_refusal(&mut ann).await;
    assert_eq!(limited.reason, ChatRefusalReason::RateLimited);
    assert!(
        (9000..=10_000).contains(&limited.limit),
        "wait {} ms",
        limited.limit
    );
    for want in ["**** it", "two", "three"] {
        assert_eq!(next_line(&mut watcher).await.text, want);
    }
    // Spectators read but may not send by default.
    say(&mut watcher, "hi").await;
    assert_eq!(
        next_refusal(&mut watcher).await.reason,
        ChatRefusalReason::Spectator
    );
    // Refused, not disconnected: both still get state.
    ann.next_state(WAIT).await.unwrap();
    watcher.next_state(WAIT).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_stops_delivery_to_the_muter_only() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let mut bob = GameClient::join(&url, "bob").await.unwrap();
    let mut cat = GameClient::join(&url, "cat").await.unwrap();
    let ann_id = ann.welcome().player_id;
    bob.send(&ClientMsg::Mute {
        player: ann_id,
        muted: true,
    })
    .await
    .unwrap();
    // Cat's line is a marker: Bob reads it, so the mute (sent before) has been applied.
    say(&mut cat, "marker").await;
    assert_eq!(next_line(&mut bob).await.text, "marker");
    say(&mut ann, "you cannot hear me").await;
    assert_eq!(next_line(&mut cat).await.text, "marker");
    assert_eq!(next_line(&mut cat).await.text, "you cannot hear me");
    // Only now: Ann's and Cat's lines come over different sockets, so Cat's "after" is sent
    // once Ann's line has been delivered, or it could overtake it.
    say(&mut cat, "after").await;
    assert_eq!(next_line(&mut cat).await.text, "after");
    assert_eq!(
        next_line(&mut bob).await.text,
        "after",
        "bob skips ann's line"
    );
    bob.send(&ClientMsg::Mute {
        player: ann_id,
        muted: false,
    })
    .await
    .unwrap();
    say(&mut cat, "marker 2").await;
    assert_eq!(next_line(&mut bob).await.text, "marker 2");
    say(&mut ann, "back").await;
    assert_eq!(next_line(&mut bob).await.text, "back");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_flood_closes_only_the_flooder() {
    let mut cfg = fast_config();
    cfg.chat.flood_refusals = 10;
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut flooder = GameClient::join(&url, "flooder").await.unwrap();
    let mut bystander = GameClient::join(&url, "bystander").await.unwrap();
    assert_eq!(
        flooder.welcome().match_id,
        bystander.welcome().match_id,
        "same match"
    );
    let first = bystander.next_state(WAIT).await.unwrap().tick;
    let started = tokio::time::Instant::now();
    // Within the message cap (so this is the chat's own limit, not the transport's): the
    // burst of 5 goes out, then every line is refused until the 11th refusal closes it.
    for i in 0..40 {
        if flooder
            .send(&ClientMsg::Chat {
                text: format!("spam {i}"),
            })
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(closed_with(&mut flooder).await, 1008);
    // The bystander kept one frame per tick and heard the lines that were accepted.
    let (frames, lines, last) = watch_for_a_second(&mut bystander, started, first, |m| {
        matches!(m, ServerMsg::Chat(_))
    })
    .await;
    let ticks = last - first;
    assert_eq!(lines, 5, "the burst was delivered, nothing after it");
    assert!(ticks >= 20, "the match kept ticking ({ticks} ticks)");
    assert!(
        frames * 10 >= ticks * 9,
        "{frames} frames over {ticks} ticks"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reads_the_chat_and_silences_a_player() {
    let mut cfg = fast_config();
    cfg.admin.token = "letmein".into();
    let server = TestServer::start(cfg).await;
    let admin = start_admin(&server).await;
    let tok = Some("letmein");
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let id = ann.welcome().match_id;
    let ann_id = ann.welcome().player_id;
    say(&mut ann, "first").await;
    say(&mut ann, "second").await;
    next_line(&mut ann).await;
    next_line(&mut ann).await;

    let path = format!("{admin}/matches/{id}/chat");
    assert_eq!(
        http("GET", &path, None, None).await.0,
        401,
        "behind the token"
    );
    let (status, body) = http("GET", &path, tok, None).await;
    assert_eq!(status, 200, "{body}");
    let log = json(&body);
    let texts: Vec<&str> = log["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(log["lines"][0]["name"], "ann");
    assert_eq!(log["lines"][1]["seq"], 2);

    let mute = format!("{admin}/matches/{id}/chat/mute");
    let body = format!(r#"{{"player": {ann_id}, "muted": true}}"#);
    let (status, text) = http("POST", &mute, tok, Some(&body)).await;
    assert_eq!(status, 200, "{text}");
    say(&mut ann, "third").await;
    assert_eq!(
        next_refusal(&mut ann).await.reason,
        ChatRefusalReason::Silenced
    );
    let body = format!(r#"{{"player": {ann_id}, "muted": false}}"#);
    assert_eq!(http("POST", &mute, tok, Some(&body)).await.0, 200);
    say(&mut ann, "fourth").await;
    assert_eq!(next_line(&mut ann).await.text, "fourth");

    // Bad requests get clear errors.
    let (status, _) = http("POST", &mute, tok, Some(r#"{"player": 999}"#)).await;
    assert_eq!(status, 404, "no such player");
    let (status, _) = http("POST", &mute, tok, Some(r#"{"who": 1}"#)).await;
    assert_eq!(status, 422, "unknown field");
    let (status, _) = http("GET", &format!("{admin}/matches/424242/chat"), tok, None).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_lines_travel_in_the_replay_and_it_still_verifies() {
    let mut cfg = fast_config();
    let dir = data_dir("chat-replay");
    cfg.server.data_dir = dir.clone();
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let mut bob = GameClient::join(&url, "bob").await.unwrap();
    let id = ann.welcome().match_id;
    for i in 0..4 {
        ann.arena_input(100, 0, 0, 1).await.unwrap();
        say(&mut ann, &format!("line {i}")).await;
        bob.arena_input(-100, 20, 9, 0).await.unwrap();
        next_line(&mut bob).await;
    }
    assert!(server.handle.end_match(id, EndReason::Admin).await);
    assert_eq!(closed_with(&mut ann).await, 1000);
    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay, &common::games()).unwrap();
    assert_eq!(outcome.chat_lines, 4);
    assert!(outcome.hashes_checked >= 1);
    server.stop().await;
}
