//! `GET /v1/models`: the models the calling key may use, in OpenAI's list format.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::headers::{DataPlaneMeta, request_id};
use crate::state::AppState;

/// The handler.
pub async fn list_models(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let meta = DataPlaneMeta::new(request_id(&req));
    let key = match state.authenticate(&req).await {
        Ok(key) => key,
        Err(err) => return meta.error(&err),
    };
    let table = state.router.table();
    let tenant = key.tenant_id.to_string();
    let names: Vec<&str> = table
        .model_names(Some(&tenant))
        .into_iter()
        .filter(|name| key.may_use(name))
        .collect();
    let data: Vec<_> = names
        .into_iter()
        .map(|name| json!({"id": name, "object": "model", "created": 0, "owned_by": "tollgate"}))
        .collect();
    let mut response = HttpResponse::Ok().json(json!({"object": "list", "data": data}));
    meta.apply(&mut response);
    response
}
