//! The durable consumer loop: fetch a batch, book it in one transaction, commit, then ack.

use std::collections::HashMap;

use async_nats::jetstream::{self, kv};
use sqlx::PgPool;
use tollgate_events::balances::{balance_store, key_spend_key, tenant_balance_key};
use tollgate_events::isolate;
use tollgate_events::{CreditSource, CreditsGranted, DeadLetters, Event, EventBody};
use uuid::Uuid;

use crate::entry::LedgerEntry;
use crate::metrics::LedgerMetrics;
use crate::projection::{self, Applied};
use tollgate_runtime::consumer::Projection;

use crate::LedgerConfig;

/// Namespace of auto top-up event ids: `UUIDv5(namespace, "<tenant>:auto:<seq>")`.
pub const AUTO_TOPUP_NAMESPACE: Uuid = Uuid::from_u128(0x7a11_0c5e_3b2d_4f19_8e6a_2c4b_9d0f_1e3a);

/// Books `entries` in one transaction and commits.
pub async fn book(pool: &PgPool, entries: &[LedgerEntry]) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let applied = projection::apply(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(applied)
}

/// The ledger projection: money events booked into entries, balances and spend.
pub struct Consumer {
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub config: LedgerConfig,
    pub metrics: LedgerMetrics,
    /// Poisonous events in a row (see `isolate::MAX_POISON_STREAK`).
    pub poison_streak: isolate::PoisonStreak,
}

impl Consumer {
    /// Books one batch; returns false if asked to stop before it could be booked. An event the
    /// database refuses for good is isolated (see [`tollgate_events::isolate`]) and parked on
    /// the dead-letter stream; every other event of the batch is booked.
    async fn book_batch(
        &self,
        messages: Vec<jetstream::Message>,
        balances: Option<&kv::Store>,
        dead_letters: &DeadLetters,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let mut entries = Vec::with_capacity(messages.len());
        // Index in `messages` of each entry.
        let mut sources = Vec::with_capacity(messages.len());
        let mut dead: HashMap<usize, String> = HashMap::new();
        for (index, message) in messages.iter().enumerate() {
            let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            let entry = match Event::decode(&message.payload) {
                // Known kinds that move no money are acked with the batch, never booked.
                Ok(Some(event)) if !event.body.is_money() => continue,
                Ok(Some(event)) => LedgerEntry::from_event(event, seq).map_err(|e| e.to_string()),
                Ok(None) => Err("unknown event kind".to_owned()),
                Err(err) => Err(format!("unparsable: {err}")),
            };
            match entry {
                Ok(entry) => {
                    entries.push(entry);
                    sources.push(index);
                }
                Err(reason) => {
                    dead.insert(index, reason);
                }
            }
        }

        let metrics = &self.metrics;
        let Some((applied, poisoned)) = isolate::apply_counted(
            &sources,
            |range| book(&self.pool, &entries[range]),
            tollgate_store::is_permanent,
            (&metrics.batch_failures, &self.poison_streak),
            "booking",
            stop,
        )
        .await
        else {
            // Not acked: JetStream redelivers to the next ledger.
            return false;
        };
        dead.extend(poisoned);
        // Committed: now ack, and park the dead.
        metrics
            .dead_letters
            .inc_by(dead_letters.settle(&messages, &dead).await);
        // The parts a poisoned batch was split into, as one batch.
        let applied = applied
            .into_iter()
            .fold(Applied::default(), |mut all, part| {
                all.absorb(part);
                all
            });
        let now = chrono::Utc::now();
        metrics.booked.inc_by(applied.booked as u64);
        metrics.duplicates.inc_by(applied.duplicates as u64);
        let booked = sources
            .iter()
            .zip(&entries)
            .filter(|(index, _)| !dead.contains_key(index))
            .map(|(_, entry)| entry);
        for entry in booked {
            metrics
                .last_seq
                .set(metrics.last_seq.get().max(entry.stream_seq));
            let lag = (now - entry.occurred_at).num_microseconds().unwrap_or(0);
            metrics.lag.observe(lag.max(0) as f64 / 1e6);
        }
        if let Some(balances) = balances {
            self.publish_balances(balances, &applied).await;
        }
        self.auto_top_up(&applied).await;
        true
    }

    /// Publishes the new balances and key spend to the balance feed (after commit: the feed
    /// never shows money the database does not hold). A failed put is logged and counted; the
    /// next booking for that tenant or key publishes a fresh value.
    async fn publish_balances(&self, balances: &kv::Store, applied: &Applied) {
        let tenants = applied
            .tenants
            .iter()
            .map(|t| (tenant_balance_key(t.tenant_id), serde_json::to_vec(t)));
        let keys = applied
            .keys
            .iter()
            .map(|k| (key_spend_key(k.api_key_id), serde_json::to_vec(k)));
        // Concurrently: each put waits for JetStream's (fsync'd) ack.
        let puts = tenants.chain(keys).map(|(key, value)| async move {
            let put = match value {
                Ok(value) => balances
                    .put(&key, value.into())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            (key, put)
        });
        for (key, put) in futures_util::future::join_all(puts).await {
            if let Err(err) = put {
                self.metrics.feed_failures.inc();
                tracing::warn!(key, error = %err, "balance feed update failed");
            }
        }
    }

    /// Grants the auto top-up of every tenant whose balance this batch took from at or above
    /// its rule's threshold to below it. The event id derives from the tenant and the stream
    /// sequence of the crossing, so a republish is booked once; a redelivered batch books
    /// nothing new and so crosses nothing.
    async fn auto_top_up(&self, applied: &Applied) {
        let fell: Vec<Uuid> = applied
            .balance_changes
            .iter()
            .filter(|(_, change)| change.is_sign_negative())
            .map(|(id, _)| *id)
            .collect();
        if fell.is_empty() {
            return;
        }
        let rules = match tollgate_store::topup::for_tenants(&self.pool, &fell).await {
            Ok(rules) => rules,
            Err(err) => {
                tracing::error!(error = %err, "auto top-up rules unreadable");
                return;
            }
        };
        for rule in rules {
            let Some(after) = applied
                .tenants
                .iter()
                .find(|t| t.tenant_id == rule.tenant_id)
            else {
                continue;
            };
            let change = applied
                .balance_changes
                .get(&rule.tenant_id)
                .copied()
                .unwrap_or_default();
            let before = after.balance_usd - change;
            if !(before >= rule.threshold_usd && after.balance_usd < rule.threshold_usd) {
                continue;
            }
            let idempotency_key = format!("auto:{}", after.seq);
            let event = Event::with_id(
                Uuid::new_v5(
                    &AUTO_TOPUP_NAMESPACE,
                    format!("{}:{idempotency_key}", rule.tenant_id).as_bytes(),
                ),
                rule.tenant_id,
                EventBody::CreditsGranted(CreditsGranted {
                    amount_usd: rule.amount_usd.normalize(),
                    idempotency_key,
                    note: Some(format!(
                        "auto top-up: balance fell below {}",
                        rule.threshold_usd.normalize()
                    )),
                    source: CreditSource::Auto,
                }),
            );
            match tollgate_events::publish_confirmed(
                &self.js,
                &self.config.consumer.stream.subject_prefix,
                &event,
            )
            .await
            {
                Ok(_) => {
                    self.metrics.auto_topups.inc();
                }
                Err(err) => {
                    tracing::error!(tenant = %rule.tenant_id, error = %err, "auto top-up not published")
                }
            };
        }
    }
}

impl Projection for Consumer {
    /// The balance feed; advisory: without it (e.g. a server without KV support) booking
    /// goes on.
    type Session = Option<kv::Store>;

    async fn open(&self) -> Option<kv::Store> {
        let stream = &self.config.consumer.stream;
        balance_store(&self.js, &stream.name, stream.replicas)
            .await
            .map_err(|err| {
                self.metrics.feed_failures.inc();
                tracing::error!(error = %err, "balance feed unavailable; booking without it");
            })
            .ok()
    }

    /// Each batch lingers briefly so a trickle becomes one transaction and one feed update
    /// per tenant instead of one per event.
    async fn handle(
        &self,
        balances: &Option<kv::Store>,
        batch: Vec<jetstream::Message>,
        dead_letters: &DeadLetters,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        self.book_batch(batch, balances.as_ref(), dead_letters, stop)
            .await
    }
}
