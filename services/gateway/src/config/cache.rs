//! `[cache]`: the response cache. Without the section no request is cached, whatever keys say.

use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::base::{ConfigError, Env, env_or, loads_at_start};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCache {
    store: Option<String>,
    dir: Option<String>,
    url: Option<String>,
    collection: Option<String>,
    models_dir: Option<String>,
    load_model: Option<String>,
    embed_threads: Option<usize>,
    embed_queue: Option<usize>,
    embed_memo_entries: Option<usize>,
    ttl_secs: Option<u64>,
    threshold: Option<f32>,
    temperature_cutoff: Option<f64>,
    hit_price_usd: Option<Decimal>,
    max_entries_per_tenant: Option<u64>,
    candidates: Option<usize>,
    semantic_max_prompt_bytes: Option<usize>,
    maintenance_interval_secs: Option<u64>,
}

/// Where entries are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStoreConfig {
    /// Embedded Qdrant under `dir` (the default, `.tollgate/cache`).
    Edge {
        /// Data directory.
        dir: PathBuf,
    },
    /// A Qdrant server (gRPC URL), shared by every gateway.
    Server {
        /// gRPC URL, e.g. `http://127.0.0.1:6334`.
        url: String,
        /// Collection name.
        collection: String,
        /// The server's API key (`QDRANT_API_KEY`, from a secret; never in the file).
        api_key: Option<super::Secret>,
    },
}

/// The validated `[cache]` section.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Where entries are kept.
    pub store: CacheStoreConfig,
    /// Model files (`minilm/`, `onnxruntime/`); `None`: only the exact tier works.
    pub models_dir: Option<PathBuf>,
    /// Load the model when the gateway starts (`load_model = "at_start"`) instead of when a
    /// request first needs the semantic tier (`"on_demand"`, the default).
    pub load_model_at_start: bool,
    /// ONNX Runtime threads (`None`: every core).
    pub embed_threads: Option<usize>,
    /// Prompts waiting for the embedder at most; beyond it requests skip the semantic tier.
    pub embed_queue: usize,
    /// How long answers are served unless the key or tenant says otherwise.
    pub ttl: Duration,
    /// Similarity a semantic candidate needs unless the key says otherwise.
    pub threshold: f32,
    /// What a hit costs the tenant.
    pub hit_price_usd: Decimal,
    /// Temperature cutoff, candidates per lookup, entries per tenant.
    pub engine: tollgate_semcache::CacheConfig,
    /// How often expired entries are dropped, caps enforced and the store flushed.
    pub maintenance_interval: Duration,
}

pub(super) fn normalize_cache(
    raw: Option<RawCache>,
    src: &str,
    env: &Env,
) -> Result<Option<CacheSettings>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let err = |key: &str, reason: &str| ConfigError::new(src, format!("cache.{key}"), reason);
    let store_kind = env_or(env, "TOLLGATE_CACHE_STORE", raw.store);
    let store = match store_kind.as_deref().unwrap_or("edge") {
        "edge" => CacheStoreConfig::Edge {
            dir: PathBuf::from(
                env_or(env, "TOLLGATE_CACHE_DIR", raw.dir)
                    .unwrap_or_else(|| ".tollgate/cache".into()),
            ),
        },
        "server" => CacheStoreConfig::Server {
            url: env_or(env, "QDRANT_URL", raw.url)
                .ok_or_else(|| err("url", "missing for store = \"server\" (or set QDRANT_URL)"))?,
            collection: raw.collection.unwrap_or_else(|| "tollgate_cache".into()),
            api_key: env
                .get("QDRANT_API_KEY")
                .filter(|key| !key.is_empty())
                .map(super::Secret::new),
        },
        _ => return Err(err("store", "must be \"edge\" or \"server\"")),
    };
    let threshold = raw
        .threshold
        .unwrap_or(tollgate_semcache::DEFAULT_THRESHOLD);
    if !(threshold > 0.0 && threshold <= 1.0) {
        return Err(err("threshold", "must be in (0, 1]"));
    }
    let hit_price_usd = raw.hit_price_usd.unwrap_or(Decimal::ZERO);
    if hit_price_usd.is_sign_negative() {
        return Err(err("hit_price_usd", "must not be negative"));
    }
    let ttl = raw.ttl_secs.unwrap_or(3600);
    if ttl == 0 {
        return Err(err("ttl_secs", "must be at least 1"));
    }
    let defaults = tollgate_semcache::CacheConfig::default();
    Ok(Some(CacheSettings {
        store,
        models_dir: env_or(env, "TOLLGATE_MODELS_DIR", raw.models_dir).map(PathBuf::from),
        load_model_at_start: loads_at_start(env, "TOLLGATE_CACHE_LOAD_MODEL", raw.load_model)
            .map_err(|why| err("load_model", why))?,
        embed_threads: raw.embed_threads,
        embed_queue: raw.embed_queue.unwrap_or(256).max(1),
        ttl: Duration::from_secs(ttl),
        threshold,
        hit_price_usd,
        engine: tollgate_semcache::CacheConfig {
            temperature_cutoff: raw
                .temperature_cutoff
                .unwrap_or(defaults.temperature_cutoff),
            candidates: raw.candidates.unwrap_or(defaults.candidates).max(1),
            max_entries_per_tenant: raw
                .max_entries_per_tenant
                .unwrap_or(defaults.max_entries_per_tenant)
                .max(1),
            embedding_memo: raw.embed_memo_entries.unwrap_or(defaults.embedding_memo),
            semantic_max_prompt_bytes: raw
                .semantic_max_prompt_bytes
                .unwrap_or(defaults.semantic_max_prompt_bytes),
        },
        maintenance_interval: Duration::from_secs(
            raw.maintenance_interval_secs.unwrap_or(30).max(1),
        ),
    }))
}
