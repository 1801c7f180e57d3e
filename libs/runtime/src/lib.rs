//! Process plumbing shared by Tollgate's binaries: telemetry, the shutdown signal, one reader of
//! the environment's settings and (feature `consumer`) the consumer services' skeleton.

#[cfg(feature = "consumer")]
pub mod consumer;
pub mod egress;
pub mod env;
pub mod sealed;
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
