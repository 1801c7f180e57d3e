//! One suite, both stores: embedded Qdrant (always) and a Qdrant server (when `QDRANT_URL`,
//! its gRPC address, is set; skipped with a message otherwise). Synthetic unit vectors keep
//! these tests about storage: isolation, filters, expiry, purge, caps, restarts.

use std::path::PathBuf;

use tollgate_semcache::store::{DIMENSIONS, Neighbours};
use tollgate_semcache::{CacheEntry, EdgeStore, ServerStore, VectorStore, unix_now};
use uuid::Uuid;

/// A unit vector pointing mostly along axis `axis`, tilted by `tilt` toward the next axis.
fn vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0; DIMENSIONS];
    v[axis] = 1.0;
    v[(axis + 1) % DIMENSIONS] = tilt;
    let norm = (1.0 + tilt * tilt).sqrt();
    v.iter().map(|x| x / norm).collect()
}

fn entry(tenant: Uuid, prompt: &str, created_at: i64, ttl: i64) -> CacheEntry {
    CacheEntry {
        id: Uuid::new_v4(),
        tenant,
        model: "m".into(),
        namespace: "ns".into(),
        prompt: prompt.into(),
        response: format!("{{\"answer\": \"{prompt}\"}}"),
        prompt_tokens: 10,
        completion_tokens: 5,
        cost_usd: "0.000015".into(),
        created_at,
        expires_at: created_at + ttl,
    }
}

fn near(tenant: Uuid, v: Vec<f32>) -> Neighbours {
    Neighbours {
        tenant,
        model: "m".into(),
        namespace: "ns".into(),
        vector: v,
        limit: 5,
        now: unix_now(),
    }
}

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("tollgate-edge-{}", Uuid::new_v4()))
}

async fn server() -> Option<(ServerStore, String)> {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("SKIPPED: QDRANT_URL is not set, the Qdrant server store is not tested");
        return None;
    };
    let collection = format!("test_{}", Uuid::new_v4().simple());
    Some((
        ServerStore::connect(
            &url,
            &collection,
            std::env::var("QDRANT_API_KEY").ok().as_deref(),
        )
        .await
        .unwrap(),
        url,
    ))
}

/// Runs `suite` against a fresh embedded store, then against a fresh server collection.
macro_rules! both_stores {
    ($name:ident, $suite:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn edge() {
                let dir = super::temp_dir();
                super::$suite(&super::EdgeStore::open(&dir).unwrap()).await;
                let _ = std::fs::remove_dir_all(dir);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn server() {
                if let Some((store, _)) = super::server().await {
                    super::$suite(&store).await;
                    store.drop_collection().await.unwrap();
                }
            }
        }
    };
}

both_stores!(tenants_never_see_each_other, tenant_isolation);
both_stores!(model_and_namespace_are_hard_filters, hard_filters);
both_stores!(expired_entries_are_not_served_and_get_deleted, expiry);
both_stores!(purge_deletes_one_tenant, purge);
both_stores!(the_oldest_go_first_over_the_cap, oldest_first);
both_stores!(exact_only_entries_have_no_vector, exact_only);

async fn tenant_isolation(store: &impl VectorStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let now = unix_now();
    let mine = entry(a, "the same prompt", now, 60);
    store
        .upsert(mine.clone(), Some(vector(0, 0.0)))
        .await
        .unwrap();

    // Tenant b asks with the identical vector: nothing, not even a low-scored candidate.
    assert!(
        store
            .search(near(b, vector(0, 0.0)))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get(b, mine.id).await.unwrap(), None);
    assert_eq!(store.count(b).await.unwrap(), 0);

    let found = store.search(near(a, vector(0, 0.0))).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entry, mine);
    assert!(found[0].similarity > 0.999, "{}", found[0].similarity);
    assert_eq!(store.get(a, mine.id).await.unwrap(), Some(mine));
}

async fn hard_filters(store: &impl VectorStore) {
    let tenant = Uuid::new_v4();
    let now = unix_now();
    let mut other_model = entry(tenant, "p", now, 60);
    other_model.model = "other".into();
    let mut other_namespace = entry(tenant, "p", now, 60);
    other_namespace.namespace = "other".into();
    let close = entry(tenant, "close", now, 60);
    let far = entry(tenant, "far", now, 60);
    store
        .upsert(other_model, Some(vector(0, 0.0)))
        .await
        .unwrap();
    store
        .upsert(other_namespace, Some(vector(0, 0.0)))
        .await
        .unwrap();
    store
        .upsert(close.clone(), Some(vector(0, 0.3)))
        .await
        .unwrap();
    store
        .upsert(far.clone(), Some(vector(0, 3.0)))
        .await
        .unwrap();

    let found = store.search(near(tenant, vector(0, 0.0))).await.unwrap();
    let prompts: Vec<&str> = found.iter().map(|s| s.entry.prompt.as_str()).collect();
    assert_eq!(
        prompts,
        ["close", "far"],
        "most similar first, filters hold"
    );
    assert!(found[0].similarity > found[1].similarity);
}

async fn expiry(store: &impl VectorStore) {
    let tenant = Uuid::new_v4();
    let now = unix_now();
    let live = entry(tenant, "live", now, 60);
    let expired = entry(tenant, "expired", now - 120, 60);
    store
        .upsert(live.clone(), Some(vector(1, 0.0)))
        .await
        .unwrap();
    store
        .upsert(expired.clone(), Some(vector(1, 0.0)))
        .await
        .unwrap();

    let found = store.search(near(tenant, vector(1, 0.0))).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entry.prompt, "live");
    assert_eq!(store.count(tenant).await.unwrap(), 2);

    store.delete_expired(now).await.unwrap();
    assert_eq!(store.count(tenant).await.unwrap(), 1);
    assert_eq!(store.get(tenant, expired.id).await.unwrap(), None);
    assert_eq!(store.get(tenant, live.id).await.unwrap(), Some(live));
}

async fn purge(store: &impl VectorStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let now = unix_now();
    for i in 0..3 {
        store
            .upsert(entry(a, &format!("a{i}"), now, 60), Some(vector(i, 0.0)))
            .await
            .unwrap();
    }
    store
        .upsert(entry(b, "b", now, 60), Some(vector(0, 0.0)))
        .await
        .unwrap();
    store.purge(a).await.unwrap();
    assert_eq!(store.count(a).await.unwrap(), 0);
    assert!(
        store
            .search(near(a, vector(0, 0.0)))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.count(b).await.unwrap(),
        1,
        "the other tenant keeps its entries"
    );
}

async fn oldest_first(store: &impl VectorStore) {
    let tenant = Uuid::new_v4();
    let now = unix_now();
    for age in 0..5 {
        let e = entry(tenant, &format!("age {age}"), now - age, 600);
        store.upsert(e, Some(vector(2, 0.0))).await.unwrap();
    }
    store.delete_oldest(tenant, 2).await.unwrap();
    let mut left: Vec<String> = store
        .search(near(tenant, vector(2, 0.0)))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.entry.prompt)
        .collect();
    left.sort();
    assert_eq!(left, ["age 0", "age 1", "age 2"]);
}

async fn exact_only(store: &impl VectorStore) {
    let tenant = Uuid::new_v4();
    let e = entry(tenant, "no vector", unix_now(), 60);
    store.upsert(e.clone(), None).await.unwrap();
    assert_eq!(store.get(tenant, e.id).await.unwrap(), Some(e));
    assert!(
        store
            .search(near(tenant, vector(0, 0.0)))
            .await
            .unwrap()
            .is_empty()
    );
    store.maintain().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_keeps_its_entries_across_restarts() {
    let dir = temp_dir();
    let tenant = Uuid::new_v4();
    let kept = entry(tenant, "kept", unix_now(), 600);
    {
        let store = EdgeStore::open(&dir).unwrap();
        store
            .upsert(kept.clone(), Some(vector(3, 0.0)))
            .await
            .unwrap();
        for i in 0..200 {
            let filler = entry(tenant, &format!("filler {i}"), unix_now(), 600);
            store
                .upsert(filler, Some(vector(10 + i, 0.1)))
                .await
                .unwrap();
        }
        store.maintain().await.unwrap();
    }
    let store = EdgeStore::open(&dir).unwrap();
    assert_eq!(store.count(tenant).await.unwrap(), 201);
    assert_eq!(
        store.get(tenant, kept.id).await.unwrap(),
        Some(kept.clone())
    );
    let found = store.search(near(tenant, vector(3, 0.0))).await.unwrap();
    assert_eq!(found[0].entry, kept);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}
