//! Start-up wiring and the serve loop: config -> clients -> app.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use thiserror::Error;
use tollgate_events::{
    Publisher, PublisherConfig, PublisherHandle, PublisherMetrics, Spool, SpoolConfig, SpoolMetrics,
};

use crate::admission::{Admission, Peers};
use crate::api;
use crate::auth::{AdminToken, KeyCache};
use crate::config::{Durability, GatewayConfig};
use crate::error::{json_config, query_config};
use crate::metrics::GatewayMetrics;
use crate::state::AppState;
use crate::upstream::{Upstream, routing_table};

/// How often key revocations and settings changes are polled from Postgres.
const KEY_CHANGE_POLL: Duration = Duration::from_millis(500);

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum StartError {
    /// Postgres unreachable or migrations failed.
    #[error("database: {0}")]
    Database(#[from] tollgate_store::StoreError),
    /// NATS unreachable.
    #[error("NATS: {0}")]
    Nats(#[from] tollgate_events::ConnectError),
    /// The stream could not be set up.
    #[error("JetStream: {0}")]
    Events(#[from] tollgate_events::EventsError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// The routes do not form a valid routing table.
    #[error("routing: {0}")]
    Routing(#[from] tollgate_routing::TableError),
    /// The response cache (store or embedder) could not start.
    #[error("cache: {0}")]
    Cache(#[from] crate::cache::CacheOpenError),
    /// The event spool could not be opened (unwritable, or used by another gateway).
    #[error("event spool {dir}: {source}")]
    Spool {
        /// The spool directory.
        dir: std::path::PathBuf,
        /// Why.
        source: tollgate_events::SpoolError,
    },
    /// Opening the event spool did not finish (its task panicked or was cancelled).
    #[error("event spool: {0}")]
    SpoolInterrupted(#[from] tokio::task::JoinError),
}

/// Opens the event spool; what an earlier run left in it is replayed by the publisher.
async fn open_spool(config: &GatewayConfig, metrics: SpoolMetrics) -> Result<Spool, StartError> {
    let spool = SpoolConfig::new(&config.events.spool_dir, config.events.spool_max_bytes);
    let dir = spool.dir.clone();
    let opened = tokio::task::spawn_blocking(move || Spool::open(spool, metrics))
        .await?
        .map_err(|source| StartError::Spool { dir, source })?;
    if opened.depth() > 0 {
        tracing::warn!(
            events = opened.depth(),
            "replaying events spooled by an earlier run"
        );
    }
    Ok(opened)
}

/// A started gateway: bound and connected, serving once [`Gateway::run`] is awaited.
pub struct Gateway {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    publisher: PublisherHandle,
    background: Vec<tokio::task::JoinHandle<()>>,
    state: web::Data<AppState>,
}

impl Gateway {
    /// Connects to Postgres (and migrates), NATS (and ensures the stream), binds the listener.
    pub async fn bind(config: GatewayConfig) -> Result<Self, StartError> {
        let router = tollgate_routing::Router::new(routing_table(&config)?);
        tollgate_runtime::install_crypto_provider();

        let pool = tollgate_store::connect(config.database_url.expose(), 16).await?;
        tollgate_store::migrate(&pool).await?;

        let access = &config.nats.access;
        let options = access
            .apply(async_nats::ConnectOptions::new())
            .name("tollgate-gateway")
            .connection_timeout(Duration::from_secs(5));
        let nats = tollgate_events::connect_any(options, &config.nats.url).await?;
        let jetstream = async_nats::jetstream::new(nats.clone());
        // Admission announcements on their own connection, without our own messages echoed back.
        let options = access
            .apply(async_nats::ConnectOptions::new())
            .name("tollgate-gateway-admission")
            .no_echo()
            .connection_timeout(Duration::from_secs(5));
        let peer_nats = tollgate_events::connect_any(options, &config.nats.url).await?;
        tollgate_events::ensure_stream(&jetstream, &config.nats.stream).await?;
        // The dead-letter stream too: the projections may open it but not create it.
        tollgate_events::DeadLetters::open(&jetstream, &config.nats.stream, "gateway").await?;

        if !config.secrets.seals() {
            tracing::warn!(
                "TOLLGATE_SECRETS_KEY is not set: webhook secrets are stored in plaintext"
            );
        }
        let limits_nats = peer_nats.clone();
        let (peers, peer_tasks) =
            Peers::start(peer_nats, config.nats.stream.subject_prefix.clone());
        let admission = Admission::new(pool.clone(), peers);
        let publisher_metrics = PublisherMetrics::default();
        let spool_metrics = SpoolMetrics::default();
        let spool = open_spool(&config, spool_metrics.clone()).await?;
        let (publisher, publisher_handle) = Publisher::start_observed(
            jetstream.clone(),
            config.nats.stream.subject_prefix.clone(),
            PublisherConfig {
                queue_capacity: config.nats.publish_queue,
                spool_after: config.events.spool_after,
                log_first: config.events.durability == Durability::Ack,
                replay_window: 4096,
                ..PublisherConfig::default()
            },
            publisher_metrics.clone(),
            Some(admission.clone()),
            Some(spool.clone()),
        );
        let (metrics, registry) = GatewayMetrics::new(
            &publisher_metrics,
            &spool_metrics,
            config
                .routes
                .iter()
                .flat_map(|r| &r.deployments)
                .map(|d| d.name.as_str()),
        );

        let keys = Arc::new(KeyCache::new(pool.clone()));
        let key_change_watch = keys.spawn_change_watch(KEY_CHANGE_POLL);
        let balance_feed = admission.spawn_feed(jetstream.clone(), config.nats.stream.name.clone());
        let staleness_watch = {
            let admission = admission.clone();
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    metrics.set_feed_stale(admission.check_staleness());
                }
            })
        };
        if config.tokenizers_at_start {
            for route in &config.routes {
                route.tokenizer.warm_up();
            }
        }
        let cache = match &config.cache {
            Some(settings) => Some(crate::cache::Cache::open(settings, metrics.clone()).await?),
            None => None,
        };

        let limiter = crate::limits::Limiter::new(crate::limits::Throttles {
            auth_failures_per_minute: config.limits.auth_failures_per_minute,
            management_rpm: config.limits.management_rpm,
        });
        let limit_sharing = crate::limits::cluster::start(
            limiter.clone(),
            limits_nats,
            &config.nats.stream.subject_prefix,
        );
        let limiter_upkeep = {
            let (limiter, metrics) = (limiter.clone(), metrics.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                for second in 0u64.. {
                    tick.tick().await;
                    metrics.set_limit_gateways(limiter.sharing_gateways());
                    if second % 60 == 59 {
                        limiter.forget_idle();
                    }
                }
            })
        };
        let state = web::Data::new(AppState {
            upstream: Upstream::new(&config)?,
            limiter,
            router,
            admin: AdminToken::new(config.admin_token.expose()),
            operators: crate::auth::OperatorTokens::new(pool.clone()),
            pool,
            nats,
            jetstream,
            keys,
            publisher,
            spool,
            admission,
            metrics,
            registry,
            cache,
            config: config.clone(),
        });
        let app_state = state.clone();
        let body_limit = config.max_body_bytes;
        let console_dir = config.console_dir.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::spans::request::trace_request,
                ))
                .app_data(app_state.clone())
                .app_data(json_config(body_limit))
                .app_data(query_config())
                .configure(api::routes)
                // After the API: a data-plane request is matched before the console's scopes.
                .configure(|cfg| crate::console::configure(cfg, console_dir.as_deref()))
        })
        .workers(config.workers)
        .backlog(4096)
        .client_request_timeout(config.http.request_timeout)
        .keep_alive(config.http.idle_timeout)
        .client_disconnect_timeout(config.http.disconnect_timeout)
        .max_connections(config.http.max_connections_per_worker(config.workers))
        .disable_signals()
        .shutdown_timeout(30)
        .bind(config.listen)?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("no address bound"))?;
        let probes = config
            .routing
            .probe_interval
            .map(|interval| crate::probe::spawn(state.clone(), interval));
        Ok(Self {
            server: server.run(),
            addr,
            publisher: publisher_handle,
            background: [
                key_change_watch,
                balance_feed,
                staleness_watch,
                limiter_upkeep,
            ]
            .into_iter()
            .chain(peer_tasks)
            .chain(limit_sharing)
            .chain(probes)
            .chain(
                state
                    .cache
                    .as_ref()
                    .map(crate::cache::Cache::spawn_maintenance),
            )
            .chain([crate::breaker_watch::spawn(state.clone())])
            .collect(),
            state,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves; then stops accepting, finishes in-flight requests
    /// (streams included, up to 30 s) and publishes every pending event before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let served = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown => None,
        };
        let result = match served {
            Some(result) => result,
            None => {
                handle.stop(true).await;
                server.await
            }
        };
        for task in &self.background {
            task.abort();
        }
        let unacknowledged = self.publisher.shutdown().await;
        if unacknowledged > 0 {
            tracing::error!(unacknowledged, "shut down with usage events unacknowledged");
        }
        if let Some(cache) = &self.state.cache {
            let persisted =
                tokio::time::timeout(crate::cache::FLUSH_AT_SHUTDOWN, cache.persist()).await;
            if !matches!(persisted, Ok(Ok(()))) {
                tracing::warn!(
                    "cache not persisted at shutdown; its write-ahead log has the entries"
                );
            }
        }
        self.state.pool.close().await;
        result.map_err(std::io::Error::other)??;
        Ok(())
    }
}

/// Binds and serves `config` until `shutdown` resolves.
pub async fn run(
    config: GatewayConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    Gateway::bind(config).await?.run(shutdown).await
}
