//! The tickwire load tester (`tickwire loadtest`): bots that speak the real protocol over real
//! WebSocket connections, one input per tick each, while the tester measures join times, RTT,
//! input-to-state latency, frame jitter, bandwidth and errors.
//!
//! # Layout
//! - [`options`]: [`Options`], the command-line options, and duration parsing.
//! - [`run`]: ramps the bots up, measures for the duration, stops them and builds the
//!   [`Report`].
//! - [`report`]: [`Report`] and [`Figures`] (the `--json` keys), the table.
//! - [`fail_if`]: [`FailIf`], the `--fail-if` conditions over the figures.
//! - [`floor`]: [`write_floor`], the cost of a plain socket write (`--write-floor`).
//! - [`policy`]: [`GamePolicy`] and [`BotPolicy`], what the bots of one game send (`--game`);
//!   [`policy::builtin`] has arena's and soccer's.
//! - private: `bot` (one bot's task: join, read, write), `stats` (live counters, per-bot
//!   histograms and their merge), `progress` (indicatif bars), `rng` (seeded random walks).
//!
//! `--hostile PERCENT` mixes in, evenly spread and in equal numbers, three kinds of hostile
//! bots ([`BotKind`]): slow readers, flooders and reconnectors. They resume their seat with the
//! session token of their last Welcome after each disconnect, and are summed apart
//! ([`HostileStats`], `hostile` in the JSON): every other figure describes the well-behaved
//! bots alone.
//!
//! Each bot is one tokio task holding both halves of its connection; bots count into shared
//! relaxed atomics only for the progress bars and keep their histograms to themselves until
//! the end, so the tester costs little per frame beyond decoding it.
//!
//! The server under test is not part of this crate: `tickwire loadtest --embedded` (in the
//! root crate, which can depend on this one but not the other way round) starts one
//! in-process and passes its URL in [`Options::url`].

mod bot;
pub mod fail_if;
pub mod floor;
pub mod matchmake;
pub mod options;
pub mod policy;
mod progress;
pub mod report;
mod rng;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use tickwire_net::ClientConfig;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout_at};

pub use fail_if::FailIf;
pub use floor::{WriteFloor, write_floor};
pub use options::{Behavior, BotKind, Options, Scenario};
pub use policy::{BotPolicy, GamePolicy};
pub use report::{Figures, Report, figure_names};
pub use stats::HostileStats;

use crate::bot::Ctx;
use crate::progress::{Progress, REFRESH};
use crate::report::Timing;
use crate::stats::{Live, Totals};

/// How long bots get to finish after the stop before they are counted lost.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A `--fail-if` names no numeric figure.
    #[error("--fail-if names {0:?}, which is not a numeric figure (see the --json keys)")]
    UnknownFigure(String),
    /// A socket or file operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The report could not be serialized.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The server is not set up for the run asked for (wrong map, other match size), so its
    /// figures would describe another test.
    #[error("the server is not set up for this run: {0}")]
    Setup(String),
}

/// Checks that the server seated the bots as the options asked: on the scenario's map, and in
/// matches of `--per-match` (the server, not the tester, decides both; a mismatch would make
/// every figure describe another test).
fn check_setup(opts: &Options, totals: &Totals) -> Result<(), LoadtestError> {
    if let Some(scenario) = opts.scenario {
        let wanted = scenario.map_name();
        if let Some(other) = totals.map_names.iter().find(|m| m.as_str() != wanted) {
            return Err(LoadtestError::Setup(format!(
                "the bots were welcomed to map {other:?}, not {wanted:?}: create the match first \
                 (admin API POST /matches {{\"map\": \"{wanted}\", \"max_players\": {}}}; a \
                 created match ends after server.empty_match_linger_ms without players), or use \
                 --embedded",
                opts.bots
            )));
        }
    }
    let fullest = totals.first_match_bots.values().copied().max().unwrap_or(0);
    let per_match = u32::from(opts.per_match);
    // Only a full run shows the match size: interrupted or failed joins leave matches short.
    let all_joined = totals.joined_bots == u64::from(opts.bots);
    if fullest > per_match || (all_joined && opts.bots >= per_match && fullest < per_match) {
        return Err(LoadtestError::Setup(format!(
            "the server seated up to {fullest} bots per match, not --per-match {per_match}: \
             start it with --players-per-match {per_match} (game.max_players), or use --embedded"
        )));
    }
    Ok(())
}

/// Runs a load test against `options.url` and returns what it measured; the bots play
/// `options.game` with its [built-in policy](policy::builtin).
///
/// Bots start at `options.ramp` per second; once all are started the run measures for
/// `options.duration` (Ctrl-C ends it early), then every bot closes with 1000.
pub async fn run(options: &Options) -> Result<Report, LoadtestError> {
    let policy = policy::builtin(&options.game).ok_or_else(|| {
        LoadtestError::InvalidOption(format!(
            "--game {:?}: this tester has bot policies for {} (a studio's own game runs \
             through tickwire_loadtest::run_with and its GamePolicy)",
            options.game,
            policy::BUILTIN_GAMES
        ))
    })?;
    run_with(options, policy).await
}

/// [`run`] with the bots of `policy`'s game (a studio's own game); `options.game` is ignored.
pub async fn run_with(
    options: &Options,
    policy: Arc<dyn GamePolicy>,
) -> Result<Report, LoadtestError> {
    let mut opts = options.resolved()?;
    policy.game().clone_into(&mut opts.game);
    if opts.scenario.is_some() && opts.game != tickwire_arena::schema::GAME_NAME {
        return Err(LoadtestError::InvalidOption(format!(
            "--scenario is an arena map; {} has none",
            opts.game
        )));
    }
    let names = figure_names();
    for condition in &opts.fail_if {
        condition.check_name(&names)?;
    }
    let ctx = Arc::new(Ctx {
        url: opts.url.clone(),
        behavior: opts.behavior,
        chat_per_min: opts.chat_per_min,
        seed: opts.seed,
        live: Live::default(),
        epoch: Instant::now(),
        client: ClientConfig::default(),
        matchmake: opts.matchmake,
        policy,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut progress = Progress::new(opts.bots, opts.duration, opts.quiet);
    let mut redraw = tokio::time::interval(REFRESH);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;

    let ramp_start = Instant::now();
    let spacing = Duration::from_secs_f64(1.0 / opts.ramp);
    let kinds = opts.kinds();
    let mut bots = Vec::with_capacity(opts.bots as usize);
    for index in 0..opts.bots {
        let start_at = ramp_start + spacing.mul_f64(f64::from(index));
        loop {
            tokio::select! {
                () = sleep_until(start_at) => break,
                _ = redraw.tick() => progress.update(&ctx.live, None),
                _ = &mut ctrl_c => {
                    interrupted = true;
                    break;
                }
            }
        }
        if interrupted {
            break;
        }
        // Verifying bots are well-behaved ones (the sample shrinks when one would be hostile).
        let kind = kinds[index as usize];
        let verify = opts.verifies(index) && !kind.is_hostile();
        bots.push(tokio::spawn(bot::run(
            ctx.clone(),
            index,
            kind,
            verify,
            stop_rx.clone(),
        )));
    }
    let run_start = Instant::now();
    let run_end = run_start + opts.duration;
    while !interrupted {
        tokio::select! {
            () = sleep_until(run_end) => break,
            _ = redraw.tick() => progress.update(&ctx.live, Some(run_start)),
            _ = &mut ctrl_c => interrupted = true,
        }
    }
    let stopped_at = Instant::now();
    progress.update(&ctx.live, Some(run_start));
    let _ = stop_tx.send(true);

    let mut totals = Totals::new();
    let mut lost_bots = 0;
    let deadline = stopped_at + STOP_TIMEOUT;
    for mut bot in bots {
        match timeout_at(deadline, &mut bot).await {
            Ok(Ok(stats)) => totals.add(stats),
            Ok(Err(_)) => lost_bots += 1,
            Err(_) => {
                bot.abort();
                lost_bots += 1;
            }
        }
    }
    progress.finish();
    check_setup(&opts, &totals)?;
    let timing = Timing {
        ramp_s: run_start.duration_since(ramp_start).as_secs_f64(),
        run_s: stopped_at.duration_since(run_start).as_secs_f64(),
        lost_bots,
        interrupted,
    };
    Ok(Report::build(&opts, totals, timing))
}
