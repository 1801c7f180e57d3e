use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

use crate::BillingError;

/// A tiktoken encoding; each encoder is built once per process on first use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tokenizer {
    /// GPT-4o / GPT-4.1 / o-series encoding.
    #[default]
    O200kBase,
    /// GPT-4 / GPT-3.5 encoding.
    Cl100kBase,
}

/// Role and text of one chat message, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct ChatMessageText<'a> {
    /// `system`, `user`, `assistant`, `tool`...
    pub role: &'a str,
    /// The message's text (all text parts concatenated).
    pub content: &'a str,
    /// Optional participant name.
    pub name: Option<&'a str>,
}

/// Tokens every chat message adds around its content (OpenAI's published formula).
const TOKENS_PER_MESSAGE: usize = 3;
/// Tokens a `name` field adds.
const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING_TOKENS: usize = 3;

/// Which encoders this process has built (indexed by [`Tokenizer::index`]).
static BUILT: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

impl Tokenizer {
    fn index(self) -> usize {
        match self {
            Self::O200kBase => 0,
            Self::Cl100kBase => 1,
        }
    }

    fn encoder(self) -> &'static CoreBPE {
        let encoder = match self {
            Self::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Self::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        };
        // Written once, not on every count (every thread counting would share the line).
        let built = &BUILT[self.index()];
        if !built.load(Ordering::Relaxed) {
            built.store(true, Ordering::Relaxed);
        }
        encoder
    }

    /// Whether the encoder is built already (building one takes tens of milliseconds).
    pub fn is_built(self) -> bool {
        BUILT[self.index()].load(Ordering::Relaxed)
    }

    /// Builds the encoder now, so the first request does not pay for it.
    pub fn warm_up(self) {
        let _ = self.encoder();
    }

    /// Number of tokens in `text` (special tokens treated as plain text).
    pub fn count_text(self, text: &str) -> u32 {
        saturate(self.encoder().count_ordinary(text))
    }

    /// Number of prompt tokens of a chat request, as OpenAI counts them.
    pub fn count_chat_prompt<'a>(
        self,
        messages: impl IntoIterator<Item = ChatMessageText<'a>>,
    ) -> u32 {
        let encoder = self.encoder();
        let mut total = REPLY_PRIMING_TOKENS;
        for message in messages {
            total += TOKENS_PER_MESSAGE;
            total += encoder.count_ordinary(message.role);
            total += encoder.count_ordinary(message.content);
            if let Some(name) = message.name {
                total += TOKENS_PER_NAME + encoder.count_ordinary(name);
            }
        }
        saturate(total)
    }
}

fn saturate(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

impl FromStr for Tokenizer {
    type Err = BillingError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "o200k_base" => Ok(Self::O200kBase),
            "cl100k_base" => Ok(Self::Cl100kBase),
            other => Err(BillingError::UnknownTokenizer(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_known_text() {
        // "hello world" is two tokens in both encodings.
        assert_eq!(Tokenizer::O200kBase.count_text("hello world"), 2);
        assert_eq!(Tokenizer::Cl100kBase.count_text("hello world"), 2);
        assert_eq!(Tokenizer::O200kBase.count_text(""), 0);
    }

    #[test]
    fn chat_prompt_follows_openai_formula() {
        let user = |content| ChatMessageText {
            role: "user",
            content,
            name: None,
        };
        // 3 (reply priming) + 3 (message) + 1 ("user") + 2 ("hello world").
        assert_eq!(
            Tokenizer::O200kBase.count_chat_prompt([user("hello world")]),
            9
        );
        // A name adds one token plus the name's own tokens ("bob" is one token).
        let named = ChatMessageText {
            name: Some("bob"),
            ..user("hello world")
        };
        assert_eq!(Tokenizer::O200kBase.count_chat_prompt([named]), 11);
        // Each further message adds 3 + role + content.
        assert_eq!(
            Tokenizer::O200kBase.count_chat_prompt([user("hello world"), user("hello world")]),
            15
        );
    }

    #[test]
    fn special_token_text_is_counted_as_plain_text() {
        assert!(Tokenizer::Cl100kBase.count_text("<|endoftext|>") > 1);
    }

    #[test]
    fn an_encoder_is_built_once_used() {
        Tokenizer::Cl100kBase.count_text("x");
        assert!(Tokenizer::Cl100kBase.is_built());
    }

    #[test]
    fn parses_names() {
        assert_eq!("cl100k_base".parse(), Ok(Tokenizer::Cl100kBase));
        assert!("gpt2".parse::<Tokenizer>().is_err());
    }
}
