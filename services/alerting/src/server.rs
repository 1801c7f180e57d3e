//! Start-up wiring: the consumer skeleton of `tollgate_runtime` running the usage consumer, the
//! dead-letter watch, the balance-feed watch, the webhook workers and the evaluation tick.

use std::net::SocketAddr;
use std::sync::Arc;

use tollgate_runtime::consumer::{ConsumerService, ServiceError};

use crate::engine::Engine;
use crate::metrics::AlertingMetrics;
use crate::{AlertingConfig, consumer, delivery, feed, window};

/// A started alerting service: connected and bound, working once [`Alerting::run`] is awaited.
pub struct Alerting {
    service: ConsumerService,
    engine: Arc<Engine>,
    config: AlertingConfig,
}

impl Alerting {
    /// Connects to Postgres (applying migrations) and NATS, binds the metrics listener.
    pub async fn bind(config: AlertingConfig) -> Result<Self, ServiceError> {
        tollgate_runtime::install_crypto_provider();
        let (service, metrics) =
            ConsumerService::start(&config.consumer, 8, AlertingMetrics::new).await?;
        let engine = Engine::new(
            service.pool.clone(),
            service.js.clone(),
            config.consumer.stream.subject_prefix.clone(),
            metrics,
        );
        Ok(Self {
            service,
            engine: Arc::new(engine),
            config,
        })
    }

    /// Address of `/healthz` and `/metrics`.
    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    /// Works until `shutdown` resolves; the batch and deliveries in hand finish first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServiceError> {
        let (engine, config) = (self.engine, self.config);
        self.service
            .run(shutdown, |stop| {
                vec![
                    tokio::spawn(consumer::run(engine.clone(), config.clone(), stop.clone())),
                    tokio::spawn(consumer::run_dead_letters(
                        engine.clone(),
                        config.clone(),
                        stop.clone(),
                    )),
                    tokio::spawn(feed::run(
                        engine.clone(),
                        config.consumer.stream.name.clone(),
                        config.consumer.stream.replicas,
                        stop.clone(),
                    )),
                    tokio::spawn(delivery::run(
                        engine.clone(),
                        config.delivery.clone(),
                        stop.clone(),
                    )),
                    tokio::spawn(tick(engine, config.evaluate_every, stop)),
                ]
            })
            .await;
        Ok(())
    }
}

/// Every `every`: window rules re-evaluated (they clear as time passes), unpublished alerts
/// published; about hourly, old window counts pruned.
async fn tick(
    engine: Arc<Engine>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let prune_every = (3600 / every.as_secs().max(1)).max(1);
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {}
        }
        window::evaluate_all(&engine).await;
        engine.publish_pending().await;
        ticks += 1;
        if ticks.is_multiple_of(prune_every)
            && let Err(err) = window::prune(&engine.pool).await
        {
            tracing::warn!(error = %err, "window pruning failed");
        }
    }
}
