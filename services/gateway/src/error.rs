//! The gateway's error type and its OpenAI-shaped JSON form.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use thiserror::Error;

/// Every error the HTTP layer can answer with.
#[derive(Debug, Error)]
pub enum ApiError {
    /// Malformed or invalid request (400).
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
        /// Machine-readable code.
        code: &'static str,
        /// The offending parameter.
        param: Option<&'static str>,
    },
    /// Missing or wrong credentials (401).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated but not allowed (403).
    #[error("{message}")]
    Forbidden {
        /// What is not allowed.
        message: String,
        /// Machine-readable code.
        code: &'static str,
    },
    /// Not enough credit or key budget for the request (402).
    #[error("{message}")]
    InsufficientQuota {
        /// What ran out.
        message: String,
        /// `insufficient_quota` or `budget_exceeded`.
        code: &'static str,
    },
    /// Unknown resource (404).
    #[error("{message}")]
    NotFound {
        /// What was not found.
        message: String,
        /// Machine-readable code.
        code: &'static str,
    },
    /// The request conflicts with an earlier one or the resource's state (409).
    #[error("{message}")]
    Conflict {
        /// What conflicts.
        message: String,
        /// Machine-readable code.
        code: &'static str,
    },
    /// Body over the size limit (413).
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A rate limit of the caller's key or tenant refused the request (429, with
    /// `Retry-After` and the `x-ratelimit-*` headers of the limit).
    #[error("{}", .0.message())]
    LimitReached(Box<crate::limits::Limited>),
    /// The upstream rate-limited us (429).
    #[error("{0}")]
    RateLimited(String),
    /// The upstream failed or answered badly (502).
    #[error("{0}")]
    UpstreamFailed(String),
    /// The upstream answered with more than the gateway reads (502); the same request would
    /// get the same answer, so a retry cannot help.
    #[error("{0}")]
    UpstreamOversized(String),
    /// The upstream did not answer in time (504).
    #[error("{0}")]
    UpstreamTimeout(String),
    /// A dependency of the gateway itself is unavailable (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug: logged, never shown in detail (500).
    #[error("internal error")]
    Internal(String),
    /// The database refused a value of the request (400) or is unavailable (503); the detail
    /// is logged when the error is answered, never shown.
    #[error("{}", store_message(.0))]
    Store(#[from] tollgate_store::StoreError),
}

/// The public message of a database error.
fn store_message(err: &tollgate_store::StoreError) -> &'static str {
    if err.is_invalid_data() {
        "the request holds a value that cannot be stored (a NUL character, or a number out of range)"
    } else {
        "the gateway's database is unavailable"
    }
}

impl ApiError {
    /// A 400 with a code and the offending parameter.
    pub fn invalid(
        message: impl Into<String>,
        code: &'static str,
        param: Option<&'static str>,
    ) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            code,
            param,
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>, code: &'static str) -> Self {
        Self::NotFound {
            message: message.into(),
            code,
        }
    }

    /// The OpenAI error `type`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request_error",
            Self::Unauthenticated(_) => "authentication_error",
            Self::Forbidden { .. } => "permission_error",
            Self::InsufficientQuota { .. } => "insufficient_quota",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RateLimited(_) | Self::LimitReached(_) => "rate_limit_exceeded",
            Self::UpstreamFailed(_)
            | Self::UpstreamOversized(_)
            | Self::UpstreamTimeout(_)
            | Self::Unavailable(_) => "upstream_error",
            Self::Internal(_) => "internal_error",
            Self::Store(err) if err.is_invalid_data() => "invalid_request_error",
            Self::Store(_) => "upstream_error",
        }
    }

    /// The machine-readable `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { code, .. }
            | Self::InsufficientQuota { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::Unauthenticated(_) => "invalid_api_key",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RateLimited(_) | Self::LimitReached(_) => "rate_limit_exceeded",
            Self::UpstreamFailed(_) | Self::UpstreamOversized(_) => "upstream_failed",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
            Self::Store(err) if err.is_invalid_data() => "invalid_request",
            Self::Store(_) => "service_unavailable",
        }
    }

    fn param(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest { param, .. } => *param,
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later: a rate limit, an upstream
    /// that failed or was slow, or a dependency of the gateway that is away. Answered as
    /// `x-should-retry`, which the OpenAI and Anthropic SDKs follow.
    pub fn retryable(&self) -> bool {
        match self {
            Self::RateLimited(_)
            | Self::UpstreamFailed(_)
            | Self::UpstreamTimeout(_)
            | Self::Unavailable(_) => true,
            Self::Store(err) => !err.is_invalid_data(),
            // A request larger than the whole limit never passes.
            Self::LimitReached(limited) => limited.retry_after.is_some(),
            _ => false,
        }
    }

    /// The error in Anthropic's shape (`POST /v1/messages`).
    pub fn anthropic_response(&self) -> HttpResponse {
        self.respond(tollgate_providers::messages_api::error_body(
            self.status_code().as_u16(),
            &self.public_message(),
        ))
    }

    /// The answer with `body`: the status, `x-should-retry`, and the hidden detail logged
    /// (here, where the error is answered, and only here).
    fn respond(&self, body: serde_json::Value) -> HttpResponse {
        match self {
            Self::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
            Self::Store(err) if err.is_invalid_data() => {
                tracing::info!(error = %err, "the database refused a value of the request");
            }
            Self::Store(err) => tracing::error!(error = %err, "database error"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            "x-should-retry",
            if self.retryable() { "true" } else { "false" },
        ));
        if let Self::LimitReached(limited) = self
            && let Some(wait) = limited.retry_after
        {
            // Whole seconds, rounded up: a client that waits this long passes.
            let seconds = wait.as_nanos().div_ceil(1_000_000_000).max(1);
            let millis = wait.as_nanos().div_ceil(1_000_000).max(1);
            response.insert_header(("retry-after", seconds.to_string()));
            response.insert_header(("retry-after-ms", millis.to_string()));
        }
        let mut response = response.json(body);
        if let Self::LimitReached(limited) = self {
            limited.headers.apply(response.headers_mut());
        }
        response
    }

    /// The public message (internal details are never shown).
    pub fn public_message(&self) -> String {
        self.to_string()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::InsufficientQuota { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited(_) | Self::LimitReached(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamFailed(_) | Self::UpstreamOversized(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Store(err) if err.is_invalid_data() => StatusCode::BAD_REQUEST,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.respond(json!({
            "error": {
                "message": self.public_message(),
                "type": self.error_type(),
                "code": self.code(),
                "param": self.param(),
            }
        }))
    }
}

/// Turns actix's own extractor errors (bad JSON, oversize bodies, bad paths) into OpenAI errors.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            use actix_web::error::JsonPayloadError;
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::PayloadTooLarge { limit },
                JsonPayloadError::ContentType => ApiError::invalid(
                    "Content-Type must be application/json",
                    "invalid_content_type",
                    None,
                ),
                other => {
                    ApiError::invalid(format!("invalid JSON body: {other}"), "invalid_json", None)
                }
            };
            api.into()
        })
}

/// Turns a malformed query string into an OpenAI-shaped 400.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::invalid(
            format!("invalid query string: {err}"),
            "invalid_query",
            None,
        )
        .into()
    })
}
