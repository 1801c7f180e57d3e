//! Admission control: credit and key budgets are enforced before the upstream is called, also
//! under concurrency, and the ledger's balance never goes below zero on one gateway.

use std::str::FromStr;

use futures_util::future::join_all;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_testkit::Stack;

fn request(i: usize) -> Value {
    json!({"model": "demo-large", "max_tokens": 5, "messages": [{"role": "user", "content": format!("question {i}")}]})
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_credit_gets_402_and_the_upstream_is_not_called() {
    let stack = Stack::start().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let response = stack.chat(&tenant.key, &request(0)).await;
    assert_eq!(response.status(), 402);
    assert_eq!(response.headers()["x-tollgate-cost"], "0");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "insufficient_quota");
    assert_eq!(error["error"]["code"], "insufficient_quota");
    assert_eq!(stack.mock.chat_requests(), 0);
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events[0].http_status, 402);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_stop_with_402_when_credit_runs_out_and_the_balance_never_goes_negative() {
    let stack = Stack::start().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    stack.credit(tenant.tenant_id, "0.0006", "small").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;

    let (mut served, mut refused, mut charged) = (0, 0, Decimal::ZERO);
    for i in 0..40 {
        let mut body = request(i);
        if i % 3 == 0 {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        let response = stack.chat(&tenant.key, &body).await;
        match response.status().as_u16() {
            200 if i % 3 == 0 => {
                let text = response.text().await.unwrap();
                let data = tollgate_testkit::sse_data(&text);
                let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
                charged += dec(&usage["usage"]["cost_usd"]);
                served += 1;
            }
            200 => {
                charged +=
                    Decimal::from_str(response.headers()["x-tollgate-cost"].to_str().unwrap())
                        .unwrap();
                served += 1;
            }
            402 => {
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["code"], "insufficient_quota");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(served >= 3, "some requests fit the credit ({served})");
    assert!(refused > 0, "the credit ran out");
    assert_eq!(
        stack.mock.chat_requests(),
        served,
        "refused requests never reached the upstream"
    );

    let balance = stack.wait_for_entries(tenant.tenant_id, 41).await;
    assert_eq!(dec(&balance["spent_usd"]), charged);
    assert!(
        dec(&balance["balance_usd"]) >= Decimal::ZERO,
        "overspent: {balance}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_one_gateway_cannot_overspend() {
    let stack = Stack::start().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    stack.credit(tenant.tenant_id, "0.001", "concurrent").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;

    let bodies: Vec<Value> = (0..80).map(request).collect();
    let responses = join_all(bodies.iter().map(|body| stack.chat(&tenant.key, body))).await;
    let served = responses.iter().filter(|r| r.status() == 200).count();
    let refused = responses.iter().filter(|r| r.status() == 402).count();
    assert_eq!(served + refused, 80);
    assert!(
        served > 0 && refused > 0,
        "served {served}, refused {refused}"
    );

    let balance = stack.wait_for_entries(tenant.tenant_id, 81).await;
    assert!(
        dec(&balance["balance_usd"]) >= Decimal::ZERO,
        "overspent: {balance}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_budget_is_enforced_with_budget_exceeded() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({"budget_usd": "0.0004"})).await;
    let mut refused = None;
    let mut served = 0;
    for i in 0..40 {
        let response = stack.chat(&tenant.key, &request(i)).await;
        if response.status() == 402 {
            refused = Some(response.json::<Value>().await.unwrap());
            break;
        }
        assert_eq!(response.status(), 200);
        served += 1;
    }
    let error = refused.expect("the key's budget ran out");
    assert_eq!(error["error"]["type"], "insufficient_quota");
    assert_eq!(error["error"]["code"], "budget_exceeded");
    assert!(served >= 2);

    // The tenant still has credit: another key of the same tenant keeps working.
    let other = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/keys", tenant.tenant_id),
        )
        .json(&json!({"name": "second"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let response = stack
        .chat(other["key"].as_str().unwrap(), &request(99))
        .await;
    assert_eq!(response.status(), 200);

    let balance = stack.wait_for_entries(tenant.tenant_id, served + 3).await;
    let spent_by_budgeted_key = dec(&balance["spent_usd"])
        - Decimal::from_str(
            response
                .headers()
                .get("x-tollgate-cost")
                .map_or("0", |v| v.to_str().unwrap()),
        )
        .unwrap();
    assert!(
        spent_by_budgeted_key <= Decimal::from_str("0.0004").unwrap(),
        "key overspent: {spent_by_budgeted_key}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_count_each_others_reservations() {
    let mock = tollgate_mock_upstream::MockConfig {
        latency_ms: 600,
        ..tollgate_mock_upstream::MockConfig::default()
    };
    let mut stack = Stack::start_with(mock, |_| {}).await;
    let second = stack.start_gateway(stack.config.clone()).await;
    let tenant = stack.tenant_with_key(json!({})).await;
    // Each request reserves ~0.00108 USD (100 output tokens at 10 USD/1M dominate): two fit.
    stack.credit(tenant.tenant_id, "0.0025", "two-fit").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;
    let body = json!({"model": "demo-large", "max_tokens": 100, "messages": [{"role": "user", "content": "hold"}]});

    // Two slow requests hold their reservations on the first gateway...
    let first = join_all((0..2).map(|_| stack.chat(&tenant.key, &body)));
    let on_second = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        stack
            .http
            .post(format!("{second}/v1/chat/completions"))
            .bearer_auth(&tenant.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    // ...so the second gateway, which has seen them announced, refuses a third.
    let (held, refused) = tokio::join!(first, on_second);
    assert!(held.iter().all(|r| r.status() == 200));
    assert_eq!(
        refused.status(),
        402,
        "the second gateway ignored the first one's reservations"
    );

    // Once they are settled (and the charges announced), what is left is usable again there.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let small = json!({"model": "demo-small", "max_tokens": 5, "messages": [{"role": "user", "content": "after"}]});
    let after = stack
        .http
        .post(format!("{second}/v1/chat/completions"))
        .bearer_auth(&tenant.key)
        .json(&small)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    let balance = stack.wait_for_entries(tenant.tenant_id, 5).await;
    assert!(dec(&balance["balance_usd"]) >= Decimal::ZERO);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_ledger_down_the_gateway_keeps_enforcing_and_reports_a_stale_feed() {
    // No ledger runs: the credit is booked directly, as by a ledger that then died.
    let stack = Stack::start_bare().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let credit = tollgate_events::Event::new(
        tenant.tenant_id,
        tollgate_events::EventBody::CreditsGranted(tollgate_events::CreditsGranted {
            amount_usd: Decimal::from_str("0.0008").unwrap(),
            idempotency_key: "booked-before-the-ledger-died".into(),
            note: None,
            source: tollgate_events::CreditSource::Api,
        }),
    );
    let pool = tollgate_store::connect(&tollgate_testkit::database_url(), 2)
        .await
        .unwrap();
    // Sequence 0: the credit is not in this stack's stream, so it covers none of its events.
    let entry = tollgate_ledger::entry::LedgerEntry::from_event(credit, 0).unwrap();
    tollgate_ledger::book(&pool, &[entry]).await.unwrap();

    // The feed itself is up (the bucket the ledger made exists, nothing is lagging yet).
    tollgate_events::balances::balance_store(&stack.js, &stack.stream, 1)
        .await
        .unwrap();
    let feed = || async {
        let ready: Value = stack
            .http
            .get(format!("{}/readyz", stack.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ready["balance_feed"].as_str().unwrap().to_owned()
    };
    for _ in 0..30 {
        if feed().await == "live" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(feed().await, "live");

    let (mut served, mut charged) = (0, Decimal::ZERO);
    for i in 0..30 {
        let response = stack.chat(&tenant.key, &request(i)).await;
        if response.status() == 402 {
            break;
        }
        assert_eq!(response.status(), 200);
        charged +=
            Decimal::from_str(response.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
        served += 1;
    }
    assert!(
        served > 0 && served < 30,
        "enforced from the gateway's own accounting ({served} served)"
    );
    assert!(
        charged <= Decimal::from_str("0.0008").unwrap(),
        "charged {charged} beyond the credit"
    );

    // The ledger never books those charges: after ~10 s the feed is reported stale.
    let charged_at = std::time::Instant::now();
    assert_eq!(feed().await, "live");
    while feed().await != "stale" {
        assert!(
            charged_at.elapsed().as_secs() < 20,
            "the feed never turned stale"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        charged_at.elapsed().as_secs() >= 8,
        "stale too early: {:?}",
        charged_at.elapsed()
    );
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("tollgate_balance_feed_stale 1"),
        "{metrics}"
    );
    stack.stop().await;
}

/// A tenant with one cent fires 50 requests at once that could each cost far more: `n = 8`,
/// ten kilobytes of tools, or no output limit against a provider that writes 3,000 tokens when
/// let. Admission reserves the true upper bound (tools and every choice counted, the default
/// output limit sent upstream), so the balance never goes below zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cent_cannot_buy_more_than_a_cent_whatever_the_request_asks_for() {
    let mock = tollgate_mock_upstream::MockConfig {
        completion_words: 3_000,
        ..tollgate_mock_upstream::MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.tenant_with_key(json!({})).await;
    stack.credit(tenant.tenant_id, "0.01", "one-cent").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;

    let tools: Vec<Value> = (0..40)
        .map(|i| {
            json!({"type": "function", "function": {
                "name": format!("tool_{i}"),
                "description": "Looks things up in a catalogue that is described at length here. ".repeat(4),
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            }})
        })
        .collect();
    let bodies: Vec<Value> = (0..50)
        .map(|i| {
            let messages = json!([{"role": "user", "content": "Tell me everything."}]);
            match i % 3 {
                0 => json!({"model": "demo-small", "n": 8, "messages": messages}),
                1 => json!({"model": "demo-small", "tools": tools, "messages": messages}),
                _ => json!({"model": "demo-small", "messages": messages}),
            }
        })
        .collect();
    let answers = join_all(bodies.iter().map(|body| stack.chat(&tenant.key, body))).await;
    let mut charged = Decimal::ZERO;
    let mut served = 0;
    for answer in &answers {
        let status = answer.status().as_u16();
        assert!(status == 200 || status == 402, "{status}");
        served += usize::from(status == 200);
        charged += answer.headers()["x-tollgate-cost"]
            .to_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap();
    }
    assert!(served >= 1, "the cent buys something");
    assert!(served < 50, "but not everything");

    // Once the ledger has booked every answer, the balance is what was credited minus what the
    // answers said they cost, and not below zero.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let balance = loop {
        let balance = stack.balance(tenant.tenant_id).await;
        let spent: Decimal = balance["spent_usd"].as_str().unwrap().parse().unwrap();
        if spent == charged {
            break balance;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spent {spent} of {charged}: {balance}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let left: Decimal = balance["balance_usd"].as_str().unwrap().parse().unwrap();
    assert!(left >= Decimal::ZERO, "overspent: {balance}");
    stack.stop().await;
}
