//! Read-only queries over the ledger's projection (the ledger service is the only writer).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

fn money<S: serde::Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.normalize().to_string())
}

/// A tenant's balance as projected by the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Balance {
    /// Tenant.
    pub tenant_id: Uuid,
    /// credited + adjusted - spent.
    #[serde(serialize_with = "money")]
    pub balance_usd: Decimal,
    /// All credits granted.
    #[serde(serialize_with = "money")]
    pub credited_usd: Decimal,
    /// Net operator adjustments.
    #[serde(serialize_with = "money")]
    pub adjusted_usd: Decimal,
    /// All usage cost.
    #[serde(serialize_with = "money")]
    pub spent_usd: Decimal,
    /// Highest stream sequence reflected.
    pub last_seq: i64,
    /// When the projection last changed.
    pub as_of: DateTime<Utc>,
}

/// The tenant's balance; all zero (as of now) when the ledger has booked nothing for it yet.
pub async fn balance(pool: &PgPool, tenant_id: Uuid) -> Result<Balance, StoreError> {
    let found = sqlx::query_as::<_, Balance>(
        "SELECT tenant_id, balance_usd, credited_usd, adjusted_usd, spent_usd, last_seq, updated_at AS as_of \
         FROM tenant_balances WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(pool)
    .await?;
    Ok(found.unwrap_or(Balance {
        tenant_id,
        balance_usd: Decimal::ZERO,
        credited_usd: Decimal::ZERO,
        adjusted_usd: Decimal::ZERO,
        spent_usd: Decimal::ZERO,
        last_seq: 0,
        as_of: Utc::now(),
    }))
}

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Entry {
    /// Event id (also the cursor for `before`).
    pub event_id: Uuid,
    /// `usage.recorded`, `credits.granted` or `credits.adjusted`.
    pub kind: String,
    /// Signed effect on the balance.
    #[serde(serialize_with = "money")]
    pub amount_usd: Decimal,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Key that spent (usage).
    pub api_key_id: Option<Uuid>,
    /// Request id (usage).
    pub request_id: Option<String>,
    /// Model (usage).
    pub model: Option<String>,
    /// Prompt tokens (usage).
    pub prompt_tokens: Option<i64>,
    /// Completion tokens (usage).
    pub completion_tokens: Option<i64>,
    /// Idempotency key (credits).
    pub idempotency_key: Option<String>,
    /// Note or reason (credits).
    pub note: Option<String>,
}

const ENTRY_COLUMNS: &str = "event_id, kind, amount_usd, occurred_at, api_key_id, request_id, model, \
                             prompt_tokens, completion_tokens, idempotency_key, note";

/// The tenant's ledger, newest first; `before` is the event id of the last line already seen.
pub async fn entries(
    pool: &PgPool,
    tenant_id: Uuid,
    limit: i64,
    before: Option<Uuid>,
) -> Result<Vec<Entry>, StoreError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 \
         AND ($3::uuid IS NULL OR entry_no < (SELECT entry_no FROM ledger_entries WHERE event_id = $3 AND tenant_id = $1)) \
         ORDER BY entry_no DESC LIMIT $2"
    );
    Ok(sqlx::query_as::<_, Entry>(&sql)
        .bind(tenant_id)
        .bind(limit)
        .bind(before)
        .fetch_all(pool)
        .await?)
}

/// A booked entry by event id, within the tenant.
pub async fn entry(
    pool: &PgPool,
    tenant_id: Uuid,
    event_id: Uuid,
) -> Result<Option<Entry>, StoreError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE tenant_id = $1 AND event_id = $2"
    );
    Ok(sqlx::query_as::<_, Entry>(&sql)
        .bind(tenant_id)
        .bind(event_id)
        .fetch_optional(pool)
        .await?)
}

/// A key's booked spend and the stream sequence it reflects (zero if nothing booked yet).
pub async fn key_spend(pool: &PgPool, api_key_id: Uuid) -> Result<(Decimal, i64), StoreError> {
    let found: Option<(Decimal, i64)> =
        sqlx::query_as("SELECT spent_usd, last_seq FROM key_spend WHERE api_key_id = $1")
            .bind(api_key_id)
            .fetch_optional(pool)
            .await?;
    Ok(found.unwrap_or((Decimal::ZERO, 0)))
}
