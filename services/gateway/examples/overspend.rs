//! Overspend across gateway instances: a tenant with credit for about 20 requests fires 200
//! concurrent requests spread over 2 gateways; the ledger then tells how far the balance went
//! below zero. Repeated RUNS times (default 20); prints each run and the worst.
//!
//! `cargo run --release -p tollgate-gateway --example overspend [RUNS]` with `NATS_URL` and
//! `DATABASE_URL` set (scripts/bench runs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;

use futures_util::future::join_all;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_testkit::Stack;

fn body(i: usize) -> Value {
    json!({"model": "demo-large", "max_tokens": 5, "messages": [{"role": "user", "content": format!("overspend probe {}", i % 10)}]})
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(20, |n| n.parse().expect("RUNS"));
    let mut stack = Stack::start().await;
    let second = stack.start_gateway(stack.config.clone()).await;
    let urls = [stack.url.clone(), second];

    // The exact cost of one request (all bodies cost the same: same token counts).
    let probe = stack.funded_tenant(json!({})).await;
    let response = stack.chat(&probe.key, &body(0)).await;
    let unit = Decimal::from_str(response.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
    let credit = unit * Decimal::from(20);
    println!(
        "one request costs {unit} USD; each run credits {credit} USD (20 requests) and fires 200 at 2 gateways"
    );

    let mut worst = Decimal::ZERO;
    let mut total_served = 0;
    for run in 1..=runs {
        let tenant = stack.tenant_with_key(json!({})).await;
        stack
            .credit(tenant.tenant_id, &credit.to_string(), "overspend")
            .await;
        stack.wait_for_entries(tenant.tenant_id, 1).await;
        let bodies: Vec<Value> = (0..200).map(body).collect();
        let responses = join_all(bodies.iter().enumerate().map(|(i, b)| {
            stack
                .http
                .post(format!("{}/v1/chat/completions", urls[i % 2]))
                .bearer_auth(&tenant.key)
                .json(b)
                .send()
        }))
        .await;
        let served = responses
            .iter()
            .filter(|r| r.as_ref().is_ok_and(|r| r.status() == 200))
            .count();
        let balance = stack.wait_for_entries(tenant.tenant_id, 201).await;
        let balance = Decimal::from_str(balance["balance_usd"].as_str().unwrap()).unwrap();
        let overspend = (-balance).max(Decimal::ZERO);
        worst = worst.max(overspend);
        total_served += served;
        println!(
            "run {run:2}: served {served:3} of 200, balance {balance:>12} USD, overspend {overspend} USD ({:.1} requests, {:.1}% of credit)",
            overspend / unit,
            overspend / credit * Decimal::from(100)
        );
    }
    println!(
        "worst overspend over {runs} runs: {worst} USD = {:.1} requests = {:.1}% of the credit (mean served {:.1} per run)",
        worst / unit,
        worst / credit * Decimal::from(100),
        total_served as f64 / runs as f64
    );
    stack.stop().await;
}
