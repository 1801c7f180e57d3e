//! `tollgate-analytics` rolls the usage events up until SIGINT/SIGTERM.

use std::process::ExitCode;

use tollgate_analytics::{Analytics, AnalyticsConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match tollgate_runtime::init_telemetry("tollgate-analytics") {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("tollgate-analytics: {err}");
            return ExitCode::FAILURE;
        }
    };
    let env = std::env::vars().collect();
    let config = match AnalyticsConfig::from_env(&env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tollgate-analytics: {err}");
            return ExitCode::FAILURE;
        }
    };
    let analytics = match Analytics::bind(config).await {
        Ok(analytics) => analytics,
        Err(err) => {
            eprintln!("tollgate-analytics: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %analytics.local_addr(), "tollgate-analytics consuming");
    match analytics.run(tollgate_runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tollgate-analytics: {err}");
            ExitCode::FAILURE
        }
    }
}
