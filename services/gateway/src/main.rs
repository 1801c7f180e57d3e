//! `tollgate-gateway [config.toml]` (default `deploy/config/gateway.toml`); environment
//! overrides per README. Serves until SIGINT/SIGTERM, then drains requests and events.

use std::path::PathBuf;
use std::process::ExitCode;

use tollgate_gateway::{Gateway, GatewayConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match tollgate_runtime::init_telemetry("tollgate-gateway") {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("tollgate-gateway: {err}");
            return ExitCode::FAILURE;
        }
    };
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from("deploy/config/gateway.toml"),
        PathBuf::from,
    );
    let env = std::env::vars().collect();
    let config = match GatewayConfig::load(&path, &env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tollgate-gateway: {err}");
            return ExitCode::FAILURE;
        }
    };
    let gateway = match Gateway::bind(config).await {
        Ok(gateway) => gateway,
        Err(err) => {
            eprintln!("tollgate-gateway: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %gateway.local_addr(), "tollgate-gateway listening");
    match gateway.run(tollgate_runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tollgate-gateway: {err}");
            ExitCode::FAILURE
        }
    }
}
