//! Tollgate analytics: a durable JetStream consumer that rolls `usage.recorded` events up per
//! tenant x key x model x provider into minute, hour and day buckets (requests, errors, tokens,
//! cost, cache hits and savings, a latency histogram), each event exactly once by its id. The
//! gateway answers `/api/v1/analytics/*` from these tables (read-only, `tollgate_store::analytics`).

mod config;
mod consumer;
mod metrics;
pub mod rollup;
mod server;

pub use config::AnalyticsConfig;
pub use server::Analytics;
pub use tollgate_runtime::consumer::ServiceError;
pub use tollgate_runtime::env::ConfigError;
