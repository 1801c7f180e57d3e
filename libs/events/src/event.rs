use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventsError;

/// Version of the event envelope; bumped only for incompatible changes.
pub const SCHEMA_VERSION: u16 = 1;

/// One event on the TOLLGATE stream.
///
/// `event_id` is a UUIDv7 (or a UUIDv5 for idempotent operator actions) and is also sent as
/// `Nats-Msg-Id`, so a republish is dropped by JetStream and again by the consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id of the event; the idempotency key of every consumer.
    pub event_id: Uuid,
    /// Envelope version ([`SCHEMA_VERSION`]).
    pub schema_version: u16,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// The tenant the event belongs to.
    pub tenant_id: Uuid,
    /// The kind and its data.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The kinds of event; serialized as `{"kind": "...", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
// Events are built once and moved into the publisher queue; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum EventBody {
    /// A data-plane request was answered (successfully or not).
    #[serde(rename = "usage.recorded")]
    UsageRecorded(UsageRecorded),
    /// Prepaid credit was added to a tenant.
    #[serde(rename = "credits.granted")]
    CreditsGranted(CreditsGranted),
    /// An operator corrected a tenant's balance (signed).
    #[serde(rename = "credits.adjusted")]
    CreditsAdjusted(CreditsAdjusted),
    /// An alert rule fired (published by services/alerting; the event id is the alert id).
    #[serde(rename = "alert.raised")]
    AlertRaised(AlertRaised),
    /// A gateway's circuit breaker for an upstream deployment opened or closed (platform-wide:
    /// the nil tenant id).
    #[serde(rename = "breaker.changed")]
    BreakerChanged(BreakerChanged),
    /// A management action was done (the audit log; the nil tenant id for platform actions).
    #[serde(rename = "audit.recorded")]
    AuditRecorded(AuditRecorded),
}

impl EventBody {
    /// The kind as it appears in the subject and the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UsageRecorded(_) => "usage.recorded",
            Self::CreditsGranted(_) => "credits.granted",
            Self::CreditsAdjusted(_) => "credits.adjusted",
            Self::AlertRaised(_) => "alert.raised",
            Self::BreakerChanged(_) => "breaker.changed",
            Self::AuditRecorded(_) => "audit.recorded",
        }
    }

    /// Whether the event moves money (what the ledger books).
    pub fn is_money(&self) -> bool {
        matches!(
            self,
            Self::UsageRecorded(_) | Self::CreditsGranted(_) | Self::CreditsAdjusted(_)
        )
    }
}

/// Kinds this build understands.
const KNOWN_KINDS: [&str; 6] = [
    "usage.recorded",
    "credits.granted",
    "credits.adjusted",
    "alert.raised",
    "breaker.changed",
    "audit.recorded",
];

#[derive(Deserialize)]
struct KindOnly<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
}

impl Event {
    /// A new event with a fresh UUIDv7 id, stamped now.
    pub fn new(tenant_id: Uuid, body: EventBody) -> Self {
        Self::with_id(Uuid::now_v7(), tenant_id, body)
    }

    /// An event with a caller-chosen id (for idempotent operations).
    pub fn with_id(event_id: Uuid, tenant_id: Uuid, body: EventBody) -> Self {
        Self {
            event_id,
            schema_version: SCHEMA_VERSION,
            occurred_at: Utc::now(),
            tenant_id,
            body,
        }
    }

    /// JSON bytes of the event.
    pub fn encode(&self) -> Result<Vec<u8>, EventsError> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Decodes an event; `Ok(None)` for a kind this build does not know (to be skipped).
    pub fn decode(bytes: &[u8]) -> Result<Option<Self>, EventsError> {
        let kind: KindOnly<'_> = serde_json::from_slice(bytes)?;
        if !KNOWN_KINDS.contains(&kind.kind.as_ref()) {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(bytes)?))
    }
}

/// How a data-plane request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageOutcome {
    /// The upstream answered and the client got the whole answer.
    Success,
    /// The upstream failed (error status, timeout, connection error, broken stream).
    UpstreamError,
    /// The client went away before the answer was complete.
    ClientClosed,
    /// The gateway refused the request (invalid, unknown model, not allowed, too large).
    Rejected,
}

/// Where the token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// The provider's own `usage`.
    Upstream,
    /// Counted by the gateway with tiktoken (the provider reported none).
    Tokenizer,
}

/// What a cache hit served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheHit {
    /// Id of the cache entry served.
    pub entry_id: Uuid,
    /// Cosine similarity of the prompts (1 for exact hits).
    pub similarity: f32,
    /// The original answer's cost minus the cache price (never negative).
    pub saved_usd: Decimal,
}

/// `usage.recorded`: one data-plane request, its tokens and its exact cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecorded {
    /// The request id (`x-request-id`), given by the client or generated.
    pub request_id: String,
    /// The API key that made the request.
    pub api_key_id: Uuid,
    /// The endpoint, e.g. `/v1/chat/completions`.
    pub endpoint: String,
    /// The model the client asked for.
    pub model_requested: String,
    /// The upstream model that answered.
    pub model_served: String,
    /// The provider that answered (config name).
    pub provider: String,
    /// Upstream attempts made.
    pub attempts: u32,
    /// Each upstream attempt in order (the last one answered, if the request succeeded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_log: Vec<UpstreamAttempt>,
    /// The deployment that answered (empty if none did).
    #[serde(default)]
    pub deployment: String,
    /// How the request ended.
    pub outcome: UsageOutcome,
    /// HTTP status returned to the client.
    pub http_status: u16,
    /// Error code returned to the client, if any.
    pub error_code: Option<String>,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// Prompt tokens billed.
    pub prompt_tokens: u32,
    /// Completion tokens billed.
    pub completion_tokens: u32,
    /// Prompt tokens read from the provider's prompt cache.
    pub cached_tokens: u32,
    /// Where the token counts came from.
    pub usage_source: UsageSource,
    /// Gateway cache outcome: `miss`, `exact` or `semantic`.
    pub cache: String,
    /// On a cache hit: the served entry, the prompts' cosine similarity (1 for exact hits)
    /// and what the hit saved (the original answer's cost minus the cache price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<CacheHit>,
    /// Exact cost in USD (a decimal string in JSON).
    pub cost_usd: Decimal,
    /// Version of the price used.
    pub price_version: String,
    /// Total time in the gateway, microseconds.
    pub latency_us: u64,
    /// Time spent waiting on the upstream, microseconds.
    pub upstream_latency_us: u64,
    /// Time to first token for streams, microseconds.
    pub ttft_us: Option<u64>,
}

/// One upstream attempt of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamAttempt {
    /// Deployment tried.
    pub deployment: String,
    /// Its provider.
    pub provider: String,
    /// HTTP status, if the provider answered.
    pub status: Option<u16>,
    /// Why it failed (`timeout`, `connect_error`, `status_500`, ...); `None` for success.
    pub error: Option<String>,
    /// How long it took, microseconds.
    pub latency_us: u64,
}

/// Who granted credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditSource {
    /// The management API (an operator top-up).
    Api,
    /// An automatic top-up rule.
    Auto,
}

/// `credits.granted`: prepaid credit added to a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditsGranted {
    /// Amount in USD (positive).
    pub amount_usd: Decimal,
    /// The caller's idempotency key; the event id is derived from it.
    pub idempotency_key: String,
    /// Free-text note.
    pub note: Option<String>,
    /// Who granted it.
    pub source: CreditSource,
}

/// `credits.adjusted`: an operator correction of a tenant's balance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditsAdjusted {
    /// Signed amount in USD: positive adds to the balance, negative takes away.
    pub amount_usd: Decimal,
    /// Why (shown in the ledger).
    pub reason: String,
    /// The caller's idempotency key; the event id is derived from it.
    pub idempotency_key: String,
}

/// `alert.raised`: an alert rule's condition started to hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRaised {
    /// The alert (also the event id and the webhook's `x-tollgate-alert-id`).
    pub alert_id: Uuid,
    /// The rule that fired.
    pub rule_id: Uuid,
    /// The rule's kind (`balance_below`, `spend_above`, `key_budget`, ...).
    pub rule_kind: String,
    /// What crossed (`""`, `"<key id>:<percent>"`, a deployment).
    pub subject: String,
    /// A one-line summary.
    pub message: String,
    /// The observed value, with its unit.
    pub value: String,
    /// The threshold crossed, with its unit.
    pub threshold: String,
}

/// `breaker.changed`: a deployment's circuit breaker on one gateway opened or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerChanged {
    /// The deployment.
    pub deployment: String,
    /// Its provider.
    pub provider: String,
    /// `open` or `closed`.
    pub state: String,
    /// The breaker window's error rate when it changed (0..1).
    pub error_rate: f64,
}

/// `audit.recorded`: who did which management action to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecorded {
    /// `root` (the admin token), `operator_token` or `api_key`.
    pub actor_kind: String,
    /// The operator token's or API key's id (`None` for the root token).
    pub actor_id: Option<Uuid>,
    /// What was done, e.g. `key.revoke`.
    pub action: String,
    /// What kind of thing it was done to, e.g. `key`.
    pub target_type: String,
    /// Its id.
    pub target_id: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn usage() -> UsageRecorded {
        UsageRecorded {
            request_id: "req-1".into(),
            api_key_id: Uuid::now_v7(),
            endpoint: "/v1/chat/completions".into(),
            model_requested: "demo-small".into(),
            model_served: "mock-small".into(),
            provider: "mock".into(),
            attempts: 1,
            attempt_log: Vec::new(),
            deployment: "mock-small".into(),
            outcome: UsageOutcome::Success,
            http_status: 200,
            error_code: None,
            stream: true,
            prompt_tokens: 12,
            completion_tokens: 34,
            cached_tokens: 0,
            usage_source: UsageSource::Tokenizer,
            cache: "miss".into(),
            cache_hit: None,
            cost_usd: Decimal::from_str("0.0000222").unwrap_or_default(),
            price_version: "2026-11".into(),
            latency_us: 1234,
            upstream_latency_us: 1000,
            ttft_us: Some(300),
        }
    }

    #[test]
    fn usage_event_round_trips() -> Result<(), EventsError> {
        let event = Event::new(Uuid::now_v7(), EventBody::UsageRecorded(usage()));
        let decoded = Event::decode(&event.encode()?)?;
        assert_eq!(decoded, Some(event));
        Ok(())
    }

    #[test]
    fn credit_event_round_trips() -> Result<(), EventsError> {
        let body = EventBody::CreditsGranted(CreditsGranted {
            amount_usd: Decimal::new(1000, 2),
            idempotency_key: "topup-1".into(),
            note: Some("welcome".into()),
            source: CreditSource::Api,
        });
        let event = Event::new(Uuid::now_v7(), body);
        assert_eq!(Event::decode(&event.encode()?)?, Some(event));
        Ok(())
    }

    #[test]
    fn money_is_a_string_and_kind_is_tagged() -> Result<(), EventsError> {
        let event = Event::new(Uuid::now_v7(), EventBody::UsageRecorded(usage()));
        let json: serde_json::Value = serde_json::from_slice(&event.encode()?)?;
        assert_eq!(json["kind"], "usage.recorded");
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["data"]["cost_usd"], "0.0000222");
        Ok(())
    }

    #[test]
    fn unknown_kind_is_skipped_and_unknown_fields_ignored() -> Result<(), EventsError> {
        let future = br#"{"event_id":"0190c6a0-0000-7000-8000-000000000000","schema_version":1,
            "occurred_at":"2026-11-22T00:00:00Z","tenant_id":"0190c6a0-0000-7000-8000-000000000001",
            "kind":"quota.changed","data":{"x":1}}"#;
        assert_eq!(Event::decode(future)?, None);

        let event = Event::new(Uuid::now_v7(), EventBody::UsageRecorded(usage()));
        let mut json: serde_json::Value = serde_json::from_slice(&event.encode()?)?;
        json["data"]["added_in_v2"] = serde_json::json!(true);
        json["also_new"] = serde_json::json!("x");
        let decoded = Event::decode(&serde_json::to_vec(&json)?)?;
        assert_eq!(decoded, Some(event));
        Ok(())
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Event::decode(b"not json").is_err());
    }
}
