//! A deployment (one provider + upstream model + keys + price) and its live health.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tollgate_billing::ModelPrice;

use crate::breaker::{BreakerSettings, BreakerState, CircuitBreaker};
use crate::ewma::PeakEwma;
use crate::keys::{KeyLimit, KeyRing};
use crate::now_ms;

/// Latency charged to a deployment's EWMA for a failed attempt, on top of its duration, so
/// that failing deployments look slow to the latency strategy.
const FAILURE_PENALTY_MICROS: f64 = 1_000_000.0;

/// A service tier; lower ranks are preferred by the `priority` strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Name, e.g. `free`, `community`, `official`.
    pub name: String,
    /// Position in the configured tier order.
    pub rank: u32,
}

/// One way to serve a route: a provider, its model name there, keys, weight, tier and price.
#[derive(Debug)]
pub struct Deployment {
    /// Unique name (shown in events, metrics and `/api/v1/providers/health`).
    pub name: String,
    /// Provider config name.
    pub provider: String,
    /// Opaque index of the provider in the caller's list.
    pub provider_index: usize,
    /// Model name sent upstream.
    pub upstream_model: String,
    /// Share of traffic under the `weighted` strategy.
    pub weight: u32,
    /// Order within a tier under the `priority` strategy (lower first).
    pub priority: u32,
    /// Service tier.
    pub tier: Tier,
    /// What one token costs here.
    pub price: ModelPrice,
    /// Upstream keys in rotation.
    pub keys: KeyRing,
    /// Live health.
    pub health: Arc<Health>,
}

/// Live counters of one deployment (shared across routing-table snapshots).
#[derive(Debug)]
pub struct Health {
    /// The breaker.
    pub breaker: CircuitBreaker,
    /// Peak-EWMA latency.
    pub latency: PeakEwma,
    in_flight: AtomicU32,
    cooldown_until_ms: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
}

/// A read-out of a deployment's health.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentSnapshot {
    /// Breaker state.
    pub state: BreakerState,
    /// Error rate over the breaker's window.
    pub error_rate: f64,
    /// Peak-EWMA latency in milliseconds.
    pub latency_ms: f64,
    /// Attempts in flight.
    pub in_flight: u32,
    /// Attempts made.
    pub requests: u64,
    /// Attempts failed.
    pub failures: u64,
    /// Times the breaker opened.
    pub times_opened: u64,
    /// Remaining `Retry-After` cooldown.
    pub cooldown_ms: u64,
}

impl Health {
    /// Fresh health: breaker closed, no samples.
    pub fn new(breaker: BreakerSettings, latency_tau: Duration) -> Self {
        Self {
            breaker: CircuitBreaker::new(breaker),
            latency: PeakEwma::new(u64::try_from(latency_tau.as_millis()).unwrap_or(u64::MAX)),
            in_flight: AtomicU32::new(0),
            cooldown_until_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Attempts in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Load score for latency-aware strategies: peak-EWMA x (in flight + 1).
    pub fn load_score(&self, now_ms: u64) -> f64 {
        (self.latency.get(now_ms) + 1.0) * f64::from(self.in_flight() + 1)
    }

    /// Whether the provider asked us to wait (`Retry-After`) and the wait is not over.
    pub fn cooling_down(&self, now_ms: u64) -> bool {
        self.cooldown_until_ms.load(Ordering::Acquire) > now_ms
    }

    /// Honours a provider's `Retry-After`: skip this deployment until then.
    pub fn cool_down(&self, now_ms: u64, wait: Duration) {
        // Saturating: a provider's `Retry-After` of any size cannot overflow.
        let until = now_ms.saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        self.cooldown_until_ms.fetch_max(until, Ordering::AcqRel);
    }

    /// A read-out for APIs and metrics.
    pub fn snapshot(&self) -> DeploymentSnapshot {
        let now = now_ms();
        DeploymentSnapshot {
            state: self.breaker.state(now),
            error_rate: self.breaker.window_error_rate(),
            latency_ms: self.latency.get(now) / 1_000.0,
            in_flight: self.in_flight(),
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            times_opened: self.breaker.times_opened(),
            cooldown_ms: self
                .cooldown_until_ms
                .load(Ordering::Acquire)
                .saturating_sub(now),
        }
    }
}

impl Deployment {
    /// Whether the deployment can take a request now: breaker lets it, no `Retry-After`
    /// pending and some key under its caps.
    pub fn available(&self, now_ms: u64) -> bool {
        self.health.breaker.may_pass(now_ms)
            && !self.health.cooling_down(now_ms)
            && self.keys.has_room(now_ms)
    }

    /// Starts an attempt: takes a key and the breaker's permission. `None` if either refuses.
    pub fn begin(self: &Arc<Self>) -> Option<Attempt> {
        let now = now_ms();
        let probe = self.health.breaker.try_acquire(now)?;
        let Some(key_index) = self.keys.take(now) else {
            if probe {
                self.health.breaker.release_probe();
            }
            return None;
        };
        self.health.in_flight.fetch_add(1, Ordering::AcqRel);
        self.health.requests.fetch_add(1, Ordering::Relaxed);
        Some(Attempt {
            deployment: self.clone(),
            key_index,
            probe,
            done: false,
        })
    }

    /// Builds a deployment with fresh health.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        provider: String,
        provider_index: usize,
        upstream_model: String,
        weight: u32,
        priority: u32,
        tier: Tier,
        price: ModelPrice,
        key_limits: &[KeyLimit],
        health: Arc<Health>,
    ) -> Self {
        Self {
            name,
            provider,
            provider_index,
            upstream_model,
            weight,
            priority,
            tier,
            price,
            keys: KeyRing::new(key_limits),
            health,
        }
    }
}

/// One attempt on a deployment; report its outcome with [`Attempt::succeeded`] or
/// [`Attempt::failed`]. Dropped without an outcome, it counts as neither.
#[derive(Debug)]
pub struct Attempt {
    /// The deployment tried.
    pub deployment: Arc<Deployment>,
    /// Which of its upstream keys to use.
    pub key_index: usize,
    probe: bool,
    done: bool,
}

impl Attempt {
    /// The deployment answered well enough (including client errors, which are not its fault).
    /// Keep the attempt alive while its answer streams, so it counts as in flight.
    pub fn succeeded(&mut self, latency: Duration) {
        if self.done {
            return;
        }
        let health = &self.deployment.health;
        let now = now_ms();
        health.latency.observe(now, latency.as_micros() as f64);
        health.breaker.on_success(now);
        self.done = true;
    }

    /// The deployment failed (connect error, timeout, 5xx, 429, refused credentials).
    pub fn failed(&mut self, latency: Duration) {
        if self.done {
            return;
        }
        let health = &self.deployment.health;
        let now = now_ms();
        health
            .latency
            .observe(now, latency.as_micros() as f64 + FAILURE_PENALTY_MICROS);
        health.breaker.on_failure(now);
        health.failures.fetch_add(1, Ordering::Relaxed);
        self.done = true;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let health = &self.deployment.health;
        health.in_flight.fetch_sub(1, Ordering::AcqRel);
        if !self.done && self.probe {
            health.breaker.release_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_of_any_size_cannot_overflow() {
        let health = Health::new(BreakerSettings::default(), Duration::from_secs(10));
        health.cool_down(now_ms(), Duration::MAX);
        health.cool_down(u64::MAX - 1, Duration::from_secs(u64::MAX / 1000));
    }
}
