//! Analytics configuration, from the environment (see README's configuration table).

use std::collections::HashMap;

use tollgate_runtime::consumer::{ConsumerConfig, ConsumerDefaults};
use tollgate_runtime::env::{ConfigError, EnvReader};

/// The analytics service's names and defaults: `TOLLGATE_ANALYTICS_*`, batches of up to 2000
/// events gathered for 50 ms, `/metrics` on 127.0.0.1:9103.
const ANALYTICS: ConsumerDefaults = ConsumerDefaults {
    service: "analytics",
    batch_size: 2000,
    linger_ms: 50,
    listen: "127.0.0.1:9103",
};

/// Validated analytics settings.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// What every consumer service reads ([`ConsumerConfig::from_env`]).
    pub consumer: ConsumerConfig,
}

impl AnalyticsConfig {
    /// Reads the consumer settings under `TOLLGATE_ANALYTICS_*`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let consumer = ConsumerConfig::from_env(EnvReader::new("analytics", env), ANALYTICS)?;
        Ok(Self { consumer })
    }
}
