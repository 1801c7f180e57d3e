//! Client-controlled strings that can reach an event, a log line, a table or a span: each is
//! bounded in length and must be printable text, checked at the edge before anything records
//! it. A violation is a 400 naming the parameter, in the client's dialect.
//!
//! Printable is [`tollgate_events::text::is_printable`]: no control character (NUL among them,
//! which Postgres text cannot hold), line or paragraph separator, bidirectional override or
//! isolate, or Unicode noncharacter. Message contents are not checked here: they go to the
//! provider and are never recorded.

use serde_json::{Map, Value};

pub use tollgate_events::text::{MAX_MODEL, is_printable};

use crate::error::ApiError;
/// Longest end-user id (`user`, `metadata.user_id`).
pub const MAX_USER: usize = 256;
/// Longest tool or function name.
pub const MAX_TOOL_NAME: usize = 128;
/// Longest message author `name`.
pub const MAX_MESSAGE_NAME: usize = 256;
/// Most `metadata` pairs, longest key and value (OpenAI's limits).
pub const MAX_METADATA_PAIRS: usize = 16;
/// Longest `metadata` key.
pub const MAX_METADATA_KEY: usize = 64;
/// Longest `metadata` value.
pub const MAX_METADATA_VALUE: usize = 512;
/// Most deployment or provider names in a route preference, and the longest one.
pub const MAX_PREFERENCES: usize = 16;
/// Longest deployment or provider name in a route preference.
pub const MAX_PREFERENCE_NAME: usize = 128;

/// Why a string is not accepted, if it is not.
pub fn problem(value: &str, max: usize) -> Option<String> {
    if value.len() > max {
        return Some(format!("must be at most {max} bytes"));
    }
    value
        .chars()
        .find(|c| !is_printable(*c))
        .map(|c| format!("must be printable text (found U+{:04X})", u32::from(c)))
}

/// How a dialect names a parameter in its errors.
#[derive(Clone, Copy)]
enum Names {
    /// OpenAI: `'model' ...`, with `param`.
    OpenAi,
    /// Anthropic: `model: ...` (its error shape has no `param`).
    Anthropic,
}

impl Names {
    fn error(self, path: &str, param: &'static str, why: &str) -> ApiError {
        let message = match self {
            Self::OpenAi => format!("'{path}' {why}"),
            Self::Anthropic => format!("{path}: {why}"),
        };
        ApiError::invalid(message, "invalid_request", Some(param))
    }

    fn check(
        self,
        value: &str,
        max: usize,
        path: impl FnOnce() -> String,
        param: &'static str,
    ) -> Result<(), ApiError> {
        match problem(value, max) {
            Some(why) => Err(self.error(&path(), param, &why)),
            None => Ok(()),
        }
    }

    /// A field that must be a string when present; its `path` is only spelled out for an
    /// error.
    fn optional_string(
        self,
        value: Option<&Value>,
        max: usize,
        path: impl FnOnce() -> String,
        param: &'static str,
    ) -> Result<(), ApiError> {
        match value {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(s)) => self.check(s, max, path, param),
            Some(_) => Err(self.error(&path(), param, "must be a string")),
        }
    }
}

/// Checks the client strings of an OpenAI chat request.
pub fn chat_request(body: &Map<String, Value>) -> Result<(), ApiError> {
    let names = Names::OpenAi;
    names.optional_string(body.get("model"), MAX_MODEL, || "model".to_owned(), "model")?;
    names.optional_string(body.get("user"), MAX_USER, || "user".to_owned(), "user")?;
    names.optional_string(
        body.get("safety_identifier"),
        MAX_USER,
        || "safety_identifier".to_owned(),
        "safety_identifier",
    )?;
    metadata(names, body.get("metadata"), "metadata")?;
    if let Some(Value::Array(messages)) = body.get("messages") {
        for (i, message) in messages.iter().enumerate() {
            names.optional_string(
                message.get("name"),
                MAX_MESSAGE_NAME,
                || format!("messages[{i}].name"),
                "messages",
            )?;
            if let Some(Value::Array(calls)) = message.get("tool_calls") {
                for (j, call) in calls.iter().enumerate() {
                    names.optional_string(
                        call.get("function").and_then(|f| f.get("name")),
                        MAX_TOOL_NAME,
                        || format!("messages[{i}].tool_calls[{j}].function.name"),
                        "messages",
                    )?;
                }
            }
        }
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        for (i, tool) in tools.iter().enumerate() {
            names.optional_string(
                tool.get("function").and_then(|f| f.get("name")),
                MAX_TOOL_NAME,
                || format!("tools[{i}].function.name"),
                "tools",
            )?;
        }
    }
    if let Some(Value::Array(functions)) = body.get("functions") {
        for (i, function) in functions.iter().enumerate() {
            names.optional_string(
                function.get("name"),
                MAX_TOOL_NAME,
                || format!("functions[{i}].name"),
                "functions",
            )?;
        }
    }
    if let Some(Value::Object(choice)) = body.get("tool_choice") {
        names.optional_string(
            choice.get("function").and_then(|f| f.get("name")),
            MAX_TOOL_NAME,
            || "tool_choice.function.name".to_owned(),
            "tool_choice",
        )?;
    }
    provider_preference(names, body.get("provider_preference"))
}

/// Checks the client strings of an Anthropic Messages request, named as Anthropic names them.
pub fn messages_request(body: &Map<String, Value>) -> Result<(), ApiError> {
    let names = Names::Anthropic;
    names.optional_string(body.get("model"), MAX_MODEL, || "model".to_owned(), "model")?;
    if let Some(meta) = body.get("metadata").filter(|m| !m.is_null()) {
        let Value::Object(meta) = meta else {
            return Err(names.error("metadata", "metadata", "must be an object"));
        };
        names.optional_string(
            meta.get("user_id"),
            MAX_USER,
            || "metadata.user_id".to_owned(),
            "metadata",
        )?;
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        for (i, tool) in tools.iter().enumerate() {
            names.optional_string(
                tool.get("name"),
                MAX_TOOL_NAME,
                || format!("tools.{i}.name"),
                "tools",
            )?;
        }
    }
    if let Some(Value::Object(choice)) = body.get("tool_choice") {
        names.optional_string(
            choice.get("name"),
            MAX_TOOL_NAME,
            || "tool_choice.name".to_owned(),
            "tool_choice",
        )?;
    }
    if let Some(Value::Array(turns)) = body.get("messages") {
        for (i, turn) in turns.iter().enumerate() {
            let Some(Value::Array(blocks)) = turn.get("content") else {
                continue;
            };
            for (j, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    names.optional_string(
                        block.get("name"),
                        MAX_TOOL_NAME,
                        || format!("messages.{i}.content.{j}.name"),
                        "messages",
                    )?;
                }
            }
        }
    }
    provider_preference(names, body.get("provider_preference"))
}

fn metadata(names: Names, value: Option<&Value>, path: &str) -> Result<(), ApiError> {
    let pairs = match value {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(pairs)) => pairs,
        Some(_) => return Err(names.error(path, "metadata", "must be an object")),
    };
    if pairs.len() > MAX_METADATA_PAIRS {
        return Err(names.error(
            path,
            "metadata",
            &format!("must have at most {MAX_METADATA_PAIRS} pairs"),
        ));
    }
    for (key, value) in pairs {
        names.check(key, MAX_METADATA_KEY, || format!("{path} key"), "metadata")?;
        match value {
            Value::String(s) => names.check(
                s,
                MAX_METADATA_VALUE,
                || format!("{path}.{key}"),
                "metadata",
            )?,
            _ => {
                return Err(names.error(&format!("{path}.{key}"), "metadata", "must be a string"));
            }
        }
    }
    Ok(())
}

fn provider_preference(names: Names, value: Option<&Value>) -> Result<(), ApiError> {
    let param = "provider_preference";
    let items = match value {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) => items.as_slice(),
        Some(other) => std::slice::from_ref(other),
    };
    if items.len() > MAX_PREFERENCES {
        return Err(names.error(
            param,
            param,
            &format!("must name at most {MAX_PREFERENCES} deployments or providers"),
        ));
    }
    for item in items {
        if let Value::String(name) = item {
            names.check(name, MAX_PREFERENCE_NAME, || param.to_owned(), param)?;
        }
    }
    Ok(())
}

/// `x-tollgate-route`: comma-separated deployment or provider names, each bounded and
/// printable; `None` when absent.
pub fn route_header(value: Option<&[u8]>) -> Result<Vec<String>, ApiError> {
    let Some(raw) = value else {
        return Ok(Vec::new());
    };
    let bad =
        |why: String| ApiError::invalid(format!("x-tollgate-route {why}"), "invalid_header", None);
    let text = std::str::from_utf8(raw).map_err(|_| bad("must be UTF-8 text".into()))?;
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() > MAX_PREFERENCES {
        return Err(bad(format!(
            "must name at most {MAX_PREFERENCES} deployments or providers"
        )));
    }
    for name in &names {
        if let Some(why) = problem(name, MAX_PREFERENCE_NAME) {
            return Err(bad(format!("names {why}")));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn openai(body: Value) -> Result<(), ApiError> {
        match body {
            Value::Object(map) => chat_request(&map),
            _ => Ok(()),
        }
    }

    fn anthropic(body: Value) -> Result<(), ApiError> {
        match body {
            Value::Object(map) => messages_request(&map),
            _ => Ok(()),
        }
    }

    fn param_of(result: Result<(), ApiError>) -> Option<&'static str> {
        match result {
            Err(ApiError::InvalidRequest { param, .. }) => param,
            other => unreachable!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn bounds_are_in_bytes_and_inclusive() {
        assert_eq!(problem(&"a".repeat(MAX_MODEL), MAX_MODEL), None);
        assert!(problem(&"a".repeat(MAX_MODEL + 1), MAX_MODEL).is_some());
        // 86 three-byte characters are 258 bytes.
        assert!(problem(&"日".repeat(86), MAX_MODEL).is_some());
    }

    #[test]
    fn every_recorded_openai_string_is_checked_and_named() {
        let msg = json!([{"role": "user", "content": "hi"}]);
        let long = "x".repeat(300);
        let cases = [
            (json!({"model": "a\u{0}b", "messages": msg}), "model"),
            (json!({"model": long, "messages": msg}), "model"),
            (
                json!({"model": "m", "user": "u\u{1b}[31m", "messages": msg}),
                "user",
            ),
            (json!({"model": "m", "user": 5, "messages": msg}), "user"),
            (
                json!({"model": "m", "metadata": {"k": "v\u{0}"}, "messages": msg}),
                "metadata",
            ),
            (
                json!({"model": "m", "metadata": {"k": 1}, "messages": msg}),
                "metadata",
            ),
            (
                json!({"model": "m", "metadata": {"k\nx": "v"}, "messages": msg}),
                "metadata",
            ),
            (
                json!({"model": "m", "metadata": "x", "messages": msg}),
                "metadata",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x", "name": "a\u{0}"}]}),
                "messages",
            ),
            (
                json!({"model": "m", "messages": msg, "tools": [{"type": "function", "function": {"name": long}}]}),
                "tools",
            ),
            (
                json!({"model": "m", "messages": msg, "functions": [{"name": "f\u{2028}"}]}),
                "functions",
            ),
            (
                json!({"model": "m", "messages": msg, "tool_choice": {"type": "function", "function": {"name": "\u{202e}f"}}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "messages": msg, "provider_preference": ["a\u{0}"]}),
                "provider_preference",
            ),
            (
                json!({"model": "m", "messages": msg, "provider_preference": vec!["a"; 17]}),
                "provider_preference",
            ),
        ];
        for (body, param) in cases {
            let shown = body.to_string();
            assert_eq!(param_of(openai(body)), Some(param), "{shown}");
        }
        let metadata: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            param_of(openai(
                json!({"model": "m", "messages": msg, "metadata": metadata})
            )),
            Some("metadata")
        );
    }

    #[test]
    fn ordinary_requests_pass() {
        let body = json!({
            "model": "gpt-4o-mini", "user": "user-42 ünïcødé 日本",
            "metadata": {"team": "search", "trace": "a/b:c"},
            "messages": [{"role": "user", "content": "line one\nline two\u{0}", "name": "alice"}],
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "provider_preference": ["openai", "routed-2"],
        });
        assert!(openai(body).is_ok());
    }

    #[test]
    fn anthropic_strings_are_named_as_anthropic_names_them() {
        let msg = json!([{"role": "user", "content": "hi"}]);
        let err = anthropic(json!({"model": "m\u{0}", "messages": msg})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model: must be printable text (found U+0000)"
        );
        let cases = [
            (
                json!({"model": "m", "metadata": {"user_id": "\u{7}"}, "messages": msg}),
                "metadata",
            ),
            (
                json!({"model": "m", "metadata": [], "messages": msg}),
                "metadata",
            ),
            (
                json!({"model": "m", "messages": msg, "tools": [{"name": "t\u{0}"}]}),
                "tools",
            ),
            (
                json!({"model": "m", "messages": msg, "tool_choice": {"type": "tool", "name": "\u{0}"}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x\u{0}", "input": {}}]}]}),
                "messages",
            ),
        ];
        for (body, param) in cases {
            let shown = body.to_string();
            assert_eq!(param_of(anthropic(body)), Some(param), "{shown}");
        }
    }

    #[test]
    fn route_header_is_bounded_and_printable() {
        assert_eq!(route_header(None).unwrap(), Vec::<String>::new());
        assert_eq!(
            route_header(Some(b" a , b,,")).unwrap(),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert!(route_header(Some(b"a\x7fb")).is_err());
        assert!(route_header(Some(&[0xff, 0xfe])).is_err());
        assert!(route_header(Some("x".repeat(200).as_bytes())).is_err());
        assert!(route_header(Some(vec!["a"; 17].join(",").as_bytes())).is_err());
    }
}
