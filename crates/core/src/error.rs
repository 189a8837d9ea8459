//! Error types shared across the pipeline stages.

use thiserror::Error;

use crate::budget::BudgetExceeded;
use crate::model::ModelError;

/// Invalid candidates or vectors handed to the pipeline.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InputError {
    /// A candidate id was the empty string.
    #[error("candidate id is empty; every candidate needs a non-empty id")]
    EmptyId,
    /// Two candidates of one step share an id.
    #[error("duplicate candidate id {0:?}; ids must be unique within a step")]
    DuplicateId(String),
    /// A vector's length differs from the others.
    #[error("embedding of {id:?} has dimension {actual}, expected {expected} like the others")]
    MismatchedDimensions {
        /// Which candidate (or the parent) carried the vector.
        id: String,
        /// The dimension of the first vector seen.
        expected: usize,
        /// This vector's dimension.
        actual: usize,
    },
    /// A vector holds NaN or an infinity.
    #[error("embedding of {id:?} holds a non-finite value at index {index}; vectors must be finite")]
    NonFiniteEmbedding {
        /// Which candidate (or the parent) carried the vector.
        id: String,
        /// Position of the first bad value.
        index: usize,
    },
    /// A vector has no components.
    #[error("embedding of {id:?} is empty; vectors need at least one dimension")]
    EmptyEmbedding {
        /// Which candidate (or the parent) carried the vector.
        id: String,
    },
    /// A candidate's `logprobs` is NaN or infinite, or `null` (how JSON writers store those).
    #[error(
        "candidate {id:?} has meta.logprobs = {value}; it must be a finite number (JSON writes NaN and \
         infinities as null), or be left out"
    )]
    NonFiniteLogprobs {
        /// The candidate.
        id: String,
        /// The value found.
        value: String,
    },
    /// Precomputed vectors were given for some candidates but not all.
    #[error("{missing} of {total} candidates have no embedding; give one for every candidate (and the parent) or none")]
    PartialEmbeddings {
        /// How many lack a vector.
        missing: usize,
        /// How many there are in all.
        total: usize,
    },
}

/// Why a selector step failed.
#[derive(Debug, Error)]
pub enum StepError {
    /// The candidates or vectors were invalid.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A stage needs embeddings and none could be computed.
    #[error("the {stage} stage needs embeddings: {reason}")]
    MissingEmbeddings {
        /// The stage that needs vectors.
        stage: &'static str,
        /// Why there are none.
        reason: String,
    },
    /// The embedder failed while a stage that cannot do without vectors is configured.
    #[error("embedding failed: {0}")]
    Embedding(#[source] ModelError),
    /// Strict budget refused the step.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
}
