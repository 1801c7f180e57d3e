//! The official Anthropic Python SDK works against `POST /v1/messages` (plain, streamed, tool
//! use, errors), with Anthropic-format and OpenAI-format upstreams behind it.
//!
//! Needs a Python with `anthropic` installed: `TOLLGATE_PYTHON` (set by `scripts/test`), else
//! `python3`. The test fails, rather than skips, when the SDK is missing.

use serde_json::json;
use tollgate_events::UsageOutcome;
use tollgate_mock_upstream::MockConfig;
use tollgate_testkit::{CLAUDE_ROUTE, Stack, run_python_script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_anthropic_python_sdk_works_against_v1_messages() {
    let stack = Stack::start_routed(MockConfig::default(), CLAUDE_ROUTE).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/anthropic_sdk.py");
    let stdout = run_python_script(script, &stack.url, &tenant.key, "anthropic").await;
    assert!(stdout.contains("anthropic-sdk ok"), "{stdout}");

    // 4 plain/streamed + 2 tool calls + 1 refused = 7 requests, 7 events, same billing path.
    let events = stack.usage_events(tenant.tenant_id, 7).await;
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.endpoint == "/v1/messages"));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.outcome == UsageOutcome::Success)
            .count(),
        6
    );
    for e in events.iter().filter(|e| e.outcome == UsageOutcome::Success) {
        assert!(e.cost_usd > rust_decimal::Decimal::ZERO && e.completion_tokens > 0);
    }
    stack.stop().await;
}
