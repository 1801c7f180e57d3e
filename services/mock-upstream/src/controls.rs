//! Per-request behaviour: config defaults overridden by `x-mock-*` headers.

use std::time::Duration;

use actix_web::HttpRequest;

use crate::{Fault, MockConfig};

/// What this request should experience.
#[derive(Debug, Clone)]
pub struct Controls {
    pub latency: Duration,
    pub ttft: Duration,
    pub inter_token: Duration,
    pub fail_with: Option<u16>,
    pub retry_after_secs: u64,
    pub omit_stream_usage: bool,
    pub usage_every_chunk: bool,
    pub completion_words: u32,
    pub break_stream_after: Option<u32>,
}

fn header<T: std::str::FromStr>(req: &HttpRequest, name: &str) -> Option<T> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

impl Controls {
    /// Resolves the controls of one request.
    /// Precedence: `x-mock-*` header, then the model's fault, then the config default.
    pub fn resolve(config: &MockConfig, fault: Option<&Fault>, req: &HttpRequest) -> Self {
        let fault = fault.cloned().unwrap_or_default();
        let ms =
            |name: &str, default: u64| Duration::from_millis(header(req, name).unwrap_or(default));
        let status: Option<u16> = header(req, "x-mock-status")
            .or(fault.status)
            .or(config.error_status);
        let rate: f64 = header(req, "x-mock-error-rate")
            .or(fault.error_rate)
            .unwrap_or(config.error_rate);
        let fail_with = if rate > 0.0 {
            (fastrand::f64() < rate).then(|| status.unwrap_or(500))
        } else {
            status
        };
        Self {
            latency: ms(
                "x-mock-latency-ms",
                fault.latency_ms.unwrap_or(config.latency_ms),
            ),
            ttft: ms("x-mock-ttft-ms", fault.ttft_ms.unwrap_or(config.ttft_ms)),
            inter_token: ms("x-mock-inter-token-ms", config.inter_token_ms),
            fail_with: fail_with.filter(|s| (400..=599).contains(s)),
            retry_after_secs: header(req, "x-mock-retry-after")
                .or(fault.retry_after_secs)
                .unwrap_or(config.retry_after_secs),
            break_stream_after: header(req, "x-mock-break-after").or(fault.break_stream_after),
            omit_stream_usage: header(req, "x-mock-omit-usage").unwrap_or(config.omit_stream_usage),
            usage_every_chunk: header(req, "x-mock-usage-every-chunk")
                .unwrap_or(config.usage_every_chunk),
            completion_words: header(req, "x-mock-completion-words")
                .unwrap_or(config.completion_words),
        }
    }
}
