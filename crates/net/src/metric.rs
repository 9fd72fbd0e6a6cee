//! Metric families, each described once: its name, kind, help line and the label values it is
//! exported with before anything has happened. The families this crate records are here; the
//! server library lists its own with the same [`Family`] type, and [`describe`] registers them
//! all with whatever `metrics` recorder is installed.
//!
//! Why zero series: a counter that has not happened yet would otherwise be missing from the
//! exposition, so `rate()` and alerts on it see nothing rather than 0, and a dashboard cannot
//! tell "never happened" from "not exported".

use crate::close;

/// The kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; its name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of observations (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// Every value a label takes, listed by a function so that it can come from an enum's list.
pub type LabelValues = fn() -> Vec<&'static str>;

/// One metric family: everything `/metrics` says about it, written once.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// Full name, with its unit before `_total` (Prometheus naming).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The `# HELP` line.
    pub help: &'static str,
    /// The labels a counter is exported at zero for, in order, each with every value it takes
    /// (snake_case); a series at 0 for every combination. Empty for families without labels or
    /// whose label values are open (match ids).
    pub zero_labels: &'static [(&'static str, LabelValues)],
}

impl Family {
    /// A family with no label (or no label values known in advance).
    pub const fn new(name: &'static str, kind: Kind, help: &'static str) -> Self {
        Self {
            name,
            kind,
            help,
            zero_labels: &[],
        }
    }

    /// This family, exported at zero for every combination of its labels' values.
    pub const fn labelled(mut self, labels: &'static [(&'static str, LabelValues)]) -> Self {
        self.zero_labels = labels;
        self
    }

    /// Every combination of [`Family::zero_labels`], each as `(label, value)` pairs in label order.
    pub fn zero_series(&self) -> Vec<Vec<(&'static str, &'static str)>> {
        let mut sets = vec![Vec::new()];
        for (label, values) in self.zero_labels {
            let values = values();
            sets = sets
                .into_iter()
                .flat_map(|set| {
                    values.iter().map(move |v| {
                        let mut set = set.clone();
                        set.push((*label, *v));
                        set
                    })
                })
                .collect();
        }
        sets
    }
}

/// Registers the help line of every family in `families` with the installed recorder, and
/// exports counters and unlabelled gauges at 0 (labelled counters at 0 for every label value).
pub fn describe(families: &[Family]) {
    for f in families {
        match f.kind {
            Kind::Counter => {
                metrics::describe_counter!(f.name, f.help);
                for set in f.zero_series() {
                    let labels: Vec<metrics::Label> = set
                        .into_iter()
                        .map(|(k, v)| metrics::Label::new(k, v))
                        .collect();
                    metrics::counter!(f.name, labels).increment(0);
                }
            }
            Kind::Gauge => {
                metrics::describe_gauge!(f.name, f.help);
                if f.zero_labels.is_empty() {
                    metrics::gauge!(f.name).increment(0.0);
                }
            }
            // A histogram without observations has nothing to export; its help line shows with
            // its first sample.
            Kind::Histogram => metrics::describe_histogram!(f.name, f.help),
        }
    }
}

/// Bytes of WebSocket frames written to server sockets (headers included).
pub const NET_SENT_BYTES: Family = Family::new(
    "tickwire_net_sent_bytes_total",
    Kind::Counter,
    "Bytes of WebSocket frames written to server sockets, frame headers included.",
);

/// WebSocket frames written to server sockets.
pub const NET_SENT_FRAMES: Family = Family::new(
    "tickwire_net_sent_frames_total",
    Kind::Counter,
    "WebSocket frames written to server sockets (state, reliable messages, pongs, pings, closes).",
);

/// State frames replaced unsent by a newer one (latest wins) because the peer reads slowly.
pub const NET_STATE_FRAMES_REPLACED: Family = Family::new(
    "tickwire_net_state_frames_replaced_total",
    Kind::Counter,
    "State frames replaced unsent by a newer one (latest wins) because the peer reads slower than the tick rate.",
);

/// Connections ended, by close code ([`close::code_label`], or [`close::ABRUPT_LABEL`]).
pub const NET_DISCONNECTS: Family = Family::new(
    "tickwire_net_disconnects_total",
    Kind::Counter,
    "Server connections ended, by close code (the code either side sent first; abrupt = the TCP connection ended without a close frame).",
)
.labelled(&[("code", || {
    let mut values = close::CODE_LABELS.to_vec();
    values.push(close::ABRUPT_LABEL);
    values
})]);

/// Every family this crate records.
pub const FAMILIES: &[Family] = &[
    NET_SENT_BYTES,
    NET_SENT_FRAMES,
    NET_STATE_FRAMES_REPLACED,
    NET_DISCONNECTS,
];
