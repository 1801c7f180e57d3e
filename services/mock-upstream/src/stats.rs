//! What the mock received, for tests to assert on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// One received request.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// Request path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `api-key` header (Azure), if any.
    pub api_key: Option<String>,
    /// The `x-api-key` header (Anthropic), if any.
    pub x_api_key: Option<String>,
    /// The `x-goog-api-key` header (Gemini), if any.
    pub goog_api_key: Option<String>,
    /// The W3C `traceparent` header, if any.
    pub traceparent: Option<String>,
    /// The model asked for (from the body, or the path for Gemini).
    pub model: Option<String>,
    /// The JSON body.
    pub body: Value,
}

/// Counters and the last request received.
#[derive(Debug, Default)]
pub struct MockStats {
    chat_requests: AtomicU64,
    embedding_requests: AtomicU64,
    last: Mutex<Option<ReceivedRequest>>,
    by_model: Mutex<HashMap<String, u64>>,
}

impl MockStats {
    pub(crate) fn record(&self, request: ReceivedRequest) {
        if request.path.ends_with("/embeddings") {
            self.embedding_requests.fetch_add(1, Ordering::Relaxed);
        } else {
            self.chat_requests.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(model) = &request.model
            && let Ok(mut by_model) = self.by_model.lock()
        {
            *by_model.entry(model.clone()).or_insert(0) += 1;
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(request);
        }
    }

    /// Chat completion requests received.
    pub fn chat_requests(&self) -> u64 {
        self.chat_requests.load(Ordering::Relaxed)
    }

    /// Embedding requests received.
    pub fn embedding_requests(&self) -> u64 {
        self.embedding_requests.load(Ordering::Relaxed)
    }

    /// Requests received for `model` (the body's `model`).
    pub fn requests_for(&self, model: &str) -> u64 {
        self.by_model
            .lock()
            .ok()
            .and_then(|m| m.get(model).copied())
            .unwrap_or(0)
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<ReceivedRequest> {
        self.last.lock().ok().and_then(|last| last.clone())
    }
}
