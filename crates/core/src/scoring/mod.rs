//! Scorers (SPEC §2): a [`CompositeScorer`] of weighted features and a [`StaticScorer`].

mod composite;
mod static_scores;

pub use composite::{CompositeScorer, RewardContext, RewardProvider, Weights};
pub use static_scores::StaticScorer;

use crate::candidate::Candidate;
use crate::vectors::StepVectors;

/// Gives every candidate of a step a raw score (the selector maps non-finite ones to 0
/// and clamps to [0, 1]).
pub trait Scorer: Send + Sync {
    /// Whether this scorer reads vectors; the selector embeds only when some stage does.
    fn uses_embeddings(&self) -> bool;

    /// Extra texts (intents) to embed with the step, each distinct text once.
    fn intent_texts<'a>(&self, _parent: &'a Candidate, _candidates: &'a [Candidate]) -> Vec<&'a str> {
        Vec::new()
    }

    /// One score per candidate, in input order. `vectors` is `None` when embedding was not
    /// possible; fallbacks must push a warning, never degrade silently.
    fn score(
        &self,
        parent: &Candidate,
        candidates: &[Candidate],
        vectors: Option<&StepVectors>,
        warnings: &mut Vec<String>,
    ) -> Vec<f64>;
}
