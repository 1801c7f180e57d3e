//! The durable consumer loop: fetch a batch of usage events, count it in one transaction,
//! commit, then ack.

use std::time::Duration;

use async_nats::jetstream;
use sqlx::PgPool;
use tollgate_events::{Batches, ConsumerSettings, Event, EventBody};

use crate::metrics::AnalyticsMetrics;
use crate::rollup::{self, UsageFact};
use crate::{AnalyticsConfig, AnalyticsError};

pub(crate) struct Consumer {
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub config: AnalyticsConfig,
    pub metrics: AnalyticsMetrics,
}

impl Consumer {
    /// Consumes until `stop` turns true; on a broken subscription, starts over after a pause.
    pub async fn run(self, stop: tokio::sync::watch::Receiver<bool>) {
        let this = &self;
        tollgate_events::keep_consuming("analytics", stop, |mut stop| async move {
            this.consume(&mut stop).await
        })
        .await;
    }

    async fn consume(
        &self,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), AnalyticsError> {
        let stream = tollgate_events::open_stream(&self.js, &self.config.stream).await?;
        let settings = ConsumerSettings {
            durable: self.config.durable.clone(),
            description: "tollgate analytics".into(),
            filter_subject: format!("{}.v1.*.usage.recorded", self.config.stream.subject_prefix),
            ack_wait: self.config.ack_wait,
        };
        let consumer = tollgate_events::durable_consumer(&stream, &settings).await?;
        let mut batches =
            Batches::open(&consumer, self.config.batch_size, self.config.linger).await?;
        while let Some(batch) = batches.next(stop).await? {
            if !self.handle(batch, stop).await {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Counts one batch; returns false if asked to stop before it could be committed.
    async fn handle(
        &self,
        messages: Vec<jetstream::Message>,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let facts: Vec<UsageFact> = messages
            .iter()
            .filter_map(|message| match Event::decode(&message.payload) {
                Ok(Some(Event {
                    event_id,
                    tenant_id,
                    occurred_at,
                    body: EventBody::UsageRecorded(usage),
                    ..
                })) => Some(UsageFact {
                    event_id,
                    tenant_id,
                    occurred_at,
                    usage,
                }),
                other => {
                    // Not ours to count (the ledger dead-letters what nobody can read).
                    if let Err(err) = other {
                        tracing::warn!(subject = %message.subject, error = %err, "undecodable event skipped");
                    }
                    self.metrics.skipped.inc();
                    None
                }
            })
            .collect();

        let mut backoff = Duration::from_millis(50);
        let counted = loop {
            match rollup::count(&self.pool, &facts).await {
                Ok(counted) => break counted,
                Err(err) => {
                    self.metrics.batch_failures.inc();
                    tracing::warn!(error = %err, events = facts.len(), "counting failed; retrying");
                    if *stop.borrow() {
                        return false;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        // Committed: now ack. A crash before these acks only causes a harmless redelivery.
        for message in &messages {
            if let Err(err) = message.ack().await {
                tracing::warn!(error = %err, "ack failed; the event will be redelivered and skipped");
            }
        }
        self.metrics.counted.inc_by(counted.counted as u64);
        self.metrics.duplicates.inc_by(counted.duplicates as u64);
        let now = chrono::Utc::now();
        for fact in &facts {
            let lag = (now - fact.occurred_at).num_microseconds().unwrap_or(0);
            self.metrics.lag.observe(lag.max(0) as f64 / 1e6);
        }
        true
    }
}
