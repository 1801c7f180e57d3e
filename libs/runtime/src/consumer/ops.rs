//! A consumer service's operations listener.

/// The `/healthz` + `/metrics` listener of a consumer service: one worker, no signal handling
/// (the service stops it). Returns the server and its address.
pub(super) fn ops_server(
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
