//! The OpenAI-compatible upstream client (one pooled `reqwest::Client` for all providers).

use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde_json::Value;

use crate::config::ProviderConfig;
use crate::error::ApiError;

/// Calls upstream providers.
pub struct Upstream {
    client: reqwest::Client,
}

impl Upstream {
    /// Builds the pooled HTTP client.
    pub fn new(providers: &[ProviderConfig]) -> Result<Self, reqwest::Error> {
        let connect_timeout = providers
            .iter()
            .map(|p| p.connect_timeout)
            .max()
            .unwrap_or(Duration::from_secs(2));
        let read_timeout = providers
            .iter()
            .map(|p| p.timeout)
            .max()
            .unwrap_or(Duration::from_secs(300));
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client })
    }

    /// POSTs a chat completion body to `provider`.
    pub async fn chat_completions(
        &self,
        provider: &ProviderConfig,
        body: Vec<u8>,
        stream: bool,
        request_id: &str,
    ) -> Result<reqwest::Response, ApiError> {
        let mut request = self
            .client
            .post(format!("{}/chat/completions", provider.base_url))
            .header("content-type", "application/json")
            .header("x-request-id", request_id)
            .body(body);
        if let Some(key) = &provider.api_key {
            request = request.bearer_auth(key.expose());
        }
        if !stream {
            request = request.timeout(provider.timeout);
        }
        request
            .send()
            .await
            .map_err(|e| transport_error(&provider.name, &e))
    }
}

/// Maps a transport failure to a client-facing error.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> ApiError {
    tracing::warn!(provider, error = %err, "upstream transport error");
    if err.is_timeout() {
        ApiError::UpstreamTimeout(format!("provider '{provider}' did not answer in time"))
    } else if err.is_connect() {
        ApiError::UpstreamFailed(format!("could not connect to provider '{provider}'"))
    } else {
        ApiError::UpstreamFailed(format!("provider '{provider}' connection failed"))
    }
}

/// Maps an upstream error status (and its body) to a client-facing error.
pub fn status_error(provider: &str, status: StatusCode, body: &Bytes) -> ApiError {
    let upstream_message = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match status.as_u16() {
        429 => ApiError::RateLimited(format!("provider '{provider}' is rate limiting requests")),
        401 | 403 => ApiError::UpstreamFailed(format!(
            "provider '{provider}' refused the gateway's credentials"
        )),
        504 | 408 => ApiError::UpstreamTimeout(format!("provider '{provider}' timed out")),
        400..=499 => ApiError::invalid(
            upstream_message.unwrap_or_else(|| {
                format!("provider '{provider}' rejected the request ({status})")
            }),
            "upstream_rejected_request",
            None,
        ),
        _ => ApiError::UpstreamFailed(format!(
            "provider '{provider}' failed with status {}",
            status.as_u16()
        )),
    }
}
