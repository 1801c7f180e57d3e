//! Scoped operator tokens: `POST /api/v1/operator-tokens` mints one (the token is in that
//! answer only), `GET` lists them (never the tokens), `DELETE …/{token_id}` revokes one.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::audit::{Actor, Created};
use super::ids::OperatorTokenId;
use crate::auth::{OPERATOR_TOKEN_PREFIX, Role, generate_secret, hash_key};
use crate::error::ApiError;
use crate::state::AppState;

/// Body of `POST /api/v1/operator-tokens`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorToken {
    /// Who or what the token is for.
    name: String,
    /// `admin`, `billing` (credits, adjustments, auto top-ups, and reads) or `viewer` (reads).
    #[schema(examples("viewer"))]
    role: String,
}

/// `POST /api/v1/operator-tokens`
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<CreateOperatorToken>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    super::admin::text(&body.name, "name")?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::invalid(
            "'role' must be 'admin', 'billing' or 'viewer'",
            "invalid_request",
            Some("role"),
        )
    })?;
    // A token mints only roles below its own (a leaked admin token cannot make admin copies
    // of itself); the root token mints any.
    if let Actor::OperatorToken(_, own) = actor
        && role >= own
    {
        return Err(ApiError::Forbidden {
            message: format!(
                "an operator token with role '{}' may mint only lower roles",
                own.as_str()
            ),
            code: "insufficient_role",
        });
    }
    let token = generate_secret(OPERATOR_TOKEN_PREFIX)
        .map_err(|e| ApiError::Internal(format!("no randomness for a token: {e}")))?;
    let id = Uuid::now_v7();
    let stored = tollgate_store::operators::create(
        &state.pool,
        &tollgate_store::operators::NewOperatorToken {
            id,
            name: body.name.trim(),
            role: role.as_str(),
            hash: &hash_key(&token),
            prefix: &token[..OPERATOR_TOKEN_PREFIX.len() + 6],
            created_by: &actor.label(),
        },
    )
    .await?;
    let mut answer =
        serde_json::to_value(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["token"] = json!(token);
    let created = Created {
        tenant_id: None,
        id: id.to_string(),
    };
    Ok(created.on(HttpResponse::Created().json(answer)))
}

/// `GET /api/v1/operator-tokens`
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tokens = tollgate_store::operators::list(&state.pool).await?;
    Ok(HttpResponse::Ok().json(json!({"data": tokens})))
}

/// `DELETE /api/v1/operator-tokens/{token_id}`: the token, and every token minted with it
/// (transitively), stop working on this gateway at once, on every other within two seconds.
pub async fn revoke(
    state: web::Data<AppState>,
    OperatorTokenId(id): OperatorTokenId,
) -> Result<HttpResponse, ApiError> {
    let revoked = tollgate_store::operators::revoke(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("operator token not found", "not_found"))?;
    state.operators.forget_all();
    Ok(HttpResponse::Ok().json(revoked))
}
