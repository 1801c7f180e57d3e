//! `tollgate-alerting` evaluates alert rules and delivers webhooks until SIGINT/SIGTERM.

use std::process::ExitCode;

use tollgate_alerting::{Alerting, AlertingConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match tollgate_runtime::init_telemetry("tollgate-alerting") {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("tollgate-alerting: {err}");
            return ExitCode::FAILURE;
        }
    };
    let env = std::env::vars().collect();
    let config = match AlertingConfig::from_env(&env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tollgate-alerting: {err}");
            return ExitCode::FAILURE;
        }
    };
    let alerting = match Alerting::bind(config).await {
        Ok(alerting) => alerting,
        Err(err) => {
            eprintln!("tollgate-alerting: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %alerting.local_addr(), "tollgate-alerting running");
    match alerting.run(tollgate_runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tollgate-alerting: {err}");
            ExitCode::FAILURE
        }
    }
}
