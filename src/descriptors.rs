//! File descriptors at start-up: the soft `RLIMIT_NOFILE` is raised to the hard limit, and the
//! game listener's connection cap is clamped so that both listeners at their caps, plus the
//! descriptors the server needs for itself, fit in it. With that, and the reserve descriptor
//! each accept loop keeps ([`tickwire_net::serve`]), no listener can starve another.

use tracing::{info, warn};

use crate::config::Config;

/// Descriptors kept for everything but connections: listeners, the results log, the match id
/// counter, the runtime's own, logs, in descriptors.
pub const BASE_HEADROOM: u64 = 64;

/// Descriptors the server needs beyond its connections: [`BASE_HEADROOM`] plus one open replay
/// file per match when replays are recorded.
pub fn headroom(config: &Config) -> u64 {
    let replays = if config.server.record_replays {
        config.server.max_matches as u64
    } else {
        0
    };
    BASE_HEADROOM.saturating_add(replays)
}

/// A game connection cap lowered to fit the descriptor limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clamp {
    /// `server.max_connections` as configured, in connections.
    pub configured: usize,
    /// `server.max_connections` in force, in connections.
    pub clamped: usize,
    /// The descriptor limit it must fit, in descriptors.
    pub limit: u64,
    /// `admin.max_connections`, in connections.
    pub admin: usize,
    /// Descriptors kept for the server itself (see [`headroom`]).
    pub headroom: u64,
}

/// Lowers `server.max_connections` when it, `admin.max_connections` and the [`headroom`]
/// together exceed `limit` descriptors; at least one game connection is always left.
pub fn fit(config: &mut Config, limit: u64) -> Option<Clamp> {
    let admin = config.admin.max_connections;
    let headroom = headroom(config);
    let configured = config.server.max_connections;
    let others = headroom.saturating_add(admin as u64);
    let needed = others.saturating_add(configured as u64);
    if needed <= limit {
        return None;
    }
    let room = limit.saturating_sub(others).max(1);
    let clamped = usize::try_from(room).unwrap_or(usize::MAX).min(configured);
    config.server.max_connections = clamped;
    Some(Clamp {
        configured,
        clamped,
        limit,
        admin,
        headroom,
    })
}

/// Raises the soft descriptor limit to the hard one, then [`fit`]s the configuration into it
/// with a WARN naming the numbers. Where limits cannot be read, changes nothing.
pub fn prepare(config: &mut Config) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            warn!(error = %e, "cannot read or raise the file descriptor limit (RLIMIT_NOFILE)");
            return;
        }
    };
    info!(
        limit,
        "file descriptor limit (RLIMIT_NOFILE soft, raised to hard)"
    );
    if let Some(c) = fit(config, limit) {
        warn!(
            configured = c.configured,
            clamped = c.clamped,
            limit = c.limit,
            admin_max_connections = c.admin,
            headroom = c.headroom,
            "server.max_connections {} + admin.max_connections {} + {} descriptors of headroom exceed the file descriptor limit {}; server.max_connections lowered to {}",
            c.configured,
            c.admin,
            c.headroom,
            c.limit,
            c.clamped
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_fit_are_kept_and_others_clamped() {
        let mut c = Config::default();
        c.server.max_connections = 1000;
        c.admin.max_connections = 64;
        c.server.max_matches = 100;
        let room = BASE_HEADROOM + 100;
        assert_eq!(headroom(&c), room);
        assert_eq!(fit(&mut c, 1_000_000), None);
        assert_eq!(c.server.max_connections, 1000);
        let clamp = fit(&mut c, 1024).unwrap();
        assert_eq!(clamp.clamped as u64, 1024 - 64 - room);
        assert_eq!(c.server.max_connections, clamp.clamped);
        assert_eq!(
            (clamp.configured, clamp.limit, clamp.admin),
            (1000, 1024, 64)
        );
        c.server.max_connections = 1000;
        assert_eq!(
            fit(&mut c, 10).unwrap().clamped,
            1,
            "one connection is always left"
        );
        c.server.record_replays = false;
        assert_eq!(headroom(&c), BASE_HEADROOM);
    }
}
