//! The semantic cache: local sentence embeddings ([`Embedder`], all-MiniLM-L6-v2 int8 on ONNX
//! Runtime, loaded from files on disk, never from the network), a [`VectorStore`] (embedded
//! Qdrant or a Qdrant server), the request's [`CacheKey`], the verification step that turns
//! down near misses ([`same_details`]) and the [`SemanticCache`] that puts them together.

mod cache;
mod embedder;
pub mod evaluation;
mod key;
mod lazy;
mod memo;
pub mod store;
mod verify;

pub use cache::{
    Answer, CacheConfig, CacheStats, Hit, Lookup, Mode, Policy, SemanticCache, Tier, unix_now,
};
pub use embedder::{EmbedError, Embedder, EmbedderConfig, EmbedderStats, cosine};
pub use key::CacheKey;
pub use lazy::LazyEmbedder;
pub use memo::EmbeddingMemo;
pub use store::{AnyStore, CacheEntry, EdgeStore, ServerStore, StoreError, VectorStore};
pub use verify::{Check, Checks, Precision, Salient, same_details};

/// Similarity above which a candidate goes to verification (configurable per key).
pub const DEFAULT_THRESHOLD: f32 = 0.75;
