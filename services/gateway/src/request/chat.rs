//! Parsing and validation of an OpenAI Chat Completions request.
//!
//! The body is kept as a JSON object so every field the client sent reaches the upstream
//! unchanged; only `model` (and, for streams, `stream_options.include_usage`) is rewritten.

use serde_json::{Map, Value};
use tollgate_billing::{ChatMessageText, Tokenizer};

use prometheus_client::metrics::counter::Counter;
use uuid::Uuid;

use super::counting;
use crate::error::ApiError;

/// Most choices (`n`) a request may ask for (OpenAI's own limit).
pub const MAX_CHOICES: u64 = 128;

/// Tokens one image in a prompt is taken to cost at most, whatever its size: above OpenAI's
/// largest high-detail image (8 tiles x 170 + 85 = 1,445) and Anthropic's (about 1,600 for
/// 1.15 megapixels at 750 pixels a token).
pub const IMAGE_TOKEN_BOUND: u32 = 1_600;

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// The tokens of a prompt made of `texts`, the JSON `extras` and `images` images.
fn count_prompt(tokenizer: Tokenizer, texts: &[MessageText], extras: &str, images: u32) -> u32 {
    tokenizer
        .count_chat_prompt(texts.iter().map(MessageText::as_chat_text))
        .saturating_add(tokenizer.count_text(extras))
        .saturating_add(images.saturating_mul(IMAGE_TOKEN_BOUND))
}

/// A validated chat request.
#[derive(Debug)]
pub struct ChatRequest {
    body: Map<String, Value>,
    /// The model asked for.
    pub model: String,
    /// Whether the client wants SSE.
    pub stream: bool,
    /// Whether the client asked for the final usage chunk.
    pub include_usage: bool,
    /// [`ChatRequest::prompt_extras`], gathered once (admission, the token limit and the
    /// fallback bill all read it).
    extras: std::sync::OnceLock<(String, u32)>,
    /// [`ChatRequest::prompt_token_upper_bound`], computed once.
    bound: std::sync::OnceLock<u32>,
    /// The prompt's tokens and the tokenizer that counted them, counted once per request.
    counted: std::sync::OnceLock<(Tokenizer, u32)>,
}

/// One message's text, for token counting.
#[derive(Debug)]
pub struct MessageText {
    role: String,
    content: String,
    name: Option<String>,
}

impl MessageText {
    /// Borrowed view for the tokenizer.
    pub fn as_chat_text(&self) -> ChatMessageText<'_> {
        ChatMessageText {
            role: &self.role,
            content: &self.content,
            name: self.name.as_deref(),
        }
    }
}

/// A request body as a JSON object (400 `invalid_json` when it is not one).
pub fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid(
            format!("request body is not valid JSON: {e}"),
            "invalid_json",
            None,
        )
    })?;
    let Value::Object(body) = value else {
        return Err(ApiError::invalid(
            "request body must be a JSON object",
            "invalid_json",
            None,
        ));
    };
    Ok(body)
}

fn invalid(message: impl Into<String>, param: &'static str) -> ApiError {
    ApiError::invalid(message, "invalid_request", Some(param))
}

impl ChatRequest {
    /// The request body as the client sent it.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    /// Parses and validates the body.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        Self::from_body(json_object(bytes)?)
    }

    /// Validates a body already parsed (a translated Anthropic request, say).
    pub fn from_body(body: Map<String, Value>) -> Result<Self, ApiError> {
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            Some(_) => return Err(invalid("'model' must be a non-empty string", "model")),
            None => return Err(invalid("missing required parameter 'model'", "model")),
        };
        crate::client_text::chat_request(&body)?;
        match body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {
                for (i, message) in messages.iter().enumerate() {
                    validate_message(i, message)?;
                }
            }
            Some(Value::Array(_)) => {
                return Err(invalid("'messages' must not be empty", "messages"));
            }
            Some(_) => return Err(invalid("'messages' must be an array", "messages")),
            None => return Err(invalid("missing required parameter 'messages'", "messages")),
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("'stream' must be a boolean", "stream")),
        };
        let include_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) => {
                if !stream {
                    return Err(invalid(
                        "'stream_options' is only allowed when 'stream' is true",
                        "stream_options",
                    ));
                }
                match options.get("include_usage") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(invalid(
                            "'stream_options.include_usage' must be a boolean",
                            "stream_options",
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(invalid(
                    "'stream_options' must be an object",
                    "stream_options",
                ));
            }
        };
        for param in ["max_tokens", "max_completion_tokens"] {
            match body.get(param) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {}
                Some(_) => {
                    return Err(ApiError::invalid(
                        format!("'{param}' must be a positive integer"),
                        "invalid_request",
                        Some(if param == "max_tokens" {
                            "max_tokens"
                        } else {
                            "max_completion_tokens"
                        }),
                    ));
                }
            }
        }
        match body.get("n") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n))
                if n.as_u64().is_some_and(|n| (1..=MAX_CHOICES).contains(&n)) => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    format!("'n' must be an integer from 1 to {MAX_CHOICES}"),
                    "invalid_request",
                    Some("n"),
                ));
            }
        }
        Ok(Self {
            body,
            model,
            stream,
            include_usage,
            extras: std::sync::OnceLock::new(),
            bound: std::sync::OnceLock::new(),
            counted: std::sync::OnceLock::new(),
        })
    }

    /// What the prompt holds besides the messages' text, as the provider reads it: the tools
    /// and functions offered, the response format, the tool choice, the tool calls in the
    /// history and every content part that is neither text nor an image (files, audio: data
    /// included), as JSON text; and the number of images.
    pub fn prompt_extras(&self) -> (&str, u32) {
        let (json, images) = self.extras.get_or_init(|| self.gather_extras());
        (json, *images)
    }

    fn gather_extras(&self) -> (String, u32) {
        let mut json = String::new();
        for field in ["tools", "functions", "response_format", "tool_choice"] {
            if let Some(value) = self.body.get(field).filter(|v| !v.is_null()) {
                json.push_str(&value.to_string());
            }
        }
        let mut images = 0u32;
        if let Some(Value::Array(messages)) = self.body.get("messages") {
            for message in messages {
                for field in ["tool_calls", "function_call"] {
                    if let Some(value) = message.get(field).filter(|v| !v.is_null()) {
                        json.push_str(&value.to_string());
                    }
                }
                if let Some(Value::Array(parts)) = message.get("content") {
                    for part in parts {
                        match part.get("type").and_then(Value::as_str) {
                            Some("text") => {}
                            Some("image_url" | "image" | "input_image") => {
                                images = images.saturating_add(1);
                            }
                            // Files, audio and whatever else: their JSON, data included.
                            _ => json.push_str(&part.to_string()),
                        }
                    }
                }
            }
        }
        (json, images)
    }

    /// Text of every message, for counting prompt tokens.
    pub fn message_texts(&self) -> Vec<MessageText> {
        let Some(Value::Array(messages)) = self.body.get("messages") else {
            return Vec::new();
        };
        messages
            .iter()
            .map(|m| MessageText {
                role: m
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                content: m.get("content").map(content_text).unwrap_or_default(),
                name: m.get("name").and_then(Value::as_str).map(str::to_owned),
            })
            .collect()
    }

    /// `max_completion_tokens` or `max_tokens`, if the client set one.
    pub fn max_output_tokens(&self) -> Option<u32> {
        ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|p| self.body.get(*p).and_then(Value::as_u64))
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The prompt's tokens, counted with `tokenizer`: every message's text (OpenAI's chat
    /// formula), the JSON of [`ChatRequest::prompt_extras`] and [`IMAGE_TOKEN_BOUND`] per image.
    /// Counted once; on the calling thread unless [`ChatRequest::count_prompt`] counted it.
    pub fn prompt_tokens(&self, tokenizer: Tokenizer) -> u32 {
        if let Some(count) = self.counted_prompt(tokenizer) {
            return count;
        }
        let (json, images) = self.prompt_extras();
        let count = count_prompt(tokenizer, &self.message_texts(), json, images);
        let _ = self.counted.set((tokenizer, count));
        count
    }

    /// The prompt's tokens with `tokenizer`, if they were counted already.
    pub fn counted_prompt(&self, tokenizer: Tokenizer) -> Option<u32> {
        self.counted
            .get()
            .filter(|(by, _)| *by == tokenizer)
            .map(|(_, count)| *count)
    }

    /// Whether counting the prompt with `tokenizer` would hold an HTTP worker (a long prompt,
    /// or an encoder not built yet) and has not been done.
    pub fn is_heavy_to_count(&self, tokenizer: Tokenizer) -> bool {
        self.counted_prompt(tokenizer).is_none()
            && counting::is_heavy(tokenizer, self.prompt_token_upper_bound())
    }

    /// Counts the prompt now ([`ChatRequest::prompt_tokens`] then reuses it), off the HTTP
    /// worker when that would hold it (a long prompt, or an encoder not built yet), in
    /// `tenant`'s turn ([`counting::off_worker`]); `counted` counts those. Refused (503) when
    /// the tenant has [`counting::MAX_QUEUED_PER_TENANT`] counts queued already; should the
    /// count fail to run there otherwise (the runtime shutting down), it runs here.
    pub async fn count_prompt(
        &self,
        tokenizer: Tokenizer,
        tenant: Uuid,
        counted: &Counter,
    ) -> Result<u32, ApiError> {
        if !self.is_heavy_to_count(tokenizer) {
            return Ok(self.prompt_tokens(tokenizer));
        }
        let texts = self.message_texts();
        let (json, images) = self.prompt_extras();
        let json = json.to_owned();
        let off = counting::off_worker(counted, tenant, move || {
            count_prompt(tokenizer, &texts, &json, images)
        });
        match off.await {
            Ok(count) => {
                let _ = self.counted.set((tokenizer, count));
                Ok(count)
            }
            Err(err @ ApiError::Unavailable(_)) => Err(err),
            Err(err) => {
                tracing::warn!(error = %err, "prompt counted on the worker");
                Ok(self.prompt_tokens(tokenizer))
            }
        }
    }

    /// [`ChatRequest::count_prompt`] for a bill: work a provider did is counted whatever the
    /// queue holds (on the worker if the tenant's queue is full).
    pub async fn count_prompt_to_bill(
        &self,
        tokenizer: Tokenizer,
        tenant: Uuid,
        counted: &Counter,
    ) -> u32 {
        match self.count_prompt(tokenizer, tenant, counted).await {
            Ok(count) => count,
            Err(_) => self.prompt_tokens(tokenizer),
        }
    }

    /// The output tokens admission reserves and an unreported answer is billed at: the
    /// request's limit (else `default_max_tokens`) for each of its `n` choices.
    pub fn output_reserve(&self, default_max_tokens: u32) -> u32 {
        let choices = self
            .body
            .get("n")
            .and_then(Value::as_u64)
            .map_or(1, |n| u32::try_from(n.max(1)).unwrap_or(u32::MAX));
        self.max_output_tokens()
            .unwrap_or(default_max_tokens)
            .saturating_mul(choices)
    }

    /// An upper bound of the prompt's tokens without tokenizing: a token is at least one byte,
    /// plus the chat format's per-message overhead.
    pub fn prompt_token_upper_bound(&self) -> u32 {
        *self.bound.get_or_init(|| self.upper_bound())
    }

    fn upper_bound(&self) -> u32 {
        let Some(Value::Array(messages)) = self.body.get("messages") else {
            return 3;
        };
        let bytes: usize = messages
            .iter()
            .map(|m| {
                let text = |field: &str| {
                    m.get(field).map_or(0, |v| match v {
                        Value::String(s) => s.len(),
                        other => other.to_string().len(),
                    })
                };
                4 + text("role") + text("content") + text("name")
            })
            .sum();
        let (json, images) = self.prompt_extras();
        u32::try_from(bytes + 3 + json.len())
            .unwrap_or(u32::MAX)
            .saturating_add(images.saturating_mul(IMAGE_TOKEN_BOUND))
    }

    /// Deployment or provider names the client narrowed the route to (`provider_preference`,
    /// a string or an array of strings); empty = no preference.
    pub fn provider_preference(&self) -> Result<Vec<String>, ApiError> {
        match self.body.get("provider_preference") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_owned).ok_or_else(|| {
                        invalid(
                            "'provider_preference' must be a string or an array of strings",
                            "provider_preference",
                        )
                    })
                })
                .collect(),
            Some(_) => Err(invalid(
                "'provider_preference' must be a string or an array of strings",
                "provider_preference",
            )),
        }
    }

    /// The body sent upstream: the client's body with the upstream model name, without the
    /// gateway's own fields, for streams `include_usage` on (so the provider reports usage we
    /// can bill), and capped at `default_max_tokens` per choice in `limit_field` (the route's
    /// `max_tokens` or `max_completion_tokens`; the Anthropic and Gemini adapters translate
    /// either) when the client set no limit, so no provider writes more than admission
    /// reserved.
    pub fn upstream_body(
        &self,
        upstream_model: &str,
        (limit_field, default_max_tokens): (&'static str, u32),
    ) -> Map<String, Value> {
        let mut body = self.body.clone();
        body.remove("provider_preference");
        body.insert("model".into(), Value::String(upstream_model.to_owned()));
        if self.max_output_tokens().is_none() {
            body.insert(limit_field.into(), Value::from(default_max_tokens));
        }
        if self.stream {
            let options = body
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(options) = options {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        }
        body
    }
}

fn validate_message(index: usize, message: &Value) -> Result<(), ApiError> {
    let Value::Object(message) = message else {
        return Err(invalid(
            format!("messages[{index}] must be an object"),
            "messages",
        ));
    };
    match message.get("role") {
        Some(Value::String(role)) if ROLES.contains(&role.as_str()) => {}
        Some(Value::String(role)) => {
            return Err(invalid(
                format!("messages[{index}].role '{role}' is not one of {ROLES:?}"),
                "messages",
            ));
        }
        _ => {
            return Err(invalid(
                format!("messages[{index}].role is required"),
                "messages",
            ));
        }
    }
    match message.get("content") {
        None | Some(Value::Null | Value::String(_) | Value::Array(_)) => Ok(()),
        Some(_) => Err(invalid(
            format!("messages[{index}].content must be a string or an array of parts"),
            "messages",
        )),
    }
}

/// A message content's text: the string itself, or the text parts of a multi-part array.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ChatRequest, ApiError> {
        ChatRequest::parse(json.as_bytes())
    }

    #[test]
    fn accepts_a_plain_request_and_keeps_unknown_fields() -> Result<(), ApiError> {
        let r = parse(
            r#"{"model":"demo-small","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x_vendor":{"a":1}}"#,
        )?;
        assert_eq!(r.model, "demo-small");
        assert!(!r.stream);
        let upstream = Value::Object(r.upstream_body("mock-small", ("max_completion_tokens", 64)));
        assert_eq!(upstream["model"], "mock-small");
        assert_eq!(upstream["temperature"], 0.2);
        assert_eq!(upstream["x_vendor"]["a"], 1);
        assert!(upstream.get("stream_options").is_none());
        // No limit from the client: the default caps what the provider writes.
        assert_eq!(upstream["max_completion_tokens"], 64);
        let capped =
            parse(r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}"#)?;
        let upstream = capped.upstream_body("m", ("max_completion_tokens", 64));
        assert_eq!(upstream["max_tokens"], 9);
        assert!(upstream.get("max_completion_tokens").is_none());
        Ok(())
    }

    #[test]
    fn streams_always_ask_upstream_for_usage() -> Result<(), ApiError> {
        let r =
            parse(r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#)?;
        assert!(r.stream && !r.include_usage);
        let upstream = Value::Object(r.upstream_body("m", ("max_tokens", 64)));
        assert_eq!(upstream["stream_options"]["include_usage"], true);
        Ok(())
    }

    #[test]
    fn provider_preference_is_read_and_never_sent_upstream() -> Result<(), ApiError> {
        let r = parse(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"provider_preference":["a","b"]}"#,
        )?;
        assert_eq!(r.provider_preference()?, ["a", "b"]);
        assert!(
            r.upstream_body("m", ("max_tokens", 64))
                .get("provider_preference")
                .is_none()
        );
        let bad = parse(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"provider_preference":[1]}"#,
        )?;
        assert!(bad.provider_preference().is_err());
        Ok(())
    }

    #[test]
    fn rejects_bad_requests_with_the_parameter_named() {
        let cases = [
            ("not json", None),
            ("[1]", None),
            (
                r#"{"messages":[{"role":"user","content":"x"}]}"#,
                Some("model"),
            ),
            (r#"{"model":"m"}"#, Some("messages")),
            (r#"{"model":"m","messages":[]}"#, Some("messages")),
            (
                r#"{"model":"m","messages":[{"content":"x"}]}"#,
                Some("messages"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#,
                Some("messages"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
                Some("messages"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
                Some("stream"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
                Some("max_tokens"),
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}"#,
                Some("stream_options"),
            ),
        ];
        for (body, param) in cases {
            match parse(body) {
                Err(ApiError::InvalidRequest { param: p, .. }) => assert_eq!(p, param, "{body}"),
                other => unreachable!("{body} gave {other:?}"),
            }
        }
    }

    #[test]
    fn tools_response_format_tool_calls_and_images_count_in_the_prompt() -> Result<(), ApiError> {
        let tokenizer = tollgate_billing::Tokenizer::default();
        let plain = parse(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)?;
        let tools = r#"[{"type":"function","function":{"name":"lookup","description":"Looks a word up in a very long dictionary","parameters":{"type":"object","properties":{"word":{"type":"string"}}}}}]"#;
        let heavy = parse(&format!(
            r#"{{"model":"m","tools":{tools},"response_format":{{"type":"json_object"}},"messages":[
                {{"role":"user","content":[{{"type":"text","text":"hi"}},{{"type":"image_url","image_url":{{"url":"https://x/a.png"}}}}]}},
                {{"role":"assistant","content":null,"tool_calls":[{{"id":"c1","type":"function","function":{{"name":"lookup","arguments":"{{\"word\":\"hi\"}}"}}}}]}}]}}"#
        ))?;
        let (json, images) = heavy.prompt_extras();
        assert!(json.contains("dictionary") && json.contains("json_object") && json.contains("c1"));
        assert_eq!(images, 1);
        let counted = heavy.prompt_tokens(tokenizer);
        assert!(
            counted
                > plain.prompt_tokens(tokenizer)
                    + IMAGE_TOKEN_BOUND
                    + tokenizer.count_text(tools) / 2,
            "{counted}"
        );
        // The cheap bound stays an upper bound of the count.
        assert!(heavy.prompt_token_upper_bound() >= counted);
        Ok(())
    }

    #[test]
    fn n_is_a_whole_number_of_choices_within_the_limit() {
        for n in ["-3", "0", "129", "1.5", "\"x\"", "true"] {
            let err = parse(&format!(
                r#"{{"model":"m","n":{n},"messages":[{{"role":"user","content":"x"}}]}}"#
            ))
            .expect_err(n);
            assert!(err.to_string().contains("'n'"), "{n}: {err}");
        }
        let eight = parse(
            r#"{"model":"m","n":8,"max_tokens":10,"messages":[{"role":"user","content":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(eight.output_reserve(1024), 80);
    }

    #[test]
    fn multi_part_content_counts_text_parts_only() -> Result<(), ApiError> {
        let r = parse(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]}"#,
        )?;
        let texts = r.message_texts();
        assert_eq!(texts[0].as_chat_text().content, "ab");
        Ok(())
    }
}
