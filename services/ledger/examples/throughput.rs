//! Ledger throughput: publishes N synthetic `usage.recorded` events (default 100,000, over 100
//! tenants) to a fresh stream, then starts a ledger on it and measures how fast it books them.
//!
//! `cargo run --release -p tollgate-ledger --example throughput [N]` with `NATS_URL` and
//! `DATABASE_URL` set (scripts/bench does this against its own database).

use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use tollgate_events::{
    Publisher, PublisherConfig, PublisherMetrics, StreamSettings, ensure_stream,
};
use tollgate_ledger::{Ledger, LedgerConfig};
use tollgate_testkit::usage_event;
use uuid::Uuid;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().nth(1).map_or(Ok(100_000), |n| n.parse())?;
    let nats_url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let database_url = std::env::var("DATABASE_URL")?;
    let id = Uuid::now_v7().simple().to_string();
    let settings = StreamSettings {
        name: format!("TGBENCH_{id}"),
        subject_prefix: format!("tgbench_{id}"),
        ..StreamSettings::default()
    };
    let js = async_nats::jetstream::new(tollgate_testkit::connect_nats(&nats_url).await);
    ensure_stream(&js, &settings).await?;

    let tenants: Vec<(Uuid, Uuid)> = (0..100).map(|_| (Uuid::now_v7(), Uuid::now_v7())).collect();
    let cost = Decimal::from_str("0.000042")?;
    let metrics = PublisherMetrics::default();
    let (publisher, handle) = Publisher::start(
        js.clone(),
        settings.subject_prefix.clone(),
        PublisherConfig::default(),
        metrics.clone(),
    );
    let started = Instant::now();
    for i in 0..total {
        let (tenant, key) = tenants[i % tenants.len()];
        publisher.publish(usage_event(tenant, key, cost)).await?;
    }
    handle.shutdown().await;
    let publish_secs = started.elapsed().as_secs_f64();
    println!(
        "published {total} events in {publish_secs:.2} s ({:.0} events/s, acked by JetStream)",
        total as f64 / publish_secs
    );

    let env = [
        ("DATABASE_URL", database_url.clone()),
        ("NATS_URL", nats_url),
        ("TOLLGATE_STREAM", settings.name.clone()),
        ("TOLLGATE_SUBJECT_PREFIX", settings.subject_prefix.clone()),
        ("TOLLGATE_LEDGER_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "TOLLGATE_LEDGER_BATCH",
            std::env::var("TOLLGATE_LEDGER_BATCH").unwrap_or_else(|_| "1000".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(tollgate_testkit::process_nats_env())
    .collect();
    let ledger = Ledger::bind(LedgerConfig::from_env(&env)?).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(ledger.run(async {
        let _ = stopped.await;
    }));
    let pool = tollgate_store::connect(&database_url, 2).await?;
    let ids: Vec<Uuid> = tenants.iter().map(|(t, _)| *t).collect();
    loop {
        let (booked,): (Option<i64>,) = sqlx::query_as(
            "SELECT sum(entries)::bigint FROM tenant_balances WHERE tenant_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(&pool)
        .await?;
        if booked.unwrap_or(0) as usize >= total {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err("ledger did not finish within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ledger booked {total} events in {secs:.2} s: {:.0} events/s",
        total as f64 / secs
    );
    let (spent,): (Decimal,) =
        sqlx::query_as("SELECT sum(spent_usd) FROM tenant_balances WHERE tenant_id = ANY($1)")
            .bind(&ids)
            .fetch_one(&pool)
            .await?;
    let expected = cost * Decimal::from(total);
    println!(
        "total spent {spent} (expected {expected}): {}",
        if spent == expected {
            "exact"
        } else {
            "MISMATCH"
        }
    );
    let _ = stop.send(());
    let _ = running.await;
    js.delete_stream(&settings.name).await?;
    Ok(())
}
