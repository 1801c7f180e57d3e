//! What one prompt's embedding costs, on the real model: the latency of a single text per
//! ONNX Runtime thread count, and how long N texts sent at once take (through the micro-batcher)
//! compared with one: whether batching buys throughput on this machine or the model is
//! compute-bound.
//!
//! `TOLLGATE_MODELS_DIR=.tollgate/models cargo run --release -p tollgate-semcache --example
//! embed_latency [rounds]`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tollgate_semcache::{Embedder, EmbedderConfig};

const PROMPT: &str = "How do I convert my Excel invoice export into a PDF for the accountant?";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let root = PathBuf::from(std::env::var("TOLLGATE_MODELS_DIR")?);
    println!(
        "| intra-op threads | one text p50 / p99 (ms) | 2 / 4 / 8 texts at once (ms until all are done) |"
    );
    println!("| --- | --- | --- |");
    for threads in [1, 2] {
        let embedder = Embedder::start(&EmbedderConfig {
            batch_size: 8,
            batch_window: Duration::from_millis(5),
            threads: Some(threads),
            ..EmbedderConfig::from_models_root(&root)
        })?;
        for _ in 0..20 {
            embedder.embed(PROMPT).await?;
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            embedder.embed(PROMPT).await?;
            times.push(started.elapsed());
        }
        times.sort();
        let mut batches = Vec::new();
        for size in [2, 4, 8] {
            let started = Instant::now();
            for _ in 0..20 {
                let calls: Vec<_> = (0..size)
                    .map(|_| {
                        let e = embedder.clone();
                        tokio::spawn(async move { e.embed(PROMPT).await })
                    })
                    .collect();
                for call in calls {
                    call.await??;
                }
            }
            batches.push(format!(
                "{:.2}",
                started.elapsed().as_secs_f64() * 1e3 / 20.0
            ));
        }
        println!(
            "| {threads} | {:.2} / {:.2} | {} |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            batches.join(" / ")
        );
    }
    Ok(())
}
