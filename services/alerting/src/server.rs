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
        let mut engine = Engine::new(
            service.pool.clone(),
            service.js.clone(),
            config.consumer.stream.subject_prefix.clone(),
            metrics,
        );
        engine.audit_retention = chrono::TimeDelta::days(config.audit_retention_days as i64);
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

/// Deletes audit log entries older than the retention period (in chunks, so no statement
/// holds the table long).
async fn expire_audit_log(engine: &Engine) {
    let cutoff = chrono::Utc::now() - engine.audit_retention;
    loop {
        match tollgate_store::audit::delete_before(&engine.pool, cutoff, 10_000).await {
            Ok(0) => return,
            Ok(deleted) => {
                engine.metrics.audit_expired.inc_by(deleted);
            }
            Err(err) => {
                tracing::warn!(error = %err, "audit log expiry failed");
                return;
            }
        }
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
        if ticks.is_multiple_of(prune_every) || ticks == 1 {
            if let Err(err) = window::prune(&engine.pool).await {
                tracing::warn!(error = %err, "window pruning failed");
            }
            expire_audit_log(&engine).await;
        }
    }
}
