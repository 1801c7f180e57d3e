//! Start-up wiring: the consumer skeleton of `tollgate_runtime` running the rollups.

use std::net::SocketAddr;

use tollgate_runtime::consumer::{ConsumerService, ServiceError};

use crate::AnalyticsConfig;
use crate::consumer::Consumer;
use crate::metrics::AnalyticsMetrics;

/// A started analytics service: connected and bound, consuming once [`Analytics::run`] is awaited.
pub struct Analytics {
    service: ConsumerService,
    consumer: Consumer,
}

impl Analytics {
    /// Connects to Postgres (applying migrations) and NATS, binds the metrics listener.
    pub async fn bind(config: AnalyticsConfig) -> Result<Self, ServiceError> {
        let (service, metrics) =
            ConsumerService::start(&config.consumer, 4, AnalyticsMetrics::new).await?;
        let consumer = Consumer {
            pool: service.pool.clone(),
            js: service.js.clone(),
            config,
            metrics,
            poison_streak: Default::default(),
        };
        Ok(Self { service, consumer })
    }

    /// Address of `/healthz` and `/metrics`.
    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    /// Consumes until `shutdown` resolves; the batch in hand is committed and acked first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServiceError> {
        let consumer = self.consumer;
        self.service
            .run(shutdown, |stop| vec![tokio::spawn(consumer.run(stop))])
            .await;
        Ok(())
    }
}

/// Binds and runs `config` until `shutdown` resolves.
pub async fn run(
    config: AnalyticsConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    Analytics::bind(config).await?.run(shutdown).await
}
