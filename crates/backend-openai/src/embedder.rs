//! [`OpenAiEmbedder`]: `POST /embeddings` in batches, each answer checked for its count,
//! its order (`index`) and its dimensions.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use autobranch_core::model::{Embedder, Embeddings, ModelError};

use crate::api::{EmbeddingsRequest, EmbeddingsResponse};
use crate::client::OpenAiClient;

/// Embeds with a model on an OpenAI-compatible server.
pub struct OpenAiEmbedder {
    client: OpenAiClient,
    model: String,
    id: String,
    batch_size: usize,
    dimensions: Option<usize>,
    dim: AtomicUsize,
}

impl fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("client", &self.client)
            .field("model", &self.model)
            .field("batch_size", &self.batch_size)
            .field("dimensions", &self.dimensions)
            .field("dim", &self.dim())
            .finish()
    }
}

impl OpenAiEmbedder {
    /// Default number of texts per request.
    pub const DEFAULT_BATCH_SIZE: usize = 64;

    /// An embedder for `model`; the dimension is learnt from the first answer (see
    /// [`OpenAiEmbedder::connect`]).
    pub fn new(client: OpenAiClient, model: impl Into<String>) -> Self {
        let model = model.into();
        let id = format!("openai:{model}@{}", client.host());
        Self { client, model, id, batch_size: Self::DEFAULT_BATCH_SIZE, dimensions: None, dim: AtomicUsize::new(0) }
    }

    /// Creates the embedder and embeds one probe text, which checks that the server has the
    /// model and learns its dimension.
    pub async fn connect(client: OpenAiClient, model: impl Into<String>) -> Result<Self, ModelError> {
        let e = Self::new(client, model);
        e.probe().await?;
        Ok(e)
    }

    /// Embeds one probe text and returns the dimension.
    pub async fn probe(&self) -> Result<usize, ModelError> {
        self.embed(&["dimension probe".to_owned()]).await.map(|m| m.dim())
    }

    /// Texts per request (default [`Self::DEFAULT_BATCH_SIZE`], at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Asks for vectors of this length (`dimensions`, OpenAI's `text-embedding-3-*`); answers
    /// of another length are errors.
    pub fn with_dimensions(mut self, dimensions: usize) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    /// The model name sent to the server.
    pub fn model(&self) -> &str {
        &self.model
    }

    async fn batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let body = EmbeddingsRequest { model: &self.model, input: texts, dimensions: self.dimensions };
        let resp = self.client.post("/embeddings", &body, &self.model).await?;
        let answer: EmbeddingsResponse = self.client.read_json("/embeddings", resp).await?;
        if answer.data.len() != texts.len() {
            return Err(ModelError::MismatchedCount { expected: texts.len(), actual: answer.data.len() });
        }
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (position, item) in answer.data.into_iter().enumerate() {
            let i = item.index.unwrap_or(position);
            match rows.get_mut(i) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => {
                    return Err(ModelError::Backend(format!(
                        "{} returned embedding index {i} twice or out of range for a batch of {}",
                        self.client.url("/embeddings"),
                        texts.len()
                    )));
                }
            }
        }
        // Every slot is filled: as many items as slots, each index used once.
        Ok(rows.into_iter().flatten().collect())
    }

    fn check(&self, rows: Vec<Vec<f32>>) -> Result<Embeddings, ModelError> {
        let dim =
            self.dimensions.or_else(|| Some(self.dim()).filter(|&d| d > 0)).or_else(|| rows.first().map(Vec::len));
        let dim = dim.unwrap_or(0);
        if let Some(bad) = rows.iter().find(|r| r.len() != dim) {
            return Err(ModelError::MismatchedDimensions { expected: dim, actual: bad.len() });
        }
        if dim == 0 {
            return Err(ModelError::Backend(format!("{} returned empty vectors", self.client.url("/embeddings"))));
        }
        if let Some(bad) = rows.iter().flatten().find(|x| !x.is_finite()) {
            return Err(ModelError::Backend(format!("the server returned a non-finite embedding value ({bad})")));
        }
        self.dim.store(dim, Ordering::Relaxed);
        Embeddings::from_rows(&rows)
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    /// `openai:MODEL@HOST`.
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim.load(Ordering::Relaxed)
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        if texts.is_empty() {
            return Ok(Embeddings::empty(self.dim()));
        }
        let mut rows = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            rows.extend(self.batch(batch).await?);
        }
        self.check(rows)
    }
}
