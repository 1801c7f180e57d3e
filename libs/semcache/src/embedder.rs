//! Sentence embeddings off the async runtime: one worker thread owns the model and embeds
//! requests in micro-batches of up to `batch_size`: whatever is already queued joins at once,
//! and when requests are arriving together the worker gathers more for up to `batch_window`.
//! A lone request on an idle worker runs at once (no window to wait out).
//! The queue in front of it is bounded; when it is full a request gets [`EmbedError::Busy`] at
//! once (the caller skips the cache) instead of waiting.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use tokio::sync::oneshot;

/// Where the model is and how the worker batches.
#[derive(Debug, Clone)]
pub struct EmbedderConfig {
    /// Directory with `model.onnx`, `tokenizer.json`, `config.json`,
    /// `special_tokens_map.json` and `tokenizer_config.json`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime shared library (`libonnxruntime.so.1.24.4`).
    pub ort_library: PathBuf,
    /// Most texts embedded in one batch.
    pub batch_size: usize,
    /// How long the worker gathers more texts once several are waiting.
    pub batch_window: Duration,
    /// Texts waiting at most; beyond it requests get `Busy`.
    pub queue: usize,
    /// ONNX Runtime intra-op threads (`None`: every core).
    pub threads: Option<usize>,
}

impl EmbedderConfig {
    /// The layout `scripts/up` and `scripts/test` create under `models_root`
    /// (`minilm/` and `onnxruntime/libonnxruntime.so.1.24.4`), with default batching.
    pub fn from_models_root(models_root: &Path) -> Self {
        Self {
            model_dir: models_root.join("minilm"),
            ort_library: models_root.join("onnxruntime/libonnxruntime.so.1.24.4"),
            batch_size: 32,
            batch_window: Duration::from_millis(2),
            queue: 1024,
            threads: None,
        }
    }
}

/// Why a text was not embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model or the runtime could not be loaded.
    #[error("embedder could not start: {0}")]
    Load(String),
    /// The queue is full: skip the cache for this request.
    #[error("embedder busy")]
    Busy,
    /// Inference failed.
    #[error("embedding failed: {0}")]
    Inference(String),
    /// The worker is gone.
    #[error("embedder stopped")]
    Stopped,
}

/// Counters of the worker.
#[derive(Debug, Default)]
pub struct EmbedderStats {
    /// Texts embedded.
    pub texts: AtomicU64,
    /// Batches run.
    pub batches: AtomicU64,
    /// Requests refused because the queue was full.
    pub busy: AtomicU64,
}

type Job = (String, oneshot::Sender<Result<Vec<f32>, EmbedError>>);

/// A handle to the embedding worker; clones share it.
#[derive(Clone)]
pub struct Embedder {
    jobs: SyncSender<Job>,
    stats: Arc<EmbedderStats>,
    dimensions: usize,
}

/// ONNX Runtime is loaded once per process (loading it twice is an error).
fn load_runtime(library: &Path) -> Result<(), EmbedError> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            ort::init_from(library)
                .map(drop)
                .map_err(|e| format!("{}: {e}", library.display()))
        })
        .clone()
        .map_err(EmbedError::Load)
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(dir.join(file))
        .map_err(|e| EmbedError::Load(format!("{}: {e}", dir.join(file).display())))
}

fn load_model(dir: &Path, threads: Option<usize>) -> Result<TextEmbedding, EmbedError> {
    let tokenizer = TokenizerFiles {
        tokenizer_file: read(dir, "tokenizer.json")?,
        config_file: read(dir, "config.json")?,
        special_tokens_map_file: read(dir, "special_tokens_map.json")?,
        tokenizer_config_file: read(dir, "tokenizer_config.json")?,
    };
    let model = UserDefinedEmbeddingModel::new(read(dir, "model.onnx")?, tokenizer)
        .with_pooling(Pooling::Mean);
    let mut options = InitOptionsUserDefined::new();
    if let Some(threads) = threads {
        options = options.with_intra_threads(threads);
    }
    TextEmbedding::try_new_from_user_defined(model, options)
        .map_err(|e| EmbedError::Load(e.to_string()))
}

/// Scales `v` to unit length (so cosine similarity is a dot product).
fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Embedder {
    /// Loads the runtime and the model (blocking: call from a blocking context or at start)
    /// and starts the worker thread.
    pub fn start(config: &EmbedderConfig) -> Result<Self, EmbedError> {
        load_runtime(&config.ort_library)?;
        let mut model = load_model(&config.model_dir, config.threads)?;
        let probe = model
            .embed(vec!["dimension probe"], None)
            .map_err(|e| EmbedError::Load(e.to_string()))?;
        let dimensions = probe.first().map_or(0, Vec::len);
        let (jobs, queue) = sync_channel::<Job>(config.queue.max(1));
        let stats = Arc::new(EmbedderStats::default());
        let worker_stats = stats.clone();
        let (batch_size, window) = (config.batch_size.max(1), config.batch_window);
        std::thread::Builder::new()
            .name("tollgate-embedder".into())
            .spawn(move || run_worker(&mut model, &queue, batch_size, window, &worker_stats))
            .map_err(|e| EmbedError::Load(e.to_string()))?;
        Ok(Self {
            jobs,
            stats,
            dimensions,
        })
    }

    /// Embeds `text` (unit length). `Busy` at once when the queue is full.
    pub async fn embed(&self, text: impl Into<String>) -> Result<Vec<f32>, EmbedError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send((text.into(), reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.busy.fetch_add(1, Ordering::Relaxed);
                return Err(EmbedError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => return Err(EmbedError::Stopped),
        }
        answer.await.map_err(|_| EmbedError::Stopped)?
    }

    /// Vector length of the model.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The worker's counters.
    pub fn stats(&self) -> &EmbedderStats {
        &self.stats
    }
}

fn run_worker(
    model: &mut TextEmbedding,
    queue: &Receiver<Job>,
    batch_size: usize,
    window: Duration,
    stats: &EmbedderStats,
) {
    // Ends when every `Embedder` handle is dropped.
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_size {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.len() > 1 {
            let until = Instant::now() + window;
            while batch.len() < batch_size {
                match queue.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    Ok(job) => batch.push(job),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        let (texts, replies): (Vec<String>, Vec<_>) = batch.into_iter().unzip();
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.texts.fetch_add(texts.len() as u64, Ordering::Relaxed);
        match model.embed(texts, Some(batch_size)) {
            Ok(vectors) => {
                for (reply, vector) in replies.into_iter().zip(vectors) {
                    let _ = reply.send(Ok(normalize(vector)));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "embedding batch failed");
                for reply in replies {
                    let _ = reply.send(Err(EmbedError::Inference(e.to_string())));
                }
            }
        }
    }
}
