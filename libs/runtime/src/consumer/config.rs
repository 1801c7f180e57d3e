//! What every consumer service reads from its environment.

use std::net::SocketAddr;
use std::time::Duration;

use tollgate_events::{ConsumerSettings, NatsAccess, StreamSettings};

use super::Subscription;
use crate::env::{ConfigError, EnvReader};

/// A consumer service's names and defaults.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerDefaults {
    /// The service (`ledger`): its durable consumer's default name, its NATS connection
    /// (`tollgate-ledger`) and its variables (`TOLLGATE_LEDGER_*`).
    pub service: &'static str,
    /// Most events handled in one transaction.
    pub batch_size: u64,
    /// How long a batch waits for more events after its first, in milliseconds.
    pub linger_ms: u64,
    /// Address of `/healthz` and `/metrics`.
    pub listen: &'static str,
}

/// Validated settings of a consumer service.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The service (`ledger`).
    pub service: &'static str,
    /// Postgres URL.
    pub database_url: String,
    /// NATS server URLs, comma-separated (`NATS_URLS`, else `NATS_URL`).
    pub nats_url: String,
    /// NATS credentials and TLS (`NATS_USER`, `NATS_PASSWORD`, `NATS_TLS_*`).
    pub nats_access: NatsAccess,
    /// The event stream.
    pub stream: StreamSettings,
    /// Durable consumer name shared by all instances of the service.
    pub durable: String,
    /// Most events handled in one transaction.
    pub batch_size: usize,
    /// How long JetStream waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// How long a batch waits for more events after its first (fewer, larger transactions).
    pub linger: Duration,
    /// Address of `/healthz` and `/metrics` (`127.0.0.1:0` picks a port).
    pub listen: SocketAddr,
}

impl ConsumerConfig {
    /// Reads `DATABASE_URL`, `NATS_URLS` / `NATS_URL` (comma-separated), the NATS credentials
    /// and TLS settings ([`NatsAccess::from_env`]), `TOLLGATE_STREAM`,
    /// `TOLLGATE_SUBJECT_PREFIX`, `TOLLGATE_STREAM_REPLICAS`, and the service's
    /// `TOLLGATE_<SERVICE>_DURABLE` (the service's name), `_BATCH` (1..=10000), `_LINGER_MS`,
    /// `_ACK_WAIT_SECS` (at least 1, default 30) and `_LISTEN`.
    pub fn from_env(env: EnvReader<'_>, defaults: ConsumerDefaults) -> Result<Self, ConfigError> {
        let key = |setting: &str| {
            format!(
                "TOLLGATE_{}_{setting}",
                defaults.service.to_ascii_uppercase()
            )
        };
        Ok(Self {
            service: defaults.service,
            database_url: env.required("DATABASE_URL")?,
            nats_url: tollgate_events::nats_urls_from_env(env.map())
                .map_err(|e| env.refuse(e.key, e.reason))?,
            nats_access: NatsAccess::from_env(env.map())
                .map_err(|e| env.refuse(e.key, e.reason))?,
            stream: StreamSettings::from_env(env.map()).map_err(|e| env.refuse(e.key, e.reason))?,
            durable: env.or(&key("DURABLE"), defaults.service),
            batch_size: env.number_in(&key("BATCH"), defaults.batch_size, 1..=10_000)? as usize,
            ack_wait: Duration::from_secs(env.positive(&key("ACK_WAIT_SECS"), 30)?),
            linger: Duration::from_millis(env.number(&key("LINGER_MS"), defaults.linger_ms)?),
            listen: env.socket(&key("LISTEN"), defaults.listen)?,
        })
    }

    /// The durable consumer of these settings, receiving `subjects` (`v1.>` for every event,
    /// under the stream's subject prefix).
    pub fn subscription(&self, subjects: &str) -> Subscription {
        Subscription {
            name: self.service,
            stream: self.stream.clone(),
            consumer: ConsumerSettings {
                durable: self.durable.clone(),
                description: format!("tollgate {}", self.service),
                filter_subject: format!("{}.{subjects}", self.stream.subject_prefix),
                ack_wait: self.ack_wait,
            },
            batch_size: self.batch_size,
            linger: self.linger,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const DEMO: ConsumerDefaults = ConsumerDefaults {
        service: "demo",
        batch_size: 100,
        linger_ms: 20,
        listen: "127.0.0.1:9199",
    };

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_service_reads_its_own_variables_with_its_defaults() {
        let env = env(&[
            ("DATABASE_URL", "postgres://db"),
            ("TOLLGATE_SUBJECT_PREFIX", "acme"),
            ("TOLLGATE_DEMO_BATCH", "7"),
            ("TOLLGATE_LEDGER_BATCH", "9"),
        ]);
        let config = ConsumerConfig::from_env(EnvReader::new("demo", &env), DEMO).unwrap();
        assert_eq!(config.batch_size, 7);
        assert_eq!(config.durable, "demo");
        assert_eq!(config.linger, Duration::from_millis(20));
        assert_eq!(config.ack_wait, Duration::from_secs(30));
        assert_eq!(config.listen.port(), 9199);
        let subscription = config.subscription("v1.*.usage.recorded");
        assert_eq!(
            subscription.consumer.filter_subject,
            "acme.v1.*.usage.recorded"
        );
        assert_eq!(subscription.consumer.description, "tollgate demo");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (key, value) in [
            ("TOLLGATE_DEMO_BATCH", "0"),
            ("TOLLGATE_DEMO_BATCH", "10001"),
            ("TOLLGATE_DEMO_ACK_WAIT_SECS", "0"),
            ("TOLLGATE_DEMO_LINGER_MS", "-1"),
            ("TOLLGATE_DEMO_LISTEN", "nowhere"),
        ] {
            let env = env(&[("DATABASE_URL", "postgres://db"), (key, value)]);
            let refused =
                ConsumerConfig::from_env(EnvReader::new("demo", &env), DEMO).expect_err("refused");
            assert_eq!(refused.key, key, "{refused}");
        }
        let refused = ConsumerConfig::from_env(EnvReader::new("demo", &env(&[])), DEMO)
            .expect_err("no database");
        assert_eq!(refused.to_string(), "demo config: DATABASE_URL: missing");
    }
}
