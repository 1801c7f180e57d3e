//! The durable consumer loop: fetch a batch of usage events, count it in one transaction,
//! commit, then ack.

use async_nats::jetstream;
use sqlx::PgPool;
use tollgate_events::isolate;
use tollgate_events::{DeadLetters, Event, EventBody};
use tollgate_runtime::consumer::Projection;

use crate::metrics::AnalyticsMetrics;
use crate::rollup::{self, UsageFact};

/// The rollup projection: usage events counted into the minute, hour and day buckets.
pub struct Consumer {
    pub pool: PgPool,
    pub metrics: AnalyticsMetrics,
    /// Poisonous events in a row (see `isolate::MAX_POISON_STREAK`).
    pub poison_streak: isolate::PoisonStreak,
}

impl Projection for Consumer {
    type Session = ();

    /// Counts one batch; returns false if asked to stop before it could be committed. An event
    /// the database refuses for good is isolated and parked on the dead-letter stream; the rest
    /// of the batch is counted.
    async fn handle(
        &self,
        (): &(),
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
