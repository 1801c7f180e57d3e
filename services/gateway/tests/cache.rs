//! The response cache through the whole gateway: the real model, embedded Qdrant, NATS,
//! Postgres and the ledger. Exact and semantic hits, tenant isolation, near misses, streams,
//! failures, TTL, purge, restarts, per-request headers and the policy's exclusions.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_mock_upstream::{Fault, MockConfig};
use tollgate_testkit::{Stack, TenantKey, cache_toml, run_python_script, sse_data};

async fn cached_stack() -> Stack {
    Stack::start_routed(MockConfig::default(), &cache_toml()).await
}

fn ask(prompt: &str) -> Value {
    json!({"model": "demo-small", "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": prompt}]})
}

/// Sends `body` with `key` (and `header` if given); the `x-tollgate-cache` answer and the body.
async fn send(stack: &Stack, key: &str, body: &Value, header: Option<&str>) -> (String, Value) {
    let mut request = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(key)
        .json(body);
    if let Some(value) = header {
        request = request.header("x-tollgate-cache", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers()["x-tollgate-cache"]
        .to_str()
        .unwrap()
        .to_owned();
    (cache, response.json().await.unwrap())
}

fn upstream_calls(stack: &Stack) -> u64 {
    stack.mock.requests_for("mock-small")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_hit_is_billed_at_the_cache_price_and_never_crosses_tenants() {
    let stack = cached_stack().await;
    let a = stack.funded_tenant(json!({"cache": "exact"})).await;
    let b = stack.funded_tenant(json!({"cache": "exact"})).await;
    let body = ask("What is a billing gateway?");

    let (first, answer) = send(&stack, &a.key, &body, None).await;
    assert_eq!(first, "miss");
    stack.wait_cache_stores(1).await;
    let response = stack.chat(&a.key, &body).await;
    assert_eq!(response.headers()["x-tollgate-cache"], "exact");
    assert_eq!(response.headers()["x-tollgate-provider"], "cache");
    assert_eq!(response.headers()["x-tollgate-cost"], "0");
    let hit: Value = response.json().await.unwrap();
    assert_eq!(
        hit["choices"][0]["message"]["content"],
        answer["choices"][0]["message"]["content"]
    );
    assert_ne!(hit["id"], answer["id"], "a hit gets its own completion id");
    assert_eq!(upstream_calls(&stack), 1);

    // The identical request from another tenant is a miss and goes upstream.
    let (other, _) = send(&stack, &b.key, &body, None).await;
    assert_eq!(other, "miss");
    assert_eq!(upstream_calls(&stack), 2);

    let events = stack.usage_events(a.tenant_id, 2).await;
    assert_eq!(events.len(), 2);
    let (miss, hit) = (&events[0], &events[1]);
    assert_eq!(miss.cache, "miss");
    assert!(miss.cache_hit.is_none());
    assert!(miss.cost_usd > Decimal::ZERO);
    assert_eq!(hit.cache, "exact");
    assert_eq!(hit.cost_usd, Decimal::ZERO);
    assert_eq!(hit.provider, "cache");
    assert_eq!(
        (hit.prompt_tokens, hit.completion_tokens),
        (miss.prompt_tokens, miss.completion_tokens)
    );
    let served = hit.cache_hit.as_ref().unwrap();
    assert_eq!(
        served.saved_usd, miss.cost_usd,
        "the hit saved the original cost"
    );
    assert!((served.similarity - 1.0).abs() < f32::EPSILON);
    // The ledger charged the miss only.
    let balance = stack.wait_for_entries(a.tenant_id, 3).await;
    assert_eq!(
        Decimal::from_str(balance["spent_usd"].as_str().unwrap()).unwrap(),
        miss.cost_usd
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paraphrase_hits_near_miss_does_not_and_the_price_is_configurable() {
    let toml = format!("{}hit_price_usd = \"0.0001\"\n", cache_toml());
    let stack = Stack::start_routed(MockConfig::default(), &toml).await;
    let t = stack.funded_tenant(json!({"cache": "semantic"})).await;

    send(&stack, &t.key, &ask("How do I reset my password?"), None).await;
    send(&stack, &t.key, &ask("convert 5 miles to km"), None).await;
    stack.wait_cache_stores(2).await;

    let response = stack
        .chat(&t.key, &ask("I forgot my password, how can I reset it?"))
        .await;
    assert_eq!(response.headers()["x-tollgate-cache"], "semantic");
    assert_eq!(response.headers()["x-tollgate-cost"], "0.0001");
    let (near_miss, _) = send(&stack, &t.key, &ask("convert 6 miles to km"), None).await;
    assert_eq!(
        near_miss, "miss",
        "a different number is a different question"
    );
    assert_eq!(upstream_calls(&stack), 3);

    let events = stack.usage_events(t.tenant_id, 4).await;
    let hit = events.iter().find(|e| e.cache == "semantic").unwrap();
    let served = hit.cache_hit.as_ref().unwrap();
    assert!(
        served.similarity >= 0.75 && served.similarity < 1.0,
        "{}",
        served.similarity
    );
    assert_eq!(hit.cost_usd, Decimal::from_str("0.0001").unwrap());
    assert!(
        stack
            .metrics()
            .await
            .contains("tollgate_cache_lookups_total{outcome=\"semantic\"} 1")
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_stream_is_stored_and_a_hit_replays_as_a_stream() {
    let stack = cached_stack().await;
    let t = stack.funded_tenant(json!({"cache": "exact"})).await;
    let mut body = ask("Describe streaming in one line.");
    body["stream"] = json!(true);

    let first = stack.chat(&t.key, &body).await;
    assert_eq!(first.headers()["x-tollgate-cache"], "miss");
    let streamed = content_of(&first.text().await.unwrap());
    stack.wait_cache_stores(1).await;

    let replay = stack.chat(&t.key, &body).await;
    assert_eq!(replay.headers()["x-tollgate-cache"], "exact");
    assert_eq!(replay.headers()["content-type"], "text/event-stream");
    let text = replay.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(
        chunks[chunks.len() - 1]["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(content_of(&text), streamed);

    // The same question unstreamed is the same entry.
    body["stream"] = json!(false);
    let (plain, answer) = send(&stack, &t.key, &body, None).await;
    assert_eq!(plain, "exact");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        streamed.as_str()
    );
    assert_eq!(upstream_calls(&stack), 1);

    // The official SDK reads the replayed stream.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cache_sdk.py");
    let stdout = run_python_script(script, &stack.url, &t.key, "openai").await;
    assert!(stdout.contains("cache-sdk ok"), "{stdout}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_messages_hits_are_served_in_anthropic_form_plain_and_streamed() {
    let stack = cached_stack().await;
    let t = stack.funded_tenant(json!({"cache": "exact"})).await;
    let mut body = json!({"model": "demo-small", "max_tokens": 60, "system": "Answer briefly.",
        "messages": [{"role": "user", "content": "What does an Anthropic client see on a hit?"}]});
    let messages = |body: &Value| {
        stack
            .http
            .post(format!("{}/v1/messages", stack.url))
            .header("x-api-key", &t.key)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
    };

    let first = messages(&body).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-tollgate-cache"], "miss");
    let original: Value = first.json().await.unwrap();
    let text = original["content"][0]["text"].as_str().unwrap().to_owned();
    stack.wait_cache_stores(1).await;

    let hit = messages(&body).await.unwrap();
    assert_eq!(hit.headers()["x-tollgate-cache"], "exact");
    assert_eq!(hit.headers()["x-tollgate-cost"], "0");
    let answer: Value = hit.json().await.unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["content"][0]["text"], text.as_str());
    assert_eq!(answer["stop_reason"], original["stop_reason"]);
    assert_eq!(
        answer["usage"]["output_tokens"],
        original["usage"]["output_tokens"]
    );

    body["stream"] = json!(true);
    let streamed = messages(&body).await.unwrap();
    assert_eq!(streamed.headers()["x-tollgate-cache"], "exact");
    let events: Vec<Value> = sse_data(&streamed.text().await.unwrap())
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    assert!(kinds.contains(&"content_block_start") && kinds.contains(&"message_delta"));
    let replayed: String = events
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(replayed, text);
    assert_eq!(upstream_calls(&stack), 1);

    let usage = stack.usage_events(t.tenant_id, 3).await;
    assert!(usage.iter().all(|e| e.endpoint == "/v1/messages"));
    assert_eq!(usage.iter().filter(|e| e.cache == "exact").count(), 2);
    stack.stop().await;
}

fn content_of(sse: &str) -> String {
    sse_data(sse)
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_broken_answers_are_never_stored() {
    let stack = cached_stack().await;
    let t = stack.funded_tenant(json!({"cache": "exact"})).await;
    let body = ask("Will this fail?");
    stack.faults.set(
        "mock-small",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let failed = stack.chat(&t.key, &body).await;
    assert!(failed.status().is_server_error());

    let mut streamed = ask("Will this stream break?");
    streamed["stream"] = json!(true);
    stack.faults.set(
        "mock-small",
        Fault {
            break_stream_after: Some(3),
            ..Fault::default()
        },
    );
    let broken = stack.chat(&t.key, &streamed).await;
    let _ = broken.text().await;
    stack.faults.clear("mock-small");

    // Give a (wrong) background store time to land: none did.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !stack
            .metrics()
            .await
            .contains("tollgate_cache_stores_total")
    );
    let (plain, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(plain, "miss");
    let again = stack.chat(&t.key, &streamed).await;
    assert_eq!(again.headers()["x-tollgate-cache"], "miss");
    let _ = again.text().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_purge_and_the_request_headers() {
    let stack = cached_stack().await;
    let short = stack
        .funded_tenant(json!({"cache": "exact", "cache_ttl_seconds": 1}))
        .await;
    let t = stack.funded_tenant(json!({"cache": "exact"})).await;
    let body = ask("How long do answers live?");

    // TTL: served within the second, not after it.
    send(&stack, &short.key, &body, None).await;
    stack.wait_cache_stores(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (expired, _) = send(&stack, &short.key, &body, None).await;
    assert_eq!(expired, "miss");
    stack.wait_cache_stores(2).await;

    // off: no lookup and nothing stored; refresh: upstream again and re-stored.
    let (off, _) = send(&stack, &t.key, &body, Some("off")).await;
    assert_eq!(off, "miss");
    let (first, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(first, "miss", "'off' stored nothing");
    stack.wait_cache_stores(3).await;
    let (hit, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(hit, "exact");
    let before = upstream_calls(&stack);
    let (refreshed, _) = send(&stack, &t.key, &body, Some("refresh")).await;
    assert_eq!(refreshed, "miss");
    assert_eq!(upstream_calls(&stack), before + 1);
    let bad = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(&t.key)
        .header("x-tollgate-cache", "sometimes")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_header");

    // Purge: another tenant's key gets 404 and purges nothing; the tenant's own key purges.
    let path = format!("/api/v1/tenants/{}/cache", t.tenant_id);
    let foreign = stack
        .http
        .delete(format!("{}{path}", stack.url))
        .bearer_auth(&short.key)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    let (still, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(still, "exact");
    let own = stack
        .http
        .delete(format!("{}{path}", stack.url))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 204);
    let (purged, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(purged, "miss");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_tier_skips_several_choices_tools_and_hot_temperatures_unless_the_key_allows() {
    let stack = cached_stack().await;
    let strict = stack.funded_tenant(json!({"cache": "semantic"})).await;
    let lenient = stack
        .funded_tenant(json!({"cache": "semantic", "cache_any_temperature": true}))
        .await;
    for key in [&strict, &lenient] {
        let mut body = ask("How do I reset my password?");
        body["temperature"] = json!(1.5);
        send(&stack, &key.key, &body, None).await;
    }
    stack.wait_cache_stores(2).await;
    let mut paraphrase = ask("I forgot my password, how can I reset it?");
    paraphrase["temperature"] = json!(1.5);
    let (strict_answer, _) = send(&stack, &strict.key, &paraphrase, None).await;
    assert_eq!(
        strict_answer, "miss",
        "temperature 1.5 is above the 0.7 cutoff"
    );
    let (lenient_answer, _) = send(&stack, &lenient.key, &paraphrase, None).await;
    assert_eq!(lenient_answer, "semantic", "the key allows any temperature");

    // n > 1 and tools: never semantic (the exact tier still answers identical requests).
    let mut several = ask("Name a color.");
    several["n"] = json!(2);
    send(&stack, &lenient.key, &several, None).await;
    stack.wait_cache_stores(4).await;
    let mut several_paraphrase = ask("Name one colour.");
    several_paraphrase["n"] = json!(2);
    let (n2, _) = send(&stack, &lenient.key, &several_paraphrase, None).await;
    assert_eq!(n2, "miss");
    let (identical, _) = send(&stack, &lenient.key, &several, None).await;
    assert_eq!(identical, "exact");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_inherit_the_tenant_policy() {
    let stack = cached_stack().await;
    let t: TenantKey = stack.funded_tenant(json!({})).await;
    let body = ask("Does the tenant policy apply?");
    send(&stack, &t.key, &body, None).await;
    let (off, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(off, "miss", "tenants start with the cache off");

    let patched = stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/tenants/{}", t.tenant_id),
        )
        .json(&json!({"cache": "exact", "cache_ttl_seconds": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let tenant: Value = patched.json().await.unwrap();
    assert_eq!(tenant["cache"], "exact");
    send(&stack, &t.key, &body, None).await;
    stack.wait_cache_stores(1).await;
    let (hit, _) = send(&stack, &t.key, &body, None).await;
    assert_eq!(hit, "exact");

    let bad = stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/tenants/{}", t.tenant_id),
        )
        .json(&json!({"cache": "always"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    stack.stop().await;
}

/// A key's precision mode: `strict` (the default) refuses a stored prompt with one subject word
/// swapped, `balanced` serves it; the mode is set at creation, shown, changed with PATCH and
/// checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_precision_mode_decides_whether_a_swapped_subject_is_served() {
    let stack = cached_stack().await;
    let strict = stack.funded_tenant(json!({"cache": "semantic"})).await;
    let balanced = stack
        .funded_tenant(json!({"cache": "semantic", "cache_precision": "balanced"}))
        .await;
    let (stored, swapped) = (
        ask("Is chocolate bad for dogs?"),
        ask("Is chocolate bad for cats?"),
    );
    for t in [&strict, &balanced] {
        send(&stack, &t.key, &stored, None).await;
    }
    stack.wait_cache_stores(2).await;
    let (strict_answer, _) = send(&stack, &strict.key, &swapped, None).await;
    assert_eq!(
        strict_answer, "miss",
        "strict: another animal, another question"
    );
    let (balanced_answer, _) = send(&stack, &balanced.key, &swapped, None).await;
    assert_eq!(
        balanced_answer, "semantic",
        "balanced lets one swapped word through"
    );

    let key_path = format!("/api/v1/keys/{}", balanced.key_id);
    let patch = |body: Value| {
        stack
            .admin(reqwest::Method::PATCH, &key_path)
            .json(&body)
            .send()
    };
    let bad = patch(json!({"cache_precision": "loose"})).await.unwrap();
    assert_eq!(bad.status(), 400);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["error"]["param"], "cache_precision");
    assert_eq!(
        error["error"]["message"], "'cache_precision' must be 'strict' or 'balanced'",
        "the value is not echoed"
    );
    let patched = patch(json!({"cache_precision": "strict"})).await.unwrap();
    assert_eq!(patched.status(), 200);
    let key: Value = patched.json().await.unwrap();
    assert_eq!(key["cache_precision"], "strict");
    let (now_strict, _) = send(
        &stack,
        &balanced.key,
        &ask("Is chocolate bad for cats?"),
        None,
    )
    .await;
    assert_eq!(
        now_strict, "miss",
        "the change applies at once on this gateway"
    );
    // `null` puts both settings back to their defaults.
    let balanced_again =
        patch(json!({"cache_precision": "balanced", "cache_any_temperature": true}))
            .await
            .unwrap();
    assert_eq!(balanced_again.status(), 200);
    let key: Value = balanced_again.json().await.unwrap();
    assert_eq!(
        (&key["cache_precision"], &key["cache_any_temperature"]),
        (&json!("balanced"), &json!(true))
    );
    let reset = patch(json!({"cache_precision": null, "cache_any_temperature": null}))
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let key: Value = reset.json().await.unwrap();
    assert_eq!(key["cache_precision"], "strict");
    assert_eq!(key["cache_any_temperature"], false);

    let created = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/keys", strict.tenant_id),
        )
        .json(&json!({"name": "a key", "cache_precision": "strict\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 400, "a mode with a NUL is no mode");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_survive_a_gateway_restart() {
    let stack = cached_stack().await;
    let t = stack.funded_tenant(json!({"cache": "semantic"})).await;
    // A second gateway with its own cache directory, stopped and started again.
    let config = second_gateway(&stack);
    let body = ask("What survives a restart?");

    let (url, stop, task) = stack.spawn_gateway(config.clone()).await;
    let first = post(&stack, &url, &t.key, &body).await;
    assert_eq!(first, "miss");
    stack.wait_cache_stores_at(&url, 1).await;
    stop.cancel();
    task.await.unwrap();

    let (url, stop, task) = stack.spawn_gateway(config).await;
    assert_eq!(post(&stack, &url, &t.key, &body).await, "exact");
    let paraphrase = ask("What is it that survives a restart?");
    assert_eq!(post(&stack, &url, &t.key, &paraphrase).await, "semantic");
    stop.cancel();
    task.await.unwrap();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_and_tenant_changes_reach_another_gateway_within_seconds() {
    let stack = cached_stack().await;
    let by_key = stack.funded_tenant(json!({"cache": "off"})).await;
    let by_tenant = stack.funded_tenant(json!({})).await;
    let config = second_gateway(&stack);
    let (other, stop, task) = stack.spawn_gateway(config).await;
    let body = ask("Which gateway sees the change?");
    // The other gateway caches both keys with the cache off.
    for key in [&by_key.key, &by_tenant.key] {
        assert_eq!(post(&stack, &other, key, &body).await, "miss");
        assert_eq!(post(&stack, &other, key, &body).await, "miss");
    }

    let key_patch = stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/keys/{}", by_key.key_id),
        )
        .json(&json!({"cache": "exact"}))
        .send()
        .await
        .unwrap();
    assert_eq!(key_patch.status(), 200);
    let tenant_patch = stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/tenants/{}", by_tenant.tenant_id),
        )
        .json(&json!({"cache": "exact"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tenant_patch.status(), 200);

    // Its key cache keeps entries for 60 s; the change poll must reach it much sooner.
    for key in [&by_key.key, &by_tenant.key] {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while post(&stack, &other, key, &body).await != "exact" {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the other gateway still serves the old policy"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    stop.cancel();
    task.await.unwrap();
    stack.stop().await;
}

/// The stack's gateway configuration with a cache and spool directory of its own, for a
/// second gateway.
fn second_gateway(stack: &Stack) -> tollgate_gateway::config::GatewayConfig {
    let mut config = stack.config.clone();
    config.events.spool_dir =
        std::env::temp_dir().join(format!("tollgate-spool-{}", uuid::Uuid::now_v7().simple()));
    let fresh = tollgate_gateway::config::GatewayConfig::from_toml(
        &format!(
            "admin_token = \"unused-but-long-enough\"\ndatabase_url = \"x\"\n{}",
            cache_toml()
        ),
        "second",
        &Default::default(),
    )
    .unwrap();
    config.cache = fresh.cache;
    config
}

async fn post(stack: &Stack, url: &str, key: &str, body: &Value) -> String {
    let response = stack
        .http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["x-tollgate-cache"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// `tollgate_cache_model_loaded` on the gateway's `/metrics` (upkeep copies it every second).
async fn model_loaded(stack: &Stack) -> bool {
    stack
        .metrics()
        .await
        .lines()
        .any(|line| line == "tollgate_cache_model_loaded 1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_loads_only_once_a_key_uses_the_semantic_tier() {
    let toml = cache_toml().replace("load_model = \"at_start\"", "load_model = \"on_demand\"");
    let stack = Stack::start_routed(MockConfig::default(), &toml).await;
    let settings = stack.config.cache.as_ref().expect("a cache");
    assert!(!settings.load_model_at_start, "{toml}");
    assert!(!model_loaded(&stack).await, "loaded at start");
    let exact = stack.funded_tenant(json!({"cache": "exact"})).await;
    let semantic = stack.funded_tenant(json!({"cache": "semantic"})).await;
    let question = ask("How do I reset my password?");
    send(&stack, &exact.key, &question, None).await;
    stack.wait_cache_stores(1).await;
    assert_eq!(send(&stack, &exact.key, &question, None).await.0, "exact");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        !model_loaded(&stack).await,
        "exact-only keys loaded the model"
    );

    // The first semantic request starts the load and is answered without waiting for it.
    let (first, _) = send(&stack, &semantic.key, &question, None).await;
    assert_eq!(first, "miss");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !model_loaded(&stack).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the model never loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Loaded: a paraphrase of what is stored from now on is a semantic hit.
    send(&stack, &semantic.key, &ask("convert 5 miles to km"), None).await;
    stack.wait_cache_stores(3).await;
    let (hit, _) = send(&stack, &semantic.key, &ask("convert 5 miles into km"), None).await;
    assert_eq!(hit, "semantic");
    stack.stop().await;
}
