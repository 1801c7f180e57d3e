//! The durable consumer: usage events go into the windows (then the tenant's window rules are
//! evaluated), breaker changes into the platform's breaker rules. Committed, then acked.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use tollgate_events::isolate;
use tollgate_events::{Batches, ConsumerSettings, DeadLetters, Event, EventBody, EventsError};
use tollgate_runtime::consumer::{Projection, consume};

use crate::AlertingConfig;
use crate::engine::{DeadLetter, Engine};
use crate::window::{self, WindowFact};

/// Consumes until `stop` turns true (every event of the stream).
pub async fn run(
    engine: Arc<Engine>,
    config: AlertingConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let subscription = config.consumer.subscription("v1.>");
    consume(&engine.js, &subscription, &*engine, stop).await;
}

impl Projection for Engine {
    type Session = ();

    /// Handles one batch; false if asked to stop before it was committed. A usage event the
    /// database refuses for good is isolated and parked on the dead-letter stream; the rest of the
    /// batch is counted.
    async fn handle(
        &self,
        (): &(),
        messages: Vec<jetstream::Message>,
        dead_letters: &DeadLetters,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let engine = self;
        let mut facts = Vec::new();
        // Index in `messages` of each fact.
        let mut sources = Vec::new();
        let mut breakers = Vec::new();
        let mut audits = Vec::new();
        let mut audit_sources = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            match Event::decode(&message.payload) {
                Ok(Some(event)) => match event.body {
                    EventBody::UsageRecorded(usage) => {
                        facts.push(WindowFact {
                            event_id: event.event_id,
                            tenant_id: event.tenant_id,
                            occurred_at: event.occurred_at,
                            error: usage.http_status >= 400,
                            cost_usd: usage.cost_usd,
                        });
                        sources.push(index);
                    }
                    EventBody::BreakerChanged(change) => breakers.push(change),
                    // Older than the retention period: expired already, not stored.
                    EventBody::AuditRecorded(audit)
                        if chrono::Utc::now() - event.occurred_at < engine.audit_retention =>
                    {
                        audits.push(audit_entry(
                            &event.event_id,
                            event.tenant_id,
                            event.occurred_at,
                            audit,
                        ));
                        audit_sources.push(index);
                    }
                    _ => {}
                },
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(subject = %message.subject, error = %err, "undecodable event skipped")
                }
            }
        }
        let metrics = &engine.metrics;
        let Some((stored, dead_audits)) = isolate::apply_counted(
            &audit_sources,
            |range| tollgate_store::audit::insert(&engine.pool, &audits[range]),
            tollgate_store::is_permanent,
            (&metrics.failures, &engine.poison_streak),
            "audit log",
            stop,
        )
        .await
        else {
            return false;
        };
        metrics.audited.inc_by(stored.iter().sum());
        let Some((counted, mut dead)) = isolate::apply_counted(
            &sources,
            |range| window::count(&engine.pool, &facts[range]),
            tollgate_store::is_permanent,
            (&metrics.failures, &engine.poison_streak),
            "window counting",
            stop,
        )
        .await
        else {
            return false;
        };
        metrics.counted.inc_by(counted.iter().sum::<usize>() as u64);
        let tenants: BTreeSet<_> = facts
            .iter()
            .zip(&sources)
            .filter(|(_, index)| !dead.contains_key(index))
            .map(|(f, _)| f.tenant_id)
            .collect();
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
        dead.extend(dead_audits);
        metrics
            .dead_letters
            .inc_by(dead_letters.settle(&messages, &dead).await);
        true
    }
}

/// The audit log's row of an `audit.recorded` event (the nil tenant is a platform action), its
/// texts kept printable and bounded whatever the producer sent.
fn audit_entry(
    event_id: &uuid::Uuid,
    tenant_id: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
    audit: tollgate_events::AuditRecorded,
) -> tollgate_store::audit::AuditEntry {
    use tollgate_events::text::{MAX_LABEL, recorded};
    let label = |s: &str| recorded(s, MAX_LABEL).into_owned();
    tollgate_store::audit::AuditEntry {
        event_id: *event_id,
        at,
        tenant_id: (!tenant_id.is_nil()).then_some(tenant_id),
        actor_kind: label(&audit.actor_kind),
        actor_id: audit.actor_id,
        action: label(&audit.action),
        target_type: label(&audit.target_type),
        target_id: audit.target_id.as_deref().map(label),
        request_id: audit.request_id.as_deref().map(label),
        status: i16::try_from(audit.status).unwrap_or(i16::MAX),
    }
}

/// Watches the dead-letter stream (every projection's parked events) and raises the platform's
/// `dead_letter` alerts, one per parked event, until `stop` turns true.
pub async fn run_dead_letters(
    engine: Arc<Engine>,
    config: AlertingConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let (engine, config) = (&engine, &config);
    tollgate_events::keep_consuming("dead-letter alerts", stop, |mut stop| async move {
        watch_dead_letters(engine, config, &mut stop).await
    })
    .await;
}

async fn watch_dead_letters(
    engine: &Engine,
    config: &AlertingConfig,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), EventsError> {
    let config = &config.consumer;
    // Opening our own parking place creates the stream if no projection did yet.
    DeadLetters::open(&engine.js, &config.stream, "alerting").await?;
    let stream = engine
        .js
        .get_stream(DeadLetters::stream_name(&config.stream))
        .await
        .map_err(EventsError::consumer)?;
    let settings = ConsumerSettings {
        durable: format!("{}-dead-letters", config.durable),
        description: "tollgate alerting: dead-letter alerts".into(),
        filter_subject: DeadLetters::stream_subjects(&config.stream),
        ack_wait: Duration::from_secs(30),
    };
    let consumer = tollgate_events::durable_consumer(&stream, &settings).await?;
    let mut batches = Batches::open(&consumer, 100, Duration::from_millis(20)).await?;
    while let Some(batch) = batches.next(stop).await? {
        for message in batch {
            let header = |name: &str| {
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default()
            };
            let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            let raised = engine
                .dead_letter(DeadLetter {
                    seq,
                    consumer: header("Tollgate-Consumer"),
                    subject: header("Tollgate-Original-Subject"),
                    original_seq: header("Tollgate-Original-Seq"),
                    reason: header("Tollgate-Reason"),
                })
                .await;
            match raised {
                Ok(()) => {
                    if let Err(err) = message.ack().await {
                        tracing::warn!(error = %err, "ack of a dead letter failed; it will be seen again");
                    }
                }
                Err(err) => {
                    engine.metrics.failures.inc();
                    tracing::warn!(error = %err, seq, "dead-letter alert not raised; it will be tried again");
                    // Not acked: redelivered after the ack wait.
                }
            }
        }
    }
    Ok(())
}
