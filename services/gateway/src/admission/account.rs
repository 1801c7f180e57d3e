//! One tenant's (or key's) money as one gateway sees it: the ledger's last word plus what this
//! gateway has charged or reserved since.

use rust_decimal::Decimal;
use tokio::time::Instant;

/// Money state of a tenant (`base` = ledger balance) or a key (`base` = ledger spend).
#[derive(Debug)]
pub struct Account {
    /// The ledger's figure.
    base: Decimal,
    /// The stream sequence `base` reflects.
    seq: u64,
    /// This gateway's charges whose stream sequence is not known yet (publish not acked).
    unacked: Decimal,
    /// This gateway's acknowledged charges after `seq`: (sequence, cost, acked at).
    acked: Vec<(u64, Decimal, Instant)>,
    /// Estimates of requests in flight.
    reserved: Decimal,
}

impl Account {
    /// An account at the ledger's `base` as of `seq`.
    pub fn new(base: Decimal, seq: u64) -> Self {
        Self {
            base,
            seq,
            unacked: Decimal::ZERO,
            acked: Vec::new(),
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
        self.unacked + self.acked.iter().map(|(_, cost, _)| *cost).sum::<Decimal>() + self.reserved
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
        }
    }

    /// A newer ledger figure: charges it covers stop counting.
    pub fn ledger_update(&mut self, base: Decimal, seq: u64) {
        if seq < self.seq {
            return;
        }
        self.base = base;
        self.seq = seq;
        self.acked.retain(|(s, _, _)| *s > seq);
    }

    /// When the oldest acknowledged charge the ledger has not covered yet was acknowledged.
    pub fn oldest_uncovered(&self) -> Option<Instant> {
        self.acked.iter().map(|(_, _, at)| *at).min()
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
        let mut a = Account::new(d(100), 10);
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
        a.ledger_update(d(97), 11);
        assert_eq!((a.base(), a.outstanding()), (d(97), d(4)));
        // An older update is ignored.
        a.ledger_update(d(100), 10);
        assert_eq!(a.base(), d(97));
        a.ledger_update(d(93), 12);
        assert_eq!(a.outstanding(), d(0));
    }

    #[test]
    fn an_ack_already_covered_by_the_ledger_is_not_counted_again() {
        let mut a = Account::new(d(50), 20);
        a.charge(d(2));
        a.ledger_update(d(48), 25); // the ledger booked it (seq 25) before our ack arrived
        a.charge_acked(d(2), 25);
        assert_eq!(a.outstanding(), d(0));
    }
}
