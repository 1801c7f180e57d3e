//! OpenAI and every OpenAI-compatible API: the request goes out as is, with a bearer key.

use bytes::Bytes;

use crate::{Adapter, Call, Passthrough, StreamTranslator, TranslateError};

/// The OpenAI-compatible adapter.
pub struct OpenAi;

/// Serializes the (already OpenAI-format) body.
pub(crate) fn json_body(call: &Call<'_>) -> Result<Vec<u8>, TranslateError> {
    serde_json::to_vec(call.body).map_err(|e| TranslateError::Unsupported(e.to_string()))
}

impl Adapter for OpenAi {
    fn chat_request(
        &self,
        client: &reqwest::Client,
        call: &Call<'_>,
    ) -> Result<reqwest::RequestBuilder, TranslateError> {
        let mut request = client
            .post(format!("{}/chat/completions", call.base_url))
            .header("content-type", "application/json")
            .header("x-request-id", call.request_id)
            .body(json_body(call)?);
        if let Some(key) = call.api_key {
            request = request.bearer_auth(key);
        }
        Ok(request)
    }

    fn chat_response(&self, body: Bytes, _model: &str) -> Result<Bytes, TranslateError> {
        Ok(body)
    }

    fn chat_stream(&self, _model: &str) -> Box<dyn StreamTranslator> {
        Box::new(Passthrough)
    }
}
