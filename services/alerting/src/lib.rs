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

pub use config::AlertingConfig;
pub use server::Alerting;
pub use tollgate_runtime::consumer::ServiceError;
pub use tollgate_runtime::env::ConfigError;
