//! Server-sent events: splitting a byte stream into events and peeking at chunk JSON.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

/// Takes the next complete event (including its blank-line terminator) off the buffer.
///
/// Searches from the start each time: for a buffer that is complete already. A stream read
/// in pieces goes through [`SseFramer`].
pub fn take_event(buffer: &mut BytesMut) -> Option<Bytes> {
    let end = event_end(buffer, 0)?;
    Some(buffer.split_to(end).freeze())
}

/// End (exclusive) of the first event terminator at or after `from`.
fn event_end(buffer: &[u8], from: usize) -> Option<usize> {
    let start = from.min(buffer.len());
    buffer[start..].windows(2).enumerate().find_map(|(i, w)| {
        let i = start + i;
        match w {
            b"\n\n" => Some(i + 2),
            b"\r\n" if buffer.get(i + 2..i + 4) == Some(b"\r\n") => Some(i + 4),
            _ => None,
        }
    })
}

/// Splits a byte stream read in pieces into SSE events, in time linear in its length: it
/// remembers how far it has searched, so an event that arrives in many small reads is scanned
/// once (not once per read).
#[derive(Debug, Default)]
pub struct SseFramer {
    buffer: BytesMut,
    /// Bytes of `buffer` known to hold no complete terminator.
    searched: usize,
}

impl SseFramer {
    /// A framer holding `first` (bytes read before the stream was committed).
    pub fn new(first: &[u8]) -> Self {
        Self {
            buffer: BytesMut::from(first),
            searched: 0,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete event (with its terminator), if one has arrived.
    pub fn next_event(&mut self) -> Option<Bytes> {
        // A terminator is at most 4 bytes, so one may straddle the searched boundary.
        match event_end(&self.buffer, self.searched.saturating_sub(3)) {
            Some(end) => {
                self.searched = 0;
                Some(self.buffer.split_to(end).freeze())
            }
            None => {
                self.searched = self.buffer.len();
                None
            }
        }
    }

    /// Bytes of the event still incomplete.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Whatever is left (an unterminated last event), emptying the framer.
    pub fn take_rest(&mut self) -> Bytes {
        self.searched = 0;
        self.buffer.split().freeze()
    }
}

pub use tollgate_providers::sse_data as data_of;

/// The fields of a completion (chunk) the gateway needs; everything else is passed through.
#[derive(Debug, Default, Deserialize)]
pub struct CompletionPeek<'a> {
    /// Choices (deltas in streams, messages otherwise).
    #[serde(borrow, default)]
    pub choices: Option<Vec<ChoicePeek<'a>>>,
    /// Provider-reported usage.
    #[serde(default)]
    pub usage: Option<UsagePeek>,
    /// An error object sent inside a stream.
    #[serde(default)]
    pub error: Option<serde::de::IgnoredAny>,
}

/// One choice.
#[derive(Debug, Default, Deserialize)]
pub struct ChoicePeek<'a> {
    /// Streamed delta.
    #[serde(borrow, default)]
    pub delta: Option<TextPeek<'a>>,
    /// Whole message (non-streamed).
    #[serde(borrow, default)]
    pub message: Option<TextPeek<'a>>,
    /// Why the choice ended (last chunk of a stream).
    #[serde(borrow, default)]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// Text of a delta or message.
#[derive(Debug, Default, Deserialize)]
pub struct TextPeek<'a> {
    /// Content text.
    #[serde(borrow, default)]
    pub content: Option<Cow<'a, str>>,
    /// Tool calls (present: the answer is not cacheable).
    #[serde(default)]
    pub tool_calls: Option<serde::de::IgnoredAny>,
    /// Legacy function call (present: the answer is not cacheable).
    #[serde(default)]
    pub function_call: Option<serde::de::IgnoredAny>,
}

/// Provider-reported usage.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct UsagePeek {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u32,
    /// Breakdown of the prompt (cached tokens).
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetailsPeek>,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PromptDetailsPeek {
    /// Prompt tokens read from the provider's prompt cache.
    #[serde(default)]
    pub cached_tokens: Option<u32>,
}

impl From<UsagePeek> for tollgate_billing::Usage {
    fn from(u: UsagePeek) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_reads_and_both_line_endings() {
        let mut buf = BytesMut::from(&b"data: a\n\ndata: b\r\n\r\ndata: par"[..]);
        assert_eq!(take_event(&mut buf).as_deref(), Some(&b"data: a\n\n"[..]));
        assert_eq!(
            take_event(&mut buf).as_deref(),
            Some(&b"data: b\r\n\r\n"[..])
        );
        assert_eq!(take_event(&mut buf), None);
        buf.extend_from_slice(b"tial\n\n");
        assert_eq!(
            take_event(&mut buf).as_deref(),
            Some(&b"data: partial\n\n"[..])
        );
    }

    #[test]
    fn the_framer_finds_terminators_split_across_reads() {
        let mut framer = SseFramer::new(b"data: a\r\n");
        assert_eq!(framer.next_event(), None);
        framer.push(b"\r");
        assert_eq!(framer.next_event(), None);
        framer.push(b"\ndata: b\n");
        assert_eq!(
            framer.next_event().as_deref(),
            Some(&b"data: a\r\n\r\n"[..])
        );
        assert_eq!(framer.next_event(), None);
        framer.push(b"\n: tail");
        assert_eq!(framer.next_event().as_deref(), Some(&b"data: b\n\n"[..]));
        assert_eq!(framer.pending(), 6);
        assert_eq!(framer.take_rest().as_ref(), b": tail");
        assert_eq!(framer.pending(), 0);
    }

    #[test]
    fn reads_data_lines() {
        assert_eq!(data_of(b"data: [DONE]\n\n").as_deref(), Some("[DONE]"));
        assert_eq!(data_of(b": keep-alive\n\n"), None);
        assert_eq!(
            data_of(b"event: x\ndata: 1\ndata: 2\n\n").as_deref(),
            Some("1\n2")
        );
    }

    #[test]
    fn peeks_content_and_usage() {
        let chunk: CompletionPeek<'_> = serde_json::from_str(
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"hi \"there\""}}],"usage":null}"#,
        )
        .unwrap();
        let content = chunk.choices.unwrap()[0]
            .delta
            .as_ref()
            .unwrap()
            .content
            .clone();
        assert_eq!(content.as_deref(), Some("hi \"there\""));
        assert!(chunk.usage.is_none());
        let last: CompletionPeek<'_> = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        )
        .unwrap();
        assert_eq!(last.usage.unwrap().completion_tokens, 4);
    }
}
