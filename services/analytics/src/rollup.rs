//! Counting usage events into the rollups, exactly once per event id.
//!
//! One transaction per batch: the batch's event ids go into `analytics_events` (`ON CONFLICT DO
//! NOTHING`), and only the newly inserted ones are added to the minute, hour and day rollups of
//! the bucket they occurred in. A redelivered, republished or late event therefore lands in the
//! right bucket exactly once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{PgPool, Postgres, Transaction};
use tollgate_events::{UsageRecorded, text};
use tollgate_store::analytics::{Grain, LATENCY_BUCKETS, latency_bucket, latency_columns};
use uuid::Uuid;

/// One usage event as the rollups need it.
#[derive(Debug, Clone)]
pub struct UsageFact {
    /// The event id (what makes counting idempotent).
    pub event_id: Uuid,
    /// The tenant.
    pub tenant_id: Uuid,
    /// When the request happened (decides the bucket).
    pub occurred_at: DateTime<Utc>,
    /// The event.
    pub usage: UsageRecorded,
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Events added to the rollups.
    pub counted: usize,
    /// Events counted before (skipped).
    pub duplicates: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Series {
    tenant_id: Uuid,
    api_key_id: Uuid,
    model: String,
    provider: String,
    bucket: DateTime<Utc>,
}

#[derive(Debug, Default, Clone)]
struct Totals {
    requests: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    cost_usd: Decimal,
    cache_hits: i64,
    saved_usd: Decimal,
    latency: [i64; LATENCY_BUCKETS],
}

impl Totals {
    fn add(&mut self, usage: &UsageRecorded) {
        self.requests += 1;
        self.errors += i64::from(usage.http_status >= 400);
        self.prompt_tokens += i64::from(usage.prompt_tokens);
        self.completion_tokens += i64::from(usage.completion_tokens);
        self.cached_tokens += i64::from(usage.cached_tokens);
        self.cost_usd += usage.cost_usd;
        if let Some(hit) = &usage.cache_hit {
            self.cache_hits += 1;
            self.saved_usd += hit.saved_usd;
        }
        self.latency[latency_bucket(usage.latency_us)] += 1;
    }
}

/// Counts `facts` in one transaction and commits.
pub async fn count(pool: &PgPool, facts: &[UsageFact]) -> Result<Counted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let counted = count_in(&mut tx, facts).await?;
    tx.commit().await?;
    Ok(counted)
}

/// [`count`] inside the caller's transaction.
pub async fn count_in(
    tx: &mut Transaction<'_, Postgres>,
    facts: &[UsageFact],
) -> Result<Counted, sqlx::Error> {
    if facts.is_empty() {
        return Ok(Counted::default());
    }
    let ids: Vec<Uuid> = facts.iter().map(|f| f.event_id).collect();
    let tenants: Vec<Uuid> = facts.iter().map(|f| f.tenant_id).collect();
    let times: Vec<DateTime<Utc>> = facts.iter().map(|f| f.occurred_at).collect();
    let fresh: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO analytics_events (event_id, tenant_id, occurred_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) \
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(&ids)
    .bind(&tenants)
    .bind(&times)
    .fetch_all(&mut **tx)
    .await?;
    let mut fresh: std::collections::HashSet<Uuid> = fresh.into_iter().map(|(id,)| id).collect();
    let new: Vec<&UsageFact> = facts
        .iter()
        // `remove`: an id twice in one batch is counted once.
        .filter(|f| fresh.remove(&f.event_id))
        .collect();
    for grain in Grain::ALL {
        let mut series: HashMap<Series, Totals> = HashMap::new();
        for fact in &new {
            let key = Series {
                tenant_id: fact.tenant_id,
                api_key_id: fact.usage.api_key_id,
                // Printable and bounded whatever the producer sent: a label never keeps a
                // request from being counted (nor exceeds an index row).
                model: text::recorded(&fact.usage.model_requested, text::MAX_MODEL).into_owned(),
                provider: text::recorded(&fact.usage.provider, text::MAX_LABEL).into_owned(),
                bucket: grain.floor(fact.occurred_at),
            };
            series.entry(key).or_default().add(&fact.usage);
        }
        upsert(tx, grain, series).await?;
    }
    Ok(Counted {
        counted: new.len(),
        duplicates: facts.len() - new.len(),
    })
}

/// Adds `series` to `grain`'s table in one statement (column arrays, `ON CONFLICT` adds).
async fn upsert(
    tx: &mut Transaction<'_, Postgres>,
    grain: Grain,
    series: HashMap<Series, Totals>,
) -> Result<(), sqlx::Error> {
    let latency = latency_columns();
    let sums = [
        "requests",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cost_usd",
        "cache_hits",
        "saved_usd",
    ]
    .into_iter()
    .chain(latency.iter().map(String::as_str))
    .map(|c| format!("{c} = t.{c} + EXCLUDED.{c}"))
    .collect::<Vec<_>>()
    .join(", ");
    let latency_params: Vec<String> = (0..LATENCY_BUCKETS)
        .map(|i| format!("${}::bigint[]", 14 + i))
        .collect();
    let sql = format!(
        "INSERT INTO {table} AS t (tenant_id, api_key_id, model, provider, bucket, requests, \
         errors, prompt_tokens, completion_tokens, cached_tokens, cost_usd, cache_hits, \
         saved_usd, {latency}) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], \
         $5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], \
         $10::bigint[], $11::numeric[], $12::bigint[], $13::numeric[], {latency_params}) \
         ON CONFLICT (tenant_id, bucket, api_key_id, model, provider) DO UPDATE SET {sums}",
        table = grain.table(),
        latency = latency.join(", "),
        latency_params = latency_params.join(", "),
    );
    let (keys, totals): (Vec<Series>, Vec<Totals>) = series.into_iter().unzip();
    let column = |f: fn(&Totals) -> i64| totals.iter().map(f).collect::<Vec<i64>>();
    let mut query = sqlx::query(&sql)
        .bind(keys.iter().map(|k| k.tenant_id).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.api_key_id).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.model.clone()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.provider.clone()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.bucket).collect::<Vec<_>>())
        .bind(column(|t| t.requests))
        .bind(column(|t| t.errors))
        .bind(column(|t| t.prompt_tokens))
        .bind(column(|t| t.completion_tokens))
        .bind(column(|t| t.cached_tokens))
        .bind(totals.iter().map(|t| t.cost_usd).collect::<Vec<_>>())
        .bind(column(|t| t.cache_hits))
        .bind(totals.iter().map(|t| t.saved_usd).collect::<Vec<_>>());
    for i in 0..LATENCY_BUCKETS {
        query = query.bind(totals.iter().map(|t| t.latency[i]).collect::<Vec<i64>>());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}
