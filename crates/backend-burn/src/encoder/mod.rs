//! BERT sentence encoders (sentence-transformers folders).

pub mod config;
pub mod gelu;
pub mod load;
pub mod model;
