//! Prometheus metrics of the ledger.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters shared by the consumer and `/metrics`.
#[derive(Clone)]
pub struct LedgerMetrics {
    /// Entries newly booked.
    pub booked: Counter,
    /// Redelivered or republished events skipped.
    pub duplicates: Counter,
    /// Events sent to the dead-letter subject.
    pub dead_letters: Counter,
    /// Batches that failed and were retried.
    pub batch_failures: Counter,
    /// Time from an event's occurrence to its booking.
    pub lag: Histogram,
    /// Stream sequence of the last booked batch.
    pub last_seq: Gauge,
    /// Balance-feed (KV) updates that failed.
    pub feed_failures: Counter,
    /// Auto top-ups granted.
    pub auto_topups: Counter,
}

impl LedgerMetrics {
    /// Creates and registers the metrics under `tollgate_ledger_*`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            booked: Counter::default(),
            duplicates: Counter::default(),
            dead_letters: Counter::default(),
            batch_failures: Counter::default(),
            lag: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            last_seq: Gauge::default(),
            feed_failures: Counter::default(),
            auto_topups: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("tollgate_ledger");
        r.register("booked", "Ledger entries booked", metrics.booked.clone());
        r.register(
            "duplicates",
            "Redelivered or republished events skipped",
            metrics.duplicates.clone(),
        );
        r.register(
            "dead_letters",
            "Unparsable, unknown or invalid events sent to the dead-letter subject",
            metrics.dead_letters.clone(),
        );
        r.register(
            "batch_failures",
            "Batches whose transaction failed and was retried",
            metrics.batch_failures.clone(),
        );
        r.register(
            "lag_seconds",
            "Time from an event's occurrence to its booking",
            metrics.lag.clone(),
        );
        r.register(
            "last_seq",
            "Stream sequence of the last booked batch",
            metrics.last_seq.clone(),
        );
        r.register(
            "feed_failures",
            "Balance-feed (KV) updates that failed",
            metrics.feed_failures.clone(),
        );
        r.register(
            "auto_topups",
            "Auto top-ups granted",
            metrics.auto_topups.clone(),
        );
        metrics
    }
}
