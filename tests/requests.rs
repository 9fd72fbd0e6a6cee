//! Game-defined requests over real sockets: answers in tick order, arena's emote reaching every
//! player and spectator in order, each refusal keeping the connection open, a flood that closes
//! only the flooder, and requests in a replay that still verifies.

mod common;

use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, closed_with, data_dir, fast_config, spectator, watch_for_a_second};
use tickwire_arena::ArenaRequest;
use tickwire_client::{Event, GameClient};
use tickwire_proto::msg::{
    ClientMsg, EndReason, GameEvent, RequestRefusal, RequestRefusalReason, ServerMsg,
};
use tickwire_sim::MAX_REQUEST_BYTES;

const WAIT: Duration = Duration::from_secs(5);

/// What a client hears of requests, with the tick of the newest state frame before it.
#[derive(Debug, PartialEq)]
enum Heard {
    /// A reply: the request id and the tick arena says it was handled at.
    Reply { id: u32, tick: u32 },
    /// A refusal.
    Refused(RequestRefusal),
    /// An emote event.
    Emote { player: u32, kind: u8 },
}

/// The next request answer or emote, acknowledging state frames on the way (so the client is
/// never closed as stalled); also returns the newest state tick seen before it.
async fn next_heard(c: &mut GameClient) -> (Heard, u32) {
    tokio::time::timeout(WAIT, async {
        let mut newest = 0;
        loop {
            match c.next_event().await {
                Ok(Event::State { header, .. }) => {
                    newest = newest.max(header.tick);
                    c.send(&ClientMsg::Ack { tick: header.tick }).await.unwrap();
                }
                Ok(Event::Msg(ServerMsg::Reply { id, payload })) => {
                    let tick = u32::from_le_bytes(payload.try_into().expect("a 4-byte tick"));
                    return (Heard::Reply { id, tick }, newest);
                }
                Ok(Event::Msg(ServerMsg::RequestRefused(r))) => {
                    return (Heard::Refused(r), newest);
                }
                Ok(Event::Msg(ServerMsg::Event(GameEvent::Emote { player, kind }))) => {
                    return (Heard::Emote { player, kind }, newest);
                }
                Ok(Event::Msg(_)) => {}
                Err(e) => panic!("connection ended while waiting for an answer: {e}"),
            }
        }
    })
    .await
    .expect("an answer in time")
}

/// The next refusal, past emotes (a client sees everyone's, its own included).
async fn next_refusal(c: &mut GameClient) -> RequestRefusal {
    loop {
        match next_heard(c).await.0 {
            Heard::Refused(r) => return r,
            Heard::Emote { .. } => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

async fn request(c: &mut GameClient, id: u32, payload: Vec<u8>) {
    c.send(&ClientMsg::Request { id, payload }).await.unwrap();
}

async fn emote(c: &mut GameClient, id: u32, kind: u8) {
    request(c, id, ArenaRequest::Emote { kind }.payload()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_in_tick_order() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let _bob = GameClient::join(&url, "bob").await.unwrap();
    let ann_id = ann.welcome().player_id;
    let sent_after = ann.next_state(WAIT).await.unwrap().tick;
    emote(&mut ann, 7, 1).await;
    emote(&mut ann, 8, 2).await;
    // Each reply names the tick the game handled it at: after the newest frame the client
    // had when it sent, and before the frame of that tick reached it. A tick's answers come
    // before its events, so each emote follows its own reply, and neither beats its frame.
    let mut heard = Vec::new();
    for _ in 0..4 {
        heard.push(next_heard(&mut ann).await);
    }
    let replies: Vec<(u32, u32, usize)> = heard
        .iter()
        .enumerate()
        .filter_map(|(at, (h, _))| match *h {
            Heard::Reply { id, tick } => Some((id, tick, at)),
            _ => None,
        })
        .collect();
    let emotes: Vec<(u8, usize)> = heard
        .iter()
        .enumerate()
        .filter_map(|(at, (h, _))| match *h {
            Heard::Emote { player, kind } if player == ann_id => Some((kind, at)),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies.iter().map(|r| r.0).collect::<Vec<_>>(),
        [7, 8],
        "answers come in the order the requests were sent: {heard:?}"
    );
    assert_eq!(emotes.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
    let (t7, t8) = (replies[0].1, replies[1].1);
    assert!(
        t7 > sent_after,
        "handled at tick {t7}, sent after {sent_after}"
    );
    assert!(t8 >= t7, "tick {t8} after {t7}");
    for ((_, tick, reply_at), (_, emote_at)) in replies.iter().zip(&emotes) {
        assert!(reply_at < emote_at, "the reply before its emote: {heard:?}");
        assert!(
            heard[*reply_at].1 < *tick,
            "the frame of tick {tick} came before its answer"
        );
        assert!(
            heard[*emote_at].1 < *tick,
            "the frame of tick {tick} came before its event"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emote_reaches_every_player_and_spectator_in_order() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let mut bob = GameClient::join(&url, "bob").await.unwrap();
    let mut cat = GameClient::join(&url, "cat").await.unwrap();
    let id = ann.welcome().match_id;
    assert_eq!((bob.welcome().match_id, cat.welcome().match_id), (id, id));
    let mut watcher = spectator(&server, id).await;
    let ids = [
        ann.welcome().player_id,
        bob.welcome().player_id,
        cat.welcome().player_id,
    ];
    let script = [(0, 5), (1, 0), (2, 7), (0, 3), (1, 1)];
    let mut seen = Vec::new();
    for (n, (who, kind)) in script.into_iter().enumerate() {
        let sender = [&mut ann, &mut bob, &mut cat].into_iter().nth(who).unwrap();
        emote(sender, n as u32, kind).await;
        // The spectator never sends: waiting for its copy fixes the order of the script.
        let (heard, _) = next_heard(&mut watcher).await;
        assert_eq!(
            heard,
            Heard::Emote {
                player: ids[who],
                kind
            }
        );
        seen.push(heard);
    }
    // Every player reads the same emotes in the same order; a sender also gets its replies,
    // each before its own emote.
    for (p, player) in [&mut ann, &mut bob, &mut cat].into_iter().enumerate() {
        let mut got = Vec::new();
        let mut replies = Vec::new();
        while got.len() < seen.len() {
            match next_heard(player).await.0 {
                Heard::Reply { id, .. } => {
                    assert_eq!(script[id as usize].0, p, "a reply goes to its sender only");
                    replies.push(id);
                }
                other => got.push(other),
            }
        }
        assert_eq!(got, seen);
        let mine: Vec<u32> = (0..script.len() as u32)
            .filter(|&i| script[i as usize].0 == p)
            .collect();
        assert_eq!(replies, mine);
    }
    // An unknown kind is well-formed: the game refuses it with its reason, and nobody sees it.
    emote(&mut ann, 99, 200).await;
    assert_eq!(
        next_refusal(&mut ann).await,
        RequestRefusal {
            id: 99,
            reason: RequestRefusalReason::Refused,
            limit: 0,
            message: "unknown emote kind 200; kinds are 0..=7".into(),
        }
    );
    emote(&mut bob, 100, 4).await;
    assert_eq!(
        next_heard(&mut watcher).await.0,
        Heard::Emote {
            player: ids[1],
            kind: 4
        },
        "the refused emote reached no one"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_is_answered_and_the_connection_stays_open() {
    let mut cfg = fast_config();
    cfg.requests.burst = 2;
    cfg.requests.per_second = 1;
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let mut watcher = spectator(&server, ann.welcome().match_id).await;

    request(&mut ann, 1, vec![0; MAX_REQUEST_BYTES + 1]).await;
    assert_eq!(
        next_refusal(&mut ann).await,
        RequestRefusal {
            id: 1,
            reason: RequestRefusalReason::TooLarge,
            limit: MAX_REQUEST_BYTES as u32,
            message: String::new(),
        }
    );
    request(&mut ann, 2, vec![9, 9]).await;
    assert_eq!(
        next_refusal(&mut ann).await,
        RequestRefusal {
            id: 2,
            reason: RequestRefusalReason::Malformed,
            limit: 0,
            message: "unknown request tag 9".into(),
        }
    );
    // The malformed request was charged (the size check comes before the rate, decoding
    // after): one of the burst of 2 is left.
    emote(&mut ann, 3, 0).await;
    assert!(matches!(
        next_heard(&mut ann).await.0,
        Heard::Reply { id: 3, .. }
    ));
    emote(&mut ann, 4, 0).await;
    let limited = next_refusal(&mut ann).await;
    assert_eq!(
        (limited.id, limited.reason),
        (4, RequestRefusalReason::RateLimited)
    );
    // 1/s at 30 Hz: the next credit is up to a second away.
    assert!(
        (1..=1000).contains(&limited.limit),
        "wait {} ms",
        limited.limit
    );
    // Spectators have no seat for the game to act on.
    emote(&mut watcher, 5, 0).await;
    assert_eq!(
        next_refusal(&mut watcher).await.reason,
        RequestRefusalReason::NotPlayer
    );
    // Refused, not disconnected: both still get state.
    ann.next_state(WAIT).await.unwrap();
    watcher.next_state(WAIT).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_flood_closes_only_the_flooder() {
    let mut cfg = fast_config();
    cfg.requests.flood_refusals = 10;
    // The bystander is not read while the flood goes out: on a loaded machine that can take
    // longer than fast_config's 800 ms idle timeout, which would close it as a dead peer.
    cfg.net.idle_timeout_ms = 10_000;
    let burst = cfg.requests.burst;
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
    // Within the message cap (so this is the requests' own limit, not the transport's): the
    // burst goes out, then every request is refused until the 11th refusal closes it.
    for i in 0..(burst + 30) {
        if flooder
            .send(&ClientMsg::Request {
                id: i,
                payload: ArenaRequest::Emote { kind: 0 }.payload(),
            })
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(closed_with(&mut flooder).await, 1008);
    // The bystander kept one frame per tick and saw the emotes that were accepted.
    let (frames, emotes, last) = watch_for_a_second(&mut bystander, started, first, |m| {
        matches!(m, ServerMsg::Event(GameEvent::Emote { .. }))
    })
    .await;
    let ticks = last - first;
    assert_eq!(emotes, burst, "the burst was shown, nothing after it");
    assert!(ticks >= 20, "the match kept ticking ({ticks} ticks)");
    assert!(
        frames * 10 >= ticks * 9,
        "{frames} frames over {ticks} ticks"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_travel_in_the_replay_and_it_still_verifies() {
    let mut cfg = fast_config();
    let dir = data_dir("requests-replay");
    cfg.server.data_dir = dir.clone();
    cfg.requests.burst = 3;
    // One credit a second: the loop below takes far less, so the burst is all there is.
    cfg.requests.per_second = 1;
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let mut ann = GameClient::join(&url, "ann").await.unwrap();
    let mut bob = GameClient::join(&url, "bob").await.unwrap();
    let id = ann.welcome().match_id;
    let mut answered = 0;
    for i in 0..4u32 {
        ann.arena_input(100, 0, 0, 1).await.unwrap();
        emote(&mut ann, i, i as u8).await;
        bob.arena_input(-100, 20, 9, 0).await.unwrap();
        // Refusals travel too: bob's first is malformed (and charged), the next two are unknown
        // kinds (the game's refusals), the fourth is over his burst of 3; ann's fourth emote
        // is over hers.
        request(
            &mut bob,
            100 + i,
            if i == 0 { vec![1] } else { vec![0, 50] },
        )
        .await;
        let (heard, _) = next_heard(&mut ann).await;
        if matches!(heard, Heard::Reply { .. }) {
            answered += 1;
            assert!(matches!(next_heard(&mut ann).await.0, Heard::Emote { .. }));
        }
        next_refusal(&mut bob).await;
    }
    assert_eq!(answered, 3, "the fourth emote was over the burst");
    assert!(server.handle.end_match(id, EndReason::Admin).await);
    assert_eq!(closed_with(&mut ann).await, 1000);
    let replay = dir.join("replays").join(format!("{id}.bin"));
    let outcome = tickwire::replay::verify(&replay, &common::games()).unwrap();
    // 8 requests pushed; 3 replies and 2 game refusals re-simulated and compared.
    assert_eq!((outcome.requests, outcome.answers), (8, 5));
    assert!(outcome.hashes_checked >= 1);
    server.stop().await;
}
