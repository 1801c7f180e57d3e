//! `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`: the
//! Gemini wire format. With `tools` and no `functionResponse` in the last turn, the mock calls
//! the first declared function (args `{"query": <last user text>}`); otherwise it answers text.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Composed, compose};
use crate::controls::Controls;
use crate::handlers::{delay_or_fail, error, record_as, sse_response};
use crate::server::MockState;

fn parts_text(parts: &Value) -> String {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                t.to_owned()
            } else if let Some(call) = p.get("functionCall") {
                call.to_string()
            } else if let Some(response) = p.get("functionResponse") {
                response.to_string()
            } else {
                String::new()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The handler for both actions.
pub async fn generate(
    state: web::Data<MockState>,
    req: HttpRequest,
    target: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let Some((model, action)) = target.split_once(':') else {
        return error(
            StatusCode::NOT_FOUND,
            "expected {model}:{action}",
            "not_found",
            "not_found",
        );
    };
    let stream = match action {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "unknown action",
                "not_found",
                "not_found",
            );
        }
    };
    let Some(raw) = record_as(&state, &req, &body, Some(model)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body is not JSON",
            "INVALID_ARGUMENT",
            "invalid_json",
        );
    };
    let Some(contents) = raw.get("contents").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "contents is required",
            "INVALID_ARGUMENT",
            "invalid_request",
        );
    };
    let fault = state.faults.get(model);
    let controls = Controls::resolve(&state.config, fault.as_ref(), &req);
    if let Some(failure) = delay_or_fail(&controls).await {
        return failure;
    }
    let tokenizer = state.config.tokenizer;
    let system = raw
        .pointer("/systemInstruction/parts")
        .map(parts_text)
        .unwrap_or_default();
    let turns: Vec<String> = contents
        .iter()
        .map(|c| parts_text(c.get("parts").unwrap_or(&Value::Null)))
        .collect();
    let prompt_tokens =
        tokenizer.count_text(&system) + turns.iter().map(|t| tokenizer.count_text(t)).sum::<u32>();
    let limit = raw
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64)
        .map(|l| u32::try_from(l).unwrap_or(u32::MAX));
    let answered_tool = contents
        .last()
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(|p| p.get("functionResponse").is_some()));
    let function = raw
        .pointer("/tools/0/functionDeclarations/0/name")
        .filter(|_| !answered_tool)
        .cloned();
    let (parts, pieces, output_tokens, finish) = if let Some(name) = function {
        let args = json!({"query": turns.last().cloned().unwrap_or_default()});
        let output = tokenizer.count_text(&args.to_string());
        (
            vec![json!({"functionCall": {"name": name, "args": args}})],
            Vec::new(),
            output,
            "STOP",
        )
    } else {
        let mut prompt: Vec<&str> = vec![system.as_str()];
        prompt.extend(turns.iter().map(String::as_str));
        let Composed {
            pieces,
            completion_tokens,
            truncated,
        } = compose(tokenizer, &prompt, limit, controls.completion_words);
        let finish = if truncated { "MAX_TOKENS" } else { "STOP" };
        (
            vec![json!({"text": pieces.concat()})],
            pieces,
            completion_tokens,
            finish,
        )
    };
    let usage = json!({
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens,
    });
    let response_id = format!("gem-mock-{:016x}", fastrand::u64(..));
    if !stream {
        return HttpResponse::Ok().json(json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": response_id,
        }));
    }
    let event = |value: Value| Bytes::from(format!("data: {value}\r\n\r\n"));
    let mut events: Vec<(Duration, Bytes)> = Vec::new();
    if pieces.is_empty() {
        events.push((controls.ttft, event(json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
            "usageMetadata": usage, "modelVersion": model, "responseId": response_id,
        }))));
    } else {
        let last = pieces.len() - 1;
        for (i, piece) in pieces.iter().enumerate() {
            let delay = if i == 0 {
                controls.ttft
            } else {
                controls.inter_token
            };
            let mut candidate =
                json!({"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0});
            let mut chunk = json!({"modelVersion": model, "responseId": response_id});
            if i == last {
                candidate["finishReason"] = json!(finish);
                chunk["usageMetadata"] = usage.clone();
            } else {
                chunk["usageMetadata"] = json!({"promptTokenCount": prompt_tokens});
            }
            chunk["candidates"] = json!([candidate]);
            events.push((delay, event(chunk)));
        }
    }
    sse_response(events, controls.break_stream_after)
}
