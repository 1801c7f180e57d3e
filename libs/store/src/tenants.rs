//! Tenants (organizations).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;
use crate::budget::BudgetPeriod;

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Tenant {
    /// Tenant id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Response cache mode of keys that do not set one: `off`, `exact` or `semantic`.
    #[sqlx(rename = "cache_mode")]
    #[serde(rename = "cache")]
    pub cache: String,
    /// Seconds cached answers are served (`None`: the gateway's default).
    pub cache_ttl_seconds: Option<i32>,
    /// Limits of all of the tenant's keys together.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub limits: Limits,
    /// Spending cap of all of its keys together in USD, per `budget_period` (`None`: only its
    /// credit limits it).
    #[serde(serialize_with = "money_option")]
    pub budget_usd: Option<Decimal>,
    /// The period the budget covers (it resets at the period's end).
    #[sqlx(try_from = "String")]
    pub budget_period: BudgetPeriod,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const TENANT_COLUMNS: &str = "id, name, cache_mode, cache_ttl_seconds, rpm, tpm, max_concurrent, \
                              budget_usd, budget_period, created_at";

fn money_option<S: serde::Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_str(&d.normalize().to_string()),
        None => s.serialize_none(),
    }
}

/// A spending cap and the period it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// USD per period (`None`: no cap).
    pub usd: Option<Decimal>,
    /// The period.
    pub period: BudgetPeriod,
}

/// Rate limits (`None`: the gateway's default, else unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<i32>,
    /// Tokens per minute.
    pub tpm: Option<i32>,
    /// Requests in flight at once.
    pub max_concurrent: Option<i32>,
}

/// Changes to a tenant's settings: each `Some` is set, `Some(None)` clears a limit.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    /// Cache settings (`None` fields unchanged).
    pub cache: CacheSettings,
    /// Requests per minute.
    pub rpm: Option<Option<i32>>,
    /// Tokens per minute.
    pub tpm: Option<Option<i32>>,
    /// Requests in flight at once.
    pub max_concurrent: Option<Option<i32>>,
    /// Budget in USD (`Some(None)` removes it).
    pub budget_usd: Option<Option<Decimal>>,
    /// The period the budget covers.
    pub budget_period: Option<BudgetPeriod>,
}

/// A tenant's cache settings.
#[derive(Debug, Clone, Default)]
pub struct CacheSettings {
    /// `off`, `exact` or `semantic` (`None`: unchanged, or `off` for a new tenant).
    pub mode: Option<String>,
    /// TTL in seconds (`None`: unchanged, or the gateway's default for a new tenant).
    pub ttl_seconds: Option<i32>,
}

/// Creates a tenant with a new UUIDv7 id.
pub async fn create(
    pool: &PgPool,
    name: &str,
    cache: &CacheSettings,
    limits: &Limits,
    budget: &Budget,
) -> Result<Tenant, StoreError> {
    let sql = format!(
        "INSERT INTO tenants (id, name, cache_mode, cache_ttl_seconds, rpm, tpm, max_concurrent, \
         budget_usd, budget_period) \
         VALUES ($1, $2, COALESCE($3, 'off'), $4, $5, $6, $7, $8, $9) RETURNING {TENANT_COLUMNS}"
    );
    let tenant = sqlx::query_as::<_, Tenant>(&sql)
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(&cache.mode)
        .bind(cache.ttl_seconds)
        .bind(limits.rpm)
        .bind(limits.tpm)
        .bind(limits.max_concurrent)
        .bind(budget.usd)
        .bind(budget.period.as_str())
        .fetch_one(pool)
        .await?;
    Ok(tenant)
}

/// Applies `update` and marks the tenant changed, for every gateway to reload its keys; the
/// tenant, or `None` if there is none.
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    update: &TenantUpdate,
) -> Result<Option<Tenant>, StoreError> {
    let sql = format!(
        "UPDATE tenants SET cache_mode = COALESCE($2, cache_mode), \
         cache_ttl_seconds = COALESCE($3, cache_ttl_seconds), \
         rpm = CASE WHEN $4 THEN $5 ELSE rpm END, \
         tpm = CASE WHEN $6 THEN $7 ELSE tpm END, \
         max_concurrent = CASE WHEN $8 THEN $9 ELSE max_concurrent END, \
         budget_usd = CASE WHEN $10 THEN $11 ELSE budget_usd END, \
         budget_period = COALESCE($12, budget_period), \
         settings_changed_at = now() \
         WHERE id = $1 RETURNING {TENANT_COLUMNS}"
    );
    Ok(sqlx::query_as::<_, Tenant>(&sql)
        .bind(id)
        .bind(&update.cache.mode)
        .bind(update.cache.ttl_seconds)
        .bind(update.rpm.is_some())
        .bind(update.rpm.flatten())
        .bind(update.tpm.is_some())
        .bind(update.tpm.flatten())
        .bind(update.max_concurrent.is_some())
        .bind(update.max_concurrent.flatten())
        .bind(update.budget_usd.is_some())
        .bind(update.budget_usd.flatten())
        .bind(update.budget_period.map(BudgetPeriod::as_str))
        .fetch_optional(pool)
        .await?)
}

/// The tenant with `id`, if any.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Tenant>, StoreError> {
    let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
    let tenant = sqlx::query_as::<_, Tenant>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(tenant)
}

/// A tenant in the operator's list: its settings, its balance as the ledger projects it and
/// the spend of its budget's current period.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ListedTenant {
    /// The tenant.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub tenant: Tenant,
    /// credited + adjusted - spent (zero before the ledger booked anything).
    #[serde(serialize_with = "money")]
    pub balance_usd: Decimal,
    /// All usage cost booked.
    #[serde(serialize_with = "money")]
    pub spent_usd: Decimal,
    /// Usage cost booked in the current period of its `budget_period`.
    #[serde(skip)]
    pub period_spent_usd: Decimal,
}

fn money<S: serde::Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.normalize().to_string())
}

/// Up to `limit` tenants, newest first, older than the tenant `before` when given; one query
/// (each tenant's period spend is summed under its own `budget_period` as of `now`).
pub async fn list(
    pool: &PgPool,
    limit: i64,
    before: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<ListedTenant>, StoreError> {
    // The tenant's columns are unqualified: no other table here has columns of those names.
    let sql = format!(
        "SELECT {TENANT_COLUMNS}, COALESCE(b.balance_usd, 0) AS balance_usd, \
         COALESCE(b.spent_usd, 0) AS spent_usd, \
         CASE t.budget_period WHEN 'total' THEN COALESCE(b.spent_usd, 0) ELSE \
           (SELECT COALESCE(SUM(d.spent_usd), 0) FROM daily_spend d WHERE d.tenant_id = t.id \
            AND d.day >= CASE t.budget_period WHEN 'day' THEN $3 WHEN 'week' THEN $4 ELSE $5 END) \
         END AS period_spent_usd \
         FROM tenants t LEFT JOIN tenant_balances b ON b.tenant_id = t.id \
         WHERE $2::uuid IS NULL OR t.id < $2 ORDER BY t.id DESC LIMIT $1"
    );
    Ok(sqlx::query_as::<_, ListedTenant>(&sql)
        .bind(limit)
        .bind(before)
        .bind(BudgetPeriod::Day.first_day(now))
        .bind(BudgetPeriod::Week.first_day(now))
        .bind(BudgetPeriod::Month.first_day(now))
        .fetch_all(pool)
        .await?)
}

/// Tenants whose settings changed within the last `seconds` (by the database clock), each with
/// the seconds since the change, so every gateway reloads the keys it cached before it.
pub async fn changed_within(pool: &PgPool, seconds: f64) -> Result<Vec<(Uuid, f64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, EXTRACT(EPOCH FROM now() - settings_changed_at)::float8 FROM tenants \
         WHERE settings_changed_at > now() - make_interval(secs => $1)",
    )
    .bind(seconds)
    .fetch_all(pool)
    .await?)
}
