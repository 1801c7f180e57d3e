//! The data plane end to end: real mock-upstream, real NATS JetStream, real Postgres.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_billing::{ChatMessageText, Tokenizer};
use tollgate_events::{UsageOutcome, UsageSource};
use tollgate_mock_upstream::MockConfig;
use tollgate_testkit::{Stack, TenantKey, sse_data};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// cost = prompt x input + completion x output, per 1M tokens (computed here independently).
/// Waits until the ledger booked `entries` for the tenant (its funding included) and checks
/// its balance is the test kit's 100 USD funding minus `spent`.
async fn assert_balance_after(stack: &Stack, tenant: &TenantKey, entries: usize, spent: Decimal) {
    let balance = stack.wait_for_entries(tenant.tenant_id, entries).await;
    assert_eq!(
        dec(balance["balance_usd"].as_str().unwrap()),
        Decimal::from(100) - spent
    );
}

fn expected_cost(prompt: u32, completion: u32, input: &str, output: &str) -> Decimal {
    (Decimal::from(prompt) * dec(input) + Decimal::from(completion) * dec(output)) / dec("1000000")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_gives_exactly_one_usage_event_with_exact_tokens_and_cost() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(&tenant.key, &json!({
            "model": "demo-large",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What does a gateway do?"}],
        }))
        .await;
    assert_eq!(response.status(), 200);
    let request_id = header(&response, "x-request-id").to_owned();
    let cost_header = header(&response, "x-tollgate-cost").to_owned();
    assert_eq!(header(&response, "x-tollgate-provider"), "mock");
    assert_eq!(header(&response, "x-tollgate-cache"), "miss");
    let body: Value = response.json().await.unwrap();
    let prompt = u32::try_from(body["usage"]["prompt_tokens"].as_u64().unwrap()).unwrap();
    let completion = u32::try_from(body["usage"]["completion_tokens"].as_u64().unwrap()).unwrap();
    assert!(prompt > 10 && completion > 0);
    assert!(
        !body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    let cost = expected_cost(prompt, completion, "2.50", "10.00");
    assert_eq!(dec(&cost_header), cost);

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1, "exactly one usage event");
    let event = &events[0];
    assert_eq!(event.request_id, request_id);
    assert_eq!(event.api_key_id, tenant.key_id);
    assert_eq!(event.outcome, UsageOutcome::Success);
    assert_eq!(event.http_status, 200);
    assert_eq!(
        (event.prompt_tokens, event.completion_tokens),
        (prompt, completion)
    );
    assert_eq!(event.usage_source, UsageSource::Upstream);
    assert_eq!(event.cost_usd, cost);
    assert_eq!(event.model_requested, "demo-large");
    assert_eq!(event.model_served, "mock-large");
    assert_eq!(event.price_version, "test");
    assert!(event.latency_us >= event.upstream_latency_us);

    // The upstream got the provider's key and the upstream model, never the tenant's key.
    let received = stack.mock.last_request().unwrap();
    assert_eq!(
        received.authorization.as_deref(),
        Some("Bearer sk-upstream-secret")
    );
    assert_eq!(received.body["model"], "mock-large");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_request_id_is_kept() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(&tenant.key)
        .header("x-request-id", "my-trace-123")
        .json(&json!({"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "x-request-id"), "my-trace-123");
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events[0].request_id, "my-trace-123");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_without_upstream_usage_is_billed_from_tokenizer_count() {
    let mock = MockConfig {
        omit_stream_usage: true,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let messages = json!([{"role": "user", "content": "Stream me a short answer about billing."}]);
    let response = stack
        .chat(
            &tenant.key,
            &json!({
                "model": "demo-small", "messages": messages, "stream": true,
                "stream_options": {"include_usage": true},
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("text/event-stream"));
    let body = response.text().await.unwrap();
    let data = sse_data(&body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));

    let mut content = String::new();
    for chunk in &data[..data.len() - 1] {
        let chunk: Value = serde_json::from_str(chunk).unwrap();
        if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(text);
        }
    }
    let tokenizer = Tokenizer::O200kBase;
    let prompt = tokenizer.count_chat_prompt([ChatMessageText {
        role: "user",
        content: "Stream me a short answer about billing.",
        name: None,
    }]);
    let completion = tokenizer.count_text(&content);
    assert!(completion > 0);
    let cost = expected_cost(prompt, completion, "0.15", "0.60");

    // The client asked for usage: the gateway supplies it (with the cost) since upstream did not.
    let usage_chunk: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], prompt);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], completion);
    assert_eq!(
        dec(usage_chunk["usage"]["cost_usd"].as_str().unwrap()),
        cost
    );

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.usage_source, UsageSource::Tokenizer);
    assert_eq!(
        (event.prompt_tokens, event.completion_tokens),
        (prompt, completion)
    );
    assert_eq!(event.cost_usd, cost);
    assert!(event.stream);
    assert!(event.ttft_us.is_some());
    assert_eq!(event.outcome, UsageOutcome::Success);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_prompts_are_counted_exactly_once_beside_the_workers_and_only_when_needed() {
    let mock = MockConfig {
        omit_stream_usage: true,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    // Six prompts of 40-50 KB (past the 16 Ki-token bound counted on the HTTP worker), about
    // 8,000 tokens each: their cheap bound (a token per byte) is five times their count.
    let prompts: Vec<String> = (0..6)
        .map(|i| format!("{i} ") + &"tally the words ".repeat(2_600 + 100 * i))
        .collect();
    let counts: Vec<u32> = prompts
        .iter()
        .map(|content| {
            Tokenizer::O200kBase.count_chat_prompt([ChatMessageText {
                role: "user",
                content,
                name: None,
            }])
        })
        .collect();
    let reserve = 16;
    let body = |content: &str| {
        json!({
            "model": "demo-small", "stream": true, "max_tokens": reserve,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": content}],
        })
    };

    // Streams at once: each prompt counted once, off the worker, before its upstream is asked.
    let open = stack.funded_tenant(json!({})).await;
    let answers = futures_util::future::join_all(prompts.iter().map(|p| async {
        let response = stack.chat(&open.key, &body(p)).await;
        let status = response.status();
        let cost = header(&response, "x-tollgate-cost").to_owned();
        (status, cost, response.text().await.unwrap())
    }))
    .await;
    let mut spent = Decimal::ZERO;
    for ((status, cost, text), prompt) in answers.iter().zip(&counts) {
        assert_eq!(*status, 200, "{text}");
        // The headers carry the prompt's cost (decision 001), from the exact count.
        assert_eq!(dec(cost), expected_cost(*prompt, 0, "0.15", "0.60"));
        let data = sse_data(text);
        let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
        assert_eq!(usage["usage"]["prompt_tokens"], *prompt);
        spent += dec(usage["usage"]["cost_usd"].as_str().unwrap());
    }
    assert_eq!(counted_off_worker(&stack).await, 6);
    let events = stack.usage_events(open.tenant_id, 6).await;
    let mut billed: Vec<u32> = events.iter().map(|e| e.prompt_tokens).collect();
    billed.sort_unstable();
    assert_eq!(billed, counts, "every prompt billed at its exact count");
    assert_eq!(events.iter().map(|e| e.cost_usd).sum::<Decimal>(), spent);
    assert_balance_after(&stack, &open, 7, spent).await;

    // A token limit below the prompt's bound but above its count: refused on the bound, the
    // prompt is counted (once: the stream reuses the count) and admitted on its count.
    let tpm = counts[0] + reserve + 50;
    assert!((prompts[0].len() as u32) > tpm);
    let tight = stack.funded_tenant(json!({"tpm": tpm})).await;
    let first = stack.chat(&tight.key, &body(&prompts[0])).await;
    assert_eq!(first.status(), 200, "{:?}", first.text().await);
    assert_eq!(counted_off_worker(&stack).await, 7);
    // The limit still holds: a second within the minute does not fit (counted to know).
    assert_eq!(
        stack.chat(&tight.key, &body(&prompts[0])).await.status(),
        429
    );
    assert_eq!(counted_off_worker(&stack).await, 8);

    // A request that its requests-per-minute limit refuses is never counted.
    let paced = stack.funded_tenant(json!({"rpm": 1})).await;
    assert_eq!(
        stack.chat(&paced.key, &body(&prompts[1])).await.status(),
        200
    );
    assert_eq!(counted_off_worker(&stack).await, 9);
    assert_eq!(
        stack.chat(&paced.key, &body(&prompts[1])).await.status(),
        429
    );
    assert_eq!(counted_off_worker(&stack).await, 9);

    // Credit that covers the prompt's count but not its bound: counted, then admitted.
    let frugal = stack.tenant_with_key(json!({})).await;
    stack.credit(frugal.tenant_id, "0.004", "frugal").await;
    stack.wait_for_entries(frugal.tenant_id, 1).await;
    let bound_cost = expected_cost(prompts[2].len() as u32, reserve, "0.15", "0.60");
    assert!(bound_cost > dec("0.004"), "{bound_cost}");
    let plain = json!({
        "model": "demo-small", "max_tokens": reserve,
        "messages": [{"role": "user", "content": prompts[2]}],
    });
    let answer = stack.chat(&frugal.key, &plain).await;
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    assert_eq!(counted_off_worker(&stack).await, 10);
    stack.stop().await;
}

/// `tollgate_tokens_counted_off_worker_total` on the gateway's `/metrics`.
async fn counted_off_worker(stack: &Stack) -> u64 {
    let metrics = stack.metrics().await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("tollgate_tokens_counted_off_worker_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_with_upstream_usage_bills_the_reported_usage_and_hides_it_unless_asked() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let request = |include_usage: bool| {
        let mut body = json!({
            "model": "demo-small", "stream": true,
            "messages": [{"role": "user", "content": "Same prompt twice"}],
        });
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    };

    // Asked for usage: the upstream's usage chunk arrives with the cost added.
    let body = stack
        .chat(&tenant.key, &request(true))
        .await
        .text()
        .await
        .unwrap();
    let data = sse_data(&body);
    let usage_chunk: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    let prompt = u32::try_from(usage_chunk["usage"]["prompt_tokens"].as_u64().unwrap()).unwrap();
    let completion =
        u32::try_from(usage_chunk["usage"]["completion_tokens"].as_u64().unwrap()).unwrap();
    let cost = expected_cost(prompt, completion, "0.15", "0.60");
    assert_eq!(
        dec(usage_chunk["usage"]["cost_usd"].as_str().unwrap()),
        cost
    );

    // Not asked: no usage-only chunk reaches the client, but the stream is still billed.
    let body = stack
        .chat(&tenant.key, &request(false))
        .await
        .text()
        .await
        .unwrap();
    let data = sse_data(&body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    for chunk in &data[..data.len() - 1] {
        let chunk: Value = serde_json::from_str(chunk).unwrap();
        assert_ne!(
            chunk["choices"],
            json!([]),
            "usage-only chunk leaked: {chunk}"
        );
    }
    // The gateway always asks the upstream for usage.
    assert_eq!(
        stack.mock.last_request().unwrap().body["stream_options"]["include_usage"],
        true
    );

    let events = stack.usage_events(tenant.tenant_id, 2).await;
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event.usage_source, UsageSource::Upstream);
        assert_eq!(
            (event.prompt_tokens, event.completion_tokens),
            (prompt, completion)
        );
        assert_eq!(event.cost_usd, cost);
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_is_relayed_chunk_by_chunk_not_buffered() {
    let mock = MockConfig {
        inter_token_ms: 150,
        completion_words: 6,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let mut response = stack
        .chat(&tenant.key, &json!({"model": "demo-small", "stream": true, "messages": [{"role": "user", "content": "slow"}]}))
        .await;
    // The first content arrives long before the last token is generated (5 x 150 ms later).
    let started = std::time::Instant::now();
    let mut first_content_at = None;
    let mut body = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.push_str(std::str::from_utf8(&chunk).unwrap());
        if first_content_at.is_none()
            && body.contains("\"content\":\"")
            && body.matches("data: ").count() >= 2
        {
            first_content_at = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first = first_content_at.unwrap();
    assert!(
        total.as_millis() >= 700,
        "mock delays were applied: {total:?}"
    );
    assert!(
        first * 2 < total,
        "first token at {first:?} of {total:?}: the stream was buffered"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_openai_errors_and_are_recorded_uncharged() {
    let stack = Stack::start_with(MockConfig::default(), |c| c.max_body_bytes = 2048).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let url = format!("{}/v1/chat/completions", stack.url);
    let send = |body: String| {
        stack
            .http
            .post(&url)
            .bearer_auth(&tenant.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        ("{not json".to_owned(), 400, "invalid_request_error", "invalid_json"),
        (json!({"model": "demo-small"}).to_string(), 400, "invalid_request_error", "invalid_request"),
        (json!({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}).to_string(), 404, "not_found", "model_not_found"),
        (json!({"model": "demo-small", "messages": [{"role": "user", "content": "x".repeat(4000)}]}).to_string(), 413, "payload_too_large", "payload_too_large"),
    ];
    for (body, status, kind, code) in &cases {
        let response = send(body.clone()).await.unwrap();
        assert_eq!(response.status(), *status, "{body:.60}");
        assert_eq!(header(&response, "x-tollgate-cost"), "0");
        assert!(!header(&response, "x-request-id").is_empty());
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], *kind, "{error}");
        assert_eq!(error["error"]["code"], *code, "{error}");
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    }
    let missing = send(json!({"model": "demo-small"}).to_string())
        .await
        .unwrap();
    let error: Value = missing.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages")
    );
    assert_eq!(
        stack.mock.chat_requests(),
        0,
        "nothing invalid reached the upstream"
    );

    let events = stack.usage_events(tenant.tenant_id, cases.len() + 1).await;
    assert_eq!(events.len(), cases.len() + 1);
    for event in &events {
        assert_eq!(event.outcome, UsageOutcome::Rejected);
        assert_eq!(event.cost_usd, Decimal::ZERO);
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_500_becomes_502_and_an_error_event() {
    let mock = MockConfig {
        error_status: Some(500),
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(response.status(), 502);
    assert_eq!(header(&response, "x-tollgate-provider"), "mock");
    // A failed upstream may answer a later try: the client's SDK is told it may retry.
    assert_eq!(header(&response, "x-should-retry"), "true");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "upstream_error");

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, UsageOutcome::UpstreamError);
    assert_eq!(events[0].http_status, 502);
    // One retry on the only deployment (retries_per_deployment = 1), both recorded.
    assert_eq!(events[0].attempts, 2);
    assert_eq!(events[0].attempt_log.len(), 2);
    assert!(
        events[0]
            .attempt_log
            .iter()
            .all(|a| a.status == Some(500) && a.error.as_deref() == Some("status_500"))
    );
    assert_eq!(stack.mock.chat_requests(), 2);
    assert_eq!(events[0].cost_usd, Decimal::ZERO);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_429_becomes_429() {
    let mock = MockConfig {
        error_status: Some(429),
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(response.status(), 429);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_exceeded");
    // The only deployment said `Retry-After: 1` (within max_retry_after): one more attempt
    // after waiting for it, then the 429 goes to the client.
    assert_eq!(stack.mock.chat_requests(), 2);
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events[0].attempts, 2);
    let second_started_after = events[0].attempt_log[0].latency_us;
    assert!(events[0].upstream_latency_us >= second_started_after + 1_000_000);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_what_the_key_may_use() {
    let stack = Stack::start().await;
    let all = stack.funded_tenant(json!({})).await;
    let small_only = stack
        .tenant_with_key(json!({"allowed_models": ["demo-small"]}))
        .await;
    let list = |key: String| {
        let http = stack.http.clone();
        let url = format!("{}/v1/models", stack.url);
        async move {
            let body: Value = http
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(all.key.clone()).await, ["demo-large", "demo-small"]);
    assert_eq!(list(small_only.key.clone()).await, ["demo-small"]);

    let denied = stack
        .chat(
            &small_only.key,
            &json!({"model": "demo-large", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(denied.status(), 403);
    let error: Value = denied.json().await.unwrap();
    assert_eq!(error["error"]["type"], "permission_error");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_stream_is_billed_for_what_was_produced() {
    let mock = MockConfig {
        inter_token_ms: 100,
        completion_words: 30,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let mut response = stack
        .chat(&tenant.key, &json!({"model": "demo-small", "stream": true, "messages": [{"role": "user", "content": "long"}]}))
        .await;
    let mut received = 0;
    while received < 3 {
        if response.chunk().await.unwrap().is_some() {
            received += 1;
        }
    }
    drop(response);

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.outcome, UsageOutcome::ClientClosed);
    assert_eq!(event.usage_source, UsageSource::Tokenizer);
    assert!(
        event.completion_tokens > 0 && event.completion_tokens < 30,
        "{}",
        event.completion_tokens
    );
    assert!(event.cost_usd > Decimal::ZERO);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_streams_and_publishes_their_events() {
    let mock = MockConfig {
        inter_token_ms: 60,
        completion_words: 10,
        ..MockConfig::default()
    };
    let mut stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let mut response = stack
        .chat(&tenant.key, &json!({"model": "demo-small", "stream": true, "messages": [{"role": "user", "content": "finish me"}]}))
        .await;
    assert!(response.chunk().await.unwrap().is_some());

    // Shut down while the stream is still producing tokens.
    let reader = tokio::spawn(async move {
        let mut body = String::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            body.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        body
    });
    stack.shutdown_services().await;
    let body = reader.await.unwrap();
    assert!(
        body.ends_with("data: [DONE]\n\n"),
        "the in-flight stream completed: {body}"
    );

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, UsageOutcome::Success);
    assert!(events[0].completion_tokens >= 10);
    stack.stop().await;
}

/// A stack whose `demo-small` upstream takes 800 ms to start answering, and a funded tenant.
async fn slow_upstream_stack() -> (Stack, tollgate_testkit::TenantKey) {
    let stack = Stack::start().await;
    stack.faults.set(
        "mock-small",
        tollgate_mock_upstream::Fault {
            latency_ms: Some(800),
            ..Default::default()
        },
    );
    let tenant = stack.funded_tenant(json!({})).await;
    (stack, tenant)
}

/// Sends `body` with a client that gives up (closes its connection) after 200 ms.
async fn impatient_chat(stack: &Stack, key: &str, body: &Value) {
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up before the answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_before_a_plain_answer_is_billed_once_for_what_the_provider_produced() {
    let (stack, tenant) = slow_upstream_stack().await;
    impatient_chat(
        &stack,
        &tenant.key,
        &json!({"model": "demo-small", "messages": [{"role": "user", "content": "slow answer"}]}),
    )
    .await;

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1, "billed once");
    let event = &events[0];
    // HTTP/1: actix notices the reset only when it writes the answer, so the handler may
    // finish first (`success`); where it is dropped (HTTP/2 resets) the work goes on in its
    // own task and the event says `client_closed`. Either way the provider's answer is billed.
    assert!(
        matches!(
            event.outcome,
            UsageOutcome::Success | UsageOutcome::ClientClosed
        ),
        "{event:?}"
    );
    assert!(
        event.prompt_tokens > 0 && event.completion_tokens > 0,
        "{event:?}"
    );
    assert!(event.cost_usd > Decimal::ZERO);
    assert_balance_after(&stack, &tenant, 2, event.cost_usd).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_before_its_stream_started_is_billed_once_for_the_prompt() {
    let (stack, tenant) = slow_upstream_stack().await;
    impatient_chat(
        &stack,
        &tenant.key,
        &json!({"model": "demo-small", "stream": true, "messages": [{"role": "user", "content": "a stream that starts late"}]}),
    )
    .await;

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1, "billed once");
    let event = &events[0];
    assert_eq!(event.outcome, UsageOutcome::ClientClosed);
    assert!(event.prompt_tokens > 0, "{event:?}");
    assert!(event.cost_usd > Decimal::ZERO);
    stack.wait_for_entries(tenant.tenant_id, 2).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_answer_over_the_limit_is_a_clear_502_billed_for_the_providers_usage() {
    let mock = MockConfig {
        completion_words: 2_000,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |config| config.max_upstream_body_bytes = 4_096).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let response = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "messages": [{"role": "user", "content": "a long answer"}]}),
        )
        .await;
    assert_eq!(response.status(), 502);
    // The same request would get the same answer: the client's SDK is told not to retry.
    assert_eq!(header(&response, "x-should-retry"), "false");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "upstream_error", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 4096 bytes"),
        "{error}"
    );
    // Streams are relayed event by event, never held whole: the same answer streams fine.
    let streamed = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "a long answer"}]}),
        )
        .await;
    assert_eq!(streamed.status(), 200);
    assert!(streamed.text().await.unwrap().contains("[DONE]"));
    let events = stack.usage_events(tenant.tenant_id, 2).await;
    assert_eq!(events.len(), 2);
    let failed = events
        .iter()
        .find(|e| e.outcome == UsageOutcome::UpstreamError)
        .expect("the 502 is recorded");
    let served = events
        .iter()
        .find(|e| e.outcome == UsageOutcome::Success)
        .expect("the stream is recorded");
    // The provider did the work: the 502 is billed with the usage read from the end of the
    // answer the gateway would not hold, the same the stream of the same answer reported.
    assert_eq!(failed.http_status, 502);
    assert_eq!(failed.usage_source, UsageSource::Upstream, "{failed:?}");
    assert_eq!(failed.prompt_tokens, served.prompt_tokens);
    assert_eq!(failed.completion_tokens, served.completion_tokens);
    assert!(failed.completion_tokens > 1_000, "{failed:?}");
    assert_eq!(failed.cost_usd, served.cost_usd);
    assert_eq!(failed.deployment, served.deployment);
    assert_balance_after(&stack, &tenant, 3, failed.cost_usd + served.cost_usd).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_answer_whose_usage_cannot_be_read_is_billed_at_the_output_limit() {
    // About 100 KB of answer: past the 4 KiB limit and the reading on (four times the limit)
    // that looks for the provider's usage at its end.
    let mock = MockConfig {
        completion_words: 20_000,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |config| config.max_upstream_body_bytes = 4_096).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let messages = json!([{"role": "user", "content": "an endless answer"}]);
    let response = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "max_tokens": 30_000, "messages": messages}),
        )
        .await;
    assert_eq!(response.status(), 502);
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    let event = &events[0];
    assert_eq!(event.outcome, UsageOutcome::UpstreamError);
    assert_eq!(event.usage_source, UsageSource::Tokenizer, "{event:?}");
    // The provider produced at most what the request allowed; the prompt is counted.
    assert_eq!(event.completion_tokens, 30_000);
    let prompt = Tokenizer::O200kBase.count_chat_prompt([ChatMessageText {
        role: "user",
        name: None,
        content: "an endless answer",
    }]);
    assert_eq!(event.prompt_tokens, prompt);
    assert!(event.cost_usd > Decimal::ZERO);
    assert_balance_after(&stack, &tenant, 2, event.cost_usd).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_on_every_chunk_is_relayed_as_it_comes_and_billed_once_from_the_last() {
    let mock = MockConfig {
        usage_every_chunk: true,
        inter_token_ms: 150,
        completion_words: 12,
        ..MockConfig::default()
    };
    let stack = Stack::start_with(mock, |_| {}).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let started = std::time::Instant::now();
    let mut response = stack
        .chat(&tenant.key, &json!({"model": "demo-small", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "count"}]}))
        .await;
    assert_eq!(response.status(), 200);
    // The first words arrive while the upstream is still producing (12 words, 150 ms apart):
    // nothing is held until the end.
    let mut text = String::new();
    let mut first_content = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if first_content.is_none()
            && text.contains("\"content\":\"")
            && text.matches("\"content\"").count() > 1
        {
            first_content = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first_content = first_content.unwrap();
    assert!(
        first_content < total / 2,
        "first content after {first_content:?} of {total:?}: the stream was held"
    );
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let usage: Vec<Value> = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|c| c["usage"]["cost_usd"].is_string())
        .collect();
    assert_eq!(usage.len(), 1, "one priced usage chunk: {data:?}");
    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].usage_source, UsageSource::Upstream);
    assert_eq!(
        usage[0]["usage"]["completion_tokens"].as_u64(),
        Some(u64::from(events[0].completion_tokens))
    );
    assert_eq!(
        dec(usage[0]["usage"]["cost_usd"].as_str().unwrap()),
        events[0].cost_usd
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_resets_its_connection_before_the_answer_is_billed_once() {
    use tokio::io::AsyncWriteExt;

    let (stack, tenant) = slow_upstream_stack().await;
    let body = json!({"model": "demo-small", "messages": [{"role": "user", "content": "reset"}]})
        .to_string();
    let address = stack.url.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        tenant.key,
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // SO_LINGER 0: closing sends a reset, which makes actix drop the handler at once.
    socket.set_zero_linger().unwrap();
    drop(socket);

    let events = stack.usage_events(tenant.tenant_id, 1).await;
    assert_eq!(events.len(), 1, "billed once");
    assert_eq!(events[0].outcome, UsageOutcome::ClientClosed);
    assert!(events[0].completion_tokens > 0 && events[0].cost_usd > Decimal::ZERO);
    stack.stop().await;
}
