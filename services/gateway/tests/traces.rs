//! OpenTelemetry traces end to end: the gateway runs with the real OTLP/HTTP exporter pointed
//! at a local receiver that decodes the protobuf it is sent; requests go through a real
//! mock-upstream, NATS JetStream, Postgres and (for the cache) the embedded Qdrant and model.
//! One process-wide exporter (`support::traced`) serves every test of the binary; each test
//! picks its own spans out by request id or trace id.

use serde_json::{Value, json};
use tollgate_mock_upstream::{Fault, MockConfig};
use tollgate_testkit::{ReceivedSpan, Stack, cache_toml};
use uuid::Uuid;

use crate::support::{Traced, traced};

impl Traced {
    /// Exports and waits until the trace holding `request_id` has every span `names`.
    fn trace_of(&self, request_id: &str, names: &[&str]) -> Vec<ReceivedSpan> {
        let mine = |spans: &[ReceivedSpan]| -> Vec<ReceivedSpan> {
            spans
                .iter()
                .filter(|s| s.attr("request_id") == request_id)
                .cloned()
                .collect()
        };
        let spans = self.receiver.wait_for(|spans| {
            self.telemetry.flush();
            let mine = mine(spans);
            names.iter().all(|n| mine.iter().any(|s| s.name == *n))
        });
        let mine = mine(&spans);
        for name in names {
            assert!(
                mine.iter().any(|s| s.name == *name),
                "no '{name}' span for {request_id}; got {:?}",
                mine.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
        }
        mine
    }
}

fn one<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    let found: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one '{name}' span: {found:?}");
    found[0]
}

/// The request span, named after the route.
const ROOT: &str = "POST /v1/chat/completions";

const CALLER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

/// Two deployments of `routed`: `a` (mock-a, tried first) and `b` (mock-b).
const TWO_DEPLOYMENTS: &str = r#"
[[models]]
name = "routed"
strategy = "priority"
retries_per_deployment = 0
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
input_per_million = "1.00"
output_per_million = "2.00"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_trace_in_the_callers_trace_with_a_span_per_stage() {
    let traced = traced();
    let stack = Stack::start_routed(MockConfig::default(), TWO_DEPLOYMENTS).await;
    stack.faults.set(
        "mock-a",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let tenant = stack.funded_tenant(json!({})).await;
    let request_id = format!("trace-{}", Uuid::now_v7());
    let response = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(&tenant.key)
        .header("x-request-id", &request_id)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("tracestate", "caller=1")
        .json(&json!({"model": "routed", "max_tokens": 8,
            "messages": [{"role": "user", "content": "Trace me."}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-tollgate-provider"], "mock");

    let spans = traced.trace_of(
        &request_id,
        &[ROOT, "auth", "route", "admission", "upstream", "publish"],
    );
    assert!(
        spans.iter().all(|s| s.trace_id == CALLER_TRACE),
        "{spans:?}"
    );
    assert!(
        spans
            .iter()
            .all(|s| s.service_name == "tollgate-gateway-test")
    );
    let root = one(&spans, ROOT);
    assert_eq!(
        root.parent_span_id, CALLER_SPAN,
        "continues the caller's span"
    );
    assert_eq!(root.kind, 2, "server span");
    assert_eq!(root.attr("http.route"), "/v1/chat/completions");
    assert_eq!(root.attr("http.response.status_code"), "200");
    assert_eq!(root.attr("tenant_id"), tenant.tenant_id.to_string());
    assert_eq!(root.attr("api_key_id"), tenant.key_id.to_string());
    for stage in spans.iter().filter(|s| s.name != ROOT) {
        assert_eq!(stage.parent_span_id, root.span_id, "{stage:?}");
        assert!(stage.start_end_ns.0 >= root.start_end_ns.0);
        assert!(stage.start_end_ns.1 <= root.start_end_ns.1, "{stage:?}");
    }
    assert_eq!(one(&spans, "route").attr("route"), "routed");
    assert_eq!(one(&spans, "route").attr("deployments"), "2");
    assert!(!one(&spans, "publish").attr("event_id").is_empty());

    let mut upstream: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == "upstream").collect();
    upstream.sort_by_key(|s| s.start_end_ns.0);
    assert_eq!(upstream.len(), 2, "a failed, b answered: {upstream:?}");
    let (failed, answered) = (upstream[0], upstream[1]);
    assert_eq!(failed.attr("deployment"), "a");
    assert_eq!(failed.attr("http.response.status_code"), "500");
    assert_eq!(failed.status_code, 2, "error status");
    assert!(!failed.attr("error.type").is_empty());
    assert_eq!(answered.attr("deployment"), "b");
    assert_eq!(answered.attr("attempt"), "2");
    assert_eq!(answered.attr("http.response.status_code"), "200");
    assert_ne!(answered.status_code, 2);
    assert!(upstream.iter().all(|s| s.kind == 3), "client spans");

    // The provider was called inside the answering attempt's span.
    let sent = stack.mock.last_request().unwrap();
    assert_eq!(
        sent.traceparent.as_deref(),
        Some(format!("00-{CALLER_TRACE}-{}-01", answered.span_id).as_str())
    );

    // The failed attempt's warning is one log line carrying the request id.
    let warnings: Vec<String> = traced
        .logs
        .lines()
        .into_iter()
        .filter(|l| l.contains("upstream attempt failed") && l.contains(&request_id))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("request_id={request_id}")),
        "{}",
        warnings[0]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_starts_its_own_trace_and_marks_the_failed_stage() {
    let traced = traced();
    let stack = Stack::start().await;
    let response = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth("tg-not-a-real-key")
        .json(&json!({"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let spans = traced.trace_of(&request_id, &[ROOT, "auth"]);
    let root = one(&spans, ROOT);
    assert_eq!(root.parent_span_id, "", "a root span");
    assert_eq!(root.attr("http.response.status_code"), "401");
    assert_eq!(root.attr("tenant_id"), "");
    let auth = one(&spans, "auth");
    assert_eq!(auth.trace_id, root.trace_id);
    assert_eq!(auth.status_code, 2);
    assert_eq!(auth.attr("error.type"), "invalid_api_key");
    assert!(
        !spans
            .iter()
            .any(|s| s.name == "upstream" || s.name == "publish"),
        "nothing past auth: {spans:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_miss_and_its_cache_hit_are_traced_to_their_end() {
    let traced = traced();
    let stack = Stack::start_routed(MockConfig::default(), &cache_toml()).await;
    let tenant = stack.funded_tenant(json!({"cache": "exact"})).await;
    let body = json!({"model": "demo-small", "stream": true,
        "messages": [{"role": "user", "content": "Trace a stream of words."}]});
    let send = |request_id: String| {
        stack
            .http
            .post(format!("{}/v1/chat/completions", stack.url))
            .bearer_auth(&tenant.key)
            .header("x-request-id", request_id)
            .json(&body)
            .send()
    };

    let miss_id = format!("stream-{}", Uuid::now_v7());
    let response = send(miss_id.clone()).await.unwrap();
    assert_eq!(response.headers()["x-tollgate-cache"], "miss");
    let streamed = response.text().await.unwrap();
    assert!(streamed.contains("[DONE]"));
    let spans = traced.trace_of(
        &miss_id,
        &[ROOT, "cache", "upstream", "publish", "cache.store"],
    );
    let root = one(&spans, ROOT);
    let publish = one(&spans, "publish");
    assert_eq!(publish.parent_span_id, root.span_id);
    assert!(
        publish.start_end_ns.0 > one(&spans, "upstream").start_end_ns.1,
        "billed once the stream ended"
    );
    assert!(
        root.start_end_ns.1 >= publish.start_end_ns.1,
        "the request span lasts the stream"
    );
    assert_eq!(one(&spans, "cache").attr("cache.result"), "miss");
    assert_eq!(one(&spans, "cache.store").parent_span_id, root.span_id);
    assert_eq!(one(&spans, "cache.store").status_code, 0);

    stack.wait_cache_stores(1).await;
    let hit_id = format!("hit-{}", Uuid::now_v7());
    let response = send(hit_id.clone()).await.unwrap();
    assert_eq!(response.headers()["x-tollgate-cache"], "exact");
    let _: String = response.text().await.unwrap();
    let spans = traced.trace_of(&hit_id, &[ROOT, "cache", "publish"]);
    let cache = one(&spans, "cache");
    assert_eq!(cache.attr("cache.result"), "exact");
    assert!(!cache.attr("cache.entry_id").is_empty());
    assert!(
        !spans.iter().any(|s| s.name == "upstream"),
        "a hit never goes upstream: {spans:?}"
    );
    let usage: Value = json!(stack.usage_events(tenant.tenant_id, 2).await.len());
    assert_eq!(usage, json!(2));
    stack.stop().await;
}
