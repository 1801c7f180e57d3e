//! `POST /v1/messages`: the Anthropic Messages wire format, plain and streamed.
//!
//! With `tools` in the request and no `tool_result` in the last turn, the mock calls the first
//! tool (input `{"query": <last user text>}`); otherwise it answers with text. System blocks
//! marked `cache_control` are reported as prompt-cache reads (`cache_read_input_tokens`).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Composed, compose};
use crate::controls::Controls;
use crate::handlers::{delay_or_fail, error, record, sse_response};
use crate::server::MockState;

/// Text of Anthropic content: a string or blocks (text, tool results, tool uses).
fn blocks_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                Some("tool_result") => blocks_text(b.get("content").unwrap_or(&Value::Null)),
                Some("tool_use") => format!(
                    "{}{}",
                    b.get("name").and_then(Value::as_str).unwrap_or(""),
                    b.get("input").map(Value::to_string).unwrap_or_default()
                ),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn has_cache_control(system: &Value) -> bool {
    system
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|b| b.get("cache_control").is_some()))
}

fn last_turn_is_tool_result(messages: &[Value]) -> bool {
    messages
        .last()
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .is_some_and(|blocks| {
            blocks
                .iter()
                .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        })
}

fn sse(kind: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

/// The handler.
pub async fn messages(state: web::Data<MockState>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let Some(raw) = record(&state, &req, &body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body is not JSON",
            "invalid_request_error",
            "invalid_json",
        );
    };
    let model = raw
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(max_tokens) = raw.get("max_tokens").and_then(Value::as_u64) else {
        return error(
            StatusCode::BAD_REQUEST,
            "max_tokens: field required",
            "invalid_request_error",
            "invalid_request",
        );
    };
    let Some(messages) = raw.get("messages").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "messages: field required",
            "invalid_request_error",
            "invalid_request",
        );
    };
    if req.headers().get("anthropic-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "anthropic-version header is required",
            "invalid_request_error",
            "invalid_request",
        );
    }
    let fault = state.faults.get(&model);
    let controls = Controls::resolve(&state.config, fault.as_ref(), &req);
    if let Some(failure) = delay_or_fail(&controls).await {
        return failure;
    }
    let tokenizer = state.config.tokenizer;
    let system = raw.get("system").cloned().unwrap_or(Value::Null);
    let system_text = blocks_text(&system);
    let turns: Vec<String> = messages
        .iter()
        .map(|m| blocks_text(m.get("content").unwrap_or(&Value::Null)))
        .collect();
    let system_tokens = tokenizer.count_text(&system_text);
    let turn_tokens: u32 = turns.iter().map(|t| tokenizer.count_text(t)).sum();
    let cache_read = if has_cache_control(&system) {
        system_tokens
    } else {
        0
    };
    let input_tokens = system_tokens + turn_tokens - cache_read;
    let stream = raw.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let id = format!("msg_mock_{:016x}", fastrand::u64(..));

    let tool = raw
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .filter(|_| !last_turn_is_tool_result(messages))
        .and_then(|t| t.get("name").cloned());
    let limit = u32::try_from(max_tokens).unwrap_or(u32::MAX);
    let (content, pieces, output_tokens, stop_reason) = if let Some(name) = tool {
        let input = json!({"query": turns.last().cloned().unwrap_or_default()});
        let output = tokenizer.count_text(&input.to_string()).min(limit);
        let block = json!({"type": "tool_use", "id": format!("toolu_mock_{:08x}", fastrand::u32(..)), "name": name, "input": input});
        (block, Vec::new(), output, "tool_use")
    } else {
        let mut parts: Vec<&str> = vec![system_text.as_str()];
        parts.extend(turns.iter().map(String::as_str));
        let Composed {
            pieces,
            completion_tokens,
            truncated,
        } = compose(tokenizer, &parts, Some(limit), controls.completion_words);
        let text = pieces.concat();
        let stop = if truncated { "max_tokens" } else { "end_turn" };
        (
            json!({"type": "text", "text": text}),
            pieces,
            completion_tokens,
            stop,
        )
    };
    let usage = json!({
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": 0,
    });
    if !stream {
        return HttpResponse::Ok().json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [content], "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage,
        }));
    }
    let zero = Duration::ZERO;
    let mut events = vec![(
        zero,
        sse(
            "message_start",
            &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "usage": {"input_tokens": input_tokens, "output_tokens": 1,
            "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": 0}}}),
        ),
    )];
    if content["type"] == "tool_use" {
        let start =
            json!({"type": "tool_use", "id": content["id"], "name": content["name"], "input": {}});
        events.push((
            zero,
            sse(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0, "content_block": start}),
            ),
        ));
        let input = content["input"].to_string();
        let (a, b) = input.split_at(input.len() / 2);
        for part in [a, b] {
            events.push((controls.inter_token, sse("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": part}}))));
        }
    } else {
        events.push((zero, sse("content_block_start", &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))));
        events.push((zero, sse("ping", &json!({"type": "ping"}))));
        for (i, piece) in pieces.iter().enumerate() {
            let delay = if i == 0 {
                controls.ttft
            } else {
                controls.inter_token
            };
            events.push((delay, sse("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}))));
        }
    }
    events.push((
        zero,
        sse(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
    ));
    events.push((zero, sse("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": output_tokens}}))));
    events.push((zero, sse("message_stop", &json!({"type": "message_stop"}))));
    sse_response(events, controls.break_stream_after)
}
