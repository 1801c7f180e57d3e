//! The billing record of one data-plane request, turned into a `usage.recorded` event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use tollgate_billing::{Tokenizer, Usage, cost_of};
use tollgate_events::{
    CacheHit, Event, EventBody, UpstreamAttempt, UsageOutcome, UsageRecorded, UsageSource,
};
use tollgate_routing::Deployment;
use tollgate_semcache::{CacheEntry, Tier};
use uuid::Uuid;

use crate::auth::AuthenticatedKey;

/// Facts gathered while a request is served.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Request id (`x-request-id`).
    pub request_id: String,
    /// The caller's key.
    pub key: Arc<AuthenticatedKey>,
    /// Endpoint path.
    pub endpoint: &'static str,
    /// Model the client asked for.
    pub model_requested: String,
    /// The deployment that answered, once one did.
    pub served: Option<Arc<Deployment>>,
    /// Tokenizer of the route's model family.
    pub tokenizer: Tokenizer,
    /// Output tokens per choice of a request that sets no limit: the key's, else the route's,
    /// else the gateway's default (set with the route; reserved and sent upstream).
    pub output_default: u32,
    /// Provider name, once known.
    pub provider: String,
    /// Streamed answer?
    pub stream: bool,
    /// When the gateway got the request.
    pub started: Instant,
    /// Time spent on the upstream.
    pub upstream_time: Duration,
    /// Time to first token (streams).
    pub ttft: Option<Duration>,
    /// Upstream attempts.
    pub attempts: u32,
    /// Each upstream attempt.
    pub attempt_log: Vec<UpstreamAttempt>,
    /// The cache hit that answered, if one did.
    pub cache: Option<CacheServed>,
    /// Set when the client disconnected before its answer was complete (the work went on in
    /// its own task and is billed; the event says `client_closed`).
    pub client_gone: Arc<AtomicBool>,
    /// The request's place in its key's and tenant's rate limits, held by every copy of the
    /// record until the last is gone (a stream's ends with the stream) and trued up to the
    /// tokens used when the request is billed.
    pub limit_permit: Option<Arc<crate::limits::Permit>>,
}

/// How the request ended, from the client's point of view.
#[derive(Debug, Clone)]
pub struct Ending {
    /// Outcome.
    pub outcome: UsageOutcome,
    /// HTTP status sent to the client.
    pub http_status: u16,
    /// Error code sent to the client.
    pub error_code: Option<String>,
    /// Tokens to bill.
    pub usage: Usage,
    /// Where the counts came from.
    pub usage_source: UsageSource,
}

impl Ending {
    /// A complete answer with `usage` to bill.
    pub fn success(usage: Usage, usage_source: UsageSource) -> Self {
        Self {
            outcome: UsageOutcome::Success,
            http_status: 200,
            error_code: None,
            usage,
            usage_source,
        }
    }

    /// A failure, billed for `owed` (the work a provider did anyway) or nothing.
    pub fn failed(
        outcome: UsageOutcome,
        http_status: u16,
        error_code: &str,
        owed: Option<(Usage, UsageSource)>,
    ) -> Self {
        let (usage, usage_source) = owed.unwrap_or((Usage::default(), UsageSource::Upstream));
        Self {
            outcome,
            http_status,
            error_code: Some(error_code.to_owned()),
            usage,
            usage_source,
        }
    }
}

impl RequestRecord {
    /// A record for an authenticated request.
    pub fn new(
        request_id: String,
        key: Arc<AuthenticatedKey>,
        endpoint: &'static str,
        started: Instant,
    ) -> Self {
        Self {
            request_id,
            key,
            endpoint,
            model_requested: String::new(),
            served: None,
            tokenizer: Tokenizer::default(),
            output_default: 0,
            provider: "none".into(),
            stream: false,
            started,
            upstream_time: Duration::ZERO,
            ttft: None,
            attempts: 0,
            attempt_log: Vec::new(),
            cache: None,
            client_gone: Arc::new(AtomicBool::new(false)),
            limit_permit: None,
        }
    }

    /// The exact cost of `usage` at the price of the deployment that answered (zero if none),
    /// or the cache price when the cache answered.
    pub fn cost(&self, usage: Usage) -> Decimal {
        if let Some(hit) = &self.cache {
            return hit.price;
        }
        self.served
            .as_ref()
            .map_or(Decimal::ZERO, |d| cost_of(usage, &d.price))
    }

    /// The `usage.recorded` event.
    pub fn into_event(self, mut ending: Ending) -> Event {
        if ending.outcome == UsageOutcome::Success && self.client_gone.load(Ordering::Acquire) {
            ending.outcome = UsageOutcome::ClientClosed;
        }
        let cost_usd = self.cost(ending.usage);
        let (model_served, price_version, deployment) = self
            .served
            .as_ref()
            .map(|d| {
                (
                    d.upstream_model.clone(),
                    d.price.version.clone(),
                    d.name.clone(),
                )
            })
            .unwrap_or_default();
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let tenant_id = self.key.tenant_id;
        Event::new(
            tenant_id,
            EventBody::UsageRecorded(UsageRecorded {
                request_id: self.request_id,
                api_key_id: self.key.key_id,
                endpoint: self.endpoint.to_owned(),
                model_requested: self.model_requested,
                model_served,
                provider: self.provider,
                attempts: self.attempts,
                attempt_log: self.attempt_log,
                deployment,
                outcome: ending.outcome,
                http_status: ending.http_status,
                error_code: ending.error_code,
                stream: self.stream,
                prompt_tokens: ending.usage.prompt_tokens,
                completion_tokens: ending.usage.completion_tokens,
                cached_tokens: ending.usage.cached_tokens,
                usage_source: ending.usage_source,
                cache: self
                    .cache
                    .as_ref()
                    .map_or("miss", |hit| hit.tier.as_str())
                    .to_owned(),
                cache_hit: self.cache.map(|hit| CacheHit {
                    entry_id: hit.entry_id,
                    similarity: hit.similarity,
                    saved_usd: hit.saved,
                }),
                cost_usd,
                price_version,
                latency_us: micros(self.started.elapsed()),
                upstream_latency_us: micros(self.upstream_time),
                ttft_us: self.ttft.map(micros),
            }),
        )
    }
}

/// What a hit contributes to the bill and the usage event.
#[derive(Debug, Clone)]
pub struct CacheServed {
    /// Which tier answered.
    pub tier: Tier,
    /// Entry served.
    pub entry_id: Uuid,
    /// Cosine similarity of the prompts.
    pub similarity: f32,
    /// What the hit costs the tenant.
    pub price: Decimal,
    /// The original answer's cost minus the price (never negative).
    pub saved: Decimal,
}

impl CacheServed {
    /// The hit on `entry` by `tier`, sold at `price`.
    pub fn of(entry: &CacheEntry, tier: Tier, similarity: f32, price: Decimal) -> Self {
        let original: Decimal = entry.cost_usd.parse().unwrap_or(Decimal::ZERO);
        Self {
            tier,
            entry_id: entry.id,
            similarity,
            price,
            saved: (original - price).max(Decimal::ZERO),
        }
    }
}
