//! The embedding memo inside the cache, on the real model and the embedded store: a repeated
//! last user message reuses its vector (and still hits semantically), never across tenants,
//! and a tenant's purge forgets its vectors; a prompt longer than the model reads is never
//! embedded.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tollgate_semcache::{
    Answer, CacheConfig, CacheKey, EdgeStore, Lookup, Mode, Policy, Precision, SemanticCache, Tier,
};
use uuid::Uuid;

fn key(prompt: &str) -> CacheKey {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": prompt}]});
    let Value::Object(object) = body else {
        unreachable!()
    };
    CacheKey::of("m", &object).unwrap()
}

const POLICY: Policy = Policy {
    mode: Mode::Semantic,
    threshold: 0.75,
    ttl: Duration::from_secs(600),
    any_temperature: false,
    precision: Precision::Strict,
};

async fn served_tier(cache: &SemanticCache<EdgeStore>, tenant: Uuid, prompt: &str) -> Option<Tier> {
    match cache
        .lookup(tenant, "m", &key(prompt), &POLICY)
        .await
        .unwrap()
    {
        Lookup::Hit(hit) => Some(hit.tier),
        Lookup::Miss { .. } => None,
    }
}

fn reused(cache: &SemanticCache<EdgeStore>) -> u64 {
    cache.stats().embeddings_reused.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_reuses_its_embedding_within_its_tenant_only() {
    let embedder = crate::real_embedder();
    let dir = std::env::temp_dir().join(format!("tollgate-memo-{}", Uuid::new_v4()));
    let store = EdgeStore::open(&dir).unwrap();
    let cache = SemanticCache::new(store, Some(embedder.clone()), CacheConfig::default());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let answer = Answer {
        response: r#"{"choices": []}"#.into(),
        prompt_tokens: 9,
        completion_tokens: 20,
        cost_usd: "0.0002".into(),
    };
    for tenant in [a, b] {
        let stored = key("How do I reset my password?");
        let Lookup::Miss { vector } = cache.lookup(tenant, "m", &stored, &POLICY).await.unwrap()
        else {
            panic!("an empty cache missed");
        };
        cache
            .insert(tenant, "m", &stored, &POLICY, answer.clone(), vector)
            .await
            .unwrap();
    }
    assert_eq!(reused(&cache), 0, "each tenant embedded its own prompt");
    let embedded = || embedder.stats().texts.load(Ordering::Relaxed);
    let before = embedded();

    let paraphrase = "I forgot my password, how can I reset it?";
    assert_eq!(
        served_tier(&cache, a, paraphrase).await,
        Some(Tier::Semantic)
    );
    assert_eq!((embedded(), reused(&cache)), (before + 1, 0));
    // Asked again: the same semantic hit, with the vector from the memo.
    assert_eq!(
        served_tier(&cache, a, paraphrase).await,
        Some(Tier::Semantic)
    );
    assert_eq!((embedded(), reused(&cache)), (before + 1, 1));
    // The same text from another tenant runs the model: the memo is per tenant.
    assert_eq!(
        served_tier(&cache, b, paraphrase).await,
        Some(Tier::Semantic)
    );
    assert_eq!((embedded(), reused(&cache)), (before + 2, 1));
    // After a purge the tenant's vectors are forgotten too (and its entries gone).
    cache.purge(a).await.unwrap();
    assert_eq!(served_tier(&cache, a, paraphrase).await, None);
    assert_eq!((embedded(), reused(&cache)), (before + 3, 1));
    assert_eq!(
        served_tier(&cache, b, paraphrase).await,
        Some(Tier::Semantic)
    );
    assert_eq!((embedded(), reused(&cache)), (before + 3, 2));
    drop(cache);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_longer_than_the_model_reads_are_never_embedded_and_hit_exactly_only() {
    let embedder = crate::real_embedder();
    let dir = std::env::temp_dir().join(format!("tollgate-long-{}", Uuid::new_v4()));
    let store = EdgeStore::open(&dir).unwrap();
    let config = CacheConfig::default();
    let limit = config.semantic_max_prompt_bytes;
    let cache = SemanticCache::new(store, Some(embedder.clone()), config);
    let tenant = Uuid::new_v4();
    let context = "My account was opened years ago and has many saved settings. ".repeat(40);
    let long = format!("{context}How do I reset my password?");
    let reworded = format!("{context}I forgot my password, how can I reset it?");
    assert!(long.len() > limit && reworded.len() > limit);
    let embedded = || embedder.stats().texts.load(Ordering::Relaxed);
    let before = embedded();

    let Lookup::Miss { vector } = cache
        .lookup(tenant, "m", &key(&long), &POLICY)
        .await
        .unwrap()
    else {
        panic!("an empty cache missed");
    };
    assert!(
        vector.is_none(),
        "a long prompt is not embedded for the lookup"
    );
    let answer = Answer {
        response: r#"{"choices": []}"#.into(),
        prompt_tokens: 900,
        completion_tokens: 20,
        cost_usd: "0.0002".into(),
    };
    cache
        .insert(tenant, "m", &key(&long), &POLICY, answer, None)
        .await
        .unwrap();
    assert_eq!(served_tier(&cache, tenant, &long).await, Some(Tier::Exact));
    assert_eq!(served_tier(&cache, tenant, &reworded).await, None);
    assert_eq!(embedded(), before, "nothing long reached the model");
    // A prompt within the limit still goes through the model.
    assert_eq!(
        served_tier(&cache, tenant, "How do I reset my password?").await,
        None
    );
    assert_eq!(embedded(), before + 1);
    drop(cache);
    let _ = std::fs::remove_dir_all(dir);
}
