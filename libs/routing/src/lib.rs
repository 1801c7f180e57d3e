//! Routing: which deployment serves a request, in which order to fall back, and when to stop.
//!
//! Knows nothing of HTTP or tenants. A [`RoutingTable`] (routes, aliases, scoped overrides) is
//! an immutable snapshot held by a [`Router`] and swapped atomically; each [`Deployment`]'s
//! live health (in-flight count, peak-EWMA latency, circuit breaker, `Retry-After` cooldown,
//! upstream-key rate windows) is kept in atomics, so the hot path takes no lock.

mod breaker;
mod deployment;
mod ewma;
mod keys;
mod retry;
mod route;
mod strategy;
mod table;

pub use breaker::{BreakerSettings, BreakerState, CircuitBreaker};
pub use deployment::{Attempt, Deployment, DeploymentSnapshot, Health, Tier};
pub use ewma::PeakEwma;
pub use keys::{KeyLimit, KeyRing};
pub use retry::{Exhausted, Failure, NextStep, RetryPolicy};
pub use route::{Plan, RequestShape, Route};
pub use strategy::Strategy;
pub use table::{Router, RoutingTable, TableError};

/// Milliseconds since the process-wide routing clock started (monotonic).
pub fn now_ms() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
