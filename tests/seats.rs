//! One address cannot take the server's seats: seats count against the address that joined
//! them (seats kept for a reconnect included), joins are rate-limited per address, a seat that
//! never acknowledged a frame gets no grace, and names cannot impersonate with invisible
//! characters. The attacker connects from 127.0.0.2, a second loopback address, so that a
//! player on 127.0.0.1 shows what everyone else still gets.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, Witness, fast_config};
use tickwire::Config;
use tickwire_client::{ClientError, GameClient, hello};
use tickwire_net::client::ClientConfig;
use tickwire_proto::msg::{Hello, JoinTarget, RejectReason};

const WAIT: Duration = Duration::from_secs(5);
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn from_attacker() -> ClientConfig {
    ClientConfig {
        local_ip: Some(ATTACKER),
        ..ClientConfig::default()
    }
}

/// The fast test settings with the embedded per-address limits and reconnect grace.
fn config() -> Config {
    let defaults = Config::default();
    let mut c = fast_config();
    c.server.max_seats_per_ip = defaults.server.max_seats_per_ip;
    c.server.joins_per_ip_per_sec = defaults.server.joins_per_ip_per_sec;
    c.server.reconnect_grace_ms = defaults.server.reconnect_grace_ms;
    c
}

/// Joins any match from the attacker's address, acknowledges one frame (so the seat earns its
/// grace period) and drops the link without Leave. Returns the refusal, if any.
async fn join_ack_and_vanish(url: &str) -> Option<(RejectReason, String)> {
    match GameClient::connect_with(url, hello("grabber"), &from_attacker()).await {
        Ok(mut c) => {
            c.next_state(WAIT).await.unwrap();
            c.arena_input(0, 0, 0, 0).await.unwrap();
            // Give the acknowledgement a tick to reach the match before the link drops.
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
        Err(ClientError::Rejected { reason, message }) => Some((reason, message)),
        Err(e) => panic!("join failed without a Reject: {e}"),
    }
}

async fn join_ack_and_vanish_owned(url: String) -> Option<(RejectReason, String)> {
    join_ack_and_vanish(&url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_seat() {
    let mut cfg = config();
    // 4 matches of 16: 64 seats, twice what one address may hold.
    cfg.server.max_matches = 4;
    cfg.game.max_players = 16;
    let limit = cfg.server.max_seats_per_ip;
    let server = TestServer::start(cfg).await;
    let url = server.url();
    let witness = Witness::start(&server).await;

    // A burst first, all at once: past two seconds' worth of joins, the rate refuses.
    let burst: Vec<_> = (0..25)
        .map(|_| tokio::spawn(join_ack_and_vanish_owned(url.clone())))
        .collect();
    let mut seated = 0u32;
    let mut refusals = Vec::new();
    for task in burst {
        match task.await.unwrap() {
            None => seated += 1,
            Some(r) => refusals.push(r),
        }
    }
    assert!(
        refusals
            .iter()
            .any(|(r, m)| *r == RejectReason::AddressLimit && m.contains("too frequent")),
        "a burst of 25 joins hits the join rate: {refusals:?}"
    );
    // Then at the allowed rate until well past the seat cap.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    refusals.clear();
    while tokio::time::Instant::now() < deadline {
        match join_ack_and_vanish(&url).await {
            None => seated += 1,
            Some(r) => refusals.push(r),
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(
        seated, limit,
        "the address got exactly its seats, each kept for its grace period"
    );
    assert_eq!(server.handle.state().addresses.seats_held(ATTACKER), limit);
    assert!(
        refusals
            .iter()
            .any(|(r, m)| *r == RejectReason::AddressLimit && m.contains("too many seats")),
        "{refusals:?}"
    );

    // Everyone else still gets a seat, and plays.
    let mut other = GameClient::join(&url, "bystander").await.unwrap();
    for _ in 0..10 {
        other.next_state(WAIT).await.unwrap();
        other.arena_input(0, 0, 0, 0).await.unwrap();
    }
    witness.check().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_seat_gets_no_grace() {
    let server = TestServer::start(config()).await;
    let url = server.url();
    let match_id = server.handle.create_match().unwrap();
    let join = Hello {
        join: JoinTarget::Match(match_id),
        ..hello("ghost")
    };
    let seats = || {
        server
            .handle
            .state()
            .registry
            .get(match_id)
            .unwrap()
            .shared
            .seats
            .load(std::sync::atomic::Ordering::Acquire)
    };
    // Join, read a frame, acknowledge nothing, vanish.
    let mut ghost = GameClient::connect_with(&url, join.clone(), &from_attacker())
        .await
        .unwrap();
    let token = ghost.welcome().session;
    ghost.next_state(WAIT).await.unwrap();
    drop(ghost);
    let freed = async {
        while seats() != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, freed)
        .await
        .expect("the seat is freed at once, not after the 10 s grace period");
    assert_eq!(server.handle.state().addresses.seats_held(ATTACKER), 0);
    let resumed = GameClient::connect(
        &url,
        Hello {
            session: Some(token),
            ..hello("ghost")
        },
    )
    .await;
    assert!(
        matches!(
            resumed,
            Err(ClientError::Rejected {
                reason: RejectReason::SeatExpired,
                ..
            })
        ),
        "{:?}",
        resumed.err()
    );

    // A seat that acknowledged keeps its grace period (and counts against its address).
    let mut kept = GameClient::connect_with(&url, join, &from_attacker())
        .await
        .unwrap();
    kept.next_state(WAIT).await.unwrap();
    kept.arena_input(0, 0, 0, 0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(kept);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seats(), 1, "an acknowledged seat survives its dropped link");
    assert_eq!(server.handle.state().addresses.seats_held(ATTACKER), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_cannot_impersonate_a_player() {
    let server = TestServer::start(config()).await;
    let url = server.url();
    let mut real = GameClient::join(&url, "bystander").await.unwrap();
    let fake = GameClient::join(&url, "bys\u{200b}tan\u{202e}der\u{feff}")
        .await
        .unwrap();
    let fake_entity = fake.welcome().entity_id;
    let name = loop {
        real.next_state(WAIT).await.unwrap();
        real.arena_input(0, 0, 0, 0).await.unwrap();
        if let Some([name]) = real.rows().strings_of(fake_entity) {
            break name.to_owned();
        }
    };
    assert_eq!(name, "bystander", "the other player sees the cleaned name");
    server.stop().await;
}
