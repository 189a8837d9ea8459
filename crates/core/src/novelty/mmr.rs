use super::{NoveltyFilter, threshold_filter};
use crate::candidate::ScoredCandidate;
use crate::vectors::SimilarityMatrix;

/// Maximal marginal relevance: reorders by λ·score − (1−λ)·max similarity to those already
/// picked, then optionally applies the cosine threshold over that order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmrNoveltyFilter {
    lambda: f64,
    threshold: Option<f64>,
}

impl MmrNoveltyFilter {
    /// λ and the optional threshold, both in [0, 1] (validated by the configuration layer).
    pub fn new(lambda: f64, threshold: Option<f64>) -> Self {
        Self { lambda, threshold }
    }
}

impl NoveltyFilter for MmrNoveltyFilter {
    fn name(&self) -> &'static str {
        "mmr novelty"
    }

    fn prune(
        &self,
        ranked: &[ScoredCandidate],
        sims: Option<&SimilarityMatrix>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<usize>, String> {
        let n = ranked.len();
        if n <= 1 {
            return Ok((0..n).collect());
        }
        let Some(sims) = sims else {
            warnings.push("mmr novelty: no embeddings, candidates left in score order unfiltered".into());
            return Ok((0..n).collect());
        };
        let (lo, hi) =
            ranked.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| (lo.min(c.score), hi.max(c.score)));
        let norm: Vec<f64> = ranked.iter().map(|c| if hi == lo { 1.0 } else { (c.score - lo) / (hi - lo) }).collect();
        // max_sim[i]: highest similarity of i to anything selected so far, updated incrementally.
        let mut max_sim = vec![f64::NEG_INFINITY; n];
        let mut selected = vec![false; n];
        let mut order = Vec::with_capacity(n);
        for _ in 0..n {
            let mut best: Option<(usize, f64)> = None;
            for i in (0..n).filter(|&i| !selected[i]) {
                let sim = if order.is_empty() { 0.0 } else { max_sim[i] };
                let value = self.lambda * norm[i] - (1.0 - self.lambda) * sim;
                // Strictly greater wins, so ties stay with the lower index.
                if best.is_none_or(|(_, b)| value > b) {
                    best = Some((i, value));
                }
            }
            let (pick, _) = best.expect("an unselected candidate remains");
            selected[pick] = true;
            order.push(pick);
            for (i, m) in max_sim.iter_mut().enumerate() {
                *m = m.max(f64::from(sims.get(i, pick)));
            }
        }
        Ok(match self.threshold {
            Some(t) => threshold_filter(&order, sims, t),
            None => order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::Candidate;

    fn ranked(scores: &[f64]) -> Vec<ScoredCandidate> {
        scores
            .iter()
            .enumerate()
            .map(|(i, &s)| ScoredCandidate::new(Candidate::new(format!("c{i}"), "").unwrap(), s).0)
            .collect()
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let e = [[1.0f32, 0.0], [1.0, 0.0], [1.0, 0.0]];
        let rows: Vec<&[f32]> = e.iter().map(|r| r.as_slice()).collect();
        let sims = SimilarityMatrix::new(&rows);
        let order =
            MmrNoveltyFilter::new(0.5, None).prune(&ranked(&[0.5, 0.5, 0.5]), Some(&sims), &mut Vec::new()).unwrap();
        assert_eq!(order, vec![0, 1, 2]);
    }

    #[test]
    fn diversity_reorders_and_threshold_prunes() {
        // c0 and c1 are identical, c2 is orthogonal; with λ = 0.3 diversity wins over c1's score.
        let e = [[1.0f32, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let rows: Vec<&[f32]> = e.iter().map(|r| r.as_slice()).collect();
        let sims = SimilarityMatrix::new(&rows);
        let scores = ranked(&[0.9, 0.8, 0.1]);
        assert_eq!(
            MmrNoveltyFilter::new(0.3, None).prune(&scores, Some(&sims), &mut Vec::new()).unwrap(),
            vec![0, 2, 1]
        );
        assert_eq!(
            MmrNoveltyFilter::new(0.3, Some(0.5)).prune(&scores, Some(&sims), &mut Vec::new()).unwrap(),
            vec![0, 2]
        );
        // λ = 1 is pure relevance: score order.
        assert_eq!(
            MmrNoveltyFilter::new(1.0, None).prune(&scores, Some(&sims), &mut Vec::new()).unwrap(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn without_vectors_order_is_unchanged_with_a_warning() {
        let mut warnings = Vec::new();
        let order = MmrNoveltyFilter::new(0.5, Some(0.1)).prune(&ranked(&[0.9, 0.8]), None, &mut warnings).unwrap();
        assert_eq!(order, vec![0, 1]);
        assert_eq!(warnings.len(), 1);
    }
}
