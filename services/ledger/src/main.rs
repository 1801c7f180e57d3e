//! `tollgate-ledger` runs the consumer until SIGINT/SIGTERM.
//! `tollgate-ledger rebuild [--keep]` replays the stream into fresh tables, prints the report
//! as JSON and exits 0 only if the rebuilt balances equal the live ones.
//! `tollgate-ledger migrate` applies the database migrations and exits (a deploy's migration
//! Job; services also migrate at start, under sqlx's lock, so either order is safe).

use std::process::ExitCode;

use tollgate_ledger::{Ledger, LedgerConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match tollgate_runtime::init_telemetry("tollgate-ledger") {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("tollgate-ledger: {err}");
            return ExitCode::FAILURE;
        }
    };
    let env = std::env::vars().collect();
    let config = match LedgerConfig::from_env(&env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tollgate-ledger: {err}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("run") => serve(config).await,
        Some("rebuild") => {
            let keep = args.iter().any(|a| a == "--keep");
            match tollgate_ledger::rebuild(&config, keep).await {
                Ok(report) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                    if report.matches {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(err) => {
                    eprintln!("tollgate-ledger rebuild: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("migrate") => migrate(&config.consumer.database_url).await,
        Some(other) => {
            eprintln!(
                "usage: tollgate-ledger [run | rebuild [--keep] | migrate] (unknown: {other})"
            );
            ExitCode::from(2)
        }
    }
}

async fn migrate(database_url: &str) -> ExitCode {
    let migrated = async {
        let pool = tollgate_store::connect(database_url, 1).await?;
        tollgate_store::migrate(&pool).await
    };
    match migrated.await {
        Ok(()) => {
            println!("tollgate-ledger migrate: database schema is current");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tollgate-ledger migrate: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: LedgerConfig) -> ExitCode {
    let ledger = match Ledger::bind(config).await {
        Ok(ledger) => ledger,
        Err(err) => {
            eprintln!("tollgate-ledger: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %ledger.local_addr(), "tollgate-ledger consuming");
    match ledger.run(tollgate_runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tollgate-ledger: {err}");
            ExitCode::FAILURE
        }
    }
}
