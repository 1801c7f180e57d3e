//! The `request` span every traced HTTP request runs in: it carries the request id (so every
//! log line of the request carries it too, and the answer's `x-request-id`), continues the
//! caller's W3C trace, and records the route, the status and the tenant. Operations endpoints
//! are not traced.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing::field::Empty;

use actix_web::http::header::{HeaderName, HeaderValue};

use crate::headers::RequestId;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Paths scraped or probed all the time: no span of their own.
fn is_ops_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The middleware: runs the rest of the request inside its `request` span.
pub async fn trace_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if is_ops_path(req.path()) {
        return next.call(req).await;
    }
    let request_id = crate::headers::new_request_id(req.headers());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // The route's pattern (from the app's resource map), never the raw path: ids in paths
    // would make every span name unique.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", req.method()),
        otel.kind = "server",
        otel.status_code = Empty,
        request_id = %request_id,
        http.request.method = %req.method(),
        url.path = %req.path(),
        http.route = %route,
        http.response.status_code = Empty,
        tenant_id = Empty,
        api_key_id = Empty,
    );
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    tollgate_runtime::telemetry::continue_trace(&span, header("traceparent"), header("tracestate"));
    let mut response = next.call(req).instrument(span.clone()).await?;
    // Every traced answer names its request id: the id of its usage event or audit entry.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    Ok(response)
}
