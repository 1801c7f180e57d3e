//! Start-up wiring: Postgres, NATS, the consumer, the balance-feed watch, the webhook workers,
//! the evaluation tick and `/healthz` + `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::engine::Engine;
use crate::metrics::AlertingMetrics;
use crate::{AlertingConfig, AlertingError, consumer, delivery, feed, window};

/// A started alerting service: connected and bound, working once [`Alerting::run`] is awaited.
pub struct Alerting {
    engine: Arc<Engine>,
    config: AlertingConfig,
    server: actix_web::dev::Server,
    addr: SocketAddr,
}

impl Alerting {
    /// Connects to Postgres (applying migrations) and NATS, binds the metrics listener.
    pub async fn bind(config: AlertingConfig) -> Result<Self, AlertingError> {
        tollgate_runtime::install_crypto_provider();
        let pool = tollgate_store::connect(&config.database_url, 8).await?;
        tollgate_store::migrate(&pool).await?;
        let options = async_nats::ConnectOptions::new().name("tollgate-alerting");
        let nats = tollgate_events::connect_any(options, &config.nats_url)
            .await
            .map_err(AlertingError::Nats)?;
        let js = async_nats::jetstream::new(nats);
        let mut registry = Registry::default();
        let metrics = AlertingMetrics::new(&mut registry);
        let (server, addr) = tollgate_runtime::ops_server(Arc::new(registry), config.listen)?;
        let engine = Engine::new(pool, js, config.stream.subject_prefix.clone(), metrics);
        Ok(Self {
            engine: Arc::new(engine),
            config,
            server,
            addr,
        })
    }

    /// Address of `/healthz` and `/metrics`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Works until `shutdown` resolves; the batch and deliveries in hand finish first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), AlertingError> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        let engine = self.engine;
        let tasks = [
            tokio::spawn(consumer::run(
                engine.clone(),
                self.config.clone(),
                stopped.clone(),
            )),
            tokio::spawn(consumer::run_dead_letters(
                engine.clone(),
                self.config.clone(),
                stopped.clone(),
            )),
            tokio::spawn(feed::run(
                engine.clone(),
                self.config.stream.name.clone(),
                self.config.stream.replicas,
                stopped.clone(),
            )),
            tokio::spawn(delivery::run(
                engine.clone(),
                self.config.delivery.clone(),
                stopped.clone(),
            )),
            tokio::spawn(tick(engine.clone(), self.config.evaluate_every, stopped)),
        ];
        shutdown.await;
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
        handle.stop(true).await;
        let _ = server.await;
        engine.pool.close().await;
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

/// Binds and runs `config` until `shutdown` resolves.
pub async fn run(
    config: AlertingConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AlertingError> {
    Alerting::bind(config).await?.run(shutdown).await
}
