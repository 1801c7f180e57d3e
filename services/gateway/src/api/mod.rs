//! HTTP routes: data plane, management API and operations endpoints.

pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod ledger;
pub mod models;
pub mod openapi;
pub mod ops;
pub mod providers;
pub mod topup;

use actix_web::http::Method;
use actix_web::web;

use crate::chat;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, readiness, metrics).
    Public,
    /// A tenant API key (the data plane).
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
    route: fn() -> actix_web::Route,
}

macro_rules! route {
    ($method:ident $path:literal, $access:ident, $handler:path) => {
        RouteSpec {
            method: Method::$method,
            path: $path,
            access: Access::$access,
            route: || web::method(Method::$method).to($handler),
        }
    };
}

/// Every route the gateway serves (tests walk it: the isolation matrix).
pub const ROUTES: &[RouteSpec] = &[
    route!(POST "/v1/chat/completions", TenantKey, chat::chat_completions),
    route!(POST "/v1/messages", TenantKey, crate::messages::messages),
    route!(GET "/v1/models", TenantKey, models::list_models),
    route!(GET "/healthz", Public, ops::healthz),
    route!(GET "/readyz", Public, ops::readyz),
    route!(GET "/metrics", Public, ops::metrics),
    route!(GET "/openapi.json", Public, openapi::openapi_json),
    route!(POST "/api/v1/tenants", Operator, admin::create_tenant),
    route!(GET "/api/v1/tenants/{tenant_id}", Operator, admin::get_tenant),
    route!(PATCH "/api/v1/tenants/{tenant_id}", Operator, admin::update_tenant),
    route!(DELETE "/api/v1/tenants/{tenant_id}/cache", TenantInPath, admin::purge_cache),
    route!(POST "/api/v1/tenants/{tenant_id}/keys", Operator, admin::create_key),
    route!(GET "/api/v1/tenants/{tenant_id}/keys", Operator, admin::list_keys),
    route!(POST "/api/v1/tenants/{tenant_id}/credits", Operator, admin::grant_credits),
    route!(POST "/api/v1/tenants/{tenant_id}/adjustments", Operator, admin::adjust_credits),
    route!(GET "/api/v1/tenants/{tenant_id}/balance", TenantInPath, ledger::balance),
    route!(GET "/api/v1/tenants/{tenant_id}/ledger", TenantInPath, ledger::history),
    route!(PUT "/api/v1/tenants/{tenant_id}/auto-topup", Operator, topup::put),
    route!(GET "/api/v1/tenants/{tenant_id}/auto-topup", Operator, topup::get),
    route!(DELETE "/api/v1/tenants/{tenant_id}/auto-topup", Operator, topup::delete),
    route!(DELETE "/api/v1/keys/{key_id}", Operator, admin::revoke_key),
    route!(PATCH "/api/v1/keys/{key_id}", Operator, admin::update_key),
    route!(GET "/api/v1/providers/health", Operator, providers::health),
    route!(GET "/api/v1/analytics/costs", OwnTenant, analytics::costs),
    route!(GET "/api/v1/analytics/usage", OwnTenant, analytics::usage),
    route!(GET "/api/v1/analytics/top", OwnTenant, analytics::top),
    route!(POST "/api/v1/tenants/{tenant_id}/alert-rules", TenantInPath, alerts::create_tenant_rule),
    route!(GET "/api/v1/tenants/{tenant_id}/alert-rules", TenantInPath, alerts::list_tenant_rules),
    route!(
        DELETE "/api/v1/tenants/{tenant_id}/alert-rules/{rule_id}",
        TenantInPath,
        alerts::delete_tenant_rule
    ),
    route!(POST "/api/v1/alert-rules", Operator, alerts::create_platform_rule),
    route!(GET "/api/v1/alert-rules", Operator, alerts::list_platform_rules),
    route!(DELETE "/api/v1/alert-rules/{rule_id}", Operator, alerts::delete_platform_rule),
    route!(GET "/api/v1/alerts", OwnTenant, alerts::list_alerts),
    route!(GET "/api/v1/alerts/{alert_id}", OwnTenant, alerts::get_alert),
];

/// Registers every route of [`ROUTES`].
pub fn routes(cfg: &mut web::ServiceConfig) {
    for spec in ROUTES {
        cfg.route(spec.path, (spec.route)());
    }
    cfg.default_service(web::to(not_found));
}

/// A page size from `?limit=`: `default` when absent, otherwise an integer in `1..=max` (400).
pub fn parse_limit(
    raw: Option<&str>,
    default: i64,
    max: i64,
) -> Result<i64, crate::error::ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    raw.parse::<i64>()
        .ok()
        .filter(|l| (1..=max).contains(l))
        .ok_or_else(|| {
            crate::error::ApiError::invalid(
                format!("'limit' must be an integer from 1 to {max}"),
                "invalid_request",
                Some("limit"),
            )
        })
}

async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    crate::error::ApiError::not_found(
        format!("no route for {} {}", req.method(), req.path()),
        "unknown_route",
    )
    .error_response()
}
