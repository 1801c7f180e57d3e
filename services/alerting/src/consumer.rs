//! The durable consumer: usage events go into the windows (then the tenant's window rules are
//! evaluated), breaker changes into the platform's breaker rules. Committed, then acked.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use tollgate_events::{Batches, ConsumerSettings, Event, EventBody};

use crate::engine::Engine;
use crate::window::{self, WindowFact};
use crate::{AlertingConfig, AlertingError};

/// Consumes until `stop` turns true; on a broken subscription, starts over after a pause.
pub async fn run(
    engine: Arc<Engine>,
    config: AlertingConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let (engine, config) = (&engine, &config);
    tollgate_events::keep_consuming("alerting", stop, |mut stop| async move {
        consume(engine, config, &mut stop).await
    })
    .await;
}

async fn consume(
    engine: &Engine,
    config: &AlertingConfig,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), AlertingError> {
    let stream = tollgate_events::open_stream(&engine.js, &config.stream).await?;
    let settings = ConsumerSettings {
        durable: config.durable.clone(),
        description: "tollgate alerting".into(),
        filter_subject: format!("{}.v1.>", config.stream.subject_prefix),
        ack_wait: Duration::from_secs(30),
    };
    let consumer = tollgate_events::durable_consumer(&stream, &settings).await?;
    let mut batches = Batches::open(&consumer, 1000, Duration::from_millis(20)).await?;
    while let Some(batch) = batches.next(stop).await? {
        if !handle(engine, batch, stop).await {
            return Ok(());
        }
    }
    Ok(())
}

/// Handles one batch; false if asked to stop before it was committed.
async fn handle(
    engine: &Engine,
    messages: Vec<jetstream::Message>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> bool {
    let mut facts = Vec::new();
    let mut breakers = Vec::new();
    for message in &messages {
        match Event::decode(&message.payload) {
            Ok(Some(event)) => match event.body {
                EventBody::UsageRecorded(usage) => facts.push(WindowFact {
                    event_id: event.event_id,
                    tenant_id: event.tenant_id,
                    occurred_at: event.occurred_at,
                    error: usage.http_status >= 400,
                    cost_usd: usage.cost_usd,
                }),
                EventBody::BreakerChanged(change) => breakers.push(change),
                _ => {}
            },
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(subject = %message.subject, error = %err, "undecodable event skipped")
            }
        }
    }
    let mut backoff = Duration::from_millis(50);
    loop {
        match window::count(&engine.pool, &facts).await {
            Ok(counted) => {
                engine.metrics.counted.inc_by(counted as u64);
                break;
            }
            Err(err) => {
                engine.metrics.failures.inc();
                tracing::warn!(error = %err, "window counting failed; retrying");
                if *stop.borrow() {
                    return false;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    let tenants: BTreeSet<_> = facts.iter().map(|f| f.tenant_id).collect();
    for tenant in tenants {
        window::evaluate_tenant(engine, tenant).await;
    }
    for change in breakers {
        engine
            .breaker(
                &change.deployment,
                &change.provider,
                change.state == "open",
                change.error_rate,
            )
            .await;
    }
    for message in &messages {
        if let Err(err) = message.ack().await {
            tracing::warn!(error = %err, "ack failed; the event will be redelivered and skipped");
        }
    }
    true
}
