//! A circuit breaker per deployment: closed -> open after N consecutive failures or an error
//! rate over a window -> half-open (one probe) after a cooldown -> closed on success.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub consecutive_failures: u32,
    /// Error rate (0.0-1.0) over `window` that opens the breaker...
    pub error_rate: f64,
    /// ...once the window has at least this many requests.
    pub min_requests: u32,
    /// Length of the error-rate window.
    pub window: Duration,
    /// Time an open breaker waits before letting one probe through.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            cooldown: Duration::from_secs(10),
        }
    }
}

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Traffic flows.
    Closed,
    /// Traffic is refused until the cooldown ends.
    Open,
    /// One probe request decides between closed and open.
    HalfOpen,
}

impl BreakerState {
    /// Lower-case name for APIs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Open,
            2 => Self::HalfOpen,
            _ => Self::Closed,
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Lock-free breaker state.
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    state: AtomicU8,
    consecutive: AtomicU32,
    opened_at_ms: AtomicU64,
    probe_taken: AtomicBool,
    window_start_ms: AtomicU64,
    window_requests: AtomicU32,
    window_failures: AtomicU32,
    times_opened: AtomicU64,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: AtomicU8::new(CLOSED),
            consecutive: AtomicU32::new(0),
            opened_at_ms: AtomicU64::new(0),
            probe_taken: AtomicBool::new(false),
            window_start_ms: AtomicU64::new(0),
            window_requests: AtomicU32::new(0),
            window_failures: AtomicU32::new(0),
            times_opened: AtomicU64::new(0),
        }
    }

    /// Current state (an open breaker whose cooldown ended reports `HalfOpen`).
    pub fn state(&self, now_ms: u64) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            OPEN if self.cooled_down(now_ms) => BreakerState::HalfOpen,
            s => BreakerState::from_u8(s),
        }
    }

    /// How many times this breaker has opened.
    pub fn times_opened(&self) -> u64 {
        self.times_opened.load(Ordering::Relaxed)
    }

    /// Error rate in the current window (0.0 when empty).
    pub fn window_error_rate(&self) -> f64 {
        let requests = self.window_requests.load(Ordering::Relaxed);
        if requests == 0 {
            return 0.0;
        }
        f64::from(self.window_failures.load(Ordering::Relaxed)) / f64::from(requests)
    }

    fn cooled_down(&self, now_ms: u64) -> bool {
        let cooldown = u64::try_from(self.settings.cooldown.as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_sub(self.opened_at_ms.load(Ordering::Acquire)) >= cooldown
    }

    /// Whether a request could be let through now (no side effect; see [`Self::try_acquire`]).
    pub fn may_pass(&self, now_ms: u64) -> bool {
        match self.state.load(Ordering::Acquire) {
            CLOSED => true,
            OPEN => self.cooled_down(now_ms),
            _ => !self.probe_taken.load(Ordering::Acquire),
        }
    }

    /// Lets a request through: always when closed; once per cooldown (the probe) otherwise.
    /// Returns `Some(is_probe)` when allowed.
    pub fn try_acquire(&self, now_ms: u64) -> Option<bool> {
        match self.state.load(Ordering::Acquire) {
            CLOSED => Some(false),
            OPEN => {
                if !self.cooled_down(now_ms) {
                    return None;
                }
                self.state
                    .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
                    .ok()?;
                self.probe_taken.store(true, Ordering::Release);
                Some(true)
            }
            _ => self
                .probe_taken
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .ok()
                .map(|_| true),
        }
    }

    /// A probe ended without a verdict (the client went away): let another probe through.
    pub fn release_probe(&self) {
        self.probe_taken.store(false, Ordering::Release);
    }

    fn count_in_window(&self, now_ms: u64, failed: bool) -> (u32, u32) {
        let window = u64::try_from(self.settings.window.as_millis()).unwrap_or(u64::MAX);
        let start = self.window_start_ms.load(Ordering::Acquire);
        if now_ms.saturating_sub(start) >= window
            && self
                .window_start_ms
                .compare_exchange(start, now_ms, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.window_requests.store(0, Ordering::Release);
            self.window_failures.store(0, Ordering::Release);
        }
        let requests = self.window_requests.fetch_add(1, Ordering::AcqRel) + 1;
        let failures = if failed {
            self.window_failures.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.window_failures.load(Ordering::Acquire)
        };
        (requests, failures)
    }

    /// Records a success: closes a half-open breaker.
    pub fn on_success(&self, now_ms: u64) {
        self.consecutive.store(0, Ordering::Release);
        self.count_in_window(now_ms, false);
        if self.state.load(Ordering::Acquire) != CLOSED {
            self.window_requests.store(0, Ordering::Release);
            self.window_failures.store(0, Ordering::Release);
            self.state.store(CLOSED, Ordering::Release);
            self.probe_taken.store(false, Ordering::Release);
        }
    }

    /// Records a failure: may open the breaker (a failed probe re-opens it at once).
    pub fn on_failure(&self, now_ms: u64) {
        let consecutive = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        let (requests, failures) = self.count_in_window(now_ms, true);
        let state = self.state.load(Ordering::Acquire);
        let rate_exceeded = requests >= self.settings.min_requests
            && f64::from(failures) >= self.settings.error_rate * f64::from(requests);
        let trips = match state {
            HALF_OPEN => true,
            CLOSED => consecutive >= self.settings.consecutive_failures || rate_exceeded,
            _ => false,
        };
        if trips {
            self.opened_at_ms.store(now_ms, Ordering::Release);
            self.state.store(OPEN, Ordering::Release);
            self.probe_taken.store(false, Ordering::Release);
            self.times_opened.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings {
            consecutive_failures: 3,
            error_rate: 0.5,
            min_requests: 10,
            window: Duration::from_secs(10),
            cooldown: Duration::from_millis(100),
        })
    }

    #[test]
    fn opens_after_consecutive_failures_and_probes_after_cooldown() {
        let b = breaker();
        b.on_failure(1);
        b.on_failure(2);
        assert_eq!(b.state(2), BreakerState::Closed);
        b.on_failure(3);
        assert_eq!(b.state(3), BreakerState::Open);
        assert_eq!(b.try_acquire(50), None);
        assert_eq!(b.state(103), BreakerState::HalfOpen);
        assert_eq!(b.try_acquire(103), Some(true));
        assert_eq!(b.try_acquire(104), None, "only one probe at a time");
        b.on_success(110);
        assert_eq!(b.state(110), BreakerState::Closed);
        assert_eq!(b.try_acquire(111), Some(false));
        assert_eq!(b.times_opened(), 1);
    }

    #[test]
    fn failed_probe_reopens_for_another_cooldown() {
        let b = breaker();
        for t in 0..3 {
            b.on_failure(t);
        }
        assert_eq!(b.try_acquire(200), Some(true));
        b.on_failure(201);
        assert_eq!(b.state(250), BreakerState::Open);
        assert!(!b.may_pass(250));
        assert!(b.may_pass(301));
    }

    #[test]
    fn abandoned_probe_lets_another_through() {
        let b = breaker();
        for t in 0..3 {
            b.on_failure(t);
        }
        assert_eq!(b.try_acquire(200), Some(true));
        assert_eq!(b.try_acquire(201), None);
        b.release_probe();
        assert_eq!(b.try_acquire(202), Some(true));
    }

    #[test]
    fn opens_on_error_rate_without_consecutive_failures() {
        let b = breaker();
        // Alternate success/failure: never 3 in a row, but 50% errors over 10 requests.
        for t in 0..10 {
            if t % 2 == 0 {
                b.on_success(t);
            } else {
                b.on_failure(t);
            }
        }
        assert_eq!(b.state(10), BreakerState::Open);
    }

    #[test]
    fn error_rate_window_resets() {
        let b = breaker();
        for t in 0..8 {
            if t % 2 == 0 {
                b.on_success(t);
            } else {
                b.on_failure(t);
            }
        }
        // The window (10 s) ends: old failures no longer count.
        b.on_success(20_000);
        b.on_failure(20_001);
        assert_eq!(b.state(20_001), BreakerState::Closed);
        assert!((b.window_error_rate() - 0.5).abs() < f64::EPSILON);
    }
}
