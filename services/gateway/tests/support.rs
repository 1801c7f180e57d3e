//! What the tests of this binary share: the process-wide telemetry (a process has one global
//! subscriber, so the isolation test (no secret in the logs) and the trace tests read the same
//! capture, each picking out its own lines and spans), and requests with a bearer credential.

use std::sync::OnceLock;

use tollgate_runtime::telemetry::{Telemetry, TelemetryConfig, init_with_writer};
use tollgate_testkit::{LogCapture, OtlpReceiver};

/// What the process's telemetry wrote: log lines (at debug level) and exported spans.
pub struct Traced {
    pub receiver: OtlpReceiver,
    pub logs: LogCapture,
    pub telemetry: Telemetry,
}

/// The process's telemetry, installed on first use: every log line from then on is captured
/// and every span is exported to a local OTLP receiver.
pub fn traced() -> &'static Traced {
    static TRACED: OnceLock<Traced> = OnceLock::new();
    TRACED.get_or_init(|| {
        let receiver = OtlpReceiver::start();
        let logs = LogCapture::default();
        let mut config = TelemetryConfig::logs_only("tollgate-gateway-test");
        config.log_filter = "debug".into();
        config.traces_endpoint = Some(receiver.traces_url.clone());
        let writer = logs.clone();
        let telemetry = init_with_writer(&config, move || writer.clone()).unwrap();
        assert!(telemetry.traces_enabled());
        Traced {
            receiver,
            logs,
            telemetry,
        }
    })
}

/// A request to `path` on `stack` with `token` as the bearer.
pub async fn call(
    stack: &tollgate_testkit::Stack,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = stack
        .http
        .request(method, format!("{}{path}", stack.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// [`call`]'s status and JSON answer (`null` for an empty or non-JSON body).
pub async fn call_json(
    stack: &tollgate_testkit::Stack,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let response = call(stack, token, method, path, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}
