//! The `tickwire` command: serve matches (the default), print the configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tickwire::Config;
use tracing_subscriber::EnvFilter;

/// tickwire: an authoritative multiplayer game server over WebSocket.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the game server (the default).
    Serve(ServeArgs),
    /// Print the effective configuration as TOML.
    Config {
        #[command(flatten)]
        serve: ServeArgs,
        /// Print it (the only action for now).
        #[arg(long)]
        print: bool,
    },
}

#[derive(clap::Args, Debug, Clone, Default)]
struct ServeArgs {
    /// Configuration file (TOML); its keys override the embedded defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides server.listen).
    #[arg(long, global = true)]
    addr: Option<SocketAddr>,
    /// Simulation ticks per second (overrides game.tick_rate).
    #[arg(long, global = true)]
    tick_rate: Option<u16>,
    /// Players per match (overrides game.max_players).
    #[arg(long, global = true)]
    players_per_match: Option<u16>,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(addr) = self.addr {
            cfg.server.listen = addr;
        }
        if let Some(rate) = self.tick_rate {
            cfg.game.tick_rate = rate;
        }
        if let Some(n) = self.players_per_match {
            cfg.game.max_players = n;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match cli.command {
        Some(Command::Config { serve, .. }) => {
            let cfg = serve.config()?;
            print!("{}", toml::to_string(&cfg)?);
            Ok(())
        }
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
        tickwire::run(listener, cfg, shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
