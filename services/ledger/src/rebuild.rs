//! `ledger rebuild`: replay the whole stream into fresh tables (a scratch schema) and compare
//! every tenant's balance with the live projection. The event-sourcing proof.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use serde::Serialize;
use tollgate_events::Event;
use tollgate_events::EventsError;
use tollgate_events::isolate;
use tollgate_runtime::consumer::{ConsumerConfig, ServiceError};
use uuid::Uuid;

use crate::entry::LedgerEntry;
use crate::{LedgerConfig, projection};

const TABLES: [&str; 5] = [
    "ledger_entries",
    "tenant_balances",
    "key_spend",
    "monthly_spend",
    "daily_spend",
];

/// How long the replay waits for the next message before it gives up.
const REPLAY_SILENCE: Duration = Duration::from_secs(10);

/// The outcome of a rebuild.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// Events replayed.
    pub events: u64,
    /// Entries booked in the rebuild (duplicates and dead letters excluded).
    pub entries: u64,
    /// Money events the database refused for good (the live ledger parked them too).
    pub dead_letters: u64,
    /// Tenants in the rebuilt projection.
    pub tenants: u64,
    /// Tenants whose live balance, credit, adjustments, spend, entry count or daily spend of a
    /// key differ.
    pub mismatched: Vec<Uuid>,
    /// Whether the rebuilt projection equals the live one.
    pub matches: bool,
    /// Wall time of the replay.
    pub seconds: f64,
}

/// Replays the stream up to its current end into a scratch schema, waits for the live ledger
/// to reach the same point, compares, and drops the scratch schema unless `keep`.
pub async fn rebuild(config: &LedgerConfig, keep: bool) -> Result<RebuildReport, ServiceError> {
    let config = &config.consumer;
    let started = Instant::now();
    let pool = tollgate_store::connect(&config.database_url, 2).await?;
    tollgate_store::migrate(&pool).await?;
    let options = config
        .nats_access
        .apply(async_nats::ConnectOptions::new().name("tollgate-ledger-rebuild"));
    let nats = tollgate_events::connect_any(options, &config.nats_url).await?;
    let js = async_nats::jetstream::new(nats);
    let stream = tollgate_events::open_stream(&js, &config.stream).await?;
    let end = stream
        .get_info()
        .await
        .map_err(EventsError::stream)?
        .state
        .last_sequence;

    let schema = format!("ledger_rebuild_{}", Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await?;
    for table in TABLES {
        sqlx::query(&format!(
            "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)"
        ))
        .execute(&pool)
        .await?;
    }

    let mut events = 0u64;
    let mut entries = 0u64;
    let mut dead_letters = 0u64;
    let streak = isolate::PoisonStreak::default();
    // A rebuild is not stopped from outside, and counts its failed attempts nowhere.
    let (_, never) = tokio::sync::watch::channel(false);
    let failures = prometheus_client::metrics::counter::Counter::default();
    if end > 0 {
        let replay = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: format!("{}.v1.>", config.stream.subject_prefix),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(EventsError::consumer)?;
        let mut messages = replay
            .messages()
            .await
            .map_err(EventsError::consumer)?
            .ready_chunks(config.batch_size);
        let mut done = false;
        while !done {
            let Some(batch) = tokio::time::timeout(REPLAY_SILENCE, messages.next())
                .await
                .map_err(|_| EventsError::Silent(REPLAY_SILENCE))?
            else {
                break;
            };
            let mut batch_entries = Vec::new();
            for message in batch {
                let message = message.map_err(EventsError::consumer)?;
                let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
                if seq > end {
                    done = true;
                    break;
                }
                events += 1;
                if let Ok(Some(event)) = Event::decode(&message.payload)
                    && let Ok(entry) = LedgerEntry::from_event(event, seq)
                {
                    batch_entries.push(entry);
                }
                done |= seq >= end;
            }
            // What the live ledger dead-letters, the rebuild skips the same way.
            let sources: Vec<usize> = (0..batch_entries.len()).collect();
            let (applied, poisoned) = isolate::apply_counted(
                &sources,
                |range| book_in(&pool, &schema, &batch_entries[range]),
                tollgate_store::is_permanent,
                (&failures, &streak),
                "rebuild booking",
                &never,
            )
            .await
            // Only a stop from outside ends booking early, and nothing stops a rebuild; were it
            // stopped, nothing would be booked and the comparison would report the mismatch.
            .unwrap_or_default();
            entries += applied.iter().map(|a| a.booked as u64).sum::<u64>();
            dead_letters += poisoned.len() as u64;
        }
    }

    wait_for_live_ledger(&stream, config, end).await?;
    // A tenant mismatches when its balance figures, or any key's spend of any day (and so of
    // any budget period), differ.
    let mismatched: Vec<(Uuid,)> = sqlx::query_as(&format!(
        "SELECT r.tenant_id FROM {schema}.tenant_balances r \
         LEFT JOIN public.tenant_balances l USING (tenant_id) \
         WHERE l.tenant_id IS NULL OR (r.credited_usd, r.adjusted_usd, r.spent_usd, r.balance_usd, r.entries) \
               IS DISTINCT FROM (l.credited_usd, l.adjusted_usd, l.spent_usd, l.balance_usd, l.entries) \
         UNION \
         SELECT r.tenant_id FROM {schema}.daily_spend r \
         LEFT JOIN public.daily_spend l USING (tenant_id, api_key_id, day) \
         WHERE (r.spent_usd, r.requests) IS DISTINCT FROM (l.spent_usd, l.requests) \
         UNION \
         SELECT l.tenant_id FROM public.daily_spend l \
         JOIN {schema}.tenant_balances t USING (tenant_id) \
         LEFT JOIN {schema}.daily_spend r USING (tenant_id, api_key_id, day) \
         WHERE r.tenant_id IS NULL \
         ORDER BY 1"
    ))
    .fetch_all(&pool)
    .await?;
    let (tenants,): (i64,) =
        sqlx::query_as(&format!("SELECT count(*) FROM {schema}.tenant_balances"))
            .fetch_one(&pool)
            .await?;
    if !keep {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await?;
    }
    let mismatched: Vec<Uuid> = mismatched.into_iter().map(|(id,)| id).collect();
    Ok(RebuildReport {
        events,
        entries,
        dead_letters,
        tenants: u64::try_from(tenants).unwrap_or(0),
        matches: mismatched.is_empty(),
        mismatched,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Books `entries` into the scratch `schema` in one transaction.
async fn book_in(
    pool: &sqlx::PgPool,
    schema: &str,
    entries: &[LedgerEntry],
) -> Result<projection::Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("SET LOCAL search_path TO {schema}"))
        .execute(&mut *tx)
        .await?;
    let applied = projection::apply(&mut tx, entries).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Waits (up to 30 s) until the live ledger has acknowledged everything up to `end`.
async fn wait_for_live_ledger(
    stream: &async_nats::jetstream::stream::Stream,
    config: &ConsumerConfig,
    end: u64,
) -> Result<(), ServiceError> {
    let settings = config.subscription("v1.>").consumer;
    let mut consumer = tollgate_events::durable_consumer(stream, &settings).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = consumer.info().await.map_err(EventsError::consumer)?;
        if info.ack_floor.stream_sequence >= end
            || info.num_pending == 0 && info.num_ack_pending == 0
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            tracing::warn!(
                end,
                ack_floor = info.ack_floor.stream_sequence,
                "live ledger still behind; comparing anyway"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
