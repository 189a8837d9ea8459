//! # autobranch-burn
//!
//! [Burn](https://burn.dev) 0.22 as an autobranch backend: [`BurnEmbedder`] runs a
//! sentence-transformers BERT or MPNet encoder (all-MiniLM-L6-v2, all-mpnet-base-v2 and any
//! `config.json` of those types) with weights from `model.safetensors` (through `burn-store`) and the
//! folder's `tokenizer.json` (through `tokenizers`), mean pooling and L2 normalisation.
//!
//! [`BurnGenerator`] runs a Llama-family decoder (SmolLM2 and other `llama` GGUFs) loaded
//! straight from GGUF: weights dequantised to f32 (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
//! Q8_0, Q4_K, Q5_K, Q6_K), the byte-level BPE tokenizer rebuilt from the file's metadata,
//! chat prompts from its own Jinja template. Branching is batched: the prompt runs once and
//! the `n` candidates decode together, each with its own seeded sampler.
//!
//! The backend is a run-time choice among the cargo features compiled in: `flex` (Burn's
//! pure-Rust CPU backend, the default), `ndarray` (deprecated upstream, kept for
//! comparison) and `wgpu` (GPU; Mesa's lavapipe on GPU-less Linux).
//!
//! ```no_run
//! use autobranch_burn::{BurnBackend, BurnEmbedder, BurnEmbedderOptions};
//! use autobranch_core::model::Embedder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = BurnEmbedderOptions { backend: Some(BurnBackend::Flex), ..Default::default() };
//! let embedder = BurnEmbedder::load("models/all-minilm-l6-v2".as_ref(), options)?;
//! let vectors = embedder.embed(&["a red fox".into(), "a crimson fox".into()]).await?;
//! assert!(vectors.cosine(0, 1) > 0.7);
//! # Ok(()) }
//! ```

mod device;
mod embedder;
mod encoder;
mod error;
mod llama;

pub use device::{BurnBackend, wgpu_adapter};
pub use embedder::{BurnEmbedder, BurnEmbedderOptions};
pub use encoder::config::{Activation, Arch, EncoderConfig, Pooling};
pub use error::LoadError;
pub use llama::config::{ARCHITECTURES, LlamaConfig};
pub use llama::generator::{BurnGenerator, BurnGeneratorOptions, DEFAULT_MAX_SEQUENCES};
