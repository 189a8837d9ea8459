//! Tokenizers rebuilt from a GGUF's `tokenizer.ggml.*` metadata with the `tokenizers`
//! crate: byte-level BPE for GPT-2-style LLM vocabularies, WordPiece for BERT.

mod bpe;
mod wordpiece;

pub use bpe::{BpeTokenizer, bpe_tokenizer};
pub use wordpiece::BertTokenizer;
