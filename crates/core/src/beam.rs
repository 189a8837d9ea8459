//! Beam selection (SPEC §3): the top k by score, ties broken by id.

use std::cmp::Ordering;

use crate::candidate::ScoredCandidate;

/// Keeps the k best candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeamSelector {
    k: usize,
}

impl BeamSelector {
    /// A beam of width `k` (≥ 1; the configuration layer rejects 0).
    pub fn new(k: usize) -> Self {
        Self { k: k.max(1) }
    }

    /// Beam width.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Positions of the kept candidates, best first: score descending, then id ascending
    /// byte-wise ("c10" < "c2"), then input position.
    pub fn select(&self, scored: &[ScoredCandidate]) -> Vec<usize> {
        let order = |&a: &usize, &b: &usize| rank(&scored[a], &scored[b]).then(a.cmp(&b));
        let mut idx: Vec<usize> = (0..scored.len()).collect();
        if idx.len() > self.k {
            // Partition first so a 10,000-candidate step sorts only the k winners.
            idx.select_nth_unstable_by(self.k - 1, order);
            idx.truncate(self.k);
        }
        idx.sort_unstable_by(order);
        idx
    }
}

/// Score descending, then id ascending.
pub fn rank(a: &ScoredCandidate, b: &ScoredCandidate) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id().as_bytes().cmp(b.id().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::Candidate;

    fn sc(id: &str, score: f64) -> ScoredCandidate {
        ScoredCandidate::new(Candidate::new(id, "").unwrap(), score).0
    }

    #[test]
    fn ties_break_by_string_id() {
        let scored = [sc("c2", 0.5), sc("c10", 0.5), sc("c1", 0.9), sc("c3", 0.1)];
        let kept = BeamSelector::new(3).select(&scored);
        let ids: Vec<&str> = kept.iter().map(|&i| scored[i].id()).collect();
        assert_eq!(ids, ["c1", "c10", "c2"]);
    }

    #[test]
    fn fewer_than_k_are_all_kept_in_order() {
        let scored = [sc("b", 0.1), sc("a", 0.2)];
        assert_eq!(BeamSelector::new(5).select(&scored), vec![1, 0]);
        assert!(BeamSelector::new(5).select(&[]).is_empty());
    }
}
