//! The spans of a request's stages: children of its `request` span (see
//! [`request`]), each carrying the request id, exported as OpenTelemetry spans
//! when tracing is on. Stages: `auth`, `route`, `admission`, `cache`, `upstream` (one per
//! attempt), `publish`, `cache.store`.

pub mod request;

use crate::error::ApiError;

/// `info_span!(name, request_id, ...)` for the trace only (target
/// [`tollgate_runtime::telemetry::STAGE_TARGET`], which log lines leave out: a log line names
/// its request through the `request` span), with the fields every stage may record on failure
/// (`otel.status_code`, `error.type`) declared.
macro_rules! stage_span {
    ($name:literal, $request_id:expr $(, $($fields:tt)*)?) => {
        tracing::info_span!(
            target: "tollgate_stages",
            $name,
            request_id = %$request_id,
            otel.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty
            $(, $($fields)*)?
        )
    };
}
pub(crate) use stage_span;

/// Marks `span` failed with the error's code.
pub fn failed(span: &tracing::Span, err: &ApiError) {
    failed_with(span, err.code());
}

/// Marks `span` failed with `error_type`.
pub fn failed_with(span: &tracing::Span, error_type: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("error.type", error_type);
}
