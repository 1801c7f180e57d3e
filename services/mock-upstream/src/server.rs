use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};

use crate::{MockConfig, MockStats, handlers};

/// Shared state of the handlers.
pub(crate) struct MockState {
    pub config: MockConfig,
    pub stats: Arc<MockStats>,
}

/// A bound, not yet running, mock provider.
pub struct MockUpstream {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    stats: Arc<MockStats>,
}

impl MockUpstream {
    /// Binds the listener (so the address is known before serving).
    pub fn bind(config: MockConfig) -> std::io::Result<Self> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        config.tokenizer.warm_up();
        let stats = Arc::new(MockStats::default());
        let listen = config.listen;
        let workers = config.workers;
        let state = web::Data::new(MockState {
            config,
            stats: stats.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route(
                    "/v1/chat/completions",
                    web::post().to(handlers::chat_completions),
                )
                .route("/v1/embeddings", web::post().to(handlers::embeddings))
                .route("/v1/models", web::get().to(handlers::models))
                .route("/healthz", web::get().to(|| async { "ok" }))
        })
        .workers(workers)
        .backlog(4096)
        .disable_signals()
        .shutdown_timeout(5)
        .bind(listen)?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("no address bound"))?;
        Ok(Self {
            server: server.run(),
            addr,
            stats,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What this mock has received.
    pub fn stats(&self) -> Arc<MockStats> {
        self.stats.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        shutdown.await;
        handle.stop(true).await;
        server.await.map_err(std::io::Error::other)?
    }
}

/// Binds and serves `config` until `shutdown` resolves.
pub async fn run(config: MockConfig, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    MockUpstream::bind(config)?.run(shutdown).await
}
