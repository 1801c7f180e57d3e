//! Start-up wiring: Postgres, NATS, the consumer task and `/healthz` + `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::consumer::Consumer;
use crate::metrics::AnalyticsMetrics;
use crate::{AnalyticsConfig, AnalyticsError};

/// A started analytics service: connected and bound, consuming once [`Analytics::run`] is awaited.
pub struct Analytics {
    consumer: Consumer,
    server: actix_web::dev::Server,
    addr: SocketAddr,
}

impl Analytics {
    /// Connects to Postgres (applying migrations) and NATS, binds the metrics listener.
    pub async fn bind(config: AnalyticsConfig) -> Result<Self, AnalyticsError> {
        let pool = tollgate_store::connect(&config.database_url, 4).await?;
        tollgate_store::migrate(&pool).await?;
        let options = async_nats::ConnectOptions::new().name("tollgate-analytics");
        let nats = tollgate_events::connect_any(options, &config.nats_url)
            .await
            .map_err(AnalyticsError::Nats)?;
        let js = async_nats::jetstream::new(nats);
        let mut registry = Registry::default();
        let metrics = AnalyticsMetrics::new(&mut registry);
        let (server, addr) = tollgate_runtime::ops_server(Arc::new(registry), config.listen)?;
        Ok(Self {
            consumer: Consumer {
                pool,
                js,
                config,
                metrics,
                poison_streak: Default::default(),
            },
            server,
            addr,
        })
    }

    /// Address of `/healthz` and `/metrics`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Consumes until `shutdown` resolves; the batch in hand is committed and acked first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), AnalyticsError> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        let pool = self.consumer.pool.clone();
        let consumer = tokio::spawn(self.consumer.run(stopped));
        shutdown.await;
        let _ = stop.send(true);
        let _ = consumer.await;
        handle.stop(true).await;
        let _ = server.await;
        pool.close().await;
        Ok(())
    }
}

/// Binds and runs `config` until `shutdown` resolves.
pub async fn run(
    config: AnalyticsConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AnalyticsError> {
    Analytics::bind(config).await?.run(shutdown).await
}
