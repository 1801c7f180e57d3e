//! The Tollgate ledger: a durable JetStream consumer that projects `usage.recorded`,
//! `credits.granted` and `credits.adjusted` into the money tables (entries, balances, per-key and
//! monthly spend), exactly once per event id. `rebuild` replays the stream into fresh tables and
//! checks them against the live projection.

mod config;
mod consumer;
pub mod entry;
mod metrics;
pub mod projection;
mod rebuild;
mod server;

pub use config::LedgerConfig;
pub use consumer::book;
pub use rebuild::{RebuildReport, rebuild};
pub use server::Ledger;
pub use tollgate_runtime::consumer::ServiceError;
pub use tollgate_runtime::env::ConfigError;
