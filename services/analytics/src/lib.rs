//! Tollgate analytics: a durable JetStream consumer that rolls `usage.recorded` events up per
//! tenant x key x model x provider into minute, hour and day buckets (requests, errors, tokens,
//! cost, cache hits and savings, a latency histogram), each event exactly once by its id. The
//! gateway answers `/api/v1/analytics/*` from these tables (read-only, `tollgate_store::analytics`).

mod config;
mod consumer;
mod metrics;
pub mod rollup;
mod server;

pub use config::{AnalyticsConfig, ConfigError};
pub use server::{Analytics, run};

use thiserror::Error;

/// Why analytics could not start or stopped.
#[derive(Debug, Error)]
pub enum AnalyticsError {
    /// Postgres.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations or pool.
    #[error("store: {0}")]
    Store(#[from] tollgate_store::StoreError),
    /// NATS or JetStream.
    #[error("NATS: {0}")]
    Nats(String),
    /// Stream or consumer set-up.
    #[error("events: {0}")]
    Events(#[from] tollgate_events::EventsError),
    /// The HTTP listener.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}
