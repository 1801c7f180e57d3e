//! What a request is to the cache: the last user message (matched), everything else (hashed
//! into a namespace that must match exactly) and the request traits the policy looks at.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Request fields that do not change the answer, left out of the namespace.
const NOT_PART_OF_THE_ANSWER: [&str; 8] = [
    "messages",
    "model",
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
    "provider_preference",
];

/// The cache's view of one chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheKey {
    /// Hex SHA-256 of the model and every answer-relevant field except the last user message:
    /// system prompt, earlier turns, tools, response format, sampling parameters.
    pub namespace: String,
    /// The last user message, whitespace-normalised: what is embedded and verified.
    pub prompt: String,
    /// Hex SHA-256 of the namespace and the prompt: the exact tier's key.
    pub exact: String,
    /// Choices asked for (`n`).
    pub choices: u64,
    /// Whether tools or functions are offered to the model.
    pub uses_tools: bool,
    /// Sampling temperature, if given.
    pub temperature: Option<f64>,
}

impl CacheKey {
    /// The key of an OpenAI chat request for `model`; `None` when the request cannot be cached:
    /// the last message is not a user message of text only.
    pub fn of(model: &str, object: &Map<String, Value>) -> Option<Self> {
        let messages = object.get("messages")?.as_array()?;
        let (last, earlier) = messages.split_last()?;
        if last.get("role").and_then(Value::as_str) != Some("user") {
            return None;
        }
        let prompt = normalise(&text_of(last.get("content")?)?);
        if prompt.is_empty() {
            return None;
        }

        let mut context = String::with_capacity(256);
        canonical(&Value::String(model.to_owned()), &mut context);
        context.push('\n');
        canonical(&Value::Array(earlier.to_vec()), &mut context);
        for (field, value) in object {
            if !NOT_PART_OF_THE_ANSWER.contains(&field.as_str()) && !value.is_null() {
                context.push('\n');
                context.push_str(field);
                context.push('=');
                canonical(value, &mut context);
            }
        }
        let namespace = hex::encode(Sha256::digest(context.as_bytes()));
        let exact = hex::encode(Sha256::digest(format!("{namespace}\n{prompt}").as_bytes()));
        let offered = |field: &str| {
            object
                .get(field)
                .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        };
        Some(Self {
            namespace,
            prompt,
            exact,
            choices: object.get("n").and_then(Value::as_u64).unwrap_or(1),
            uses_tools: offered("tools") || offered("functions"),
            temperature: object.get("temperature").and_then(Value::as_f64),
        })
    }
}

/// The text of a message's content: a string, or text parts only (anything else: `None`).
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => part.get("text").and_then(Value::as_str),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|texts| texts.join("\n")),
        _ => None,
    }
}

/// Trims and collapses every run of whitespace into one space.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// JSON with object keys sorted, whatever order the client (or serde_json's map) keeps them in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<_> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(request: Value) -> CacheKey {
        request
            .as_object()
            .and_then(|r| CacheKey::of("m", r))
            .unwrap_or_else(|| unreachable!("cacheable: {request}"))
    }

    #[test]
    fn only_the_last_user_message_is_outside_the_namespace() {
        let a = key(json!({"model": "m", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is  Rust?\n"}]}));
        let b = key(json!({"messages": [
            {"content": "be brief", "role": "system"},
            {"role": "user", "content": [{"type": "text", "text": "Explain Go"}]}],
            "stream": true, "user": "u1", "model": "m"}));
        assert_eq!(
            a.namespace, b.namespace,
            "stream, user and key order do not matter"
        );
        assert_eq!(a.prompt, "What is Rust?");
        assert_ne!(a.exact, b.exact);
    }

    #[test]
    fn context_and_sampling_change_the_namespace() {
        let base = json!({"messages": [{"role": "user", "content": "hi"}]});
        let namespace = |extra: Value| {
            let mut request = base.clone();
            if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
                r.extend(e.clone());
            }
            key(request).namespace
        };
        let plain = namespace(json!({}));
        for extra in [
            json!({"temperature": 0.5}),
            json!({"max_tokens": 10}),
            json!({"response_format": {"type": "json_object"}}),
            json!({"tools": [{"type": "function", "function": {"name": "f"}}]}),
            json!({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]}),
        ] {
            assert_ne!(namespace(extra.clone()), plain, "{extra}");
        }
        assert_ne!(
            base.as_object()
                .and_then(|r| CacheKey::of("other", r))
                .map(|k| k.namespace),
            Some(plain),
            "the model is part of it"
        );
    }

    #[test]
    fn traits_and_uncacheable_shapes() {
        let k = key(
            json!({"n": 3, "temperature": 1.2, "tools": [{"type": "function"}],
            "messages": [{"role": "user", "content": "hi"}]}),
        );
        assert_eq!(
            (k.choices, k.uses_tools, k.temperature),
            (3, true, Some(1.2))
        );
        for request in [
            json!({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}),
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            json!({"messages": [{"role": "user", "content": "   "}]}),
            json!({"messages": []}),
        ] {
            assert!(
                request
                    .as_object()
                    .and_then(|r| CacheKey::of("m", r))
                    .is_none(),
                "{request}"
            );
        }
    }
}
