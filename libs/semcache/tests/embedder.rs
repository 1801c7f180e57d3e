//! The real model (all-MiniLM-L6-v2 int8 on ONNX Runtime 1.24.4, files fetched from PyPI by
//! `scripts/test` into `TOLLGATE_MODELS_DIR`): similarity ordering, batching, back-pressure.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tollgate_semcache::{EmbedError, Embedder, EmbedderConfig, cosine};

fn config() -> EmbedderConfig {
    crate::model_config()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paraphrases_score_above_near_misses_above_unrelated() {
    let embedder = Embedder::start(&config()).unwrap();
    assert_eq!(embedder.dimensions(), 384);
    let v = |t: &'static str| embedder.embed(t);
    let reset = v("How do I reset my password?").await.unwrap();
    let forgot = v("I forgot my password, how can I reset it?")
        .await
        .unwrap();
    let capital = v("What is the capital of France?").await.unwrap();
    let norm: f32 = reset.iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
    let paraphrase = cosine(&reset, &forgot);
    let unrelated = cosine(&reset, &capital);
    assert!(paraphrase > 0.8, "{paraphrase}");
    assert!(unrelated < 0.3, "{unrelated}");
    // Same text, same vector (deterministic inference).
    let again = v("How do I reset my password?").await.unwrap();
    assert!(cosine(&reset, &again) > 0.9999);
    // Embeddings alone score this near-miss high: why the cache needs a verification step.
    let five = v("convert 5 miles to km").await.unwrap();
    let six = v("convert 6 miles to km").await.unwrap();
    assert!(cosine(&five, &six) > 0.8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_embedded_in_batches() {
    let config = EmbedderConfig {
        batch_window: Duration::from_millis(20),
        ..config()
    };
    let embedder = Embedder::start(&config).unwrap();
    let texts: Vec<String> = (0..64)
        .map(|i| format!("question number {i} about invoices"))
        .collect();
    let results = futures_join(&embedder, texts).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|v| v.len() == 384))
    );
    let stats = embedder.stats();
    assert_eq!(stats.texts.load(Ordering::Relaxed), 64);
    let batches = stats.batches.load(Ordering::Relaxed);
    assert!(batches <= 8, "64 concurrent texts took {batches} batches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_request_does_not_wait_out_the_batch_window() {
    // A window of a minute: a worker that gathered for it would hold this request a minute.
    let config = EmbedderConfig {
        batch_window: Duration::from_secs(60),
        ..config()
    };
    let embedder = Embedder::start(&config).unwrap();
    for text in ["first question", "second question"] {
        let vector = tokio::time::timeout(Duration::from_secs(20), embedder.embed(text))
            .await
            .expect("a lone request was held for the batch window")
            .unwrap();
        assert_eq!(vector.len(), 384);
    }
    assert_eq!(embedder.stats().batches.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy_at_once() {
    let config = EmbedderConfig {
        queue: 1,
        batch_size: 1,
        batch_window: Duration::ZERO,
        ..config()
    };
    let embedder = Embedder::start(&config).unwrap();
    let long = "a long text to keep the worker busy ".repeat(40);
    let texts: Vec<String> = (0..50).map(|i| format!("{long} {i}")).collect();
    let results = futures_join(&embedder, texts).await;
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(EmbedError::Busy)))
        .count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(busy > 0, "no request was refused");
    assert_eq!(busy + ok, 50);
    assert_eq!(embedder.stats().busy.load(Ordering::Relaxed), busy as u64);
}

async fn futures_join(
    embedder: &Embedder,
    texts: Vec<String>,
) -> Vec<Result<Vec<f32>, EmbedError>> {
    let handles: Vec<_> = texts
        .into_iter()
        .map(|t| {
            let e = embedder.clone();
            tokio::spawn(async move { e.embed(t).await })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
