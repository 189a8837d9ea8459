//! Errors of loading a model folder.

use std::path::PathBuf;

use autobranch_core::model::ModelError;
use thiserror::Error;

/// Why a model folder could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// A required file is absent.
    #[error(
        "{path} is missing: a sentence-transformers folder needs config.json, tokenizer.json and model.safetensors"
    )]
    Missing { path: PathBuf },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file is readable but wrong.
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    /// A GGUF file is missing, unreadable or damaged.
    #[error(transparent)]
    Gguf(#[from] autobranch_gguf::GgufError),
    /// An option passed to the loader is out of range.
    #[error("{0}")]
    Option(String),
    /// The requested Burn backend cannot run here.
    #[error("{0}")]
    Backend(String),
}

impl From<LoadError> for ModelError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Backend(m) => ModelError::Unavailable(m),
            other => ModelError::InvalidRequest(other.to_string()),
        }
    }
}
