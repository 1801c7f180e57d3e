//! `PUT / GET / DELETE /api/v1/tenants/{tenant_id}/auto-topup`: the tenant's auto top-up rule
//! (operator only). The ledger applies it: when a booking takes the balance below
//! `threshold_usd`, it grants `amount_usd` (`credits.granted`, source `auto`).

use actix_web::{HttpResponse, web};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::ids::{TenantId, require_tenant};
use super::params::parse_money;
use crate::error::ApiError;
use crate::state::AppState;

/// Body of `PUT …/auto-topup`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRule {
    /// Top up when the balance falls below this (USD decimal string).
    #[schema(value_type = String, examples("5.00"))]
    threshold_usd: Value,
    /// How much each top-up grants (USD decimal string).
    #[schema(value_type = String, examples("20.00"))]
    amount_usd: Value,
}

/// `PUT /api/v1/tenants/{tenant_id}/auto-topup`
pub async fn put(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    body: web::Json<PutRule>,
) -> Result<HttpResponse, ApiError> {
    let threshold = parse_money(&body.threshold_usd, "threshold_usd")?;
    let amount = parse_money(&body.amount_usd, "amount_usd")?;
    if threshold.is_sign_negative() {
        return Err(ApiError::invalid(
            "'threshold_usd' must not be negative",
            "invalid_amount",
            Some("threshold_usd"),
        ));
    }
    if amount <= Decimal::ZERO || amount > state.config.max_credit_usd {
        return Err(ApiError::invalid(
            format!(
                "'amount_usd' must be positive and at most {}",
                state.config.max_credit_usd
            ),
            "invalid_amount",
            Some("amount_usd"),
        ));
    }
    require_tenant(&state.pool, tenant_id).await?;
    let rule = tollgate_store::topup::put(&state.pool, tenant_id, threshold, amount).await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// `GET /api/v1/tenants/{tenant_id}/auto-topup`
pub async fn get(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    let rule = tollgate_store::topup::get(&state.pool, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no auto top-up rule", "not_found"))?;
    Ok(HttpResponse::Ok().json(rule))
}

/// `DELETE /api/v1/tenants/{tenant_id}/auto-topup`
pub async fn delete(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    if tollgate_store::topup::delete(&state.pool, tenant_id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("no auto top-up rule", "not_found"))
    }
}
