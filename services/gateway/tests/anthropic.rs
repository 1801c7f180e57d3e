//! Anthropic Messages upstream: the gateway speaks OpenAI to the client and Anthropic to a
//! real mock-upstream, plain, streamed and with tool calls, and bills exactly (cache reads at
//! the cached-input price).

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_events::{UsageOutcome, UsageRecorded, UsageSource};
use tollgate_mock_upstream::MockConfig;
use tollgate_testkit::{CLAUDE_ROUTE, Stack, sse_data};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn expected_cost(e: &UsageRecorded) -> Decimal {
    let uncached = e.prompt_tokens - e.cached_tokens;
    (Decimal::from(uncached) * dec("3.00")
        + Decimal::from(e.cached_tokens) * dec("0.30")
        + Decimal::from(e.completion_tokens) * dec("15.00"))
        / dec("1000000")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answer_is_translated_and_cache_reads_billed_at_the_cached_price() {
    let stack = Stack::start_routed(MockConfig::default(), CLAUDE_ROUTE).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(&tenant.key, &json!({
            "model": "claude",
            "max_tokens": 50,
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "You are a careful assistant for a billing gateway; answer briefly.", "cache_control": {"type": "ephemeral"}}]},
                {"role": "user", "content": "What does a gateway do?"}
            ],
        }))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-tollgate-provider"], "anthropic");
    let cost_header = dec(response.headers()["x-tollgate-cost"].to_str().unwrap());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "claude");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(
        !body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let cached = body["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached > 0, "the system block was a cache read: {body}");

    let sent = stack.mock.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.x_api_key.as_deref(), Some("sk-ant-upstream"));
    assert_eq!(sent.authorization, None);
    assert_eq!(sent.body["system"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(sent.body["messages"][0]["role"], "user");
    assert_eq!(sent.body["max_tokens"], 50);

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    let e = &events[0];
    assert_eq!(u64::from(e.cached_tokens), cached);
    assert_eq!(
        u64::from(e.prompt_tokens),
        body["usage"]["prompt_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(e.completion_tokens),
        body["usage"]["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(e.usage_source, UsageSource::Upstream);
    assert_eq!(e.cost_usd, expected_cost(e));
    assert_eq!(cost_header, e.cost_usd);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_answer_becomes_openai_chunks_with_usage_and_done() {
    let stack = Stack::start_routed(MockConfig::default(), CLAUDE_ROUTE).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "claude",
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "Stream me an answer."}],
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(content.split_whitespace().count() > 3, "{content}");
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    let usage = &chunks.last().unwrap()["usage"];
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    let e = &events[0];
    assert_eq!(e.outcome, UsageOutcome::Success);
    assert_eq!(e.usage_source, UsageSource::Upstream);
    assert_eq!(
        u64::from(e.prompt_tokens),
        usage["prompt_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(e.completion_tokens),
        usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        e.completion_tokens,
        Tokenizer::O200kBase.count_text(&content)
    );
    assert_eq!(dec(usage["cost_usd"].as_str().unwrap()), e.cost_usd);
    assert_eq!(e.cost_usd, expected_cost(e));
    stack.stop().await;
}

use tollgate_billing::Tokenizer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_round_trip_plain_and_streamed() {
    let stack = Stack::start_routed(MockConfig::default(), CLAUDE_ROUTE).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let tools = json!([{"type": "function", "function": {
        "name": "lookup_weather", "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]);
    let first = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "claude", "tools": tools, "tool_choice": "auto",
                "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            }),
        )
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    let call = &first["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "lookup_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["query"], "Weather in Oslo?");
    assert_eq!(
        stack.mock.last_request().unwrap().body["tools"][0]["input_schema"]["type"],
        "object"
    );

    // The tool result goes back; the model answers in text.
    let second = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "claude", "tools": tools,
                "messages": [
                    {"role": "user", "content": "Weather in Oslo?"},
                    {"role": "assistant", "content": null, "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": call["id"], "content": "-3 C, snow"}
                ],
            }),
        )
        .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["choices"][0]["finish_reason"], "stop");
    let sent = stack.mock.last_request().unwrap().body;
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(sent["messages"][2]["content"][0]["tool_use_id"], call["id"]);

    // Streamed, the tool call arrives as OpenAI tool_call deltas.
    let streamed = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "claude", "tools": tools, "stream": true,
                "messages": [{"role": "user", "content": "Weather in Oslo?"}],
            }),
        )
        .await;
    let text = streamed.text().await.unwrap();
    let data = sse_data(&text);
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap()["query"],
        "Weather in Oslo?"
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null)),
        "client did not ask for usage"
    );

    let events = stack.usage_events(tenant.tenant_id, 3).await;
    assert_eq!(events.len(), 3);
    for e in &events {
        assert_eq!(e.outcome, UsageOutcome::Success);
        assert!(e.completion_tokens > 0);
        assert_eq!(e.cost_usd, expected_cost(e));
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_the_provider_cannot_take_is_a_clear_400_and_never_sent() {
    let stack = Stack::start_routed(MockConfig::default(), CLAUDE_ROUTE).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(&tenant.key, &json!({
            "model": "claude",
            "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}],
        }))
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input_audio"),
        "{error}"
    );
    assert_eq!(stack.mock.chat_requests(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_anthropic_stream_is_billed_from_the_providers_own_prompt_count() {
    let stack = Stack::start_routed(
        MockConfig {
            completion_words: 30,
            // Spaced out, so the break comes after the first events are read.
            inter_token_ms: 20,
            ..MockConfig::default()
        },
        CLAUDE_ROUTE,
    )
    .await;
    let tenant = stack.funded_tenant(json!({})).await;
    let body = json!({"model": "claude", "stream": true, "messages": [
        {"role": "system", "content": "You are terse, precise and helpful in every answer."},
        {"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]});
    // Whole, for the provider's figures.
    let whole = stack.chat(&tenant.key, &body).await;
    assert_eq!(whole.status(), 200);
    whole.text().await.unwrap();
    // Cut after a few events: message_start has already told the prompt's tokens.
    stack.faults.set(
        "mock-claude",
        tollgate_mock_upstream::Fault {
            break_stream_after: Some(6),
            ..Default::default()
        },
    );
    let cut = stack.chat(&tenant.key, &body).await;
    assert_eq!(cut.status(), 200);
    cut.text().await.unwrap();

    let events = stack.usage_events(tenant.tenant_id, 2).await;
    assert_eq!(events.len(), 2);
    let (whole, cut) = (&events[0], &events[1]);
    assert_eq!(whole.outcome, UsageOutcome::Success);
    assert_eq!(cut.outcome, UsageOutcome::UpstreamError);
    assert_eq!(cut.usage_source, UsageSource::Upstream);
    assert_eq!(
        cut.prompt_tokens, whole.prompt_tokens,
        "the provider's count"
    );
    assert!(
        cut.completion_tokens >= 1 && cut.completion_tokens < whole.completion_tokens,
        "{cut:?}"
    );
    assert!(cut.cost_usd > Decimal::ZERO && cut.cost_usd < whole.cost_usd);
    stack.stop().await;
}
