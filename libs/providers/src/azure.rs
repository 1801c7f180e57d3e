//! Azure OpenAI: the deployment name is in the path, `api-version` in the query and the key in
//! an `api-key` header; bodies and streams are OpenAI's.

use bytes::Bytes;

use crate::openai::json_body;
use crate::{Adapter, Call, Passthrough, StreamTranslator, TranslateError};

/// `api-version` used when the provider config sets none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// The Azure OpenAI adapter.
pub struct Azure;

impl Adapter for Azure {
    fn chat_request(
        &self,
        client: &reqwest::Client,
        call: &Call<'_>,
    ) -> Result<reqwest::RequestBuilder, TranslateError> {
        let mut request = client
            .post(format!(
                "{}/openai/deployments/{}/chat/completions?api-version={}",
                call.base_url,
                call.upstream_model,
                call.api_version.unwrap_or(DEFAULT_API_VERSION)
            ))
            .header("content-type", "application/json")
            .header("x-request-id", call.request_id)
            .body(json_body(call)?);
        if let Some(key) = call.api_key {
            request = request.header("api-key", key);
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
