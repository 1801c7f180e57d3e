//! Reading an OpenAI chat request: the pieces every translating adapter needs.

use serde_json::{Map, Value, json};

use crate::TranslateError;

fn unsupported(message: impl Into<String>) -> TranslateError {
    TranslateError::Unsupported(message.into())
}

/// One part of a message's content.
pub(crate) enum Part<'a> {
    /// Text, with the part object it came from (for provider extensions like `cache_control`).
    Text {
        text: &'a str,
        part: Option<&'a Value>,
    },
    /// An inline image from a `data:` URL.
    ImageData { mime: &'a str, data: &'a str },
    /// An image by URL.
    ImageUrl(&'a str),
}

/// A message's content (a string or an array of parts) as parts; `provider` names the target
/// in the error for parts it cannot take.
pub(crate) fn content_parts<'a>(
    content: &'a Value,
    provider: &str,
) -> Result<Vec<Part<'a>>, TranslateError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![Part::Text {
            text: s,
            part: None,
        }]),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Ok(Part::Text {
                    text: part.get("text").and_then(Value::as_str).unwrap_or(""),
                    part: Some(part),
                }),
                Some("image_url") => {
                    let url = part
                        .pointer("/image_url/url")
                        .and_then(Value::as_str)
                        .ok_or_else(|| unsupported("image_url.url is required"))?;
                    Ok(
                        match url
                            .strip_prefix("data:")
                            .and_then(|rest| rest.split_once(";base64,"))
                        {
                            Some((mime, data)) => Part::ImageData { mime, data },
                            None => Part::ImageUrl(url),
                        },
                    )
                }
                other => Err(unsupported(format!(
                    "content part type {} cannot be sent to {provider}",
                    other.unwrap_or("(missing)")
                ))),
            })
            .collect(),
        _ => Err(unsupported(
            "message content must be a string or an array of parts",
        )),
    }
}

/// A tool call of an assistant message.
pub(crate) struct ToolCall<'a> {
    /// The call id.
    pub id: Option<&'a str>,
    /// The function name.
    pub name: &'a str,
    /// The parsed arguments.
    pub arguments: Value,
}

/// The tool calls of an assistant message, arguments parsed.
pub(crate) fn tool_calls(message: &Value) -> Result<Vec<ToolCall<'_>>, TranslateError> {
    message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|call| {
            let function = call.get("function").unwrap_or(&Value::Null);
            let arguments = function
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}");
            Ok(ToolCall {
                id: call.get("id").and_then(Value::as_str),
                name: function.get("name").and_then(Value::as_str).unwrap_or(""),
                arguments: serde_json::from_str(arguments).map_err(|_| {
                    unsupported("tool_calls[].function.arguments must be a JSON object")
                })?,
            })
        })
        .collect()
}

/// `max_completion_tokens` or `max_tokens`.
pub(crate) fn max_output_tokens(body: &Map<String, Value>) -> Option<u64> {
    ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
}

/// Refuses `n` > 1, which the target cannot answer as OpenAI would (one choice per answer).
pub(crate) fn single_choice(
    body: &Map<String, Value>,
    provider: &str,
) -> Result<(), TranslateError> {
    match body.get("n").and_then(Value::as_u64) {
        Some(n) if n > 1 => Err(unsupported(format!(
            "'n' > 1 is not supported by {provider}"
        ))),
        _ => Ok(()),
    }
}

/// `stop` (a string or a list) as a list.
pub(crate) fn stop_sequences(body: &Map<String, Value>) -> Option<Value> {
    match body.get("stop") {
        Some(Value::String(s)) => Some(json!([s])),
        Some(Value::Array(list)) => Some(Value::Array(list.clone())),
        _ => None,
    }
}

/// Appends `items` to the turn list as `role` under `field`, merged into the previous turn when
/// it has the same role (Anthropic and Gemini want roles to alternate).
pub(crate) fn push_turn(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut()
        && last["role"] == role
        && let Some(Value::Array(existing)) = last.get_mut(field)
    {
        existing.extend(items);
        return;
    }
    turns.push(json!({"role": role, field: items}));
}
