//! [`LlamaCppGenerator`]: the `Generator` on embedded llama.cpp.

use std::path::Path;

use async_trait::async_trait;
use autobranch_core::model::{Generation, GenerationRequest, Generator, ModelError, Piece, Prompt, StreamOptions};

use crate::options::LlamaCppOptions;
use crate::stats::BatchStats;
use crate::worker::{ModelInfo, Worker};

/// Generates candidates with a GGUF model on embedded llama.cpp, branching in one batch.
pub struct LlamaCppGenerator {
    worker: Worker,
    model_id: String,
    sequential: bool,
}

impl LlamaCppGenerator {
    /// Loads the GGUF at `path` (validated before llama.cpp sees it) on a worker thread.
    pub fn load(path: &Path, options: LlamaCppOptions) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::Unavailable(format!("model file {} does not exist", path.display())));
        }
        let sequential = options.sequential;
        let worker = Worker::spawn(path, options)?;
        Ok(Self { worker, model_id: path.display().to_string(), sequential })
    }

    /// Decode steps by batch size (how many sequences shared each step), live.
    pub fn batch_stats(&self) -> std::sync::Arc<BatchStats> {
        std::sync::Arc::clone(self.worker.stats())
    }

    /// Facts about the loaded model.
    pub fn info(&self) -> &ModelInfo {
        self.worker.info()
    }

    /// Generates with the candidates decoded together (`false`) or one at a time (`true`),
    /// whatever the options said.
    pub async fn generate_with(&self, request: &GenerationRequest, sequential: bool) -> Result<Generation, ModelError> {
        self.worker.generate(request, sequential, None).await
    }

    /// llama.cpp's own speed on this model, measured like `llama-bench` (a batch of
    /// `n_prompt` tokens, then `n_gen` single-token decodes, no sampling): (prompt tok/s,
    /// decode tok/s).
    pub async fn raw_speed(&self, n_prompt: usize, n_gen: usize) -> Result<(f64, f64), ModelError> {
        self.worker.raw_speed(n_prompt, n_gen).await
    }

    /// Next-token logits after `prompt` (for parity checks).
    pub async fn prompt_logits(&self, prompt: Prompt) -> Result<Vec<f32>, ModelError> {
        self.worker.logits(prompt).await
    }

    /// The prompt's token ids as llama.cpp tokenises it (BOS included where the model adds
    /// one), for parity checks of other tokenizers.
    pub async fn prompt_tokens(&self, prompt: Prompt) -> Result<Vec<u32>, ModelError> {
        self.worker.tokens(prompt).await
    }
}

#[async_trait]
impl Generator for LlamaCppGenerator {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        self.generate_with(request, self.sequential).await
    }

    async fn generate_streaming(
        &self,
        request: &GenerationRequest,
        options: StreamOptions,
        on_piece: &(dyn Fn(Piece) + Send + Sync),
    ) -> Result<Generation, ModelError> {
        self.worker.generate(request, self.sequential, Some((options, on_piece))).await
    }

    fn streams_tokens(&self) -> bool {
        true
    }

    async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
        self.worker.generate_many(requests, self.sequential).await
    }

    async fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        self.worker.expect_prompts(root, next);
    }
}
