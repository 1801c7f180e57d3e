//! API keys. Only SHA-256 hashes of keys are stored; the plaintext exists once, at creation.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;
use crate::budget::BudgetPeriod;

/// A key's metadata as listed (never the secret, never the hash).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiKey {
    /// Key id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Display name.
    pub name: String,
    /// First characters of the key, to tell keys apart.
    pub key_prefix: String,
    /// Free-form tags (for analytics).
    pub tags: Vec<String>,
    /// Models this key may use; `None`: all.
    pub allowed_models: Option<Vec<String>>,
    /// Spending cap for this key in USD, per `budget_period`.
    #[serde(serialize_with = "money_option")]
    pub budget_usd: Option<Decimal>,
    /// The period the budget covers (it resets at the period's end).
    #[sqlx(try_from = "String")]
    pub budget_period: BudgetPeriod,
    /// Requests per minute cap.
    pub rpm: Option<i32>,
    /// Tokens per minute cap.
    pub tpm: Option<i32>,
    /// Requests in flight at once cap.
    pub max_concurrent: Option<i32>,
    /// Output tokens reserved and sent upstream for a request without `max_tokens` (`None`:
    /// the route's, then the gateway's default).
    pub default_max_tokens: Option<i32>,
    /// Most output tokens (`max_tokens x n`) one request may ask for (`None`: no key ceiling).
    pub max_output_tokens: Option<i32>,
    /// Response cache mode: `off`, `exact` or `semantic`; `None`: the tenant's.
    #[sqlx(rename = "cache_mode")]
    #[serde(rename = "cache")]
    pub cache: Option<String>,
    /// Similarity a semantic candidate needs; `None`: the gateway's default.
    pub cache_threshold: Option<f32>,
    /// Seconds stored answers are served; `None`: the tenant's, then the gateway's.
    pub cache_ttl_seconds: Option<i32>,
    /// Serve semantic hits whatever the request's temperature.
    pub cache_any_temperature: bool,
    /// Checks a semantic candidate must pass: `strict` (every one) or `balanced`.
    pub cache_precision: String,
    /// May create, change and revoke its tenant's keys (granted by the operator only; every key
    /// of a tenant may list them).
    pub manage_keys: bool,
    /// The key that created this one (`None`: the operator did).
    pub created_by_key_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Money as a normalized decimal string (`"25.5"`, not `"25.5000000000"`), or null.
fn money_option<S: serde::Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_str(&d.normalize().to_string()),
        None => s.serialize_none(),
    }
}

/// What the caller chooses for a new key.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    /// Display name.
    pub name: String,
    /// SHA-256 of the key.
    pub key_hash: [u8; 32],
    /// First characters of the key.
    pub key_prefix: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Allowed models; `None`: all.
    pub allowed_models: Option<Vec<String>>,
    /// Budget in USD.
    pub budget_usd: Option<Decimal>,
    /// The period the budget covers.
    pub budget_period: BudgetPeriod,
    /// Requests per minute.
    pub rpm: Option<i32>,
    /// Tokens per minute.
    pub tpm: Option<i32>,
    /// Requests in flight at once.
    pub max_concurrent: Option<i32>,
    /// Default output limit of a request.
    pub default_max_tokens: Option<i32>,
    /// Ceiling on `max_tokens x n`.
    pub max_output_tokens: Option<i32>,
    /// Cache mode; `None`: the tenant's.
    pub cache: Option<String>,
    /// Cache similarity threshold.
    pub cache_threshold: Option<f32>,
    /// Cache TTL in seconds.
    pub cache_ttl_seconds: Option<i32>,
    /// Semantic hits whatever the temperature.
    pub cache_any_temperature: bool,
    /// `strict` or `balanced`; `None`: `strict`.
    pub cache_precision: Option<String>,
    /// May manage its tenant's keys.
    pub manage_keys: bool,
    /// The key creating it (`None`: the operator).
    pub created_by_key_id: Option<Uuid>,
}

const KEY_COLUMNS: &str = "id, tenant_id, name, key_prefix, tags, allowed_models, budget_usd, \
                           budget_period, rpm, tpm, max_concurrent, default_max_tokens, \
                           max_output_tokens, cache_mode, cache_threshold, cache_ttl_seconds, \
                           cache_any_temperature, cache_precision, manage_keys, \
                           created_by_key_id, created_at, revoked_at";

/// Stores a new key for `tenant_id` unless the tenant already holds `cap` live keys (`None`
/// then). The count and the insert run under a per-tenant lock, so concurrent creates cannot
/// pass the cap together. Fails with a foreign-key violation if the tenant is unknown.
pub async fn create(
    pool: &PgPool,
    tenant_id: Uuid,
    key: &NewApiKey,
    cap: u32,
) -> Result<Option<ApiKey>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('api_keys:' || $1::text, 0))")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    let (live,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL")
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    if live >= i64::from(cap) {
        return Ok(None);
    }
    let sql = format!(
        "INSERT INTO api_keys (id, tenant_id, name, key_hash, key_prefix, tags, allowed_models, \
         budget_usd, rpm, tpm, max_concurrent, cache_mode, cache_threshold, cache_ttl_seconds, \
         cache_any_temperature, budget_period, default_max_tokens, max_output_tokens, \
         cache_precision, manage_keys, created_by_key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         COALESCE($19, 'strict'), $20, $21) \
         RETURNING {KEY_COLUMNS}"
    );
    let stored = sqlx::query_as::<_, ApiKey>(&sql)
        .bind(Uuid::now_v7())
        .bind(tenant_id)
        .bind(&key.name)
        .bind(key.key_hash.as_slice())
        .bind(&key.key_prefix)
        .bind(&key.tags)
        .bind(&key.allowed_models)
        .bind(key.budget_usd)
        .bind(key.rpm)
        .bind(key.tpm)
        .bind(key.max_concurrent)
        .bind(&key.cache)
        .bind(key.cache_threshold)
        .bind(key.cache_ttl_seconds)
        .bind(key.cache_any_temperature)
        .bind(key.budget_period.as_str())
        .bind(key.default_max_tokens)
        .bind(key.max_output_tokens)
        .bind(&key.cache_precision)
        .bind(key.manage_keys)
        .bind(key.created_by_key_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(stored))
}

/// The keys of one tenant, newest first (revoked ones included, marked).
pub async fn list(pool: &PgPool, tenant_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC");
    Ok(sqlx::query_as::<_, ApiKey>(&sql)
        .bind(tenant_id)
        .fetch_all(pool)
        .await?)
}

/// The key with `id` (revoked or not), if any.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
    Ok(sqlx::query_as::<_, ApiKey>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// A key found by its hash, with the stored hash for a constant-time re-check.
#[derive(Debug, Clone)]
pub struct KeyByHash {
    /// The key's metadata.
    pub key: ApiKey,
    /// The stored SHA-256.
    pub key_hash: Vec<u8>,
    /// The tenant's cache mode (what the key inherits when it has none).
    pub tenant_cache_mode: String,
    /// The tenant's cache TTL in seconds.
    pub tenant_cache_ttl_seconds: Option<i32>,
    /// The tenant's limits (all of its keys together).
    pub tenant_limits: crate::tenants::Limits,
    /// The tenant's budget (all of its keys together), if it has one.
    pub tenant_budget: Option<(Decimal, BudgetPeriod)>,
}

/// Looks a key up by its SHA-256 (revoked keys included; the caller checks `revoked_at`).
pub async fn find_by_hash(
    pool: &PgPool,
    key_hash: &[u8; 32],
) -> Result<Option<KeyByHash>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS}, key_hash, t.* FROM api_keys, LATERAL ( \
           SELECT cache_mode AS tenant_cache_mode, cache_ttl_seconds AS tenant_cache_ttl_seconds, \
                  rpm AS tenant_rpm, tpm AS tenant_tpm, max_concurrent AS tenant_max_concurrent, \
                  budget_usd AS tenant_budget_usd, budget_period AS tenant_budget_period \
           FROM tenants WHERE tenants.id = api_keys.tenant_id) t \
         WHERE api_keys.key_hash = $1"
    );
    let row = sqlx::query(&sql)
        .bind(key_hash.as_slice())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    use sqlx::{FromRow, Row};
    Ok(Some(KeyByHash {
        key: ApiKey::from_row(&row)?,
        key_hash: row.try_get("key_hash")?,
        tenant_cache_mode: row.try_get("tenant_cache_mode")?,
        tenant_cache_ttl_seconds: row.try_get("tenant_cache_ttl_seconds")?,
        tenant_limits: crate::tenants::Limits {
            rpm: row.try_get("tenant_rpm")?,
            tpm: row.try_get("tenant_tpm")?,
            max_concurrent: row.try_get("tenant_max_concurrent")?,
        },
        tenant_budget: match row.try_get::<Option<Decimal>, _>("tenant_budget_usd")? {
            Some(budget) => Some((budget, period_column(&row, "tenant_budget_period")?)),
            None => None,
        },
    }))
}

/// A `budget_period` column as its enum (the table's CHECK admits only the four names).
fn period_column(row: &sqlx::postgres::PgRow, column: &str) -> Result<BudgetPeriod, sqlx::Error> {
    use sqlx::Row;
    let name: String = row.try_get(column)?;
    name.parse().map_err(|e: String| sqlx::Error::ColumnDecode {
        index: column.into(),
        source: e.into(),
    })
}

/// Revokes a key. Returns its hash if it existed and was live, so caches can evict it.
pub async fn revoke(pool: &PgPool, key_id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
    let hash: Option<(Vec<u8>,)> = sqlx::query_as(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL \
         RETURNING key_hash",
    )
    .bind(key_id)
    .fetch_optional(pool)
    .await?;
    Ok(hash.map(|(h,)| h))
}

/// Revokes every live key that `key_id` created, and what those created in turn, within its
/// tenant; their hashes, so caches can evict them.
pub async fn revoke_created_by(pool: &PgPool, key_id: Uuid) -> Result<Vec<Vec<u8>>, StoreError> {
    let hashes: Vec<(Vec<u8>,)> = sqlx::query_as(
        "WITH RECURSIVE made AS ( \
           SELECT k.id FROM api_keys k JOIN api_keys parent ON parent.id = $1 \
           WHERE k.created_by_key_id = $1 AND k.tenant_id = parent.tenant_id \
           UNION \
           SELECT k.id FROM api_keys k JOIN made m ON k.created_by_key_id = m.id \
         ) \
         UPDATE api_keys SET revoked_at = now() \
         WHERE id IN (SELECT id FROM made) AND revoked_at IS NULL RETURNING key_hash",
    )
    .bind(key_id)
    .fetch_all(pool)
    .await?;
    Ok(hashes.into_iter().map(|(h,)| h).collect())
}

/// Whether a key with this id exists (revoked or not).
pub async fn exists(pool: &PgPool, key_id: Uuid) -> Result<bool, StoreError> {
    let found: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM api_keys WHERE id = $1")
        .bind(key_id)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// The tenant a key belongs to, if the key exists.
pub async fn tenant_of(pool: &PgPool, key_id: Uuid) -> Result<Option<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT tenant_id FROM api_keys WHERE id = $1")
            .bind(key_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// A key revoked or changed recently (see [`changed_within`]).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct KeyChange {
    /// The key's SHA-256.
    pub key_hash: Vec<u8>,
    /// Revoked (rather than only edited).
    pub revoked: bool,
    /// Seconds since the latest revocation or edit, by the database clock.
    pub seconds_ago: f64,
}

/// Keys revoked or edited within the last `seconds` (by the database clock), so every gateway
/// instance evicts what it cached before.
pub async fn changed_within(pool: &PgPool, seconds: f64) -> Result<Vec<KeyChange>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT key_hash, revoked_at IS NOT NULL AS revoked, \
         EXTRACT(EPOCH FROM now() - GREATEST(revoked_at, settings_changed_at))::float8 AS seconds_ago \
         FROM api_keys WHERE revoked_at > now() - make_interval(secs => $1) \
         OR settings_changed_at > now() - make_interval(secs => $1)",
    )
    .bind(seconds)
    .fetch_all(pool)
    .await?)
}

/// The settings a `PATCH` changes: `None` keeps a setting; `Some(None)` clears a nullable one
/// (no budget, every model, the tenant's cache mode, the gateway's threshold or TTL).
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// Spending cap in USD.
    pub budget_usd: Option<Option<Decimal>>,
    /// The period the budget covers.
    pub budget_period: Option<BudgetPeriod>,
    /// Allowed models.
    pub allowed_models: Option<Option<Vec<String>>>,
    /// Cache mode.
    pub cache: Option<Option<String>>,
    /// Cache similarity threshold.
    pub cache_threshold: Option<Option<f32>>,
    /// Cache TTL in seconds.
    pub cache_ttl_seconds: Option<Option<i32>>,
    /// Semantic hits whatever the temperature.
    pub cache_any_temperature: Option<bool>,
    /// `strict` or `balanced`.
    pub cache_precision: Option<String>,
    /// Requests per minute.
    pub rpm: Option<Option<i32>>,
    /// Tokens per minute.
    pub tpm: Option<Option<i32>>,
    /// Requests in flight at once.
    pub max_concurrent: Option<Option<i32>>,
    /// Default output limit of a request.
    pub default_max_tokens: Option<Option<i32>>,
    /// Ceiling on `max_tokens x n`.
    pub max_output_tokens: Option<Option<i32>>,
    /// May manage its tenant's keys.
    pub manage_keys: Option<bool>,
}

/// What [`update`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// The key after the change, and its hash for eviction.
    Key(Box<ApiKey>, Vec<u8>),
    /// The key is revoked: nothing was changed.
    Revoked,
    /// No such key.
    Missing,
}

/// Applies `update` to a live key and marks it changed, for every gateway to reload it.
pub async fn update(
    pool: &PgPool,
    key_id: Uuid,
    update: &KeyUpdate,
) -> Result<Updated, StoreError> {
    let sql = format!(
        "UPDATE api_keys SET \
         budget_usd = CASE WHEN $2 THEN $3 ELSE budget_usd END, \
         allowed_models = CASE WHEN $4 THEN $5 ELSE allowed_models END, \
         cache_mode = CASE WHEN $6 THEN $7 ELSE cache_mode END, \
         cache_threshold = CASE WHEN $8 THEN $9 ELSE cache_threshold END, \
         cache_ttl_seconds = CASE WHEN $10 THEN $11 ELSE cache_ttl_seconds END, \
         cache_any_temperature = COALESCE($12, cache_any_temperature), \
         rpm = CASE WHEN $13 THEN $14 ELSE rpm END, \
         tpm = CASE WHEN $15 THEN $16 ELSE tpm END, \
         max_concurrent = CASE WHEN $17 THEN $18 ELSE max_concurrent END, \
         budget_period = COALESCE($19, budget_period), \
         default_max_tokens = CASE WHEN $20 THEN $21 ELSE default_max_tokens END, \
         max_output_tokens = CASE WHEN $22 THEN $23 ELSE max_output_tokens END, \
         cache_precision = COALESCE($24, cache_precision), \
         manage_keys = COALESCE($25, manage_keys), \
         settings_changed_at = now() \
         WHERE id = $1 AND revoked_at IS NULL RETURNING {KEY_COLUMNS}, key_hash"
    );
    let row = sqlx::query(&sql)
        .bind(key_id)
        .bind(update.budget_usd.is_some())
        .bind(update.budget_usd.flatten())
        .bind(update.allowed_models.is_some())
        .bind(update.allowed_models.clone().flatten())
        .bind(update.cache.is_some())
        .bind(update.cache.clone().flatten())
        .bind(update.cache_threshold.is_some())
        .bind(update.cache_threshold.flatten())
        .bind(update.cache_ttl_seconds.is_some())
        .bind(update.cache_ttl_seconds.flatten())
        .bind(update.cache_any_temperature)
        .bind(update.rpm.is_some())
        .bind(update.rpm.flatten())
        .bind(update.tpm.is_some())
        .bind(update.tpm.flatten())
        .bind(update.max_concurrent.is_some())
        .bind(update.max_concurrent.flatten())
        .bind(update.budget_period.map(BudgetPeriod::as_str))
        .bind(update.default_max_tokens.is_some())
        .bind(update.default_max_tokens.flatten())
        .bind(update.max_output_tokens.is_some())
        .bind(update.max_output_tokens.flatten())
        .bind(&update.cache_precision)
        .bind(update.manage_keys)
        .fetch_optional(pool)
        .await?;
    use sqlx::{FromRow, Row};
    match row {
        Some(row) => Ok(Updated::Key(
            Box::new(ApiKey::from_row(&row)?),
            row.try_get("key_hash")?,
        )),
        None if exists(pool, key_id).await? => Ok(Updated::Revoked),
        None => Ok(Updated::Missing),
    }
}

/// A live key's budget in USD and its period (`None`: no budget, revoked or unknown).
pub async fn budget(
    pool: &PgPool,
    key_id: Uuid,
) -> Result<Option<(Decimal, BudgetPeriod)>, StoreError> {
    let found: Option<(Option<Decimal>, String)> = sqlx::query_as(
        "SELECT budget_usd, budget_period FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(key_id)
    .fetch_optional(pool)
    .await?;
    Ok(match found {
        Some((Some(budget), period)) => Some((budget, period.parse().unwrap_or_default())),
        _ => None,
    })
}
