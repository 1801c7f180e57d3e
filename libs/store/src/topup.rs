//! Auto top-up rules (written by the management API, read by the ledger).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

fn money<S: serde::Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.normalize().to_string())
}

/// A tenant's auto top-up rule.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AutoTopup {
    /// Tenant.
    pub tenant_id: Uuid,
    /// Top up when the balance falls below this.
    #[serde(serialize_with = "money")]
    pub threshold_usd: Decimal,
    /// How much to grant.
    #[serde(serialize_with = "money")]
    pub amount_usd: Decimal,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Creates or replaces the rule of a tenant.
pub async fn put(
    pool: &PgPool,
    tenant_id: Uuid,
    threshold: Decimal,
    amount: Decimal,
) -> Result<AutoTopup, StoreError> {
    Ok(sqlx::query_as::<_, AutoTopup>(
        "INSERT INTO auto_topup_rules (tenant_id, threshold_usd, amount_usd) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET threshold_usd = EXCLUDED.threshold_usd, \
         amount_usd = EXCLUDED.amount_usd, updated_at = now() \
         RETURNING tenant_id, threshold_usd, amount_usd, updated_at",
    )
    .bind(tenant_id)
    .bind(threshold)
    .bind(amount)
    .fetch_one(pool)
    .await?)
}

/// The rule of a tenant, if any.
pub async fn get(pool: &PgPool, tenant_id: Uuid) -> Result<Option<AutoTopup>, StoreError> {
    Ok(sqlx::query_as::<_, AutoTopup>(
        "SELECT tenant_id, threshold_usd, amount_usd, updated_at FROM auto_topup_rules WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(pool)
    .await?)
}

/// Deletes the rule; whether there was one.
pub async fn delete(pool: &PgPool, tenant_id: Uuid) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM auto_topup_rules WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The rules of the given tenants.
pub async fn for_tenants(pool: &PgPool, tenants: &[Uuid]) -> Result<Vec<AutoTopup>, StoreError> {
    Ok(sqlx::query_as::<_, AutoTopup>(
        "SELECT tenant_id, threshold_usd, amount_usd, updated_at FROM auto_topup_rules WHERE tenant_id = ANY($1)",
    )
    .bind(tenants)
    .fetch_all(pool)
    .await?)
}
