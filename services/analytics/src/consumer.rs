//! The durable consumer loop: fetch a batch of usage events, count it in one transaction,
//! commit, then ack.

use async_nats::jetstream;
use sqlx::PgPool;
use tollgate_events::isolate;
use tollgate_events::{Batches, ConsumerSettings, DeadLetters, Event, EventBody};

use crate::metrics::AnalyticsMetrics;
use crate::rollup::{self, UsageFact};
use crate::{AnalyticsConfig, AnalyticsError};

pub(crate) struct Consumer {
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub config: AnalyticsConfig,
    pub metrics: AnalyticsMetrics,
    /// Poisonous events in a row (see `isolate::MAX_POISON_STREAK`).
    pub poison_streak: isolate::PoisonStreak,
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
        let dead_letters = DeadLetters::open(&self.js, &self.config.stream, "analytics").await?;
        let mut batches =
            Batches::open(&consumer, self.config.batch_size, self.config.linger).await?;
        while let Some(batch) = batches.next(stop).await? {
            if !self.handle(batch, &dead_letters, stop).await {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Counts one batch; returns false if asked to stop before it could be committed. An event
    /// the database refuses for good is isolated and parked on the dead-letter stream; the rest
    /// of the batch is counted.
    async fn handle(
        &self,
        messages: Vec<jetstream::Message>,
        dead_letters: &DeadLetters,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let mut facts = Vec::with_capacity(messages.len());
        // Index in `messages` of each fact.
        let mut sources = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            match Event::decode(&message.payload) {
                Ok(Some(Event {
                    event_id,
                    tenant_id,
                    occurred_at,
                    body: EventBody::UsageRecorded(usage),
                    ..
                })) => {
                    facts.push(UsageFact {
                        event_id,
                        tenant_id,
                        occurred_at,
                        usage,
                    });
                    sources.push(index);
                }
                other => {
                    // Not ours to count (the ledger dead-letters what nobody can read).
                    if let Err(err) = other {
                        tracing::warn!(subject = %message.subject, error = %err, "undecodable event skipped");
                    }
                    self.metrics.skipped.inc();
                }
            }
        }

        let metrics = &self.metrics;
        let Some((counted, dead)) = isolate::apply_counted(
            &sources,
            |range| rollup::count(&self.pool, &facts[range]),
            tollgate_store::is_permanent,
            (&metrics.batch_failures, &self.poison_streak),
            "counting",
            stop,
        )
        .await
        else {
            return false;
        };
        // Committed: now ack, and park the dead.
        metrics
            .dead_letters
            .inc_by(dead_letters.settle(&messages, &dead).await);
        for counted in &counted {
            metrics.counted.inc_by(counted.counted as u64);
            metrics.duplicates.inc_by(counted.duplicates as u64);
        }
        let now = chrono::Utc::now();
        for (fact, index) in facts.iter().zip(&sources) {
            if !dead.contains_key(index) {
                let lag = (now - fact.occurred_at).num_microseconds().unwrap_or(0);
                metrics.lag.observe(lag.max(0) as f64 / 1e6);
            }
        }
        true
    }
}
