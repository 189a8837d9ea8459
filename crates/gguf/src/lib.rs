//! # autobranch-gguf
//!
//! What autobranch's local backends read from a GGUF file, independent of the engine that
//! runs the model:
//!
//! - [`read_header`]: the header, metadata and tensor table, validated (magic, version,
//!   every tensor's byte range, and the hyperparameters: layer and head counts, widths,
//!   epsilons, rope settings, context length, special token ids) so a damaged or hostile
//!   file is an error naming the key, the value and the allowed range rather than an abort;
//! - [`GgufFile::read_f32`]: a tensor dequantised to f32 ([`dequantize`] reads F32, F16,
//!   BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K);
//! - [`bpe_tokenizer`] and [`BertTokenizer`]: the model's tokenizer rebuilt from
//!   `tokenizer.ggml.*` with the `tokenizers` crate;
//! - [`ChatTemplate`]: chat prompts rendered from the file's own Jinja template;
//! - `testing` (feature `test-support`): small GGUF files written, and real ones patched in
//!   place, for tests of hostile models.
//!
//! ```no_run
//! use autobranch_gguf::GgufFile;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let file = GgufFile::open("SmolLM2-135M-Instruct.Q4_1.gguf".as_ref())?;
//! assert_eq!(file.header().architecture(), Some("llama"));
//! let embeddings = file.read_f32("token_embd.weight")?;
//! assert_eq!(embeddings.shape, [49152, 576]);
//! # Ok(()) }
//! ```

mod chat;
mod file;
mod header;
mod hparams;
mod tensor;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod tokenizer;

pub use chat::{ChatTemplate, prompt_text};
pub use file::{F32Tensor, GgufFile};
pub use header::{GgufError, GgufHeader, TensorInfo, Value, read_header};
pub use tensor::{DEQUANTIZABLE, DequantError, GgmlType, dequantize};
pub use tokenizer::{BertTokenizer, BpeTokenizer, bpe_tokenizer};
