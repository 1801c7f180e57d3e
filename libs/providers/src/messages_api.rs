//! The Anthropic Messages API as a client dialect of the gateway (`POST /v1/messages`): a
//! Messages request as the gateway's internal OpenAI chat request, and the OpenAI answer
//! (whole or streamed) and errors back in Anthropic's shape. The adapter in `anthropic.rs`
//! does the opposite for Anthropic upstreams; the two share the stop-reason and usage maps.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::anthropic::stop_reason;
use crate::{StreamTranslator, TranslateError, sse_data};

fn invalid(message: impl Into<String>) -> TranslateError {
    TranslateError::Invalid(message.into())
}

/// Anthropic's error `type` for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 409 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An error body in Anthropic's shape: `{"type":"error","error":{"type","message"}}`.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(status), "message": message}})
}

/// An Anthropic Messages request body as an OpenAI chat request body (a client error when it
/// is not a valid Messages request).
pub fn to_openai_request(input: &Map<String, Value>) -> Result<Map<String, Value>, TranslateError> {
    let mut out = Map::new();
    let model = match input.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        Some(_) => return Err(invalid("model: must be a non-empty string")),
        None => return Err(invalid("model: field required")),
    };
    out.insert("model".into(), Value::String(model));
    let max_tokens = input
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|n| *n >= 1)
        .ok_or_else(|| invalid("max_tokens: a positive integer is required"))?;
    out.insert("max_tokens".into(), json!(max_tokens));
    let mut messages = Vec::new();
    match input.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => messages.push(json!({"role": "system", "content": s})),
        Some(Value::Array(blocks)) => {
            messages.push(json!({"role": "system", "content": text_parts(blocks)?}))
        }
        Some(_) => {
            return Err(invalid(
                "system: must be a string or an array of text blocks",
            ));
        }
    }
    let Some(Value::Array(turns)) = input.get("messages") else {
        return Err(invalid("messages: field required (an array)"));
    };
    if turns.is_empty() {
        return Err(invalid("messages: at least one message is required"));
    }
    for (i, turn) in turns.iter().enumerate() {
        let role = turn.get("role").and_then(Value::as_str).unwrap_or("");
        let content = turn.get("content").unwrap_or(&Value::Null);
        match (role, content) {
            ("user" | "assistant", Value::String(s)) => {
                messages.push(json!({"role": role, "content": s}))
            }
            ("user", Value::Array(blocks)) => user_turn(blocks, &mut messages)?,
            ("assistant", Value::Array(blocks)) => messages.push(assistant_turn(blocks)?),
            ("user" | "assistant", _) => {
                return Err(invalid(format!(
                    "messages.{i}.content: must be a string or an array of blocks"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "messages.{i}.role: must be 'user' or 'assistant'"
                )));
            }
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    for key in ["temperature", "top_p"] {
        if let Some(v) = input.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = input.get("stop_sequences").filter(|v| !v.is_null()) {
        out.insert("stop".into(), stop.clone());
    }
    if let Some(user) = input.get("metadata").and_then(|m| m.get("user_id")) {
        out.insert("user".into(), user.clone());
    }
    let stream = input
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if stream {
        out.insert("stream".into(), json!(true));
        // The answer's usage is needed for Anthropic's final `message_delta`.
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(Value::Array(tools)) = input.get("tools") {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut function = json!({
                    "name": t.get("name").cloned().unwrap_or(Value::Null),
                    "parameters": t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
                });
                if let Some(d) = t.get("description") {
                    function["description"] = d.clone();
                }
                json!({"type": "function", "function": function})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = input.get("tool_choice") {
        let mapped = match choice.get("type").and_then(Value::as_str) {
            Some("auto") => json!("auto"),
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => {
                json!({"type": "function", "function": {"name": choice.get("name").cloned().unwrap_or(Value::Null)}})
            }
            _ => return Err(invalid("tool_choice.type: must be auto, any, tool or none")),
        };
        out.insert("tool_choice".into(), mapped);
    }
    Ok(out)
}

fn text_parts(blocks: &[Value]) -> Result<Vec<Value>, TranslateError> {
    blocks
        .iter()
        .map(|b| match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                Ok(json!({"type": "text", "text": b.get("text").cloned().unwrap_or_default()}))
            }
            _ => Err(invalid("system: only text blocks are supported")),
        })
        .collect()
}

/// A user turn: text and images become one user message; each tool result its own tool message.
fn user_turn(blocks: &[Value], messages: &mut Vec<Value>) -> Result<(), TranslateError> {
    let mut parts = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(
                json!({"type": "text", "text": block.get("text").cloned().unwrap_or_default()}),
            ),
            Some("image") => {
                let source = block.get("source").unwrap_or(&Value::Null);
                let url = match source.get("type").and_then(Value::as_str) {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        source
                            .get("media_type")
                            .and_then(Value::as_str)
                            .unwrap_or("image/png"),
                        source.get("data").and_then(Value::as_str).unwrap_or("")
                    ),
                    Some("url") => source
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    _ => return Err(invalid("image.source: must be base64 or url")),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            Some("tool_result") => {
                let content = match block.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(inner)) => inner
                        .iter()
                        .filter_map(|b| b.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => String::new(),
                };
                messages.push(json!({
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id").cloned().unwrap_or(Value::Null),
                    "content": content,
                }));
            }
            other => {
                return Err(invalid(format!(
                    "content block type {} is not supported",
                    other.unwrap_or("(missing)")
                )));
            }
        }
    }
    if !parts.is_empty() {
        messages.push(json!({"role": "user", "content": parts}));
    }
    Ok(())
}

fn assistant_turn(blocks: &[Value]) -> Result<Value, TranslateError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
                },
            })),
            Some("thinking" | "redacted_thinking") => {}
            other => return Err(invalid(format!("assistant content block type {} is not supported", other.unwrap_or("(missing)")))),
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(message)
}

fn anthropic_usage(usage: &Value) -> Value {
    let n = |p: &str| usage.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("/prompt_tokens_details/cached_tokens");
    json!({
        "input_tokens": n("/prompt_tokens").saturating_sub(cached),
        "output_tokens": n("/completion_tokens"),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    })
}

/// An OpenAI chat completion (bytes) as an Anthropic message (bytes).
pub fn to_anthropic_message(completion: &[u8]) -> Result<Bytes, TranslateError> {
    let completion: Value = serde_json::from_slice(completion)
        .map_err(|e| TranslateError::BadAnswer(format!("invalid JSON: {e}")))?;
    let choice = completion.pointer("/choices/0").unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or(Value::Null),
            "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
            "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
        }));
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let message = json!({
        "id": completion.get("id").cloned().unwrap_or(Value::Null),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").cloned().unwrap_or(Value::Null),
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": anthropic_usage(completion.get("usage").unwrap_or(&Value::Null)),
    });
    serde_json::to_vec(&message)
        .map(Bytes::from)
        .map_err(|e| TranslateError::BadAnswer(e.to_string()))
}

/// Translator of the gateway's OpenAI chunks into Anthropic stream events.
pub fn stream_egress(model: &str) -> Box<dyn StreamTranslator> {
    Box::new(AnthropicEgress {
        model: model.to_owned(),
        ..AnthropicEgress::default()
    })
}

#[derive(Default)]
struct AnthropicEgress {
    model: String,
    started: bool,
    /// Index and kind of the open content block.
    open: Option<(usize, OpenBlock)>,
    next_index: usize,
    stop_reason: Option<&'static str>,
    usage: Option<Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text,
    Tool(u64),
}

fn event(kind: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

impl AnthropicEgress {
    fn close(&mut self, out: &mut Vec<Bytes>) {
        if let Some((index, _)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    fn open(&mut self, block: OpenBlock, start: Value, out: &mut Vec<Bytes>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, block));
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        index
    }
}

impl StreamTranslator for AnthropicEgress {
    fn event(&mut self, bytes: Bytes, out: &mut Vec<Bytes>) {
        let Some(data) = sse_data(&bytes) else {
            return;
        };
        if data.trim() == "[DONE]" {
            self.close(out);
            let usage = self
                .usage
                .as_ref()
                .map_or_else(|| json!({"output_tokens": 0}), anthropic_usage);
            out.push(event("message_delta", &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null},
                "usage": {"output_tokens": usage["output_tokens"]},
            })));
            out.push(event("message_stop", &json!({"type": "message_stop"})));
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            return;
        };
        if let Some(error) = chunk.get("error") {
            out.push(event("error", &json!({"type": "error", "error": {
                "type": "api_error",
                "message": error.get("message").cloned().unwrap_or_else(|| json!("upstream failure")),
            }})));
            return;
        }
        if !self.started {
            self.started = true;
            out.push(event(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": chunk.get("id").cloned().unwrap_or(Value::Null),
                    "type": "message", "role": "assistant", "model": self.model, "content": [],
                    "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                }}),
            ));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(usage.clone());
        }
        let choice = chunk.pointer("/choices/0").unwrap_or(&Value::Null);
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = match self.open {
                Some((index, OpenBlock::Text)) => index,
                _ => self.open(OpenBlock::Text, json!({"type": "text", "text": ""}), out),
            };
            out.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tool = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let index = match self.open {
                Some((index, OpenBlock::Tool(t))) if t == tool => index,
                _ => self.open(
                    OpenBlock::Tool(tool),
                    json!({"type": "tool_use", "id": call.get("id").cloned().unwrap_or(Value::Null),
                           "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null), "input": {}}),
                    out,
                ),
            };
            if let Some(partial) = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                out.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": partial}})));
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(stop_reason(finish));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(body: &str) -> Map<String, Value> {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn anthropic_requests_become_openai_requests() {
        let body = json!({
            "model": "claude", "max_tokens": 20, "system": "Be brief.", "stream": true,
            "stop_sequences": ["END"],
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Let me look."}, {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "snow"}, {"type": "text", "text": "And tomorrow?"}]}
            ],
            "tools": [{"name": "w", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"}
        });
        let out = Value::Object(to_openai_request(&object(&body.to_string())).unwrap());
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            messages[2]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Oslo\"}"
        );
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": "t1", "content": "snow"})
        );
        assert_eq!(messages[4]["content"][0]["text"], "And tomorrow?");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["stop"], json!(["END"]));
        assert_eq!(out["tool_choice"], "required");
        assert_eq!(out["tools"][0]["function"]["parameters"]["type"], "object");
    }

    #[test]
    fn missing_max_tokens_is_a_clear_400() {
        let err = to_openai_request(&object(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
        ))
        .unwrap_err();
        assert!(matches!(err, TranslateError::Invalid(_)));
        assert!(err.to_string().contains("max_tokens"));
    }

    #[test]
    fn a_model_that_is_not_a_string_is_refused_in_anthropic_terms() {
        // Found by the messages_request fuzz target: the array passed through and was refused
        // later by the OpenAI validation, with its wording.
        let err = to_openai_request(&object(
            r#"{"model":["m"],"max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#,
        ))
        .unwrap_err();
        assert!(matches!(err, TranslateError::Invalid(_)));
        assert!(err.to_string().starts_with("model: "), "{err}");
    }

    #[test]
    fn chunks_become_the_anthropic_event_sequence() {
        let mut egress = stream_egress("claude");
        let mut out = Vec::new();
        for chunk in [
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": ""}}]}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]}),
            json!({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}),
        ] {
            egress.event(Bytes::from(format!("data: {chunk}\n\n")), &mut out);
        }
        egress.event(Bytes::from_static(b"data: [DONE]\n\n"), &mut out);
        let kinds: Vec<String> = out
            .iter()
            .map(|b| {
                std::str::from_utf8(b)
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
                    .trim_start_matches("event: ")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let delta: Value = serde_json::from_str(&sse_data(&out[7]).unwrap()).unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta["usage"]["output_tokens"], 4);
    }
}
