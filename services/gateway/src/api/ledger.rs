//! Reads of the ledger's projection: balance and history. The operator may read any tenant; a
//! tenant's own API keys may read that tenant only (others get 404).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::ids::{TenantId, require_tenant};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/tenants/{tenant_id}/balance`
pub async fn balance(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    require_tenant(&state.pool, tenant_id).await?;
    let balance = tollgate_store::ledger::balance(&state.pool, tenant_id).await?;
    Ok(HttpResponse::Ok().json(balance))
}

/// Query of `GET /api/v1/tenants/{tenant_id}/ledger`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    limit: Option<String>,
    before: Option<String>,
}

/// Default and largest page size.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// `GET /api/v1/tenants/{tenant_id}/ledger?limit&before` (newest first; `before` is an
/// `event_id` from the previous page).
pub async fn history(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = super::params::parse_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let before = query
        .before
        .as_deref()
        .map(super::params::parse_before)
        .transpose()?;
    require_tenant(&state.pool, tenant_id).await?;
    let entries = tollgate_store::ledger::entries(&state.pool, tenant_id, limit, before).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.event_id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({"data": entries, "next_before": next})))
}
