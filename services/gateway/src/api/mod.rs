//! HTTP routes: data plane, management API and operations endpoints.

mod access;
pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod audit;
pub mod ids;
pub mod ledger;
pub mod me;
pub mod models;
pub mod openapi;
pub mod operators;
pub mod ops;
pub mod params;
pub mod providers;
pub mod topup;

use actix_web::http::Method;
use actix_web::web;

pub use crate::auth::Role;
use crate::chat;
pub use access::{Access, Principal, RouteSpec};

/// A row of [`ROUTES`]: `METHOD "path", Access, handler` for routes without an operator
/// credential, `METHOD "path", Access(Role), handler[, "audit.action"]` for the rest (the role
/// an operator token needs; the audit log's name of a successful call).
macro_rules! route {
    (@audit) => {
        None
    };
    (@audit $action:literal) => {
        Some($action)
    };
    ($method:ident $path:literal, $access:ident, $handler:path) => {
        RouteSpec {
            method: Method::$method,
            path: $path,
            access: Access::$access,
            role: None,
            audit: None,
            route: || web::method(Method::$method).to($handler),
        }
    };
    ($method:ident $path:literal, $access:ident($role:ident), $handler:path $(, $action:literal)?) => {
        RouteSpec {
            method: Method::$method,
            path: $path,
            access: Access::$access,
            role: Some(Role::$role),
            audit: route!(@audit $($action)?),
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
    route!(GET "/openapi.json", Public, openapi_json),
    route!(GET "/api/v1/me", OwnTenant(Viewer), me::me),
    route!(GET "/api/v1/tenants", Operator(Viewer), admin::list_tenants),
    route!(POST "/api/v1/tenants", Operator(Admin), admin::create_tenant, "tenant.create"),
    route!(GET "/api/v1/tenants/{tenant_id}", TenantInPath(Viewer), admin::get_tenant),
    route!(PATCH "/api/v1/tenants/{tenant_id}", Operator(Admin), admin::update_tenant, "tenant.update"),
    route!(DELETE "/api/v1/tenants/{tenant_id}/cache", TenantInPath(Admin), admin::purge_cache, "cache.purge"),
    route!(POST "/api/v1/tenants/{tenant_id}/keys", TenantInPath(Admin), admin::create_key, "key.create"),
    route!(GET "/api/v1/tenants/{tenant_id}/keys", TenantInPath(Viewer), admin::list_keys),
    route!(POST "/api/v1/tenants/{tenant_id}/credits", Operator(Billing), admin::grant_credits, "credits.grant"),
    route!(POST "/api/v1/tenants/{tenant_id}/adjustments", Operator(Billing), admin::adjust_credits, "credits.adjust"),
    route!(GET "/api/v1/tenants/{tenant_id}/balance", TenantInPath(Viewer), ledger::balance),
    route!(GET "/api/v1/tenants/{tenant_id}/ledger", TenantInPath(Viewer), ledger::history),
    route!(PUT "/api/v1/tenants/{tenant_id}/auto-topup", Operator(Billing), topup::put, "auto_topup.put"),
    route!(GET "/api/v1/tenants/{tenant_id}/auto-topup", Operator(Viewer), topup::get),
    route!(DELETE "/api/v1/tenants/{tenant_id}/auto-topup", Operator(Billing), topup::delete, "auto_topup.delete"),
    route!(DELETE "/api/v1/keys/{key_id}", OwnTenant(Admin), admin::revoke_key, "key.revoke"),
    route!(PATCH "/api/v1/keys/{key_id}", OwnTenant(Admin), admin::update_key, "key.update"),
    route!(GET "/api/v1/providers/health", Operator(Viewer), providers::health),
    route!(GET "/api/v1/analytics/costs", OwnTenant(Viewer), analytics::costs),
    route!(GET "/api/v1/analytics/usage", OwnTenant(Viewer), analytics::usage),
    route!(GET "/api/v1/analytics/top", OwnTenant(Viewer), analytics::top),
    route!(
        POST "/api/v1/tenants/{tenant_id}/alert-rules",
        TenantInPath(Admin),
        alerts::create_tenant_rule,
        "alert_rule.create"
    ),
    route!(GET "/api/v1/tenants/{tenant_id}/alert-rules", TenantInPath(Viewer), alerts::list_tenant_rules),
    route!(
        DELETE "/api/v1/tenants/{tenant_id}/alert-rules/{rule_id}",
        TenantInPath(Admin),
        alerts::delete_tenant_rule,
        "alert_rule.delete"
    ),
    route!(POST "/api/v1/alert-rules", Operator(Admin), alerts::create_platform_rule, "alert_rule.create"),
    route!(GET "/api/v1/alert-rules", Operator(Viewer), alerts::list_platform_rules),
    route!(DELETE "/api/v1/alert-rules/{rule_id}", Operator(Admin), alerts::delete_platform_rule, "alert_rule.delete"),
    route!(GET "/api/v1/alerts", OwnTenant(Viewer), alerts::list_alerts),
    route!(GET "/api/v1/alerts/{alert_id}", OwnTenant(Viewer), alerts::get_alert),
    route!(GET "/api/v1/audit", OwnTenant(Viewer), audit::list),
    route!(POST "/api/v1/operator-tokens", Operator(Admin), operators::create, "operator_token.create"),
    route!(GET "/api/v1/operator-tokens", Operator(Admin), operators::list),
    route!(DELETE "/api/v1/operator-tokens/{token_id}", Operator(Admin), operators::revoke, "operator_token.revoke"),
];

/// Registers every route of [`ROUTES`].
pub fn routes(cfg: &mut web::ServiceConfig) {
    for spec in ROUTES {
        cfg.route(spec.path, spec.guarded());
    }
    cfg.default_service(web::to(not_found));
}

/// `GET /openapi.json`: the document of [`ROUTES`], built once.
async fn openapi_json() -> actix_web::HttpResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(
            DOCUMENT
                .get_or_init(|| openapi::document(ROUTES).to_string())
                .as_str(),
        )
}

async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    crate::error::ApiError::not_found(
        format!("no route for {} {}", req.method(), req.path()),
        "unknown_route",
    )
    .error_response()
}
