//! A playable match over real sockets: clients rebuild the exact server state from deltas,
//! deltas are small, and a client that stops acknowledging converges when it resumes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, fast_config};
use tickwire_arena::BUTTON_FIRE;
use tickwire_arena::EntityState;
use tickwire_client::{Event, GameClient};
use tickwire_proto::msg::ClientMsg;

const FRAME_WAIT: Duration = Duration::from_secs(2);

/// Deterministic per-client pseudo-random walk so runs are repeatable.
struct Walk(u64);
impl Walk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Plays `ticks` ticks: one input per received frame, moving and shooting. Returns the worlds
/// the client rebuilt for its last 20 applied ticks.
async fn play(
    mut c: GameClient,
    ticks: u32,
    seed: u64,
) -> (GameClient, BTreeMap<u32, Vec<EntityState>>) {
    let mut walk = Walk(seed | 1);
    let mut kept = BTreeMap::new();
    let first = c.next_state(FRAME_WAIT).await.unwrap().tick;
    let (mut mx, mut my) = (0i8, 0i8);
    loop {
        let r = walk.next();
        if r % 10 == 0 {
            mx = (r >> 8) as i8;
            my = (r >> 16) as i8;
        }
        let fire = if r % 7 == 0 { BUTTON_FIRE } else { 0 };
        c.arena_input(mx, my, (r >> 24) as u8, fire).await.unwrap();
        let header = c.next_state(FRAME_WAIT).await.unwrap();
        let world = c.arena_world().into_values().collect();
        kept.insert(header.tick, world);
        while kept.len() > 20 {
            kept.pop_first();
        }
        if header.tick >= first + ticks {
            return (c, kept);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_clients_rebuild_the_exact_server_state() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut clients = Vec::new();
    for i in 0..8 {
        clients.push(GameClient::join(&url, &format!("bot{i}")).await.unwrap());
    }
    let match_id = clients[0].welcome().match_id;
    assert!(clients.iter().all(|c| c.welcome().match_id == match_id));
    let mut ids: Vec<_> = clients.iter().map(|c| c.welcome().player_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 8, "every client got its own seat");

    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(play(c, 100, 0x9E37 + i as u64)))
        .collect();
    let mut compared = 0;
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    for (_, kept) in &results {
        for (tick, world) in kept.iter().rev().take(5) {
            let Some(auth) = server.handle.snapshot(match_id, *tick).await else {
                continue;
            };
            assert_eq!(
                world, &auth,
                "client world differs from the server at tick {tick}"
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 8 * 3,
        "compared only {compared} worlds with the server"
    );
    // The match saw real action: projectiles were fired by someone.
    let last = &results[0].1;
    assert!(last.values().any(|w| w.len() >= 8));
    for (c, _) in results {
        c.close().await.unwrap();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_are_small_and_a_silent_client_converges() {
    let server = TestServer::start(fast_config()).await;
    let url = server.url();
    let mut movers = Vec::new();
    for i in 0..8 {
        movers.push(GameClient::join(&url, &format!("mover{i}")).await.unwrap());
    }
    let match_id = movers[0].welcome().match_id;
    let mut watcher = movers.pop().unwrap();
    let background: Vec<_> = movers
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(play(c, 150, 7 + i as u64)))
        .collect();

    // Acknowledge every tick (while moving too) and measure frame sizes.
    let mut full_size = None;
    let mut delta_sizes = Vec::new();
    let mut walk = Walk(99);
    while delta_sizes.len() < 40 {
        watcher
            .arena_input((walk.next() % 255) as i8, 60, 0, 0)
            .await
            .unwrap();
        match watcher.next_event().await.unwrap() {
            Event::State { header, bytes } if header.baseline_age == 0 => {
                full_size.get_or_insert(bytes);
            }
            Event::State { bytes, .. } if full_size.is_some() => delta_sizes.push(bytes),
            _ => {}
        }
    }
    let full = full_size.unwrap();
    delta_sizes.sort_unstable();
    let median = delta_sizes[delta_sizes.len() / 2];
    eprintln!("full snapshot {full} B, median delta {median} B with 8 moving players");
    assert!(
        median * 2 <= full,
        "median delta {median} B is not under half of a full snapshot {full} B"
    );

    // Now stop acknowledging (and sending) for longer than the server's history, reading on.
    let stop_until = tokio::time::Instant::now() + Duration::from_millis(2600);
    let (mut aged, mut full_again) = (0, 0);
    while tokio::time::Instant::now() < stop_until {
        if let Event::State { header, .. } = watcher.next_event().await.unwrap() {
            match header.baseline_age {
                0 => full_again += 1,
                age if age > 30 => aged += 1,
                _ => {}
            }
        }
    }
    // Deltas stay relative to the last acknowledged tick until it leaves the server's
    // history, then the server falls back to full snapshots.
    assert!(aged > 0, "no delta against the old acknowledged baseline");
    assert!(
        full_again > 0,
        "no full snapshot once the baseline left the history"
    );
    // Resume acknowledging: the client converges exactly.
    let mut checked = false;
    for _ in 0..30 {
        watcher
            .send(&ClientMsg::Ack {
                tick: watcher.ack_tick(),
            })
            .await
            .unwrap();
        let header = watcher.next_state(FRAME_WAIT).await.unwrap();
        let world: Vec<_> = watcher.arena_world().into_values().collect();
        if let Some(auth) = server.handle.snapshot(match_id, header.tick).await {
            assert_eq!(world, auth, "diverged at tick {}", header.tick);
            checked = true;
        }
    }
    assert!(checked);
    for t in background {
        t.await.unwrap();
    }
    server.stop().await;
}
