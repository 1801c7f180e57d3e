//! One rate limit as a GCRA (generic cell rate algorithm): a single "theoretical arrival time"
//! per limit, no timers, no background refill. A limit of `L` per minute lets a burst of `L`
//! through and then one every `60 s / L`; a request of weight `n` (tokens) takes `n` of them.

use std::time::Duration;

/// Nanoseconds in the limits' window (one minute).
const WINDOW_NS: u64 = 60_000_000_000;

/// A rate: `limit` units per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    limit: u64,
    /// Nanoseconds one unit occupies.
    interval_ns: u64,
}

impl Rate {
    /// `limit` units per minute (at least one).
    pub fn per_minute(limit: u32) -> Self {
        let limit = u64::from(limit.max(1));
        Self {
            limit,
            interval_ns: WINDOW_NS / limit,
        }
    }

    /// Units per minute.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// The state of a limit after a decision: what the OpenAI-style headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Units per minute.
    pub limit: u64,
    /// Units that could be taken right now.
    pub remaining: u64,
    /// Until the limit is whole again.
    pub reset: Duration,
}

/// A refusal: the limit's state, and when the same request could pass (`None`: never, it
/// weighs more than the whole limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The limit's state.
    pub window: Window,
    /// When to try again.
    pub retry_after: Option<Duration>,
}

/// One limit's state: the theoretical arrival time, in nanoseconds of the limiter's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gcra {
    tat: u64,
}

impl Gcra {
    /// Whether `weight` units can be taken at `now` (nothing is taken).
    pub fn check(&self, rate: Rate, weight: u64, now: u64) -> Result<(), Refused> {
        let base = self.tat.max(now);
        let after = base.saturating_add(weight.saturating_mul(rate.interval_ns));
        if after - now <= WINDOW_NS {
            return Ok(());
        }
        let retry_after =
            (weight <= rate.limit).then(|| Duration::from_nanos(after - WINDOW_NS - now));
        Err(Refused {
            window: self.window(rate, now),
            retry_after,
        })
    }

    /// Takes `weight` units at `now` (call after [`Gcra::check`]; a true-up may overdraw).
    pub fn take(&mut self, rate: Rate, weight: u64, now: u64) {
        self.tat = self
            .tat
            .max(now)
            .saturating_add(weight.saturating_mul(rate.interval_ns));
    }

    /// Keeps what is taken as the same share of the window when the rate changes `from` one
    /// `to` another (a raised limit frees room at once, a lowered one leaves less).
    pub fn rescale(&mut self, from: Rate, to: Rate, now: u64) {
        if from == to || self.tat <= now {
            return;
        }
        let used = u128::from(self.tat - now) * u128::from(to.interval_ns)
            / u128::from(from.interval_ns.max(1));
        self.tat = now.saturating_add(u64::try_from(used).unwrap_or(u64::MAX));
    }

    /// Gives back `weight` units taken earlier (a reservation larger than the use).
    pub fn give_back(&mut self, rate: Rate, weight: u64, now: u64) {
        self.tat = self
            .tat
            .saturating_sub(weight.saturating_mul(rate.interval_ns))
            .max(now.min(self.tat));
    }

    /// Units taken and not yet regenerated at `now`.
    pub fn used(&self, rate: Rate, now: u64) -> u64 {
        self.tat.saturating_sub(now) / rate.interval_ns.max(1)
    }

    /// Holds at least `used` units at `now` (another gateway's whole view of the limit).
    pub fn hold_at_least(&mut self, rate: Rate, used: u64, now: u64) {
        let tat = now.saturating_add(used.saturating_mul(rate.interval_ns));
        self.tat = self.tat.max(tat);
    }

    /// Whether nothing is taken at `now` (the limit is whole, whatever its rate).
    pub fn is_whole(&self, now: u64) -> bool {
        self.tat <= now
    }

    /// The limit's state at `now`.
    pub fn window(&self, rate: Rate, now: u64) -> Window {
        let used_ns = self.tat.saturating_sub(now);
        let free_ns = WINDOW_NS.saturating_sub(used_ns);
        Window {
            limit: rate.limit,
            remaining: (free_ns / rate.interval_ns).min(rate.limit),
            reset: Duration::from_nanos(used_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn take(gcra: &mut Gcra, rate: Rate, weight: u64, now: u64) -> Result<(), Refused> {
        gcra.check(rate, weight, now)?;
        gcra.take(rate, weight, now);
        Ok(())
    }

    #[test]
    fn a_burst_of_the_limit_passes_and_then_one_per_interval() {
        let rate = Rate::per_minute(6);
        let mut gcra = Gcra::default();
        let start = 1_000 * SECOND;
        for _ in 0..6 {
            take(&mut gcra, rate, 1, start).unwrap();
        }
        let refused = take(&mut gcra, rate, 1, start).unwrap_err();
        assert_eq!(refused.window.remaining, 0);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(10)));
        assert_eq!(refused.window.reset, Duration::from_secs(60));
        // One interval later exactly one more passes.
        assert!(take(&mut gcra, rate, 1, start + 10 * SECOND - 1).is_err());
        take(&mut gcra, rate, 1, start + 10 * SECOND).unwrap();
        assert!(take(&mut gcra, rate, 1, start + 10 * SECOND).is_err());
        // A minute of quiet makes it whole.
        let later = start + 200 * SECOND;
        assert_eq!(gcra.window(rate, later).remaining, 6);
        assert_eq!(gcra.window(rate, later).reset, Duration::ZERO);
    }

    #[test]
    fn weights_count_and_what_exceeds_the_whole_limit_never_passes() {
        let rate = Rate::per_minute(1_000);
        let mut gcra = Gcra::default();
        let now = 5 * SECOND;
        take(&mut gcra, rate, 600, now).unwrap();
        assert_eq!(gcra.window(rate, now).remaining, 400);
        let refused = take(&mut gcra, rate, 500, now).unwrap_err();
        assert_eq!(refused.retry_after, Some(Duration::from_secs(6)));
        let never = take(&mut gcra, rate, 1_001, now).unwrap_err();
        assert_eq!(never.retry_after, None);
    }

    #[test]
    fn a_raised_limit_frees_room_at_once() {
        let (low, high) = (Rate::per_minute(10), Rate::per_minute(100));
        let mut gcra = Gcra::default();
        let now = 5 * SECOND;
        for _ in 0..10 {
            take(&mut gcra, low, 1, now).unwrap();
        }
        assert!(gcra.check(low, 1, now).is_err());
        // Ten of ten taken is ten of a hundred at the new rate.
        gcra.rescale(low, high, now);
        assert_eq!(gcra.window(high, now).remaining, 90);
        gcra.rescale(high, low, now);
        assert_eq!(gcra.window(low, now).remaining, 0);
    }

    #[test]
    fn a_reservation_is_trued_up_both_ways() {
        let rate = Rate::per_minute(100);
        let mut gcra = Gcra::default();
        let now = 5 * SECOND;
        take(&mut gcra, rate, 80, now).unwrap();
        // Used 30 of the 80 reserved: 50 come back.
        gcra.give_back(rate, 50, now);
        assert_eq!(gcra.window(rate, now).remaining, 70);
        // Used more than reserved: the excess is taken, even past the limit.
        gcra.take(rate, 100, now);
        assert_eq!(gcra.window(rate, now).remaining, 0);
        assert!(gcra.check(rate, 1, now).is_err());
        // Giving back never frees more than a whole window.
        gcra.give_back(rate, 10_000, now);
        assert_eq!(gcra.window(rate, now).remaining, 100);
    }
}
