//! Events -> ledger entries (pure; no I/O).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tollgate_events::{Event, EventBody, text};
use uuid::Uuid;

/// One row of `ledger_entries`: the money effect of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The event's id (the idempotency key).
    pub event_id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Event kind.
    pub kind: &'static str,
    /// Signed effect on the balance.
    pub amount_usd: Decimal,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// JetStream sequence of the event.
    pub stream_seq: i64,
    /// Key that spent (usage only).
    pub api_key_id: Option<Uuid>,
    /// Request id (usage only).
    pub request_id: Option<String>,
    /// Model asked for (usage only).
    pub model: Option<String>,
    /// Prompt tokens (usage only).
    pub prompt_tokens: Option<i64>,
    /// Completion tokens (usage only).
    pub completion_tokens: Option<i64>,
    /// Idempotency key (credits only).
    pub idempotency_key: Option<String>,
    /// Note or reason (credits only).
    pub note: Option<String>,
}

/// Why an event cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unbookable {
    /// A negative cost or a non-positive credit: a producer bug, never booked.
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    /// Not a money event (alerts, breaker changes): nothing to book.
    #[error("{0} moves no money")]
    NotMoney(&'static str),
}

/// A producer's string as the ledger stores it: printable and bounded, so a label can never
/// keep money from being booked (the gateway refuses such strings; older events may hold them).
fn label(value: &str, max: usize) -> String {
    text::recorded(value, max).into_owned()
}

impl LedgerEntry {
    /// The entry for `event` found at stream sequence `seq`.
    pub fn from_event(event: Event, seq: u64) -> Result<Self, Unbookable> {
        let mut entry = Self {
            event_id: event.event_id,
            tenant_id: event.tenant_id,
            kind: event.body.kind(),
            amount_usd: Decimal::ZERO,
            occurred_at: event.occurred_at,
            stream_seq: i64::try_from(seq).unwrap_or(i64::MAX),
            api_key_id: None,
            request_id: None,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            idempotency_key: None,
            note: None,
        };
        match event.body {
            EventBody::UsageRecorded(usage) => {
                if usage.cost_usd.is_sign_negative() && !usage.cost_usd.is_zero() {
                    return Err(Unbookable::InvalidAmount(format!(
                        "negative cost {}",
                        usage.cost_usd
                    )));
                }
                entry.amount_usd = -usage.cost_usd;
                entry.api_key_id = Some(usage.api_key_id);
                entry.request_id = Some(label(&usage.request_id, text::MAX_REQUEST_ID));
                entry.model = Some(label(&usage.model_requested, text::MAX_MODEL));
                entry.prompt_tokens = Some(usage.prompt_tokens.into());
                entry.completion_tokens = Some(usage.completion_tokens.into());
            }
            EventBody::CreditsGranted(credit) => {
                if credit.amount_usd <= Decimal::ZERO {
                    return Err(Unbookable::InvalidAmount(format!(
                        "credit of {}",
                        credit.amount_usd
                    )));
                }
                entry.amount_usd = credit.amount_usd;
                entry.idempotency_key = Some(label(&credit.idempotency_key, text::MAX_LABEL));
                entry.note = credit.note.map(|note| label(&note, text::MAX_LABEL));
            }
            EventBody::CreditsAdjusted(adjustment) => {
                entry.amount_usd = adjustment.amount_usd;
                entry.idempotency_key = Some(label(&adjustment.idempotency_key, text::MAX_LABEL));
                entry.note = Some(label(&adjustment.reason, text::MAX_LABEL));
            }
            EventBody::AlertRaised(_)
            | EventBody::BreakerChanged(_)
            | EventBody::AuditRecorded(_) => {
                return Err(Unbookable::NotMoney(entry.kind));
            }
        }
        Ok(entry)
    }

    /// Whether this entry is spend (usage) rather than credit.
    pub fn is_usage(&self) -> bool {
        self.kind == "usage.recorded"
    }
}
