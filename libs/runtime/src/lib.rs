//! Process plumbing shared by Tollgate's binaries (used by `main.rs` files only).

pub mod telemetry;

/// Installs logging and tracing for the service `service_name` from the process environment
/// (see [`telemetry`]); keep the returned guard until the process exits.
pub fn init_telemetry(
    service_name: &str,
) -> Result<telemetry::Telemetry, telemetry::TelemetryError> {
    let env = std::env::vars().collect();
    telemetry::init(&telemetry::TelemetryConfig::from_env(service_name, &env)?)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

/// Installs ring as the process-wide rustls crypto provider (reqwest is built without one);
/// call before building any HTTP client. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The `/healthz` + `/metrics` listener of a consumer service (ledger, analytics, alerting):
/// one worker, no signal handling (the service stops it). Returns the server and its address.
pub fn ops_server(
    registry: std::sync::Arc<prometheus_client::registry::Registry>,
    listen: std::net::SocketAddr,
) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let registry = registry.clone();
        App::new()
            .route(
                "/healthz",
                web::get()
                    .to(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }),
            )
            .route(
                "/metrics",
                web::get().to(move || {
                    let registry = registry.clone();
                    async move {
                        let mut body = String::new();
                        let _ = prometheus_client::encoding::text::encode(&mut body, &registry);
                        HttpResponse::Ok()
                            .content_type(
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )
                            .body(body)
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(listen)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("no address bound"))?;
    Ok((server.run(), addr))
}
