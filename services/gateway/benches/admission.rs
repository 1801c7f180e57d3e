//! What admission control's money check costs per request while the ledger lags: a tenant's
//! outstanding amount with thousands of acknowledged charges the ledger has not booked yet,
//! next to summing them all on every request (what the check did before it kept a total).
//!   cargo bench -p tollgate-gateway --bench admission

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use tollgate_gateway::admission::Account;

/// Charges acknowledged but not yet covered by the ledger's figure (about 1.5 s of a lagging
/// ledger at 3,500 req/s).
const UNCOVERED: u64 = 5_000;

fn admission(c: &mut Criterion) {
    let mut account = Account::new(Decimal::from(1_000_000), Decimal::ZERO, 0);
    let costs: Vec<Decimal> = (0..UNCOVERED)
        .map(|n| Decimal::new(1_234 + i64::try_from(n).unwrap_or(0), 8))
        .collect();
    for (seq, cost) in (1..).zip(&costs) {
        account.charge(*cost);
        account.charge_acked(*cost, seq);
    }
    c.bench_function(
        "outstanding with 5,000 uncovered charges (running total)",
        |b| {
            b.iter(|| std::hint::black_box(&account).outstanding());
        },
    );
    c.bench_function(
        "summing 5,000 uncovered charges (the old outstanding)",
        |b| {
            b.iter(|| std::hint::black_box(&costs).iter().sum::<Decimal>());
        },
    );
    c.bench_function("charge, ack and ledger update covering it", |b| {
        let mut seq = UNCOVERED;
        let mut account = Account::new(Decimal::from(1_000_000), Decimal::ZERO, seq);
        let cost = Decimal::new(1_234, 8);
        b.iter(|| {
            seq += 1;
            account.charge(cost);
            account.charge_acked(cost, seq);
            account.ledger_update(Decimal::from(1_000_000), Decimal::ZERO, seq);
        });
    });
}

criterion_group!(benches, admission);
criterion_main!(benches);
