//! `POST /v1/messages`: the Anthropic Messages API as an entry point, so Anthropic SDK users can
//! point at Tollgate. Requests are translated to the internal OpenAI form
//! ([`tollgate_providers::messages_api`]), served by the same pipeline (auth, admission,
//! routing, billing, events), and answers translated back, streams event by event.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::chat::{Dialect, handle};
use crate::state::AppState;

/// The handler.
pub async fn messages(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    handle(state, req, payload, Dialect::Anthropic).await
}
