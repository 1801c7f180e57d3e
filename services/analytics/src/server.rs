//! Start-up wiring: analytics is one projection of the stream, run by `tollgate_runtime`'s
//! consumer skeleton.

use prometheus_client::registry::Registry;
use tollgate_runtime::consumer::{
    ConsumerConfig, ConsumerService, ProjectionService, SingleProjection,
};

use crate::AnalyticsConfig;
use crate::consumer::Consumer;
use crate::metrics::AnalyticsMetrics;

/// A started analytics service: connected and bound, consuming once `run` is awaited (the
/// batch in hand is committed and acked before it returns).
pub type Analytics = ProjectionService<Consumer>;

impl SingleProjection for Consumer {
    type Config = AnalyticsConfig;
    type Metrics = AnalyticsMetrics;
    const POOL_SIZE: u32 = 4;
    /// Usage events only.
    const SUBJECTS: &'static str = "v1.*.usage.recorded";

    fn consumer_config(config: &AnalyticsConfig) -> &ConsumerConfig {
        &config.consumer
    }

    fn register(registry: &mut Registry) -> AnalyticsMetrics {
        AnalyticsMetrics::new(registry)
    }

    fn build(
        _config: AnalyticsConfig,
        service: &ConsumerService,
        metrics: AnalyticsMetrics,
    ) -> Self {
        Self {
            pool: service.pool.clone(),
            metrics,
            poison_streak: Default::default(),
        }
    }
}
