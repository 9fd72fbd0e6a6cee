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

/// Histogram buckets for tick timings, seconds: fine below a 33 ms tick, coarse beyond.
const TICK_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.05, 0.1,
    0.25, 1.0,
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
            Some(handle)
        })
        .clone()
}
