//! Analytics configuration, from the environment (see README's configuration table).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tollgate_events::StreamSettings;

/// A refused configuration.
#[derive(Debug, Error)]
#[error("analytics config: {key}: {reason}")]
pub struct ConfigError {
    key: String,
    reason: String,
}

/// Validated analytics settings.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// Postgres URL.
    pub database_url: String,
    /// NATS server URLs, comma-separated (`NATS_URLS`, else `NATS_URL`).
    pub nats_url: String,
    /// The event stream to roll up.
    pub stream: StreamSettings,
    /// Durable consumer name shared by all analytics instances.
    pub durable: String,
    /// Most events counted in one transaction.
    pub batch_size: usize,
    /// How long JetStream waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// How long a batch waits for more events after its first.
    pub linger: Duration,
    /// Address of `/healthz` and `/metrics` (`127.0.0.1:0` picks a port).
    pub listen: SocketAddr,
}

impl AnalyticsConfig {
    /// Reads `DATABASE_URL`, `NATS_URLS` / `NATS_URL` (comma-separated), `TOLLGATE_STREAM`,
    /// `TOLLGATE_SUBJECT_PREFIX`, `TOLLGATE_STREAM_REPLICAS`,
    /// `TOLLGATE_ANALYTICS_DURABLE` (default `analytics`), `TOLLGATE_ANALYTICS_BATCH` (2000),
    /// `TOLLGATE_ANALYTICS_LINGER_MS` (50), `TOLLGATE_ANALYTICS_ACK_WAIT_SECS` (30) and
    /// `TOLLGATE_ANALYTICS_LISTEN` (`127.0.0.1:9103`).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |key: &str| env.get(key).cloned();
        let bad = |key: &str, reason: &str| ConfigError {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let number = |key: &str, default: u64| -> Result<u64, ConfigError> {
            match get(key) {
                Some(v) => v.parse().map_err(|_| bad(key, "not a number")),
                None => Ok(default),
            }
        };
        let batch_size = number("TOLLGATE_ANALYTICS_BATCH", 2000)?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(bad("TOLLGATE_ANALYTICS_BATCH", "must be within 1..=10000"));
        }
        let ack_wait = number("TOLLGATE_ANALYTICS_ACK_WAIT_SECS", 30)?;
        if ack_wait == 0 {
            return Err(bad(
                "TOLLGATE_ANALYTICS_ACK_WAIT_SECS",
                "must be at least 1",
            ));
        }
        let listen = get("TOLLGATE_ANALYTICS_LISTEN").unwrap_or_else(|| "127.0.0.1:9103".into());
        Ok(Self {
            database_url: get("DATABASE_URL").ok_or_else(|| bad("DATABASE_URL", "missing"))?,
            nats_url: tollgate_events::nats_urls_from_env(env)
                .map_err(|e| bad(e.key, &e.reason))?,
            stream: StreamSettings::from_env(env).map_err(|e| bad(e.key, &e.reason))?,
            durable: get("TOLLGATE_ANALYTICS_DURABLE").unwrap_or_else(|| "analytics".into()),
            batch_size: batch_size as usize,
            ack_wait: Duration::from_secs(ack_wait),
            linger: Duration::from_millis(number("TOLLGATE_ANALYTICS_LINGER_MS", 50)?),
            listen: listen
                .parse()
                .map_err(|_| bad("TOLLGATE_ANALYTICS_LISTEN", "not a socket address"))?,
        })
    }
}
