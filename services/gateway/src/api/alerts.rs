//! Alert rules (`/api/v1/tenants/{id}/alert-rules`, platform rules at `/api/v1/alert-rules`)
//! and the alerts services/alerting raised (`/api/v1/alerts`). A tenant's own key may manage
//! and read its tenant's rules and alerts; platform rules are the operator's.

use actix_web::{HttpResponse, web};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_store::alerts::{NewAlertRule, RuleKind};
use uuid::Uuid;

use super::access::Principal;
use super::ids::{AlertId, RuleId, TenantId, parse_id, require_tenant};
use super::params::parse_money;
use crate::error::ApiError;
use crate::state::AppState;

/// Longest window a rule may watch (31 days: what alerting keeps).
const MAX_WINDOW_SECONDS: i32 = 31 * 24 * 3600;
/// Longest webhook URL.
const MAX_URL: usize = 2000;

/// Body of `POST .../alert-rules`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"kind": "balance_below", "threshold_usd": "5.00"})))]
pub struct CreateRule {
    kind: String,
    #[schema(value_type = Option<String>)]
    threshold_usd: Option<Value>,
    #[schema(value_type = Option<f64>)]
    percent: Option<Value>,
    percents: Option<Vec<i32>>,
    key_id: Option<String>,
    window_seconds: Option<i32>,
    min_requests: Option<i32>,
    webhook_url: Option<String>,
}

fn invalid(message: impl Into<String>, param: &'static str) -> ApiError {
    ApiError::invalid(message, "invalid_request", Some(param))
}

/// Refuses a field that the rule's kind does not use.
fn unused(present: bool, field: &'static str, kind: RuleKind) -> Result<(), ApiError> {
    if present {
        return Err(invalid(
            format!("'{field}' does not apply to {} rules", kind.as_str()),
            field,
        ));
    }
    Ok(())
}

fn window(seconds: Option<i32>, kind: RuleKind) -> Result<i32, ApiError> {
    match seconds {
        Some(s) if (60..=MAX_WINDOW_SECONDS).contains(&s) => Ok(s),
        Some(_) => Err(invalid(
            format!("'window_seconds' must be from 60 to {MAX_WINDOW_SECONDS}"),
            "window_seconds",
        )),
        None => Err(invalid(
            format!("{} rules need 'window_seconds'", kind.as_str()),
            "window_seconds",
        )),
    }
}

/// How long a webhook host may take to resolve when a rule is created.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Name lookups of rule creation in flight at once: each holds a blocking thread that a timeout
/// cannot stop, so a tenant's stalling names cannot take them all.
static LOOKUPS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(16);

/// The addresses `host` resolves to within [`RESOLVE_TIMEOUT`] (none on failure or timeout).
async fn resolve(host: &str, port: u16) -> Vec<std::net::IpAddr> {
    let lookup = async {
        let _slot = LOOKUPS.acquire().await.ok()?;
        tokio::net::lookup_host((host, port)).await.ok()
    };
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Some(found)) => found.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    }
}

/// A webhook URL: http(s), and every address its host resolves to allowed by `egress` (public,
/// or in a range the operator allows). Alerting checks the address again when it connects.
async fn webhook(
    url: Option<String>,
    egress: &tollgate_runtime::egress::EgressPolicy,
) -> Result<Option<String>, ApiError> {
    let Some(url) = url else { return Ok(None) };
    let parsed = reqwest::Url::parse(&url).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && url.len() <= MAX_URL
    });
    let Some(parsed) = parsed else {
        return Err(invalid(
            "'webhook_url' must be an http(s) URL of at most 2000 characters",
            "webhook_url",
        ));
    };
    let not_allowed = |why: String| {
        ApiError::invalid(
            format!(
                "'webhook_url' may not lead to {why}; webhooks go to public addresses unless the operator allows a range"
            ),
            "webhook_url_not_allowed",
            Some("webhook_url"),
        )
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let host = parsed.host_str().unwrap_or_default();
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<std::net::IpAddr>() {
        Ok(ip) => egress
            .check(ip)
            .map_err(|refused| not_allowed(format!("a {refused}")))?,
        // A name gets one answer whether it does not resolve or resolves inward, so that
        // tenants cannot map the operator's internal names.
        Err(_) => {
            let addresses = resolve(host, port).await;
            if addresses.is_empty() || addresses.iter().any(|ip| egress.check(*ip).is_err()) {
                return Err(not_allowed(
                    "a host that does not resolve to public addresses only".into(),
                ));
            }
        }
    }
    Ok(Some(url))
}

impl CreateRule {
    /// Validates the body into a rule of `tenant` (`None`: a platform rule).
    async fn validate(
        self,
        state: &AppState,
        tenant: Option<Uuid>,
    ) -> Result<NewAlertRule, ApiError> {
        let kind: RuleKind = self.kind.parse().map_err(|e: String| invalid(e, "kind"))?;
        match (kind.is_platform(), tenant) {
            (true, Some(_)) => {
                return Err(invalid(
                    format!(
                        "{} is a platform rule: the operator creates it at POST /api/v1/alert-rules",
                        kind.as_str()
                    ),
                    "kind",
                ));
            }
            (false, None) => {
                return Err(invalid(
                    "platform rules are breaker_open and dead_letter; tenant rules go to /api/v1/tenants/{id}/alert-rules",
                    "kind",
                ));
            }
            _ => {}
        }
        let uses = |fields: &[&str], name: &str| fields.contains(&name);
        let fields: &[&str] = match kind {
            RuleKind::BalanceBelow => &["threshold_usd"],
            RuleKind::SpendAbove => &["threshold_usd", "window_seconds"],
            RuleKind::KeyBudget => &["percents", "key_id"],
            RuleKind::ErrorRateAbove => &["percent", "window_seconds", "min_requests"],
            RuleKind::BreakerOpen | RuleKind::DeadLetter => &[],
        };
        for (present, field) in [
            (self.threshold_usd.is_some(), "threshold_usd"),
            (self.percent.is_some(), "percent"),
            (self.percents.is_some(), "percents"),
            (self.key_id.is_some(), "key_id"),
            (self.window_seconds.is_some(), "window_seconds"),
            (self.min_requests.is_some(), "min_requests"),
        ] {
            unused(present && !uses(fields, field), field, kind)?;
        }
        let mut rule = NewAlertRule {
            tenant_id: tenant,
            kind,
            threshold: None,
            percents: None,
            api_key_id: None,
            window_seconds: None,
            min_requests: 10,
            webhook_url: webhook(self.webhook_url, &state.config.webhook_egress).await?,
            webhook_secret: generate_secret()?,
        };
        match kind {
            RuleKind::BalanceBelow | RuleKind::SpendAbove => {
                let threshold = self
                    .threshold_usd
                    .as_ref()
                    .ok_or_else(|| {
                        invalid(
                            format!("{} rules need 'threshold_usd'", kind.as_str()),
                            "threshold_usd",
                        )
                    })
                    .and_then(|v| parse_money(v, "threshold_usd"))?;
                if threshold.is_sign_negative()
                    || (kind == RuleKind::SpendAbove && threshold.is_zero())
                {
                    return Err(invalid("'threshold_usd' must be positive", "threshold_usd"));
                }
                rule.threshold = Some(threshold);
                if kind == RuleKind::SpendAbove {
                    rule.window_seconds = Some(window(self.window_seconds, kind)?);
                }
            }
            RuleKind::KeyBudget => {
                let mut percents = self.percents.unwrap_or_else(|| vec![50, 80, 100]);
                percents.sort_unstable();
                percents.dedup();
                if percents.is_empty() || percents.iter().any(|p| !(1..=1000).contains(p)) {
                    return Err(invalid(
                        "'percents' must be 1 to 1000 each, e.g. [50, 80, 100]",
                        "percents",
                    ));
                }
                rule.percents = Some(percents);
                if let Some(raw) = &self.key_id {
                    let key = Uuid::parse_str(raw)
                        .map_err(|_| invalid("'key_id' is not a key of this tenant", "key_id"))?;
                    let owned = tollgate_store::keys::list(&state.pool, tenant.unwrap_or_default())
                        .await?
                        .iter()
                        .any(|k| k.id == key);
                    if !owned {
                        return Err(invalid("'key_id' is not a key of this tenant", "key_id"));
                    }
                    rule.api_key_id = Some(key);
                }
            }
            RuleKind::ErrorRateAbove => {
                let percent = match &self.percent {
                    Some(Value::Number(n)) => n.to_string().parse::<Decimal>().ok(),
                    Some(Value::String(s)) => s.trim().parse::<Decimal>().ok(),
                    _ => None,
                }
                .filter(|p| *p > Decimal::ZERO && *p < Decimal::ONE_HUNDRED)
                .ok_or_else(|| {
                    invalid(
                        "error_rate_above rules need 'percent' between 0 and 100",
                        "percent",
                    )
                })?;
                rule.threshold = Some(percent);
                rule.window_seconds = Some(window(self.window_seconds, kind)?);
                rule.min_requests = match self.min_requests {
                    Some(n) if n >= 1 => n,
                    Some(_) => {
                        return Err(invalid("'min_requests' must be at least 1", "min_requests"));
                    }
                    None => 10,
                };
            }
            RuleKind::BreakerOpen | RuleKind::DeadLetter => {}
        }
        Ok(rule)
    }
}

/// A webhook signing secret: `whsec_` + 32 random bytes in hex.
fn generate_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

async fn create(
    state: &AppState,
    tenant: Option<Uuid>,
    body: CreateRule,
) -> Result<HttpResponse, ApiError> {
    let mut rule = body.validate(state, tenant).await?;
    let secret = std::mem::take(&mut rule.webhook_secret);
    rule.webhook_secret = state
        .config
        .secrets
        .seal(&secret)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let stored = tollgate_store::alerts::create_rule(&state.pool, &rule).await?;
    let mut answer =
        serde_json::to_value(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["webhook_secret"] = Value::String(secret);
    let created = super::audit::Created {
        tenant_id: tenant,
        id: stored.id.to_string(),
    };
    Ok(created.on(HttpResponse::Created().json(answer)))
}

/// `POST /api/v1/tenants/{tenant_id}/alert-rules`: the webhook secret is in this answer only.
pub async fn create_tenant_rule(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    body: web::Json<CreateRule>,
) -> Result<HttpResponse, ApiError> {
    require_tenant(&state.pool, tenant_id).await?;
    let cap = state.config.limits.max_alert_rules_per_tenant;
    if tollgate_store::alerts::count_rules(&state.pool, tenant_id).await? >= i64::from(cap) {
        return Err(ApiError::Conflict {
            message: format!(
                "the tenant already has {cap} alert rules, the most it may hold; delete one first"
            ),
            code: "too_many_alert_rules",
        });
    }
    create(&state, Some(tenant_id), body.into_inner()).await
}

/// `GET /api/v1/tenants/{tenant_id}/alert-rules`
pub async fn list_tenant_rules(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
) -> Result<HttpResponse, ApiError> {
    require_tenant(&state.pool, tenant_id).await?;
    let rules = tollgate_store::alerts::rules(&state.pool, Some(tenant_id)).await?;
    Ok(HttpResponse::Ok().json(json!({"data": rules})))
}

/// `DELETE /api/v1/tenants/{tenant_id}/alert-rules/{rule_id}`
pub async fn delete_tenant_rule(
    state: web::Data<AppState>,
    TenantId(tenant_id): TenantId,
    RuleId(rule_id): RuleId,
) -> Result<HttpResponse, ApiError> {
    delete(&state, Some(tenant_id), rule_id).await
}

async fn delete(
    state: &AppState,
    tenant: Option<Uuid>,
    rule_id: Uuid,
) -> Result<HttpResponse, ApiError> {
    if tollgate_store::alerts::delete_rule(&state.pool, tenant, rule_id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(
            "alert rule not found",
            "alert_rule_not_found",
        ))
    }
}

/// `POST /api/v1/alert-rules` (operator): platform rules (`breaker_open`, `dead_letter`).
pub async fn create_platform_rule(
    state: web::Data<AppState>,
    body: web::Json<CreateRule>,
) -> Result<HttpResponse, ApiError> {
    create(&state, None, body.into_inner()).await
}

/// `GET /api/v1/alert-rules` (operator)
pub async fn list_platform_rules(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rules = tollgate_store::alerts::rules(&state.pool, None).await?;
    Ok(HttpResponse::Ok().json(json!({"data": rules})))
}

/// `DELETE /api/v1/alert-rules/{rule_id}` (operator)
pub async fn delete_platform_rule(
    state: web::Data<AppState>,
    RuleId(rule_id): RuleId,
) -> Result<HttpResponse, ApiError> {
    delete(&state, None, rule_id).await
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AlertsQuery {
    tenant_id: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/alerts?tenant_id&limit`: newest first (a tenant key: its tenant's only).
pub async fn list_alerts(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AlertsQuery>,
) -> Result<HttpResponse, ApiError> {
    let asked = query
        .tenant_id
        .as_deref()
        .map(|raw| parse_id(raw, "tenant"))
        .transpose()?;
    let tenant = principal.scope(asked)?;
    let limit = super::params::parse_limit(query.limit.as_deref(), 100, 1000)?;
    let alerts = tollgate_store::alerts::alerts(&state.pool, tenant, limit).await?;
    Ok(HttpResponse::Ok().json(json!({"data": alerts})))
}

/// `GET /api/v1/alerts/{alert_id}`: the alert with its webhook delivery attempts.
pub async fn get_alert(
    state: web::Data<AppState>,
    principal: Principal,
    AlertId(alert_id): AlertId,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("alert not found", "alert_not_found");
    let (alert, deliveries) = tollgate_store::alerts::alert(&state.pool, alert_id)
        .await?
        .ok_or_else(not_found)?;
    if let Principal::Tenant(own) = principal
        && alert.tenant_id != Some(own)
    {
        return Err(not_found());
    }
    let mut answer = serde_json::to_value(&alert).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["deliveries"] =
        serde_json::to_value(&deliveries).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(answer))
}
