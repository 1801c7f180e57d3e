//! A deterministic fake LLM provider speaking the OpenAI wire format.
//!
//! Answers are derived from the prompt (same prompt, same answer) and `usage` is counted with
//! tiktoken, so tests can predict exactly what the gateway must bill. Behaviour is controlled
//! per request by `x-mock-*` headers and by default through [`MockConfig`]: added latency, time
//! to first token, inter-token delay, error status and rate, 429 with `Retry-After`, and streams
//! without `usage`. It records what it received so tests can assert on it.

mod answer;
mod anthropic;
mod config;
mod controls;
mod gemini;
mod handlers;
mod server;
mod stats;

pub use config::{Fault, MockConfig, MockConfigError};
pub use server::{MockFaults, MockUpstream, run};
pub use stats::{MockStats, ReceivedRequest};
