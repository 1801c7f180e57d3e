//! Optional active health probes (`routing.probe_interval_ms`): a deployment whose breaker is
//! open and whose cooldown has ended gets a one-token chat completion from the gateway itself,
//! so it can close again without risking a client's request on it. Probes are real
//! completions (a metadata endpoint can answer while completions fail): their tokens are the
//! platform's cost, billed to no tenant.

use std::time::{Duration, Instant};

use actix_web::web;
use serde_json::{Map, json};
use tollgate_providers::adapter;
use tollgate_routing::{BreakerState, Failure, now_ms};

use crate::state::AppState;

/// Longest wait for a probe's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the probe loop.
pub fn spawn(state: web::Data<AppState>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            probe_due(&state).await;
        }
    })
}

/// Probes every deployment whose breaker would let a probe through now.
async fn probe_due(state: &AppState) {
    let table = state.router.table();
    let due: Vec<_> = table
        .routes()
        .flat_map(|r| r.deployments.iter().cloned())
        .filter(|d| d.health.breaker.state(now_ms()) == BreakerState::HalfOpen)
        .collect();
    drop(table);
    for deployment in due {
        let Some(mut attempt) = deployment.begin() else {
            continue;
        };
        let adapter = adapter(state.upstream.provider(&deployment).kind);
        let mut body = Map::new();
        body.insert("model".into(), json!(deployment.upstream_model));
        body.insert(
            "messages".into(),
            json!([{"role": "user", "content": "ping"}]),
        );
        body.insert("max_tokens".into(), json!(1));
        let request_id = format!("probe-{}", uuid::Uuid::now_v7());
        let call =
            state
                .upstream
                .call(&deployment, attempt.key_index, &request_id, false, 1, &body);
        let started = Instant::now();
        let outcome = match adapter.chat_request(&state.upstream.client, &call) {
            Err(e) => Err(e.to_string()),
            Ok(request) => match tokio::time::timeout(PROBE_TIMEOUT, request.send()).await {
                Err(_) => Err("timeout".to_owned()),
                Ok(Err(e)) => Err(e.to_string()),
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    match Failure::from_status(status, None) {
                        Some(failure) if failure.is_deployment_fault() => Err(failure.label()),
                        _ => Ok(status),
                    }
                }
            },
        };
        let latency = started.elapsed();
        match outcome {
            Ok(status) => {
                attempt.succeeded(latency);
                state
                    .metrics
                    .deployment_attempt(&deployment.name, true, latency);
                tracing::info!(deployment = %deployment.name, status, "probe answered: breaker closed");
            }
            Err(reason) => {
                attempt.failed(latency);
                state
                    .metrics
                    .deployment_attempt(&deployment.name, false, latency);
                tracing::warn!(deployment = %deployment.name, %reason, "probe failed: breaker stays open");
            }
        }
    }
}
