//! Anthropic Messages API: OpenAI chat requests are translated to `/v1/messages` (system
//! prompt, multi-part content, tool calls and results, stop sequences) and answers back,
//! including the streaming event sequence (`message_start` ... `message_stop`) into OpenAI
//! chunks.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::openai_request::{
    Part, content_parts, max_output_tokens, push_turn, single_choice, stop_sequences, tool_calls,
};
use crate::{Adapter, Call, StreamTranslator, TranslateError, now_unix, sse_data, sse_event};

/// `anthropic-version` used when the provider config sets none.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// The Anthropic adapter.
pub struct Anthropic;

impl Adapter for Anthropic {
    fn chat_request(
        &self,
        client: &reqwest::Client,
        call: &Call<'_>,
    ) -> Result<reqwest::RequestBuilder, TranslateError> {
        let body = to_messages_request(call.body, call.default_max_tokens)?;
        let body =
            serde_json::to_vec(&body).map_err(|e| TranslateError::Unsupported(e.to_string()))?;
        let mut request = client
            .post(format!("{}/messages", call.base_url))
            .header("content-type", "application/json")
            .header(
                "anthropic-version",
                call.api_version.unwrap_or(DEFAULT_VERSION),
            )
            .header("x-request-id", call.request_id)
            .body(body);
        if let Some(key) = call.api_key {
            request = request.header("x-api-key", key);
        }
        Ok(request)
    }

    fn chat_response(&self, body: Bytes, model: &str) -> Result<Bytes, TranslateError> {
        let message: Value =
            serde_json::from_slice(&body).map_err(|e| TranslateError::BadAnswer(e.to_string()))?;
        let completion = to_chat_completion(&message, model)?;
        serde_json::to_vec(&completion)
            .map(Bytes::from)
            .map_err(|e| TranslateError::BadAnswer(e.to_string()))
    }

    fn chat_stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        Box::new(MessagesStream {
            model: model.to_owned(),
            ..MessagesStream::default()
        })
    }

    fn trailing_usage(&self, tail: &[u8]) -> Option<Value> {
        crate::tail::outermost_member(tail, "usage").map(|usage| openai_usage(&usage))
    }
}

fn unsupported(message: impl Into<String>) -> TranslateError {
    TranslateError::Unsupported(message.into())
}

/// Translates an OpenAI chat request body into an Anthropic Messages request body
/// (`default_max_tokens` when the client set no limit: Anthropic requires one).
pub fn to_messages_request(
    body: &Map<String, Value>,
    default_max_tokens: u32,
) -> Result<Value, TranslateError> {
    single_choice(body, "Anthropic")?;
    let mut system: Vec<Value> = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    let Some(Value::Array(input)) = body.get("messages") else {
        return Err(unsupported("'messages' must be an array"));
    };
    for message in input {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        let content = message.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.extend(content_blocks(content)?),
            "user" => push(&mut messages, "user", content_blocks(content)?),
            "assistant" => {
                let mut blocks = content_blocks(content)?;
                for call in tool_calls(message)? {
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": call.arguments,
                    }));
                }
                push(&mut messages, "assistant", blocks);
            }
            "tool" | "function" => {
                let id = message
                    .get("tool_call_id")
                    .cloned()
                    .ok_or_else(|| unsupported("tool messages need 'tool_call_id'"))?;
                let result = json!({
                    "type": "tool_result",
                    "tool_use_id": id,
                    "content": content_blocks(content)?,
                });
                push(&mut messages, "user", vec![result]);
            }
            other => {
                return Err(unsupported(format!(
                    "role '{other}' cannot be sent to Anthropic"
                )));
            }
        }
    }
    let max_tokens = max_output_tokens(body).unwrap_or(u64::from(default_max_tokens));
    let mut out = Map::new();
    out.insert(
        "model".into(),
        body.get("model").cloned().unwrap_or(Value::Null),
    );
    out.insert("max_tokens".into(), json!(max_tokens));
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stream", "stream"),
    ] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    if let Some(stop) = stop_sequences(body) {
        out.insert("stop_sequences".into(), stop);
    }
    if let Some(user) = body.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = t.get("function").unwrap_or(t);
                let mut tool = json!({
                    "name": f.get("name").cloned().unwrap_or(Value::Null),
                    "input_schema": f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"})),
                });
                if let Some(d) = f.get("description") {
                    tool["description"] = d.clone();
                }
                tool
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = body.get("tool_choice") {
        let mapped = match choice {
            Value::String(s) if s == "auto" => json!({"type": "auto"}),
            Value::String(s) if s == "required" => json!({"type": "any"}),
            Value::String(s) if s == "none" => json!({"type": "none"}),
            Value::Object(o) => {
                let name = o.get("function").and_then(|f| f.get("name")).cloned();
                json!({"type": "tool", "name": name.ok_or_else(|| unsupported("tool_choice.function.name is required"))?})
            }
            _ => return Err(unsupported("unsupported 'tool_choice'")),
        };
        out.insert("tool_choice".into(), mapped);
    }
    Ok(Value::Object(out))
}

fn push(messages: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    push_turn(messages, role, "content", blocks);
}

/// OpenAI message content (a string or parts) as Anthropic content blocks.
fn content_blocks(content: &Value) -> Result<Vec<Value>, TranslateError> {
    Ok(content_parts(content, "Anthropic")?
        .into_iter()
        .map(|part| match part {
            Part::Text { text, part } => {
                let mut block = json!({"type": "text", "text": text});
                if let Some(cache) = part.and_then(|p| p.get("cache_control")) {
                    block["cache_control"] = cache.clone();
                }
                block
            }
            Part::ImageData { mime, data } => json!({"type": "image", "source":
                {"type": "base64", "media_type": mime, "data": data}}),
            Part::ImageUrl(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
        })
        .collect())
}

/// Anthropic `stop_reason` as an OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// An OpenAI `finish_reason` as an Anthropic `stop_reason` (the inverse of [`finish_reason`]).
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic usage as OpenAI usage: the prompt includes cache reads and writes.
pub fn openai_usage(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let prompt = n("input_tokens") + cached + n("cache_creation_input_tokens");
    let completion = n("output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

fn to_chat_completion(message: &Value, model: &str) -> Result<Value, TranslateError> {
    let Some(blocks) = message.get("content").and_then(Value::as_array) else {
        return Err(TranslateError::BadAnswer("no 'content' array".into()));
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => tool_calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
                },
            })),
            _ => {}
        }
    }
    let mut reply = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) },
    });
    if !tool_calls.is_empty() {
        reply["tool_calls"] = Value::Array(tool_calls);
    }
    let stop = message
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    Ok(json!({
        "id": message.get("id").cloned().unwrap_or(Value::Null),
        "object": "chat.completion",
        "created": now_unix(),
        "model": model,
        "choices": [{"index": 0, "message": reply, "finish_reason": finish_reason(stop)}],
        "usage": openai_usage(message.get("usage").unwrap_or(&Value::Null)),
    }))
}

/// Anthropic stream -> OpenAI chunks.
#[derive(Default)]
struct MessagesStream {
    model: String,
    id: Value,
    created: u64,
    usage: Map<String, Value>,
    /// Anthropic content-block index -> OpenAI tool-call index.
    tool_index: Vec<(u64, usize)>,
    tools: usize,
}

impl MessagesStream {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Bytes {
        sse_event(&self.chunk_value(delta, finish))
    }

    fn chunk_value(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let Some(Value::Object(u)) = usage {
            for (k, v) in u {
                if !v.is_null() {
                    self.usage.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

impl StreamTranslator for MessagesStream {
    fn event(&mut self, event: Bytes, out: &mut Vec<Bytes>) {
        let Some(data) = sse_data(&event) else {
            return;
        };
        let Ok(value) = serde_json::from_str::<Value>(&data) else {
            return;
        };
        match value.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                let message = value.get("message").unwrap_or(&Value::Null);
                self.id = message.get("id").cloned().unwrap_or(Value::Null);
                self.created = now_unix();
                self.merge_usage(message.get("usage"));
                // The prompt's usage as the provider counted it, known before any output: a
                // stream cut short is billed from it rather than from an estimate.
                let mut first = self.chunk_value(json!({"role": "assistant", "content": ""}), None);
                first["usage"] = openai_usage(&Value::Object(self.usage.clone()));
                out.push(sse_event(&first));
            }
            "content_block_start" => {
                let block = value.get("content_block").unwrap_or(&Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let tool = self.tools;
                    self.tools += 1;
                    self.tool_index.push((index, tool));
                    out.push(self.chunk(
                        json!({"tool_calls": [{
                            "index": tool,
                            "id": block.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {"name": block.get("name").cloned().unwrap_or(Value::Null), "arguments": ""},
                        }]}),
                        None,
                    ));
                }
            }
            "content_block_delta" => {
                let delta = value.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = delta.get("text").cloned().unwrap_or_default();
                        out.push(self.chunk(json!({"content": text}), None));
                    }
                    Some("input_json_delta") => {
                        let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                        if let Some(&(_, tool)) = self.tool_index.iter().find(|(i, _)| *i == index)
                        {
                            let partial = delta.get("partial_json").cloned().unwrap_or_default();
                            out.push(self.chunk(
                                json!({"tool_calls": [{"index": tool, "function": {"arguments": partial}}]}),
                                None,
                            ));
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                self.merge_usage(value.get("usage"));
                let stop = value
                    .pointer("/delta/stop_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                out.push(self.chunk(json!({}), Some(finish_reason(stop))));
            }
            "message_stop" => {
                out.push(sse_event(&json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": openai_usage(&Value::Object(self.usage.clone())),
                })));
                out.push(Bytes::from_static(b"data: [DONE]\n\n"));
            }
            "error" => {
                let error = value.get("error").cloned().unwrap_or(Value::Null);
                out.push(sse_event(&json!({"error": {
                    "message": error.get("message").cloned().unwrap_or_else(|| json!("provider stream error")),
                    "type": error.get("type").cloned().unwrap_or_else(|| json!("upstream_error")),
                    "code": "upstream_failed",
                }})));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v: Value) -> Value {
        let Value::Object(map) = v else {
            unreachable!()
        };
        to_messages_request(&map, 1024).unwrap()
    }

    #[test]
    fn translates_system_parts_tools_and_tool_results() {
        let out = request(json!({
            "model": "claude-x",
            "max_tokens": 100,
            "stop": "END",
            "temperature": 0.5,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
                {"role": "user", "content": "Thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "lookup", "description": "d", "parameters": {"type": "object"}}}],
            "tool_choice": "required"
        }));
        assert_eq!(
            out["system"],
            json!([{"type": "text", "text": "Be brief."}])
        );
        assert_eq!(out["max_tokens"], 100);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            3,
            "tool result and next user turn merge: {messages:?}"
        );
        assert_eq!(
            messages[0]["content"][1]["source"]["media_type"],
            "image/png"
        );
        assert_eq!(messages[1]["content"][0]["type"], "tool_use");
        assert_eq!(messages[1]["content"][0]["input"]["q"], "cat");
        assert_eq!(messages[2]["content"][0]["type"], "tool_result");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], "call_1");
        assert_eq!(messages[2]["content"][1]["text"], "Thanks");
        assert_eq!(out["tools"][0]["input_schema"]["type"], "object");
        assert_eq!(out["tool_choice"]["type"], "any");
    }

    #[test]
    fn default_max_tokens_is_set() {
        let out = request(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(out["max_tokens"], 1024);
    }

    #[test]
    fn answers_become_chat_completions_with_cached_tokens() {
        let answer = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "Hello"}, {"type": "tool_use", "id": "tu_1", "name": "f", "input": {"a": 1}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 2}
        });
        let out: Value = serde_json::from_slice(
            &Anthropic
                .chat_response(Bytes::from(answer.to_string()), "alias")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["choices"][0]["message"]["content"], "Hello");
        assert_eq!(
            out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(out["usage"]["prompt_tokens"], 42);
        assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 30);
        assert_eq!(out["model"], "alias");
    }

    #[test]
    fn stream_events_become_chunks_usage_and_done() {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu", "name": "f"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
            json!({"type": "ping"}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}}),
            json!({"type": "message_stop"}),
        ];
        let mut translator = Anthropic.chat_stream("alias");
        let mut out = Vec::new();
        for e in events {
            let kind = e["type"].as_str().unwrap().to_owned();
            translator.event(
                Bytes::from(format!("event: {kind}\ndata: {e}\n\n")),
                &mut out,
            );
        }
        let data: Vec<String> = out
            .iter()
            .map(|b| sse_data(b).unwrap().into_owned())
            .collect();
        assert_eq!(data.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["id"],
            "tu"
        );
        assert_eq!(
            chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":"
        );
        assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[5]["usage"]["prompt_tokens"], 12);
        assert_eq!(chunks[5]["usage"]["completion_tokens"], 7);
    }
}
