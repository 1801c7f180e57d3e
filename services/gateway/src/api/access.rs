//! Who may call a route: the route table's row type, and the one guard that enforces each
//! row's [`Access`] and operator [`Role`] before its handler runs, hands the handler its
//! [`Principal`] and, for a row with an audit action, records who did it once it succeeded.

use std::future::{Ready, ready};

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use uuid::Uuid;

use super::audit::{Actor, record, record_call};
use super::ids::TenantId;
use crate::auth::{OPERATOR_TOKEN_PREFIX, Role, presented_credential};
use crate::error::ApiError;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, readiness, metrics).
    Public,
    /// A tenant API key (the data plane). Its handler authenticates, so that a refusal is
    /// answered in the route's dialect, counted and traced like any data-plane answer.
    TenantKey,
    /// The operator, or a key of the tenant named in the path; another tenant's key gets 404.
    TenantInPath,
    /// The operator (all tenants, or `?tenant_id=`), or a tenant key for its own tenant only:
    /// another tenant's id or record gets 404.
    OwnTenant,
    /// The operator only; a tenant key gets 401.
    Operator,
}

/// One route: method, full path, who may call it, what an operator token needs, what the
/// audit log calls it, and its handler.
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The role an operator token needs (the root token may do everything); `None` on routes
    /// no operator credential is checked on (public and data-plane routes).
    pub role: Option<Role>,
    /// The audit log's name of a successful call (`key.revoke`); `None`: not audited.
    pub audit: Option<&'static str>,
    /// Registers its handler.
    pub(super) route: fn() -> actix_web::Route,
}

/// What the guard of one route checks and records.
#[derive(Debug, Clone, Copy)]
struct Rule {
    access: Access,
    role: Role,
    audit: Option<&'static str>,
}

impl RouteSpec {
    /// The route's handler behind the guard of its access level.
    pub(super) fn guarded(&self) -> actix_web::Route {
        let route = (self.route)();
        match self.access {
            Access::Public | Access::TenantKey => route,
            access @ (Access::TenantInPath | Access::OwnTenant | Access::Operator) => {
                let rule = Rule {
                    access,
                    role: self.role.unwrap_or(Role::Admin),
                    audit: self.audit,
                };
                route.wrap(from_fn(move |req, next| guard(rule, req, next)))
            }
        }
    }
}

/// The caller of a management route, as its guard admitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The platform operator: every tenant.
    Operator,
    /// A key of this tenant: that tenant only.
    Tenant(Uuid),
}

impl Principal {
    /// The tenant a read is limited to: the one asked for (the operator's `None` is every
    /// tenant; a tenant key's `None` is its own). Another tenant's id is 404 for a tenant key.
    pub fn scope(self, asked: Option<Uuid>) -> Result<Option<Uuid>, ApiError> {
        match (self, asked) {
            (Self::Operator, asked) => Ok(asked),
            (Self::Tenant(own), None) => Ok(Some(own)),
            (Self::Tenant(own), Some(asked)) if asked == own => Ok(Some(own)),
            (Self::Tenant(_), Some(_)) => {
                Err(ApiError::not_found("tenant not found", "tenant_not_found"))
            }
        }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Self>()
                .copied()
                .ok_or_else(|| ApiError::Internal(format!("{} has no access guard", req.path()))),
        )
    }
}

/// Admits the caller of a route under `rule` and leaves its [`Principal`] in the request, or
/// answers the refusal itself (the handler and its body extractors never run); records an
/// audited route's successful answer.
async fn guard(
    rule: Rule,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let refused = ApiError::Internal("no gateway state".into());
        return Ok(req.error_response(refused).map_into_right_body());
    };
    match admit(rule, &state, req.request()).await {
        Ok((principal, actor)) => {
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(actor);
            let response = next.call(req).await?;
            if let Some(action) = rule.audit
                && response.status().is_success()
            {
                record(&state, action, actor, &response).await;
            }
            Ok(response.map_into_left_body())
        }
        Err(refused) => Ok(req.error_response(refused).map_into_right_body()),
    }
}

/// The caller of a route under `rule`, its credential checked under its address's throttle
/// and a tenant's management requests counted.
async fn admit(
    rule: Rule,
    state: &AppState,
    req: &HttpRequest,
) -> Result<(Principal, Actor), ApiError> {
    let admitted = state.throttled(req, caller(rule, state, req)).await?;
    if let (Principal::Tenant(tenant), _) = admitted {
        state
            .limiter
            .management_request(tenant)
            .map_err(|limited| ApiError::LimitReached(Box::new(limited)))?;
    }
    Ok(admitted)
}

/// Who is calling a route under `rule`, or why they may not.
async fn caller(
    rule: Rule,
    state: &AppState,
    req: &HttpRequest,
) -> Result<(Principal, Actor), ApiError> {
    let access = rule.access;
    let Some(presented) = presented_credential(req) else {
        return Err(ApiError::Unauthenticated(match access {
            Access::Operator => "missing admin token: send 'Authorization: Bearer <ADMIN_TOKEN>'",
            _ => "missing credentials: send 'Authorization: Bearer <key>'",
        }));
    };
    if state.admin.verify(presented) {
        return Ok((Principal::Operator, Actor::Root));
    }
    if presented.starts_with(OPERATOR_TOKEN_PREFIX) {
        let Some(operator) = state.operators.verify(presented).await? else {
            return Err(ApiError::Unauthenticated(
                "invalid or revoked operator token",
            ));
        };
        if !operator.role.allows(rule.role) {
            if let Some(action) = rule.audit {
                let actor = Actor::OperatorToken(operator.id, operator.role);
                record_call(state, action, actor, req, 403, None).await;
            }
            return Err(ApiError::Forbidden {
                message: format!(
                    "this operator token's role '{}' may not do this (it needs '{}')",
                    operator.role.as_str(),
                    rule.role.as_str()
                ),
                code: "insufficient_role",
            });
        }
        return Ok((
            Principal::Operator,
            Actor::OperatorToken(operator.id, operator.role),
        ));
    }
    if access == Access::Operator {
        return Err(ApiError::Unauthenticated("invalid admin token"));
    }
    let key = state.keys.authenticate(presented).await?;
    let principal = Principal::Tenant(key.tenant_id);
    if access == Access::TenantInPath {
        principal.scope(Some(TenantId::in_path(req)?.0))?;
    }
    Ok((principal, Actor::ApiKey(key.key_id)))
}
