//! The audit log: who did which management action to what, when (written by alerting from
//! `audit.recorded` events, read by `GET /api/v1/audit`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::StoreError;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// The event's id.
    pub event_id: Uuid,
    /// When the action was done.
    pub at: DateTime<Utc>,
    /// The tenant it concerns (`None`: a platform action).
    pub tenant_id: Option<Uuid>,
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
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
    /// The HTTP status answered.
    pub status: i16,
}

const COLUMNS: &str = "event_id, at, tenant_id, actor_kind, actor_id, action, target_type, \
                       target_id, request_id, status";

/// Stores `entries`, each once by event id; returns how many were new. (A plain database error,
/// so a projection can tell an entry refused for good from an outage.)
pub async fn insert(pool: &PgPool, entries: &[AuditEntry]) -> Result<u64, sqlx::Error> {
    if entries.is_empty() {
        return Ok(0);
    }
    let mut query = QueryBuilder::<Postgres>::new(format!("INSERT INTO audit_log ({COLUMNS}) "));
    query.push_values(entries, |mut row, e| {
        row.push_bind(e.event_id)
            .push_bind(e.at)
            .push_bind(e.tenant_id)
            .push_bind(&e.actor_kind)
            .push_bind(e.actor_id)
            .push_bind(&e.action)
            .push_bind(&e.target_type)
            .push_bind(&e.target_id)
            .push_bind(&e.request_id)
            .push_bind(e.status);
    });
    query.push(" ON CONFLICT (event_id) DO NOTHING");
    Ok(query.build().execute(pool).await?.rows_affected())
}

/// What `GET /api/v1/audit` asks for.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this tenant's actions (a tenant key always sets its own).
    pub tenant_id: Option<Uuid>,
    /// Only this actor's.
    pub actor_id: Option<Uuid>,
    /// Only this action (`key.revoke`) or, ending in `.`, this family (`key.`).
    pub action: Option<String>,
    /// Only actions on this target id.
    pub target_id: Option<String>,
    /// From this time on (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Older than this entry (the last `event_id` of the previous page).
    pub before: Option<Uuid>,
    /// Most entries to return.
    pub limit: i64,
}

/// Entries matching `query`, newest first.
pub async fn list(pool: &PgPool, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM audit_log WHERE true"));
    if let Some(tenant) = query.tenant_id {
        sql.push(" AND tenant_id = ").push_bind(tenant);
    }
    if let Some(actor) = query.actor_id {
        sql.push(" AND actor_id = ").push_bind(actor);
    }
    if let Some(action) = &query.action {
        match action.strip_suffix('.') {
            Some(family) => {
                sql.push(" AND starts_with(action, ")
                    .push_bind(format!("{family}."))
                    .push(")");
            }
            None => {
                sql.push(" AND action = ").push_bind(action.clone());
            }
        }
    }
    if let Some(target) = &query.target_id {
        sql.push(" AND target_id = ").push_bind(target.clone());
    }
    if let Some(since) = query.since {
        sql.push(" AND at >= ").push_bind(since);
    }
    if let Some(until) = query.until {
        sql.push(" AND at < ").push_bind(until);
    }
    if let Some(id) = query.before {
        // The cursor is looked up within the same tenant: another tenant's entry is no cursor.
        sql.push(" AND (at, event_id) < (SELECT at, event_id FROM audit_log WHERE event_id = ")
            .push_bind(id);
        if let Some(tenant) = query.tenant_id {
            sql.push(" AND tenant_id = ").push_bind(tenant);
        }
        sql.push(")");
    }
    sql.push(" ORDER BY at DESC, event_id DESC LIMIT ")
        .push_bind(query.limit);
    Ok(sql.build_query_as::<AuditEntry>().fetch_all(pool).await?)
}

/// Deletes entries older than `cutoff`, at most `batch` at a time; returns how many went.
pub async fn delete_before(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM audit_log WHERE event_id IN \
         (SELECT event_id FROM audit_log WHERE at < $1 LIMIT $2)",
    )
    .bind(cutoff)
    .bind(batch)
    .execute(pool)
    .await?
    .rows_affected())
}
