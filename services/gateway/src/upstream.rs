//! Upstream providers: one pooled `reqwest::Client` for all of them, their configs, the
//! deployments' upstream keys, and the routing table built from config.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde_json::Value;
use tollgate_providers::Call;
use tollgate_routing::{Deployment, Health, KeyLimit, Route, RoutingTable};

use crate::config::{GatewayConfig, ProviderConfig, Secret};
use crate::error::ApiError;

/// Calls upstream providers.
pub struct Upstream {
    /// The pooled client.
    pub client: reqwest::Client,
    providers: Vec<ProviderConfig>,
    keys: HashMap<String, Vec<Secret>>,
}

impl Upstream {
    /// Builds the pooled HTTP client.
    pub fn new(config: &GatewayConfig) -> Result<Self, reqwest::Error> {
        let connect_timeout = config
            .providers
            .iter()
            .map(|p| p.connect_timeout)
            .max()
            .unwrap_or(Duration::from_secs(2));
        let read_timeout = config
            .providers
            .iter()
            .map(|p| p.timeout)
            .max()
            .unwrap_or(Duration::from_secs(300));
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        let keys = config
            .routes
            .iter()
            .flat_map(|r| &r.deployments)
            .map(|d| {
                (
                    d.name.clone(),
                    d.keys.iter().map(|(k, _)| k.clone()).collect(),
                )
            })
            .collect();
        Ok(Self {
            client,
            providers: config.providers.clone(),
            keys,
        })
    }

    /// The provider of a deployment.
    pub fn provider(&self, deployment: &Deployment) -> &ProviderConfig {
        &self.providers[deployment.provider_index]
    }

    /// One upstream call of `deployment` with its key `key_index`, in the provider's terms.
    pub fn call<'a>(
        &'a self,
        deployment: &'a Deployment,
        key_index: usize,
        request_id: &'a str,
        stream: bool,
        default_max_tokens: u32,
        body: &'a serde_json::Map<String, Value>,
    ) -> Call<'a> {
        let provider = self.provider(deployment);
        Call {
            base_url: &provider.base_url,
            upstream_model: &deployment.upstream_model,
            api_key: self.key(deployment, key_index),
            api_version: provider.api_version.as_deref(),
            request_id,
            stream,
            default_max_tokens,
            body,
        }
    }

    /// The upstream key for an attempt: the deployment's key `index`, else the provider's.
    fn key(&self, deployment: &Deployment, index: usize) -> Option<&str> {
        self.keys
            .get(&deployment.name)
            .and_then(|keys| keys.get(index))
            .or(self.provider(deployment).api_key.as_ref())
            .map(Secret::expose)
    }
}

/// The routing table of `config`, every deployment with fresh health.
pub fn routing_table(config: &GatewayConfig) -> Result<RoutingTable, tollgate_routing::TableError> {
    let mut aliases = HashMap::new();
    let routes: Vec<Route> = config
        .routes
        .iter()
        .map(|r| {
            for alias in &r.aliases {
                aliases.insert(alias.clone(), r.name.clone());
            }
            Route {
                name: r.name.clone(),
                strategy: r.strategy,
                retry: r.retry.clone(),
                admission_price: r.admission_price(),
                output_limit_field: r.output_limit_field,
                default_max_tokens: r.default_max_tokens,
                max_output_tokens: r.max_output_tokens,
                deployments: r
                    .deployments
                    .iter()
                    .map(|d| {
                        let limits: Vec<KeyLimit> = d.keys.iter().map(|(_, l)| *l).collect();
                        Arc::new(Deployment::new(
                            d.name.clone(),
                            config.providers[d.provider].name.clone(),
                            d.provider,
                            d.upstream_model.clone(),
                            d.weight,
                            d.priority,
                            d.tier.clone(),
                            d.price.clone(),
                            &limits,
                            Arc::new(Health::new(
                                config.routing.breaker.clone(),
                                config.routing.latency_tau,
                            )),
                        ))
                    })
                    .collect(),
            }
        })
        .collect();
    let overrides = config
        .routing
        .tenant_routes
        .iter()
        .map(|((tenant, model), route)| ((tenant.to_string(), model.clone()), route.clone()))
        .collect();
    let private = config
        .routes
        .iter()
        .filter(|r| r.private)
        .map(|r| r.name.clone())
        .collect();
    Ok(RoutingTable::new(routes, aliases, overrides)?.with_private(private))
}

/// Maps a transport failure to a client-facing error.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> ApiError {
    if err.is_timeout() {
        ApiError::UpstreamTimeout(format!("provider '{provider}' did not answer in time"))
    } else if err.is_connect() {
        ApiError::UpstreamFailed(format!("could not connect to provider '{provider}'"))
    } else {
        ApiError::UpstreamFailed(format!("provider '{provider}' connection failed"))
    }
}

/// Maps an upstream error status (and its body) to a client-facing error.
pub fn status_error(provider: &str, status: StatusCode, body: &Bytes) -> ApiError {
    let upstream_message = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match status.as_u16() {
        429 => ApiError::RateLimited(format!("provider '{provider}' is rate limiting requests")),
        401 | 403 => ApiError::UpstreamFailed(format!(
            "provider '{provider}' refused the gateway's credentials"
        )),
        504 | 408 => ApiError::UpstreamTimeout(format!("provider '{provider}' timed out")),
        400..=499 => ApiError::invalid(
            upstream_message.unwrap_or_else(|| {
                format!("provider '{provider}' rejected the request ({status})")
            }),
            "upstream_rejected_request",
            None,
        ),
        _ => ApiError::UpstreamFailed(format!(
            "provider '{provider}' failed with status {}",
            status.as_u16()
        )),
    }
}
