//! Publishes `breaker.changed` when a deployment's circuit breaker on this gateway opens or
//! closes, so platform alert rules (services/alerting) hear of it. A watcher polls the breakers'
//! atomics off the request path instead of hooking every attempt; an open-close-open within one
//! poll is still seen (the open count moved).

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web;
use tollgate_events::{BreakerChanged, Event, EventBody};
use tollgate_routing::{BreakerState, now_ms};
use uuid::Uuid;

use crate::state::AppState;

/// How often breakers are looked at.
pub const BREAKER_POLL: Duration = Duration::from_millis(250);

/// Starts the watcher.
pub fn spawn(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Per deployment: (open, times opened) at the last look.
        let mut seen: HashMap<String, (bool, u64)> = HashMap::new();
        let mut tick = tokio::time::interval(BREAKER_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for change in changes(&state, &mut seen) {
                let event = Event::new(Uuid::nil(), EventBody::BreakerChanged(change));
                if let Err(err) = state.publisher.publish(event).await {
                    tracing::warn!(error = %err, "breaker change not published");
                }
            }
        }
    })
}

fn changes(state: &AppState, seen: &mut HashMap<String, (bool, u64)>) -> Vec<BreakerChanged> {
    let table = state.router.table();
    let mut out = Vec::new();
    for deployment in table.routes().flat_map(|r| r.deployments.iter()) {
        let breaker = &deployment.health.breaker;
        let open = breaker.state(now_ms()) != BreakerState::Closed;
        let opened = breaker.times_opened();
        let (was_open, was_opened) = seen
            .insert(deployment.name.clone(), (open, opened))
            .unwrap_or((false, 0));
        let change = |state: &str| BreakerChanged {
            deployment: deployment.name.clone(),
            provider: deployment.provider.clone(),
            state: state.into(),
            error_rate: breaker.window_error_rate(),
        };
        if opened > was_opened && !was_open {
            out.push(change("open"));
            if !open {
                out.push(change("closed"));
            }
        } else if was_open && !open {
            out.push(change("closed"));
        }
    }
    out
}
