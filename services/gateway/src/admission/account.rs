//! One tenant's (or key's) money as one gateway sees it: the ledger's last word plus what this
//! gateway has charged or reserved since.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::time::Instant;
use tollgate_store::budget::BudgetPeriod;

/// After a period begins, its window is computed once more this long after the start, so that
/// charges of requests that ended just before the reset and were booked just after it move out
/// of the new period (until then they count in it: refusing early, never overspending).
const SETTLE_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Money state of a tenant (`base` = ledger balance) or a key (`base` = ledger spend).
#[derive(Debug)]
pub struct Account {
    /// The ledger's figure.
    base: Decimal,
    /// The ledger's total usage cost (for a key the same as `base`).
    spent: Decimal,
    /// The budget period in force, if a budget applies.
    window: Option<Window>,
    /// The stream sequence `base` reflects.
    seq: u64,
    /// This gateway's charges whose stream sequence is not known yet (publish not acked).
    unacked: Decimal,
    /// This gateway's acknowledged charges after `seq`: (sequence, cost, acked at), in the
    /// order they were acknowledged.
    acked: Vec<(u64, Decimal, Instant)>,
    /// The sum of the costs in `acked` (kept as it changes: the request path reads it on every
    /// request, and `acked` holds thousands of charges while the ledger lags under load).
    acked_total: Decimal,
    /// Estimates of requests in flight.
    reserved: Decimal,
}

impl Account {
    /// An account at the ledger's `base` and total usage cost `spent` as of `seq`.
    pub fn new(base: Decimal, spent: Decimal, seq: u64) -> Self {
        Self {
            base,
            spent,
            window: None,
            seq,
            unacked: Decimal::ZERO,
            acked: Vec::new(),
            acked_total: Decimal::ZERO,
            reserved: Decimal::ZERO,
        }
    }

    /// The ledger's figure.
    pub fn base(&self) -> Decimal {
        self.base
    }

    /// The stream sequence the ledger's figure reflects.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// What this gateway has charged or reserved that the ledger's figure does not include.
    pub fn outstanding(&self) -> Decimal {
        self.unacked + self.acked_total + self.reserved
    }

    /// Reserves an estimate.
    pub fn reserve(&mut self, amount: Decimal) {
        self.reserved += amount;
    }

    /// Releases a reservation.
    pub fn release(&mut self, amount: Decimal) {
        self.reserved -= amount;
    }

    /// Adds a charge whose event is not acknowledged yet.
    pub fn charge(&mut self, cost: Decimal) {
        self.unacked += cost;
    }

    /// The charge's event is stored at `seq`: keep counting it until the ledger covers it.
    pub fn charge_acked(&mut self, cost: Decimal, seq: u64) {
        self.unacked -= cost;
        if seq > self.seq {
            self.acked.push((seq, cost, Instant::now()));
            self.acked_total += cost;
        }
    }

    /// A newer ledger figure: charges it covers stop counting.
    pub fn ledger_update(&mut self, base: Decimal, spent: Decimal, seq: u64) {
        if seq < self.seq {
            return;
        }
        self.base = base;
        self.spent = spent;
        self.seq = seq;
        let mut covered = Decimal::ZERO;
        self.acked.retain(|&(s, cost, _)| {
            let uncovered = s > seq;
            if !uncovered {
                covered += cost;
            }
            uncovered
        });
        self.acked_total -= covered;
    }

    /// The ledger's spend within the current `period` (all of it while no window of that
    /// period is in force): the period's booked spend when the window was read, plus what the
    /// ledger booked since (this gateway's figure may lag the one read: then nothing is added).
    pub fn period_spent(&self, period: BudgetPeriod) -> Decimal {
        match &self.window {
            Some(window) if window.period == period => {
                window.in_period + (self.spent - window.total).max(Decimal::ZERO)
            }
            _ => self.spent,
        }
    }

    /// Whether the window must be (re)computed for a budget over `period` at `now`: none yet,
    /// another period, the period ended, or its settling recomputation is due.
    pub fn needs_window(&self, period: BudgetPeriod, now: DateTime<Utc>) -> bool {
        let Some(window) = &self.window else {
            return true;
        };
        let settle_at = window.starts.map(|s| s + SETTLE_AFTER);
        window.period != period
            || window.ends.is_some_and(|ends| now >= ends)
            || settle_at.is_some_and(|at| window.computed_at < at && now >= at)
    }

    /// Whether a window of `period` is in force (ended or not).
    pub fn has_window_of(&self, period: BudgetPeriod) -> bool {
        self.window.as_ref().is_some_and(|w| w.period == period)
    }

    /// Puts a window in force.
    pub fn set_window(&mut self, window: Window) {
        self.window = Some(window);
    }

    /// When the oldest acknowledged charge the ledger has not covered yet was acknowledged.
    pub fn oldest_uncovered(&self) -> Option<Instant> {
        // Kept in acknowledgement order: the first is the oldest.
        self.acked.first().map(|&(_, _, at)| at)
    }
}

/// One budget period as an account sees it: the ledger's total and in-period spend, read
/// together when the window was computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    period: BudgetPeriod,
    starts: Option<DateTime<Utc>>,
    ends: Option<DateTime<Utc>>,
    total: Decimal,
    in_period: Decimal,
    computed_at: DateTime<Utc>,
}

impl Window {
    /// The period of `period` containing `now`, given the ledger's total spend and the part of
    /// it booked within the period (read together).
    pub fn new(
        period: BudgetPeriod,
        now: DateTime<Utc>,
        total: Decimal,
        in_period: Decimal,
    ) -> Self {
        Self {
            period,
            starts: period.starts_at(now),
            ends: period.resets_at(now),
            total,
            in_period,
            computed_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    #[test]
    fn charges_count_until_the_ledger_covers_their_sequence() {
        let mut a = Account::new(d(100), d(0), 10);
        a.reserve(d(5));
        assert_eq!(a.outstanding(), d(5));
        a.release(d(5));
        a.charge(d(3));
        a.charge(d(4));
        assert_eq!(a.outstanding(), d(7));
        a.charge_acked(d(3), 11);
        a.charge_acked(d(4), 12);
        assert_eq!(a.outstanding(), d(7));
        // The ledger booked seq 11 (balance 97): only the charge at 12 still counts.
        a.ledger_update(d(97), d(3), 11);
        assert_eq!((a.base(), a.outstanding()), (d(97), d(4)));
        // An older update is ignored.
        a.ledger_update(d(100), d(0), 10);
        assert_eq!(a.base(), d(97));
        a.ledger_update(d(93), d(7), 12);
        assert_eq!(a.outstanding(), d(0));
    }

    #[test]
    fn the_running_total_of_uncovered_charges_stays_exact_with_acks_out_of_order() {
        let cents = |c: i64| Decimal::new(c, 6);
        let mut a = Account::new(d(100), d(0), 10);
        // Acknowledged out of sequence order (pipelined publishes), with fractional costs.
        for (seq, cost) in [(15, 1_000_001), (12, 2_000_003), (14, 7), (13, 300_000)] {
            a.charge(cents(cost));
            a.charge_acked(cents(cost), seq);
        }
        assert_eq!(a.outstanding(), cents(3_300_011));
        let first_acked = a.oldest_uncovered();
        // The ledger covers 12 and 13: 15 and 14 still count, and 15 is still the oldest.
        a.ledger_update(d(97), d(3), 13);
        assert_eq!(a.outstanding(), cents(1_000_008));
        assert_eq!(a.oldest_uncovered(), first_acked);
        a.ledger_update(d(96), d(4), 15);
        assert_eq!((a.outstanding(), a.oldest_uncovered()), (d(0), None));
        // A charge acknowledged at a sequence the ledger already covers never counts.
        a.charge(d(2));
        a.charge_acked(d(2), 15);
        assert_eq!(a.outstanding(), d(0));
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_period_window_resets_at_its_end_and_settles_once_after_it_began() {
        let mut a = Account::new(d(10), d(40), 3);
        let day = BudgetPeriod::Day;
        let evening = at("2026-12-06T23:59:00Z");
        assert!(a.needs_window(day, evening));
        // 40 spent in all, 15 of it today.
        a.set_window(Window::new(day, evening, d(40), d(15)));
        assert_eq!(a.period_spent(day), d(15));
        assert!(!a.needs_window(day, evening));
        assert!(
            a.needs_window(BudgetPeriod::Week, evening),
            "another period"
        );
        // The ledger books 2 more today.
        a.ledger_update(d(8), d(42), 4);
        assert_eq!(a.period_spent(day), d(17));

        // Midnight: the day is over, a new window starts from what was spent before it.
        let midnight = at("2026-12-07T00:00:00Z");
        assert!(a.needs_window(day, midnight));
        a.set_window(Window::new(day, midnight, d(42), d(0)));
        assert_eq!(a.period_spent(day), d(0));
        assert!(!a.needs_window(day, at("2026-12-07T00:00:59Z")));
        // A minute in it is computed once more (late bookings of yesterday move out) ...
        let settle = at("2026-12-07T00:01:00Z");
        assert!(a.needs_window(day, settle));
        a.set_window(Window::new(day, settle, d(43), d(0)));
        // The database was read ahead of this gateway's feed (43 booked, the feed says 42):
        // the period's spend is the database's, never less; then the feed's bookings add.
        assert_eq!(a.period_spent(day), d(0));
        a.ledger_update(d(6), d(44), 6);
        assert_eq!(a.period_spent(day), d(1));
        // ... and then not again until the day ends.
        assert!(!a.needs_window(day, at("2026-12-07T18:00:00Z")));
        assert!(a.needs_window(day, at("2026-12-08T00:00:00Z")));

        // A total budget never resets.
        a.set_window(Window::new(BudgetPeriod::Total, settle, d(43), d(43)));
        assert_eq!(a.period_spent(BudgetPeriod::Total), d(44));
        assert_eq!(
            a.period_spent(day),
            d(44),
            "no window of the period: all spend counts"
        );
        assert!(!a.needs_window(BudgetPeriod::Total, at("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn an_ack_already_covered_by_the_ledger_is_not_counted_again() {
        let mut a = Account::new(d(50), d(0), 20);
        a.charge(d(2));
        a.ledger_update(d(48), d(2), 25); // the ledger booked it (seq 25) before our ack arrived
        a.charge_acked(d(2), 25);
        assert_eq!(a.outstanding(), d(0));
    }
}
