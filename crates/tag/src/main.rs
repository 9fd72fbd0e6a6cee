//! `tickwire-tag`: a studio's own server binary. It hosts tag (the default game) beside the
//! stock games and serves tag's page at `/tag/`. Configuration is tickwire's (defaults <
//! `--config FILE` < `TICKWIRE_*` environment); tag's own rules are [`TagConfig::default`].

use anyhow::Context;
use tickwire::Config;
use tickwire::telemetry::{LogFormat, init_logging};
use tickwire_tag::{Tag, TagConfig};

fn main() -> anyhow::Result<()> {
    init_logging(LogFormat::Text, "info");
    let file: Option<std::path::PathBuf> = match std::env::args_os().nth(1) {
        Some(flag) if flag == "--config" => std::env::args_os().nth(2).map(Into::into),
        Some(other) => anyhow::bail!("usage: tickwire-tag [--config FILE], not {other:?}"),
        None => None,
    };
    let config = Config::layered(file.as_deref(), std::env::vars_os())?;
    // The stock games (arena and soccer, from their config sections), then tag as the default:
    // a Hello naming no game joins tag.
    let mut games = tickwire::games::builtin(&config)?;
    games.register::<Tag>(TagConfig::default())?;
    games.set_default(tickwire_tag::GAME_NAME)?;
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
