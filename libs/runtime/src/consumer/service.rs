//! A consumer service's start-up and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use async_nats::jetstream;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ConsumerConfig;
use super::ops::ops_server;

/// Why a consumer service could not start or stopped.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// Postgres.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations or the pool.
    #[error("store: {0}")]
    Store(#[from] tollgate_store::StoreError),
    /// No NATS server reachable.
    #[error("NATS: {0}")]
    Nats(#[from] tollgate_events::ConnectError),
    /// A stream or consumer could not be set up.
    #[error("events: {0}")]
    Events(#[from] tollgate_events::EventsError),
    /// The `/healthz` + `/metrics` listener.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// A consumer service connected to Postgres and NATS, its ops listener bound; working once
/// [`ConsumerService::run`] is awaited.
pub struct ConsumerService {
    /// Postgres (migrated).
    pub pool: PgPool,
    /// JetStream.
    pub js: jetstream::Context,
    server: actix_web::dev::Server,
    addr: SocketAddr,
}

impl ConsumerService {
    /// Connects to Postgres with `pool_size` connections (applying migrations) and to NATS,
    /// lets `register` add the service's metrics, and binds `/healthz` + `/metrics`.
    pub async fn start<M>(
        config: &ConsumerConfig,
        pool_size: u32,
        register: impl FnOnce(&mut Registry) -> M,
    ) -> Result<(Self, M), ServiceError> {
        let pool = tollgate_store::connect(&config.database_url, pool_size).await?;
        tollgate_store::migrate(&pool).await?;
        let options = config
            .nats_access
            .apply(async_nats::ConnectOptions::new().name(format!("tollgate-{}", config.service)));
        let nats = tollgate_events::connect_any(options, &config.nats_url).await?;
        let mut registry = Registry::default();
        let metrics = register(&mut registry);
        let (server, addr) = ops_server(Arc::new(registry), config.listen)?;
        let service = Self {
            pool,
            js: jetstream::new(nats),
            server,
            addr,
        };
        Ok((service, metrics))
    }

    /// Address of `/healthz` and `/metrics`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs the tasks `spawn` starts until `shutdown` resolves, then signals them to stop and
    /// waits for each to finish what it holds (a batch is committed and acked, or left for
    /// redelivery), then stops the listener and closes the pool.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
        spawn: impl FnOnce(watch::Receiver<bool>) -> Vec<JoinHandle<()>>,
    ) {
        let (stop, stopped) = watch::channel(false);
        let listener = self.server.handle();
        let server = tokio::spawn(self.server);
        let tasks = spawn(stopped);
        shutdown.await;
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
        listener.stop(true).await;
        let _ = server.await;
        self.pool.close().await;
    }
}
