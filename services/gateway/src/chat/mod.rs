//! `POST /v1/chat/completions`: authenticate, validate, route, relay, bill.

mod request;
mod sse;
mod stream;

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use tollgate_billing::Usage;
use tollgate_events::{UsageOutcome, UsageSource};

use crate::api::headers::{DataPlaneMeta, request_id};
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::{status_error, transport_error};
use crate::usage::{Ending, RequestRecord};
pub use request::{ChatRequest, content_text};
use sse::CompletionPeek;

const ENDPOINT: &str = "/v1/chat/completions";

/// The handler.
pub async fn chat_completions(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let mut meta = DataPlaneMeta::new(request_id(&req));
    let key = match state.authenticate(&req).await {
        Ok(key) => key,
        Err(err) => {
            state.metrics.request(ENDPOINT, err_status(&err));
            return meta.error(&err);
        }
    };
    let mut record = RequestRecord::new(meta.request_id.clone(), key, ENDPOINT, started);
    match serve(&state, &req, payload, &mut record, &mut meta).await {
        Ok(response) => response,
        Err(err) => {
            let status = err_status(&err);
            if let ApiError::InsufficientQuota { code, .. } = &err {
                state.metrics.admission_rejected(code);
            }
            let outcome = if record.attempts > 0 {
                UsageOutcome::UpstreamError
            } else {
                UsageOutcome::Rejected
            };
            if record.attempts > 0 {
                state.observe_upstream(&record);
            }
            state.metrics.request(ENDPOINT, status);
            state
                .bill(record, Ending::failed(outcome, status, err.code()), None)
                .await;
            meta.error(&err)
        }
    }
}

fn err_status(err: &ApiError) -> u16 {
    actix_web::ResponseError::status_code(err).as_u16()
}

/// Reads the body, refusing more than `limit` bytes with 413.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = bytes::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::invalid(format!("could not read body: {e}"), "invalid_body", None)
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn serve(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
    record: &mut RequestRecord,
    meta: &mut DataPlaneMeta,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(req, payload, state.config.max_body_bytes).await?;
    let request = ChatRequest::parse(&body)?;
    record.model_requested.clone_from(&request.model);
    record.stream = request.stream;

    let route = state
        .config
        .models
        .get(&request.model)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(
                format!(
                    "The model '{}' does not exist or you do not have access to it.",
                    request.model
                ),
                "model_not_found",
            )
        })?;
    if !record.key.may_use(&request.model) {
        return Err(ApiError::Forbidden {
            message: format!("this API key may not use the model '{}'", request.model),
            code: "model_not_allowed",
        });
    }
    let provider = &state.config.providers[route.provider];
    record.provider.clone_from(&provider.name);
    meta.provider.clone_from(&provider.name);
    record.route = Some(route.clone());

    let reservation = state.admission.admit(&record.key, &route, &request).await?;
    let upstream_body = request.upstream_body(&route.upstream_model)?;
    record.attempts = 1;
    let sent = Instant::now();
    let result = state
        .upstream
        .chat_completions(provider, upstream_body, request.stream, &record.request_id)
        .await;
    let response = match result {
        Ok(response) => response,
        Err(err) => {
            record.upstream_time = sent.elapsed();
            return Err(err);
        }
    };
    let status = response.status();
    if !status.is_success() {
        let error_body = response.bytes().await.unwrap_or_default();
        record.upstream_time = sent.elapsed();
        let status = actix_web::http::StatusCode::from_u16(status.as_u16())
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
        return Err(status_error(&provider.name, status, &error_body));
    }

    if request.stream {
        return Ok(stream::relay(
            reservation,
            state.clone(),
            record.clone(),
            meta.clone(),
            &request,
            response,
            sent,
        ));
    }

    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(&provider.name, &e))?;
    record.upstream_time = sent.elapsed();
    let (usage, usage_source) = completion_usage(&bytes, &request, &route.price.tokenizer)?;
    meta.cost = record.cost(usage);
    state.observe_upstream(record);
    state.metrics.request(ENDPOINT, 200);
    state
        .bill(
            record.clone(),
            Ending {
                outcome: UsageOutcome::Success,
                http_status: 200,
                error_code: None,
                usage,
                usage_source,
            },
            Some(reservation),
        )
        .await;
    let mut response = HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes);
    meta.apply(&mut response);
    Ok(response)
}

/// The usage of a non-streamed completion: the provider's, or counted with the tokenizer.
fn completion_usage(
    bytes: &[u8],
    request: &ChatRequest,
    tokenizer: &tollgate_billing::Tokenizer,
) -> Result<(Usage, UsageSource), ApiError> {
    let peek: CompletionPeek<'_> = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::UpstreamFailed(format!("provider answered with invalid JSON: {e}"))
    })?;
    if let Some(usage) = peek.usage {
        return Ok((usage.into(), UsageSource::Upstream));
    }
    let completion: String = peek
        .choices
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.message.as_ref().and_then(|m| m.content.as_deref()))
        .collect();
    Ok((
        Usage {
            prompt_tokens: count_prompt(request, *tokenizer),
            completion_tokens: tokenizer.count_text(&completion),
        },
        UsageSource::Tokenizer,
    ))
}

/// Prompt tokens of a request, counted with the tokenizer.
pub fn count_prompt(request: &ChatRequest, tokenizer: tollgate_billing::Tokenizer) -> u32 {
    let texts = request.message_texts();
    tokenizer.count_chat_prompt(texts.iter().map(request::MessageText::as_chat_text))
}
