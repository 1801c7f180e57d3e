//! Alerting configuration, from the environment (see README's configuration table).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tollgate_events::StreamSettings;

/// A refused configuration.
#[derive(Debug, Error)]
#[error("alerting config: {key}: {reason}")]
pub struct ConfigError {
    key: String,
    reason: String,
}

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
}

/// Validated alerting settings.
#[derive(Debug, Clone)]
pub struct AlertingConfig {
    /// Postgres URL.
    pub database_url: String,
    /// NATS server URLs, comma-separated (`NATS_URLS`, else `NATS_URL`).
    pub nats_url: String,
    /// The event stream (and, by its name, the ledger's balance bucket).
    pub stream: StreamSettings,
    /// Durable consumer name shared by all alerting instances.
    pub durable: String,
    /// How often window rules are re-evaluated (so they re-arm as time passes).
    pub evaluate_every: Duration,
    /// Webhook delivery.
    pub delivery: DeliverySettings,
    /// Address of `/healthz` and `/metrics` (`127.0.0.1:0` picks a port).
    pub listen: SocketAddr,
}

impl AlertingConfig {
    /// Reads `DATABASE_URL`, `NATS_URLS` / `NATS_URL` (comma-separated), `TOLLGATE_STREAM`,
    /// `TOLLGATE_SUBJECT_PREFIX`, `TOLLGATE_STREAM_REPLICAS`,
    /// `TOLLGATE_ALERTING_DURABLE` (`alerting`), `TOLLGATE_ALERTING_EVALUATE_MS` (1000),
    /// `TOLLGATE_WEBHOOK_FIRST_RETRY_MS` (1000), `TOLLGATE_WEBHOOK_MAX_RETRY_SECS` (300),
    /// `TOLLGATE_WEBHOOK_GIVE_UP_SECS` (86400), `TOLLGATE_WEBHOOK_TIMEOUT_SECS` (10) and
    /// `TOLLGATE_ALERTING_LISTEN` (`127.0.0.1:9104`).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |key: &str| env.get(key).cloned();
        let bad = |key: &str, reason: &str| ConfigError {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let positive = |key: &str, default: u64| -> Result<u64, ConfigError> {
            let value = match get(key) {
                Some(v) => v.parse().map_err(|_| bad(key, "not a number"))?,
                None => default,
            };
            if value == 0 {
                return Err(bad(key, "must be at least 1"));
            }
            Ok(value)
        };
        let listen = get("TOLLGATE_ALERTING_LISTEN").unwrap_or_else(|| "127.0.0.1:9104".into());
        Ok(Self {
            database_url: get("DATABASE_URL").ok_or_else(|| bad("DATABASE_URL", "missing"))?,
            nats_url: tollgate_events::nats_urls_from_env(env)
                .map_err(|e| bad(e.key, &e.reason))?,
            stream: StreamSettings::from_env(env).map_err(|e| bad(e.key, &e.reason))?,
            durable: get("TOLLGATE_ALERTING_DURABLE").unwrap_or_else(|| "alerting".into()),
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
            },
            listen: listen
                .parse()
                .map_err(|_| bad("TOLLGATE_ALERTING_LISTEN", "not a socket address"))?,
        })
    }
}
