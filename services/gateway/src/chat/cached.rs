//! Answers served from the cache: the stored completion with a fresh id, or its replay as an
//! SSE stream (role chunk, content chunks, finish chunk, usage chunk, `[DONE]`).

use bytes::Bytes;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Characters of content per replayed chunk.
const CHUNK_CHARS: usize = 48;

/// The stored completion as this request's answer: a new id and creation time, usage with the
/// tenant's cost.
pub fn completion(stored: &str, cost: Decimal) -> Option<Value> {
    let mut body: Value = serde_json::from_str(stored).ok()?;
    let object = body.as_object_mut()?;
    object.insert("id".into(), Value::String(new_id()));
    object.insert("created".into(), json!(now()));
    if let Some(usage) = object.get_mut("usage").and_then(Value::as_object_mut) {
        usage.insert(
            "cost_usd".into(),
            Value::String(cost.normalize().to_string()),
        );
    }
    Some(body)
}

/// The SSE events replaying `completion` (as built by [`completion`]).
pub fn replay(completion: &Value) -> Vec<Bytes> {
    let id = &completion["id"];
    let created = &completion["created"];
    let model = &completion["model"];
    let chunk = |choices: Value, usage: Option<&Value>| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices,
        });
        if let Some(usage) = usage {
            chunk["usage"] = usage.clone();
        }
        Bytes::from(format!("data: {chunk}\n\n"))
    };
    let mut events = Vec::new();
    let choices = completion["choices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for choice in &choices {
        let index = &choice["index"];
        events.push(chunk(
            json!([{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
            None,
        ));
        let content = choice["message"]["content"].as_str().unwrap_or_default();
        for piece in pieces(content) {
            events.push(chunk(
                json!([{"index": index, "delta": {"content": piece}, "finish_reason": null}]),
                None,
            ));
        }
        events.push(chunk(
            json!([{"index": index, "delta": {}, "finish_reason": choice["finish_reason"]}]),
            None,
        ));
    }
    if let Some(usage) = completion.get("usage") {
        events.push(chunk(json!([]), Some(usage)));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// `text` cut into pieces of about [`CHUNK_CHARS`] characters, at character boundaries.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .nth(CHUNK_CHARS)
            .map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    out
}

fn new_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

fn now() -> i64 {
    tollgate_semcache::unix_now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_every_choice_then_usage_then_done() {
        let stored = json!({
            "id": "old", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "é".repeat(100)},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 100, "total_tokens": 103},
        });
        let body = completion(&stored.to_string(), Decimal::ZERO)
            .unwrap_or_else(|| unreachable!("valid JSON"));
        assert_ne!(body["id"], "old");
        assert_eq!(body["usage"]["cost_usd"], "0");
        let events = replay(&body);
        let data: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| {
                let text = std::str::from_utf8(e).unwrap_or_default();
                serde_json::from_str(text.trim().trim_start_matches("data: ")).unwrap_or_default()
            })
            .collect();
        assert_eq!(data[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = data
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "é".repeat(100));
        assert_eq!(data[data.len() - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(data[data.len() - 1]["usage"]["completion_tokens"], 100);
        assert_eq!(
            events.last().map(|e| &e[..]),
            Some(&b"data: [DONE]\n\n"[..])
        );
        assert_eq!(pieces("").len(), 0);
        assert_eq!(pieces(&"a".repeat(97)).len(), 3);
    }
}
