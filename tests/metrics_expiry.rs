//! Per-match series leave `/metrics` once their match is gone, whether or not anyone scrapes in
//! between: the exporter's idle-series expiry is driven by the server's own upkeep. This test
//! binary installs the process-wide recorder with a 2 s timeout (the server's is 120 s).

mod common;

use std::time::Duration;

use common::ArenaInputs as _;
use common::{TestServer, fast_config};
use tickwire_client::GameClient;
use tickwire_proto::msg::EndReason;

const IDLE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_matchs_histograms_expire_without_scrapes() {
    let metrics = tickwire::telemetry::prometheus_with(IDLE).expect("the first recorder here");
    let server = TestServer::start(fast_config()).await;
    let mut c = GameClient::join(&server.url(), "ann").await.unwrap();
    let match_id = c.welcome().match_id;
    for _ in 0..10 {
        c.next_state(Duration::from_secs(5)).await.unwrap();
        c.arena_input(0, 0, 0, 0).await.unwrap();
    }
    let series = format!("tickwire_tick_duration_seconds_count{{match=\"{match_id}\"}}");
    // One scrape while the match runs: the series is there, and the exporter has seen its
    // latest sample (without upkeep, the idle clock would start at the next scrape).
    assert!(metrics.render().contains(&series), "{series} while running");
    assert!(server.handle.end_match(match_id, EndReason::Admin).await);
    drop(c);
    // No scrape for the timeout plus two upkeep periods and slack for a loaded machine.
    tokio::time::sleep(IDLE + IDLE / 2 + Duration::from_secs(2)).await;
    let text = metrics.render();
    assert!(
        !text.contains(&format!("match=\"{match_id}\"")),
        "the ended match's series are gone:\n{text}"
    );
    server.stop().await;
}
