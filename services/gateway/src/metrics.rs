//! Prometheus metrics of the gateway, exported on `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn overhead_histogram() -> Histogram {
    // 25 µs .. ~51 ms
    Histogram::new(exponential_buckets(0.000_025, 2.0, 12))
}

/// The gateway's metrics; clones share the same series.
#[derive(Clone)]
pub struct GatewayMetrics {
    requests: Family<Labels, Counter>,
    upstream_latency: Family<Labels, Histogram, fn() -> Histogram>,
    overhead: Histogram,
    events_unbilled: Counter,
    ready: Gauge,
    feed_stale: Gauge,
    limit_gateways: Gauge,
    admission_rejections: Family<Labels, Counter>,
    deployment_attempts: Family<Labels, Counter>,
    deployment_latency: Family<Labels, Histogram, fn() -> Histogram>,
    deployment_breaker: Family<Labels, Gauge>,
    deployment_in_flight: Family<Labels, Gauge>,
    cache_lookups: Family<Labels, Counter>,
    cache_lookup_latency: Family<Labels, Histogram, fn() -> Histogram>,
    cache_stores: Family<Labels, Counter>,
    cache_verification_rejections: Gauge,
    cache_embedder_busy: Gauge,
    cache_model_loaded: Gauge,
    cache_embeddings_reused: Gauge,
    tokens_counted_off_worker: Counter,
    /// Each deployment's attempt series, created once (no label allocation per request).
    deployments: std::sync::Arc<std::collections::HashMap<String, DeploymentSeries>>,
}

/// The attempt series of one deployment.
#[derive(Clone)]
struct DeploymentSeries {
    ok: Counter,
    error: Counter,
    latency: Histogram,
}

impl GatewayMetrics {
    /// Creates the metrics and registers them (and the publisher's) in a new registry, with
    /// series for each of `deployments`.
    pub fn new<'a>(
        publisher: &tollgate_events::PublisherMetrics,
        spool: &tollgate_events::SpoolMetrics,
        deployments: impl IntoIterator<Item = &'a str>,
    ) -> (Self, Registry) {
        let mut metrics = Self {
            requests: Family::default(),
            upstream_latency: Family::new_with_constructor(latency_histogram),
            overhead: overhead_histogram(),
            events_unbilled: Counter::default(),
            ready: Gauge::default(),
            feed_stale: Gauge::default(),
            limit_gateways: Gauge::default(),
            admission_rejections: Family::default(),
            deployment_attempts: Family::default(),
            deployment_latency: Family::new_with_constructor(latency_histogram),
            deployment_breaker: Family::default(),
            deployment_in_flight: Family::default(),
            cache_lookups: Family::default(),
            cache_lookup_latency: Family::new_with_constructor(overhead_histogram),
            cache_stores: Family::default(),
            cache_verification_rejections: Gauge::default(),
            cache_embedder_busy: Gauge::default(),
            cache_model_loaded: Gauge::default(),
            cache_embeddings_reused: Gauge::default(),
            tokens_counted_off_worker: Counter::default(),
            deployments: std::sync::Arc::default(),
        };
        let series = deployments
            .into_iter()
            .map(|name| {
                let label = ("deployment", name.to_owned());
                let counter = |outcome: &str| {
                    metrics
                        .deployment_attempts
                        .get_or_create(&vec![label.clone(), ("outcome", outcome.to_owned())])
                        .clone()
                };
                let series = DeploymentSeries {
                    ok: counter("ok"),
                    error: counter("error"),
                    latency: metrics
                        .deployment_latency
                        .get_or_create(&vec![label.clone()])
                        .clone(),
                };
                (name.to_owned(), series)
            })
            .collect();
        metrics.deployments = std::sync::Arc::new(series);
        let mut registry = Registry::default();
        let r = registry.sub_registry_with_prefix("tollgate");
        r.register(
            "http_requests",
            "Data-plane and management requests by endpoint and status",
            metrics.requests.clone(),
        );
        r.register(
            "upstream_latency_seconds",
            "Time spent waiting on the upstream provider",
            metrics.upstream_latency.clone(),
        );
        r.register(
            "gateway_overhead_seconds",
            "Time the gateway adds to a data-plane request: total minus upstream time",
            metrics.overhead.clone(),
        );
        r.register(
            "usage_events_unbilled",
            "Data-plane requests whose usage event could not be enqueued",
            metrics.events_unbilled.clone(),
        );
        r.register(
            "ready",
            "1 when every dependency answered the last readiness check",
            metrics.ready.clone(),
        );
        r.register(
            "balance_feed_stale",
            "1 when the ledger's balance feed is missing or behind: admission runs on this gateway's own accounting",
            metrics.feed_stale.clone(),
        );
        r.register(
            "rate_limit_gateways",
            "Gateways sharing the rate limits, this one included (each takes its share of a limit between reports)",
            metrics.limit_gateways.clone(),
        );
        r.register(
            "admission_rejections",
            "Requests refused with 402, by code",
            metrics.admission_rejections.clone(),
        );
        r.register(
            "deployment_attempts",
            "Upstream attempts by deployment and outcome (ok, error)",
            metrics.deployment_attempts.clone(),
        );
        r.register(
            "deployment_latency_seconds",
            "Upstream attempt latency by deployment (to the first byte for streams)",
            metrics.deployment_latency.clone(),
        );
        r.register(
            "deployment_breaker_state",
            "Circuit breaker by deployment: 0 closed, 1 open, 2 half-open",
            metrics.deployment_breaker.clone(),
        );
        r.register(
            "deployment_in_flight",
            "Upstream attempts in flight by deployment",
            metrics.deployment_in_flight.clone(),
        );
        r.register(
            "cache_lookups",
            "Response cache lookups by outcome (exact, semantic, miss, error)",
            metrics.cache_lookups.clone(),
        );
        r.register(
            "cache_lookup_seconds",
            "Response cache lookup time by outcome (embedding and search included)",
            metrics.cache_lookup_latency.clone(),
        );
        r.register(
            "cache_stores",
            "Answers stored in the response cache by outcome (ok, error)",
            metrics.cache_stores.clone(),
        );
        r.register(
            "cache_verification_rejections",
            "Semantic candidates above the threshold turned down by verification (since start)",
            metrics.cache_verification_rejections.clone(),
        );
        r.register(
            "cache_embedder_busy",
            "Semantic lookups skipped because the embedder queue was full (since start)",
            metrics.cache_embedder_busy.clone(),
        );
        r.register(
            "cache_model_loaded",
            "Whether the embedding model is loaded (1) or not (0); it loads when the semantic tier is first asked for",
            metrics.cache_model_loaded.clone(),
        );
        r.register(
            "cache_embeddings_reused",
            "Prompts whose embedding came from the memo instead of the model (since start)",
            metrics.cache_embeddings_reused.clone(),
        );
        r.register(
            "tokens_counted_off_worker",
            "Long texts (or first uses of an encoder) whose tokens were counted on the blocking pool, one count at a time and one per tenant in the queue, instead of on an HTTP worker",
            metrics.tokens_counted_off_worker.clone(),
        );
        publisher.register(&mut registry);
        spool.register(&mut registry);
        (metrics, registry)
    }

    /// Counts one cache lookup and its time.
    pub fn cache_lookup(&self, outcome: &'static str, seconds: f64) {
        let labels = vec![("outcome", outcome.to_owned())];
        self.cache_lookups.get_or_create(&labels).inc();
        self.cache_lookup_latency
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Counts one attempt to store an answer.
    pub fn cache_store(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.cache_stores
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// Copies the cache's own counters, and whether its model is loaded.
    pub fn cache_counters(&self, stats: &tollgate_semcache::CacheStats, model_loaded: bool) {
        self.cache_model_loaded.set(i64::from(model_loaded));
        use std::sync::atomic::Ordering::Relaxed;
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.cache_verification_rejections
            .set(gauge(stats.rejected_by_verification.load(Relaxed)));
        self.cache_embedder_busy
            .set(gauge(stats.embedder_busy.load(Relaxed)));
        self.cache_embeddings_reused
            .set(gauge(stats.embeddings_reused.load(Relaxed)));
    }

    /// Token counts run off the HTTP workers.
    pub fn tokens_counted_off_worker(&self) -> &Counter {
        &self.tokens_counted_off_worker
    }

    /// Counts one answered request.
    pub fn request(&self, endpoint: &'static str, status: u16) {
        self.requests
            .get_or_create(&vec![
                ("endpoint", endpoint.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// Records time spent on the upstream.
    pub fn upstream_latency(&self, provider: &str, seconds: f64) {
        self.upstream_latency
            .get_or_create(&vec![("provider", provider.to_owned())])
            .observe(seconds);
    }

    /// Records the gateway's own share of a request.
    pub fn overhead(&self, seconds: f64) {
        self.overhead.observe(seconds.max(0.0));
    }

    /// Counts a usage event that could not be enqueued.
    pub fn unbilled(&self) {
        self.events_unbilled.inc();
    }

    /// Sets how many gateways share the rate limits.
    pub fn set_limit_gateways(&self, gateways: u64) {
        self.limit_gateways
            .set(i64::try_from(gateways).unwrap_or(i64::MAX));
    }

    /// Sets the balance-feed staleness gauge.
    pub fn set_feed_stale(&self, stale: bool) {
        self.feed_stale.set(i64::from(stale));
    }

    /// Counts a 402.
    pub fn admission_rejected(&self, code: &'static str) {
        self.admission_rejections
            .get_or_create(&vec![("code", code.to_owned())])
            .inc();
    }

    /// Counts an upstream attempt (`ok`: not the deployment's fault) and its latency.
    pub fn deployment_attempt(&self, deployment: &str, ok: bool, latency: std::time::Duration) {
        if let Some(series) = self.deployments.get(deployment) {
            if ok { &series.ok } else { &series.error }.inc();
            series.latency.observe(latency.as_secs_f64());
        }
    }

    /// Sets a deployment's breaker and in-flight gauges (refreshed when `/metrics` is read).
    pub fn deployment_state(
        &self,
        deployment: &str,
        breaker: tollgate_routing::BreakerState,
        in_flight: u32,
    ) {
        let code = match breaker {
            tollgate_routing::BreakerState::Closed => 0,
            tollgate_routing::BreakerState::Open => 1,
            tollgate_routing::BreakerState::HalfOpen => 2,
        };
        let labels = vec![("deployment", deployment.to_owned())];
        self.deployment_breaker.get_or_create(&labels).set(code);
        self.deployment_in_flight
            .get_or_create(&labels)
            .set(i64::from(in_flight));
    }

    /// Sets the readiness gauge.
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }
}

/// Prometheus text exposition of `registry`.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(8 * 1024);
    if encode(&mut out, registry).is_err() {
        out.clear();
    }
    out
}
