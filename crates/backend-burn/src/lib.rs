//! # autobranch-burn
//!
//! [Burn](https://burn.dev) 0.22 as an autobranch backend: [`BurnEmbedder`] runs a
//! sentence-transformers BERT encoder (all-MiniLM-L6-v2 and any BERT-style
//! `config.json`) with weights from `model.safetensors` (through `burn-store`) and the
//! folder's `tokenizer.json` (through `tokenizers`), mean pooling and L2 normalisation.
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

mod bert;
mod device;
mod embedder;
mod error;

pub use bert::config::{Activation, BertConfig, Pooling};
pub use device::BurnBackend;
pub use embedder::{BurnEmbedder, BurnEmbedderOptions};
pub use error::LoadError;
