//! The official OpenAI Python SDK works against the gateway (plain, streamed, errors).
//!
//! Needs a Python with `openai` installed: `TOLLGATE_PYTHON` (set by `scripts/test`), else
//! `python3`. The test fails, rather than skips, when the SDK is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tollgate_testkit::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_openai_python_sdk_works_plain_and_streamed() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let python = std::env::var("TOLLGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_sdk.py");
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .env("TOLLGATE_URL", &stack.url)
        .env("TOLLGATE_KEY", &tenant.key)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e} (set TOLLGATE_PYTHON or run scripts/test)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "OpenAI SDK script failed (python: {python}; `pip install openai` if the module is missing)\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("openai-sdk ok"), "{stdout}");

    // Three data-plane calls (one failed) were billed as three events.
    let events = stack.usage_events(tenant.tenant_id, 3).await;
    assert_eq!(events.len(), 3);
    stack.stop().await;
}
