//! Who may call a route: the route table's row type, and the one guard that enforces each
//! row's [`Access`] before its handler runs and hands the handler its [`Principal`].

use std::future::{Ready, ready};

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use uuid::Uuid;

use super::ids::TenantId;
use crate::auth::presented_credential;
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

/// One route: method, full path, who may call it and its handler.
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Registers its handler.
    pub(super) route: fn() -> actix_web::Route,
}

impl RouteSpec {
    /// The route's handler behind the guard of its access level.
    pub(super) fn guarded(&self) -> actix_web::Route {
        let route = (self.route)();
        match self.access {
            Access::Public | Access::TenantKey => route,
            access @ (Access::TenantInPath | Access::OwnTenant | Access::Operator) => {
                route.wrap(from_fn(move |req, next| guard(access, req, next)))
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

/// Admits the caller of a route of `access` and leaves its [`Principal`] in the request, or
/// answers the refusal itself (the handler and its body extractors never run).
async fn guard(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let admitted = match req.app_data::<web::Data<AppState>>() {
        Some(state) => admit(access, state, req.request()).await,
        None => Err(ApiError::Internal("no gateway state".into())),
    };
    match admitted {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refused) => Ok(req.error_response(refused).map_into_right_body()),
    }
}

/// The caller of a route of `access`, its credential checked under its address's throttle
/// and a tenant's management requests counted.
async fn admit(access: Access, state: &AppState, req: &HttpRequest) -> Result<Principal, ApiError> {
    let principal = state.throttled(req, caller(access, state, req)).await?;
    if let Principal::Tenant(tenant) = principal {
        state
            .limiter
            .management_request(tenant)
            .map_err(|limited| ApiError::LimitReached(Box::new(limited)))?;
    }
    Ok(principal)
}

/// Who is calling a route of `access`, or why they may not.
async fn caller(
    access: Access,
    state: &AppState,
    req: &HttpRequest,
) -> Result<Principal, ApiError> {
    let Some(presented) = presented_credential(req) else {
        return Err(ApiError::Unauthenticated(match access {
            Access::Operator => "missing admin token: send 'Authorization: Bearer <ADMIN_TOKEN>'",
            _ => "missing credentials: send 'Authorization: Bearer <key>'",
        }));
    };
    if state.admin.verify(presented) {
        return Ok(Principal::Operator);
    }
    if access == Access::Operator {
        return Err(ApiError::Unauthenticated("invalid admin token"));
    }
    let key = state.keys.authenticate(presented).await?;
    let principal = Principal::Tenant(key.tenant_id);
    if access == Access::TenantInPath {
        principal.scope(Some(TenantId::in_path(req)?.0))?;
    }
    Ok(principal)
}
