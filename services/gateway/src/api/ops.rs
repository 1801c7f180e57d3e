//! Operations endpoints: liveness, readiness, metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::metrics::render;
use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: Postgres answers and the event spool has room (NATS is reported: while it
/// is away, events are spooled).
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = tollgate_store::ping(&state.pool).await.is_ok();
    let nats = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let spool_full = state.spool.is_full();
    // NATS being away does not stop the gateway: events go to the spool until it fills.
    let ready = database && !spool_full;
    state.metrics.set_ready(ready);
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"database": database, "nats": nats, "spool": !spool_full},
        "events_unacknowledged": state.publisher.metrics().unacknowledged(),
        "events_spooled": state.spool.depth(),
        "balance_feed": if state.admission.is_stale() { "stale" } else { "live" },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    for route in state.router.table().routes() {
        for deployment in &route.deployments {
            let health = deployment.health.snapshot();
            state
                .metrics
                .deployment_state(&deployment.name, health.state, health.in_flight);
        }
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(render(&state.registry))
}
