//! The semantic cache's integration tests, one binary: the real model and the real vector
//! stores.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod embedder;
mod evaluation;
mod memo;
mod store;

use std::path::PathBuf;

use tollgate_semcache::{Embedder, EmbedderConfig};

/// The real model's configuration, from `TOLLGATE_MODELS_DIR` (scripts/test fetches it).
fn model_config() -> EmbedderConfig {
    let root = std::env::var("TOLLGATE_MODELS_DIR").unwrap_or_else(|_| {
        panic!("TOLLGATE_MODELS_DIR is not set: run scripts/test (it fetches the model files)")
    });
    EmbedderConfig::from_models_root(&PathBuf::from(root))
}

/// An embedder on the real model.
fn real_embedder() -> Embedder {
    Embedder::start(&model_config()).unwrap()
}
