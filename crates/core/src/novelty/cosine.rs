use super::{NoveltyFilter, threshold_filter};
use crate::candidate::ScoredCandidate;
use crate::vectors::SimilarityMatrix;

/// Prunes a candidate whose similarity to a better one already kept exceeds the threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineNoveltyFilter {
    threshold: f64,
}

impl CosineNoveltyFilter {
    /// A filter with `threshold` in [0, 1] (validated by the configuration layer).
    pub fn new(threshold: f64) -> Self {
        Self { threshold }
    }
}

impl NoveltyFilter for CosineNoveltyFilter {
    fn name(&self) -> &'static str {
        "cosine novelty"
    }

    fn prune(
        &self,
        ranked: &[ScoredCandidate],
        sims: Option<&SimilarityMatrix>,
        _: &mut Vec<String>,
    ) -> Result<Vec<usize>, String> {
        if ranked.len() <= 1 {
            return Ok((0..ranked.len()).collect());
        }
        let sims = sims.ok_or("cosine novelty needs embeddings and none are available")?;
        let order: Vec<usize> = (0..ranked.len()).collect();
        Ok(threshold_filter(&order, sims, self.threshold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::Candidate;

    fn ranked(n: usize) -> Vec<ScoredCandidate> {
        (0..n)
            .map(|i| ScoredCandidate::new(Candidate::new(format!("c{i}"), "").unwrap(), 1.0 - i as f64 * 0.1).0)
            .collect()
    }

    #[test]
    fn similarity_equal_to_threshold_is_kept() {
        // cos(a, b) = 0.6 exactly representable in the test vectors below.
        let a = [1.0f32, 0.0];
        let b = [0.6f32, 0.8];
        let sims = SimilarityMatrix::new(&[&a, &b]);
        let t = f64::from(sims.get(0, 1));
        assert_eq!(CosineNoveltyFilter::new(t).prune(&ranked(2), Some(&sims), &mut Vec::new()).unwrap(), vec![0, 1]);
        assert_eq!(
            CosineNoveltyFilter::new(t - 1e-6).prune(&ranked(2), Some(&sims), &mut Vec::new()).unwrap(),
            vec![0]
        );
    }

    #[test]
    fn zero_and_one_candidates_pass_without_vectors() {
        let f = CosineNoveltyFilter::new(0.5);
        assert!(f.prune(&[], None, &mut Vec::new()).unwrap().is_empty());
        assert_eq!(f.prune(&ranked(1), None, &mut Vec::new()).unwrap(), vec![0]);
        assert!(f.prune(&ranked(2), None, &mut Vec::new()).is_err());
    }

    #[test]
    fn zero_vectors_count_as_dissimilar() {
        let z = [0.0f32, 0.0];
        let sims = SimilarityMatrix::new(&[&z, &z]);
        assert_eq!(CosineNoveltyFilter::new(0.0).prune(&ranked(2), Some(&sims), &mut Vec::new()).unwrap(), vec![0, 1]);
    }
}
