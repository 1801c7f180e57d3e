//! Rate limits through real HTTP on a real stack: requests and tokens per minute and requests in
//! flight, per key and per tenant. A limited request is a 429 in the route's dialect with
//! `Retry-After` and the `x-ratelimit-*` headers; it is never charged, and nobody else is
//! slowed by it.

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_mock_upstream::MockConfig;
use tollgate_testkit::Stack;

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Checks that the OpenAI-shaped error of `response` says `text` in its message.
async fn error_saying(response: reqwest::Response, text: &str) {
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(text), "{error}");
}

/// Checks that the OpenAI-shaped error of `response` starts its message with `text`.
async fn error_starting(response: reqwest::Response, text: &str) {
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(text), "{error}");
}

fn small(max_tokens: u32) -> Value {
    json!({
        "model": "demo-small",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "x"}],
    })
}

fn cost(response: &reqwest::Response) -> Decimal {
    header(response, "x-tollgate-cost").parse().unwrap()
}

/// Waits until the tenant's spend is `expected` (the ledger is asynchronous), then checks it
/// stays there.
async fn assert_spent(stack: &Stack, tenant_id: uuid::Uuid, expected: Decimal) {
    let spent =
        |balance: &Value| -> Decimal { balance["spent_usd"].as_str().unwrap().parse().unwrap() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let balance = stack.balance(tenant_id).await;
        if spent(&balance) == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "spent {} instead of {expected}: {balance}",
            spent(&balance)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(spent(&stack.balance(tenant_id).await), expected);
}

async fn patch(stack: &Stack, path: &str, body: Value) -> Value {
    let response = stack
        .admin(reqwest::Method::PATCH, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_requests_per_minute_are_enforced_exactly_and_a_429_is_not_charged() {
    let stack = Stack::start().await;
    let limited = stack.funded_tenant(json!({"rpm": 3})).await;
    let other = stack.funded_tenant(json!({})).await;

    let mut charged = Decimal::ZERO;
    for remaining in ["2", "1", "0"] {
        let response = stack.chat(&limited.key, &small(5)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit-requests"), "3");
        assert_eq!(
            header(&response, "x-ratelimit-remaining-requests"),
            remaining
        );
        assert!(!header(&response, "x-ratelimit-reset-requests").is_empty());
        charged += cost(&response);
    }
    let refused = stack.chat(&limited.key, &small(5)).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = header(&refused, "retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("{:?}", refused.headers()));
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&refused, "x-should-retry"), "true");
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    assert_eq!(header(&refused, "x-tollgate-cost"), "0");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_exceeded", "{error}");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("key's limit of 3 requests per minute"),
        "{error}"
    );

    // Another tenant is untouched, and the limited one paid for three answers only.
    let response = stack.chat(&other.key, &small(5)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-ratelimit-limit-requests"), "");
    assert_spent(&stack, limited.tenant_id, charged).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_limit_holds_across_its_keys_and_changes_take_effect_at_once() {
    let stack = Stack::start().await;
    let first = stack.funded_tenant(json!({})).await;
    let tenant_path = format!("/api/v1/tenants/{}", first.tenant_id);
    let tenant = patch(&stack, &tenant_path, json!({"rpm": 2})).await;
    assert_eq!(tenant["rpm"], 2, "{tenant}");
    let second = stack
        .create_key(first.tenant_id, &json!({"name": "second"}))
        .await;
    let second = second["key"].as_str().unwrap().to_owned();

    assert_eq!(stack.chat(&first.key, &small(5)).await.status(), 200);
    assert_eq!(stack.chat(&second, &small(5)).await.status(), 200);
    let refused = stack.chat(&first.key, &small(5)).await;
    assert_eq!(refused.status(), 429);
    error_saying(refused, "tenant's limit of 2 requests per minute").await;

    // Cleared: unlimited, at once.
    let tenant = patch(&stack, &tenant_path, json!({"rpm": null})).await;
    assert!(tenant["rpm"].is_null(), "{tenant}");
    assert_eq!(stack.chat(&second, &small(5)).await.status(), 200);

    // A key's own limit set by PATCH applies at once too; a non-positive one is a 400.
    let key_path = format!("/api/v1/keys/{}", first.key_id);
    let key = patch(&stack, &key_path, json!({"max_concurrent": 4, "tpm": 1000})).await;
    assert_eq!(key["max_concurrent"], 4, "{key}");
    let response = stack.chat(&first.key, &small(5)).await;
    assert_eq!(header(&response, "x-ratelimit-limit-tokens"), "1000");
    for bad in [
        json!({"rpm": 0}),
        json!({"tpm": -5}),
        json!({"max_concurrent": 0}),
    ] {
        let response = stack
            .admin(reqwest::Method::PATCH, &key_path)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_per_minute_reserve_the_output_and_are_trued_up_when_the_answer_ends() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({"tpm": 100})).await;

    // Larger than the whole limit: never passes, and the client is told so.
    let refused = stack.chat(&tenant.key, &small(200)).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after"), "");
    assert_eq!(header(&refused, "x-should-retry"), "false");
    error_starting(refused, "request too large").await;

    // Two requests that each reserve about 70 tokens but use about 30: the second passes only
    // because the first gave back what it did not use.
    let first = stack.chat(&tenant.key, &small(60)).await;
    assert_eq!(first.status(), 200);
    let remaining: u64 = header(&first, "x-ratelimit-remaining-tokens")
        .parse()
        .unwrap();
    assert!(remaining <= 40, "reserved the output too: {remaining} left");
    let second = stack.chat(&tenant.key, &small(60)).await;
    assert_eq!(second.status(), 200, "{:?}", second.text().await);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_capped_and_the_anthropic_dialect_gets_its_own_429() {
    let mock = MockConfig {
        latency_ms: 3_000,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({"max_concurrent": 1})).await;
    let other = stack.funded_tenant(json!({"max_concurrent": 1})).await;

    let slow = {
        let http = stack.http.clone();
        let url = format!("{}/v1/chat/completions", stack.url);
        let key = tenant.key.clone();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .json(&small(5))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    // A second is ample for the first request to be admitted; the mock holds it for three.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let refused = stack.chat(&tenant.key, &small(5)).await;
    assert_eq!(refused.status(), 429);
    error_saying(refused, "the key's limit is 1 at once").await;
    let refused = stack
        .http
        .post(format!("{}/v1/messages", stack.url))
        .header("x-api-key", &tenant.key)
        .header("anthropic-version", "2023-06-01")
        .json(&small(5))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["error"]["type"], "rate_limit_error", "{error}");
    // Another tenant with the same cap is served meanwhile.
    assert_eq!(stack.chat(&other.key, &small(5)).await.status(), 200);

    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(stack.chat(&tenant.key, &small(5)).await.status(), 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_throttled_per_source_address() {
    let stack = Stack::start_with(MockConfig::default(), |config| {
        config.limits.auth_failures_per_minute = 5;
    })
    .await;
    let tenant = stack.funded_tenant(json!({})).await;
    for _ in 0..5 {
        let refused = stack.chat("tg-not-a-key-at-all-000000", &small(5)).await;
        assert_eq!(refused.status(), 401);
    }
    // Now even a good key from this address waits, and nothing is looked up for it.
    let throttled = stack.chat(&tenant.key, &small(5)).await;
    assert_eq!(throttled.status(), 429);
    assert!(!header(&throttled, "retry-after").is_empty());
    error_saying(throttled, "failed authentications from this address").await;
    // The management API is behind the same throttle, the operator's token too.
    let operator = stack
        .admin(reqwest::Method::GET, "/api/v1/providers/health")
        .send()
        .await
        .unwrap();
    assert_eq!(operator.status(), 429);

    // Another source address is served as usual.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let served = elsewhere
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(&tenant.key)
        .json(&small(5))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_requests_keys_and_alert_rules_per_tenant_are_capped() {
    let stack = Stack::start_with(MockConfig::default(), |config| {
        config.limits.management_rpm = 3;
        config.limits.max_keys_per_tenant = 2;
        config.limits.max_alert_rules_per_tenant = 1;
    })
    .await;
    let tenant = stack.funded_tenant(json!({})).await;
    let other = stack.funded_tenant(json!({})).await;

    // A tenant key's management requests are limited; the operator's and other tenants' are not.
    let balance = |key: &str, tenant_id: uuid::Uuid| {
        stack
            .http
            .get(format!("{}/api/v1/tenants/{tenant_id}/balance", stack.url))
            .bearer_auth(key.to_owned())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            balance(&tenant.key, tenant.tenant_id)
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let refused = balance(&tenant.key, tenant.tenant_id).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(!header(&refused, "retry-after").is_empty());
    assert_eq!(
        balance(&other.key, other.tenant_id).await.unwrap().status(),
        200
    );
    assert_eq!(
        stack.balance(tenant.tenant_id).await["tenant_id"],
        tenant.tenant_id.to_string()
    );

    // Keys: the tenant holds one; a second is created, a third is refused until one is revoked.
    let create_key = || {
        stack
            .admin(
                reqwest::Method::POST,
                &format!("/api/v1/tenants/{}/keys", tenant.tenant_id),
            )
            .json(&json!({"name": "extra"}))
            .send()
    };
    let second = create_key().await.unwrap();
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    let refused = create_key().await.unwrap();
    assert_eq!(refused.status(), 409);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_many_keys", "{error}");
    let revoked = stack
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", second["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(create_key().await.unwrap().status(), 201);

    // Alert rules: one, then 409.
    let create_rule = || {
        stack
            .admin(
                reqwest::Method::POST,
                &format!("/api/v1/tenants/{}/alert-rules", tenant.tenant_id),
            )
            .json(&json!({"kind": "balance_below", "threshold_usd": "5"}))
            .send()
    };
    assert_eq!(create_rule().await.unwrap().status(), 201);
    let refused = create_rule().await.unwrap();
    assert_eq!(refused.status(), 409);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_many_alert_rules", "{error}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_defaults_are_given_to_new_keys_and_tenants_and_null_means_unlimited() {
    let stack = Stack::start_with(MockConfig::default(), |config| {
        config.limits.key.rpm = Some(2);
        config.limits.tenant.max_concurrent = Some(50);
    })
    .await;
    // Created without limits: the defaults are stored and shown.
    let tenant = stack.funded_tenant(json!({})).await;
    let listed = stack
        .admin_get(&format!("/api/v1/tenants/{}/keys", tenant.tenant_id))
        .await;
    assert_eq!(listed["data"][0]["rpm"], 2, "{listed}");
    assert!(listed["data"][0]["tpm"].is_null());
    let shown = stack
        .admin_get(&format!("/api/v1/tenants/{}", tenant.tenant_id))
        .await;
    assert_eq!(shown["max_concurrent"], 50, "{shown}");
    for _ in 0..2 {
        assert_eq!(stack.chat(&tenant.key, &small(5)).await.status(), 200);
    }
    assert_eq!(stack.chat(&tenant.key, &small(5)).await.status(), 429);

    // A key created with rpm null is exempt from the default.
    let exempt = stack
        .create_key(tenant.tenant_id, &json!({"name": "exempt", "rpm": null}))
        .await;
    assert!(exempt["rpm"].is_null(), "{exempt}");
    let exempt = exempt["key"].as_str().unwrap().to_owned();
    for _ in 0..6 {
        assert_eq!(stack.chat(&exempt, &small(5)).await.status(), 200);
    }
    // PATCH null lifts the first key's limit at once.
    let key = patch(
        &stack,
        &format!("/api/v1/keys/{}", tenant.key_id),
        json!({"rpm": null}),
    )
    .await;
    assert!(key["rpm"].is_null(), "{key}");
    assert_eq!(stack.chat(&tenant.key, &small(5)).await.status(), 200);
    stack.stop().await;
}

/// Waits until the gateway at `url` says `gateways` share its rate limits.
async fn wait_for_sharing(stack: &Stack, url: &str, gateways: u32) {
    let wanted = format!("tollgate_rate_limit_gateways {gateways}");
    for _ in 0..100 {
        let metrics = stack.metrics_at(url).await;
        if metrics.lines().any(|line| line == wanted) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{url} never saw {gateways} gateways");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_limit_within_the_documented_overshoot() {
    let mut stack = Stack::start().await;
    let second = stack.start_gateway(stack.config.clone()).await;
    let first = stack.url.clone();
    wait_for_sharing(&stack, &first, 2).await;
    wait_for_sharing(&stack, &second, 2).await;
    let limit = 40;
    let tenant = stack.funded_tenant(json!({"rpm": limit})).await;

    // 240 requests at once, half through each gateway: alone, each would let 40 through.
    let started = std::time::Instant::now();
    let bodies: Vec<Value> = (0..240).map(|i| small(i % 7 + 1)).collect();
    let statuses = futures_util::future::join_all(bodies.iter().enumerate().map(|(i, body)| {
        let url = if i % 2 == 0 { &first } else { &second };
        let key = tenant.key.clone();
        let stack = &stack;
        async move { stack.chat_at(url, &key, body).await.status().as_u16() }
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let served = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(served + limited, 240, "{statuses:?}");
    // What the limit lets through in that time (the burst plus what regenerates), and the
    // worst case of docs/architecture.md for two gateways: half of one interval's free room.
    let regenerated = (seconds * f64::from(limit) / 60.0).ceil() as usize;
    let allowed = limit as usize + regenerated;
    eprintln!(
        "two gateways, rpm {limit}: served {served} of 240 in {seconds:.2} s (exact: {allowed})"
    );
    assert!(
        served <= allowed + limit as usize / 2,
        "served {served}, limit {allowed}"
    );
    assert!(
        served >= allowed / 2,
        "each gateway got at least its share: {served}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_joins_learns_what_the_others_used_before_it_came() {
    let mut stack = Stack::start().await;
    let first = stack.url.clone();
    let limit: u32 = 30;
    let tenant = stack.funded_tenant(json!({"rpm": limit})).await;
    // Alone, the first gateway spends the whole minute's limit.
    let started = std::time::Instant::now();
    for i in 0..limit {
        let status = stack
            .chat_at(&first, &tenant.key, &small(i % 5 + 1))
            .await
            .status();
        assert_eq!(status, 200);
    }
    assert_eq!(
        stack.chat_at(&first, &tenant.key, &small(1)).await.status(),
        429
    );
    // A second gateway starts; once they know each other, it has nothing left to give either.
    let second = stack.start_gateway(stack.config.clone()).await;
    wait_for_sharing(&stack, &second, 2).await;
    wait_for_sharing(&stack, &first, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut served = 0;
    for i in 0..20 {
        if stack
            .chat_at(&second, &tenant.key, &small(i % 5 + 1))
            .await
            .status()
            == 200
        {
            served += 1;
        }
    }
    // What regenerated meanwhile (one request every two seconds) is all it may serve.
    let regenerated = (started.elapsed().as_secs_f64() * f64::from(limit) / 60.0).ceil() as usize;
    assert!(
        served <= regenerated,
        "the newcomer served {served}, {regenerated} regenerated"
    );
    stack.stop().await;
}
