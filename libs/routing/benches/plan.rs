//! Cost of one routing decision (`Route::plan`) per strategy, over a route of 3 deployments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use tollgate_billing::{ModelPrice, Tokenizer};
use tollgate_routing::{
    BreakerSettings, Deployment, Health, RequestShape, RetryPolicy, Route, Strategy, Tier,
};

fn route(strategy: Strategy) -> Route {
    let deployments: Vec<Arc<Deployment>> = (0..3i64)
        .map(|i| {
            let price = ModelPrice {
                input_per_million: Decimal::new(15 + i * 10, 2),
                output_per_million: Decimal::new(60 + i * 10, 2),
                cached_input_per_million: Decimal::new(7, 2),
                tokenizer: Tokenizer::O200kBase,
                version: "bench".into(),
            };
            let d = Arc::new(Deployment::new(
                format!("d{i}"),
                "p".into(),
                0,
                format!("m{i}"),
                u32::try_from(i + 1).unwrap(),
                0,
                Tier {
                    name: "official".into(),
                    rank: 0,
                },
                price,
                &[],
                Arc::new(Health::new(
                    BreakerSettings::default(),
                    Duration::from_secs(10),
                )),
            ));
            let mut attempt = d.begin().unwrap();
            attempt.succeeded(Duration::from_millis(10 + u64::try_from(i).unwrap()));
            d
        })
        .collect();
    Route {
        name: "bench".into(),
        strategy,
        admission_price: deployments[2].price.clone(),
        deployments,
        retry: RetryPolicy::default(),
        output_limit_field: "max_tokens",
        default_max_tokens: None,
        max_output_tokens: None,
    }
}

fn plan(c: &mut Criterion) {
    let shape = RequestShape {
        prompt_tokens: 900,
        max_output_tokens: 256,
    };
    for strategy in [
        Strategy::Priority,
        Strategy::Weighted,
        Strategy::Cost,
        Strategy::Latency,
        Strategy::LeastBusy,
        Strategy::Balanced,
    ] {
        let route = route(strategy);
        c.bench_function(&format!("plan/{}", strategy.as_str()), |b| {
            b.iter(|| black_box(route.plan(black_box(&shape), |_| true)));
        });
    }
}

criterion_group!(benches, plan);
criterion_main!(benches);
