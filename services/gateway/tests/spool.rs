//! The event spool through the gateway, against a private nats-server the test stops: while
//! JetStream is away requests are still answered (their events fsync'd in the spool), and once
//! it is back every answered request is billed exactly once. A gateway restarted on a spool
//! replays it; a full spool turns readiness red and data-plane requests get 503.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_gateway::config::Durability;
use tollgate_testkit::{NatsServer, Stack, TenantKey, sse_data};

fn body(stream: bool, n: usize) -> Value {
    json!({
        "model": "demo-small",
        "stream": stream,
        "messages": [{"role": "user", "content": format!("spool request {n}")}],
    })
}

/// Sends a request to the gateway at `url`; returns its request id once answered whole.
async fn answered_at(stack: &Stack, url: &str, key: &str, stream: bool, n: usize) -> String {
    let response = stack.chat_at(url, key, &body(stream, n)).await;
    assert_eq!(response.status(), 200, "request {n} answered");
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    if stream {
        let data = sse_data(&text);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    }
    id
}

async fn answered(stack: &Stack, key: &str, stream: bool, n: usize) -> String {
    answered_at(stack, &stack.url, key, stream, n).await
}

/// The tenant's ledger lines, once `count` usage entries (plus the funding credit) are booked.
async fn ledger(stack: &Stack, tenant: &TenantKey, count: usize) -> Vec<Value> {
    stack.wait_for_entries(tenant.tenant_id, count + 1).await;
    let page = stack.ledger_page(tenant.tenant_id).await;
    page["data"].as_array().unwrap().clone()
}

fn dec(value: &Value) -> Decimal {
    value.as_str().unwrap().parse().unwrap()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in metrics"))
}

async fn assert_billed_once(stack: &Stack, tenant: &TenantKey, ids: &[String]) {
    let lines = ledger(stack, tenant, ids.len()).await;
    let mut by_request: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        if let Some(id) = line["request_id"].as_str() {
            *by_request.entry(id).or_insert(0) += 1;
        }
    }
    for id in ids {
        assert_eq!(
            by_request.get(id.as_str()),
            Some(&1),
            "request {id} billed exactly once"
        );
    }
    assert_eq!(
        by_request.len(),
        ids.len(),
        "no entry without an answered request"
    );
    let event_ids: std::collections::HashSet<&str> = lines
        .iter()
        .filter_map(|l| l["event_id"].as_str())
        .collect();
    assert_eq!(event_ids.len(), lines.len(), "no event booked twice");
    let balance = stack.balance(tenant.tenant_id).await;
    let booked: Decimal = lines.iter().map(|l| dec(&l["amount_usd"])).sum();
    assert_eq!(
        dec(&balance["balance_usd"]),
        booked,
        "balance = credited - costs: {balance}"
    );
    assert!(booked < Decimal::from(100), "usage was charged: {balance}");
}

/// Four requests, JetStream stops, twenty more (half streamed), JetStream comes back: each of
/// the 24 is billed exactly once.
async fn outage_then_billed_once(durability: Durability) {
    let mut nats = NatsServer::start();
    let stack =
        Stack::start_on_nats(nats.url(), |config| config.events.durability = durability).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(answered(&stack, &tenant.key, n % 2 == 1, n).await);
    }

    nats.stop();
    for n in 4..24 {
        ids.push(answered(&stack, &tenant.key, n % 2 == 1, n).await);
    }
    let during = stack.metrics().await;
    if durability.waits() {
        // Each response (each stream's [DONE]) came only once its event was on disk.
        assert!(
            metric(&during, "tollgate_spool_appended_total") >= 20.0,
            "{during}"
        );
    }
    let ready = reqwest::get(format!("{}/readyz", stack.url)).await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "the gateway stays ready while the spool has room"
    );

    nats.resume();
    assert_billed_once(&stack, &tenant, &ids).await;
    let after = stack.metrics().await;
    assert_eq!(metric(&after, "tollgate_spool_depth"), 0.0);
    assert!(metric(&after, "tollgate_spool_replayed_total") >= 1.0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_answered_while_jetstream_is_away_are_billed_once_it_is_back() {
    outage_then_billed_once(Durability::Ack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_durability_bills_an_outage_once_too() {
    outage_then_billed_once(Durability::Broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_durability_bills_an_outage_once_too() {
    outage_then_billed_once(Durability::Async).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gateway_replays_what_its_spool_holds() {
    let mut nats = NatsServer::start();
    let stack = Stack::start_on_nats(nats.url(), |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let mut config = stack.config.clone();
    let spool_dir = std::env::temp_dir().join(format!("tollgate-spool-{}", uuid::Uuid::now_v7()));
    config.events.spool_dir = spool_dir.clone();
    let (url, stop, task) = stack.spawn_gateway(config.clone()).await;

    nats.stop();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(answered_at(&stack, &url, &tenant.key, n % 2 == 0, n).await);
    }
    // That gateway stops while JetStream is still away: its events are on disk only.
    stop.cancel();
    task.await.unwrap();
    nats.resume();
    let (_url, stop, task) = stack.spawn_gateway(config).await;
    assert_billed_once(&stack, &tenant, &ids).await;
    stop.cancel();
    task.await.unwrap();
    let _ = std::fs::remove_dir_all(spool_dir);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_turns_readiness_red_and_refuses_new_requests() {
    let mut nats = NatsServer::start();
    let stack = Stack::start_on_nats(nats.url(), |config| {
        config.events.spool_max_bytes = 16 * 1024;
    })
    .await;
    let tenant = stack.funded_tenant(json!({})).await;
    nats.stop();
    let mut answered_ids: Vec<String> = Vec::new();
    let mut refused = None;
    for n in 0..200 {
        let response = stack.chat(&tenant.key, &body(false, n)).await;
        match response.status().as_u16() {
            200 => answered_ids.push(
                response.headers()["x-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            ),
            503 => {
                // Refused requests are recorded too (at no cost), like every failed request.
                answered_ids.push(
                    response.headers()["x-request-id"]
                        .to_str()
                        .unwrap()
                        .to_owned(),
                );
                refused = Some(response.json::<Value>().await.unwrap());
                break;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    let refused = refused.expect("a full spool refuses requests");
    assert_eq!(refused["error"]["code"], "service_unavailable", "{refused}");
    assert!(
        answered_ids.len() > 3,
        "{} answered first",
        answered_ids.len()
    );
    let ready = reqwest::get(format!("{}/readyz", stack.url)).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["spool"], false, "{body}");

    nats.resume();
    // Every request answered before the spool filled is still billed, once; the refused one
    // is recorded at no cost.
    assert_billed_once(&stack, &tenant, &answered_ids).await;
    let ready = reqwest::get(format!("{}/readyz", stack.url)).await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "readiness recovers once the spool drains"
    );
    stack.stop().await;
}
