//! HTTP routes: data plane, management API and operations endpoints.

pub mod admin;
pub mod alerts;
pub mod analytics;
pub mod headers;
pub mod ledger;
pub mod models;
pub mod ops;
pub mod providers;
pub mod topup;

use actix_web::web;

use crate::chat;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let tenant = |path: &str| format!("/tenants/{{tenant_id}}{path}");
    cfg.route(
        "/v1/chat/completions",
        web::post().to(chat::chat_completions),
    )
    .route("/v1/messages", web::post().to(crate::messages::messages))
    .route("/v1/models", web::get().to(models::list_models))
    .route("/healthz", web::get().to(ops::healthz))
    .route("/readyz", web::get().to(ops::readyz))
    .route("/metrics", web::get().to(ops::metrics))
    .service(
        web::scope("/api/v1")
            .route("/tenants", web::post().to(admin::create_tenant))
            .route(&tenant(""), web::get().to(admin::get_tenant))
            .route(&tenant(""), web::patch().to(admin::update_tenant))
            .route(&tenant("/cache"), web::delete().to(admin::purge_cache))
            .route(&tenant("/keys"), web::post().to(admin::create_key))
            .route(&tenant("/keys"), web::get().to(admin::list_keys))
            .route(&tenant("/credits"), web::post().to(admin::grant_credits))
            .route(
                &tenant("/adjustments"),
                web::post().to(admin::adjust_credits),
            )
            .route(&tenant("/balance"), web::get().to(ledger::balance))
            .route(&tenant("/ledger"), web::get().to(ledger::history))
            .route(&tenant("/auto-topup"), web::put().to(topup::put))
            .route(&tenant("/auto-topup"), web::get().to(topup::get))
            .route(&tenant("/auto-topup"), web::delete().to(topup::delete))
            .route("/keys/{key_id}", web::delete().to(admin::revoke_key))
            .route("/keys/{key_id}", web::patch().to(admin::update_key))
            .route("/providers/health", web::get().to(providers::health))
            .route("/analytics/costs", web::get().to(analytics::costs))
            .route("/analytics/usage", web::get().to(analytics::usage))
            .route("/analytics/top", web::get().to(analytics::top))
            .route(
                &tenant("/alert-rules"),
                web::post().to(alerts::create_tenant_rule),
            )
            .route(
                &tenant("/alert-rules"),
                web::get().to(alerts::list_tenant_rules),
            )
            .route(
                &tenant("/alert-rules/{rule_id}"),
                web::delete().to(alerts::delete_tenant_rule),
            )
            .route("/alert-rules", web::post().to(alerts::create_platform_rule))
            .route("/alert-rules", web::get().to(alerts::list_platform_rules))
            .route(
                "/alert-rules/{rule_id}",
                web::delete().to(alerts::delete_platform_rule),
            )
            .route("/alerts", web::get().to(alerts::list_alerts))
            .route("/alerts/{alert_id}", web::get().to(alerts::get_alert)),
    )
    .default_service(web::to(not_found));
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
