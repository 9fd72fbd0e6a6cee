//! `tickwire loadtest`: runs the load tester (`tickwire-loadtest`) against a server, or
//! against one started in this process with `--embedded`. The server lives here rather than in
//! the load-test crate because that crate cannot depend on this one (this one depends on it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tickwire::server::{BIG_MAP, MatchSpec, OPEN_ARENA_MAP};
use tickwire::{Server, ServerError};
use tickwire_loadtest::{Options, Scenario};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ServeArgs;

/// Exit status when a `--fail-if` condition holds (1 stays "could not run").
const FAIL_IF_EXIT: u8 = 3;
/// How long `--write-floor` measures, as a duration.
const FLOOR_DURATION: Duration = Duration::from_secs(2);
/// Connections allowed beyond the bots on an embedded server, connections.
const CONNECTION_HEADROOM: usize = 16;
/// Seats the embedded server's scenario match has beyond the bots, seats.
const SEAT_HEADROOM: u16 = 16;
/// Match time beyond the run so no match ends during it, seconds.
const MATCH_TIME_MARGIN_SECS: f64 = 120.0;
/// How long the embedded server may take to stop, as a duration.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `tickwire loadtest`; `serve` holds the server flags, which configure the embedded
/// server (and are refused without `--embedded`, where they would do nothing).
pub(crate) fn run(options: Options, serve: &ServeArgs) -> anyhow::Result<ExitCode> {
    if !options.embedded && *serve != ServeArgs::default() {
        anyhow::bail!(
            "--config, --addr, --admin-addr, --tick-rate, --players-per-match and --data-dir \
             configure the embedded server: add --embedded, or configure the server at --url"
        );
    }
    if let Some(bytes) = options.write_floor {
        let floor = tickwire_loadtest::write_floor(bytes, FLOOR_DURATION)?;
        println!("{}", serde_json::to_string(&floor)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut opts = options.resolved()?;
    // A typo in a condition must fail before a long run, not after it.
    let names = tickwire_loadtest::figure_names();
    for condition in &opts.fail_if {
        condition.check_name(&names)?;
    }
    let rt = tokio::runtime::Runtime::new()?;
    let report = rt.block_on(async {
        let embedded = if opts.embedded {
            Some(Embedded::start(&opts, serve).await?)
        } else {
            None
        };
        if let Some(server) = &embedded {
            opts.url = server.url.clone();
        }
        let report = tickwire_loadtest::run(&opts).await;
        if let Some(server) = embedded {
            server.stop().await?;
        }
        anyhow::Ok(report?)
    })?;
    if !opts.quiet {
        print!("{}", report.table());
    }
    if let Some(path) = &opts.json {
        // The README writes under `target/`, which a fresh checkout lacks
        // until the first build; make the folder rather than lose the run.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(path, report.to_json()?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failed = report.failed(&opts.fail_if)?;
    for (condition, value) in &failed {
        eprintln!(
            "tickwire loadtest: --fail-if {condition} holds ({} = {value})",
            condition.name
        );
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAIL_IF_EXIT)
    })
}

/// A server running in this process on an ephemeral loopback port.
struct Embedded {
    url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
    data_dir: PathBuf,
}

impl Embedded {
    /// Starts a server configured for the run: matches of `--per-match` seats that never end
    /// during it, connection limits above the bot count (every bot comes from 127.0.0.1), no
    /// replays, and a throw-away data directory.
    async fn start(opts: &Options, serve: &ServeArgs) -> anyhow::Result<Embedded> {
        let mut cfg = serve.config()?;
        let open_arena = opts.scenario == Some(Scenario::OpenArena);
        let big_map = opts.scenario == Some(Scenario::BigMap);
        if (open_arena || big_map) && serve.tick_rate.is_none() {
            cfg.game.tick_rate = 30;
        }
        if let Some(radius) = opts.view_radius {
            cfg.game.view_radius = radius;
        }
        let bots = opts.bots as usize;
        let per_match = opts.per_match;
        // Kills and goals must not end a match mid-run (walk-shoot would reach arena's
        // default limit, soccer's bots score).
        cfg.arena.score_limit = 0;
        cfg.soccer.score_limit = 0;
        let game = &mut cfg.game;
        game.max_players = per_match;
        game.min_players = game.min_players.clamp(1, per_match);
        let run_secs = f64::from(opts.bots) / opts.ramp + opts.duration.as_secs_f64();
        let needed_secs = (run_secs + MATCH_TIME_MARGIN_SECS).ceil() as u32;
        game.match_duration_secs = game.match_duration_secs.max(needed_secs);
        let tick_rate = game.tick_rate;
        let server = &mut cfg.server;
        server.max_matches = server
            .max_matches
            .max(bots.div_ceil(usize::from(per_match)) + 1);
        server.max_connections = server.max_connections.max(bots + CONNECTION_HEADROOM);
        server.max_connections_per_ip = server
            .max_connections_per_ip
            .max(bots + CONNECTION_HEADROOM);
        // Every bot joins from 127.0.0.1: the per-address seat and join caps would stop them.
        server.max_seats_per_ip = server
            .max_seats_per_ip
            .max(u32::try_from(bots + CONNECTION_HEADROOM).unwrap_or(u32::MAX));
        // Twice the ramp: reconnecting bots join again on top of the ramp.
        let joins = (opts.ramp * 2.0).ceil().min(f64::from(u32::MAX)) as u32;
        server.joins_per_ip_per_sec = server.joins_per_ip_per_sec.max(joins);
        // One input per tick plus two pings a second, with room for a burst.
        let per_sec = 2 * u32::from(tick_rate) + 10;
        server.max_messages_per_sec = server.max_messages_per_sec.max(per_sec);
        server.record_replays = false;
        server.drain_timeout_ms = 0;
        let data_dir =
            std::env::temp_dir().join(format!("tickwire-loadtest-{}", std::process::id()));
        server.data_dir = data_dir.clone();
        cfg.validate()?;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = Server::new(cfg)?;
        if open_arena || big_map {
            // Joins go to the open match with the fewest free seats: this one, until full.
            let map = if big_map { BIG_MAP } else { OPEN_ARENA_MAP };
            // Seats beyond the bots: a bot whose join timed out on its side (a busy machine, a
            // debug build) joins again while the server still holds the seat it never heard
            // of; without room it would be placed in a new default match on another map.
            let seats = per_match.saturating_add(SEAT_HEADROOM);
            let spec = MatchSpec {
                game: None,
                map: Some(map.to_owned()),
                tick_rate: Some(tick_rate),
                max_players: Some(seats),
            };
            server
                .handle()
                .state()
                .create_match(&spec)
                .context("cannot create the open-arena match")?;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        Ok(Embedded {
            url: format!("ws://{addr}/ws"),
            stop,
            task,
            data_dir,
        })
    }

    /// Shuts the server down and removes its data directory.
    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(STOP_TIMEOUT, self.task)
            .await
            .context("the embedded server did not stop in time")?;
        let _ = std::fs::remove_dir_all(&self.data_dir);
        result.context("the embedded server panicked")??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_name_the_servers_maps() {
        assert_eq!(Scenario::OpenArena.map_name(), OPEN_ARENA_MAP);
        assert_eq!(Scenario::BigMap.map_name(), BIG_MAP);
    }
}
