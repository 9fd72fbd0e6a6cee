//! The `tickwire` command: serve matches (the default), print the effective configuration,
//! verify replays.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tickwire::Config;
use tickwire::telemetry::{self, LogFormat};
use tokio::sync::watch;
use tracing::{error, info, warn};

mod loadtest_cmd;

/// tickwire: an authoritative multiplayer game server over WebSocket.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the game server (the default).
    Serve(ServeArgs),
    /// Show the effective configuration (defaults < file < TICKWIRE_* environment < flags).
    Config {
        #[command(flatten)]
        serve: ServeArgs,
        /// Print it as TOML.
        #[arg(long)]
        print: bool,
    },
    /// Re-simulate a recorded match and print its results.
    Replay {
        /// The replay file (`DATA_DIR/replays/ID.bin`).
        file: PathBuf,
        /// Exit non-zero on the first hash mismatch, corrupt byte, truncation (a crash: the
        /// prefix is still re-simulated and its hashes checked) or bytes after the end.
        #[arg(long)]
        verify: bool,
    },
    /// Print the hosted games' declared replication schemas: JSON (what `GET /schema.json`
    /// serves), or the Markdown tables of PROTOCOL.md (one section per game).
    Schema {
        /// Print the Markdown tables instead of JSON.
        #[arg(long)]
        markdown: bool,
        /// Only this game's schema (JSON: its `{hash, schema}` entry).
        #[arg(long)]
        game: Option<String>,
    },
    /// Run bots against a server and measure it (see README, "Load testing").
    Loadtest {
        #[command(flatten)]
        options: tickwire_loadtest::Options,
        /// Configure the server that `--embedded` starts.
        #[command(flatten, next_help_heading = "Embedded server (with --embedded)")]
        server: ServeArgs,
    },
}

#[derive(clap::Args, Debug, Clone, Default, PartialEq)]
struct ServeArgs {
    /// Configuration file (TOML); its keys override the embedded defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Game listener address (overrides server.listen).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Admin API address (overrides admin.listen; "" disables it).
    #[arg(long)]
    admin_addr: Option<String>,
    /// Simulation ticks per second, Hz (overrides game.tick_rate).
    #[arg(long)]
    tick_rate: Option<u16>,
    /// Players per match (overrides game.max_players).
    #[arg(long)]
    players_per_match: Option<u16>,
    /// Data directory for results and replays (overrides server.data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// Defaults, then the file, then `TICKWIRE_*` variables, then these flags.
    fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = Config::layered(self.config.as_deref(), std::env::vars_os())?;
        if let Some(addr) = self.addr {
            cfg.server.listen = addr;
        }
        if let Some(addr) = &self.admin_addr {
            cfg.admin.listen = addr.clone();
        }
        if let Some(rate) = self.tick_rate {
            cfg.game.tick_rate = rate;
        }
        if let Some(n) = self.players_per_match {
            cfg.game.max_players = n;
        }
        if let Some(dir) = &self.data_dir {
            cfg.server.data_dir = dir.clone();
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The load tester draws progress bars and prints a report: an embedded server's INFO lines
    // would draw through them, so it logs warnings and errors only unless RUST_LOG asks.
    let default_filter = match cli.command {
        Some(Command::Loadtest { .. }) => "warn",
        _ => "info",
    };
    telemetry::init_logging(cli.log_format, default_filter);
    let result = match cli.command {
        Some(Command::Config { serve, .. }) => serve.config().and_then(|cfg| {
            print!("{}", toml::to_string(&cfg)?);
            Ok(ExitCode::SUCCESS)
        }),
        Some(Command::Replay { file, verify }) => replay(&file, verify),
        Some(Command::Schema { markdown, game }) => schema(markdown, game.as_deref()),
        Some(Command::Loadtest { options, server }) => loadtest_cmd::run(options, &server),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tickwire: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn schema(markdown: bool, game: Option<&str>) -> anyhow::Result<ExitCode> {
    let games = tickwire::games::builtin(&Config::default())?;
    if let Some(name) = game {
        let Some(schema) = games.schema(Some(name)) else {
            anyhow::bail!("unknown game {name:?}: this binary hosts {}", games.names());
        };
        if markdown {
            print!("{}", schema.markdown());
        } else {
            println!("{}", tickwire::web::schema_entry(schema));
        }
    } else if markdown {
        print!("{}", tickwire::web::schema_markdown(&games));
    } else {
        println!("{}", tickwire::web::schema_json(&games));
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(file: &std::path::Path, verify: bool) -> anyhow::Result<ExitCode> {
    // The header holds the match's whole setup: the games' configured hosting is not needed.
    let games = tickwire::games::builtin(&Config::default())?;
    match tickwire::replay::verify(file, &games) {
        Ok(outcome) => {
            println!(
                "match {} on {}: {} ticks replayed, {} state hashes verified, {} chat lines in order, {} requests and {} answers reproduced",
                outcome.match_id,
                outcome.map_name,
                outcome.ticks,
                outcome.hashes_checked,
                outcome.chat_lines,
                outcome.requests,
                outcome.answers
            );
            println!(
                "{:>6}  {:<24} {:>6} {:>6} {:>6}",
                "player", "name", "score", "kills", "deaths"
            );
            for p in &outcome.results {
                println!(
                    "{:>6}  {:<24} {:>6} {:>6} {:>6}",
                    p.player_id, p.name, p.score, p.kills, p.deaths
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if verify => {
            eprintln!("replay verification failed: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("warning: {e}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = args.config()?;
    tickwire::descriptors::prepare(&mut cfg);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
        let admin_listener = if cfg.admin.listen.is_empty() {
            None
        } else {
            let addr = cfg.admin.listen.clone();
            Some(
                tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (admin)"))?,
            )
        };
        let metrics = telemetry::prometheus();
        let server = tickwire::Server::new(cfg)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(watch_signals(stop_tx));
        // The admin API keeps answering (readiness false) throughout the drain.
        let (admin_stop_tx, admin_stop_rx) = watch::channel(false);
        let admin = admin_listener.map(|l| {
            if let Ok(addr) = l.local_addr() {
                info!(%addr, "admin API listening");
            }
            let state = server.handle().state().clone();
            tokio::spawn(tickwire::admin::serve(
                l,
                state,
                metrics.clone(),
                wait_for(admin_stop_rx),
            ))
        });
        server.run(listener, wait_for(stop_rx)).await?;
        let _ = admin_stop_tx.send(true);
        if let Some(admin) = admin {
            if let Ok(Err(e)) = admin.await {
                warn!(error = %e, "admin API failed");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves once the flag is set.
async fn wait_for(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// First SIGTERM/SIGINT: graceful drain. Second: exit at once (results are appended and
/// fsynced line by line, replays checksummed record by record, so nothing is corrupted).
async fn watch_signals(stop: watch::Sender<bool>) {
    let mut signals = Signals::new();
    signals.next().await;
    info!("shutdown signal: draining (send it again to exit at once)");
    let _ = stop.send(true);
    signals.next().await;
    error!("second shutdown signal: exiting now");
    std::process::exit(130);
}

/// SIGTERM and SIGINT, registered once so that no signal between two waits is lost.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = one(&mut self.term) => {}
                _ = one(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
