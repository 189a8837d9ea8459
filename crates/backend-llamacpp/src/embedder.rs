//! [`LlamaCppEmbedder`]: the `Embedder` on a GGUF embedding model (BERT family).

use std::path::Path;

use async_trait::async_trait;
use autobranch_core::model::{Embedder, Embeddings, ModelError};

use crate::options::LlamaCppOptions;
use crate::worker::Worker;

/// Mean-pooled, L2-normalised sentence embeddings from a GGUF embedding model.
pub struct LlamaCppEmbedder {
    worker: Worker,
    model_id: String,
    dim: usize,
}

impl LlamaCppEmbedder {
    /// Loads the GGUF at `path` on a worker thread.
    pub fn load(path: &Path, options: LlamaCppOptions) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::Unavailable(format!("embedding model file {} does not exist", path.display())));
        }
        let worker = Worker::spawn(path, options)?;
        let dim = worker.info().n_embd;
        Ok(Self { worker, model_id: path.display().to_string(), dim })
    }
}

#[async_trait]
impl Embedder for LlamaCppEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        if texts.is_empty() {
            return Ok(Embeddings::empty(self.dim));
        }
        let rows = self.worker.embed(texts.to_vec()).await?;
        if rows.len() != texts.len() {
            return Err(ModelError::MismatchedCount { expected: texts.len(), actual: rows.len() });
        }
        if let Some(bad) = rows.iter().find(|r| r.len() != self.dim) {
            return Err(ModelError::MismatchedDimensions { expected: self.dim, actual: bad.len() });
        }
        Embeddings::from_rows(&rows)
    }
}
