//! Peak-EWMA latency (Finagle, Linkerd): a sample above the average replaces it at once, lower
//! samples pull it down with a time-based decay, and an idle deployment's figure decays toward
//! zero so it gets probed again.

use std::sync::atomic::{AtomicU64, Ordering};

/// Peak-EWMA of latency in microseconds, lock-free (benign races between writers).
#[derive(Debug)]
pub struct PeakEwma {
    tau_ms: f64,
    value_bits: AtomicU64,
    stamp_ms: AtomicU64,
}

impl PeakEwma {
    /// An empty average decaying with time constant `tau_ms`.
    pub fn new(tau_ms: u64) -> Self {
        Self {
            tau_ms: tau_ms.max(1) as f64,
            value_bits: AtomicU64::new(0f64.to_bits()),
            stamp_ms: AtomicU64::new(0),
        }
    }

    fn decayed(&self, now_ms: u64) -> f64 {
        let value = f64::from_bits(self.value_bits.load(Ordering::Acquire));
        let elapsed = now_ms.saturating_sub(self.stamp_ms.load(Ordering::Acquire)) as f64;
        value * (-elapsed / self.tau_ms).exp()
    }

    /// Adds a latency sample (microseconds).
    pub fn observe(&self, now_ms: u64, micros: f64) {
        let current = self.decayed(now_ms);
        let next = if micros > current {
            micros
        } else {
            // Weight of the old value after the time since the last sample (at least 1 ms, so
            // a burst of fast samples still pulls the figure down).
            let elapsed = now_ms
                .saturating_sub(self.stamp_ms.load(Ordering::Acquire))
                .max(1) as f64;
            let w = (-elapsed / self.tau_ms).exp();
            current * w + micros * (1.0 - w)
        };
        self.value_bits.store(next.to_bits(), Ordering::Release);
        self.stamp_ms.store(now_ms, Ordering::Release);
    }

    /// The current figure (microseconds), decayed to `now_ms`.
    pub fn get(&self, now_ms: u64) -> f64 {
        self.decayed(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_jump_and_decay_pulls_down() {
        let e = PeakEwma::new(1_000);
        e.observe(0, 1_000.0);
        assert!((e.get(0) - 1_000.0).abs() < 1e-9);
        e.observe(10, 50_000.0);
        assert!(
            (e.get(10) - 50_000.0).abs() < 1e-9,
            "a peak is taken at once"
        );
        e.observe(20, 1_000.0);
        let after_one = e.get(20);
        assert!(after_one < 50_000.0 && after_one > 40_000.0, "{after_one}");
        for t in 0..200 {
            e.observe(30 + t * 10, 1_000.0);
        }
        let settled = e.get(2_030);
        assert!(settled < 2_000.0, "{settled}");
    }

    #[test]
    fn idle_figure_decays_toward_zero() {
        let e = PeakEwma::new(1_000);
        e.observe(0, 10_000.0);
        assert!(e.get(5_000) < 100.0);
    }
}
