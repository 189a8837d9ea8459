//! The two model traits every backend implements: [`Generator`] and [`Embedder`].

mod embedding;
mod generation;

pub use embedding::{Embedder, Embeddings, dot};
pub use generation::{
    CandidateTimings, ChatMessage, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings,
    Generator, Prompt, Role, SamplingParams, log_prob,
};

use thiserror::Error;

/// An error from a model backend.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The request itself is invalid (n = 0, temperature < 0, …); the message names the field.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The model could not be loaded or reached (missing file, server down, …).
    #[error("model unavailable: {0}")]
    Unavailable(String),
    /// The backend returned vectors of the wrong size.
    #[error("embedding dimension mismatch: expected {expected}, got {actual}")]
    MismatchedDimensions {
        /// The model's dimension.
        expected: usize,
        /// What came back.
        actual: usize,
    },
    /// The backend returned the wrong number of results.
    #[error("result count mismatch: asked for {expected}, got {actual}")]
    MismatchedCount {
        /// How many were asked for.
        expected: usize,
        /// How many came back.
        actual: usize,
    },
    /// Any other failure while running the model.
    #[error("{0}")]
    Backend(String),
}
