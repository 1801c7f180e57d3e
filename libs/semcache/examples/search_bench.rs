//! Embedded-store search latency and nearest-neighbour recall, per store tuning, on real
//! embeddings.
//!
//! `TOLLGATE_MODELS_DIR=.tollgate/models cargo run --release -p tollgate-semcache --example
//! search_bench [entries] [queries]`. One tenant holds `entries` prompts (the labelled set's
//! prompts plus generated ones, embedded by the real model); a second tenant holds as many again.
//! Each tuning gets its own fresh shard. Queries are the set's paraphrases, asked one at a time;
//! recall@1 is the share of queries whose first answer is as similar as the best of an exact
//! brute-force search of the same vectors.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tollgate_semcache::evaluation::parse_pairs;
use tollgate_semcache::store::{EdgeTuning, Neighbours};
use tollgate_semcache::{
    CacheEntry, EdgeStore, Embedder, EmbedderConfig, VectorStore, cosine, unix_now,
};
use uuid::Uuid;

const SUBJECTS: &[&str] = &[
    "invoice",
    "password",
    "shipment",
    "refund",
    "subscription",
    "API key",
    "report",
    "backup",
    "calendar",
    "database",
    "printer",
    "VPN",
    "contract",
    "payroll",
    "warehouse",
    "ticket",
];
const ASKS: &[&str] = &[
    "How do I cancel my {} number {}?",
    "Why was {} {} rejected yesterday?",
    "Can you summarise the history of {} {} for the audit?",
    "What are the steps to migrate {} {} to the new region?",
    "Explain who owns {} {} and how to contact them",
    "Write a short email asking about {} {}",
];

fn generated(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let ask = ASKS[i % ASKS.len()];
            let subject = SUBJECTS[(i / ASKS.len()) % SUBJECTS.len()];
            ask.replacen("{}", subject, 1)
                .replacen("{}", &i.to_string(), 1)
        })
        .collect()
}

fn entry(tenant: Uuid, prompt: &str) -> CacheEntry {
    let now = unix_now();
    CacheEntry {
        id: Uuid::new_v4(),
        tenant,
        model: "m".into(),
        namespace: "ns".into(),
        prompt: prompt.into(),
        response: format!("{{\"answer\": {prompt:?}}}"),
        prompt_tokens: 10,
        completion_tokens: 50,
        cost_usd: "0.0001".into(),
        created_at: now,
        expires_at: now + 86_400,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let entries = args.next().transpose()?.unwrap_or(5_000);
    let queries = args.next().transpose()?.unwrap_or(2_000);
    let root = PathBuf::from(std::env::var("TOLLGATE_MODELS_DIR")?);
    let pairs = parse_pairs(include_str!("../eval/pairs.jsonl"))?;

    let mut seen = std::collections::HashSet::new();
    let anchors: Vec<String> = pairs
        .iter()
        .map(|p| p.a.clone())
        .filter(|a| seen.insert(a.clone()))
        .collect();
    let paraphrases: Vec<String> = pairs
        .iter()
        .filter(|p| p.hit)
        .map(|p| p.b.clone())
        .collect();
    let mut prompts = anchors;
    prompts.extend(generated(entries.saturating_sub(prompts.len())));
    prompts.truncate(entries);

    let embedder = Embedder::start(&EmbedderConfig {
        queue: prompts.len() + paraphrases.len(),
        ..EmbedderConfig::from_models_root(&root)
    })?;
    let started = Instant::now();
    let embed_all = |texts: Vec<String>| {
        let calls: Vec<_> = texts
            .into_iter()
            .map(|t| {
                let embedder = embedder.clone();
                async move { embedder.embed(t).await }
            })
            .collect();
        futures_join(calls.into_iter())
    };
    let stored = embed_all(prompts.clone()).await?;
    let asked = embed_all(paraphrases).await?;
    println!(
        "embedded {} prompts and {} queries in {:.1} s",
        stored.len(),
        asked.len(),
        started.elapsed().as_secs_f64()
    );

    let tunings = [
        ("library defaults", EdgeTuning::LIBRARY),
        (
            "HNSW from 256 KB, ef default",
            EdgeTuning {
                index_from_kb: Some(256),
                search_ef: None,
            },
        ),
        (
            "HNSW from 256 KB, ef 256",
            EdgeTuning {
                index_from_kb: Some(256),
                search_ef: Some(256),
            },
        ),
        (
            "HNSW from 256 KB, ef 512",
            EdgeTuning {
                index_from_kb: Some(256),
                search_ef: Some(512),
            },
        ),
    ];
    println!("| tuning | search p50 / p99 (ms) | recall@1 vs exact |");
    println!("| --- | --- | --- |");
    for (name, tuning) in tunings {
        let dir = std::env::temp_dir().join(format!("tollgate-search-bench-{}", Uuid::new_v4()));
        let store = EdgeStore::open_tuned(&dir, tuning)?;
        let tenant = Uuid::new_v4();
        for (prompt, vector) in prompts.iter().zip(&stored) {
            store
                .upsert(entry(tenant, prompt), Some(vector.clone()))
                .await?;
            store
                .upsert(entry(Uuid::new_v4(), prompt), Some(vector.clone()))
                .await?;
        }
        store.maintain().await?;

        let mut times = Vec::with_capacity(queries);
        let mut agree = 0;
        for q in 0..queries {
            let vector = asked[q % asked.len()].clone();
            let best = stored
                .iter()
                .map(|v| cosine(v, &vector))
                .fold(f32::MIN, f32::max);
            let t = Instant::now();
            let found = store
                .search(Neighbours {
                    tenant,
                    model: "m".into(),
                    namespace: "ns".into(),
                    vector,
                    limit: 4,
                    now: unix_now(),
                })
                .await?;
            times.push(t.elapsed());
            // Ties (equal vectors) count as found: the similarity is what a hit is judged on.
            if found.first().is_some_and(|s| s.similarity >= best - 1e-4) {
                agree += 1;
            }
        }
        times.sort();
        println!(
            "| {name} | {:.3} / {:.3} | {:.4} |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            agree as f64 / queries as f64
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Awaits every future (run as tasks), in order of the input.
async fn futures_join<F, T>(
    calls: impl Iterator<Item = F>,
) -> Result<Vec<T>, Box<dyn std::error::Error>>
where
    F: std::future::Future<Output = Result<T, tollgate_semcache::EmbedError>> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await??);
    }
    Ok(out)
}
