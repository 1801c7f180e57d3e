//! HTTP routes: data plane, management API and operations endpoints.

pub mod admin;
pub mod headers;
pub mod models;
pub mod ops;

use actix_web::web;

use crate::chat;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/chat/completions",
        web::post().to(chat::chat_completions),
    )
    .route("/v1/models", web::get().to(models::list_models))
    .route("/healthz", web::get().to(ops::healthz))
    .route("/readyz", web::get().to(ops::readyz))
    .route("/metrics", web::get().to(ops::metrics))
    .service(
        web::scope("/api/v1")
            .route("/tenants", web::post().to(admin::create_tenant))
            .route("/tenants/{tenant_id}", web::get().to(admin::get_tenant))
            .route(
                "/tenants/{tenant_id}/keys",
                web::post().to(admin::create_key),
            )
            .route("/tenants/{tenant_id}/keys", web::get().to(admin::list_keys))
            .route(
                "/tenants/{tenant_id}/credits",
                web::post().to(admin::grant_credits),
            )
            .route("/keys/{key_id}", web::delete().to(admin::revoke_key)),
    )
    .default_service(web::to(not_found));
}

async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    crate::error::ApiError::not_found(
        format!("no route for {} {}", req.method(), req.path()),
        "unknown_route",
    )
    .error_response()
}
