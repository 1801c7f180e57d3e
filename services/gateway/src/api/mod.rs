//! HTTP routes: data plane, management API and operations endpoints.

mod access;
pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod ids;
pub mod ledger;
pub mod models;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod providers;
pub mod topup;

use actix_web::http::Method;
use actix_web::web;

use crate::chat;
pub use access::{Access, Principal, RouteSpec};

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
    route!(GET "/openapi.json", Public, openapi_json),
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
