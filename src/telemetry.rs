//! Logs and metrics: the `tracing` subscriber and the process-wide Prometheus recorder behind
//! the `metrics` facade that every crate records through.

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

/// Installs the global `tracing` subscriber, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
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
const IDLE_SERIES_TIMEOUT: Duration = Duration::from_secs(120);

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first call. `None` when another
/// recorder was installed first.
pub fn prometheus() -> Option<PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), &TICK_BUCKETS)
                .ok()?
                .idle_timeout(MetricKindMask::HISTOGRAM, Some(IDLE_SERIES_TIMEOUT))
                .install_recorder()
                .ok()
        })
        .clone()
}
