//! Upstream adapters: one file per provider wire format, each turning the gateway's
//! OpenAI-format chat request into that provider's HTTP request and its answer (plain or
//! streamed) back into OpenAI format.
//!
//! Adding a provider = one new file implementing [`Adapter`] and one line in [`adapter`].

mod anthropic;
mod azure;
mod error;
mod gemini;
pub mod messages_api;
mod openai;
mod openai_request;
mod tail;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value};

pub use error::TranslateError;

/// The wire formats the gateway speaks upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI and compatible APIs (OpenRouter, Together, Groq, DeepSeek, vLLM, Ollama...).
    OpenAi,
    /// Azure OpenAI: deployment in the path, `api-version` query, `api-key` header.
    Azure,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
}

impl ProviderKind {
    /// Config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "openai" => Ok(Self::OpenAi),
            "azure" => Ok(Self::Azure),
            "anthropic" => Ok(Self::Anthropic),
            "gemini" => Ok(Self::Gemini),
            other => Err(format!(
                "unsupported kind '{other}' (supported: openai, azure, anthropic, gemini)"
            )),
        }
    }
}

/// One upstream call.
#[derive(Debug)]
pub struct Call<'a> {
    /// Provider base URL (no trailing slash), e.g. `https://api.openai.com/v1`.
    pub base_url: &'a str,
    /// The model (or Azure deployment) name upstream.
    pub upstream_model: &'a str,
    /// The upstream key, if any.
    pub api_key: Option<&'a str>,
    /// API version (Azure's `api-version`).
    pub api_version: Option<&'a str>,
    /// Gateway request id, forwarded as `x-request-id`.
    pub request_id: &'a str,
    /// Whether the answer is streamed.
    pub stream: bool,
    /// Output tokens to ask for when the client set no limit and the format requires one
    /// (Anthropic); the gateway's admission reserves the same amount.
    pub default_max_tokens: u32,
    /// The chat request in OpenAI format, `model` already set to `upstream_model`.
    pub body: &'a Map<String, Value>,
}

/// A provider wire format.
pub trait Adapter: Send + Sync {
    /// The HTTP request for a chat completion.
    fn chat_request(
        &self,
        client: &reqwest::Client,
        call: &Call<'_>,
    ) -> Result<reqwest::RequestBuilder, TranslateError>;

    /// A non-streamed answer converted to an OpenAI `chat.completion` (JSON bytes).
    fn chat_response(&self, body: Bytes, model: &str) -> Result<Bytes, TranslateError>;

    /// A translator of this provider's SSE events into OpenAI `chat.completion.chunk` events.
    fn chat_stream(&self, model: &str) -> Box<dyn StreamTranslator>;

    /// The provider's usage, as OpenAI `usage` JSON, from the last bytes of a non-streamed
    /// answer too large to keep whole (`None` when the tail does not end with one).
    fn trailing_usage(&self, tail: &[u8]) -> Option<Value> {
        tail::outermost_member(tail, "usage")
    }
}

/// OpenAI `usage` JSON as billable usage (missing counts are zero), or `None` when a count
/// is not a `u32` (the gateway refuses such an answer's usage on every path).
pub fn usage_of(usage: &Value) -> Option<tollgate_billing::Usage> {
    let count = |v: Option<&Value>| match v {
        None | Some(Value::Null) => Some(0),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()),
    };
    Some(tollgate_billing::Usage {
        prompt_tokens: count(usage.get("prompt_tokens"))?,
        completion_tokens: count(usage.get("completion_tokens"))?,
        cached_tokens: count(usage.pointer("/prompt_tokens_details/cached_tokens"))?,
    })
}

/// Converts one provider's stream, event by event, into OpenAI SSE events.
pub trait StreamTranslator: Send {
    /// One complete upstream SSE event (with its blank-line terminator) -> zero or more
    /// OpenAI SSE events, appended to `out`.
    fn event(&mut self, event: Bytes, out: &mut Vec<Bytes>);
}

/// The adapter of a wire format.
pub fn adapter(kind: ProviderKind) -> &'static dyn Adapter {
    match kind {
        ProviderKind::OpenAi => &openai::OpenAi,
        ProviderKind::Azure => &azure::Azure,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Gemini => &gemini::Gemini,
    }
}

/// Seconds since the Unix epoch (the `created` field of completions).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `data:` payload of one SSE event (multiple data lines joined by `\n`), if any.
pub fn sse_data(event: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(event).ok()?;
    let mut lines = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d));
    let first = lines.next()?;
    match lines.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = format!("{first}\n{second}");
            for more in lines {
                joined.push('\n');
                joined.push_str(more);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// An OpenAI SSE event carrying `value`.
pub fn sse_event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// Passes OpenAI-format events through unchanged.
struct Passthrough;

impl StreamTranslator for Passthrough {
    fn event(&mut self, event: Bytes, out: &mut Vec<Bytes>) {
        out.push(event);
    }
}
