//! Entropy-based stopping (SPEC §5): Shannon entropy of k-means clusters of the kept set.

mod kmeans;
mod shannon;

pub use kmeans::{KMeans, KMeansFit};
pub use shannon::{EntropyDecision, EntropyReason, EntropyState, ShannonEntropyStopper};
