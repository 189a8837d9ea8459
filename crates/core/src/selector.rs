//! The selector step (SPEC §7): score → beam → novelty → entropy → budget.

use serde::{Deserialize, Serialize};

use crate::beam::BeamSelector;
use crate::budget::{BudgetManager, BudgetState, BudgetUsage};
use crate::candidate::{Candidate, ScoredCandidate, validate_ids, validate_logprobs};
use crate::entropy::{EntropyDecision, EntropyState, ShannonEntropyStopper};
use crate::error::StepError;
use crate::model::Embedder;
use crate::novelty::NoveltyFilter;
use crate::scoring::Scorer;
use crate::vectors::{SimilarityMatrix, StepVectors};

/// Everything one step decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepResult {
    /// The survivors of every stage, best first; returned even when `should_continue` is false.
    pub kept: Vec<ScoredCandidate>,
    /// Every candidate with its score, in input order.
    pub scored: Vec<ScoredCandidate>,
    /// After the beam, best first.
    pub after_beam: Vec<ScoredCandidate>,
    /// After the novelty filter (equal to `after_beam` without one).
    pub after_novelty: Vec<ScoredCandidate>,
    /// Each candidate the novelty filter pruned, with the kept candidate it is most similar
    /// to (empty when no vectors were available).
    pub duplicates: Vec<Duplicate>,
    /// The entropy stopper's verdict, when one is configured.
    pub entropy: Option<EntropyDecision>,
    /// Whether exploration should expand the kept candidates.
    pub should_continue: bool,
    /// A soft budget refused the kept candidates.
    pub budget_exceeded: bool,
    /// Budget usage after the step, when a budget is configured.
    pub budget: Option<BudgetUsage>,
    /// Every fallback taken (no vectors, non-finite scores, …).
    pub warnings: Vec<String>,
}

/// A candidate the novelty filter pruned, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duplicate {
    /// The pruned candidate.
    pub id: String,
    /// The kept candidate it is most similar to.
    pub duplicate_of: String,
    /// Their cosine similarity.
    pub similarity: f64,
}

/// The selector's state between steps, for checkpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SelectorState {
    /// Entropy history.
    pub entropy: Option<EntropyState>,
    /// Budget usage.
    pub budget: Option<BudgetState>,
}

/// The selection pipeline.
pub struct BranchSelector {
    scorer: Box<dyn Scorer>,
    beam: BeamSelector,
    novelty: Option<Box<dyn NoveltyFilter>>,
    entropy: Option<ShannonEntropyStopper>,
    budget: Option<BudgetManager>,
}

impl BranchSelector {
    /// A pipeline of a scorer and a beam of width `k`, with no other stage.
    pub fn new(scorer: Box<dyn Scorer>, k: usize) -> Self {
        Self { scorer, beam: BeamSelector::new(k), novelty: None, entropy: None, budget: None }
    }

    /// Adds a novelty filter.
    pub fn with_novelty(mut self, filter: Box<dyn NoveltyFilter>) -> Self {
        self.novelty = Some(filter);
        self
    }

    /// Adds an entropy stopper.
    pub fn with_entropy(mut self, stopper: ShannonEntropyStopper) -> Self {
        self.entropy = Some(stopper);
        self
    }

    /// Adds a budget.
    pub fn with_budget(mut self, budget: BudgetManager) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The budget, when configured.
    pub fn budget(&self) -> Option<&BudgetManager> {
        self.budget.as_ref()
    }

    /// The budget, mutably (the explorer records generation costs in it).
    pub fn budget_mut(&mut self) -> Option<&mut BudgetManager> {
        self.budget.as_mut()
    }

    /// Whether any stage reads vectors.
    pub fn needs_embeddings(&self) -> bool {
        self.scorer.uses_embeddings() || self.novelty.is_some() || self.entropy.is_some()
    }

    /// Whether a stage other than the scorer needs vectors, so an embedding failure is fatal.
    fn vectors_required(&self) -> bool {
        self.novelty.is_some() || self.entropy.is_some()
    }

    /// Runs one step, embedding the parent, candidates and intents once each with `embedder`.
    pub async fn step(
        &mut self,
        parent: &Candidate,
        candidates: Vec<Candidate>,
        embedder: Option<&dyn Embedder>,
    ) -> Result<StepResult, StepError> {
        validate_ids(std::iter::once(parent.id.as_str()).chain(candidates.iter().map(|c| c.id.as_str())))?;
        validate_logprobs(&candidates)?;
        let mut warnings = Vec::new();
        let vectors = match embedder {
            Some(e) if self.needs_embeddings() && !candidates.is_empty() => {
                let intents = self.scorer.intent_texts(parent, &candidates);
                match StepVectors::embed(e, parent, &candidates, &intents).await {
                    Ok(v) => Some(v),
                    // Only the scorer wants vectors and it has a fallback; a NaN vector is
                    // still refused (it is an `Input` error, not an `Embedding` one).
                    Err(StepError::Embedding(err)) if !self.vectors_required() => {
                        warnings.push(format!("embedding failed: {err}"));
                        None
                    }
                    Err(err) => return Err(err),
                }
            }
            _ => None,
        };
        self.run(parent, candidates, vectors.as_ref(), warnings)
    }

    /// Runs one step on vectors the caller computed (`None`: no vectors at all).
    pub fn step_with_vectors(
        &mut self,
        parent: &Candidate,
        candidates: Vec<Candidate>,
        vectors: Option<&StepVectors>,
    ) -> Result<StepResult, StepError> {
        validate_ids(std::iter::once(parent.id.as_str()).chain(candidates.iter().map(|c| c.id.as_str())))?;
        validate_logprobs(&candidates)?;
        self.run(parent, candidates, vectors, Vec::new())
    }

    fn run(
        &mut self,
        parent: &Candidate,
        candidates: Vec<Candidate>,
        vectors: Option<&StepVectors>,
        mut warnings: Vec<String>,
    ) -> Result<StepResult, StepError> {
        let raw = self.scorer.score(parent, &candidates, vectors, &mut warnings);
        let scored: Vec<ScoredCandidate> = candidates
            .into_iter()
            .zip(raw)
            .map(|(c, s)| {
                let (sc, replaced) = ScoredCandidate::new(c, s);
                if replaced {
                    warnings.push(format!("candidate {:?}: score {s} is not finite; using 0", sc.id()));
                }
                sc
            })
            .collect();

        let beam_idx = self.beam.select(&scored);
        let after_beam: Vec<ScoredCandidate> = beam_idx.iter().map(|&i| scored[i].clone()).collect();

        let mut duplicates = Vec::new();
        let novelty_idx: Vec<usize> = match &self.novelty {
            Some(filter) => {
                let sims = vectors.map(|v| {
                    let rows: Vec<&[f32]> = beam_idx.iter().map(|&i| v.candidate(i)).collect();
                    SimilarityMatrix::new(&rows)
                });
                let keep = filter
                    .prune(&after_beam, sims.as_ref(), &mut warnings)
                    .map_err(|reason| StepError::MissingEmbeddings { stage: filter.name(), reason })?;
                if let Some(sims) = &sims {
                    duplicates = nearest_kept(&after_beam, &keep, sims);
                }
                keep.into_iter().map(|p| beam_idx[p]).collect()
            }
            None => beam_idx,
        };
        let after_novelty: Vec<ScoredCandidate> = novelty_idx.iter().map(|&i| scored[i].clone()).collect();

        let mut should_continue = true;
        let entropy = match &mut self.entropy {
            Some(stopper) => {
                let rows: Vec<&[f32]> = match vectors {
                    Some(v) => novelty_idx.iter().map(|&i| v.candidate(i)).collect(),
                    None if novelty_idx.len() >= 2 => {
                        return Err(StepError::MissingEmbeddings {
                            stage: "entropy",
                            reason: "no embeddings are available to cluster the kept candidates".into(),
                        });
                    }
                    None => vec![&[][..]; novelty_idx.len()],
                };
                let decision = stopper.decide(&rows);
                should_continue = decision.should_continue;
                Some(decision)
            }
            None => None,
        };

        let mut budget_exceeded = false;
        let budget = match &mut self.budget {
            Some(manager) => {
                let n = after_novelty.len() as u64;
                if n > 0 {
                    if !manager.admit(n, 100 * n, 50 * n)? {
                        should_continue = false;
                        budget_exceeded = true;
                    }
                    manager.record_nodes(n);
                }
                Some(manager.usage())
            }
            None => None,
        };

        Ok(StepResult {
            kept: after_novelty.clone(),
            scored,
            after_beam,
            after_novelty,
            duplicates,
            entropy,
            should_continue,
            budget_exceeded,
            budget,
            warnings,
        })
    }

    /// Entropy history and budget usage, for a checkpoint.
    pub fn state(&self) -> SelectorState {
        SelectorState {
            entropy: self.entropy.as_ref().map(ShannonEntropyStopper::state),
            budget: self.budget.as_ref().map(BudgetManager::state),
        }
    }

    /// Restores a checkpointed state (parts for stages that are not configured are ignored).
    pub fn restore(&mut self, state: SelectorState) {
        if let (Some(stopper), Some(s)) = (&mut self.entropy, state.entropy) {
            stopper.restore(s);
        }
        if let (Some(budget), Some(s)) = (&mut self.budget, state.budget) {
            budget.restore(s);
        }
    }

    /// Clears the entropy history (a new tree starts).
    pub fn reset(&mut self) {
        if let Some(stopper) = &mut self.entropy {
            stopper.reset();
        }
    }
}

/// For each of `ranked` not in `keep`, the kept candidate it is most similar to.
fn nearest_kept(ranked: &[ScoredCandidate], keep: &[usize], sims: &SimilarityMatrix) -> Vec<Duplicate> {
    (0..ranked.len())
        .filter(|p| !keep.contains(p))
        .filter_map(|p| {
            let (q, sim) = keep.iter().map(|&q| (q, f64::from(sims.get(p, q)))).max_by(|a, b| a.1.total_cmp(&b.1))?;
            Some(Duplicate { id: ranked[p].id().to_owned(), duplicate_of: ranked[q].id().to_owned(), similarity: sim })
        })
        .collect()
}
