//! Start-up wiring: the ledger is one projection of the stream, run by `tollgate_runtime`'s
//! consumer skeleton.

use prometheus_client::registry::Registry;
use tollgate_runtime::consumer::{
    ConsumerConfig, ConsumerService, ProjectionService, SingleProjection,
};

use crate::LedgerConfig;
use crate::consumer::Consumer;
use crate::metrics::LedgerMetrics;

/// A started ledger: connected and bound, consuming once `run` is awaited (the batch in hand
/// is booked and acked before it returns).
pub type Ledger = ProjectionService<Consumer>;

impl SingleProjection for Consumer {
    type Config = LedgerConfig;
    type Metrics = LedgerMetrics;
    const POOL_SIZE: u32 = 8;
    /// Every event: the money ones are booked, the rest acked.
    const SUBJECTS: &'static str = "v1.>";

    fn consumer_config(config: &LedgerConfig) -> &ConsumerConfig {
        &config.consumer
    }

    fn register(registry: &mut Registry) -> LedgerMetrics {
        LedgerMetrics::new(registry)
    }

    fn build(config: LedgerConfig, service: &ConsumerService, metrics: LedgerMetrics) -> Self {
        Self {
            pool: service.pool.clone(),
            js: service.js.clone(),
            config,
            metrics,
            poison_streak: Default::default(),
        }
    }
}
