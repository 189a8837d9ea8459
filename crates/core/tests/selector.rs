mod support;

use std::sync::atomic::Ordering;

use autobranch_core::budget::{Budget, BudgetManager, BudgetMode};
use autobranch_core::config::Config;
use autobranch_core::entropy::ShannonEntropyStopper;
use autobranch_core::error::{InputError, StepError};
use autobranch_core::novelty::CosineNoveltyFilter;
use autobranch_core::scoring::{CompositeScorer, StaticScorer};
use autobranch_core::{BranchSelector, Candidate, StepVectors};
use support::HashEmbedder;

fn cand(id: &str, text: &str) -> Candidate {
    Candidate::new(id, text).unwrap()
}

fn candidates() -> Vec<Candidate> {
    vec![
        cand("c1", "the red ship drifted"),
        cand("c2", "the red ship drifted"),
        cand("c3", "a quiet city in the rain"),
        cand("c4", "memory returned slowly").with_meta("target_intent", "a detective story"),
    ]
}

#[tokio::test]
async fn each_distinct_text_is_embedded_once_in_one_call() {
    let embedder = HashEmbedder::default();
    let mut selector = Config::default().build_selector();
    let parent = cand("p", "the red ship drifted").with_meta("intent", "a detective story");
    let result = selector.step(&parent, candidates(), Some(&embedder)).await.unwrap();
    assert_eq!(embedder.calls.load(Ordering::SeqCst), 1);
    let mut texts = embedder.texts.lock().unwrap().clone();
    let n = texts.len();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), n, "a text was embedded twice");
    // parent (= c1 = c2), c3, c4, and the shared intent text.
    assert_eq!(n, 4);
    // c1 and c2 are identical: cosine novelty keeps one of them.
    let kept: Vec<&str> = result.kept.iter().map(|c| c.id()).collect();
    assert!(!(kept.contains(&"c1") && kept.contains(&"c2")), "{kept:?}");
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    assert_eq!(result.scored.iter().map(|c| c.id()).collect::<Vec<_>>(), ["c1", "c2", "c3", "c4"]);
}

#[tokio::test]
async fn embedding_failure_is_an_error_when_novelty_needs_vectors() {
    let embedder = HashEmbedder { fail: true, ..Default::default() };
    let mut selector = Config::default().build_selector();
    let err = selector.step(&cand("p", "x"), candidates(), Some(&embedder)).await.unwrap_err();
    assert!(matches!(err, StepError::Embedding(_)), "{err}");
}

#[tokio::test]
async fn embedding_failure_with_only_the_scorer_falls_back_with_a_warning() {
    let embedder = HashEmbedder { fail: true, ..Default::default() };
    let mut selector = BranchSelector::new(Box::new(CompositeScorer::default()), 2);
    let result = selector.step(&cand("p", "x"), candidates(), Some(&embedder)).await.unwrap();
    assert_eq!(result.kept.len(), 2);
    assert!(result.warnings.iter().any(|w| w.contains("embedding failed")), "{:?}", result.warnings);
    assert!(result.warnings.iter().any(|w| w.contains("neutral 0.5")), "{:?}", result.warnings);
}

#[test]
fn missing_vectors_for_cosine_novelty_is_an_error_naming_the_stage() {
    let mut selector = BranchSelector::new(Box::new(StaticScorer::new(Default::default())), 3)
        .with_novelty(Box::new(CosineNoveltyFilter::new(0.9)));
    let err = selector.step_with_vectors(&cand("p", "x"), candidates(), None).unwrap_err();
    assert!(err.to_string().contains("cosine novelty"), "{err}");
}

#[test]
fn invalid_ids_are_rejected() {
    let mut selector = Config::default().build_selector();
    let mut cs = candidates();
    cs[1].id = "c1".into();
    assert!(matches!(
        selector.step_with_vectors(&cand("p", "x"), cs, None),
        Err(StepError::Input(InputError::DuplicateId(id))) if id == "c1"
    ));
    let mut cs = candidates();
    cs[0].id.clear();
    assert!(matches!(
        selector.step_with_vectors(&cand("p", "x"), cs, None),
        Err(StepError::Input(InputError::EmptyId))
    ));
}

fn static_selector(scores: &[(&str, f64)], k: usize) -> BranchSelector {
    BranchSelector::new(Box::new(StaticScorer::new(scores.iter().map(|(k, v)| (k.to_string(), *v)).collect())), k)
}

#[test]
fn soft_budget_refusal_stops_but_still_returns_kept() {
    let budget = BudgetManager::new(Budget { max_nodes: 3, max_tokens: 10_000, max_ms: 10_000 }, BudgetMode::Soft);
    let mut selector = static_selector(&[("c1", 0.9), ("c2", 0.8), ("c3", 0.7)], 2).with_budget(budget);
    let first = selector.step_with_vectors(&cand("p", "x"), candidates(), None).unwrap();
    assert!(first.should_continue && !first.budget_exceeded);
    assert_eq!(first.budget.unwrap().used_nodes, 2);
    let second = selector.step_with_vectors(&cand("p", "x"), candidates(), None).unwrap();
    assert!(!second.should_continue && second.budget_exceeded);
    assert_eq!(second.kept.len(), 2);
}

#[test]
fn strict_budget_refusal_is_an_error_with_caps_and_usage() {
    let budget = BudgetManager::new(Budget { max_nodes: 100, max_tokens: 150, max_ms: 10_000 }, BudgetMode::Strict);
    let mut selector = static_selector(&[], 2).with_budget(budget);
    let err = selector.step_with_vectors(&cand("p", "x"), candidates(), None).unwrap_err();
    let StepError::Budget(e) = err else { panic!("budget error expected") };
    assert_eq!((e.requested, e.est_tokens, e.est_ms, e.max_tokens), (2, 200, 100, 150));
}

#[test]
fn state_checkpoint_restores_entropy_history_and_budget() {
    let make = || {
        static_selector(&[("c1", 0.9), ("c3", 0.7)], 3)
            .with_entropy(ShannonEntropyStopper::new(0.1, 3, Some(0.5), 42))
            .with_budget(BudgetManager::new(Budget::default(), BudgetMode::Soft))
    };
    let parent = cand("p", "a b");
    let cs = candidates();
    let rows: Vec<Vec<f32>> = cs.iter().map(|c| support::hash_vector(&c.text)).collect();
    let pairs: Vec<(&str, &[f32])> = cs.iter().zip(&rows).map(|(c, r)| (c.id.as_str(), r.as_slice())).collect();
    let pv = support::hash_vector(&parent.text);
    let vectors = StepVectors::precomputed(("p", &pv), &pairs).unwrap();
    let mut a = make();
    a.step_with_vectors(&parent, cs.clone(), Some(&vectors)).unwrap();
    let saved = a.state();
    let next_a = a.step_with_vectors(&parent, cs.clone(), Some(&vectors)).unwrap();
    let mut b = make();
    b.restore(saved);
    let next_b = b.step_with_vectors(&parent, cs.clone(), Some(&vectors)).unwrap();
    assert_eq!(next_a, next_b);
    assert!(next_a.entropy.unwrap().delta.is_some(), "history came across");
    assert_eq!(next_b.budget.unwrap().used_nodes, 6);
    b.reset();
    assert!(b.step_with_vectors(&parent, cs, Some(&vectors)).unwrap().entropy.unwrap().delta.is_none());
}

#[test]
fn precomputed_vectors_are_checked() {
    let err = StepVectors::precomputed(("p", &[1.0, 0.0]), &[("a", &[1.0])]).unwrap_err();
    assert_eq!(err, InputError::MismatchedDimensions { id: "a".into(), expected: 2, actual: 1 });
    let err = StepVectors::precomputed(("p", &[1.0, 0.0]), &[("a", &[f32::NAN, 0.0])]).unwrap_err();
    assert_eq!(err, InputError::NonFiniteEmbedding { id: "a".into(), index: 0 });
    let err = StepVectors::precomputed(("p", &[]), &[]).unwrap_err();
    assert_eq!(err, InputError::EmptyEmbedding { id: "p".into() });
}

/// Returns NaN in one component of the vector of every text containing "poison", building
/// the matrix the way backends do (so `Embeddings` itself refuses it).
struct PoisonEmbedder;

#[async_trait::async_trait]
impl autobranch_core::Embedder for PoisonEmbedder {
    fn model_id(&self) -> &str {
        "poison"
    }
    fn dim(&self) -> usize {
        support::DIM
    }
    async fn embed(&self, texts: &[String]) -> Result<autobranch_core::Embeddings, autobranch_core::ModelError> {
        let rows: Vec<Vec<f32>> = texts
            .iter()
            .map(|t| {
                let mut v = support::hash_vector(t);
                if t.contains("poison") {
                    v[3] = f32::NAN;
                }
                v
            })
            .collect();
        autobranch_core::Embeddings::from_rows(&rows)
    }
}

#[tokio::test]
async fn a_nan_embedding_is_refused_naming_the_candidate_even_without_vector_stages() {
    let mut cs = candidates();
    cs[2].text = "poison in the well".into();
    let message = "embedding of \"c3\" holds a non-finite value at index 3; vectors must be finite";
    // Novelty needs vectors; the scorer alone would otherwise fall back with a warning.
    let selectors = [Config::default().build_selector(), BranchSelector::new(Box::new(CompositeScorer::default()), 2)];
    for mut selector in selectors {
        let err = selector.step(&cand("p", "x"), cs.clone(), Some(&PoisonEmbedder)).await.unwrap_err();
        assert!(
            matches!(&err, StepError::Input(InputError::NonFiniteEmbedding { id, index: 3 }) if id == "c3"),
            "{err}"
        );
        assert_eq!(err.to_string(), message);
    }
    let err = Config::default().build_selector().step(&cand("p", "poison"), candidates(), Some(&PoisonEmbedder)).await;
    assert!(matches!(err, Err(StepError::Input(InputError::NonFiniteEmbedding { id, .. })) if id == "p"));
}

#[test]
fn a_null_logprob_is_refused_naming_the_candidate() {
    let mut selector = static_selector(&[], 2);
    let mut cs = candidates();
    cs[1] = cs[1].clone().with_meta("logprobs", f64::INFINITY);
    let err = selector.step_with_vectors(&cand("p", "x"), cs, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "candidate \"c2\" has meta.logprobs = null; it must be a finite number (JSON writes NaN and infinities \
         as null), or be left out"
    );
}
