use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tollgate_billing::Tokenizer;

/// Configuration of the mock provider; every behaviour can be overridden per request.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// actix worker threads.
    pub workers: usize,
    /// Models listed by `/v1/models`.
    pub models: Vec<String>,
    /// Tokenizer used for `usage`.
    pub tokenizer: Tokenizer,
    /// Words in an answer unless `max_tokens` asks for fewer.
    pub completion_words: u32,
    /// Delay before the response starts, ms.
    pub latency_ms: u64,
    /// Delay before the first streamed token, ms.
    pub ttft_ms: u64,
    /// Delay between streamed tokens, ms.
    pub inter_token_ms: u64,
    /// Status to fail every request with (e.g. 500, 429).
    pub error_status: Option<u16>,
    /// Fraction of requests (0.0-1.0) that fail with `error_status` (or 500).
    pub error_rate: f64,
    /// `Retry-After` seconds sent with 429 answers.
    pub retry_after_secs: u64,
    /// Leave `usage` out of streamed answers even when asked for.
    pub omit_stream_usage: bool,
    /// Report (running) `usage` on every streamed chunk, as some OpenAI-compatible servers do,
    /// besides the final usage-only chunk.
    pub usage_every_chunk: bool,
    /// Faults by model name (changeable at run time: `PUT /mock/faults/{model}`).
    pub faults: HashMap<String, Fault>,
}

/// Misbehaviour of one model; unset fields keep the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// Delay before the response starts, ms.
    pub latency_ms: Option<u64>,
    /// Delay before the first streamed token, ms.
    pub ttft_ms: Option<u64>,
    /// Status to fail with.
    pub status: Option<u16>,
    /// Fraction of requests that fail (with `status`, or 500).
    pub error_rate: Option<f64>,
    /// `Retry-After` seconds sent with 429 answers.
    pub retry_after_secs: Option<u64>,
    /// Break the connection after this many streamed events (no `[DONE]`).
    pub break_stream_after: Option<u32>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: 1,
            models: vec!["mock-small".into(), "mock-large".into()],
            tokenizer: Tokenizer::O200kBase,
            completion_words: 16,
            latency_ms: 0,
            ttft_ms: 0,
            inter_token_ms: 0,
            error_status: None,
            error_rate: 0.0,
            retry_after_secs: 1,
            omit_stream_usage: false,
            usage_every_chunk: false,
            faults: HashMap::new(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Error)]
pub enum MockConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this config.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl MockConfig {
    /// Reads a TOML file (absent keys keep their defaults) and validates it.
    pub fn from_file(path: &Path) -> Result<Self, MockConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MockConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|source| MockConfigError::Parse {
            path: shown,
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), MockConfigError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(MockConfigError::Invalid(format!(
                "error_rate must be within 0.0..=1.0, got {}",
                self.error_rate
            )));
        }
        if self.workers == 0 {
            return Err(MockConfigError::Invalid(
                "workers must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
