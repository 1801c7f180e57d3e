//! Alert latency: from sending the request that takes a tenant's balance below a
//! `balance_below` threshold to the signed webhook arriving at a local receiver. Each run tops
//! the balance back up by the request's cost (re-arming the rule) and crosses it again.
//! The path: gateway -> usage event -> ledger (batch, balance feed) -> alerting (feed watch,
//! firing, delivery) -> receiver.
//!
//! `cargo run --release -p tollgate-alerting --example alert_latency [RUNS]` with `NATS_URL`
//! and `DATABASE_URL` set (scripts/bench does this; the stack gets a database of its own).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::json;
use tollgate_testkit::{Stack, WebhookReceiver};

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(20, |n| n.parse().expect("RUNS is a number"));
    let stack = Stack::start_isolated().await;
    let (_, stop, task) = stack.spawn_alerting().await;
    let receiver = WebhookReceiver::start(0);
    let tenant = stack.funded_tenant(json!({})).await;
    let body = json!({"model": "demo-small", "max_tokens": 8, "messages": [{"role": "user", "content": "alert me"}]});

    let first = stack.chat(&tenant.key, &body).await;
    let cost = Decimal::from_str(first.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
    let balance = stack.wait_for_entries(tenant.tenant_id, 2).await;
    let balance = Decimal::from_str(balance["balance_usd"].as_str().unwrap()).unwrap();
    let threshold = balance - cost / Decimal::TWO;
    let created = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/alert-rules", tenant.tenant_id),
        )
        .json(
            &json!({"kind": "balance_below", "threshold_usd": threshold.round_dp(10).to_string(),
                      "webhook_url": receiver.url}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut latencies = Vec::with_capacity(runs);
    for run in 0..runs {
        let sent = Instant::now();
        assert_eq!(stack.chat(&tenant.key, &body).await.status(), 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        let arrived = loop {
            if let Some(delivery) = receiver.received().get(run) {
                break delivery.at;
            }
            assert!(Instant::now() < deadline, "no webhook for run {run}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        latencies.push(arrived.duration_since(sent).as_secs_f64() * 1000.0);
        // Back above the threshold: the rule re-arms.
        stack
            .credit(
                tenant.tenant_id,
                &cost.to_string(),
                &format!("re-arm-{run}"),
            )
            .await;
        stack
            .wait_for_entries(tenant.tenant_id, 2 + 2 * (run + 1))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "alert latency (request sent -> signed webhook received), {runs} crossings: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        at(0.5),
        at(0.9),
        at(1.0)
    );
    stop.cancel();
    task.await.unwrap();
    receiver.stop().await;
    stack.stop().await;
}
