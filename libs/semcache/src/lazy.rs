//! The embedding model, loaded only when the semantic tier is first asked for (or right away,
//! when configured so): a process whose tenants never use the semantic tier never holds the
//! model (about 190 MiB). While it loads, lookups skip the semantic tier (exact matches only)
//! instead of waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::embedder::{EmbedError, Embedder, EmbedderConfig};

/// An [`Embedder`] started on first use. Cheap to clone (clones share the model).
#[derive(Clone)]
pub struct LazyEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    /// What to load; `None`: nothing configured (exact tier only).
    config: Option<EmbedderConfig>,
    /// The model once loaded (`None` inside: loading failed, the semantic tier stays off).
    loaded: OnceLock<Option<Embedder>>,
    /// A load was started.
    loading: AtomicBool,
}

impl LazyEmbedder {
    /// An embedder that is there already (or, `None`, none at all).
    pub fn ready(embedder: Option<Embedder>) -> Self {
        let loaded = OnceLock::new();
        let _ = loaded.set(embedder);
        Self {
            inner: Arc::new(Inner {
                config: None,
                loaded,
                loading: AtomicBool::new(true),
            }),
        }
    }

    /// The model of `config`, loaded when first asked for.
    pub fn on_demand(config: EmbedderConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config: Some(config),
                loaded: OnceLock::new(),
                loading: AtomicBool::new(false),
            }),
        }
    }

    /// Whether there is (or will be) a model: the semantic tier is possible.
    pub fn configured(&self) -> bool {
        match self.inner.loaded.get() {
            Some(loaded) => loaded.is_some(),
            None => self.inner.config.is_some(),
        }
    }

    /// Whether the model is loaded.
    pub fn is_loaded(&self) -> bool {
        matches!(self.inner.loaded.get(), Some(Some(_)))
    }

    /// The model if loaded; otherwise starts loading it on a thread of its own (once) and
    /// answers `Busy` meanwhile (`Stopped` if there is no model to load).
    pub fn get(&self) -> Result<&Embedder, EmbedError> {
        match self.inner.loaded.get() {
            Some(Some(embedder)) => Ok(embedder),
            Some(None) => Err(EmbedError::Stopped),
            None if self.inner.config.is_none() => Err(EmbedError::Stopped),
            None => {
                self.start_loading();
                Err(EmbedError::Busy)
            }
        }
    }

    /// Loads the model on this thread (blocking) unless it is loaded or loading already.
    pub fn load_now(&self) -> Result<(), EmbedError> {
        let Some(config) = &self.inner.config else {
            return Ok(());
        };
        if self.inner.loading.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let started = Embedder::start(config);
        let result = started
            .as_ref()
            .map(drop)
            .map_err(|e| EmbedError::Load(e.to_string()));
        let _ = self.inner.loaded.set(started.ok());
        result
    }

    fn start_loading(&self) {
        if self.inner.loading.load(Ordering::Acquire) {
            return;
        }
        let lazy = self.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-embedder-load".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                match lazy.load_now() {
                    Ok(()) => tracing::info!(
                        seconds = started.elapsed().as_secs_f64(),
                        "embedding model loaded: the semantic tier is on"
                    ),
                    Err(err) => tracing::error!(
                        error = %err,
                        "embedding model not loaded: the semantic tier stays off"
                    ),
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "no thread to load the embedding model on");
        }
    }
}
