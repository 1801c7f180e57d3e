//! Analytics figures: (1) consumer throughput: N synthetic usage events (default 100,000) are
//! published to a fresh stream, then an analytics instance counts them; (2) query latency: M
//! events (default 1,000,000) spread over the last 30 days of one busy tenant (20 keys, 5 models,
//! 2 providers) are counted straight into the rollups, then typical 30-day queries are timed.
//!
//! `cargo run --release -p tollgate-analytics --example rollup_bench [N] [M]` with `NATS_URL`
//! and `DATABASE_URL` set (scripts/bench runs it against its own database).

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use tollgate_analytics::rollup::{self, UsageFact};
use tollgate_analytics::{Analytics, AnalyticsConfig};
use tollgate_events::{
    EventBody, Publisher, PublisherConfig, PublisherMetrics, StreamSettings, ensure_stream,
};
use tollgate_store::analytics::{Dimension, UsageQuery};
use tollgate_testkit::usage_event;
use uuid::Uuid;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let streamed: usize = std::env::args().nth(1).map_or(Ok(100_000), |n| n.parse())?;
    let stored: usize = std::env::args()
        .nth(2)
        .map_or(Ok(1_000_000), |n| n.parse())?;
    let nats_url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let database_url = std::env::var("DATABASE_URL")?;
    let pool = tollgate_store::connect(&database_url, 4).await?;
    tollgate_store::migrate(&pool).await?;
    if streamed > 0 {
        consumer_throughput(&nats_url, &database_url, &pool, streamed).await?;
    }
    if stored > 0 {
        query_latency(&pool, stored).await?;
    }
    Ok(())
}

async fn consumer_throughput(
    nats_url: &str,
    database_url: &str,
    pool: &sqlx::PgPool,
    total: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let id = Uuid::now_v7().simple().to_string();
    let settings = StreamSettings {
        name: format!("TGBENCH_{id}"),
        subject_prefix: format!("tgbench_{id}"),
        ..StreamSettings::default()
    };
    let js = async_nats::jetstream::new(tollgate_testkit::connect_nats(nats_url).await);
    ensure_stream(&js, &settings).await?;
    let tenants: Vec<(Uuid, Uuid)> = (0..100).map(|_| (Uuid::now_v7(), Uuid::now_v7())).collect();
    let cost = Decimal::from_str("0.000042")?;
    let (publisher, handle) = Publisher::start(
        js.clone(),
        settings.subject_prefix.clone(),
        PublisherConfig::default(),
        PublisherMetrics::default(),
    );
    for i in 0..total {
        let (tenant, key) = tenants[i % tenants.len()];
        publisher.publish(usage_event(tenant, key, cost)).await?;
    }
    handle.shutdown().await;
    // The publisher's drain is time-bounded: count what the stream actually holds.
    let total = js
        .get_stream(&settings.name)
        .await?
        .get_info()
        .await?
        .state
        .messages as usize;

    let env = [
        ("DATABASE_URL", database_url.to_owned()),
        ("NATS_URL", nats_url.to_owned()),
        ("TOLLGATE_STREAM", settings.name.clone()),
        ("TOLLGATE_SUBJECT_PREFIX", settings.subject_prefix.clone()),
        ("TOLLGATE_ANALYTICS_LISTEN", "127.0.0.1:0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(tollgate_testkit::process_nats_env())
    .collect();
    let analytics = Analytics::bind(AnalyticsConfig::from_env(&env)?).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(analytics.run(async {
        let _ = stopped.await;
    }));
    let ids: Vec<Uuid> = tenants.iter().map(|(t, _)| *t).collect();
    loop {
        let (counted,): (Option<i64>,) = sqlx::query_as(
            "SELECT sum(requests)::bigint FROM analytics_usage_day WHERE tenant_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await?;
        if counted.unwrap_or(0) as usize >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "consumer: {total} usage events from JetStream into minute/hour/day rollups in {secs:.2} s ({:.0} events/s)",
        total as f64 / secs
    );
    let _ = stop.send(());
    running.await??;
    let _ = js.delete_stream(&settings.name).await;
    Ok(())
}

async fn query_latency(
    pool: &sqlx::PgPool,
    total: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let tenant = Uuid::now_v7();
    let keys: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet",
        "gemini-flash",
        "demo-small",
    ];
    let providers = ["openai", "anthropic"];
    let now = Utc::now();
    let month = 30 * 24 * 3600 * 1_000_000i64;
    let started = Instant::now();
    let batch = 5_000;
    for chunk in 0..total.div_ceil(batch) {
        let facts: Vec<UsageFact> = (0..batch.min(total - chunk * batch))
            .map(|_| {
                let event = usage_event(
                    tenant,
                    keys[fastrand::usize(..keys.len())],
                    Decimal::new(fastrand::i64(1..5_000), 8),
                );
                let EventBody::UsageRecorded(mut usage) = event.body else {
                    unreachable!("usage_event makes usage events")
                };
                usage.model_requested = models[fastrand::usize(..models.len())].into();
                usage.provider = providers[fastrand::usize(..providers.len())].into();
                usage.latency_us = fastrand::u64(200..3_000_000);
                if fastrand::u8(..100) < 2 {
                    usage.http_status = 502;
                }
                UsageFact {
                    event_id: event.event_id,
                    tenant_id: tenant,
                    occurred_at: now - chrono::Duration::microseconds(fastrand::i64(0..month)),
                    usage,
                }
            })
            .collect();
        rollup::count(pool, &facts).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "direct: {total} events over 30 days of one tenant counted in {secs:.1} s ({:.0} events/s, batches of {batch})",
        total as f64 / secs
    );
    let (minutes,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM analytics_usage_minute WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    println!("  rollup rows of the tenant: {minutes} minute rows");

    let queries: [(&str, Vec<Dimension>, bool, Option<i64>); 6] = [
        ("costs, no grouping", vec![], false, None),
        ("costs by model", vec![Dimension::Model], false, None),
        ("costs by day", vec![Dimension::Day], false, None),
        (
            "costs by key and model",
            vec![Dimension::Key, Dimension::Model],
            false,
            None,
        ),
        ("usage by hour", vec![Dimension::Hour], false, None),
        ("top 10 keys", vec![Dimension::Key], true, Some(10)),
    ];
    println!("  30-day queries (period ending now, 20 runs each):");
    for (name, group_by, by_cost, limit) in queries {
        let query = UsageQuery {
            tenant: Some(tenant),
            from: Utc::now() - chrono::Duration::days(30),
            to: Utc::now(),
            group_by,
            model: None,
            by_cost,
            limit,
        };
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..20 {
            let started = Instant::now();
            rows = tollgate_store::analytics::usage(pool, &query).await?.len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "    {name:<24} {rows:>5} rows  p50 {:.1} ms  max {:.1} ms",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}
