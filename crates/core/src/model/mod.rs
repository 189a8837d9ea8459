//! The two model traits every backend implements: [`Generator`] (with its streaming form,
//! [`Piece`] by piece) and [`Embedder`].

mod embedding;
mod generation;
mod streaming;

pub use embedding::{Embedder, Embeddings, dot};
pub use generation::{
    CandidateTimings, ChatMessage, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings,
    Generator, Prompt, Role, SamplingParams, log_prob,
};
pub use streaming::{MAX_TOP_LOGPROBS, Piece, StreamOptions, TextStream, TokenLogprob};

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
    /// The backend returned a vector holding NaN or an infinity.
    #[error("embedding row {row} holds a non-finite value at index {index}; vectors must be finite")]
    NonFiniteEmbedding {
        /// Which row (text) of the batch.
        row: usize,
        /// Position of the first bad value in the row.
        index: usize,
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
    /// The model loaded but computes nonsense (NaN or infinite logits or vectors): its
    /// weights or hyperparameters are broken. The message names the model file.
    #[error("{0}")]
    BrokenModel(String),
}
