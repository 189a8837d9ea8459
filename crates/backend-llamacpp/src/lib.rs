//! # autobranch-llamacpp
//!
//! Embedded llama.cpp (through `llama-cpp-2`, compiled from its vendored source) as an
//! autobranch backend:
//!
//! - [`LlamaCppGenerator`] loads any GGUF, renders chat prompts with the model's own Jinja
//!   template, and generates `n` candidates **in one batch**: the prompt is decoded once and
//!   its KV cells are shared by every sequence, then all live sequences decode together, one
//!   llama.cpp batch per step, each with its own seeded sampler chain. Candidates carry the
//!   mean log-probability of their sampled tokens. Concurrent requests share that batch
//!   (continuous batching: a request joins at the next step, a finished sequence leaves), so
//!   a server's clients and a tree's nodes decode together.
//! - [`LlamaCppEmbedder`] runs a GGUF embedding model (BERT family, e.g. all-MiniLM-L6-v2
//!   converted with `scripts/minilm_to_gguf.py`) with mean pooling.
//!
//! llama.cpp contexts are not shareable across threads, so each model lives on a worker
//! thread the async API talks to over a channel. Files are validated (magic, header, tensor
//! extents, hyperparameters) before llama.cpp reads them, so a damaged or hostile file is an
//! error, not an abort; a model that computes NaN (NaN weights) fails the call, naming the file.
//!
//! ```no_run
//! use autobranch_core::model::{GenerationRequest, Generator, Prompt, SamplingParams};
//! use autobranch_llamacpp::{LlamaCppGenerator, LlamaCppOptions};
//!
//! # async fn run() -> Result<(), autobranch_core::ModelError> {
//! let generator = LlamaCppGenerator::load("SmolLM2-135M-Instruct.Q4_1.gguf".as_ref(), LlamaCppOptions::default())?;
//! let request = GenerationRequest { prompt: Prompt::Text("Once upon a time".into()), n: 4, sampling: SamplingParams::default() };
//! let generation = generator.generate(&request).await?;
//! assert_eq!(generation.candidates.len(), 4);
//! # Ok(()) }
//! ```

mod batcher;
mod devices;
mod embedder;
mod engine;
mod generator;
mod options;
mod prompt_cache;
mod stats;
mod worker;

pub use devices::{Device, GPU_BUILD, cpu_fallback, devices};
pub use embedder::LlamaCppEmbedder;
pub use generator::LlamaCppGenerator;
pub use options::LlamaCppOptions;
pub use stats::{BATCH_BUCKETS, BatchSnapshot, BatchStats};
pub use worker::ModelInfo;
