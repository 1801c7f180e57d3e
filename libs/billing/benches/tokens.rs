//! Criterion benchmarks of the per-request CPU costs in billing: token counting and cost math.
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_billing::{ChatMessageText, Decimal, ModelPrice, Tokenizer, Usage, cost_of};

fn prompt_of_about_900_tokens() -> String {
    "The quick brown fox jumps over the lazy dog while the gateway counts every token. ".repeat(55)
}

fn bench_tokens(c: &mut Criterion) {
    let text = prompt_of_about_900_tokens();
    Tokenizer::O200kBase.warm_up();
    c.bench_function("count_chat_prompt_900_tokens_o200k", |b| {
        b.iter(|| {
            Tokenizer::O200kBase.count_chat_prompt([ChatMessageText {
                role: "user",
                content: black_box(&text),
                name: None,
            }])
        })
    });
    c.bench_function("count_text_short_o200k", |b| {
        b.iter(|| Tokenizer::O200kBase.count_text(black_box("Say hello to the gateway")))
    });
    let price = ModelPrice {
        input_per_million: Decimal::new(250, 2),
        output_per_million: Decimal::new(1000, 2),
        cached_input_per_million: Decimal::new(125, 2),
        tokenizer: Tokenizer::O200kBase,
        version: "bench".into(),
    };
    c.bench_function("cost_of", |b| {
        b.iter(|| {
            cost_of(
                black_box(Usage {
                    prompt_tokens: 912,
                    completion_tokens: 256,
                    cached_tokens: 512,
                }),
                &price,
            )
        })
    });
}

/// What a request body's worth of text costs to count (the gateway's body limit is 4 MiB):
/// prose, one letter repeated (a single pre-token for the BPE merge) and digits.
fn bench_body_sized_texts(c: &mut Criterion) {
    const SIZE: usize = 4 * 1024 * 1024;
    let prose = prompt_of_about_900_tokens();
    let texts = [
        ("prose", prose.repeat(SIZE / prose.len())),
        ("one_letter", "a".repeat(SIZE)),
        ("digits", "0123456789".repeat(SIZE / 10)),
    ];
    Tokenizer::O200kBase.warm_up();
    let mut group = c.benchmark_group("count_text_4mib_o200k");
    group.sample_size(10);
    for (name, text) in &texts {
        group.bench_function(*name, |b| {
            b.iter(|| Tokenizer::O200kBase.count_text(black_box(text)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_tokens, bench_body_sized_texts);
criterion_main!(benches);
