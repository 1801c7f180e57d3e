//! Prometheus metrics of the analytics consumer.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters shared by the consumer and `/metrics`.
#[derive(Clone)]
pub struct AnalyticsMetrics {
    /// Usage events newly counted.
    pub counted: Counter,
    /// Redelivered or republished events skipped.
    pub duplicates: Counter,
    /// Events that are not usage events or do not decode (acked and skipped).
    pub skipped: Counter,
    /// Batches that failed and were retried.
    pub batch_failures: Counter,
    /// Events the database refused for good, parked on the dead-letter stream.
    pub dead_letters: Counter,
    /// Time from an event's occurrence to its counting.
    pub lag: Histogram,
}

impl AnalyticsMetrics {
    /// Creates and registers the metrics under `tollgate_analytics_*`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            counted: Counter::default(),
            duplicates: Counter::default(),
            skipped: Counter::default(),
            batch_failures: Counter::default(),
            dead_letters: Counter::default(),
            lag: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        };
        let r = registry.sub_registry_with_prefix("tollgate_analytics");
        r.register(
            "counted",
            "Usage events counted into the rollups",
            metrics.counted.clone(),
        );
        r.register(
            "duplicates",
            "Redelivered events skipped",
            metrics.duplicates.clone(),
        );
        r.register(
            "skipped",
            "Events that are not usage events or do not decode",
            metrics.skipped.clone(),
        );
        r.register(
            "batch_failures",
            "Batches that failed and were retried",
            metrics.batch_failures.clone(),
        );
        r.register(
            "dead_letters",
            "Events the database refused for good, parked on the dead-letter stream",
            metrics.dead_letters.clone(),
        );
        r.register(
            "lag_seconds",
            "Time from an event's occurrence to its counting",
            metrics.lag.clone(),
        );
        metrics
    }
}
