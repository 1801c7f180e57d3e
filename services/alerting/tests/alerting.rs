//! Alerting end to end on real NATS and Postgres (a database per test: alerting evaluates and
//! delivers every rule it can see): requests through the gateway and the ledger move balances
//! and windows, alerting raises each crossing once, re-arms, survives a restart, and delivers
//! signed webhooks to a local receiver with retries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};
use tollgate_events::EventBody;
use tollgate_testkit::{Stack, TenantKey, WebhookDelivery, WebhookReceiver};

async fn rule(stack: &Stack, tenant: &TenantKey, body: Value) -> Value {
    let response = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/alert-rules", tenant.tenant_id),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{body}");
    response.json().await.unwrap()
}

async fn alerts(stack: &Stack, tenant: &TenantKey) -> Vec<Value> {
    let page: Value = stack
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/alerts?tenant_id={}", tenant.tenant_id),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

/// Every alert, as the operator's `GET /api/v1/alerts` lists it.
async fn operator_alerts(stack: &Stack) -> Value {
    stack
        .admin(reqwest::Method::GET, "/api/v1/alerts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the tenant has `count` alerts (all delivered if `delivered`), then a little
/// longer, and returns them (so a test can assert there is no extra one).
async fn wait_alerts(
    stack: &Stack,
    tenant: &TenantKey,
    count: usize,
    delivered: bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = alerts(stack, tenant).await;
        let done = found.len() >= count
            && (!delivered || found.iter().all(|a| a["delivery"] == "delivered"));
        if done {
            tokio::time::sleep(Duration::from_millis(700)).await;
            return alerts(stack, tenant).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {count} alerts, found {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ask(i: usize) -> Value {
    json!({"model": "demo-large", "max_tokens": 5, "messages": [{"role": "user", "content": format!("question {i}")}]})
}

/// Sends requests until the tenant's credit runs out (402).
async fn spend_all(stack: &Stack, tenant: &TenantKey) {
    for i in 0..60 {
        let status = stack.chat(&tenant.key, &ask(i)).await.status();
        if status == 402 {
            return;
        }
        assert_eq!(status, 200);
    }
    panic!("the credit never ran out");
}

fn assert_signed(received: &WebhookDelivery, secret: &str) {
    let now = chrono::Utc::now().timestamp();
    assert!(
        tollgate_alerting::signature::verify(secret, &received.signature, &received.body, now, 300),
        "bad signature {}",
        received.signature
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_balance_fires_once_survives_a_restart_and_re_arms_after_a_top_up() {
    let stack = Stack::start_isolated().await;
    let receiver = WebhookReceiver::start(0);
    let (_, stop, task) = stack.spawn_alerting().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let created = rule(
        &stack,
        &tenant,
        json!({"kind": "balance_below", "threshold_usd": "0.0002", "webhook_url": receiver.url}),
    )
    .await;
    let secret = created["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    stack.credit(tenant.tenant_id, "0.0010", "first").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;

    spend_all(&stack, &tenant).await;
    let first = wait_alerts(&stack, &tenant, 1, true).await;
    assert_eq!(first.len(), 1, "one crossing, one alert: {first:?}");
    assert_eq!(first[0]["kind"], "balance_below");
    assert_eq!(first[0]["threshold"], "0.0002 USD");

    // A restarted alerting replays the balance feed: the rule is still fired, nothing new.
    stop.cancel();
    task.await.unwrap();
    let (_, stop, task) = stack.spawn_alerting().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(alerts(&stack, &tenant).await.len(), 1);

    // A top-up clears the condition (re-arms); spending it again is a second crossing.
    stack.credit(tenant.tenant_id, "0.0010", "second").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    spend_all(&stack, &tenant).await;
    let both = wait_alerts(&stack, &tenant, 2, true).await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_ne!(both[0]["id"], both[1]["id"]);

    let received = receiver.received();
    assert_eq!(received.len(), 2, "each alert delivered once: {received:?}");
    for delivery in &received {
        assert_signed(delivery, &secret);
        assert!(both.iter().any(|a| a["id"] == delivery.alert_id.as_str()));
    }
    // Each alert is on the stream once, as alert.raised with the alert's id.
    let raised: Vec<_> = stack
        .events(tenant.tenant_id)
        .await
        .into_iter()
        .filter(|e| matches!(e.body, EventBody::AlertRaised(_)))
        .collect();
    assert_eq!(raised.len(), 2);
    assert!(raised.iter().all(|e| {
        both.iter()
            .any(|a| a["id"] == e.event_id.to_string().as_str())
    }));

    stop.cancel();
    task.await.unwrap();
    receiver.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_failing_twice_gets_one_accepted_signed_delivery_and_the_attempts_are_shown() {
    let stack = Stack::start_isolated().await;
    let receiver = WebhookReceiver::start(2);
    let (metrics, stop, task) = stack.spawn_alerting().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let created = rule(
        &stack,
        &tenant,
        json!({"kind": "spend_above", "threshold_usd": "0.000001", "window_seconds": 300,
               "webhook_url": receiver.url}),
    )
    .await;
    let secret = created["webhook_secret"].as_str().unwrap();
    assert_eq!(stack.chat(&tenant.key, &ask(0)).await.status(), 200);
    assert_eq!(stack.chat(&tenant.key, &ask(1)).await.status(), 200);

    let raised = wait_alerts(&stack, &tenant, 1, true).await;
    assert_eq!(
        raised.len(),
        1,
        "still above the threshold: no second alert"
    );
    let id = raised[0]["id"].as_str().unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 3, "{received:?}");
    assert_eq!(received.iter().filter(|r| r.accepted).count(), 1);
    assert!(received.iter().all(|r| r.alert_id == id));
    assert_eq!(
        received
            .iter()
            .map(|r| r.attempt.as_str())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    for delivery in &received {
        assert_signed(delivery, secret);
    }
    let body: Value = serde_json::from_slice(&received[2].body).unwrap();
    assert_eq!(body["type"], "alert.raised");
    assert_eq!(body["tenant_id"], tenant.tenant_id.to_string().as_str());

    let detail: Value = stack
        .admin(reqwest::Method::GET, &format!("/api/v1/alerts/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attempts = detail["deliveries"].as_array().unwrap();
    let statuses: Vec<_> = attempts
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 204]);
    // The tenant's own key reads it too; another tenant's key does not.
    let other = stack.tenant_with_key(json!({})).await;
    for (key, status) in [(&tenant.key, 200), (&other.key, 404)] {
        let response = stack
            .http
            .get(format!("{}/api/v1/alerts/{id}", stack.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status);
    }
    let text = stack
        .http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("tollgate_alerting_deliveries_total{label=\"error\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_alerting_deliveries_total{label=\"ok\"} 1"),
        "{text}"
    );

    stop.cancel();
    task.await.unwrap();
    receiver.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_budget_error_rate_and_breaker_rules_fire_and_bad_rules_are_refused() {
    let stack = Stack::start_isolated().await;
    let (_, stop, task) = stack.spawn_alerting().await;
    let tenant = stack.funded_tenant(json!({"budget_usd": "0.0004"})).await;
    rule(
        &stack,
        &tenant,
        json!({"kind": "key_budget", "percents": [50, 1000]}),
    )
    .await;
    rule(
        &stack,
        &tenant,
        json!({"kind": "error_rate_above", "percent": 40, "window_seconds": 300, "min_requests": 3}),
    )
    .await;
    let platform = stack
        .admin(reqwest::Method::POST, "/api/v1/alert-rules")
        .json(&json!({"kind": "breaker_open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(platform.status(), 201);

    // Spend past half of the key's budget.
    for i in 0..20 {
        if stack.chat(&tenant.key, &ask(i)).await.status() != 200 {
            break;
        }
    }
    // Failing requests through a key without a budget: the error rate goes up and the
    // deployment's breaker opens.
    let unbudgeted: Value = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/keys", tenant.tenant_id),
        )
        .json(&json!({"name": "no budget"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stack.faults.set(
        "mock-small",
        tollgate_mock_upstream::Fault {
            status: Some(500),
            error_rate: Some(1.0),
            ..Default::default()
        },
    );
    for i in 0..6 {
        let body = json!({"model": "demo-small", "max_tokens": 5, "messages": [{"role": "user", "content": format!("fail {i}")}]});
        let response = stack.chat(unbudgeted["key"].as_str().unwrap(), &body).await;
        assert!(response.status().as_u16() >= 500, "{}", response.status());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let kinds = loop {
        let found = alerts(&stack, &tenant).await;
        let mut kinds: Vec<String> = found
            .iter()
            .map(|a| {
                format!(
                    "{}:{}",
                    a["kind"].as_str().unwrap(),
                    a["subject"].as_str().unwrap()
                )
            })
            .collect();
        kinds.sort();
        if kinds.len() >= 2 {
            break kinds;
        }
        assert!(tokio::time::Instant::now() < deadline, "{found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        kinds,
        [
            "error_rate_above:".to_owned(),
            format!("key_budget:{}:50", tenant.key_id)
        ]
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = operator_alerts(&stack).await;
        let breaker = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "breaker_open")
            .cloned();
        if let Some(breaker) = breaker {
            assert_eq!(breaker["subject"], "demo-small", "the deployment");
            assert!(breaker["tenant_id"].is_null());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no breaker alert: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let rules_path = format!("/api/v1/tenants/{}/alert-rules", tenant.tenant_id);
    for body in [
        json!({"kind": "sometimes"}),
        json!({"kind": "balance_below"}),
        json!({"kind": "balance_below", "threshold_usd": 5}),
        json!({"kind": "balance_below", "threshold_usd": "5", "window_seconds": 60}),
        json!({"kind": "spend_above", "threshold_usd": "5"}),
        json!({"kind": "spend_above", "threshold_usd": "5", "window_seconds": 10}),
        json!({"kind": "error_rate_above", "percent": 150, "window_seconds": 60}),
        json!({"kind": "key_budget", "percents": [0]}),
        json!({"kind": "key_budget", "key_id": uuid::Uuid::now_v7()}),
        json!({"kind": "breaker_open"}),
        json!({"kind": "balance_below", "threshold_usd": "1", "webhook_url": "ftp://example"}),
    ] {
        let response = stack
            .admin(reqwest::Method::POST, &rules_path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
    }
    let listed: Value = stack
        .admin(reqwest::Method::GET, &rules_path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r.get("webhook_secret").is_none()));
    let id = listed[0]["id"].as_str().unwrap();
    let deleted = stack
        .admin(reqwest::Method::DELETE, &format!("{rules_path}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let again = stack
        .admin(reqwest::Method::DELETE, &format!("{rules_path}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let other = stack.tenant_with_key(json!({})).await;
    let foreign = stack
        .http
        .get(format!("{}{rules_path}", stack.url))
        .bearer_auth(&other.key)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    stop.cancel();
    task.await.unwrap();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_parked_event_raises_the_platforms_dead_letter_alert_and_the_rest_flows() {
    // A database of its own: platform rules see every tenant.
    let stack = Stack::start_isolated().await;
    let (_, stop, task) = stack.spawn_alerting().await;
    let platform = stack
        .admin(reqwest::Method::POST, "/api/v1/alert-rules")
        .json(&json!({"kind": "dead_letter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(platform.status(), 201);
    let tenant = stack.funded_tenant(json!({})).await;
    let refused = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/alert-rules", tenant.tenant_id),
        )
        .json(&json!({"kind": "dead_letter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "a platform rule, not a tenant's");

    // A cost NUMERIC(20,10) cannot hold: the ledger and alerting both park it.
    let poison = tollgate_testkit::usage_event(
        tenant.tenant_id,
        tenant.key_id,
        "1000000000000000".parse().unwrap(),
    );
    tollgate_events::publish_confirmed(&stack.js, &stack.subject_prefix, &poison)
        .await
        .unwrap();
    // Requests after it are still served and booked.
    let response = stack.chat(&tenant.key, &ask(1)).await;
    assert_eq!(response.status(), 200);
    stack.wait_for_entries(tenant.tenant_id, 2).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = operator_alerts(&stack).await;
        let parked: Vec<&Value> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "dead_letter")
            .collect();
        let by = |consumer: &str| {
            parked.iter().any(|a| {
                a["tenant_id"].is_null()
                    && a["message"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("{consumer} parked event"))
            })
        };
        if by("ledger") && by("alerting") {
            assert!(
                parked.iter().all(|a| a["message"]
                    .as_str()
                    .unwrap()
                    .contains("refused by the database")),
                "{page}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead-letter alerts: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    task.await.unwrap();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_rules_pending_alerts_are_never_delivered_again() {
    let stack = Stack::start_isolated().await;
    // A receiver that keeps failing: the alert stays pending, retried with backoff.
    let receiver = WebhookReceiver::start(usize::MAX);
    let (_, stop, task) = stack.spawn_alerting().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let created = rule(
        &stack,
        &tenant,
        json!({"kind": "spend_above", "threshold_usd": "0.000001", "window_seconds": 300,
               "webhook_url": receiver.url}),
    )
    .await;
    assert_eq!(stack.chat(&tenant.key, &ask(0)).await.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while receiver.received().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery attempt"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deleted = stack
        .admin(
            reqwest::Method::DELETE,
            &format!(
                "/api/v1/tenants/{}/alert-rules/{}",
                tenant.tenant_id,
                created["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = alerts(&stack, &tenant).await;
        assert_eq!(found.len(), 1);
        if found[0]["delivery"] == "none" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = receiver.received().len();
    // Past the next backoff (1 s, then 2 s): no attempt after the rule went.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(receiver.received().len(), attempts);
    assert!(receiver.received().iter().all(|r| !r.accepted));
    stop.cancel();
    task.await.unwrap();
    receiver.stop().await;
    stack.stop().await;
}

/// Tries to create a rule with `url` as its webhook; the answer's status and error code.
async fn try_rule(stack: &Stack, tenant: &TenantKey, url: &str) -> (u16, Value) {
    let response = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/alert-rules", tenant.tenant_id),
        )
        .json(&json!({"kind": "balance_below", "threshold_usd": "1", "webhook_url": url}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_into_the_operators_network_are_refused_when_created_and_when_connecting() {
    let stack = Stack::start_isolated().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    // The test stack allows 127.0.0.0/8 (its receivers), nothing else that is not public.
    for url in [
        "http://10.0.0.1/hook",
        "http://192.168.1.10:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[::1]:9/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:80/",
        "https://224.0.0.1/",
    ] {
        let (status, error) = try_rule(&stack, &tenant, url).await;
        assert_eq!(status, 400, "{url}: {error}");
        assert_eq!(error["error"]["code"], "webhook_url_not_allowed", "{url}");
    }
    let (status, error) = try_rule(&stack, &tenant, "http://no-such-host.invalid/").await;
    assert_eq!(
        (status, &error["error"]["param"]),
        (400, &json!("webhook_url"))
    );

    // Allowed when the rule was made, refused when alerting connects (its policy is the
    // default): the receiver gets nothing, and the tenant sees only a coarse reason.
    let receiver = WebhookReceiver::start(0);
    let mut config = stack.alerting_config();
    config.delivery.egress = tollgate_runtime::egress::EgressPolicy::default();
    let (_, stop, task) = stack.spawn_alerting_with(config).await;
    rule(
        &stack,
        &tenant,
        json!({"kind": "balance_below", "threshold_usd": "0.0002", "webhook_url": receiver.url}),
    )
    .await;
    stack.credit(tenant.tenant_id, "0.0010", "egress").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;
    spend_all(&stack, &tenant).await;
    let alert = wait_alerts(&stack, &tenant, 1, false).await[0].clone();
    let mut attempts = Vec::new();
    for _ in 0..100 {
        let detail = stack
            .admin_get(&format!("/api/v1/alerts/{}", alert["id"].as_str().unwrap()))
            .await;
        attempts = detail["deliveries"].as_array().unwrap().clone();
        if !attempts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(attempts[0]["error"], "address not allowed", "{attempts:?}");
    assert!(attempts[0]["status"].is_null());
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    stop.cancel();
    task.await.unwrap();
    receiver.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_holds_only_its_tenants_share_of_the_workers() {
    let stack = Stack::start_isolated().await;
    // Accepts connections and never answers; counts them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    let mut config = stack.alerting_config();
    config.delivery.timeout = Duration::from_secs(60);
    let (_, stop, task) = stack.spawn_alerting_with(config).await;

    // Tenant A: four alerts at a receiver that hangs. Tenant B: one at a good receiver.
    let a = stack.tenant_with_key(json!({})).await;
    for threshold in ["0.0002", "0.0003", "0.0004", "0.0005"] {
        rule(
            &stack,
            &a,
            json!({"kind": "balance_below", "threshold_usd": threshold, "webhook_url": hanging}),
        )
        .await;
    }
    let b = stack.tenant_with_key(json!({})).await;
    let receiver = WebhookReceiver::start(0);
    rule(
        &stack,
        &b,
        json!({"kind": "balance_below", "threshold_usd": "0.0002", "webhook_url": receiver.url}),
    )
    .await;
    stack.credit(a.tenant_id, "0.0010", "hang-a").await;
    stack.credit(b.tenant_id, "0.0010", "hang-b").await;
    stack.wait_for_entries(a.tenant_id, 1).await;
    stack.wait_for_entries(b.tenant_id, 1).await;
    spend_all(&stack, &a).await;
    wait_alerts(&stack, &a, 4, false).await;
    spend_all(&stack, &b).await;

    // B's alert is delivered while A's receiver still holds its connections.
    let delivered = wait_alerts(&stack, &b, 1, true).await;
    assert_eq!(delivered[0]["delivery"], "delivered");
    assert_eq!(receiver.received().len(), 1);
    // A has two deliveries in flight at most (per_tenant = 2), never all its four.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(
        alerts(&stack, &a)
            .await
            .iter()
            .all(|alert| alert["delivery"] == "pending")
    );

    stop.cancel();
    task.await.unwrap();
    holder.abort();
    receiver.stop().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_secrets_are_sealed_at_rest_and_sealed_again_after_a_key_rotation() {
    let stack = Stack::start_isolated().await;
    let receiver = WebhookReceiver::start(0);
    let tenant = stack.tenant_with_key(json!({})).await;
    let created = rule(
        &stack,
        &tenant,
        json!({"kind": "balance_below", "threshold_usd": "0.0002", "webhook_url": receiver.url}),
    )
    .await;
    let secret = created["webhook_secret"].as_str().unwrap().to_owned();
    let pool = tollgate_store::connect(&stack.database_url, 2)
        .await
        .unwrap();
    let stored = || async {
        let (stored,): (String,) =
            sqlx::query_as("SELECT webhook_secret FROM alert_rules WHERE id = $1")
                .bind(uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap())
                .fetch_one(&pool)
                .await
                .unwrap();
        stored
    };
    let sealed = stored().await;
    assert!(
        sealed.starts_with("v1:") && !sealed.contains(&secret[6..]),
        "{sealed}"
    );

    // The key rotates: alerting gets a new key and keeps the old one to open what it sealed.
    let new_key = "a1".repeat(32);
    let mut config = stack.alerting_config();
    config.delivery.secrets =
        tollgate_runtime::sealed::Sealer::new(Some(&new_key), Some(tollgate_testkit::SECRETS_KEY))
            .unwrap();
    let (_, stop, task) = stack.spawn_alerting_with(config).await;
    stack.credit(tenant.tenant_id, "0.0010", "sealed").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;
    spend_all(&stack, &tenant).await;
    wait_alerts(&stack, &tenant, 1, true).await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_signed(&received[0], &secret);
    let resealed = stored().await;
    assert!(
        resealed.starts_with("v1:") && resealed != sealed,
        "{resealed}"
    );
    let only_new = tollgate_runtime::sealed::Sealer::new(Some(&new_key), None).unwrap();
    assert_eq!(only_new.open(&resealed).unwrap().0, secret);
    stop.cancel();
    task.await.unwrap();
    receiver.stop().await;
    stack.stop().await;
}
