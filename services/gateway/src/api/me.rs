//! `GET /api/v1/me`: who a credential is, so that a client (the console) can show the right
//! view after sign-in without being told the tenant id.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::audit::Actor;
use crate::auth::Role;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/me`: a tenant key's tenant and key, or an operator credential's role.
pub async fn me(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, ApiError> {
    let answer = match actor {
        Actor::Root => json!({"kind": "operator", "role": Role::Admin.as_str(), "token_id": null}),
        Actor::OperatorToken(id, role) => {
            json!({"kind": "operator", "role": role.as_str(), "token_id": id})
        }
        Actor::ApiKey(key_id) => {
            let key = tollgate_store::keys::get(&state.pool, key_id)
                .await?
                .ok_or_else(|| ApiError::Unauthenticated("invalid or revoked API key"))?;
            let tenant = tollgate_store::tenants::get(&state.pool, key.tenant_id)
                .await?
                .ok_or_else(|| ApiError::not_found("tenant not found", "tenant_not_found"))?;
            json!({
                "kind": "tenant",
                "tenant_id": tenant.id,
                "tenant_name": tenant.name,
                "key_id": key.id,
                "key_name": key.name,
                "manage_keys": key.manage_keys,
            })
        }
    };
    Ok(HttpResponse::Ok().json(answer))
}
