//! [`BurnEmbedder`]: the `Embedder` on a sentence-transformers BERT folder, run by Burn.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use autobranch_core::model::{Embedder, Embeddings, ModelError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::bert::config::BertConfig;
use crate::bert::{load, model::BertModel};
use crate::device::BurnBackend;
use crate::error::LoadError;

/// How a [`BurnEmbedder`] runs.
#[derive(Clone, Debug)]
pub struct BurnEmbedderOptions {
    /// The Burn backend; `None` picks the first compiled CPU backend (flex, then ndarray),
    /// else wgpu.
    pub backend: Option<BurnBackend>,
    /// Texts per forward pass. Texts are sorted by length inside a call, so a batch pads
    /// only to its own longest text.
    pub batch_size: usize,
    /// Truncation in tokens; `None` takes `max_seq_length` from `sentence_bert_config.json`
    /// (256 for all-MiniLM-L6-v2), else the model's maximum.
    pub max_seq_length: Option<usize>,
}

impl Default for BurnEmbedderOptions {
    fn default() -> Self {
        Self { backend: None, batch_size: 32, max_seq_length: None }
    }
}

struct Inner {
    /// The model folder, named by errors.
    dir: std::path::PathBuf,
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    batch_size: usize,
    dim: usize,
}

/// Mean-pooled (or CLS-pooled, as the folder says), L2-normalised sentence embeddings from
/// a BERT encoder on Burn.
#[derive(Clone)]
pub struct BurnEmbedder {
    inner: Arc<Inner>,
    model_id: String,
    backend: BurnBackend,
}

fn required(dir: &Path, name: &str) -> Result<std::path::PathBuf, LoadError> {
    let path = dir.join(name);
    if path.is_file() { Ok(path) } else { Err(LoadError::Missing { path }) }
}

impl BurnEmbedder {
    /// Loads a sentence-transformers folder (`config.json`, `tokenizer.json`,
    /// `model.safetensors`, optionally `sentence_bert_config.json` and
    /// `1_Pooling/config.json`).
    pub fn load(dir: &Path, options: BurnEmbedderOptions) -> Result<Self, LoadError> {
        if !dir.is_dir() {
            return Err(LoadError::Missing { path: dir.to_owned() });
        }
        if options.batch_size == 0 {
            return Err(LoadError::Option("batch size must be at least 1".into()));
        }
        required(dir, "config.json")?;
        let tokenizer_path = required(dir, "tokenizer.json")?;
        let weights = required(dir, "model.safetensors")?;
        let config = BertConfig::load(dir, options.max_seq_length)?;
        let tokenizer = load_tokenizer(&tokenizer_path, &config)?;
        let backend = BurnBackend::chosen(options.backend)?;
        let device = backend.device()?;
        let model = load::load(&weights, &config, &device)?.with_host_gelu(backend != BurnBackend::Wgpu);
        let inner = Inner {
            dir: dir.to_owned(),
            model,
            tokenizer,
            device,
            batch_size: options.batch_size,
            dim: config.hidden_size,
        };
        Ok(Self { inner: Arc::new(inner), model_id: dir.display().to_string(), backend })
    }

    /// The backend this embedder runs on.
    pub fn backend(&self) -> BurnBackend {
        self.backend
    }

    /// Embeds on the calling thread; rows are L2-normalised, in input order.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        self.inner.embed(texts)
    }
}

/// The folder's tokenizer with its fixed truncation and padding replaced: truncate at the
/// model's sequence length, no padding (batches pad themselves to their longest text).
fn load_tokenizer(path: &Path, config: &BertConfig) -> Result<Tokenizer, LoadError> {
    let invalid = |reason: String| LoadError::Invalid { path: path.to_owned(), reason };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| invalid(format!("not a tokenizer.json: {e}")))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: config.max_seq_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| invalid(format!("cannot set truncation: {e}")))?;
    let vocab = tokenizer.get_vocab_size(true);
    if vocab > config.vocab_size {
        return Err(invalid(format!(
            "the tokenizer has {vocab} tokens but config.json's vocab_size is {}",
            config.vocab_size
        )));
    }
    Ok(tokenizer)
}

impl Inner {
    fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        if texts.is_empty() {
            return Ok(Embeddings::empty(self.dim));
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Backend(format!("tokenisation failed: {e}")))?;
        // Longest first: batches pad to their own longest text, and the first batch shows
        // the peak memory at once.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));

        let mut out = vec![0f32; texts.len() * self.dim];
        for chunk in order.chunks(self.batch_size) {
            let seq = chunk.iter().map(|&i| encodings[i].get_ids().len()).max().unwrap_or(0).max(1);
            let mut ids = vec![0i64; chunk.len() * seq];
            let mut mask = vec![0f32; chunk.len() * seq];
            for (row, &i) in chunk.iter().enumerate() {
                for (col, &id) in encodings[i].get_ids().iter().enumerate() {
                    ids[row * seq + col] = i64::from(id);
                    mask[row * seq + col] = 1.0;
                }
            }
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [chunk.len(), seq]), &self.device);
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [chunk.len(), seq]), &self.device);
            let pooled = self.model.embed(ids, mask).into_data();
            let values = pooled
                .as_slice::<f32>()
                .map_err(|e| ModelError::Backend(format!("unexpected output of the encoder: {e:?}")))?;
            for (row, &i) in chunk.iter().enumerate() {
                let vector = &values[row * self.dim..(row + 1) * self.dim];
                // NaN weights (or any the config check cannot see) must not become a vector.
                if let Some(v) = vector.iter().find(|v| !v.is_finite()) {
                    return Err(ModelError::BrokenModel(format!(
                        "{}: the model computed an embedding containing {v} (text {i}); its weights are broken",
                        self.dir.display()
                    )));
                }
                out[i * self.dim..(i + 1) * self.dim].copy_from_slice(vector);
            }
        }
        Embeddings::from_flat(self.dim, out)
    }
}

#[async_trait]
impl Embedder for BurnEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.inner.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        let inner = Arc::clone(&self.inner);
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || inner.embed(&texts))
            .await
            .map_err(|e| ModelError::Backend(format!("the embedding thread failed: {e}")))?
    }
}
