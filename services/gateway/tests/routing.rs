//! Routing end to end: several deployments of one route on a real mock-upstream (one model
//! name per deployment, faults injected per model), real NATS JetStream and Postgres.

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_events::UsageOutcome;
use tollgate_mock_upstream::{Fault, MockConfig};
use tollgate_testkit::{Stack, TenantKey, sse_data};

/// Two deployments of `routed`: `a` (mock-a, preferred) and `b` (mock-b, fallback, dearer).
fn two_deployments(route_settings: &str, breaker: &str) -> String {
    format!(
        r#"
[[models]]
name = "routed"
aliases = ["routed-alias"]
strategy = "priority"
{route_settings}
[[models.deployments]]
name = "a"
provider = "mock"
upstream_model = "mock-a"
priority = 0
input_per_million = "1.00"
output_per_million = "2.00"
[[models.deployments]]
name = "b"
provider = "mock"
upstream_model = "mock-b"
priority = 1
input_per_million = "3.00"
output_per_million = "6.00"
[routing.breaker]
{breaker}
"#
    )
}

/// The two-deployment stack with `fault` injected into `a`'s model, and a funded tenant.
async fn two_deployments_failing_a(
    route_settings: &str,
    breaker: &str,
    fault: Fault,
) -> (Stack, TenantKey) {
    let stack = Stack::start_routed(
        MockConfig::default(),
        &two_deployments(route_settings, breaker),
    )
    .await;
    stack.faults.set("mock-a", fault);
    let tenant = funded(&stack).await;
    (stack, tenant)
}

fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "Route me somewhere good."}]})
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn chat_via(
    stack: &Stack,
    url: &str,
    key: &str,
    body: &Value,
    route: Option<&str>,
) -> reqwest::Response {
    let mut request = stack
        .http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(body);
    if let Some(route) = route {
        request = request.header("x-tollgate-route", route);
    }
    request.send().await.unwrap()
}

async fn health(stack: &Stack) -> Vec<Value> {
    let response = stack
        .admin(reqwest::Method::GET, "/api/v1/providers/health")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

fn deployment<'a>(health: &'a [Value], name: &str) -> &'a Value {
    health.iter().find(|d| d["deployment"] == name).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn funded(stack: &Stack) -> TenantKey {
    stack.funded_tenant(json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_500s_serves_from_the_next_deployment_and_bills_only_its_answer() {
    let (stack, tenant) = two_deployments_failing_a(
        "backoff_base_ms = 10",
        "",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    )
    .await;
    let response = stack.chat(&tenant.key, &ask("routed")).await;
    assert_eq!(response.status(), 200);
    let cost_header = dec(&header(&response, "x-tollgate-cost"));
    let body: Value = response.json().await.unwrap();
    let prompt = body["usage"]["prompt_tokens"].as_u64().unwrap();
    let completion = body["usage"]["completion_tokens"].as_u64().unwrap();

    // a: the first attempt and one retry; then b.
    assert_eq!(stack.mock.requests_for("mock-a"), 2);
    assert_eq!(stack.mock.requests_for("mock-b"), 1);
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1, "one request, one event");
    let event = &events[0];
    assert_eq!(event.outcome, UsageOutcome::Success);
    assert_eq!(event.deployment, "b");
    assert_eq!(event.model_served, "mock-b");
    assert_eq!(event.attempts, 3);
    let log: Vec<(&str, Option<u16>, Option<&str>)> = event
        .attempt_log
        .iter()
        .map(|a| (a.deployment.as_str(), a.status, a.error.as_deref()))
        .collect();
    assert_eq!(
        log,
        [
            ("a", Some(500), Some("status_500")),
            ("a", Some(500), Some("status_500")),
            ("b", Some(200), None)
        ]
    );
    // Billed once, at b's price, for b's tokens.
    let expected = (Decimal::from(prompt) * dec("3.00") + Decimal::from(completion) * dec("6.00"))
        / dec("1000000");
    assert_eq!(event.cost_usd, expected);
    assert_eq!(cost_header, expected);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_a_timeout() {
    let (stack, tenant) = two_deployments_failing_a(
        "attempt_timeout_ms = 300\nretries_per_deployment = 0",
        "",
        Fault {
            latency_ms: Some(3_000),
            ..Fault::default()
        },
    )
    .await;
    let response = stack.chat(&tenant.key, &ask("routed")).await;
    assert_eq!(response.status(), 200);
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    let log: Vec<(&str, Option<&str>)> = events[0]
        .attempt_log
        .iter()
        .map(|a| (a.deployment.as_str(), a.error.as_deref()))
        .collect();
    assert_eq!(log, [("a", Some("timeout")), ("b", None)]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_fails_over_at_once_and_the_deployment_cools_down_for_its_retry_after() {
    let (stack, tenant) = two_deployments_failing_a(
        "",
        "",
        Fault {
            status: Some(429),
            retry_after_secs: Some(30),
            ..Fault::default()
        },
    )
    .await;
    let first = stack.chat(&tenant.key, &ask("routed")).await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        stack.mock.requests_for("mock-a"),
        1,
        "no retry on a rate-limited deployment when another can answer"
    );
    // While a cools down, requests go straight to b.
    let second = stack.chat(&tenant.key, &ask("routed")).await;
    assert_eq!(second.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-a"), 1);
    assert_eq!(stack.mock.requests_for("mock-b"), 2);
    let h = health(&stack).await;
    let cooldown = deployment(&h, "a")["cooldown_ms"].as_u64().unwrap();
    assert!(cooldown > 20_000 && cooldown <= 30_000, "{cooldown}");
    let events = stack.usage_events(tenant.tenant_id, 2).await;
    assert_eq!(events[0].attempts, 2);
    assert_eq!(
        events[0].attempt_log[0].error.as_deref(),
        Some("rate_limited")
    );
    assert_eq!(events[1].attempts, 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_after_consecutive_failures_and_closes_after_recovery() {
    let (stack, tenant) = two_deployments_failing_a(
        "retries_per_deployment = 0",
        "consecutive_failures = 3\ncooldown_ms = 400",
        Fault {
            status: Some(503),
            ..Fault::default()
        },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(stack.chat(&tenant.key, &ask("routed")).await.status(), 200);
    }
    assert_eq!(stack.mock.requests_for("mock-a"), 3);
    let h = health(&stack).await;
    assert_eq!(deployment(&h, "a")["state"], "open");
    assert_eq!(deployment(&h, "a")["times_opened"], 1);
    assert_eq!(deployment(&h, "b")["state"], "closed");

    // Open: a is not tried at all.
    for _ in 0..3 {
        assert_eq!(stack.chat(&tenant.key, &ask("routed")).await.status(), 200);
    }
    assert_eq!(stack.mock.requests_for("mock-a"), 3);
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains(r#"tollgate_deployment_breaker_state{deployment="a"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tollgate_deployment_attempts_total{deployment="a",outcome="error"} 3"#)
    );

    // a recovers; after the cooldown one probe goes through and closes the breaker.
    stack.faults.clear("mock-a");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deployment(&health(&stack).await, "a")["state"], "half_open");
    assert_eq!(stack.chat(&tenant.key, &ask("routed")).await.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-a"), 4);
    assert_eq!(deployment(&health(&stack).await, "a")["state"], "closed");
    assert_eq!(stack.chat(&tenant.key, &ask("routed")).await.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-a"), 5, "a serves again");

    // The health read is for the operator only.
    let tenant_read = stack
        .http
        .get(format!("{}/api/v1/providers/health", stack.url))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .unwrap();
    assert_eq!(tenant_read.status(), 401);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_split_stays_within_tolerance_over_1000_requests() {
    let extra = r#"
[[models]]
name = "split"
strategy = "weighted"
[[models.deployments]]
name = "one-share"
provider = "mock"
upstream_model = "mock-w1"
weight = 1
input_per_million = "1"
output_per_million = "1"
[[models.deployments]]
name = "three-shares"
provider = "mock"
upstream_model = "mock-w3"
weight = 3
input_per_million = "1"
output_per_million = "1"
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let tenant = funded(&stack).await;
    let body = ask("split");
    let mut pending = futures_util::stream::FuturesUnordered::new();
    use futures_util::StreamExt;
    let mut sent = 0;
    let mut ok = 0;
    while sent < 1000 || !pending.is_empty() {
        while sent < 1000 && pending.len() < 16 {
            pending.push(stack.chat(&tenant.key, &body));
            sent += 1;
        }
        if let Some(response) = pending.next().await {
            assert_eq!(response.status(), 200);
            ok += 1;
        }
    }
    assert_eq!(ok, 1000);
    let one = stack.mock.requests_for("mock-w1");
    let three = stack.mock.requests_for("mock-w3");
    assert_eq!(one + three, 1000);
    // Expected 250; binomial sd ~13.7, so +-60 is more than 4 sd.
    assert!((190..=310).contains(&one), "one-share got {one} of 1000");
    drop(pending);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_strategy_picks_the_cheaper_deployment_and_bills_its_price() {
    let extra = r#"
[[models]]
name = "thrifty"
strategy = "cost"
[[models.deployments]]
name = "dear"
provider = "mock"
upstream_model = "mock-dear"
input_per_million = "5.00"
output_per_million = "15.00"
[[models.deployments]]
name = "cheap"
provider = "mock"
upstream_model = "mock-cheap"
input_per_million = "0.50"
output_per_million = "1.50"
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let tenant = funded(&stack).await;
    for _ in 0..10 {
        assert_eq!(stack.chat(&tenant.key, &ask("thrifty")).await.status(), 200);
    }
    assert_eq!(stack.mock.requests_for("mock-cheap"), 10);
    assert_eq!(stack.mock.requests_for("mock-dear"), 0);
    let events = stack.usage_events(tenant.tenant_id, 10).await;
    for e in &events {
        assert_eq!(e.deployment, "cheap");
        let expected = (Decimal::from(e.prompt_tokens) * dec("0.50")
            + Decimal::from(e.completion_tokens) * dec("1.50"))
            / dec("1000000");
        assert_eq!(e.cost_usd, expected);
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_strategy_moves_traffic_away_from_a_slowed_deployment() {
    let extra = r#"
[[models]]
name = "quick"
strategy = "latency"
[[models.deployments]]
name = "l1"
provider = "mock"
upstream_model = "mock-l1"
input_per_million = "1"
output_per_million = "1"
[[models.deployments]]
name = "l2"
provider = "mock"
upstream_model = "mock-l2"
input_per_million = "1"
output_per_million = "1"
[[models.deployments]]
name = "l3"
provider = "mock"
upstream_model = "mock-l3"
input_per_million = "1"
output_per_million = "1"
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let tenant = funded(&stack).await;
    // Warm up: every deployment gets fast samples (l1 explicitly, the rest by the strategy).
    for _ in 0..20 {
        assert_eq!(stack.chat(&tenant.key, &ask("quick")).await.status(), 200);
    }
    for _ in 0..3 {
        let r = chat_via(&stack, &stack.url, &tenant.key, &ask("quick"), Some("l1")).await;
        assert_eq!(r.status(), 200);
    }
    // l1 slows down; one request meets the slowdown.
    stack.faults.set(
        "mock-l1",
        Fault {
            latency_ms: Some(250),
            ..Fault::default()
        },
    );
    let r = chat_via(&stack, &stack.url, &tenant.key, &ask("quick"), Some("l1")).await;
    assert_eq!(r.status(), 200);
    let discovered = stack.mock.requests_for("mock-l1");
    for _ in 0..40 {
        assert_eq!(stack.chat(&tenant.key, &ask("quick")).await.status(), 200);
    }
    assert_eq!(
        stack.mock.requests_for("mock-l1"),
        discovered,
        "no traffic to the slow deployment"
    );
    let h = health(&stack).await;
    assert!(deployment(&h, "l1")["latency_ms"].as_f64().unwrap() > 100.0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_once_a_stream_has_started() {
    // The first event goes out at once; the connection breaks 100 ms later, mid-answer.
    let (stack, tenant) = two_deployments_failing_a(
        "",
        "",
        Fault {
            ttft_ms: Some(100),
            break_stream_after: Some(3),
            ..Fault::default()
        },
    )
    .await;
    let mut body = ask("routed");
    body["stream"] = json!(true);
    let response = stack.chat(&tenant.key, &body).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let data = sse_data(&text);
    assert!(data.iter().any(|d| d.contains("upstream_failed")), "{text}");
    assert!(!data.iter().any(|d| d == "[DONE]"));
    assert_eq!(stack.mock.requests_for("mock-a"), 1);
    assert_eq!(
        stack.mock.requests_for("mock-b"),
        0,
        "never retried after bytes reached the client"
    );
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events[0].attempts, 1);
    assert_eq!(events[0].outcome, UsageOutcome::UpstreamError);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_breaks_before_its_first_byte_is_retried_elsewhere() {
    let (stack, tenant) = two_deployments_failing_a(
        "retries_per_deployment = 0",
        "",
        Fault {
            break_stream_after: Some(0),
            ..Fault::default()
        },
    )
    .await;
    let mut body = ask("routed");
    body["stream"] = json!(true);
    let response = stack.chat(&tenant.key, &body).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(sse_data(&text).iter().any(|d| d == "[DONE]"), "{text}");
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events[0].outcome, UsageOutcome::Success);
    assert_eq!(events[0].deployment, "b");
    assert_eq!(
        events[0].attempt_log[0].error.as_deref(),
        Some("stream_broken")
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_header_and_provider_preference_narrow_the_choice() {
    let stack = Stack::start_routed(MockConfig::default(), &two_deployments("", "")).await;
    let tenant = funded(&stack).await;
    let response = chat_via(&stack, &stack.url, &tenant.key, &ask("routed"), Some("b")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-b"), 1);
    assert_eq!(stack.mock.requests_for("mock-a"), 0);

    let mut body = ask("routed");
    body["provider_preference"] = json!(["nowhere"]);
    let refused = stack.chat(&tenant.key, &body).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "no_matching_deployment");
    let sent = stack.mock.last_request().unwrap();
    assert!(sent.body.get("provider_preference").is_none());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_and_per_tenant_overrides_resolve_to_their_routes() {
    let mut stack = Stack::start_routed(MockConfig::default(), &two_deployments("", "")).await;
    let tenant = funded(&stack).await;
    let other = funded(&stack).await;
    let response = stack.chat(&tenant.key, &ask("routed-alias")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-a"), 1);
    let models: Value = stack
        .http
        .get(format!("{}/v1/models", stack.url))
        .bearer_auth(&tenant.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"routed-alias") && ids.contains(&"routed"),
        "{ids:?}"
    );

    // A gateway where this tenant's `demo-small` is served by the `routed` route.
    let mut config = stack.config.clone();
    config
        .routing
        .tenant_routes
        .insert((tenant.tenant_id, "demo-small".into()), "routed".into());
    let url = stack.start_gateway(config).await;
    assert_eq!(
        chat_via(&stack, &url, &tenant.key, &ask("demo-small"), None)
            .await
            .status(),
        200
    );
    assert_eq!(stack.mock.requests_for("mock-a"), 2);
    assert_eq!(stack.mock.requests_for("mock-small"), 0);
    // Other tenants keep the normal route.
    assert_eq!(
        chat_via(&stack, &url, &other.key, &ask("demo-small"), None)
            .await
            .status(),
        200
    );
    assert_eq!(stack.mock.requests_for("mock-small"), 1);
    stack.stop().await;
}

/// The model names a key's `/v1/models` lists on the gateway at `url`.
async fn listed_models(stack: &Stack, url: &str, key: &str) -> Vec<String> {
    let models: Value = stack
        .http
        .get(format!("{url}/v1/models"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_route_serves_only_the_tenant_it_overrides_for() {
    let mut stack = Stack::start_routed(MockConfig::default(), &two_deployments("", "")).await;
    let owner = funded(&stack).await;
    let other = funded(&stack).await;
    let mut config = stack.config.clone();
    config
        .routing
        .tenant_routes
        .insert((owner.tenant_id, "owner-model".into()), "routed".into());
    for route in &mut config.routes {
        route.private = route.name == "routed";
    }
    let url = stack.start_gateway(config).await;

    // The owner reaches it under the overridden name, and sees that name listed.
    let answered = chat_via(&stack, &url, &owner.key, &ask("owner-model"), None).await;
    assert_eq!(answered.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-a"), 1);
    let owners = listed_models(&stack, &url, &owner.key).await;
    assert!(owners.contains(&"owner-model".to_owned()), "{owners:?}");

    // Nobody reaches it by its own name or alias, and nobody else sees it or the override.
    for (key, model) in [
        (&other.key, "routed"),
        (&other.key, "routed-alias"),
        (&other.key, "owner-model"),
        (&owner.key, "routed"),
    ] {
        let refused = chat_via(&stack, &url, key, &ask(model), None).await;
        assert_eq!(refused.status(), 404, "{model}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "model_not_found", "{error}");
    }
    assert_eq!(stack.mock.requests_for("mock-a"), 1);
    let others = listed_models(&stack, &url, &other.key).await;
    for hidden in ["routed", "routed-alias", "owner-model"] {
        assert!(!others.iter().any(|m| m == hidden), "{others:?}");
    }
    assert!(others.contains(&"demo-small".to_owned()), "{others:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_keys_rotate_and_a_capped_key_sends_traffic_to_the_fallback() {
    let extra = r#"
[[models]]
name = "keyed"
[[models.deployments]]
name = "rotating"
provider = "mock"
upstream_model = "mock-keys"
input_per_million = "1"
output_per_million = "1"
keys = [{ key = "sk-one", rpm = 1 }, { key = "sk-two", rpm = 1 }]
[[models.deployments]]
name = "spare"
provider = "mock"
upstream_model = "mock-spare"
priority = 1
input_per_million = "1"
output_per_million = "1"
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let tenant = funded(&stack).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        assert_eq!(stack.chat(&tenant.key, &ask("keyed")).await.status(), 200);
        seen.push(stack.mock.last_request().unwrap().authorization.unwrap());
    }
    seen.sort();
    assert_eq!(seen, ["Bearer sk-one", "Bearer sk-two"]);
    // Both keys are at their one request per minute: the spare deployment answers.
    assert_eq!(stack.chat(&tenant.key, &ask("keyed")).await.status(), 200);
    assert_eq!(stack.mock.requests_for("mock-spare"), 1);
    assert_eq!(stack.mock.requests_for("mock-keys"), 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_deployments_use_the_path_api_version_and_api_key_header() {
    let extra = r#"
[[providers]]
name = "azure-eu"
kind = "azure"
base_url = "{mock}"
api_version = "2024-06-01"
api_key = "az-secret"
[[models]]
name = "azure-4o"
provider = "azure-eu"
upstream_model = "gpt4o-prod"
input_per_million = "2.50"
output_per_million = "10.00"
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let tenant = funded(&stack).await;
    let response = stack.chat(&tenant.key, &ask("azure-4o")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-tollgate-provider"), "azure-eu");
    let sent = stack.mock.last_request().unwrap();
    assert_eq!(sent.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(sent.query, "api-version=2024-06-01");
    assert_eq!(sent.api_key.as_deref(), Some("az-secret"));
    assert_eq!(
        sent.authorization, None,
        "Azure keys go in api-key, not Authorization"
    );
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events[0].provider, "azure-eu");
    assert!(events[0].cost_usd > Decimal::ZERO);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_breaker_open_answers_503_without_calling_upstream() {
    let extra = r#"
[[models]]
name = "lonely"
retries_per_deployment = 0
[[models.deployments]]
name = "only"
provider = "mock"
upstream_model = "mock-only"
input_per_million = "1"
output_per_million = "1"
[routing.breaker]
consecutive_failures = 2
cooldown_ms = 60000
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    stack.faults.set(
        "mock-only",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let tenant = funded(&stack).await;
    for _ in 0..2 {
        assert_eq!(stack.chat(&tenant.key, &ask("lonely")).await.status(), 502);
    }
    let refused = stack.chat(&tenant.key, &ask("lonely")).await;
    assert_eq!(refused.status(), 503);
    let error: Value = refused.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no deployment of 'lonely' is available"),
        "{error}"
    );
    assert_eq!(stack.mock.requests_for("mock-only"), 2);
    let events = stack.usage_events(tenant.tenant_id, 3).await;
    assert_eq!(events[2].attempts, 0);
    assert_eq!(events[2].http_status, 503);
    assert_eq!(events[2].cost_usd, Decimal::ZERO);
    stack.stop().await;
}

/// Polls the health read until `check` holds for deployment `name` (at most 10 s).
async fn wait_for_health(stack: &Stack, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let h = health(stack).await;
        let d = deployment(&h, name).clone();
        if check(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deployment {name} never reached the expected state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_probes_reopen_on_failure_and_close_a_recovered_breaker_without_client_traffic() {
    let settings = format!(
        "{}\n[routing]\nprobe_interval_ms = 100\n",
        two_deployments(
            "retries_per_deployment = 0",
            "consecutive_failures = 2\ncooldown_ms = 300"
        )
    );
    let stack = Stack::start_routed(MockConfig::default(), &settings).await;
    stack.faults.set(
        "mock-a",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let tenant = funded(&stack).await;
    for _ in 0..2 {
        assert_eq!(stack.chat(&tenant.key, &ask("routed")).await.status(), 200);
    }
    assert_eq!(deployment(&health(&stack).await, "a")["state"], "open");
    // A probe meets the failure: the breaker opens again.
    wait_for_health(&stack, "a", |d| d["times_opened"].as_u64() >= Some(2)).await;
    assert!(stack.mock.requests_for("mock-a") >= 3);
    // The deployment recovers; with no client traffic at all, a probe closes the breaker.
    stack.faults.clear("mock-a");
    wait_for_health(&stack, "a", |d| d["state"] == "closed").await;
    let probe = stack.mock.last_request().unwrap();
    assert_eq!(probe.body["max_tokens"], 1);
    assert_eq!(probe.body["model"], "mock-a");
    // Probes are billed to no tenant: only the two client requests have events.
    assert_eq!(stack.usage_events(tenant.tenant_id, 2).await.len(), 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_error_fails_over_to_the_next_provider() {
    // A provider on a port nothing listens on (bound and dropped, so the port is free).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let extra = format!(
        r#"
[[providers]]
name = "gone"
base_url = "http://{closed}/v1"
[[models]]
name = "resilient"
retries_per_deployment = 0
backoff_base_ms = 1
[[models.deployments]]
name = "unreachable"
provider = "gone"
upstream_model = "mock-x"
input_per_million = "1"
output_per_million = "1"
[[models.deployments]]
name = "reachable"
provider = "mock"
upstream_model = "mock-y"
priority = 1
input_per_million = "1"
output_per_million = "1"
"#
    );
    let stack = Stack::start_routed(MockConfig::default(), &extra).await;
    let tenant = funded(&stack).await;
    let response = stack.chat(&tenant.key, &ask("resilient")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-tollgate-provider"), "mock");
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    let log: Vec<(&str, Option<u16>, Option<&str>)> = events[0]
        .attempt_log
        .iter()
        .map(|a| (a.deployment.as_str(), a.status, a.error.as_deref()))
        .collect();
    assert_eq!(
        log,
        [
            ("unreachable", None, Some("connect_error")),
            ("reachable", Some(200), None)
        ]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_deadline_bounds_retries_and_answers_504() {
    let (stack, tenant) = two_deployments_failing_a(
        "timeout_ms = 500\nretries_per_deployment = 5\nmax_attempts = 10",
        "",
        Fault {
            latency_ms: Some(5_000),
            ..Fault::default()
        },
    )
    .await;
    // b is slow too: nothing can answer within the 500 ms deadline.
    stack.faults.set(
        "mock-b",
        Fault {
            latency_ms: Some(5_000),
            ..Fault::default()
        },
    );
    let response = stack.chat(&tenant.key, &ask("routed")).await;
    assert_eq!(response.status(), 504);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "upstream_error");
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    let e = &events[0];
    assert_eq!(e.http_status, 504);
    assert_eq!(e.cost_usd, Decimal::ZERO);
    // The first attempt used the whole deadline: no further attempt was started.
    assert_eq!(e.attempts, 1, "{:?}", e.attempt_log);
    assert_eq!(e.attempt_log[0].error.as_deref(), Some("timeout"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routes_output_ceiling_refuses_max_tokens_times_n_beyond_it() {
    let extra = r#"
[[models]]
name = "ceilinged"
provider = "mock"
upstream_model = "mock-ceiling"
input_per_million = "1"
output_per_million = "1"
max_output_tokens = 100
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let tenant = funded(&stack).await;
    let body = |max_tokens: Option<u32>, n: u32| {
        let mut body =
            json!({"model": "ceilinged", "n": n, "messages": [{"role": "user", "content": "x"}]});
        if let Some(max) = max_tokens {
            body["max_tokens"] = json!(max);
        }
        body
    };
    assert_eq!(
        stack.chat(&tenant.key, &body(Some(100), 1)).await.status(),
        200
    );
    for (max_tokens, n) in [(Some(60), 2), (Some(101), 1), (None, 2)] {
        let refused = stack.chat(&tenant.key, &body(max_tokens, n)).await;
        assert_eq!(refused.status(), 400, "{max_tokens:?} x {n}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "output_too_large", "{error}");
        assert_eq!(error["error"]["param"], "max_tokens", "{error}");
    }
    assert_eq!(stack.mock.requests_for("mock-ceiling"), 1);
    // Without a limit, the gateway's default (1024) is lowered to the ceiling and sent upstream.
    assert_eq!(stack.chat(&tenant.key, &body(None, 1)).await.status(), 200);
    assert_eq!(stack.mock.last_request().unwrap().body["max_tokens"], 100);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_then_the_routes_output_default_is_sent_upstream_and_both_ceilings_hold() {
    let extra = r#"
[[models]]
name = "defaulted"
provider = "mock"
upstream_model = "mock-defaulted"
input_per_million = "1"
output_per_million = "1"
default_max_tokens = 30
max_output_tokens = 1000
"#;
    let stack = Stack::start_routed(MockConfig::default(), extra).await;
    let plain = funded(&stack).await;
    let capped = stack
        .funded_tenant(json!({"default_max_tokens": 12, "max_output_tokens": 40}))
        .await;
    let body = |max_tokens: Option<u32>, n: u32| {
        let mut body =
            json!({"model": "defaulted", "n": n, "messages": [{"role": "user", "content": "x"}]});
        if let Some(max) = max_tokens {
            body["max_tokens"] = json!(max);
        }
        body
    };
    // No limit in the request: the route's default goes upstream, then the key's.
    assert_eq!(stack.chat(&plain.key, &body(None, 1)).await.status(), 200);
    assert_eq!(stack.mock.last_request().unwrap().body["max_tokens"], 30);
    assert_eq!(stack.chat(&capped.key, &body(None, 3)).await.status(), 200);
    assert_eq!(stack.mock.last_request().unwrap().body["max_tokens"], 12);
    // The key's ceiling (40) holds below the route's (1000), the route's for the other key.
    for (max_tokens, n) in [(Some(41), 1), (Some(20), 3), (None, 4)] {
        let refused = stack.chat(&capped.key, &body(max_tokens, n)).await;
        assert_eq!(refused.status(), 400, "{max_tokens:?} x {n}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "output_too_large", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("than the 40 this API key allows"),
            "{message}"
        );
    }
    assert_eq!(
        stack.chat(&plain.key, &body(Some(500), 2)).await.status(),
        200
    );
    let refused = stack.chat(&plain.key, &body(Some(501), 2)).await;
    assert_eq!(refused.status(), 400);
    // A default above the key's ceiling is capped to it (not a refusal of every request).
    let high = stack
        .funded_tenant(json!({"default_max_tokens": 500, "max_output_tokens": 20}))
        .await;
    assert_eq!(stack.chat(&high.key, &body(None, 1)).await.status(), 200);
    assert_eq!(stack.mock.last_request().unwrap().body["max_tokens"], 20);
    // The key's settings change through PATCH and apply at once.
    let changed = stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/keys/{}", capped.key_id),
        )
        .json(&json!({"max_output_tokens": null, "default_max_tokens": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(stack.chat(&capped.key, &body(None, 1)).await.status(), 200);
    assert_eq!(stack.mock.last_request().unwrap().body["max_tokens"], 5);
    assert_eq!(
        stack.chat(&capped.key, &body(Some(41), 1)).await.status(),
        200
    );
    stack.stop().await;
}
