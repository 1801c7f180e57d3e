//! The cache itself: an exact tier (entry id derived from the tenant and the exact key, no
//! embedding), then a semantic tier (nearest neighbours of the prompt's embedding within the
//! tenant, model and namespace, above the threshold, confirmed by [`crate::same_details`]).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::embedder::{EmbedError, Embedder};
use crate::key::CacheKey;
use crate::lazy::LazyEmbedder;
use crate::memo::EmbeddingMemo;
use crate::store::{CacheEntry, Neighbours, StoreError, VectorStore};
use crate::verify::{Precision, Salient};

/// Namespace of entry ids (UUIDv5 over tenant and exact key).
const ENTRY_IDS: Uuid = Uuid::from_u128(0x7f0c_51a2_93d4_4b7e_8a61_0c2e_5d9b_3f14);

/// Which tiers a key or tenant has opted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// No caching.
    Off,
    /// Identical requests only.
    Exact,
    /// Identical requests, then paraphrases of the last user message.
    Semantic,
}

impl std::str::FromStr for Mode {
    type Err = String;

    /// `off`, `exact` or `semantic`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Self::Off),
            "exact" => Ok(Self::Exact),
            "semantic" => Ok(Self::Semantic),
            other => Err(format!("'{other}' is not one of off, exact, semantic")),
        }
    }
}

/// How one request may use the cache (resolved from its key, tenant and gateway config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Tiers in use.
    pub mode: Mode,
    /// Cosine similarity a semantic candidate needs before verification.
    pub threshold: f32,
    /// How long a stored answer is served.
    pub ttl: Duration,
    /// Serve semantic hits whatever the temperature.
    pub any_temperature: bool,
    /// Which checks a semantic candidate must pass.
    pub precision: Precision,
}

/// Gateway-wide cache settings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Temperatures above this are not served from the semantic tier (unless the key allows).
    pub temperature_cutoff: f64,
    /// Semantic candidates verified per lookup.
    pub candidates: usize,
    /// Entries a tenant may keep; the oldest go first.
    pub max_entries_per_tenant: u64,
    /// Prompt embeddings remembered (per tenant and text) so a repeated last user message
    /// skips the model; 0 turns the memo off.
    pub embedding_memo: usize,
    /// Longest last user message (bytes) the semantic tier embeds and verifies. The model reads
    /// at most its first 512 word pieces, so two long prompts that differ only further on
    /// would look alike; longer prompts are served from the exact tier alone.
    pub semantic_max_prompt_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            temperature_cutoff: 0.7,
            candidates: 3,
            max_entries_per_tenant: 10_000,
            embedding_memo: 4096,
            semantic_max_prompt_bytes: 2048,
        }
    }
}

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The same request, byte for byte after normalisation.
    Exact,
    /// A paraphrase of the last user message.
    Semantic,
}

impl Tier {
    /// `exact` or `semantic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Semantic => "semantic",
        }
    }
}

/// A cached answer found for a request.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The stored entry.
    pub entry: CacheEntry,
    /// The tier that found it.
    pub tier: Tier,
    /// Cosine similarity of the prompts (1 for exact hits).
    pub similarity: f32,
}

/// The result of a lookup.
#[derive(Debug)]
pub enum Lookup {
    /// Serve this.
    Hit(Hit),
    /// Go upstream; keep the prompt's embedding (if one was made) for storing the answer.
    Miss {
        /// The embedding of the prompt.
        vector: Option<Vec<f32>>,
    },
}

/// Counters of lookups.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Exact hits.
    pub exact_hits: AtomicU64,
    /// Semantic hits.
    pub semantic_hits: AtomicU64,
    /// Misses.
    pub misses: AtomicU64,
    /// Semantic candidates above the threshold that verification turned down.
    pub rejected_by_verification: AtomicU64,
    /// Semantic lookups skipped because the embedder was busy.
    pub embedder_busy: AtomicU64,
    /// Prompts whose embedding came from the memo instead of the model.
    pub embeddings_reused: AtomicU64,
}

/// The response cache over a vector store.
pub struct SemanticCache<S> {
    store: S,
    embedder: LazyEmbedder,
    memo: EmbeddingMemo,
    config: CacheConfig,
    /// Tenants that stored since the last upkeep (checked against the entry cap).
    stored_by: Mutex<HashSet<Uuid>>,
    stats: CacheStats,
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<S: VectorStore> SemanticCache<S> {
    /// A cache over `store`; without an embedder only the exact tier works.
    pub fn new(store: S, embedder: Option<Embedder>, config: CacheConfig) -> Self {
        Self::with_embedder(store, LazyEmbedder::ready(embedder), config)
    }

    /// A cache over `store` whose model loads when the semantic tier is first asked for.
    pub fn with_embedder(store: S, embedder: LazyEmbedder, config: CacheConfig) -> Self {
        Self {
            store,
            embedder,
            memo: EmbeddingMemo::new(config.embedding_memo),
            config,
            stored_by: Mutex::new(HashSet::new()),
            stats: CacheStats::default(),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Lookup counters.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The embedding model (loaded or not).
    pub fn embedder(&self) -> &LazyEmbedder {
        &self.embedder
    }

    /// The id of the entry stored for `key` in `tenant`.
    pub fn entry_id(tenant: Uuid, key: &CacheKey) -> Uuid {
        Uuid::new_v5(&ENTRY_IDS, format!("{tenant}\n{}", key.exact).as_bytes())
    }

    /// Whether the semantic tier may answer this request under `policy`.
    pub fn semantic_allowed(&self, key: &CacheKey, policy: &Policy) -> bool {
        self.embeds(key, policy)
            && self.embedder.configured()
            && key.choices <= 1
            && !key.uses_tools
            && (policy.any_temperature
                || key
                    .temperature
                    .is_none_or(|t| t <= self.config.temperature_cutoff))
    }

    /// Whether `key`'s prompt gets an embedding under `policy`: the semantic tier, and a prompt
    /// short enough for the model to read whole.
    fn embeds(&self, key: &CacheKey, policy: &Policy) -> bool {
        policy.mode == Mode::Semantic && key.prompt.len() <= self.config.semantic_max_prompt_bytes
    }

    /// Finds a live answer for `key` in `tenant`'s entries for `model`.
    pub async fn lookup(
        &self,
        tenant: Uuid,
        model: &str,
        key: &CacheKey,
        policy: &Policy,
    ) -> Result<Lookup, StoreError> {
        if policy.mode == Mode::Off {
            return Ok(Lookup::Miss { vector: None });
        }
        let now = unix_now();
        let exact = self
            .store
            .get(tenant, Self::entry_id(tenant, key))
            .await?
            .filter(|e| {
                e.tenant == tenant
                    && e.model == model
                    && e.namespace == key.namespace
                    && e.prompt == key.prompt
                    && e.expires_at > now
            });
        if let Some(entry) = exact {
            self.stats.exact_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Lookup::Hit(Hit {
                entry,
                tier: Tier::Exact,
                similarity: 1.0,
            }));
        }
        let vector = if self.semantic_allowed(key, policy) {
            match self.embed(tenant, &key.prompt).await {
                Ok(vector) => Some(vector),
                Err(EmbedError::Busy) => {
                    self.stats.embedder_busy.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(err) => {
                    tracing::warn!(error = %err, "prompt not embedded; semantic tier skipped");
                    None
                }
            }
        } else {
            None
        };
        if let Some(vector) = &vector {
            let candidates = self
                .store
                .search(Neighbours {
                    tenant,
                    model: model.to_owned(),
                    namespace: key.namespace.clone(),
                    vector: vector.clone(),
                    limit: self.config.candidates,
                    now,
                })
                .await?;
            // The prompt's details, read once for every candidate that gets that far.
            let mut details: Option<Salient> = None;
            for candidate in candidates {
                if candidate.similarity < policy.threshold {
                    break;
                }
                if candidate.entry.tenant != tenant || candidate.entry.expires_at <= now {
                    continue;
                }
                let details = details.get_or_insert_with(|| Salient::of(&key.prompt));
                if details.agrees_with(&Salient::of(&candidate.entry.prompt), policy.precision) {
                    self.stats.semantic_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Lookup::Hit(Hit {
                        entry: candidate.entry,
                        tier: Tier::Semantic,
                        similarity: candidate.similarity,
                    }));
                }
                self.stats
                    .rejected_by_verification
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        Ok(Lookup::Miss { vector })
    }

    /// Stores `response` (an OpenAI chat completion body) as the answer to `key`.
    /// `vector` is the prompt's embedding from the lookup; made here if the policy is semantic
    /// and there is none (the entry is stored for the exact tier alone if the embedder is busy).
    pub async fn insert(
        &self,
        tenant: Uuid,
        model: &str,
        key: &CacheKey,
        policy: &Policy,
        answer: Answer,
        vector: Option<Vec<f32>>,
    ) -> Result<Uuid, StoreError> {
        let vector = match vector {
            Some(v) => Some(v),
            None if self.embeds(key, policy) => self.embed(tenant, &key.prompt).await.ok(),
            None => None,
        };
        let now = unix_now();
        let ttl = i64::try_from(policy.ttl.as_secs()).unwrap_or(i64::MAX);
        let entry = CacheEntry {
            id: Self::entry_id(tenant, key),
            tenant,
            model: model.to_owned(),
            namespace: key.namespace.clone(),
            prompt: key.prompt.clone(),
            response: answer.response,
            prompt_tokens: answer.prompt_tokens,
            completion_tokens: answer.completion_tokens,
            cost_usd: answer.cost_usd,
            created_at: now,
            expires_at: now.saturating_add(ttl),
        };
        let id = entry.id;
        self.store.upsert(entry, vector).await?;
        if let Ok(mut stored_by) = self.stored_by.lock() {
            stored_by.insert(tenant);
        }
        Ok(id)
    }

    /// The embedding of `text` for `tenant`: from the memo, else from the model (then remembered).
    async fn embed(&self, tenant: Uuid, text: &str) -> Result<Vec<f32>, EmbedError> {
        if let Some(vector) = self.memo.get(tenant, text) {
            self.stats.embeddings_reused.fetch_add(1, Ordering::Relaxed);
            return Ok(vector);
        }
        let embedder = self.embedder.get()?;
        let vector = embedder.embed(text).await?;
        self.memo.put(tenant, text, &vector);
        Ok(vector)
    }

    /// Deletes every entry of `tenant`.
    pub async fn purge(&self, tenant: Uuid) -> Result<(), StoreError> {
        self.memo.forget(tenant);
        self.store.purge(tenant).await
    }

    /// Upkeep: drops expired entries, trims tenants over the entry cap, lets the store persist
    /// and optimise. Run it periodically off the request path.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        self.store.delete_expired(unix_now()).await?;
        let tenants: Vec<Uuid> = self
            .stored_by
            .lock()
            .map(|mut s| s.drain().collect())
            .unwrap_or_default();
        for tenant in tenants {
            let count = self.store.count(tenant).await?;
            let excess = count.saturating_sub(self.config.max_entries_per_tenant);
            if excess > 0 {
                self.store
                    .delete_oldest(tenant, usize::try_from(excess).unwrap_or(usize::MAX))
                    .await?;
            }
        }
        self.store.maintain().await
    }
}

/// An answer to store.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The OpenAI chat completion body.
    pub response: String,
    /// Prompt tokens billed for it.
    pub prompt_tokens: u32,
    /// Completion tokens billed for it.
    pub completion_tokens: u32,
    /// What it cost (USD decimal string).
    pub cost_usd: String,
}
