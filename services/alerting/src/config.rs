//! Alerting configuration, from the environment (see README's configuration table).

use std::collections::HashMap;
use std::time::Duration;

use tollgate_runtime::consumer::{ConsumerConfig, ConsumerDefaults};
use tollgate_runtime::env::{ConfigError, EnvReader};

/// The alerting service's names and defaults: `TOLLGATE_ALERTING_*`, batches of up to 1000
/// events gathered for 20 ms, `/metrics` on 127.0.0.1:9104.
const ALERTING: ConsumerDefaults = ConsumerDefaults {
    service: "alerting",
    batch_size: 1000,
    linger_ms: 20,
    listen: "127.0.0.1:9104",
};

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Wait before the second attempt; doubled per attempt.
    pub first_retry: Duration,
    /// Longest wait between attempts.
    pub max_retry: Duration,
    /// Give up this long after the alert was raised.
    pub give_up_after: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// How often due retries are looked for (new alerts wake the workers at once).
    pub poll: Duration,
    /// Where webhooks may lead: public addresses, and the ranges in
    /// `TOLLGATE_WEBHOOK_ALLOW_CIDRS` (checked on every address connected to).
    pub egress: tollgate_runtime::egress::EgressPolicy,
    /// Deliveries in flight at once for one tenant on one instance.
    pub per_tenant: usize,
    /// Opens sealed webhook secrets (`TOLLGATE_SECRETS_KEY`, `TOLLGATE_SECRETS_OLD_KEYS`).
    pub secrets: tollgate_runtime::sealed::Sealer,
}

/// Validated alerting settings.
#[derive(Debug, Clone)]
pub struct AlertingConfig {
    /// What every consumer service reads ([`ConsumerConfig::from_env`]); the stream's name
    /// also names the ledger's balance bucket.
    pub consumer: ConsumerConfig,
    /// How often window rules are re-evaluated (so they re-arm as time passes).
    pub evaluate_every: Duration,
    /// Webhook delivery.
    pub delivery: DeliverySettings,
    /// How long audit log entries are kept (`TOLLGATE_AUDIT_RETENTION_DAYS`, default 400).
    pub audit_retention_days: u64,
}

impl AlertingConfig {
    /// Reads the consumer settings under `TOLLGATE_ALERTING_*`, and
    /// `TOLLGATE_ALERTING_EVALUATE_MS` (1000), `TOLLGATE_WEBHOOK_FIRST_RETRY_MS` (1000),
    /// `TOLLGATE_WEBHOOK_MAX_RETRY_SECS` (300), `TOLLGATE_WEBHOOK_GIVE_UP_SECS` (86400) and
    /// `TOLLGATE_WEBHOOK_TIMEOUT_SECS` (10), `TOLLGATE_WEBHOOK_ALLOW_CIDRS` (none) and
    /// `TOLLGATE_WEBHOOK_PER_TENANT` (2), `TOLLGATE_AUDIT_RETENTION_DAYS` (400, at most 36500).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = EnvReader::new("alerting", env);
        let positive = |key: &str, default: u64| env.positive(key, default);
        Ok(Self {
            consumer: ConsumerConfig::from_env(env, ALERTING)?,
            evaluate_every: Duration::from_millis(positive("TOLLGATE_ALERTING_EVALUATE_MS", 1000)?),
            delivery: DeliverySettings {
                first_retry: Duration::from_millis(positive(
                    "TOLLGATE_WEBHOOK_FIRST_RETRY_MS",
                    1000,
                )?),
                max_retry: Duration::from_secs(positive("TOLLGATE_WEBHOOK_MAX_RETRY_SECS", 300)?),
                give_up_after: Duration::from_secs(positive(
                    "TOLLGATE_WEBHOOK_GIVE_UP_SECS",
                    86_400,
                )?),
                timeout: Duration::from_secs(positive("TOLLGATE_WEBHOOK_TIMEOUT_SECS", 10)?),
                poll: Duration::from_millis(250),
                egress: tollgate_runtime::egress::EgressPolicy::parse(
                    env.get("TOLLGATE_WEBHOOK_ALLOW_CIDRS").unwrap_or_default(),
                )
                .map_err(|e| env.refuse("TOLLGATE_WEBHOOK_ALLOW_CIDRS", e))?,
                per_tenant: usize::try_from(positive("TOLLGATE_WEBHOOK_PER_TENANT", 2)?)
                    .unwrap_or(usize::MAX),
                secrets: tollgate_runtime::sealed::Sealer::new(
                    env.get("TOLLGATE_SECRETS_KEY"),
                    env.get("TOLLGATE_SECRETS_OLD_KEYS"),
                )
                .map_err(|e| env.refuse("TOLLGATE_SECRETS_KEY", e))?,
            },
            audit_retention_days: env.number_in(
                "TOLLGATE_AUDIT_RETENTION_DAYS",
                crate::engine::DEFAULT_AUDIT_RETENTION_DAYS as u64,
                1..=36_500,
            )?,
        })
    }
}
