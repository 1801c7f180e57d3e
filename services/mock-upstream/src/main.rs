//! `tollgate-mock-upstream [config.toml]`: serves the mock provider until SIGINT/SIGTERM.
//! `MOCK_UPSTREAM_LISTEN` overrides the listen address.

use std::path::PathBuf;
use std::process::ExitCode;

use tollgate_mock_upstream::{MockConfig, MockUpstream};

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match tollgate_runtime::init_telemetry("tollgate-mock-upstream") {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("mock-upstream: {err}");
            return ExitCode::FAILURE;
        }
    };
    let config = match std::env::args_os().nth(1).map(PathBuf::from) {
        Some(path) => MockConfig::from_file(&path),
        None => Ok(MockConfig::default()),
    };
    let mut config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("mock-upstream: bad config: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(listen) = std::env::var("MOCK_UPSTREAM_LISTEN") {
        match listen.parse() {
            Ok(addr) => config.listen = addr,
            Err(err) => {
                eprintln!("mock-upstream: MOCK_UPSTREAM_LISTEN={listen}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mock = match MockUpstream::bind(config) {
        Ok(mock) => mock,
        Err(err) => {
            eprintln!("mock-upstream: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %mock.local_addr(), "mock-upstream listening");
    match mock.run(tollgate_runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mock-upstream: {err}");
            ExitCode::FAILURE
        }
    }
}
