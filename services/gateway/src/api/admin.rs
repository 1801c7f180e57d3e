//! Management API (`/api/v1`): tenants, keys and credits. The platform operator manages
//! every tenant; any key of a tenant lists the tenant's keys, and a key the operator allowed
//! (`manage_keys`) also creates, edits and revokes them.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_events::{CreditSource, CreditsAdjusted, CreditsGranted, Event, EventBody};
use tollgate_semcache::Precision;
use tollgate_store::budget::{self, BudgetPeriod, PeriodSpend, SpendOwner};
use tollgate_store::keys::{KeyUpdate, NewApiKey, Updated};
use uuid::Uuid;

use super::access::Principal;
use super::audit::{Actor, Created};
use super::ids::{KeyId, TenantId, require_tenant};
use super::params::parse_money;
use crate::auth::{generate_api_key, hash_key};
use crate::error::ApiError;
use crate::state::AppState;

/// Namespace of credit event ids: `UUIDv5(namespace, "<tenant>:<idempotency_key>")`.
pub const CREDIT_EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_8b3d_4e57_9a0c_5d7e_1f2b_3c4d);
/// Namespace of adjustment event ids (separate, so the same key may name one of each).
pub const ADJUSTMENT_EVENT_NAMESPACE: Uuid =
    Uuid::from_u128(0x1d2e_3f40_5a6b_4c7d_8e9f_a0b1_c2d3_e4f5);

/// Longest accepted name, tag, note or idempotency key.
const MAX_TEXT: usize = 200;
/// Most tags on one key (each is a group in the analytics).
const MAX_TAGS: usize = 32;

pub(super) fn text(value: &str, field: &'static str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT {
        return Err(ApiError::invalid(
            format!("'{field}' must be 1 to {MAX_TEXT} characters"),
            "invalid_request",
            Some(field),
        ));
    }
    // Postgres text cannot hold NUL, and no name or note needs a control character.
    if value.chars().any(|c| !crate::client_text::is_printable(c)) {
        return Err(ApiError::invalid(
            format!("'{field}' must not contain control characters"),
            "invalid_request",
            Some(field),
        ));
    }
    Ok(())
}

/// Body of `POST /api/v1/tenants`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    cache: Option<String>,
    cache_ttl_seconds: Option<i32>,
    /// Requests per minute of all the tenant's keys together (absent: the gateway's
    /// `limits.tenant` default; `null`: unlimited).
    #[serde(default, deserialize_with = "present")]
    rpm: Option<Option<i32>>,
    /// Tokens per minute of all its keys together (absent: the default; `null`: unlimited).
    #[serde(default, deserialize_with = "present")]
    tpm: Option<Option<i32>>,
    /// Requests in flight at once, all its keys together (absent: the default; `null`:
    /// unlimited).
    #[serde(default, deserialize_with = "present")]
    max_concurrent: Option<Option<i32>>,
    /// Spending cap of all its keys together per `budget_period` (absent: none).
    #[schema(value_type = Option<String>)]
    budget_usd: Option<Value>,
    /// `day`, `week`, `month` (UTC calendar) or `total` (default).
    budget_period: Option<String>,
}

/// Body of `PATCH /api/v1/tenants/{id}`: the settings to change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"rpm": 600})))]
pub struct UpdateTenant {
    cache: Option<String>,
    cache_ttl_seconds: Option<i32>,
    /// Requests per minute of all its keys together; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    rpm: Option<Option<i32>>,
    /// Tokens per minute of all its keys together; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    tpm: Option<Option<i32>>,
    /// Requests in flight at once, all its keys together; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    max_concurrent: Option<Option<i32>>,
    /// Spending cap of all its keys together per `budget_period`; `null`: none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    budget_usd: Option<Option<Value>>,
    /// `day`, `week`, `month` or `total`.
    budget_period: Option<String>,
}

/// Validates a cache mode (`off`, `exact`, `semantic`) and TTL.
fn cache_settings(
    mode: Option<String>,
    ttl_seconds: Option<i32>,
) -> Result<tollgate_store::tenants::CacheSettings, ApiError> {
    if let Some(mode) = &mode {
        mode.parse::<tollgate_semcache::Mode>().map_err(|e| {
            ApiError::invalid(format!("'cache': {e}"), "invalid_request", Some("cache"))
        })?;
    }
    if ttl_seconds.is_some_and(|t| t <= 0) {
        return Err(ApiError::invalid(
            "'cache_ttl_seconds' must be a positive integer",
            "invalid_request",
            Some("cache_ttl_seconds"),
        ));
    }
    Ok(tollgate_store::tenants::CacheSettings { mode, ttl_seconds })
}

/// `POST /api/v1/tenants`
pub async fn create_tenant(
    state: web::Data<AppState>,
    body: web::Json<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    text(&body.name, "name")?;
    let cache = cache_settings(body.cache, body.cache_ttl_seconds)?;
    let defaults = state.config.limits.tenant;
    let limits = tollgate_store::tenants::Limits {
        rpm: new_limit(body.rpm, defaults.rpm, "rpm")?,
        tpm: new_limit(body.tpm, defaults.tpm, "tpm")?,
        max_concurrent: new_limit(
            body.max_concurrent,
            defaults.max_concurrent,
            "max_concurrent",
        )?,
    };
    let budget = tollgate_store::tenants::Budget {
        usd: optional_budget(body.budget_usd.as_ref())?,
        period: parse_period(body.budget_period)?.unwrap_or_default(),
    };
    let tenant =
        tollgate_store::tenants::create(&state.pool, body.name.trim(), &cache, &limits, &budget)
            .await?;
    let created = Created {
        tenant_id: Some(tenant.id),
        id: tenant.id.to_string(),
    };
    Ok(created.on(HttpResponse::Created().json(tenant_view(&state, &tenant).await?)))
}

/// `PATCH /api/v1/tenants/{tenant_id}`: changes the tenant's cache settings; every key of the
/// tenant on this gateway picks them up at once, on other gateways within the key cache's TTL.
pub async fn update_tenant(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    body: web::Json<UpdateTenant>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let update = tollgate_store::tenants::TenantUpdate {
        cache: cache_settings(body.cache, body.cache_ttl_seconds)?,
        rpm: changed_limit(body.rpm, "rpm")?,
        tpm: changed_limit(body.tpm, "tpm")?,
        max_concurrent: changed_limit(body.max_concurrent, "max_concurrent")?,
        budget_usd: body
            .budget_usd
            .map(|value| optional_budget(value.as_ref()))
            .transpose()?,
        budget_period: parse_period(body.budget_period)?,
    };
    let tenant = tollgate_store::tenants::update(&state.pool, tenant_id, &update)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant not found", "tenant_not_found"))?;
    state.keys.forget_tenant(tenant_id);
    Ok(HttpResponse::Ok().json(tenant_view(&state, &tenant).await?))
}

/// `DELETE /api/v1/tenants/{tenant_id}/cache`: deletes every cached answer of the tenant
/// (the operator, or one of the tenant's own keys).
pub async fn purge_cache(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    require_tenant(&state.pool, tenant_id).await?;
    if let Some(cache) = &state.cache {
        cache
            .purge(tenant_id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/tenants/{tenant_id}`
pub async fn get_tenant(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    let tenant = tollgate_store::tenants::get(&state.pool, tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant not found", "tenant_not_found"))?;
    Ok(HttpResponse::Ok().json(tenant_view(&state, &tenant).await?))
}

/// Query of `GET /api/v1/tenants`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct TenantListQuery {
    /// Page size, 1 to 1000 (default 100).
    limit: Option<String>,
    /// A tenant id from the previous page's `next_before`.
    before: Option<String>,
}

/// `GET /api/v1/tenants?limit&before`: every tenant, newest first, each with its balance and
/// the spend of its budget's current period.
pub async fn list_tenants(
    state: web::Data<AppState>,
    query: web::Query<TenantListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = super::params::parse_limit(query.limit.as_deref(), 100, 1000)?;
    let before = query
        .before
        .as_deref()
        .map(|raw| {
            Uuid::parse_str(raw).map_err(|_| {
                ApiError::invalid(
                    "'before' must be a tenant id from a previous page",
                    "invalid_request",
                    Some("before"),
                )
            })
        })
        .transpose()?;
    let now = Utc::now();
    let tenants = tollgate_store::tenants::list(&state.pool, limit, before, now).await?;
    let data = tenants
        .iter()
        .map(|listed| {
            let period = listed.tenant.budget_period;
            let spend = PeriodSpend {
                period_spent_usd: listed.period_spent_usd,
                period_started_at: period.starts_at(now),
                period_resets_at: period.resets_at(now),
            };
            with_period_spend(listed, &spend)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next = (tenants.len() as i64 == limit)
        .then(|| tenants.last().map(|t| t.tenant.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({"data": data, "next_before": next})))
}

/// A tenant as answered: its settings and the spend of its budget's current period.
async fn tenant_view(
    state: &AppState,
    tenant: &tollgate_store::tenants::Tenant,
) -> Result<Value, ApiError> {
    let owner = SpendOwner::Tenant(tenant.id);
    let spend = budget::period_spend(&state.pool, owner, tenant.budget_period, Utc::now()).await?;
    with_period_spend(tenant, &spend)
}

/// Body of `POST /api/v1/tenants/{id}/keys`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    allowed_models: Option<Vec<String>>,
    #[schema(value_type = Option<String>)]
    budget_usd: Option<Value>,
    /// `day`, `week`, `month` (UTC calendar) or `total` (default).
    budget_period: Option<String>,
    /// Requests per minute (absent: the gateway's `limits.key` default; `null`: unlimited).
    #[serde(default, deserialize_with = "present")]
    rpm: Option<Option<i32>>,
    /// Tokens per minute (absent: the default; `null`: unlimited).
    #[serde(default, deserialize_with = "present")]
    tpm: Option<Option<i32>>,
    /// Requests in flight at once (absent: the default; `null`: unlimited).
    #[serde(default, deserialize_with = "present")]
    max_concurrent: Option<Option<i32>>,
    /// Output tokens a request without `max_tokens` is reserved and sent upstream with (absent:
    /// the model's, then the gateway's default).
    default_max_tokens: Option<i32>,
    /// Most output tokens (`max_tokens x n`) one request may ask for (absent: no key ceiling).
    max_output_tokens: Option<i32>,
    cache: Option<String>,
    cache_threshold: Option<f32>,
    cache_ttl_seconds: Option<i32>,
    #[serde(default)]
    cache_any_temperature: bool,
    /// `strict` (the default: every check) or `balanced` (more paraphrases served).
    cache_precision: Option<String>,
    /// The key may create, change and revoke its tenant's keys, with any limits (default false;
    /// only the operator grants it). The tenant's own limits and budget still bind them all.
    manage_keys: Option<bool>,
}

/// `POST /api/v1/tenants/{tenant_id}/keys`: the plaintext key is in this answer only. The
/// operator, or a key of the tenant that may manage keys (the new key records it).
pub async fn create_key(
    state: web::Data<AppState>,
    principal: Principal,
    actor: Actor,
    TenantId(tenant_id): TenantId,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let created_by_key_id = key_manager(&state, principal, actor).await?;
    if created_by_key_id.is_some() && body.manage_keys == Some(true) {
        return Err(operator_only_grant());
    }
    text(&body.name, "name")?;
    if body.tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            format!("'tags' may hold at most {MAX_TAGS} tags"),
            "invalid_request",
            Some("tags"),
        ));
    }
    for tag in &body.tags {
        text(tag, "tags")?;
    }
    if let Some(models) = &body.allowed_models {
        known_models(&state, models)?;
    }
    let budget_usd = optional_budget(body.budget_usd.as_ref())?;
    let budget_period = parse_period(body.budget_period)?.unwrap_or_default();
    let defaults = state.config.limits.key;
    let rpm = new_limit(body.rpm, defaults.rpm, "rpm")?;
    let tpm = new_limit(body.tpm, defaults.tpm, "tpm")?;
    let max_concurrent = new_limit(
        body.max_concurrent,
        defaults.max_concurrent,
        "max_concurrent",
    )?;
    let default_max_tokens = positive_limit(body.default_max_tokens, "default_max_tokens")?;
    let max_output_tokens = positive_limit(body.max_output_tokens, "max_output_tokens")?;
    let cache = cache_settings(body.cache, body.cache_ttl_seconds)?;
    if let Some(threshold) = body.cache_threshold {
        check_threshold(threshold)?;
    }
    check_precision(body.cache_precision.as_deref())?;
    require_tenant(&state.pool, tenant_id).await?;

    let secret =
        generate_api_key().map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    let new_key = NewApiKey {
        name: body.name.trim().to_owned(),
        key_hash: hash_key(&secret),
        key_prefix: secret.chars().take(10).collect(),
        tags: body.tags,
        allowed_models: body.allowed_models,
        budget_usd,
        budget_period,
        rpm,
        tpm,
        max_concurrent,
        default_max_tokens,
        max_output_tokens,
        cache: cache.mode,
        cache_threshold: body.cache_threshold,
        cache_ttl_seconds: cache.ttl_seconds,
        cache_any_temperature: body.cache_any_temperature,
        cache_precision: body.cache_precision,
        manage_keys: body.manage_keys.unwrap_or(false),
        created_by_key_id,
    };
    let cap = state.config.limits.max_keys_per_tenant;
    let Some(stored) = tollgate_store::keys::create(&state.pool, tenant_id, &new_key, cap).await?
    else {
        return Err(ApiError::Conflict {
            message: format!(
                "the tenant already has {cap} live keys, the most it may hold; revoke one first"
            ),
            code: "too_many_keys",
        });
    };
    let mut answer =
        serde_json::to_value(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["key"] = Value::String(secret);
    let created = Created {
        tenant_id: Some(tenant_id),
        id: stored.id.to_string(),
    };
    Ok(created.on(HttpResponse::Created().json(answer)))
}

/// A limit as given: absent or `null` (none), or a positive integer (400 otherwise).
fn positive_limit(limit: Option<i32>, field: &'static str) -> Result<Option<i32>, ApiError> {
    match limit {
        Some(value) if value <= 0 => Err(ApiError::invalid(
            format!("'{field}' must be a positive integer, or null for none"),
            "invalid_request",
            Some(field),
        )),
        limit => Ok(limit),
    }
}

/// A rate limit of a new key or tenant: absent (the gateway's `default`, stored so that `GET`
/// shows what applies), `null` (unlimited) or positive.
fn new_limit(
    limit: Option<Option<i32>>,
    default: Option<u32>,
    field: &'static str,
) -> Result<Option<i32>, ApiError> {
    match limit {
        None => Ok(default.map(|d| i32::try_from(d).unwrap_or(i32::MAX))),
        Some(value) => positive_limit(value, field),
    }
}

/// A rate limit in a `PATCH`: absent (kept), `null` (unlimited) or positive.
fn changed_limit(
    limit: Option<Option<i32>>,
    field: &'static str,
) -> Result<Option<Option<i32>>, ApiError> {
    limit.map(|value| positive_limit(value, field)).transpose()
}

/// Refuses a model the gateway does not serve (400).
fn known_models(state: &AppState, models: &[String]) -> Result<(), ApiError> {
    match models.iter().find(|m| !state.config.serves(m)) {
        Some(unknown) => Err(ApiError::invalid(
            format!("allowed_models: the gateway serves no model named '{unknown}'"),
            "unknown_model",
            Some("allowed_models"),
        )),
        None => Ok(()),
    }
}

/// A budget that may be absent or `null` (no budget).
fn optional_budget(value: Option<&Value>) -> Result<Option<Decimal>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse_budget(value).map(Some),
    }
}

/// A `budget_period` as given (absent: `None`).
fn parse_period(value: Option<String>) -> Result<Option<BudgetPeriod>, ApiError> {
    value
        .map(|name| {
            name.parse::<BudgetPeriod>()
                .map_err(|e| ApiError::invalid(e, "invalid_request", Some("budget_period")))
        })
        .transpose()
}

/// A tenant's or key's JSON with the spend of its current budget period added.
fn with_period_spend(item: &impl serde::Serialize, spend: &PeriodSpend) -> Result<Value, ApiError> {
    let mut answer = serde_json::to_value(item).map_err(|e| ApiError::Internal(e.to_string()))?;
    let spend = serde_json::to_value(spend).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let (Value::Object(answer), Value::Object(spend)) = (&mut answer, spend) {
        answer.extend(spend);
    }
    Ok(answer)
}

/// A budget: a non-negative decimal string.
fn parse_budget(value: &Value) -> Result<Decimal, ApiError> {
    let budget = parse_money(value, "budget_usd")?;
    if budget.is_sign_negative() {
        return Err(ApiError::invalid(
            "'budget_usd' must not be negative",
            "invalid_amount",
            Some("budget_usd"),
        ));
    }
    Ok(budget)
}

fn check_threshold(threshold: f32) -> Result<(), ApiError> {
    if threshold > 0.0 && threshold <= 1.0 {
        return Ok(());
    }
    Err(ApiError::invalid(
        "'cache_threshold' must be in (0, 1]",
        "invalid_request",
        Some("cache_threshold"),
    ))
}

/// A precision mode as given: absent, `strict` or `balanced` (400 otherwise).
fn check_precision(precision: Option<&str>) -> Result<(), ApiError> {
    // The message does not echo the value: it may be 100 kB of anything.
    match precision.map(str::parse::<Precision>) {
        Some(Err(_)) => Err(ApiError::invalid(
            "'cache_precision' must be 'strict' or 'balanced'",
            "invalid_request",
            Some("cache_precision"),
        )),
        _ => Ok(()),
    }
}

/// Deserializes a field that is present (`null` included) as `Some`, so an absent field (kept)
/// differs from `null` (cleared).
fn present<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Body of `PATCH /api/v1/keys/{key_id}`: the settings to change; `null` clears a setting
/// (no budget, every model, the tenant's cache mode, the gateway's threshold or TTL) or puts
/// it back to its default (`cache_any_temperature` false, `cache_precision` strict).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"rpm": 60})))]
pub struct UpdateKey {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    budget_usd: Option<Option<Value>>,
    /// `day`, `week`, `month` or `total`.
    budget_period: Option<String>,
    #[serde(default, deserialize_with = "present")]
    allowed_models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    cache: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    cache_threshold: Option<Option<f32>>,
    #[serde(default, deserialize_with = "present")]
    cache_ttl_seconds: Option<Option<i32>>,
    /// Semantic hits whatever the temperature; `null`: false.
    #[serde(default, deserialize_with = "present")]
    cache_any_temperature: Option<Option<bool>>,
    /// `strict` or `balanced`; `null`: strict.
    #[serde(default, deserialize_with = "present")]
    cache_precision: Option<Option<String>>,
    /// Requests per minute; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    rpm: Option<Option<i32>>,
    /// Tokens per minute; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    tpm: Option<Option<i32>>,
    /// Requests in flight at once; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    max_concurrent: Option<Option<i32>>,
    /// Default output limit of a request; `null`: the model's, then the gateway's.
    #[serde(default, deserialize_with = "present")]
    default_max_tokens: Option<Option<i32>>,
    /// Ceiling on `max_tokens x n`; `null`: none on the key.
    #[serde(default, deserialize_with = "present")]
    max_output_tokens: Option<Option<i32>>,
    /// The key may manage its tenant's keys (the operator only).
    manage_keys: Option<bool>,
}

impl UpdateKey {
    /// Validates the body into the store's update.
    fn validate(self, state: &AppState) -> Result<KeyUpdate, ApiError> {
        if let Some(Some(models)) = &self.allowed_models {
            known_models(state, models)?;
        }
        let budget_usd = self
            .budget_usd
            .map(|value| optional_budget(value.as_ref()))
            .transpose()?;
        let set_mode = self.cache.clone().flatten();
        let set_ttl = self.cache_ttl_seconds.flatten();
        cache_settings(set_mode, set_ttl)?;
        if let Some(Some(threshold)) = self.cache_threshold {
            check_threshold(threshold)?;
        }
        let cache_precision = self
            .cache_precision
            .map(|mode| mode.unwrap_or_else(|| "strict".to_owned()));
        check_precision(cache_precision.as_deref())?;
        let update = KeyUpdate {
            budget_usd,
            budget_period: parse_period(self.budget_period)?,
            allowed_models: self.allowed_models,
            cache: self.cache,
            cache_threshold: self.cache_threshold,
            cache_ttl_seconds: self.cache_ttl_seconds,
            cache_any_temperature: self.cache_any_temperature.map(Option::unwrap_or_default),
            cache_precision,
            rpm: changed_limit(self.rpm, "rpm")?,
            tpm: changed_limit(self.tpm, "tpm")?,
            max_concurrent: changed_limit(self.max_concurrent, "max_concurrent")?,
            default_max_tokens: changed_limit(self.default_max_tokens, "default_max_tokens")?,
            max_output_tokens: changed_limit(self.max_output_tokens, "max_output_tokens")?,
            manage_keys: self.manage_keys,
        };
        let nothing = update.budget_usd.is_none()
            && update.budget_period.is_none()
            && update.allowed_models.is_none()
            && update.cache.is_none()
            && update.cache_threshold.is_none()
            && update.cache_ttl_seconds.is_none()
            && update.cache_any_temperature.is_none()
            && update.cache_precision.is_none()
            && update.rpm.is_none()
            && update.tpm.is_none()
            && update.max_concurrent.is_none()
            && update.default_max_tokens.is_none()
            && update.max_output_tokens.is_none()
            && update.manage_keys.is_none();
        if nothing {
            return Err(ApiError::invalid(
                "nothing to change: give at least one of budget_usd, budget_period, allowed_models, cache, \
                 cache_threshold, cache_ttl_seconds, cache_any_temperature, cache_precision, rpm, tpm, \
                 max_concurrent, default_max_tokens, max_output_tokens, manage_keys",
                "invalid_request",
                None,
            ));
        }
        Ok(update)
    }
}

/// `PATCH /api/v1/keys/{key_id}`: changes a live key's budget, models or cache settings; this
/// gateway applies them at once, every other within a poll interval (about a second).
pub async fn update_key(
    state: web::Data<AppState>,
    principal: Principal,
    actor: Actor,
    KeyId(key_id): KeyId,
    body: web::Json<UpdateKey>,
) -> Result<HttpResponse, ApiError> {
    own_key(&state, principal, key_id).await?;
    if key_manager(&state, principal, actor).await?.is_some() && body.manage_keys.is_some() {
        return Err(operator_only_grant());
    }
    let update = body.into_inner().validate(&state)?;
    match tollgate_store::keys::update(&state.pool, key_id, &update).await? {
        Updated::Key(key, hash) => {
            state.keys.reload(&hash);
            Ok(HttpResponse::Ok().json(key))
        }
        Updated::Revoked => Err(ApiError::Conflict {
            message: "the key is revoked; create a new one".into(),
            code: "key_revoked",
        }),
        Updated::Missing => Err(ApiError::not_found("key not found", "key_not_found")),
    }
}

/// `GET /api/v1/tenants/{tenant_id}/keys`
pub async fn list_keys(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    require_tenant(&state.pool, tenant_id).await?;
    let keys = tollgate_store::keys::list(&state.pool, tenant_id).await?;
    let now = Utc::now();
    let spent = budget::keys_period_spend(&state.pool, tenant_id, now).await?;
    let data = keys
        .iter()
        .map(|key| {
            let spend = PeriodSpend {
                period_spent_usd: spent.get(&key.id).copied().unwrap_or_default(),
                period_started_at: key.budget_period.starts_at(now),
                period_resets_at: key.budget_period.resets_at(now),
            };
            with_period_spend(key, &spend)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

/// 404 unless the operator asks or the key is one of the calling tenant's own (another
/// tenant's key is not found, exactly like a missing one).
async fn own_key(state: &AppState, principal: Principal, key_id: Uuid) -> Result<(), ApiError> {
    if let Principal::Tenant(own) = principal
        && tollgate_store::keys::tenant_of(&state.pool, key_id).await? != Some(own)
    {
        return Err(ApiError::not_found("key not found", "key_not_found"));
    }
    Ok(())
}

/// `DELETE /api/v1/keys/{key_id}`: revokes; every gateway stops accepting it within ~1 s.
pub async fn revoke_key(
    state: web::Data<AppState>,
    principal: Principal,
    actor: Actor,
    KeyId(key_id): KeyId,
    query: web::Query<RevokeQuery>,
) -> Result<HttpResponse, ApiError> {
    let with_created = match query.revoke_created.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "'revoke_created' must be true or false",
                "invalid_request",
                Some("revoke_created"),
            ));
        }
    };
    own_key(&state, principal, key_id).await?;
    key_manager(&state, principal, actor).await?;
    match tollgate_store::keys::revoke(&state.pool, key_id).await? {
        Some(hash) => state.keys.evict(&hash),
        None if tollgate_store::keys::exists(&state.pool, key_id).await? => {}
        None => return Err(ApiError::not_found("key not found", "key_not_found")),
    }
    if with_created {
        for hash in tollgate_store::keys::revoke_created_by(&state.pool, key_id).await? {
            state.keys.evict(&hash);
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Query of `DELETE /api/v1/keys/{key_id}`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct RevokeQuery {
    /// `true`: also revoke every live key this key created (a leaked managing key's keys).
    revoke_created: Option<String>,
}

/// The calling key when a tenant's key manages keys (it must hold `manage_keys`); `None` when
/// the operator does.
async fn key_manager(
    state: &AppState,
    principal: Principal,
    actor: Actor,
) -> Result<Option<Uuid>, ApiError> {
    let (Principal::Tenant(_), Actor::ApiKey(key_id)) = (principal, actor) else {
        return Ok(None);
    };
    let allowed = tollgate_store::keys::get(&state.pool, key_id)
        .await?
        .is_some_and(|key| key.manage_keys && key.revoked_at.is_none());
    if !allowed {
        return Err(ApiError::Forbidden {
            message: "this API key may not manage keys; the operator can allow it with \
                      'manage_keys': true"
                .into(),
            code: "key_management_not_allowed",
        });
    }
    Ok(Some(key_id))
}

fn operator_only_grant() -> ApiError {
    ApiError::Forbidden {
        message: "only the operator may grant or withdraw 'manage_keys'".into(),
        code: "operator_only",
    }
}

/// Body of `POST /api/v1/tenants/{id}/credits`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantCredits {
    /// USD as a decimal string, above zero.
    #[schema(value_type = String, examples("25.00"))]
    amount_usd: Value,
    /// One per grant: a retry with the same key credits once.
    idempotency_key: String,
    #[schema(examples("Prepaid top-up"))]
    note: Option<String>,
}

/// `POST /api/v1/tenants/{tenant_id}/credits`: publishes `credits.granted` (confirmed by
/// JetStream before answering). The event id derives from the idempotency key, so a retry
/// returns the same id and credits once.
pub async fn grant_credits(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    body: web::Json<GrantCredits>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let amount = parse_money(&body.amount_usd, "amount_usd")?;
    if amount <= Decimal::ZERO {
        return Err(ApiError::invalid(
            "'amount_usd' must be positive",
            "invalid_amount",
            Some("amount_usd"),
        ));
    }
    if amount > state.config.max_credit_usd {
        return Err(ApiError::invalid(
            format!(
                "'amount_usd' must not exceed {}",
                state.config.max_credit_usd
            ),
            "invalid_amount",
            Some("amount_usd"),
        ));
    }
    text(&body.idempotency_key, "idempotency_key")?;
    if let Some(note) = &body.note {
        text(note, "note")?;
    }
    require_tenant(&state.pool, tenant_id).await?;
    let grant = CreditsGranted {
        amount_usd: amount,
        idempotency_key: body.idempotency_key.clone(),
        note: body.note.clone(),
        source: CreditSource::Api,
    };
    let event_id = publish_money_event(
        &state,
        (tenant_id, &CREDIT_EVENT_NAMESPACE, &body.idempotency_key),
        EventBody::CreditsGranted(grant),
        amount,
    )
    .await?;
    let created = Created {
        tenant_id: Some(tenant_id),
        id: event_id.to_string(),
    };
    Ok(created.on(HttpResponse::Created().json(json!({
        "event_id": event_id,
        "tenant_id": tenant_id,
        "kind": "credits.granted",
        "amount_usd": amount.to_string(),
        "idempotency_key": body.idempotency_key,
        "note": body.note,
    }))))
}

/// Publishes a credit or adjustment of `amount` for `(tenant, namespace, idempotency key)`,
/// its event id `UUIDv5(namespace, "<tenant>:<key>")`, and returns the id. Refuses an
/// idempotency key already booked with another amount (409), then publishes and waits for
/// JetStream's ack; a duplicate ack (the key was published earlier and is not booked yet) is
/// checked against the earlier event's amount too. Republishing a booked event is harmless: the
/// ledger books each event id once, however late the retry (also past JetStream's duplicate
/// window).
async fn publish_money_event(
    state: &AppState,
    (tenant_id, namespace, idempotency_key): (Uuid, &Uuid, &str),
    body: EventBody,
    amount: Decimal,
) -> Result<Uuid, ApiError> {
    let event_id = Uuid::new_v5(
        namespace,
        format!("{tenant_id}:{idempotency_key}").as_bytes(),
    );
    let event = &Event::with_id(event_id, tenant_id, body);
    let booked =
        tollgate_store::ledger::entry(&state.pool, event.tenant_id, event.event_id).await?;
    if let Some(booked) = booked
        && booked.amount_usd != amount
    {
        return Err(ApiError::Conflict {
            message: format!(
                "idempotency_key was already used for {} USD",
                booked.amount_usd.normalize()
            ),
            code: "idempotency_conflict",
        });
    }
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "money event not confirmed");
        ApiError::Unavailable(
            "the event stream is unavailable; retry with the same idempotency_key".into(),
        )
    };
    let confirmed = tollgate_events::publish_confirmed(
        &state.jetstream,
        &state.config.nats.stream.subject_prefix,
        event,
    )
    .await
    .map_err(|e| unavailable(&e))?;
    if !confirmed.duplicate {
        return Ok(event_id);
    }
    // The stream already holds this event id, not yet booked: the earlier publish decides.
    let stream = state
        .jetstream
        .get_stream(&state.config.nats.stream.name)
        .await
        .map_err(|e| unavailable(&e))?;
    let earlier = stream
        .get_raw_message(confirmed.sequence)
        .await
        .map_err(|e| unavailable(&e))?;
    let earlier_amount = match Event::decode(&earlier.payload) {
        Ok(Some(Event {
            body: EventBody::CreditsGranted(CreditsGranted { amount_usd, .. }),
            ..
        }))
        | Ok(Some(Event {
            body: EventBody::CreditsAdjusted(CreditsAdjusted { amount_usd, .. }),
            ..
        })) => amount_usd,
        _ => return Ok(event_id),
    };
    if earlier_amount != amount {
        return Err(ApiError::Conflict {
            message: format!(
                "idempotency_key was already used for {} USD",
                earlier_amount.normalize()
            ),
            code: "idempotency_conflict",
        });
    }
    Ok(event_id)
}

/// Body of `POST /api/v1/tenants/{id}/adjustments`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustCredits {
    /// Signed USD as a decimal string.
    #[schema(value_type = String, examples("-1.50"))]
    amount_usd: Value,
    #[schema(examples("Refund of a failed batch"))]
    reason: String,
    /// One per adjustment: a retry with the same key books once.
    idempotency_key: String,
}

/// `POST /api/v1/tenants/{tenant_id}/adjustments`: an operator correction (`credits.adjusted`,
/// signed amount and a reason), idempotent like credits.
pub async fn adjust_credits(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    body: web::Json<AdjustCredits>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let amount = parse_money(&body.amount_usd, "amount_usd")?;
    if amount.is_zero() || amount.abs() > state.config.max_credit_usd {
        return Err(ApiError::invalid(
            format!(
                "'amount_usd' must be non-zero and at most {} in size",
                state.config.max_credit_usd
            ),
            "invalid_amount",
            Some("amount_usd"),
        ));
    }
    text(&body.reason, "reason")?;
    text(&body.idempotency_key, "idempotency_key")?;
    require_tenant(&state.pool, tenant_id).await?;
    let adjustment = CreditsAdjusted {
        amount_usd: amount,
        reason: body.reason.clone(),
        idempotency_key: body.idempotency_key.clone(),
    };
    let event_id = publish_money_event(
        &state,
        (
            tenant_id,
            &ADJUSTMENT_EVENT_NAMESPACE,
            &body.idempotency_key,
        ),
        EventBody::CreditsAdjusted(adjustment),
        amount,
    )
    .await?;
    let created = Created {
        tenant_id: Some(tenant_id),
        id: event_id.to_string(),
    };
    Ok(created.on(HttpResponse::Created().json(json!({
        "event_id": event_id,
        "tenant_id": tenant_id,
        "kind": "credits.adjusted",
        "amount_usd": amount.to_string(),
        "reason": body.reason,
        "idempotency_key": body.idempotency_key,
    }))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_event_id_is_stable_per_tenant_and_key() {
        let tenant = Uuid::now_v7();
        let id =
            |t: Uuid, k: &str| Uuid::new_v5(&CREDIT_EVENT_NAMESPACE, format!("{t}:{k}").as_bytes());
        assert_eq!(id(tenant, "k1"), id(tenant, "k1"));
        assert_ne!(id(tenant, "k1"), id(tenant, "k2"));
        assert_ne!(id(tenant, "k1"), id(Uuid::now_v7(), "k1"));
    }
}
