use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use actix_web::{App, HttpServer, web};

use crate::{Fault, MockConfig, MockStats, anthropic, gemini, handlers};

/// Shared state of the handlers.
pub(crate) struct MockState {
    pub config: MockConfig,
    pub stats: Arc<MockStats>,
    pub faults: Arc<MockFaults>,
}

/// Per-model faults, changeable while the mock runs.
#[derive(Debug, Default)]
pub struct MockFaults {
    faults: RwLock<HashMap<String, Fault>>,
}

impl MockFaults {
    /// Makes `model` misbehave as `fault` says.
    pub fn set(&self, model: &str, fault: Fault) {
        if let Ok(mut faults) = self.faults.write() {
            faults.insert(model.to_owned(), fault);
        }
    }

    /// Lets `model` behave again.
    pub fn clear(&self, model: &str) {
        if let Ok(mut faults) = self.faults.write() {
            faults.remove(model);
        }
    }

    /// The fault of `model`, if any.
    pub fn get(&self, model: &str) -> Option<Fault> {
        self.faults.read().ok().and_then(|f| f.get(model).cloned())
    }
}

/// A bound, not yet running, mock provider.
pub struct MockUpstream {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    stats: Arc<MockStats>,
    faults: Arc<MockFaults>,
}

impl MockUpstream {
    /// Binds the listener (so the address is known before serving).
    pub fn bind(config: MockConfig) -> std::io::Result<Self> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        config.tokenizer.warm_up();
        let stats = Arc::new(MockStats::default());
        let faults = Arc::new(MockFaults::default());
        for (model, fault) in &config.faults {
            faults.set(model, fault.clone());
        }
        let listen = config.listen;
        let workers = config.workers;
        let state = web::Data::new(MockState {
            config,
            stats: stats.clone(),
            faults: faults.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route(
                    "/v1/chat/completions",
                    web::post().to(handlers::chat_completions),
                )
                .route(
                    "/openai/deployments/{deployment}/chat/completions",
                    web::post().to(handlers::chat_completions),
                )
                .route("/mock/faults/{model}", web::put().to(handlers::put_fault))
                .route(
                    "/mock/faults/{model}",
                    web::delete().to(handlers::delete_fault),
                )
                .route("/v1/messages", web::post().to(anthropic::messages))
                .route("/v1beta/models/{target}", web::post().to(gemini::generate))
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
            faults,
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

    /// The per-model faults (to change them while the mock runs).
    pub fn faults(&self) -> Arc<MockFaults> {
        self.faults.clone()
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
