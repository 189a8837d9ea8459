use std::collections::HashMap;

use super::Scorer;
use crate::candidate::Candidate;
use crate::vectors::StepVectors;

/// Maps candidate id → score; unknown ids get the default (0.5).
#[derive(Clone, Debug, PartialEq)]
pub struct StaticScorer {
    scores: HashMap<String, f64>,
    default: f64,
}

impl StaticScorer {
    /// Scores from a map, 0.5 for ids it does not name.
    pub fn new(scores: HashMap<String, f64>) -> Self {
        Self { scores, default: 0.5 }
    }
}

impl Scorer for StaticScorer {
    fn uses_embeddings(&self) -> bool {
        false
    }

    fn score(&self, _: &Candidate, candidates: &[Candidate], _: Option<&StepVectors>, _: &mut Vec<String>) -> Vec<f64> {
        candidates.iter().map(|c| self.scores.get(&c.id).copied().unwrap_or(self.default)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ids_default_to_one_half() {
        let s = StaticScorer::new(HashMap::from([("a".to_owned(), 0.9)]));
        let p = Candidate::new("p", "").unwrap();
        let cs = [Candidate::new("a", "").unwrap(), Candidate::new("b", "").unwrap()];
        assert_eq!(s.score(&p, &cs, None, &mut Vec::new()), vec![0.9, 0.5]);
    }
}
