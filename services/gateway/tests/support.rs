//! What the tests of this binary share: the process-wide telemetry. A process has one global
//! subscriber, so the isolation test (no secret in the logs) and the trace tests read the same
//! capture, each picking out its own lines and spans.

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
