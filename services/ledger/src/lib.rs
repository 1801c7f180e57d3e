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

pub use config::{ConfigError, LedgerConfig};
pub use consumer::{book, durable_consumer, event_stream};
pub use rebuild::{RebuildReport, rebuild};
pub use server::{Ledger, run};

use thiserror::Error;

/// Why the ledger could not start or stopped.
#[derive(Debug, Error)]
pub enum LedgerError {
    /// Postgres.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations or pool.
    #[error("store: {0}")]
    Store(#[from] tollgate_store::StoreError),
    /// NATS or JetStream.
    #[error("NATS: {0}")]
    Nats(String),
    /// Stream set-up.
    #[error("events: {0}")]
    Events(#[from] tollgate_events::EventsError),
    /// The HTTP listener.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}
