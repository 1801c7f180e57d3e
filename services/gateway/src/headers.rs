//! Request ids and the headers every data-plane answer carries.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::ApiError;

/// The request's id, chosen once per request by the middleware that opens its span.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request's id: the one the request span chose, else (a request served without it) as
/// [`new_request_id`] chooses.
pub fn request_id(req: &HttpRequest) -> String {
    use actix_web::HttpMessage;
    match req.extensions().get::<RequestId>() {
        Some(id) => id.0.clone(),
        None => new_request_id(req.headers()),
    }
}

/// A request id: the client's `x-request-id` when it is sane (1-128 visible ASCII
/// characters), otherwise a new UUIDv7.
pub fn new_request_id(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned)
}

/// A data-plane answer's `x-tollgate-cost`, `x-tollgate-cache`, `x-tollgate-provider` and rate
/// limit headers (`x-request-id`, which every answer carries, is the request span's to set).
#[derive(Debug, Clone)]
pub struct DataPlaneMeta {
    /// Request id.
    pub request_id: String,
    /// Cost charged (USD).
    pub cost: Decimal,
    /// `miss`, `exact` or `semantic`.
    pub cache: &'static str,
    /// Provider that answered, or `none`.
    pub provider: String,
    /// The `x-ratelimit-*` headers of the limits the request passed.
    pub rate_limits: crate::limits::RateHeaders,
}

impl DataPlaneMeta {
    /// Meta of a request that has not been routed yet.
    pub fn new(request_id: String) -> Self {
        Self {
            request_id,
            cost: Decimal::ZERO,
            cache: "miss",
            provider: "none".into(),
            rate_limits: crate::limits::RateHeaders::default(),
        }
    }

    /// Adds the headers to `response`.
    pub fn apply(&self, response: &mut HttpResponse) {
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        set("x-tollgate-cost", &self.cost.normalize().to_string());
        set("x-tollgate-cache", self.cache);
        set("x-tollgate-provider", &self.provider);
        self.rate_limits.apply(headers);
    }

    /// The OpenAI-shaped error response with these headers.
    pub fn error(&self, err: &ApiError) -> HttpResponse {
        let mut response = err.error_response();
        self.apply(&mut response);
        response
    }
}
