//! `tickwire-tag`: a studio's own server binary. It hosts tag beside the stock games (arena's
//! page stays at `/`, tag's is at `/tag/`). Configuration is tickwire's (defaults <
//! `--config FILE` < `TICKWIRE_*` environment; `server.default_game` may name `tag`); tag's own
//! rules come from the file's `[games.tag]` section ([`TagConfig`], its defaults without one).

use anyhow::Context;
use tickwire::telemetry::{LogFormat, init_logging};
use tickwire::{Config, Games};
use tickwire_tag::{Tag, TagConfig};

fn main() -> anyhow::Result<()> {
    init_logging(LogFormat::Text, "info");
    let file: Option<std::path::PathBuf> = match std::env::args_os().nth(1) {
        Some(flag) if flag == "--config" => std::env::args_os().nth(2).map(Into::into),
        Some(other) => anyhow::bail!("usage: tickwire-tag [--config FILE], not {other:?}"),
        None => None,
    };
    let config = Config::layered(file.as_deref(), std::env::vars_os())?;
    // The stock games from their config sections, then tag. `games::builtin` would pick the
    // default before tag is registered, so the default is picked here, once all are in.
    let mut games = Games::new();
    tickwire::games::arena::register(&mut games, &config)?;
    tickwire::games::soccer::register(&mut games, &config)?;
    games.register::<Tag>(config.game_section::<TagConfig>("tag")?)?;
    games.set_default(&config.server.default_game)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let addr = config.server.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        println!("tag: open http://{addr}/tag/");
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tickwire::run(listener, config, games, ctrl_c).await?;
        Ok(())
    })
}
