//! Ledger configuration, from the environment (see README's configuration table).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tollgate_events::StreamSettings;

/// A refused configuration.
#[derive(Debug, Error)]
#[error("ledger config: {key}: {reason}")]
pub struct ConfigError {
    key: String,
    reason: String,
}

/// Validated ledger settings.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Postgres URL.
    pub database_url: String,
    /// NATS server URLs, comma-separated (`NATS_URLS`, else `NATS_URL`).
    pub nats_url: String,
    /// The event stream to project.
    pub stream: StreamSettings,
    /// Durable consumer name shared by all ledger instances.
    pub durable: String,
    /// Most events applied in one transaction.
    pub batch_size: usize,
    /// How long JetStream waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// How long a batch waits for more events after its first (fewer, larger transactions).
    pub linger: Duration,
    /// Address of `/healthz` and `/metrics` (`127.0.0.1:0` picks a port).
    pub listen: SocketAddr,
}

impl LedgerConfig {
    /// Reads `DATABASE_URL`, `NATS_URLS` / `NATS_URL` (comma-separated), `TOLLGATE_STREAM`,
    /// `TOLLGATE_SUBJECT_PREFIX`, `TOLLGATE_STREAM_REPLICAS`,
    /// `TOLLGATE_LEDGER_DURABLE`, `TOLLGATE_LEDGER_BATCH`, `TOLLGATE_LEDGER_LISTEN`,
    /// `TOLLGATE_LEDGER_ACK_WAIT_SECS` (redelivery delay of unacked events, default 30),
    /// `TOLLGATE_LEDGER_LINGER_MS` (batch gathering time, default 20).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |key: &str| env.get(key).cloned();
        let bad = |key: &str, reason: &str| ConfigError {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let batch_size = match get("TOLLGATE_LEDGER_BATCH") {
            Some(v) => v
                .parse()
                .map_err(|_| bad("TOLLGATE_LEDGER_BATCH", "not a number"))?,
            None => 1000,
        };
        if !(1..=10_000).contains(&batch_size) {
            return Err(bad("TOLLGATE_LEDGER_BATCH", "must be within 1..=10000"));
        }
        let ack_wait_secs: u64 = match get("TOLLGATE_LEDGER_ACK_WAIT_SECS") {
            Some(v) => v
                .parse()
                .map_err(|_| bad("TOLLGATE_LEDGER_ACK_WAIT_SECS", "not a number"))?,
            None => 30,
        };
        if ack_wait_secs == 0 {
            return Err(bad("TOLLGATE_LEDGER_ACK_WAIT_SECS", "must be at least 1"));
        }
        let linger_ms: u64 = match get("TOLLGATE_LEDGER_LINGER_MS") {
            Some(v) => v
                .parse()
                .map_err(|_| bad("TOLLGATE_LEDGER_LINGER_MS", "not a number"))?,
            None => 20,
        };
        let listen = get("TOLLGATE_LEDGER_LISTEN").unwrap_or_else(|| "127.0.0.1:9102".into());
        Ok(Self {
            database_url: get("DATABASE_URL").ok_or_else(|| bad("DATABASE_URL", "missing"))?,
            nats_url: tollgate_events::nats_urls_from_env(env)
                .map_err(|e| bad(e.key, &e.reason))?,
            stream: StreamSettings::from_env(env).map_err(|e| bad(e.key, &e.reason))?,
            durable: get("TOLLGATE_LEDGER_DURABLE").unwrap_or_else(|| "ledger".into()),
            batch_size,
            ack_wait: Duration::from_secs(ack_wait_secs),
            linger: Duration::from_millis(linger_ms),
            listen: listen
                .parse()
                .map_err(|_| bad("TOLLGATE_LEDGER_LISTEN", "not a socket address"))?,
        })
    }
}
