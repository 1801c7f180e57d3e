//! Gemini upstream: OpenAI to the client, `generateContent` / `streamGenerateContent` to a real
//! mock-upstream, plain, streamed and with a tool call, billed exactly.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_billing::Tokenizer;
use tollgate_events::{UsageOutcome, UsageRecorded, UsageSource};
use tollgate_mock_upstream::MockConfig;
use tollgate_testkit::{Stack, sse_data};

const GEMINI: &str = r#"
[[providers]]
name = "google"
kind = "gemini"
base_url = "{mock}/v1beta"
api_key = "goog-upstream"
[[models]]
name = "gemini"
provider = "google"
upstream_model = "mock-gemini"
input_per_million = "1.25"
output_per_million = "5.00"
"#;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn expected_cost(e: &UsageRecorded) -> Decimal {
    (Decimal::from(e.prompt_tokens) * dec("1.25")
        + Decimal::from(e.completion_tokens) * dec("5.00"))
        / dec("1000000")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_streamed_answers_are_translated_and_billed_exactly() {
    let stack = Stack::start_routed(MockConfig::default(), GEMINI).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(&tenant.key, &json!({
            "model": "gemini", "max_tokens": 40, "temperature": 0.3,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is a ledger?"}],
        }))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-tollgate-provider"], "google");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let sent = stack.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1beta/models/mock-gemini:generateContent");
    assert_eq!(
        sent.body["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 40);
    assert_eq!(sent.authorization, None);
    assert_eq!(sent.goog_api_key.as_deref(), Some("goog-upstream"));

    let streamed = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "gemini", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "Stream a short answer about ledgers."}],
            }),
        )
        .await;
    assert_eq!(streamed.status(), 200);
    let text = streamed.text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        stack.mock.last_request().unwrap().query,
        "alt=sse",
        "streams use streamGenerateContent?alt=sse"
    );

    let events = stack.usage_events(tenant.tenant_id, 2).await;
    assert_eq!(events.len(), 2);
    let plain = &events[0];
    assert_eq!(
        u64::from(plain.prompt_tokens),
        body["usage"]["prompt_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(plain.completion_tokens),
        body["usage"]["completion_tokens"].as_u64().unwrap()
    );
    let stream = &events[1];
    assert_eq!(
        stream.completion_tokens,
        Tokenizer::O200kBase.count_text(&content)
    );
    assert_eq!(
        u64::from(stream.completion_tokens),
        usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(dec(usage["cost_usd"].as_str().unwrap()), stream.cost_usd);
    for e in &events {
        assert_eq!(e.outcome, UsageOutcome::Success);
        assert_eq!(e.usage_source, UsageSource::Upstream);
        assert_eq!(e.cost_usd, expected_cost(e));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_round_trip() {
    let stack = Stack::start_routed(MockConfig::default(), GEMINI).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let tools = json!([{"type": "function", "function": {"name": "search_docs", "parameters": {"type": "object"}}}]);
    let first: Value = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "gemini", "tools": tools,
                "messages": [{"role": "user", "content": "Find the refund policy"}],
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    let call = first["choices"][0]["message"]["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "search_docs");
    let second = stack
        .chat(&tenant.key, &json!({
            "model": "gemini", "tools": tools,
            "messages": [
                {"role": "user", "content": "Find the refund policy"},
                {"role": "assistant", "content": null, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "{\"policy\": \"30 days\"}"}
            ],
        }))
        .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["choices"][0]["finish_reason"], "stop");
    let sent = stack.mock.last_request().unwrap().body;
    assert_eq!(
        sent["contents"][1]["parts"][0]["functionCall"]["name"],
        "search_docs"
    );
    assert_eq!(
        sent["contents"][2]["parts"][0]["functionResponse"]["name"],
        "search_docs"
    );
    assert_eq!(
        sent["contents"][2]["parts"][0]["functionResponse"]["response"]["policy"],
        "30 days"
    );
    let events = stack.usage_events(tenant.tenant_id, 2).await;
    assert!(
        events
            .iter()
            .all(|e| e.cost_usd == expected_cost(e) && e.completion_tokens > 0)
    );
    stack.stop().await;
}
