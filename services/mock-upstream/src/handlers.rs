//! The OpenAI-compatible endpoints.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_billing::ChatMessageText;

use crate::answer::{Composed, compose, embedding};

/// Prompts longer than this (bytes of text) are counted and answered on the blocking pool.
const LONG_PROMPT: usize = 16 * 1024;

/// The prompt's tokens and the answer to `texts` (role, content, name).
fn count_and_compose(
    tokenizer: tollgate_billing::Tokenizer,
    texts: &[(String, String, Option<String>)],
    limit: Option<u32>,
    words: u32,
) -> (u32, Composed) {
    let prompt_tokens =
        tokenizer.count_chat_prompt(texts.iter().map(|(role, content, name)| ChatMessageText {
            role,
            content,
            name: name.as_deref(),
        }));
    let prompt_parts: Vec<&str> = texts
        .iter()
        .flat_map(|(role, content, _)| [role.as_str(), content.as_str()])
        .collect();
    (
        prompt_tokens,
        compose(tokenizer, &prompt_parts, limit, words),
    )
}
use crate::controls::Controls;
use crate::server::MockState;
use crate::stats::ReceivedRequest;

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Value,
    name: Option<String>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// Text of a message: a string, or the text parts of a multi-part content array.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

pub(crate) fn error(status: StatusCode, message: &str, kind: &str, code: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": {"message": message, "type": kind, "code": code}
    }))
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn record(state: &MockState, req: &HttpRequest, body: &[u8]) -> Option<Value> {
    record_as(state, req, body, None)
}

/// Records a request whose model is not in its body (Gemini puts it in the path).
pub(crate) fn record_as(
    state: &MockState,
    req: &HttpRequest,
    body: &[u8],
    model: Option<&str>,
) -> Option<Value> {
    let parsed: Value = serde_json::from_slice(body).ok()?;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.stats.record(ReceivedRequest {
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        authorization: header("authorization"),
        api_key: header("api-key"),
        x_api_key: header("x-api-key"),
        goog_api_key: header("x-goog-api-key"),
        traceparent: header("traceparent"),
        model: model.map(str::to_owned).or_else(|| {
            parsed
                .get("model")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        body: parsed.clone(),
    });
    Some(parsed)
}

/// Sleeps the configured latency, then fails the request if the controls say so.
pub(crate) async fn delay_or_fail(controls: &Controls) -> Option<HttpResponse> {
    if !controls.latency.is_zero() {
        tokio::time::sleep(controls.latency).await;
    }
    let status = StatusCode::from_u16(controls.fail_with?).ok()?;
    let mut response = if status == StatusCode::TOO_MANY_REQUESTS {
        let mut r = error(
            status,
            "mock rate limit",
            "rate_limit_exceeded",
            "rate_limit_exceeded",
        );
        if let Ok(value) = controls.retry_after_secs.to_string().parse() {
            r.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        r
    } else {
        error(
            status,
            "mock upstream failure",
            "server_error",
            "mock_error",
        )
    };
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-mock-failed"),
        actix_web::http::header::HeaderValue::from_static("true"),
    );
    Some(response)
}

/// `POST /v1/chat/completions`
pub async fn chat_completions(
    state: web::Data<MockState>,
    req: HttpRequest,
    body: Bytes,
) -> HttpResponse {
    let Some(raw) = record(&state, &req, &body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body is not JSON",
            "invalid_request_error",
            "invalid_json",
        );
    };
    let request: ChatRequest = match serde_json::from_value(raw) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                "invalid_request_error",
                "invalid_request",
            );
        }
    };
    let fault = state.faults.get(&request.model);
    let controls = Controls::resolve(&state.config, fault.as_ref(), &req);
    if let Some(failure) = delay_or_fail(&controls).await {
        return failure;
    }

    let texts: Vec<(String, String, Option<String>)> = request
        .messages
        .iter()
        .map(|m| (m.role.clone(), content_text(&m.content), m.name.clone()))
        .collect();
    let tokenizer = state.config.tokenizer;
    let limit = request.max_completion_tokens.or(request.max_tokens);
    let words = controls.completion_words;
    let long = texts
        .iter()
        .map(|(_, content, _)| content.len())
        .sum::<usize>()
        > LONG_PROMPT;
    let (prompt_tokens, composed) = if long {
        // Off the worker, as a provider would: a gateway's bench must not measure the mock.
        match web::block(move || count_and_compose(tokenizer, &texts, limit, words)).await {
            Ok(done) => done,
            Err(err) => return HttpResponse::InternalServerError().body(err.to_string()),
        }
    } else {
        count_and_compose(tokenizer, &texts, limit, words)
    };
    let Composed {
        pieces,
        completion_tokens,
        truncated,
    } = composed;
    let answer: String = pieces.concat();
    let finish_reason = if truncated { "length" } else { "stop" };
    let id = format!("chatcmpl-mock-{:016x}", fastrand::u64(..));
    let created = now_unix();
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });

    if !request.stream {
        return HttpResponse::Ok().json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": request.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": finish_reason,
            }],
            "usage": usage,
        }));
    }

    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let chunk = |choices: Value, usage_field: Option<Value>| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created,
            "model": request.model, "choices": choices,
        });
        if include_usage {
            c["usage"] = usage_field.unwrap_or(Value::Null);
        }
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut events = Vec::with_capacity(pieces.len() + 4);
    events.push((
        std::time::Duration::ZERO,
        chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]), None),
    ));
    for (i, piece) in pieces.iter().enumerate() {
        let delay = if i == 0 {
            controls.ttft
        } else {
            controls.inter_token
        };
        // With `usage_every_chunk`, each content chunk carries the usage so far.
        let running = controls.usage_every_chunk.then(|| {
            let produced = u32::try_from(i + 1).unwrap_or(u32::MAX);
            json!({
                "prompt_tokens": prompt_tokens,
                "completion_tokens": produced,
                "total_tokens": prompt_tokens + produced,
            })
        });
        events.push((
            delay,
            chunk(
                json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
                running,
            ),
        ));
    }
    events.push((
        std::time::Duration::ZERO,
        chunk(
            json!([{"index": 0, "delta": {}, "finish_reason": finish_reason}]),
            None,
        ),
    ));
    if include_usage && !controls.omit_stream_usage {
        events.push((std::time::Duration::ZERO, chunk(json!([]), Some(usage))));
    }
    events.push((
        std::time::Duration::ZERO,
        Bytes::from_static(b"data: [DONE]\n\n"),
    ));

    sse_response(events, controls.break_stream_after)
}

/// An SSE response sending `events` after their delays; with `break_after`, the connection
/// breaks before event number `break_after` (no terminator).
pub(crate) fn sse_response(
    events: Vec<(std::time::Duration, Bytes)>,
    break_after: Option<u32>,
) -> HttpResponse {
    let break_after = break_after.map_or(usize::MAX, |n| n as usize);
    let body =
        stream::iter(events.into_iter().enumerate()).then(move |(i, (delay, bytes))| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if i >= break_after {
                return Err(std::io::Error::other("mock: stream broken on purpose"));
            }
            Ok(bytes)
        });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(body)
}

#[derive(Deserialize)]
struct EmbeddingRequest {
    model: String,
    input: Value,
    dimensions: Option<usize>,
}

/// `POST /v1/embeddings`
pub async fn embeddings(
    state: web::Data<MockState>,
    req: HttpRequest,
    body: Bytes,
) -> HttpResponse {
    let Some(raw) = record(&state, &req, &body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body is not JSON",
            "invalid_request_error",
            "invalid_json",
        );
    };
    let request: EmbeddingRequest = match serde_json::from_value(raw) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &e.to_string(),
                "invalid_request_error",
                "invalid_request",
            );
        }
    };
    let fault = state.faults.get(&request.model);
    let controls = Controls::resolve(&state.config, fault.as_ref(), &req);
    if let Some(failure) = delay_or_fail(&controls).await {
        return failure;
    }
    let inputs: Vec<String> = match &request.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let dimensions = request.dimensions.unwrap_or(8).clamp(1, 4096);
    let tokens: u32 = inputs
        .iter()
        .map(|i| state.config.tokenizer.count_text(i))
        .sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": embedding(text, dimensions)}))
        .collect();
    HttpResponse::Ok().json(json!({
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

/// `PUT /mock/faults/{model}`: makes a model misbehave (body: a [`crate::Fault`]).
pub async fn put_fault(
    state: web::Data<MockState>,
    model: web::Path<String>,
    fault: web::Json<crate::Fault>,
) -> HttpResponse {
    state.faults.set(&model, fault.into_inner());
    HttpResponse::NoContent().finish()
}

/// `DELETE /mock/faults/{model}`
pub async fn delete_fault(state: web::Data<MockState>, model: web::Path<String>) -> HttpResponse {
    state.faults.clear(&model);
    HttpResponse::NoContent().finish()
}

/// `GET /v1/models`
pub async fn models(state: web::Data<MockState>) -> HttpResponse {
    let data: Vec<Value> = state
        .config
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "mock"}))
        .collect();
    HttpResponse::Ok().json(json!({"object": "list", "data": data}))
}
