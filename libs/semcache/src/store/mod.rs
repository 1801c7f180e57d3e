//! Where cache entries live: one [`VectorStore`] trait, two Qdrant implementations —
//! [`EdgeStore`] (embedded, the default) and [`ServerStore`] (a shared Qdrant server).
//!
//! Every entry carries its tenant, model and namespace as indexed payload; every search and
//! every lookup filters on the tenant as a hard condition, never on similarity alone.

mod edge;
mod server;

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use edge::{EdgeStore, EdgeTuning};
pub use server::ServerStore;

/// Dimensions of the stored prompt vectors (all-MiniLM-L6-v2).
pub const DIMENSIONS: usize = 384;
/// Name of the prompt vector in both stores. Entries stored by an exact-only policy have none.
pub(crate) const VECTOR: &str = "prompt";

/// A cached answer and what it was an answer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// Entry id: derived from the tenant and the exact key, so a re-store replaces.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant: Uuid,
    /// Model name as the client asked for it.
    pub model: String,
    /// Hash of everything in the request except the last user message.
    pub namespace: String,
    /// The last user message, as matched semantically and verified.
    pub prompt: String,
    /// The answer: an OpenAI chat completion body (JSON text).
    pub response: String,
    /// Prompt tokens the original request was billed for.
    pub prompt_tokens: u32,
    /// Completion tokens the original request was billed for.
    pub completion_tokens: u32,
    /// What the original request cost (USD, decimal string): the saving of each hit.
    pub cost_usd: String,
    /// Unix seconds when stored.
    pub created_at: i64,
    /// Unix seconds after which the entry is not served.
    pub expires_at: i64,
}

impl CacheEntry {
    /// The entry as a payload object.
    pub(crate) fn to_payload(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => {
                map.remove("id");
                map
            }
            _ => Map::new(),
        }
    }

    /// The entry `id` whose payload is `payload`; `None` if the payload is not an entry.
    pub(crate) fn from_payload(id: Uuid, mut payload: Map<String, Value>) -> Option<Self> {
        payload.insert("id".into(), Value::String(id.to_string()));
        serde_json::from_value(Value::Object(payload)).ok()
    }
}

/// A nearest-neighbour question: the closest live entries of one tenant, model and namespace.
#[derive(Debug, Clone)]
pub struct Neighbours {
    /// The tenant: a hard filter.
    pub tenant: Uuid,
    /// The model: a hard filter.
    pub model: String,
    /// The namespace: a hard filter.
    pub namespace: String,
    /// The query vector.
    pub vector: Vec<f32>,
    /// Most candidates returned.
    pub limit: usize,
    /// Unix seconds now: entries expired by then are not candidates.
    pub now: i64,
}

/// A candidate entry and its cosine similarity to the query.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The entry.
    pub entry: CacheEntry,
    /// Cosine similarity, -1..=1.
    pub similarity: f32,
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("vector store: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    pub(crate) fn of(err: impl std::fmt::Display) -> Self {
        Self(err.to_string())
    }
}

/// Storage of cache entries with their prompt vectors.
///
/// Implementations filter every read by tenant; callers still check the tenant of what they get.
pub trait VectorStore: Send + Sync + 'static {
    /// Inserts or replaces `entry`, with its prompt vector if it has one.
    fn upsert(
        &self,
        entry: CacheEntry,
        vector: Option<Vec<f32>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The entry `id` if it belongs to `tenant`.
    fn get(
        &self,
        tenant: Uuid,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<CacheEntry>, StoreError>> + Send;

    /// The nearest live entries, most similar first.
    fn search(
        &self,
        query: Neighbours,
    ) -> impl Future<Output = Result<Vec<Scored>, StoreError>> + Send;

    /// Entries of `tenant`, live or not.
    fn count(&self, tenant: Uuid) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes every entry of `tenant`.
    fn purge(&self, tenant: Uuid) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every entry expired at `now` (unix seconds).
    fn delete_expired(&self, now: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the `n` oldest entries of `tenant`.
    fn delete_oldest(
        &self,
        tenant: Uuid,
        n: usize,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Background upkeep: persist and optimise (index building) where the store does it itself.
    fn maintain(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Either store, chosen by configuration.
pub enum AnyStore {
    /// Embedded Qdrant.
    Edge(EdgeStore),
    /// Qdrant server.
    Server(ServerStore),
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Edge($store) => $call.await,
            AnyStore::Server($store) => $call.await,
        }
    };
}

impl VectorStore for AnyStore {
    async fn upsert(&self, entry: CacheEntry, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        delegate!(self, s => s.upsert(entry, vector))
    }
    async fn get(&self, tenant: Uuid, id: Uuid) -> Result<Option<CacheEntry>, StoreError> {
        delegate!(self, s => s.get(tenant, id))
    }
    async fn search(&self, query: Neighbours) -> Result<Vec<Scored>, StoreError> {
        delegate!(self, s => s.search(query))
    }
    async fn count(&self, tenant: Uuid) -> Result<u64, StoreError> {
        delegate!(self, s => s.count(tenant))
    }
    async fn purge(&self, tenant: Uuid) -> Result<(), StoreError> {
        delegate!(self, s => s.purge(tenant))
    }
    async fn delete_expired(&self, now: i64) -> Result<(), StoreError> {
        delegate!(self, s => s.delete_expired(now))
    }
    async fn delete_oldest(&self, tenant: Uuid, n: usize) -> Result<(), StoreError> {
        delegate!(self, s => s.delete_oldest(tenant, n))
    }
    async fn maintain(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.maintain())
    }
}
