//! What the rate limits cost a request on the hot path: admitting it against its key's and its
//! tenant's limits (requests, tokens and concurrency each), reading the headers, truing the
//! tokens up and freeing the slots; with no limit set, what remains is two map lookups.
//!   cargo bench -p tollgate-gateway --bench limits

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_gateway::limits::{LimitSettings, Limiter, Throttles};
use uuid::Uuid;

const THROTTLES: Throttles = Throttles {
    auth_failures_per_minute: 600,
    management_rpm: 600,
};

fn limits(c: &mut Criterion) {
    let every = LimitSettings {
        rpm: Some(u32::MAX),
        tpm: Some(u32::MAX),
        max_concurrent: Some(1_000),
    };
    let limiter = Limiter::new(THROTTLES);
    let (key, tenant) = (Uuid::now_v7(), Uuid::now_v7());
    c.bench_function(
        "admit, settle and release (key and tenant, all three limits)",
        |b| {
            b.iter(|| {
                let admitted = limiter.admit((key, every), (tenant, every), (1_200, || 1_200));
                assert!(admitted.is_ok(), "the loop stays below every limit");
                if let Ok(permit) = admitted {
                    std::hint::black_box(permit.headers);
                    // The whole reservation comes back, so the loop never reaches the limit.
                    permit.settle(0);
                }
            });
        },
    );
    let none = LimitSettings::default();
    c.bench_function("admit without limits", |b| {
        b.iter(|| {
            let admitted = limiter.admit((key, none), (tenant, none), (1_200, || 1_200));
            assert!(admitted.is_ok(), "nothing limits it");
            std::hint::black_box(admitted.map(|permit| permit.headers).ok());
        });
    });
}

criterion_group!(benches, limits);
criterion_main!(benches);
