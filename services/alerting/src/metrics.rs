//! Prometheus metrics of alerting.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A label set with one `kind` or `outcome` value.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Label {
    /// The value.
    pub label: String,
}

/// Counters shared by the tasks and `/metrics`.
#[derive(Clone)]
pub struct AlertingMetrics {
    /// Alerts raised, by rule kind.
    pub raised: Family<Label, Counter>,
    /// Webhook attempts by outcome (`ok`, `error`, `gave_up`).
    pub deliveries: Family<Label, Counter>,
    /// From an alert's raising to its accepted delivery.
    pub delivery_latency: Histogram,
    /// Usage events counted into the windows.
    pub counted: Counter,
    /// Evaluations or deliveries that failed on the database or NATS (retried).
    pub failures: Counter,
    /// Usage events the database refused for good, parked on the dead-letter stream.
    pub dead_letters: Counter,
    /// Management actions newly stored in the audit log.
    pub audited: Counter,
    /// Audit log entries deleted after the retention period.
    pub audit_expired: Counter,
}

impl AlertingMetrics {
    /// Creates and registers the metrics under `tollgate_alerting_*`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            raised: Family::default(),
            deliveries: Family::default(),
            delivery_latency: Histogram::new(exponential_buckets(0.005, 2.0, 16)),
            counted: Counter::default(),
            failures: Counter::default(),
            dead_letters: Counter::default(),
            audited: Counter::default(),
            audit_expired: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("tollgate_alerting");
        r.register(
            "raised",
            "Alerts raised (label: rule kind)",
            metrics.raised.clone(),
        );
        r.register(
            "deliveries",
            "Webhook delivery attempts (label: ok, error, gave_up)",
            metrics.deliveries.clone(),
        );
        r.register(
            "delivery_latency_seconds",
            "From raising an alert to its accepted webhook delivery",
            metrics.delivery_latency.clone(),
        );
        r.register(
            "counted",
            "Usage events counted into the windows",
            metrics.counted.clone(),
        );
        r.register(
            "failures",
            "Evaluations or deliveries that failed and are retried",
            metrics.failures.clone(),
        );
        r.register(
            "dead_letters",
            "Usage events the database refused for good, parked on the dead-letter stream",
            metrics.dead_letters.clone(),
        );
        r.register(
            "audited",
            "Management actions newly stored in the audit log",
            metrics.audited.clone(),
        );
        r.register(
            "audit_expired",
            "Audit log entries deleted after the retention period",
            metrics.audit_expired.clone(),
        );
        metrics
    }

    /// Counts one `label` of `family`.
    pub fn inc(family: &Family<Label, Counter>, label: &str) {
        family
            .get_or_create(&Label {
                label: label.to_owned(),
            })
            .inc();
    }
}
