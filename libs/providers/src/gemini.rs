//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse`: OpenAI chat requests are
//! translated to `contents` + `systemInstruction` + `generationConfig` + function declarations,
//! and answers (plain or streamed) back to OpenAI completions and chunks.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::openai_request::{
    Part, content_parts, max_output_tokens, push_turn, single_choice, stop_sequences, tool_calls,
};
use crate::{Adapter, Call, StreamTranslator, TranslateError, now_unix, sse_data, sse_event};

/// The Gemini adapter.
pub struct Gemini;

fn unsupported(message: impl Into<String>) -> TranslateError {
    TranslateError::Unsupported(message.into())
}

impl Adapter for Gemini {
    fn chat_request(
        &self,
        client: &reqwest::Client,
        call: &Call<'_>,
    ) -> Result<reqwest::RequestBuilder, TranslateError> {
        let body = to_generate_request(call.body)?;
        let body =
            serde_json::to_vec(&body).map_err(|e| TranslateError::Unsupported(e.to_string()))?;
        let url = if call.stream {
            format!(
                "{}/models/{}:streamGenerateContent?alt=sse",
                call.base_url, call.upstream_model
            )
        } else {
            format!(
                "{}/models/{}:generateContent",
                call.base_url, call.upstream_model
            )
        };
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-request-id", call.request_id)
            .body(body);
        if let Some(key) = call.api_key {
            request = request.header("x-goog-api-key", key);
        }
        Ok(request)
    }

    fn chat_response(&self, body: Bytes, model: &str) -> Result<Bytes, TranslateError> {
        let answer: Value =
            serde_json::from_slice(&body).map_err(|e| TranslateError::BadAnswer(e.to_string()))?;
        let candidate = answer
            .pointer("/candidates/0")
            .ok_or_else(|| TranslateError::BadAnswer("no candidates".into()))?;
        let (text, tool_calls) = parts_of(candidate, &mut 0);
        let mut message = json!({
            "role": "assistant",
            "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) },
        });
        let finish = finish_reason(candidate, !tool_calls.is_empty());
        if !tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(tool_calls);
        }
        let completion = json!({
            "id": answer.get("responseId").cloned().unwrap_or_else(|| json!(format!("gemini-{}", now_unix()))),
            "object": "chat.completion",
            "created": now_unix(),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": openai_usage(answer.get("usageMetadata").unwrap_or(&Value::Null)),
        });
        serde_json::to_vec(&completion)
            .map(Bytes::from)
            .map_err(|e| TranslateError::BadAnswer(e.to_string()))
    }

    fn chat_stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        Box::new(GenerateStream {
            model: model.to_owned(),
            id: format!("gemini-{:x}", now_unix()),
            created: now_unix(),
            started: false,
            tools: 0,
            done: false,
        })
    }

    fn trailing_usage(&self, tail: &[u8]) -> Option<Value> {
        crate::tail::outermost_member(tail, "usageMetadata").map(|usage| openai_usage(&usage))
    }
}

/// Translates an OpenAI chat request body into a Gemini `generateContent` body.
pub fn to_generate_request(body: &Map<String, Value>) -> Result<Value, TranslateError> {
    single_choice(body, "Gemini")?;
    let Some(Value::Array(input)) = body.get("messages") else {
        return Err(unsupported("'messages' must be an array"));
    };
    let mut system: Vec<Value> = Vec::new();
    let mut contents: Vec<Value> = Vec::new();
    // Tool results name their function in Gemini; OpenAI only gives the call id.
    let mut call_names: Vec<(String, String)> = Vec::new();
    for message in input {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        let content = message.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => system.extend(parts(content)?),
            "user" => push(&mut contents, "user", parts(content)?),
            "assistant" => {
                let mut p = parts(content)?;
                for call in tool_calls(message)? {
                    if let Some(id) = call.id {
                        call_names.push((id.to_owned(), call.name.to_owned()));
                    }
                    p.push(json!({"functionCall": {"name": call.name, "args": call.arguments}}));
                }
                push(&mut contents, "model", p);
            }
            "tool" | "function" => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let name = call_names
                    .iter()
                    .find(|(i, _)| i == id)
                    .map(|(_, n)| n.clone())
                    .or_else(|| {
                        message
                            .get("name")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .ok_or_else(|| {
                        unsupported("a tool message must answer an earlier tool call")
                    })?;
                let text = match content {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(o)) => Value::Object(o),
                    _ => json!({"content": text}),
                };
                push(
                    &mut contents,
                    "user",
                    vec![json!({"functionResponse": {"name": name, "response": response}})],
                );
            }
            other => {
                return Err(unsupported(format!(
                    "role '{other}' cannot be sent to Gemini"
                )));
            }
        }
    }
    let mut config = Map::new();
    if let Some(max) = max_output_tokens(body) {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
    ] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            config.insert(to.into(), v.clone());
        }
    }
    if let Some(stop) = stop_sequences(body) {
        config.insert("stopSequences".into(), stop);
    }
    if body
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str)
        == Some("json_object")
    {
        config.insert("responseMimeType".into(), json!("application/json"));
    }
    let mut out = json!({"contents": contents});
    if !system.is_empty() {
        out["systemInstruction"] = json!({"parts": system});
    }
    if !config.is_empty() {
        out["generationConfig"] = Value::Object(config);
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        let declarations: Vec<Value> = tools
            .iter()
            .map(|t| {
                let f = t.get("function").unwrap_or(t);
                let mut d = json!({"name": f.get("name").cloned().unwrap_or(Value::Null)});
                for key in ["description", "parameters"] {
                    if let Some(v) = f.get(key) {
                        d[key] = v.clone();
                    }
                }
                d
            })
            .collect();
        out["tools"] = json!([{"functionDeclarations": declarations}]);
    }
    if let Some(choice) = body.get("tool_choice") {
        let config = match choice {
            Value::String(s) if s == "auto" => json!({"mode": "AUTO"}),
            Value::String(s) if s == "required" => json!({"mode": "ANY"}),
            Value::String(s) if s == "none" => json!({"mode": "NONE"}),
            Value::Object(o) => {
                let name = o
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .cloned()
                    .ok_or_else(|| unsupported("tool_choice.function.name is required"))?;
                json!({"mode": "ANY", "allowedFunctionNames": [name]})
            }
            _ => return Err(unsupported("unsupported 'tool_choice'")),
        };
        out["toolConfig"] = json!({"functionCallingConfig": config});
    }
    Ok(out)
}

fn push(contents: &mut Vec<Value>, role: &str, parts: Vec<Value>) {
    push_turn(contents, role, "parts", parts);
}

/// OpenAI message content as Gemini parts.
fn parts(content: &Value) -> Result<Vec<Value>, TranslateError> {
    Ok(content_parts(content, "Gemini")?
        .into_iter()
        .map(|part| match part {
            Part::Text { text, .. } => json!({"text": text}),
            Part::ImageData { mime, data } => {
                json!({"inlineData": {"mimeType": mime, "data": data}})
            }
            Part::ImageUrl(url) => json!({"fileData": {"fileUri": url}}),
        })
        .collect())
}

/// Text and OpenAI tool calls of a candidate; `next_tool` numbers the generated call ids.
fn parts_of(candidate: &Value, next_tool: &mut usize) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            text.push_str(t);
        }
        if let Some(call) = part.get("functionCall") {
            calls.push(json!({
                "index": *next_tool,
                "id": format!("call_{}", *next_tool),
                "type": "function",
                "function": {
                    "name": call.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": call.get("args").map_or_else(|| "{}".to_owned(), Value::to_string),
                },
            }));
            *next_tool += 1;
        }
    }
    (text, calls)
}

fn finish_reason(candidate: &Value, has_tool_calls: bool) -> Value {
    let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) else {
        return Value::Null;
    };
    let mapped = match reason {
        _ if has_tool_calls => "tool_calls",
        "STOP" => "stop",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ => "stop",
    };
    Value::String(mapped.into())
}

/// Gemini `usageMetadata` as OpenAI usage (thinking tokens count as output).
pub fn openai_usage(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("promptTokenCount");
    let completion = n("candidatesTokenCount") + n("thoughtsTokenCount");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": n("cachedContentTokenCount")},
    })
}

/// Gemini SSE (one `GenerateContentResponse` per event, no terminator) -> OpenAI chunks; the
/// event carrying `finishReason` ends the answer (usage chunk and `[DONE]`).
struct GenerateStream {
    model: String,
    id: String,
    created: u64,
    started: bool,
    tools: usize,
    done: bool,
}

impl GenerateStream {
    fn chunk(&self, delta: Value, finish: Value) -> Bytes {
        sse_event(&json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }))
    }
}

impl StreamTranslator for GenerateStream {
    fn event(&mut self, event: Bytes, out: &mut Vec<Bytes>) {
        let Some(data) = sse_data(&event) else {
            return;
        };
        let Ok(value) = serde_json::from_str::<Value>(&data) else {
            return;
        };
        if self.done {
            return;
        }
        if let Some(error) = value.get("error") {
            out.push(sse_event(&json!({"error": {
                "message": error.get("message").cloned().unwrap_or_else(|| json!("provider stream error")),
                "type": "upstream_error",
                "code": "upstream_failed",
            }})));
            return;
        }
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), Value::Null));
        }
        let candidate = value.pointer("/candidates/0").unwrap_or(&Value::Null);
        let had_tools = self.tools > 0;
        let (text, calls) = parts_of(candidate, &mut self.tools);
        if !text.is_empty() {
            out.push(self.chunk(json!({"content": text}), Value::Null));
        }
        if !calls.is_empty() {
            out.push(self.chunk(json!({"tool_calls": calls}), Value::Null));
        }
        let finish = finish_reason(candidate, had_tools || self.tools > 0);
        if !finish.is_null() {
            self.done = true;
            out.push(self.chunk(json!({}), finish));
            out.push(sse_event(&json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [],
                "usage": openai_usage(value.get("usageMetadata").unwrap_or(&Value::Null)),
            })));
            out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_roles_tools_and_results() {
        let Value::Object(body) = json!({
            "model": "g", "max_tokens": 64, "temperature": 0.1, "stop": ["X"],
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,BBBB"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "find", "arguments": "{\"q\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "{\"hits\":2}"},
                {"role": "tool", "tool_call_id": "c1", "content": "plain"}
            ],
            "tools": [{"type": "function", "function": {"name": "find", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "find"}}
        }) else {
            unreachable!()
        };
        let out = to_generate_request(&body).unwrap();
        assert_eq!(out["systemInstruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(out["generationConfig"]["maxOutputTokens"], 64);
        assert_eq!(out["generationConfig"]["stopSequences"], json!(["X"]));
        let contents = out["contents"].as_array().unwrap();
        assert_eq!(contents.len(), 3);
        assert_eq!(
            contents[0]["parts"][1]["inlineData"]["mimeType"],
            "image/jpeg"
        );
        assert_eq!(contents[1]["role"], "model");
        assert_eq!(contents[1]["parts"][0]["functionCall"]["args"]["q"], 1);
        assert_eq!(contents[2]["parts"][0]["functionResponse"]["name"], "find");
        assert_eq!(
            contents[2]["parts"][0]["functionResponse"]["response"]["hits"],
            2
        );
        assert_eq!(
            contents[2]["parts"][1]["functionResponse"]["response"]["content"],
            "plain"
        );
        assert_eq!(out["tools"][0]["functionDeclarations"][0]["name"], "find");
        assert_eq!(
            out["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"][0],
            "find"
        );
    }

    #[test]
    fn answers_and_streams_translate_back() {
        let answer = json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi "}, {"text": "there"}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 2, "thoughtsTokenCount": 3, "cachedContentTokenCount": 4}
        });
        let out: Value = serde_json::from_slice(
            &Gemini
                .chat_response(Bytes::from(answer.to_string()), "alias")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out["choices"][0]["message"]["content"], "Hi there");
        assert_eq!(out["choices"][0]["finish_reason"], "length");
        assert_eq!(out["usage"]["completion_tokens"], 5);
        assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 4);

        let mut t = Gemini.chat_stream("alias");
        let mut chunks = Vec::new();
        for e in [
            json!({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}),
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP"}],
                   "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7}}),
        ] {
            t.event(Bytes::from(format!("data: {e}\r\n\r\n")), &mut chunks);
        }
        let data: Vec<String> = chunks
            .iter()
            .map(|b| sse_data(b).unwrap().into_owned())
            .collect();
        assert_eq!(data.last().unwrap(), "[DONE]");
        let parsed: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(parsed[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(
            parsed[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(parsed[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(parsed[4]["usage"]["completion_tokens"], 7);
    }
}
