//! [`OllamaEmbedder`]: batched embeddings through `/api/embed`, with the legacy fallback.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use autobranch_core::model::{Embedder, Embeddings, ModelError};

use crate::client::OllamaClient;

/// Embeds with a model on an Ollama server.
pub struct OllamaEmbedder {
    client: OllamaClient,
    model: String,
    dim: AtomicUsize,
    legacy: AtomicBool,
}

impl OllamaEmbedder {
    /// An embedder for `model`; the dimension is learnt from `/api/show` (see
    /// [`OllamaEmbedder::connect`]) or from the first answer.
    pub fn new(client: OllamaClient, model: impl Into<String>) -> Self {
        Self { client, model: model.into(), dim: AtomicUsize::new(0), legacy: AtomicBool::new(false) }
    }

    /// Creates the embedder and asks the server for the model's embedding length.
    pub async fn connect(client: OllamaClient, model: impl Into<String>) -> Result<Self, ModelError> {
        let e = Self::new(client, model);
        let details: crate::client::ModelDetails = e.client.show(&e.model).await?.into();
        if let Some(d) = details.embedding_length {
            e.dim.store(d as usize, Ordering::Relaxed);
        }
        Ok(e)
    }

    fn check(&self, texts: &[String], rows: Vec<Vec<f32>>) -> Result<Embeddings, ModelError> {
        if rows.len() != texts.len() {
            return Err(ModelError::MismatchedCount { expected: texts.len(), actual: rows.len() });
        }
        let dim = match self.dim.load(Ordering::Relaxed) {
            0 => rows.first().map_or(0, Vec::len),
            d => d,
        };
        if let Some(bad) = rows.iter().find(|r| r.len() != dim) {
            return Err(ModelError::MismatchedDimensions { expected: dim, actual: bad.len() });
        }
        if let Some(bad) = rows.iter().flatten().find(|x| !x.is_finite()) {
            return Err(ModelError::Backend(format!("Ollama returned a non-finite embedding value ({bad})")));
        }
        self.dim.store(dim, Ordering::Relaxed);
        Embeddings::from_rows(&rows)
    }
}

#[async_trait]
impl Embedder for OllamaEmbedder {
    fn model_id(&self) -> &str {
        &self.model
    }

    fn dim(&self) -> usize {
        self.dim.load(Ordering::Relaxed)
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        if texts.is_empty() {
            return Ok(Embeddings::empty(self.dim()));
        }
        if !self.legacy.load(Ordering::Relaxed) {
            match self.client.embed(&self.model, texts).await? {
                Some(rows) => return self.check(texts, rows),
                None => {
                    tracing::warn!(
                        "this Ollama server has no /api/embed; using the older /api/embeddings, one text per call"
                    );
                    self.legacy.store(true, Ordering::Relaxed);
                }
            }
        }
        let mut rows = Vec::with_capacity(texts.len());
        for t in texts {
            rows.push(self.client.embed_legacy(&self.model, t).await?);
        }
        self.check(texts, rows)
    }
}
