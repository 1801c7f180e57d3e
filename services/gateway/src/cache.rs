//! The response cache in the request path: which requests use it and how, looking answers up,
//! storing answers off the response path, and the background upkeep.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use tollgate_semcache::{
    Answer, AnyStore, CacheEntry, CacheKey, EdgeStore, EmbedderConfig, LazyEmbedder, Lookup, Mode,
    Policy, SemanticCache, ServerStore,
};
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::AuthenticatedKey;
use crate::config::{CacheSettings, CacheStoreConfig};
use crate::error::ApiError;
use crate::metrics::GatewayMetrics;
use crate::request::{CacheServed, ChatRequest};

/// The gateway's cache engine: Qdrant (embedded or server) and the embedder.
type ResponseCache = SemanticCache<AnyStore>;

/// Why the cache could not open.
#[derive(Debug, thiserror::Error)]
pub enum CacheOpenError {
    /// The vector store (embedded or server).
    #[error("vector store: {0}")]
    Store(#[from] tollgate_semcache::StoreError),
    /// The embedding model or its runtime.
    #[error("embedder: {0}")]
    Embedder(#[from] tollgate_semcache::EmbedError),
    /// Opening the embedded store did not finish (its task panicked or was cancelled).
    #[error("opening the embedded store: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// The cache as the request path uses it: the engine, the `[cache]` settings and the metrics
/// its work is counted in. Clones share all three.
#[derive(Clone)]
pub struct Cache {
    engine: Arc<ResponseCache>,
    settings: Arc<CacheSettings>,
    metrics: GatewayMetrics,
}

impl Cache {
    /// Opens the engine for `settings`.
    pub async fn open(
        settings: &CacheSettings,
        metrics: GatewayMetrics,
    ) -> Result<Self, CacheOpenError> {
        Ok(Self {
            engine: open(settings).await?,
            settings: Arc::new(settings.clone()),
            metrics,
        })
    }

    /// Forgets every entry of `tenant`.
    pub async fn purge(&self, tenant: Uuid) -> Result<(), tollgate_semcache::StoreError> {
        self.engine.purge(tenant).await
    }

    /// Persists the store (the embedded store's write-ahead log is flushed and optimised).
    pub async fn persist(&self) -> Result<(), tollgate_semcache::StoreError> {
        tollgate_semcache::VectorStore::maintain(self.engine.store()).await
    }

    /// Runs the cache's upkeep every `maintenance_interval` until the task is aborted.
    pub fn spawn_maintenance(&self) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cache.settings.maintenance_interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(err) = cache.engine.maintain().await {
                    tracing::warn!(error = %err, "cache upkeep failed");
                }
                let loaded = cache.engine.embedder().is_loaded();
                cache.metrics.cache_counters(cache.engine.stats(), loaded);
            }
        })
    }

    /// Looks `plan` up for `tenant`. A store failure is logged and counted as a miss: the
    /// cache never fails a request.
    pub async fn lookup(
        &self,
        tenant: Uuid,
        model: &str,
        plan: &mut CachePlan,
    ) -> Option<(CacheEntry, CacheServed)> {
        if !plan.lookup {
            return None;
        }
        let started = Instant::now();
        let found = self
            .engine
            .lookup(tenant, model, &plan.key, &plan.policy)
            .await;
        let seconds = started.elapsed().as_secs_f64();
        match found {
            Ok(Lookup::Hit(hit)) => {
                self.metrics.cache_lookup(hit.tier.as_str(), seconds);
                let served = CacheServed::of(
                    &hit.entry,
                    hit.tier,
                    hit.similarity,
                    self.settings.hit_price_usd,
                );
                Some((hit.entry, served))
            }
            Ok(Lookup::Miss { vector }) => {
                self.metrics.cache_lookup("miss", seconds);
                plan.vector = vector;
                None
            }
            Err(err) => {
                self.metrics.cache_lookup("error", seconds);
                tracing::warn!(error = %err, "cache lookup failed; answering from upstream");
                None
            }
        }
    }

    /// Stores `answer` for `plan` in the background (the response does not wait for it).
    /// Its `cache.store` span is a child of the request's.
    pub fn store(
        &self,
        (request_id, tenant): (&str, Uuid),
        model: String,
        plan: CachePlan,
        answer: Answer,
    ) {
        let cache = self.clone();
        let span = crate::spans::stage_span!("cache.store", request_id);
        let task_span = span.clone();
        tokio::spawn(
            async move {
                let stored = cache
                    .engine
                    .insert(tenant, &model, &plan.key, &plan.policy, answer, plan.vector)
                    .await;
                cache.metrics.cache_store(stored.is_ok());
                if let Err(err) = stored {
                    crate::spans::failed_with(&span, "not_stored");
                    tracing::warn!(error = %err, "answer not stored in the cache");
                }
            }
            .instrument(task_span),
        );
    }
}

/// Opens the store and sets up the embedder (`models_dir` unset: the exact tier only), loading
/// it now only with `load_model = "at_start"`.
async fn open(settings: &CacheSettings) -> Result<Arc<ResponseCache>, CacheOpenError> {
    let store = match &settings.store {
        CacheStoreConfig::Edge { dir } => {
            let dir = dir.clone();
            AnyStore::Edge(tokio::task::spawn_blocking(move || EdgeStore::open(&dir)).await??)
        }
        CacheStoreConfig::Server {
            url,
            collection,
            api_key,
        } => AnyStore::Server(
            ServerStore::connect(url, collection, api_key.as_ref().map(|k| k.expose())).await?,
        ),
    };
    let embedder = match &settings.models_dir {
        Some(root) => {
            let mut config = EmbedderConfig::from_models_root(root);
            config.threads = settings.embed_threads;
            config.queue = settings.embed_queue;
            let embedder = LazyEmbedder::on_demand(config);
            if settings.load_model_at_start {
                let loading = embedder.clone();
                tokio::task::spawn_blocking(move || loading.load_now()).await??;
            }
            embedder
        }
        None => {
            tracing::warn!(
                "cache.models_dir (TOLLGATE_MODELS_DIR) is not set: the semantic tier is off, \
                 keys set to 'semantic' get exact matches only"
            );
            LazyEmbedder::ready(None)
        }
    };
    Ok(Arc::new(SemanticCache::with_embedder(
        store,
        embedder,
        settings.engine.clone(),
    )))
}

/// How one request uses the cache.
#[derive(Debug, Clone)]
pub struct CachePlan {
    /// The request as the cache sees it.
    pub key: CacheKey,
    /// The key's policy with the gateway's defaults filled in.
    pub policy: Policy,
    /// Look for a stored answer (`false` for `x-tollgate-cache: refresh`).
    pub lookup: bool,
    /// The prompt's embedding made by the lookup, reused to store the answer.
    pub vector: Option<Vec<f32>>,
}

impl CachePlan {
    /// The plan for `request` by `key`; `None` when the cache is not used (gateway without a
    /// cache, key and tenant off, `x-tollgate-cache: off`, or an uncacheable request).
    /// An unknown `x-tollgate-cache` value is the client's error. A request without an output
    /// limit is answered within `output_default` tokens per choice (the key's or the route's),
    /// so that limit is part of what its answer is stored under.
    pub fn of(
        cache: Option<&Cache>,
        req: &HttpRequest,
        key: &AuthenticatedKey,
        request: &ChatRequest,
        (route, output_default): (&str, u32),
    ) -> Result<Option<Self>, ApiError> {
        let lookup = match req.headers().get("x-tollgate-cache").map(|v| v.to_str()) {
            None => true,
            Some(Ok("off")) => return Ok(None),
            Some(Ok("refresh")) => false,
            Some(_) => {
                return Err(ApiError::invalid(
                    "x-tollgate-cache must be 'off' or 'refresh'",
                    "invalid_header",
                    None,
                ));
            }
        };
        let Some(settings) = cache.map(|cache| &cache.settings) else {
            return Ok(None);
        };
        if key.cache.mode == Mode::Off {
            return Ok(None);
        }
        let scope = match request.max_output_tokens() {
            Some(_) => std::borrow::Cow::Borrowed(route),
            None => std::borrow::Cow::Owned(format!("{route}\nmax_tokens={output_default}")),
        };
        let Some(cache_key) = CacheKey::of(&scope, request.body()) else {
            return Ok(None);
        };
        Ok(Some(Self {
            key: cache_key,
            policy: Policy {
                mode: key.cache.mode,
                threshold: key.cache.threshold.unwrap_or(settings.threshold),
                ttl: key.cache.ttl.unwrap_or(settings.ttl),
                any_temperature: key.cache.any_temperature,
                precision: key.cache.precision,
            },
            lookup,
            vector: None,
        }))
    }
}

/// Whether a completion may be stored: every choice has text content, no tool or function
/// call, and finished normally (`stop` or `length`).
pub fn is_storable(completion: &serde_json::Value) -> bool {
    let Some(choices) = completion.get("choices").and_then(|c| c.as_array()) else {
        return false;
    };
    !choices.is_empty()
        && choices.iter().all(|choice| {
            let message = &choice["message"];
            message["content"].is_string()
                && message.get("tool_calls").is_none_or(|t| t.is_null())
                && message.get("function_call").is_none_or(|f| f.is_null())
                && matches!(choice["finish_reason"].as_str(), Some("stop" | "length"))
        })
}

/// How long the gateway waits at shutdown for the store to persist (embedded store).
pub const FLUSH_AT_SHUTDOWN: Duration = Duration::from_secs(10);
