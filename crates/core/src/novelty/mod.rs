//! Novelty filters (SPEC §4): prune near-duplicates from a score-descending list.

mod cosine;
mod mmr;

pub use cosine::CosineNoveltyFilter;
pub use mmr::MmrNoveltyFilter;

use crate::candidate::ScoredCandidate;
use crate::vectors::SimilarityMatrix;

/// Picks a diverse subset of score-ranked candidates.
pub trait NoveltyFilter: Send + Sync {
    /// Stage name for reports and errors.
    fn name(&self) -> &'static str;

    /// Positions (into `ranked`) of the candidates that stay, in their new order.
    /// `sims` holds the pairwise similarities of `ranked`; `None` means no vectors exist,
    /// and a filter that cannot work without them says so in `warnings` or fails.
    fn prune(
        &self,
        ranked: &[ScoredCandidate],
        sims: Option<&SimilarityMatrix>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<usize>, String>;
}

/// The cosine rule over `order`: keep an item when its highest similarity to every item
/// already kept is ≤ `threshold`; the first is always kept.
pub(crate) fn threshold_filter(order: &[usize], sims: &SimilarityMatrix, threshold: f64) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    for &i in order {
        let max_sim = kept.iter().map(|&j| f64::from(sims.get(i, j))).fold(f64::NEG_INFINITY, f64::max);
        if kept.is_empty() || max_sim <= threshold {
            kept.push(i);
        }
    }
    kept
}
