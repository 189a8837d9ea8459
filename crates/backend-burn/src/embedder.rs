//! [`BurnEmbedder`]: the `Embedder` on a sentence-transformers folder (BERT or MPNet), run by
//! Burn.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use autobranch_core::model::{Embedder, Embeddings, ModelError};
use burn::tensor::Device;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::device::BurnBackend;
use crate::encoder::config::EncoderConfig;
use crate::encoder::{Encoder, load};
use crate::error::LoadError;

/// How a [`BurnEmbedder`] runs.
#[derive(Clone, Debug)]
pub struct BurnEmbedderOptions {
    /// The Burn backend; `None` picks the first compiled CPU backend (flex, then ndarray),
    /// else wgpu.
    pub backend: Option<BurnBackend>,
    /// Texts per forward pass, at most. Texts are sorted by length inside a call and a batch
    /// holds only texts at least half as long as its longest, so padding stays under half.
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
    model: Encoder,
    tokenizer: Tokenizer,
    device: Device,
    batch_size: usize,
    dim: usize,
    backend: BurnBackend,
    /// The feed-forward width and the attention heads, which size a batch's activations.
    intermediate_size: usize,
    heads: usize,
}

/// Mean-pooled (or CLS-pooled, as the folder says), L2-normalised sentence embeddings from
/// a BERT or MPNet encoder on Burn.
#[derive(Clone)]
pub struct BurnEmbedder {
    inner: Arc<Inner>,
    model_id: String,
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
        let config = EncoderConfig::load(dir, options.max_seq_length)?;
        let tokenizer = load_tokenizer(&tokenizer_path, &config)?;
        let backend = BurnBackend::chosen(options.backend)?;
        let device = backend.device()?;
        let model = load::load(&weights, &config, backend != BurnBackend::Wgpu, &device)?;
        let inner = Inner {
            dir: dir.to_owned(),
            model,
            tokenizer,
            device,
            batch_size: options.batch_size,
            dim: config.hidden_size,
            backend,
            intermediate_size: config.intermediate_size,
            heads: config.num_attention_heads,
        };
        Ok(Self { inner: Arc::new(inner), model_id: dir.display().to_string() })
    }

    /// The backend this embedder runs on.
    pub fn backend(&self) -> BurnBackend {
        self.inner.backend
    }

    /// Embeds on the calling thread; rows are L2-normalised, in input order.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        self.inner.embed(texts)
    }
}

/// The folder's tokenizer with its fixed truncation and padding replaced: truncate at the
/// model's sequence length, no padding (batches pad themselves to their longest text).
fn load_tokenizer(path: &Path, config: &EncoderConfig) -> Result<Tokenizer, LoadError> {
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

/// wgpu's default limit on one storage buffer binding (`max_storage_buffer_binding_size`,
/// 128 MiB): a batch's largest activation must fit in it, on lavapipe and on GPUs alike.
const WGPU_BINDING_BYTES: usize = 128 << 20;

/// Texts per batch at padded length `seq`: `batch_size`, fewer on wgpu where the batch's
/// largest activation (the feed-forward's `[rows, seq, intermediate]` or the attention
/// scores' `[rows, heads, seq, seq]`, f32) would not fit one buffer binding; at least one.
fn rows_per_batch(backend: BurnBackend, batch_size: usize, seq: usize, intermediate: usize, heads: usize) -> usize {
    if backend != BurnBackend::Wgpu {
        return batch_size;
    }
    let per_row = 4 * seq.max(1) * intermediate.max(heads * seq);
    (WGPU_BINDING_BYTES / per_row).clamp(1, batch_size)
}

impl Inner {
    /// Texts per batch at padded length `seq` (see [`rows_per_batch`]).
    fn rows_per_batch(&self, seq: usize) -> usize {
        rows_per_batch(self.backend, self.batch_size, seq, self.intermediate_size, self.heads)
    }

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
        let mut rest = &order[..];
        while !rest.is_empty() {
            // The first text of a batch is its longest: it sets the padded length. A text
            // less than half as long starts the next batch instead (most of its row would be
            // padding: 30 short texts padded to a long one's 384 tokens cost 10x their work).
            let longest = encodings[rest[0]].get_ids().len();
            let most = self.rows_per_batch(longest);
            let rows = rest.iter().take(most).take_while(|&&i| 2 * encodings[i].get_ids().len() >= longest).count();
            let (chunk, after) = rest.split_at(rows);
            rest = after;
            let texts: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
            let pooled = self.model.embed(&texts, &self.device).try_into_data().map_err(|e| {
                ModelError::Backend(format!(
                    "{}: the {} backend failed on a batch of {rows} texts of up to {} tokens ({e}); a smaller \
                     batch size uses less device memory",
                    self.dir.display(),
                    self.backend,
                    texts[0].len()
                ))
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// all-mpnet-base-v2 at its 384 tokens: 32 texts need 144 MiB for the feed-forward
    /// (what lavapipe refused); 18 fit. CPU backends keep the configured batch.
    #[test]
    fn wgpu_batches_fit_one_buffer_binding() {
        assert_eq!(rows_per_batch(BurnBackend::Wgpu, 32, 384, 3072, 12), 18);
        const { assert!(18 * 12 * 384 * 384 * 4 <= WGPU_BINDING_BYTES && 18 * 384 * 3072 * 4 <= WGPU_BINDING_BYTES) };
        assert_eq!(rows_per_batch(BurnBackend::Wgpu, 32, 16, 3072, 12), 32);
        assert_eq!(rows_per_batch(BurnBackend::Wgpu, 32, 100_000, 3072, 12), 1);
        assert_eq!(rows_per_batch(BurnBackend::Flex, 32, 384, 3072, 12), 32);
    }
}
