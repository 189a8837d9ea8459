use serde::{Deserialize, Serialize};

use super::Scorer;
use crate::candidate::Candidate;
use crate::model::dot;
use crate::vectors::StepVectors;

/// Feature weights; normalised by the sum of the positive ones before use.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// exp(clamped mean logprob).
    pub confidence: f64,
    /// Similarity to the parent mapped to [0, 1].
    pub relevance: f64,
    /// 1 − similarity to the parent.
    pub novelty_parent: f64,
    /// Similarity to the intent text mapped to [0, 1].
    pub intent_alignment: f64,
    /// From the reward provider; only used when one is configured.
    pub historical_reward: f64,
}

impl Weights {
    /// The feature names, in the order of [`Weights::values`].
    pub const NAMES: [&'static str; 5] =
        ["confidence", "relevance", "novelty_parent", "intent_alignment", "historical_reward"];

    /// SPEC §2's defaults: 0.40 / 0.30 / 0.20 / 0.10, no reward.
    pub const SCORER_DEFAULT: Self =
        Self { confidence: 0.4, relevance: 0.3, novelty_parent: 0.2, intent_alignment: 0.1, historical_reward: 0.0 };

    /// SPEC §8's defaults for a configuration without `scorer.weights`.
    pub const CONFIG_DEFAULT: Self =
        Self { confidence: 0.3, relevance: 0.25, novelty_parent: 0.2, intent_alignment: 0.15, historical_reward: 0.1 };

    /// The weights in [`Weights::NAMES`] order.
    pub fn values(&self) -> [f64; 5] {
        [self.confidence, self.relevance, self.novelty_parent, self.intent_alignment, self.historical_reward]
    }

    /// Divides by the sum of the positive weights; falls back to [`Weights::SCORER_DEFAULT`]
    /// when none is positive.
    pub fn normalised(&self) -> Self {
        let sum: f64 = self.values().iter().filter(|w| **w > 0.0).sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return Self::SCORER_DEFAULT;
        }
        let [confidence, relevance, novelty_parent, intent_alignment, historical_reward] =
            self.values().map(|w| w / sum);
        Self { confidence, relevance, novelty_parent, intent_alignment, historical_reward }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Self::SCORER_DEFAULT
    }
}

/// What a reward provider learns about the candidate it scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardContext {
    /// Candidate's `tenant_id`, else the parent's.
    pub tenant_id: Option<String>,
    /// The parent's `intent`.
    pub intent: Option<String>,
    /// The candidate's `template_id`.
    pub template_id: Option<String>,
    /// The parent's id.
    pub parent_id: String,
}

/// Historical reward from past outcomes, in [0, 1].
pub trait RewardProvider: Send + Sync {
    /// The reward of `candidate`; an error counts as the neutral 0.5 (with a warning).
    fn reward(&self, candidate: &Candidate, context: &RewardContext) -> Result<f64, String>;
}

/// Weighted sum of confidence, relevance, novelty from the parent, intent alignment and
/// (optionally) historical reward.
pub struct CompositeScorer {
    weights: Weights,
    reward: Option<Box<dyn RewardProvider>>,
}

impl CompositeScorer {
    /// A scorer with these weights (normalised here).
    pub fn new(weights: Weights) -> Self {
        Self { weights: weights.normalised(), reward: None }
    }

    /// Adds a reward provider, used when `historical_reward` has a positive weight.
    pub fn with_reward_provider(mut self, provider: Box<dyn RewardProvider>) -> Self {
        self.reward = Some(provider);
        self
    }

    /// The normalised weights in use.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    fn intent<'a>(parent: &'a Candidate, candidate: &'a Candidate) -> Option<&'a str> {
        candidate.meta_str("target_intent").or_else(|| parent.meta_str("intent"))
    }
}

impl Default for CompositeScorer {
    fn default() -> Self {
        Self::new(Weights::SCORER_DEFAULT)
    }
}

/// exp(clamp(logprob, −10, 0)); 0.5 when absent.
fn confidence(candidate: &Candidate, warnings: &mut Vec<String>) -> f64 {
    match candidate.meta.get("logprobs") {
        None => 0.5,
        Some(v) => match v.as_f64() {
            Some(lp) if lp.is_nan() => f64::NAN,
            Some(lp) => lp.clamp(-10.0, 0.0).exp(),
            None => {
                warnings.push(format!(
                    "candidate {:?}: meta.logprobs is {v}, not a number; confidence uses the neutral 0.5",
                    candidate.id
                ));
                0.5
            }
        },
    }
}

fn is_zero(v: &[f32]) -> bool {
    v.iter().all(|x| *x == 0.0)
}

impl Scorer for CompositeScorer {
    fn uses_embeddings(&self) -> bool {
        let w = &self.weights;
        w.relevance > 0.0 || w.novelty_parent > 0.0 || w.intent_alignment > 0.0
    }

    fn intent_texts<'a>(&self, parent: &'a Candidate, candidates: &'a [Candidate]) -> Vec<&'a str> {
        if self.weights.intent_alignment <= 0.0 {
            return Vec::new();
        }
        candidates.iter().filter_map(|c| Self::intent(parent, c)).collect()
    }

    fn score(
        &self,
        parent: &Candidate,
        candidates: &[Candidate],
        vectors: Option<&StepVectors>,
        warnings: &mut Vec<String>,
    ) -> Vec<f64> {
        let w = &self.weights;
        let sims = vectors.map(StepVectors::parent_similarities);
        let parent_zero = vectors.is_some_and(|v| is_zero(v.parent()));
        let use_reward = self.reward.is_some() && w.historical_reward > 0.0;
        let mut missing_intent_vectors = 0usize;
        let scores = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (relevance, novelty) = match (&sims, vectors) {
                    (Some(s), Some(v)) if !parent_zero && !is_zero(v.candidate(i)) => {
                        let cos = f64::from(s[i]);
                        ((cos + 1.0) / 2.0, (1.0 - cos).clamp(0.0, 1.0))
                    }
                    _ => (0.5, 0.5),
                };
                let intent = match (Self::intent(parent, c), vectors) {
                    (Some(text), Some(v)) if w.intent_alignment > 0.0 => match v.intent(text) {
                        Some(iv) if !is_zero(iv) && !is_zero(v.candidate(i)) => {
                            (f64::from(dot(iv, v.candidate(i))) + 1.0) / 2.0
                        }
                        Some(_) => 0.5,
                        None => {
                            missing_intent_vectors += 1;
                            0.5
                        }
                    },
                    _ => 0.5,
                };
                let reward = match &self.reward {
                    Some(provider) if use_reward => {
                        let context = RewardContext {
                            tenant_id: c
                                .meta_str("tenant_id")
                                .or_else(|| parent.meta_str("tenant_id"))
                                .map(str::to_owned),
                            intent: parent.meta_str("intent").map(str::to_owned),
                            template_id: c.meta_str("template_id").map(str::to_owned),
                            parent_id: parent.id.clone(),
                        };
                        provider.reward(c, &context).unwrap_or_else(|e| {
                            warnings.push(format!("candidate {:?}: reward provider failed ({e}); using 0.5", c.id));
                            0.5
                        })
                    }
                    _ => 0.0,
                };
                // Without a provider the reward feature is 0, so its weight adds nothing.
                let features = [confidence(c, warnings), relevance, novelty, intent, reward];
                let score: f64 = w
                    .values()
                    .iter()
                    .zip(features)
                    .filter(|(wk, _)| **wk > 0.0)
                    .map(|(wk, f)| wk * if f.is_finite() { f } else { 0.0 })
                    .sum();
                score.clamp(0.0, 1.0)
            })
            .collect();
        if vectors.is_none() && self.uses_embeddings() && !candidates.is_empty() {
            warnings.push("no embeddings for this step: relevance and novelty_parent use the neutral 0.5".into());
        }
        if missing_intent_vectors > 0 {
            warnings.push(format!(
                "{missing_intent_vectors} intent text(s) have no vector (no embedder): intent_alignment uses 0.5 for them"
            ));
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, text: &str) -> Candidate {
        Candidate::new(id, text).unwrap()
    }

    #[test]
    fn weights_normalise_by_positive_sum_and_fall_back_to_defaults() {
        let w = Weights {
            confidence: 2.0,
            relevance: 2.0,
            novelty_parent: -1.0,
            intent_alignment: 0.0,
            historical_reward: 0.0,
        };
        let n = w.normalised();
        assert_eq!((n.confidence, n.relevance, n.novelty_parent), (0.5, 0.5, -0.25));
        let zero = Weights {
            confidence: 0.0,
            relevance: -1.0,
            novelty_parent: 0.0,
            intent_alignment: 0.0,
            historical_reward: 0.0,
        };
        assert_eq!(zero.normalised(), Weights::SCORER_DEFAULT);
    }

    #[test]
    fn confidence_uses_clamped_logprobs() {
        let scorer = CompositeScorer::new(Weights {
            confidence: 1.0,
            relevance: 0.0,
            novelty_parent: 0.0,
            intent_alignment: 0.0,
            historical_reward: 0.0,
        });
        let p = cand("p", "");
        let cs = [
            cand("a", "").with_meta("logprobs", -0.5),
            cand("b", "").with_meta("logprobs", -50.0),
            cand("c", "").with_meta("logprobs", 3.0),
            cand("d", ""),
        ];
        let s = scorer.score(&p, &cs, None, &mut Vec::new());
        assert!((s[0] - (-0.5f64).exp()).abs() < 1e-12);
        assert!((s[1] - (-10f64).exp()).abs() < 1e-12);
        assert_eq!(s[2], 1.0);
        assert_eq!(s[3], 0.5);
    }

    #[test]
    fn relevance_and_novelty_come_from_parent_similarity() {
        let scorer = CompositeScorer::new(Weights {
            confidence: 0.0,
            relevance: 0.5,
            novelty_parent: 0.5,
            intent_alignment: 0.0,
            historical_reward: 0.0,
        });
        let p = cand("p", "parent");
        let cs = [cand("a", "same"), cand("b", "orthogonal"), cand("z", "zero")];
        let v =
            StepVectors::precomputed(("p", &[1.0, 0.0]), &[("a", &[1.0, 0.0]), ("b", &[0.0, 1.0]), ("z", &[0.0, 0.0])])
                .unwrap();
        let s = scorer.score(&p, &cs, Some(&v), &mut Vec::new());
        // same: relevance 1, novelty 0; orthogonal: 0.5 and 1; zero vector: 0.5 and 0.5.
        assert!((s[0] - 0.5).abs() < 1e-9);
        assert!((s[1] - 0.75).abs() < 1e-9);
        assert!((s[2] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn missing_vectors_warn_instead_of_falling_back_silently() {
        let scorer = CompositeScorer::default();
        let mut warnings = Vec::new();
        let s = scorer.score(&cand("p", ""), &[cand("a", "")], None, &mut warnings);
        assert!((s[0] - 0.5).abs() < 1e-9);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn reward_weight_is_ignored_without_a_provider() {
        let w = Weights {
            confidence: 0.5,
            relevance: 0.0,
            novelty_parent: 0.0,
            intent_alignment: 0.0,
            historical_reward: 0.5,
        };
        let s = CompositeScorer::new(w).score(&cand("p", ""), &[cand("a", "")], None, &mut Vec::new());
        assert!((s[0] - 0.25).abs() < 1e-9);
    }

    struct FixedReward(Result<f64, String>);
    impl RewardProvider for FixedReward {
        fn reward(&self, _: &Candidate, context: &RewardContext) -> Result<f64, String> {
            assert_eq!(context.parent_id, "p");
            assert_eq!(context.tenant_id.as_deref(), Some("t1"));
            self.0.clone()
        }
    }

    #[test]
    fn reward_provider_feeds_the_score_and_its_failure_is_neutral() {
        let w = Weights {
            confidence: 0.0,
            relevance: 0.0,
            novelty_parent: 0.0,
            intent_alignment: 0.0,
            historical_reward: 1.0,
        };
        let p = cand("p", "").with_meta("tenant_id", "t1");
        let ok = CompositeScorer::new(w).with_reward_provider(Box::new(FixedReward(Ok(0.9))));
        assert_eq!(ok.score(&p, &[cand("a", "")], None, &mut Vec::new()), vec![0.9]);
        let failing = CompositeScorer::new(w).with_reward_provider(Box::new(FixedReward(Err("down".into()))));
        let mut warnings = Vec::new();
        assert_eq!(failing.score(&p, &[cand("a", "")], None, &mut warnings), vec![0.5]);
        assert!(warnings[0].contains("down"));
    }

    #[test]
    fn intent_alignment_uses_target_intent_before_parent_intent() {
        let w = Weights {
            confidence: 0.0,
            relevance: 0.0,
            novelty_parent: 0.0,
            intent_alignment: 1.0,
            historical_reward: 0.0,
        };
        let scorer = CompositeScorer::new(w);
        let p = cand("p", "parent").with_meta("intent", "parent intent");
        let cs = [cand("a", "x").with_meta("target_intent", "own intent"), cand("b", "y")];
        assert_eq!(scorer.intent_texts(&p, &cs), vec!["own intent", "parent intent"]);
    }
}
