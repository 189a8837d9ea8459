//! A Llama-family decoder loaded straight from GGUF: configuration and tokenizer from the
//! file's metadata, weights dequantised to f32, batched branching generation.

pub mod config;
pub mod generator;
pub mod model;
pub mod prompt_cache;
pub mod sampler;
