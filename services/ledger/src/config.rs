//! Ledger configuration, from the environment (see README's configuration table).

use std::collections::HashMap;

use tollgate_runtime::consumer::{ConsumerConfig, ConsumerDefaults};
use tollgate_runtime::env::{ConfigError, EnvReader};

/// The ledger's names and defaults: `TOLLGATE_LEDGER_*`, batches of up to 1000 events
/// gathered for 20 ms, `/metrics` on 127.0.0.1:9102.
const LEDGER: ConsumerDefaults = ConsumerDefaults {
    service: "ledger",
    batch_size: 1000,
    linger_ms: 20,
    listen: "127.0.0.1:9102",
};

/// Validated ledger settings.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// What every consumer service reads ([`ConsumerConfig::from_env`]).
    pub consumer: ConsumerConfig,
}

impl LedgerConfig {
    /// Reads the consumer settings under `TOLLGATE_LEDGER_*`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let consumer = ConsumerConfig::from_env(EnvReader::new("ledger", env), LEDGER)?;
        Ok(Self { consumer })
    }
}
