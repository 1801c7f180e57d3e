//! Usage read from the last bytes of an answer too large to keep whole: providers put their
//! usage object at the end of a non-streamed answer, as a member of the outermost object.

use serde_json::Value;

/// The last object under `"key":` in `tail` that is a member of the document's outermost
/// object. The key cannot occur unescaped inside a string, and what follows the object must
/// be the rest of the outermost object (more members, one `}`, the end), so an object of the
/// same name nested deeper (a tool call's arguments, say) is never taken for it.
pub fn outermost_member(tail: &[u8], key: &str) -> Option<Value> {
    let needle = format!("\"{key}\":");
    let needle = needle.as_bytes();
    let at = tail.windows(needle.len()).rposition(|w| w == needle)?;
    let after = &tail[at + needle.len()..];
    let mut values = serde_json::Deserializer::from_slice(after).into_iter::<Value>();
    let value = values.next()?.ok()?;
    if !value.is_object() {
        return None;
    }
    let rest = after.get(values.byte_offset()..)?;
    closes_outermost(rest).then_some(value)
}

/// Whether `rest` is `(, "key": value)* }` followed only by whitespace.
fn closes_outermost(rest: &[u8]) -> bool {
    let mut rest = rest;
    loop {
        rest = rest.trim_ascii_start();
        match rest.first() {
            Some(b'}') => return rest[1..].trim_ascii().is_empty(),
            Some(b',') => {
                let mut keys =
                    serde_json::Deserializer::from_slice(&rest[1..]).into_iter::<String>();
                if !matches!(keys.next(), Some(Ok(_))) {
                    return false;
                }
                let offset = 1 + keys.byte_offset();
                let after_key = rest[offset..].trim_ascii_start();
                let Some(after_colon) = after_key.strip_prefix(b":") else {
                    return false;
                };
                let mut values = serde_json::Deserializer::from_slice(after_colon)
                    .into_iter::<serde::de::IgnoredAny>();
                if !matches!(values.next(), Some(Ok(_))) {
                    return false;
                }
                rest = &after_colon[values.byte_offset()..];
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_top_level_usage_after_the_content() {
        let body = json!({
            "id": "x", "choices": [{"message": {"content": "a \"usage\": {\"prompt_tokens\": 1}"}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 9},
            "system_fingerprint": "fp"
        })
        .to_string();
        let tail = &body.as_bytes()[10..];
        assert_eq!(
            outermost_member(tail, "usage").unwrap()["completion_tokens"],
            9
        );
    }

    #[test]
    fn pretty_printed_answers_are_read() {
        let body =
            "{\n  \"usage\": {\n    \"input_tokens\": 3\n  },\n  \"end\": [1, {\"a\": 2}]\n}\n";
        assert_eq!(
            outermost_member(body.as_bytes(), "usage").unwrap()["input_tokens"],
            3
        );
    }

    #[test]
    fn a_nested_object_of_the_same_name_is_not_taken() {
        // A tool call's arguments (an object, as Anthropic and Gemini send them) named usage,
        // with the provider's own usage missing.
        let body = json!({
            "content": [{"type": "tool_use", "input": {"usage": {"input_tokens": 0}}}],
            "stop_reason": "tool_use"
        })
        .to_string();
        assert_eq!(outermost_member(body.as_bytes(), "usage"), None);
    }

    #[test]
    fn a_cut_or_missing_usage_is_none() {
        assert_eq!(
            outermost_member(b"{\"usage\": {\"prompt_tokens\": 3", "usage"),
            None
        );
        assert_eq!(outermost_member(b"{\"usage\": 3}", "usage"), None);
        assert_eq!(outermost_member(b"{\"other\": {}}", "usage"), None);
        assert_eq!(
            outermost_member(b"{\"usage\": {}, \"more\": 1", "usage"),
            None
        );
    }

    #[test]
    fn each_wire_format_reads_its_own_usage_as_openai_usage() {
        use crate::{ProviderKind, adapter};
        let anthropic = json!({"content": [], "usage": {"input_tokens": 10, "output_tokens": 5,
            "cache_read_input_tokens": 30}})
        .to_string();
        let usage = adapter(ProviderKind::Anthropic)
            .trailing_usage(anthropic.as_bytes())
            .unwrap();
        assert_eq!(usage["prompt_tokens"], 40);
        assert_eq!(usage["completion_tokens"], 5);
        let gemini = json!({"candidates": [], "usageMetadata": {"promptTokenCount": 9,
            "candidatesTokenCount": 2, "thoughtsTokenCount": 3}, "modelVersion": "g"})
        .to_string();
        let usage = adapter(ProviderKind::Gemini)
            .trailing_usage(gemini.as_bytes())
            .unwrap();
        assert_eq!(usage["completion_tokens"], 5);
        let openai = json!({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 6}});
        let usage = adapter(ProviderKind::OpenAi)
            .trailing_usage(openai.to_string().as_bytes())
            .unwrap();
        assert_eq!(usage["completion_tokens"], 6);
    }
}
