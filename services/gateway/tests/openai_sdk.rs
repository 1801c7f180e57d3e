//! The official OpenAI Python SDK works against the gateway (plain, streamed, errors).
//!
//! Needs a Python with `openai` installed: `TOLLGATE_PYTHON` (set by `scripts/test`), else
//! `python3`. The test fails, rather than skips, when the SDK is missing.

use serde_json::json;
use tollgate_testkit::{Stack, run_python_script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_works_plain_and_streamed() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_sdk.py");
    let stdout = run_python_script(script, &stack.url, &tenant.key, "openai").await;
    assert!(stdout.contains("openai-sdk ok"), "{stdout}");

    // Three data-plane calls (one failed) were billed as three events.
    let events = stack.usage_events(tenant.tenant_id, 3).await;
    assert_eq!(events.len(), 3);
    stack.stop().await;
}
