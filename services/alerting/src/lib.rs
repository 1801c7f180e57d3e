//! Tollgate alerting: evaluates tenants' alert rules (balance below, spend above in a window,
//! key budget percentages, error rate over a window) and platform rules (a provider's breaker
//! opened) over the event stream and the ledger's balance feed. Each crossing raises one alert:
//! stored, published as `alert.raised`, and POSTed to the rule's webhook signed with
//! HMAC-SHA256, retried with backoff; the rule re-arms once its condition clears.

mod config;
mod consumer;
mod delivery;
mod engine;
mod feed;
mod metrics;
mod server;
pub mod signature;
mod window;

pub use config::{AlertingConfig, ConfigError};
pub use server::{Alerting, run};

use thiserror::Error;

/// Why alerting could not start or stopped.
#[derive(Debug, Error)]
pub enum AlertingError {
    /// Postgres.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations, pool or a read.
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
