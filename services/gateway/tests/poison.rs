//! Hostile input from one tenant cannot stop, skew or skip billing: every client string that
//! can be recorded is refused at the edge unless it is bounded, printable text (400 naming the
//! parameter, in the client's dialect), and another tenant's requests are booked exactly
//! meanwhile, through the real gateway, NATS JetStream, ledger and Postgres.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_testkit::Stack;

async fn messages(stack: &Stack, key: &str, body: &Value) -> reqwest::Response {
    stack
        .http
        .post(format!("{}/v1/messages", stack.url))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_refused_by_name_and_every_tenant_keeps_being_billed() {
    let stack = Stack::start().await;
    // No credit at all: what it sends is refused before admission, and still recorded.
    let hostile = stack.tenant_with_key(json!({})).await;
    let victim = stack.funded_tenant(json!({})).await;
    let msg = json!([{"role": "user", "content": "hi"}]);
    let long = "m".repeat(5_000);
    let openai_cases = [
        (json!({"model": "a\u{0}b", "messages": msg}), "model"),
        (json!({"model": long, "messages": msg}), "model"),
        (
            json!({"model": "demo-small", "user": "u\u{1b}[2J", "messages": msg}),
            "user",
        ),
        (
            json!({"model": "demo-small", "metadata": {"k": "v\u{0}"}, "messages": msg}),
            "metadata",
        ),
        (
            json!({"model": "demo-small", "messages": [{"role": "user", "content": "x", "name": "n\u{0}"}]}),
            "messages",
        ),
        (
            json!({"model": "demo-small", "messages": msg,
                   "tools": [{"type": "function", "function": {"name": "t\u{0}", "parameters": {}}}]}),
            "tools",
        ),
        (
            json!({"model": "demo-small", "messages": msg, "provider_preference": ["\u{202e}mock"]}),
            "provider_preference",
        ),
    ];
    let mut refused = 0;
    for (body, param) in &openai_cases {
        let response = stack.chat(&hostile.key, body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], *param, "{error}");
        refused += 1;
    }

    // The Anthropic dialect names Anthropic's fields in Anthropic's error shape.
    for (body, field) in [
        (
            json!({"model": "a\u{0}b", "max_tokens": 5, "messages": msg}),
            "model:",
        ),
        (
            json!({"model": "demo-small", "max_tokens": 5, "messages": msg,
                   "metadata": {"user_id": "\u{7}"}}),
            "metadata.user_id:",
        ),
    ] {
        let response = messages(&stack, &hostile.key, &body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
        refused += 1;
    }

    // A route header with a bidirectional override (valid UTF-8, sent as obs-text).
    let response = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(&hostile.key)
        .header(
            "x-tollgate-route",
            reqwest::header::HeaderValue::from_bytes("\u{202e}mock".as_bytes()).unwrap(),
        )
        .json(&json!({"model": "demo-small", "messages": msg}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    refused += 1;

    // An unknown but printable model stays a 404 and is recorded as asked.
    let unknown = "no-such-model-ünïcødé";
    let response = stack
        .chat(&hostile.key, &json!({"model": unknown, "messages": msg}))
        .await;
    assert_eq!(response.status(), 404);

    // Meanwhile the other tenant is served and billed exactly.
    let mut charged = Decimal::ZERO;
    for i in 0..5 {
        let response = stack
            .chat(
                &victim.key,
                &json!({"model": "demo-small", "messages": [{"role": "user", "content": format!("fine {i}")}]}),
            )
            .await;
        assert_eq!(response.status(), 200);
        charged +=
            Decimal::from_str(response.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
    }
    assert!(charged > Decimal::ZERO);
    let balance = stack.wait_for_entries(victim.tenant_id, 6).await;
    assert_eq!(
        Decimal::from_str(balance["balance_usd"].as_str().unwrap()).unwrap(),
        Decimal::from(100) - charged,
        "{balance}"
    );

    // Every refusal of the hostile tenant was booked (at no cost): nothing stalled on it.
    stack.wait_for_entries(hostile.tenant_id, refused + 1).await;
    let page = stack.ledger_page(hostile.tenant_id).await;
    let entries = page["data"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| Decimal::from_str(e["amount_usd"].as_str().unwrap())
                .unwrap()
                .is_zero()),
        "{page}"
    );
    assert!(
        entries.iter().any(|e| e["model"] == unknown),
        "the 404's model is recorded as asked: {page}"
    );
    stack.stop().await;
}
