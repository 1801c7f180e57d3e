//! The audit log: every successful management action of an audited route (see the route
//! table), and every call an operator token's role refused, is published as an
//! `audit.recorded` event with its actor, action, target and request id; alerting stores it; `GET /api/v1/audit` reads it (the operator everything, a
//! tenant's key its own tenant's entries).

use actix_web::dev::ServiceResponse;
use actix_web::{HttpMessage, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tollgate_events::{AuditRecorded, Event, EventBody};
use uuid::Uuid;

use super::access::Principal;
use super::params::{parse_before, parse_time};
use crate::error::ApiError;
use crate::state::AppState;

/// Who did an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The root admin token.
    Root,
    /// A scoped operator token (its id) and its role.
    OperatorToken(Uuid, crate::auth::Role),
    /// A tenant API key (its id).
    ApiKey(Uuid),
}

impl Actor {
    fn kind(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::OperatorToken(..) => "operator_token",
            Self::ApiKey(_) => "api_key",
        }
    }

    /// The token's or key's id (`None` for the root token).
    pub fn id(self) -> Option<Uuid> {
        match self {
            Self::Root => None,
            Self::OperatorToken(id, _) | Self::ApiKey(id) => Some(id),
        }
    }

    /// How a minted operator token records its creator: `root` or the token's id.
    pub fn label(self) -> String {
        self.id()
            .map_or_else(|| "root".to_owned(), |id| id.to_string())
    }
}

impl actix_web::FromRequest for Actor {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Self>()
                .copied()
                .ok_or_else(|| ApiError::Internal(format!("{} has no access guard", req.path()))),
        )
    }
}

/// What a handler that creates something tells the audit log: the new thing's id (and, for a
/// new tenant, the tenant). Put in the response's extensions.
#[derive(Debug, Clone)]
pub struct Created {
    /// The tenant the new thing belongs to, if the path does not name it.
    pub tenant_id: Option<Uuid>,
    /// The new thing's id.
    pub id: String,
}

impl Created {
    /// `response` with this in its extensions.
    pub fn on(self, mut response: HttpResponse) -> HttpResponse {
        response.extensions_mut().insert(self);
        response
    }
}

/// Path parameters naming a target, most specific first.
const TARGET_PARAMS: [&str; 4] = ["rule_id", "token_id", "key_id", "tenant_id"];

/// Publishes the audit event of a successful call of an audited route.
pub(super) async fn record(
    state: &AppState,
    action: &'static str,
    actor: Actor,
    response: &ServiceResponse,
) {
    let created = response.response().extensions().get::<Created>().cloned();
    let status = response.status().as_u16();
    record_call(state, action, actor, response.request(), status, created).await;
}

/// Publishes the audit event of `req` by `actor` answered with `status` (`created`: what a
/// successful create made), returning once it is safe (see [`AppState::publish_safely`]).
pub(super) async fn record_call(
    state: &AppState,
    action: &'static str,
    actor: Actor,
    req: &actix_web::HttpRequest,
    status: u16,
    created: Option<Created>,
) {
    let path_id = |name: &str| req.match_info().get(name).map(str::to_owned);
    let mut tenant = created
        .as_ref()
        .and_then(|c| c.tenant_id)
        .or_else(|| path_id("tenant_id").and_then(|id| id.parse().ok()));
    if tenant.is_none()
        && let Some(key_id) = path_id("key_id").and_then(|id| id.parse().ok())
    {
        tenant = tollgate_store::keys::tenant_of(&state.pool, key_id)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "audit: the key's tenant could not be read");
                None
            });
    }
    let target_id = created
        .map(|c| c.id)
        .or_else(|| TARGET_PARAMS.iter().find_map(|name| path_id(name)));
    let target_type = action.split_once('.').map_or(action, |(kind, _)| kind);
    let event = Event::new(
        tenant.unwrap_or(Uuid::nil()),
        EventBody::AuditRecorded(AuditRecorded {
            actor_kind: actor.kind().into(),
            actor_id: actor.id(),
            action: action.into(),
            target_type: target_type.into(),
            target_id,
            request_id: Some(crate::headers::request_id(req)),
            status,
        }),
    );
    // Safe before the caller hears the answer, like a usage event: a gateway killed right
    // after answering loses no audit entry.
    if let Err(why) = state.publish_safely(event).await {
        tracing::error!(action, why, "audit event not made safe");
    }
}

/// Query of `GET /api/v1/audit`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only this tenant's actions (a tenant key sees its own tenant's only).
    tenant_id: Option<String>,
    /// Only this actor's (an operator token's or API key's id).
    actor_id: Option<String>,
    /// Only this action (`key.revoke`) or, ending in `.`, this family (`key.`).
    action: Option<String>,
    /// Only actions on this target id.
    target_id: Option<String>,
    /// From this time on (RFC 3339).
    since: Option<String>,
    /// Before this time (RFC 3339).
    until: Option<String>,
    /// Page size (1..=1000, default 100).
    limit: Option<String>,
    /// The `next_before` of the previous page.
    before: Option<String>,
}

fn uuid_param(raw: Option<&str>, name: &'static str) -> Result<Option<Uuid>, ApiError> {
    raw.map(|raw| {
        Uuid::parse_str(raw).map_err(|_| {
            ApiError::invalid(
                format!("'{name}' must be a UUID"),
                "invalid_request",
                Some(name),
            )
        })
    })
    .transpose()
}

fn text_param(raw: Option<&str>, name: &'static str) -> Result<Option<String>, ApiError> {
    raw.map(|raw| {
        if raw.is_empty() || raw.len() > 200 || raw.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                format!("'{name}' must be 1-200 printable characters"),
                "invalid_request",
                Some(name),
            ));
        }
        Ok(raw.to_owned())
    })
    .transpose()
}

/// `GET /api/v1/audit?tenant_id&actor_id&action&target_id&since&until&limit&before`: newest
/// first, `next_before` pages on.
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = principal.scope(uuid_param(query.tenant_id.as_deref(), "tenant_id")?)?;
    let limit = super::params::parse_limit(query.limit.as_deref(), 100, 1000)?;
    let filter = tollgate_store::audit::AuditQuery {
        tenant_id: tenant,
        actor_id: uuid_param(query.actor_id.as_deref(), "actor_id")?,
        action: text_param(query.action.as_deref(), "action")?,
        target_id: text_param(query.target_id.as_deref(), "target_id")?,
        since: (query.since.as_deref())
            .map(|raw| parse_time(raw, "since"))
            .transpose()?,
        until: (query.until.as_deref())
            .map(|raw| parse_time(raw, "until"))
            .transpose()?,
        before: query.before.as_deref().map(parse_before).transpose()?,
        limit,
    };
    let entries = tollgate_store::audit::list(&state.pool, &filter).await?;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.event_id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({"data": entries, "next_before": next})))
}
