//! `GET /api/v1/providers/health` (operator): every deployment's live routing state.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// The handler.
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let table = state.router.table();
    let mut data: Vec<Value> = table
        .routes()
        .flat_map(|route| {
            route.deployments.iter().map(move |d| {
                let h = d.health.snapshot();
                json!({
                    "deployment": d.name,
                    "provider": d.provider,
                    "route": route.name,
                    "upstream_model": d.upstream_model,
                    "tier": d.tier.name,
                    "state": h.state.as_str(),
                    "error_rate": h.error_rate,
                    "latency_ms": h.latency_ms,
                    "in_flight": h.in_flight,
                    "requests": h.requests,
                    "errors": h.failures,
                    "times_opened": h.times_opened,
                    "cooldown_ms": h.cooldown_ms,
                })
            })
        })
        .collect();
    data.sort_by(|a, b| a["deployment"].as_str().cmp(&b["deployment"].as_str()));
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}
