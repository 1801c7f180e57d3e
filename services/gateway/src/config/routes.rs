//! Routes as written (`[[models]]`, `[[models.deployments]]`, `[routing]`, `[[tenant_routes]]`)
//! and their validated runtime form.

use std::collections::HashMap;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use tollgate_billing::{ModelPrice, PriceBook, Tokenizer};
use tollgate_routing::{BreakerSettings, KeyLimit, RetryPolicy, Strategy, Tier};
use uuid::Uuid;

use super::base::{ConfigError, Env, ProviderConfig, Secret};

/// Tier order used when `routing.tiers` is not set (first = preferred by `priority`).
const DEFAULT_TIERS: [&str; 3] = ["free", "community", "official"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouting {
    tiers: Option<Vec<String>>,
    latency_tau_ms: Option<u64>,
    probe_interval_ms: Option<u64>,
    #[serde(default)]
    breaker: RawBreaker,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    consecutive_failures: Option<u32>,
    error_rate: Option<f64>,
    min_requests: Option<u32>,
    window_secs: Option<u64>,
    cooldown_ms: Option<u64>,
}

/// A `[[models]]` entry: a route with either inline single-deployment fields or a list of
/// `[[models.deployments]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    strategy: Option<String>,
    tokenizer: Option<String>,
    // Inline single deployment.
    provider: Option<String>,
    upstream_model: Option<String>,
    input_per_million: Option<Decimal>,
    output_per_million: Option<Decimal>,
    cached_input_per_million: Option<Decimal>,
    price_version: Option<String>,
    #[serde(default)]
    deployments: Vec<RawDeployment>,
    // Retries, fallback, deadline.
    max_attempts: Option<u32>,
    retries_per_deployment: Option<u32>,
    backoff_base_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    timeout_ms: Option<u64>,
    attempt_timeout_ms: Option<u64>,
    max_retry_after_ms: Option<u64>,
    /// Served only through `tenant_routes` (its own name and aliases are nobody's).
    #[serde(default)]
    private: bool,
    /// `max_tokens` (default) or `max_completion_tokens`.
    output_limit_field: Option<String>,
    /// Ceiling on `max_tokens x n` of one request.
    max_output_tokens: Option<u32>,
    /// Output limit of a request that sets none (instead of the gateway's `default_max_tokens`).
    default_max_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeployment {
    name: Option<String>,
    provider: String,
    upstream_model: String,
    weight: Option<u32>,
    priority: Option<u32>,
    tier: Option<String>,
    input_per_million: Decimal,
    output_per_million: Decimal,
    cached_input_per_million: Option<Decimal>,
    price_version: Option<String>,
    #[serde(default)]
    keys: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    key: Option<String>,
    key_env: Option<String>,
    rpm: Option<u32>,
    rps: Option<u32>,
}

/// `[[tenant_routes]]`: one tenant's `model` is served by another route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenantRoute {
    tenant_id: Uuid,
    model: String,
    route: String,
}

/// One deployment of a route.
#[derive(Debug, Clone)]
pub struct DeploymentConfig {
    /// Unique name.
    pub name: String,
    /// Index into [`super::GatewayConfig::providers`].
    pub provider: usize,
    /// Model (Azure: deployment) name upstream.
    pub upstream_model: String,
    /// Weight (`weighted`).
    pub weight: u32,
    /// Priority within its tier (`priority`).
    pub priority: u32,
    /// Tier.
    pub tier: Tier,
    /// Price charged when this deployment answers.
    pub price: ModelPrice,
    /// Upstream keys with their caps; empty = the provider's key.
    pub keys: Vec<(Secret, KeyLimit)>,
}

/// A logical model.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Name clients ask for.
    pub name: String,
    /// Other names for it.
    pub aliases: Vec<String>,
    /// Strategy.
    pub strategy: Strategy,
    /// Tokenizer of the model family (prompt estimates, streams without usage).
    pub tokenizer: Tokenizer,
    /// Retries, fallback and deadline.
    pub retry: RetryPolicy,
    /// Deployments.
    pub deployments: Vec<DeploymentConfig>,
    /// Served only as a tenant's override (`tenant_routes`): nobody can ask for it by its own
    /// name or aliases, and `/v1/models` lists it only under the overridden model's name.
    pub private: bool,
    /// The field a request without an output limit is sent upstream with.
    pub output_limit_field: &'static str,
    /// Most output tokens one request may ask for, all choices together (a 400 beyond).
    pub max_output_tokens: Option<u32>,
    /// Output limit of a request that sets none (`None`: the gateway's default).
    pub default_max_tokens: Option<u32>,
}

/// Routing-wide settings.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// Breaker thresholds of every deployment.
    pub breaker: BreakerSettings,
    /// Time constant of the peak-EWMA latency.
    pub latency_tau: Duration,
    /// Per-tenant overrides: (tenant, model) -> route name.
    pub tenant_routes: HashMap<(Uuid, String), String>,
    /// How often open breakers past their cooldown are probed by the gateway itself (off: only
    /// client traffic probes).
    pub probe_interval: Option<Duration>,
}

pub(super) fn normalize_routing(
    raw: RawRouting,
    tenant_routes: Vec<RawTenantRoute>,
    src: &str,
) -> Result<(RoutingConfig, Vec<String>), ConfigError> {
    let tiers = raw
        .tiers
        .unwrap_or_else(|| DEFAULT_TIERS.iter().map(|t| (*t).to_owned()).collect());
    if tiers.is_empty() {
        return Err(ConfigError::new(src, "routing.tiers", "must not be empty"));
    }
    let defaults = BreakerSettings::default();
    let b = raw.breaker;
    let error_rate = b.error_rate.unwrap_or(defaults.error_rate);
    if !(0.0..=1.0).contains(&error_rate) || error_rate == 0.0 {
        return Err(ConfigError::new(
            src,
            "routing.breaker.error_rate",
            "must be within (0.0, 1.0]",
        ));
    }
    let breaker = BreakerSettings {
        consecutive_failures: b
            .consecutive_failures
            .unwrap_or(defaults.consecutive_failures)
            .max(1),
        error_rate,
        min_requests: b.min_requests.unwrap_or(defaults.min_requests).max(1),
        window: b.window_secs.map_or(defaults.window, Duration::from_secs),
        cooldown: b
            .cooldown_ms
            .map_or(defaults.cooldown, Duration::from_millis),
    };
    let mut overrides = HashMap::new();
    for t in tenant_routes {
        if overrides
            .insert((t.tenant_id, t.model.clone()), t.route)
            .is_some()
        {
            return Err(ConfigError::new(
                src,
                format!("tenant_routes.{}.{}", t.tenant_id, t.model),
                "defined twice",
            ));
        }
    }
    Ok((
        RoutingConfig {
            breaker,
            latency_tau: Duration::from_millis(raw.latency_tau_ms.unwrap_or(10_000).max(1)),
            tenant_routes: overrides,
            probe_interval: raw
                .probe_interval_ms
                .filter(|ms| *ms > 0)
                .map(|ms| Duration::from_millis(ms.max(50))),
        },
        tiers,
    ))
}

fn resolve_key(
    raw: RawKey,
    key: &str,
    src: &str,
    env: &Env,
) -> Result<(Secret, KeyLimit), ConfigError> {
    let secret = match (raw.key, raw.key_env) {
        (Some(k), None) => k,
        (None, Some(var)) => env.get(&var).cloned().ok_or_else(|| {
            ConfigError::new(
                src,
                format!("{key}.key_env"),
                format!("environment variable {var} is not set"),
            )
        })?,
        _ => {
            return Err(ConfigError::new(
                src,
                key,
                "set exactly one of key, key_env",
            ));
        }
    };
    Ok((
        Secret::new(secret),
        KeyLimit {
            rpm: raw.rpm,
            rps: raw.rps,
        },
    ))
}

/// Validates `[[models]]` into routes and a price book of every deployment's price.
pub(super) fn normalize_routes(
    raw: Vec<RawModel>,
    providers: &[ProviderConfig],
    tiers: &[String],
    src: &str,
    env: &Env,
) -> Result<(Vec<RouteConfig>, PriceBook), ConfigError> {
    let mut routes = Vec::with_capacity(raw.len());
    let mut prices = Vec::new();
    let mut names = std::collections::HashSet::new();
    for model in raw {
        let key = format!("models.{}", model.name);
        let tokenizer = match &model.tokenizer {
            Some(t) => t
                .parse::<Tokenizer>()
                .map_err(|e| ConfigError::new(src, format!("{key}.tokenizer"), e.to_string()))?,
            None => Tokenizer::default(),
        };
        let strategy = match &model.strategy {
            Some(s) => s
                .parse()
                .map_err(|e: String| ConfigError::new(src, format!("{key}.strategy"), e))?,
            None => Strategy::default(),
        };
        let mut raw_deployments = model.deployments;
        let inline = model.provider.is_some();
        if let Some(provider) = model.provider {
            if !raw_deployments.is_empty() {
                return Err(ConfigError::new(
                    src,
                    format!("{key}.provider"),
                    "use either provider (one deployment) or [[models.deployments]], not both",
                ));
            }
            let missing = |field: &str| {
                ConfigError::new(
                    src,
                    format!("{key}.{field}"),
                    "missing (required with provider)",
                )
            };
            raw_deployments.push(RawDeployment {
                name: Some(model.name.clone()),
                provider,
                upstream_model: model.upstream_model.unwrap_or_else(|| model.name.clone()),
                weight: None,
                priority: None,
                tier: None,
                input_per_million: model
                    .input_per_million
                    .ok_or_else(|| missing("input_per_million"))?,
                output_per_million: model
                    .output_per_million
                    .ok_or_else(|| missing("output_per_million"))?,
                cached_input_per_million: model.cached_input_per_million,
                price_version: model.price_version,
                keys: Vec::new(),
            });
        }
        if raw_deployments.is_empty() {
            return Err(ConfigError::new(
                src,
                key,
                "needs provider (one deployment) or at least one [[models.deployments]]",
            ));
        }
        let mut deployments = Vec::with_capacity(raw_deployments.len());
        for d in raw_deployments {
            let name = d
                .name
                .unwrap_or_else(|| format!("{}/{}", d.provider, d.upstream_model));
            let dkey = if inline {
                key.clone()
            } else {
                format!("{key}.deployments.{name}")
            };
            if !names.insert(name.clone()) {
                return Err(ConfigError::new(src, dkey, "deployment name used twice"));
            }
            let provider = providers
                .iter()
                .position(|p| p.name == d.provider)
                .ok_or_else(|| {
                    ConfigError::new(
                        src,
                        format!("{dkey}.provider"),
                        format!("no provider named '{}'", d.provider),
                    )
                })?;
            let tier_name = d.tier.unwrap_or_else(|| tiers[tiers.len() - 1].clone());
            let rank = tiers.iter().position(|t| *t == tier_name).ok_or_else(|| {
                ConfigError::new(
                    src,
                    format!("{dkey}.tier"),
                    format!(
                        "unknown tier '{tier_name}' (routing.tiers: {})",
                        tiers.join(", ")
                    ),
                )
            })?;
            let price = ModelPrice {
                input_per_million: d.input_per_million,
                output_per_million: d.output_per_million,
                cached_input_per_million: d.cached_input_per_million.unwrap_or(d.input_per_million),
                tokenizer,
                version: d.price_version.unwrap_or_else(|| "1".into()),
            };
            prices.push((name.clone(), price.clone()));
            let keys = d
                .keys
                .into_iter()
                .enumerate()
                .map(|(i, k)| resolve_key(k, &format!("{dkey}.keys[{i}]"), src, env))
                .collect::<Result<Vec<_>, _>>()?;
            deployments.push(DeploymentConfig {
                name,
                provider,
                upstream_model: d.upstream_model,
                weight: d.weight.unwrap_or(1).max(1),
                priority: d.priority.unwrap_or(0),
                tier: Tier {
                    name: tier_name,
                    rank: u32::try_from(rank).unwrap_or(u32::MAX),
                },
                price,
                keys,
            });
        }
        let defaults = RetryPolicy::default();
        let ms = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_millis);
        let deadline = ms(model.timeout_ms, defaults.deadline);
        let retry = RetryPolicy {
            max_attempts: model.max_attempts.unwrap_or(defaults.max_attempts).max(1),
            retries_per_deployment: model
                .retries_per_deployment
                .unwrap_or(defaults.retries_per_deployment),
            backoff_base: ms(model.backoff_base_ms, defaults.backoff_base),
            backoff_max: ms(model.backoff_max_ms, defaults.backoff_max),
            deadline,
            max_retry_after: ms(model.max_retry_after_ms, defaults.max_retry_after),
            attempt_timeout: ms(model.attempt_timeout_ms, deadline),
        };
        let output_limit_field = match model.output_limit_field.as_deref() {
            None | Some("max_tokens") => "max_tokens",
            Some("max_completion_tokens") => "max_completion_tokens",
            Some(other) => {
                return Err(ConfigError::new(
                    src,
                    format!("models.{}.output_limit_field", model.name),
                    format!("'{other}' is neither max_tokens nor max_completion_tokens"),
                ));
            }
        };
        routes.push(RouteConfig {
            name: model.name,
            aliases: model.aliases,
            strategy,
            tokenizer,
            retry,
            deployments,
            private: model.private,
            output_limit_field,
            max_output_tokens: model.max_output_tokens.filter(|max| *max > 0),
            default_max_tokens: model.default_max_tokens.filter(|max| *max > 0),
        });
    }
    let book =
        PriceBook::new(prices).map_err(|e| ConfigError::new(src, "models", e.to_string()))?;
    Ok((routes, book))
}

impl RouteConfig {
    /// The dearest price of any deployment, component by component (what admission reserves).
    pub fn admission_price(&self) -> ModelPrice {
        let mut price = self.deployments[0].price.clone();
        for d in &self.deployments[1..] {
            price.input_per_million = price.input_per_million.max(d.price.input_per_million);
            price.output_per_million = price.output_per_million.max(d.price.output_per_million);
            price.cached_input_per_million = price
                .cached_input_per_million
                .max(d.price.cached_input_per_million);
        }
        price
    }
}
