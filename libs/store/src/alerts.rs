//! Alert rules (written by the gateway's management API) and reads of what services/alerting
//! made of them: alerts and their webhook delivery attempts.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// The tenant's balance fell below `threshold` USD.
    BalanceBelow,
    /// The tenant spent more than `threshold` USD within `window_seconds`.
    SpendAbove,
    /// A key spent `percents` of its budget.
    KeyBudget,
    /// More than `threshold` percent of the tenant's requests failed within `window_seconds`.
    ErrorRateAbove,
    /// An upstream deployment's circuit breaker opened (platform-wide).
    BreakerOpen,
    /// A projection parked an event it could not apply on the dead-letter stream
    /// (platform-wide).
    DeadLetter,
}

impl RuleKind {
    /// Every kind.
    pub const ALL: [RuleKind; 6] = [
        Self::BalanceBelow,
        Self::SpendAbove,
        Self::KeyBudget,
        Self::ErrorRateAbove,
        Self::BreakerOpen,
        Self::DeadLetter,
    ];

    /// Whether the rule is the platform's (created by the operator, with no tenant).
    pub fn is_platform(self) -> bool {
        matches!(self, Self::BreakerOpen | Self::DeadLetter)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BalanceBelow => "balance_below",
            Self::SpendAbove => "spend_above",
            Self::KeyBudget => "key_budget",
            Self::ErrorRateAbove => "error_rate_above",
            Self::BreakerOpen => "breaker_open",
            Self::DeadLetter => "dead_letter",
        }
    }
}

impl std::str::FromStr for RuleKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown kind '{s}' (use balance_below, spend_above, key_budget, error_rate_above, breaker_open or dead_letter)"
                )
            })
    }
}

/// A rule as listed (never the webhook secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRule {
    /// Rule id.
    pub id: Uuid,
    /// Owning tenant (`None`: platform-wide).
    pub tenant_id: Option<Uuid>,
    /// What it watches.
    pub kind: RuleKind,
    /// USD or percent, by kind.
    #[serde(serialize_with = "decimal_option")]
    pub threshold: Option<Decimal>,
    /// Budget percentages (key_budget).
    pub percents: Option<Vec<i32>>,
    /// One key (key_budget; `None`: every budgeted key).
    pub api_key_id: Option<Uuid>,
    /// Window (spend_above, error_rate_above).
    pub window_seconds: Option<i32>,
    /// Fewest requests before an error rate counts.
    pub min_requests: i32,
    /// Where alerts are POSTed (`None`: stored and published only).
    pub webhook_url: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

fn decimal_option<S: serde::Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_str(&d.normalize().to_string()),
        None => s.serialize_none(),
    }
}

/// A rule with its webhook secret, for the alerting service.
#[derive(Debug, Clone)]
pub struct RuleWithSecret {
    /// The rule.
    pub rule: AlertRule,
    /// The HMAC key of its webhook signatures.
    pub webhook_secret: String,
}

/// What the caller chooses for a new rule (validated by the caller).
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    /// Owning tenant (`None`: platform-wide).
    pub tenant_id: Option<Uuid>,
    /// Kind.
    pub kind: RuleKind,
    /// Threshold.
    pub threshold: Option<Decimal>,
    /// Budget percentages.
    pub percents: Option<Vec<i32>>,
    /// One key.
    pub api_key_id: Option<Uuid>,
    /// Window in seconds.
    pub window_seconds: Option<i32>,
    /// Fewest requests.
    pub min_requests: i32,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Webhook secret.
    pub webhook_secret: String,
}

const RULE_COLUMNS: &str = "id, tenant_id, kind, threshold, percents, api_key_id, window_seconds, \
                            min_requests, webhook_url, created_at, webhook_secret";

fn rule_of(row: &sqlx::postgres::PgRow) -> Result<RuleWithSecret, sqlx::Error> {
    use sqlx::Row;
    let kind: String = row.try_get("kind")?;
    Ok(RuleWithSecret {
        rule: AlertRule {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            kind: kind
                .parse()
                .map_err(|e: String| sqlx::Error::Decode(e.into()))?,
            threshold: row.try_get("threshold")?,
            percents: row.try_get("percents")?,
            api_key_id: row.try_get("api_key_id")?,
            window_seconds: row.try_get("window_seconds")?,
            min_requests: row.try_get("min_requests")?,
            webhook_url: row.try_get("webhook_url")?,
            created_at: row.try_get("created_at")?,
        },
        webhook_secret: row.try_get("webhook_secret")?,
    })
}

/// Stores a new rule.
pub async fn create_rule(pool: &PgPool, rule: &NewAlertRule) -> Result<AlertRule, StoreError> {
    let sql = format!(
        "INSERT INTO alert_rules (id, tenant_id, kind, threshold, percents, api_key_id, \
         window_seconds, min_requests, webhook_url, webhook_secret) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {RULE_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(Uuid::now_v7())
        .bind(rule.tenant_id)
        .bind(rule.kind.as_str())
        .bind(rule.threshold)
        .bind(&rule.percents)
        .bind(rule.api_key_id)
        .bind(rule.window_seconds)
        .bind(rule.min_requests)
        .bind(&rule.webhook_url)
        .bind(&rule.webhook_secret)
        .fetch_one(pool)
        .await?;
    Ok(rule_of(&row)?.rule)
}

/// How many live alert rules the tenant has.
pub async fn count_rules(pool: &PgPool, tenant_id: Uuid) -> Result<i64, StoreError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM alert_rules WHERE tenant_id = $1 AND deleted_at IS NULL",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await?;
    Ok(count)
}

/// Live rules of `tenant` (`None`: the platform-wide ones), newest first.
pub async fn rules(pool: &PgPool, tenant: Option<Uuid>) -> Result<Vec<AlertRule>, StoreError> {
    Ok(rules_with_secrets(pool, tenant)
        .await?
        .into_iter()
        .map(|r| r.rule)
        .collect())
}

/// [`rules`] with their webhook secrets (for the alerting service only).
pub async fn rules_with_secrets(
    pool: &PgPool,
    tenant: Option<Uuid>,
) -> Result<Vec<RuleWithSecret>, StoreError> {
    let sql = format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE tenant_id IS NOT DISTINCT FROM $1 \
         AND deleted_at IS NULL ORDER BY created_at DESC"
    );
    let rows = sqlx::query(&sql).bind(tenant).fetch_all(pool).await?;
    Ok(rows.iter().map(rule_of).collect::<Result<_, _>>()?)
}

/// Every live rule of `kind` (for periodic re-evaluation).
pub async fn rules_of_kind(
    pool: &PgPool,
    kind: RuleKind,
) -> Result<Vec<RuleWithSecret>, StoreError> {
    let sql =
        format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE kind = $1 AND deleted_at IS NULL");
    let rows = sqlx::query(&sql)
        .bind(kind.as_str())
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(rule_of).collect::<Result<_, _>>()?)
}

/// Deletes (soft) the rule `id` of `tenant` (`None`: a platform rule); whether it existed.
pub async fn delete_rule(
    pool: &PgPool,
    tenant: Option<Uuid>,
    id: Uuid,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE alert_rules SET deleted_at = now() WHERE id = $1 \
         AND tenant_id IS NOT DISTINCT FROM $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(tenant)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Alert {
    /// Alert id (also the webhook's `x-tollgate-alert-id` and the event id of `alert.raised`).
    pub id: Uuid,
    /// The rule that fired.
    pub rule_id: Uuid,
    /// Tenant (`None`: platform-wide).
    pub tenant_id: Option<Uuid>,
    /// The rule's kind.
    pub kind: String,
    /// What crossed (`""`, `"<key id>:<percent>"`, a deployment).
    pub subject: String,
    /// Human-readable summary.
    pub message: String,
    /// The observed value.
    pub value: String,
    /// The threshold crossed.
    pub threshold: String,
    /// When it fired.
    pub raised_at: DateTime<Utc>,
    /// Webhook delivery: `pending`, `delivered`, `failed` or `none`.
    pub delivery: String,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeliveryAttempt {
    /// 1, 2, ...
    pub attempt: i32,
    /// Where it went.
    pub url: String,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
    /// When.
    pub attempted_at: DateTime<Utc>,
}

const ALERT_COLUMNS: &str =
    "id, rule_id, tenant_id, kind, subject, message, value, threshold, raised_at, delivery";

/// Alerts of `tenant` (`None`: every tenant's and the platform's), newest first.
pub async fn alerts(
    pool: &PgPool,
    tenant: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Alert>, StoreError> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE ($1::uuid IS NULL OR tenant_id = $1) \
         ORDER BY raised_at DESC, id DESC LIMIT $2"
    );
    Ok(sqlx::query_as::<_, Alert>(&sql)
        .bind(tenant)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// One alert with its delivery attempts, if it exists.
pub async fn alert(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<(Alert, Vec<DeliveryAttempt>)>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
    let Some(alert) = sqlx::query_as::<_, Alert>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let attempts = sqlx::query_as::<_, DeliveryAttempt>(
        "SELECT attempt, url, status, error, duration_ms, attempted_at FROM alert_deliveries \
         WHERE alert_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some((alert, attempts)))
}
