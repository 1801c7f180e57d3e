//! Embedding throughput with and without micro-batching, on the real model.
//!
//! `TOLLGATE_MODELS_DIR=.tollgate/models cargo run --release -p tollgate-semcache --example
//! embed_throughput [texts]` (scripts/up or scripts/test fetch the model files first).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tollgate_semcache::{Embedder, EmbedderConfig};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let texts: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    let root = PathBuf::from(std::env::var("TOLLGATE_MODELS_DIR")?);
    let prompts: Vec<String> = (0..texts)
        .map(|i| format!("How do I export invoice number {i} as a PDF for my accountant?"))
        .collect();

    let single = Embedder::start(&EmbedderConfig {
        batch_size: 1,
        batch_window: Duration::ZERO,
        ..EmbedderConfig::from_models_root(&root)
    })?;
    let started = Instant::now();
    for p in &prompts {
        single.embed(p.clone()).await?;
    }
    let one_by_one = started.elapsed();

    for (batch_size, window_ms) in [(8, 2), (32, 2), (64, 5)] {
        let batched = Embedder::start(&EmbedderConfig {
            batch_size,
            batch_window: Duration::from_millis(window_ms),
            queue: texts,
            ..EmbedderConfig::from_models_root(&root)
        })?;
        let started = Instant::now();
        let handles: Vec<_> = prompts
            .iter()
            .map(|p| {
                let e = batched.clone();
                let p = p.clone();
                tokio::spawn(async move { e.embed(p).await })
            })
            .collect();
        for h in handles {
            h.await??;
        }
        let elapsed = started.elapsed();
        let batches = batched
            .stats()
            .batches
            .load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "batched (size {batch_size}, window {window_ms} ms): {texts} texts in {elapsed:.2?} = {:.0} texts/s ({batches} batches)",
            texts as f64 / elapsed.as_secs_f64()
        );
    }
    println!(
        "one at a time: {texts} texts in {one_by_one:.2?} = {:.0} texts/s ({:.2} ms each)",
        texts as f64 / one_by_one.as_secs_f64(),
        one_by_one.as_secs_f64() * 1000.0 / texts as f64
    );
    let one_thread = Embedder::start(&EmbedderConfig {
        batch_size: 1,
        batch_window: Duration::ZERO,
        threads: Some(1),
        ..EmbedderConfig::from_models_root(&root)
    })?;
    let started = Instant::now();
    for p in prompts.iter().take(256) {
        one_thread.embed(p.clone()).await?;
    }
    println!(
        "one at a time, 1 intra-op thread: {:.2} ms each",
        started.elapsed().as_secs_f64() * 1000.0 / 256.0
    );
    Ok(())
}
