//! Logs and metrics: the `tracing` subscriber and the process-wide Prometheus recorder behind
//! the `metrics` facade that every crate records through.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global `tracing` subscriber, filtered by `RUST_LOG` (else `default_filter`, such
/// as `info`). Logs go to standard error, so standard output stays the command's own output
/// (a configuration, a report), with ANSI colours only when standard error is a terminal.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Buckets of the matchmaker's placement latency, seconds: from at once to a long queue wait.
const PLACEMENT_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Histogram buckets for tick timings, seconds: fine below a 33 ms tick, coarse beyond.
const TICK_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.05, 0.1,
    0.25, 1.0,
];

/// Buckets of tick start lateness, seconds: fine around the 1 ms target (issue #13), so its
/// p99 can be read off to a quarter of a millisecond or better, then coarse up to a whole tick.
const LATENESS_BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_2, 0.000_3, 0.000_4, 0.000_5, 0.000_75, 0.001, 0.001_5,
    0.002, 0.005, 0.01, 0.033, 0.1, 1.0,
];

/// How long a histogram series may go unrecorded before the exporter drops it: per-match tick
/// histograms would otherwise outlive their match forever (one more set per match played).
pub const IDLE_SERIES_TIMEOUT: Duration = Duration::from_secs(120);

/// Bounds of the upkeep period, as durations: often enough that a series goes within a small
/// fraction of its idle timeout, never so often that rendering shows in a profile.
const UPKEEP_PERIOD_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(10));

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first call with [`IDLE_SERIES_TIMEOUT`].
/// `None` when another recorder was installed first.
pub fn prometheus() -> Option<PrometheusHandle> {
    prometheus_with(IDLE_SERIES_TIMEOUT)
}

/// [`prometheus`] with another idle-series timeout (tests); the first call in a process wins.
///
/// The exporter notices that a series went idle only while rendering, and it counts the idle
/// time from the render that first saw the series' last change, not from the change itself: a
/// server scraped every minute kept a finished match's histograms for well over the timeout,
/// and one never scraped kept them forever. So a thread renders (and discards) the exposition
/// every quarter of the timeout: a series then goes between 1 and 1.25 timeouts after its last
/// sample, however often `/metrics` is scraped.
pub fn prometheus_with(idle_timeout: Duration) -> Option<PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(family::MM_PLACEMENT_LATENCY.name.into()),
                    &PLACEMENT_BUCKETS,
                )
                .ok()?
                // A full-name matcher wins over the suffix one below whatever the order.
                .set_buckets_for_metric(
                    Matcher::Full(family::TICK_LATENESS.name.into()),
                    &LATENESS_BUCKETS,
                )
                .ok()?
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), &TICK_BUCKETS)
                .ok()?
                .idle_timeout(MetricKindMask::HISTOGRAM, Some(idle_timeout))
                .install_recorder()
                .ok()?;
            let period = (idle_timeout / 4).clamp(UPKEEP_PERIOD_BOUNDS.0, UPKEEP_PERIOD_BOUNDS.1);
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(period);
                        drop(upkeep.render());
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no metrics upkeep thread: idle series expire only when scraped");
            }
            tickwire_net::metric::describe(tickwire_net::metric::FAMILIES);
            tickwire_net::metric::describe(family::ALL);
            tickwire_net::metric::describe(family::CLUSTER);
            Some(handle)
        })
        .clone()
}

/// Every metric family the server library records (the network crate's are in
/// [`tickwire_net::metric::FAMILIES`]), described once: [`prometheus`] registers their help
/// lines and zero series, and every recording site names its family from here.
pub mod family {
    use tickwire_net::metric::{Family, Kind};
    use tickwire_proto::msg::{ChatRefusalReason, RejectReason, RequestRefusalReason};
    use tickwire_sim::InputOutcome;

    use crate::address::AddressRefusal;

    /// Work per tick of one match, seconds, labelled `match`.
    pub const TICK_DURATION: Family = Family::new(
        "tickwire_tick_duration_seconds",
        Kind::Histogram,
        "Time one match spent on one tick (simulation, encoding, sending), seconds; one series per match, dropped 120 s after the match's last tick.",
    );
    /// How late a tick started against its schedule, seconds, labelled `match`.
    pub const TICK_LATENESS: Family = Family::new(
        "tickwire_tick_lateness_seconds",
        Kind::Histogram,
        "How late a tick started against its fixed schedule, seconds; one series per match, dropped 120 s after the match's last tick.",
    );
    /// Ticks whose work took longer than the tick budget.
    pub const TICK_OVERRUNS: Family = Family::new(
        "tickwire_tick_overruns_total",
        Kind::Counter,
        "Ticks whose work took longer than the tick period.",
    );
    /// Matches whose task panicked.
    pub const MATCH_PANICS: Family = Family::new(
        "tickwire_match_panics_total",
        Kind::Counter,
        "Matches whose simulation panicked; their players were closed 1011.",
    );
    /// Clients closed for not acknowledging state within the stall timeout.
    pub const STALLED_CLIENTS: Family = Family::new(
        "tickwire_stalled_clients_total",
        Kind::Counter,
        "Clients closed 1008 because their acknowledged tick did not advance within the stall timeout.",
    );
    /// The label value of an input dropped before reaching its match (the match's mailbox was full).
    pub const INPUT_DROP_MAILBOX_FULL: &str = "mailbox_full";
    /// Inputs not queued, by reason.
    pub const INPUT_DROPS: Family = Family::new(
        "tickwire_input_drops_total",
        Kind::Counter,
        "Inputs that were not queued for a tick, by reason (stale = not newer than the last seq, rejected = seq too far ahead, queue_full, unknown_player, mailbox_full = the match's mailbox was full).",
    )
    .labelled(&[("reason", || {
        let mut values: Vec<&'static str> = InputOutcome::ALL
            .iter()
            .filter(|o| **o != InputOutcome::Queued)
            .map(|o| o.label())
            .collect();
        values.push(INPUT_DROP_MAILBOX_FULL);
        values
    })]);
    /// Players seated and connected, over all matches.
    pub const PLAYERS_CONNECTED: Family = Family::new(
        "tickwire_players_connected",
        Kind::Gauge,
        "Players holding a seat with a live connection, over all matches.",
    );
    /// Seats freed at once because their connection never acknowledged a frame.
    pub const SEATS_FREED_UNACKNOWLEDGED: Family = Family::new(
        "tickwire_seats_freed_unacknowledged_total",
        Kind::Counter,
        "Seats freed at disconnect without a grace period because their connection never acknowledged a state frame.",
    );
    /// Bytes of state frames produced for clients.
    pub const STATE_BYTES: Family = Family::new(
        "tickwire_state_bytes_total",
        Kind::Counter,
        "Bytes of State frames encoded for clients (before WebSocket framing).",
    );
    /// State frames produced for clients.
    pub const STATE_FRAMES: Family = Family::new(
        "tickwire_state_frames_total",
        Kind::Counter,
        "State frames encoded for clients, one per client per tick.",
    );
    /// Joins refused, by reason.
    pub const JOIN_REJECTS: Family = Family::new(
        "tickwire_join_rejects_total",
        Kind::Counter,
        "Hellos answered with a Reject, by reason (the Reject's reason in snake_case).",
    )
    .labelled(&[("reason", || {
        RejectReason::ALL.iter().map(|r| r.label()).collect()
    })]);
    /// Joins refused for per-address limits, by limit.
    pub const JOIN_ADDRESS_REFUSALS: Family = Family::new(
        "tickwire_join_address_refusals_total",
        Kind::Counter,
        "Joins refused because the client's IP address hit a limit, by limit (seats_per_ip, join_rate_per_ip).",
    )
    .labelled(&[("reason", || {
        vec![AddressRefusal::Seats.label(), AddressRefusal::JoinRate.label()]
    })]);
    /// The `listener` label (and log name) of the game port.
    pub const GAME_LISTENER: &str = "game";
    /// The `listener` label (and log name) of the admin port.
    pub const ADMIN_LISTENER: &str = "admin";
    /// Connections refused at accept, before any request was read, by listener and limit.
    pub const CONNECTIONS_REFUSED: Family = Family::new(
        tickwire_net::server::CONNECTIONS_REFUSED,
        Kind::Counter,
        "Connections refused at accept without reading a request, by listener (game, admin) and limit (total = the listener's max_connections, per_ip = its max_connections_per_ip, out_of_descriptors = the process ran out of file descriptors).",
    )
    .labelled(&[
        ("listener", || vec![GAME_LISTENER, ADMIN_LISTENER]),
        ("reason", || {
            vec![
                AddressRefusal::Total.label(),
                AddressRefusal::Connections.label(),
                tickwire_net::server::OUT_OF_DESCRIPTORS,
            ]
        }),
    ]);
    /// Admin requests refused for their token.
    pub const ADMIN_AUTH_FAILURES: Family = Family::new(
        crate::admin::AUTH_FAILURES,
        Kind::Counter,
        "Admin API requests refused for a missing or wrong bearer token, by reason (missing, wrong).",
    )
    .labelled(&[("reason", || {
        vec![crate::admin::AUTH_MISSING, crate::admin::AUTH_WRONG]
    })]);
    /// Admin-port connections open (set when /metrics is scraped).
    pub const ADMIN_CONNECTIONS_OPEN: Family = Family::new(
        "tickwire_admin_connections_open",
        Kind::Gauge,
        "Admin-port connections open.",
    );
    /// Matches whose results could not be written.
    pub const RESULTS_WRITE_ERRORS: Family = Family::new(
        "tickwire_results_write_errors_total",
        Kind::Counter,
        "Matches whose results could not be appended to results.jsonl; /readyz answers 503 from the first until a restart.",
    );
    /// Connections closed for sending messages faster than the message cap.
    pub const FLOOD_DISCONNECTS: Family = Family::new(
        "tickwire_flood_disconnects_total",
        Kind::Counter,
        "Connections closed 1008 for sending messages faster than the message cap.",
    );
    /// Connections closed for an undecodable message.
    pub const DECODE_ERRORS: Family = Family::new(
        "tickwire_decode_errors_total",
        Kind::Counter,
        "Connections closed 1007 for a binary message that does not decode.",
    );
    /// Chat lines accepted and delivered.
    pub const CHAT_LINES: Family = Family::new(
        "tickwire_chat_lines_total",
        Kind::Counter,
        "Chat lines accepted by a match and sent to its listeners.",
    );
    /// Chat lines refused, by reason.
    pub const CHAT_REFUSALS: Family = Family::new(
        "tickwire_chat_refusals_total",
        Kind::Counter,
        "Chat lines answered with ChatRefused, by reason (the refusal's reason in snake_case).",
    )
    .labelled(&[("reason", || {
        ChatRefusalReason::ALL.iter().map(|r| r.label()).collect()
    })]);
    /// Connections closed for chat refused too often.
    pub const CHAT_FLOOD_DISCONNECTS: Family = Family::new(
        "tickwire_chat_flood_disconnects_total",
        Kind::Counter,
        "Connections closed 1008 for more refused chat lines in the flood window than chat.flood_refusals.",
    );
    /// Requests accepted and handed to the game.
    pub const REQUESTS: Family = Family::new(
        "tickwire_requests_total",
        Kind::Counter,
        "Game requests accepted by a match and queued for the game.",
    );
    /// Requests refused, by reason.
    pub const REQUEST_REFUSALS: Family = Family::new(
        "tickwire_request_refusals_total",
        Kind::Counter,
        "Game requests answered with RequestRefused, by reason (the refusal's reason in snake_case).",
    )
    .labelled(&[("reason", || {
        RequestRefusalReason::ALL.iter().map(|r| r.label()).collect()
    })]);
    /// Connections closed for requests refused too often.
    pub const REQUEST_FLOOD_DISCONNECTS: Family = Family::new(
        "tickwire_request_flood_disconnects_total",
        Kind::Counter,
        "Connections closed 1008 for more refused requests in the flood window than requests.flood_refusals.",
    );
    /// Matches by phase (set when /metrics is scraped).
    pub const MATCHES: Family = Family::new(
        "tickwire_matches",
        Kind::Gauge,
        "Matches running, by phase (waiting, running, ended).",
    )
    .labelled(&[("phase", || PHASE_LABELS.to_vec())]);
    /// A match's phase as the admin API and [`MATCHES`] name it, indexed by the phase's wire index.
    pub const PHASE_LABELS: [&str; 3] = ["waiting", "running", "ended"];
    /// Game-port connections open (set when /metrics is scraped).
    pub const CONNECTIONS_OPEN: Family = Family::new(
        "tickwire_connections_open",
        Kind::Gauge,
        "Game-port connections open, WebSocket or plain HTTP.",
    );
    /// Redis calls of cluster mode that failed.
    pub const CLUSTER_REDIS_ERRORS: Family = Family::new(
        "tickwire_cluster_redis_errors_total",
        Kind::Counter,
        "Cluster-mode Redis calls that failed or timed out (matchmaking answers 503 meanwhile; running matches go on).",
    );
    /// Matchmaker tickets opened at this instance.
    pub const MM_TICKETS_OPENED: Family = Family::new(
        "tickwire_matchmaker_tickets_opened_total",
        Kind::Counter,
        "Matchmaker tickets opened through this instance's POST /matchmake.",
    );
    /// Tickets waiting, over every queue (set by each matchmaking pass).
    pub const MM_TICKETS_QUEUED: Family = Family::new(
        "tickwire_matchmaker_tickets_queued",
        Kind::Gauge,
        "Matchmaker tickets waiting in the cluster's queues after this instance's last matchmaking pass.",
    );
    /// Tickets this instance's passes placed.
    pub const MM_TICKETS_PLACED: Family = Family::new(
        "tickwire_matchmaker_tickets_placed_total",
        Kind::Counter,
        "Matchmaker tickets placed (given seat reservations) by this instance's matchmaking passes.",
    );
    /// Tickets this instance's passes timed out.
    pub const MM_TICKETS_TIMED_OUT: Family = Family::new(
        "tickwire_matchmaker_tickets_timed_out_total",
        Kind::Counter,
        "Matchmaker tickets that waited cluster.ticket_timeout_ms and gave up (ended by this instance's passes).",
    );
    /// Tickets cancelled at this instance.
    pub const MM_TICKETS_CANCELLED: Family = Family::new(
        "tickwire_matchmaker_tickets_cancelled_total",
        Kind::Counter,
        "Matchmaker tickets cancelled through this instance's DELETE /matchmake/{ticket}.",
    );
    /// From a ticket's creation to its placement, seconds.
    pub const MM_PLACEMENT_LATENCY: Family = Family::new(
        "tickwire_matchmaker_placement_latency_seconds",
        Kind::Histogram,
        "Time from a ticket's creation to its placement, seconds (placements by this instance's passes).",
    );

    /// The families only cluster mode records (described, and counters exported at 0, in
    /// every mode; the placement histogram appears with an instance's first placement).
    pub const CLUSTER: &[Family] = &[
        CLUSTER_REDIS_ERRORS,
        MM_TICKETS_OPENED,
        MM_TICKETS_QUEUED,
        MM_TICKETS_PLACED,
        MM_TICKETS_TIMED_OUT,
        MM_TICKETS_CANCELLED,
        MM_PLACEMENT_LATENCY,
    ];

    /// Every family of the server library but [`CLUSTER`]'s.
    pub const ALL: &[Family] = &[
        TICK_DURATION,
        TICK_LATENESS,
        TICK_OVERRUNS,
        MATCH_PANICS,
        STALLED_CLIENTS,
        INPUT_DROPS,
        PLAYERS_CONNECTED,
        SEATS_FREED_UNACKNOWLEDGED,
        STATE_BYTES,
        STATE_FRAMES,
        JOIN_REJECTS,
        JOIN_ADDRESS_REFUSALS,
        CONNECTIONS_REFUSED,
        ADMIN_AUTH_FAILURES,
        ADMIN_CONNECTIONS_OPEN,
        RESULTS_WRITE_ERRORS,
        FLOOD_DISCONNECTS,
        DECODE_ERRORS,
        CHAT_LINES,
        CHAT_REFUSALS,
        CHAT_FLOOD_DISCONNECTS,
        REQUESTS,
        REQUEST_REFUSALS,
        REQUEST_FLOOD_DISCONNECTS,
        MATCHES,
        CONNECTIONS_OPEN,
    ];
}
