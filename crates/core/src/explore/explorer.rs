use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use thiserror::Error;

use super::checkpoint::CheckpointError;
use super::tree::{EntropyRecord, Exploration, ModelIds, Node, NodeStatus, Pruning, StopReason};
use crate::beam;
use crate::budget::BudgetExceeded;
use crate::candidate::Candidate;
use crate::config::{Config, ConfigError, ExpandMode};
use crate::error::{InputError, StepError};
use crate::model::{ChatMessage, Embedder, GenerationRequest, Generator, ModelError, Prompt, Role};
use crate::selector::BranchSelector;

/// Why exploration failed.
#[derive(Debug, Error)]
pub enum ExploreError {
    /// The generator failed.
    #[error("generation failed at node {node}: {source}")]
    Generation {
        /// The node being expanded.
        node: String,
        /// The backend's error.
        #[source]
        source: ModelError,
    },
    /// The generator broke its contract.
    #[error("generator returned {actual} candidates for node {node}, asked for {expected}")]
    WrongCandidateCount {
        /// The node being expanded.
        node: String,
        /// n.
        expected: usize,
        /// What came back.
        actual: usize,
    },
    /// A selector step failed.
    #[error("selection failed at node {node}: {source}")]
    Step {
        /// The node being expanded.
        node: String,
        /// The step's error.
        #[source]
        source: StepError,
    },
    /// A strict budget refused the next generation.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A resume under a configuration that differs from the checkpoint's.
    #[error("cannot resume: the configuration differs from the checkpoint's at {}", .0.join(", "))]
    ConfigMismatch(Vec<String>),
    /// The state's counters cannot continue (only an exploration built by hand, not one that
    /// [`Exploration::load`] accepted, gets here).
    #[error("the exploration cannot continue: {0}")]
    InconsistentState(String),
}

/// One expansion about to run.
struct Planned {
    /// The node expanded.
    index: usize,
    parent_id: String,
    request: GenerationRequest,
}

/// Drives a [`Generator`] and an [`Embedder`] through the selector, node by node or a
/// whole level at a time.
pub struct Explorer<'a> {
    generator: &'a dyn Generator,
    embedder: Option<&'a dyn Embedder>,
    selector: BranchSelector,
    config: Config,
    continue_instruction: String,
}

impl<'a> Explorer<'a> {
    /// An explorer with the selector, sampling and shape described by `config`.
    pub fn new(generator: &'a dyn Generator, embedder: Option<&'a dyn Embedder>, config: Config) -> Self {
        Self {
            generator,
            embedder,
            selector: config.build_selector(),
            config,
            continue_instruction: "Continue.".into(),
        }
    }

    /// The configuration it explores under.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The user turn that asks for the next part below an existing path (default "Continue.").
    pub fn with_continue_instruction(mut self, text: impl Into<String>) -> Self {
        self.continue_instruction = text.into();
        self
    }

    fn fingerprint(&self) -> Value {
        serde_json::json!({
            "config": serde_json::to_value(&self.config).unwrap_or(Value::Null),
            "continue_instruction": self.continue_instruction,
        })
    }

    /// A fresh exploration of `prompt`.
    pub fn start(&mut self, prompt: &str) -> Exploration {
        self.selector = self.config.build_selector();
        let root = Node {
            id: "n0".into(),
            parent: None,
            depth: 0,
            text: prompt.to_owned(),
            score: None,
            status: NodeStatus::Root,
            tokens: 0,
            logprob_mean: None,
            finish_reason: None,
            gen_ms: 0.0,
            pruned_by: None,
        };
        Exploration {
            version: Exploration::VERSION,
            nodes: vec![root],
            stop_reason: None,
            budget: self.selector.budget().map(|b| b.usage()),
            entropy_history: Vec::new(),
            config: self.fingerprint(),
            models: ModelIds {
                generator: self.generator.model_id().to_owned(),
                embedder: self.embedder.map(|e| e.model_id().to_owned()),
            },
            warnings: Vec::new(),
            queue: [0].into(),
            expansions: 0,
            selector_state: self.selector.state(),
            stats: Default::default(),
        }
    }

    /// The configuration a checkpoint was made under, validated by the rules of a
    /// configuration file; the error names the key (`beam_k`, `entropy.k_max`, …).
    pub fn checkpoint_config(state: &Exploration) -> Result<Config, ConfigError> {
        match state.config.get("config") {
            Some(config) => Config::from_serde_value(config),
            None => Err(ConfigError::WrongType {
                key: "config".into(),
                expected: "the configuration the checkpoint was made under".into(),
                found: "nothing".into(),
            }),
        }
    }

    /// Prepares to continue `state` (from a checkpoint); refuses when the configuration
    /// differs, naming each differing key.
    pub fn resume(&mut self, state: &Exploration) -> Result<(), ExploreError> {
        let mut diffs = Vec::new();
        diff_values("", &state.config, &self.fingerprint(), &mut diffs);
        if !diffs.is_empty() {
            return Err(ExploreError::ConfigMismatch(diffs));
        }
        self.selector = self.config.build_selector();
        self.selector.restore(state.selector_state);
        Ok(())
    }

    fn prompt_for(&self, state: &Exploration, index: usize) -> Prompt {
        let mut messages = Vec::new();
        if let Some(system) = &self.config.system {
            messages.push(ChatMessage::new(Role::System, system.clone()));
        }
        messages.push(ChatMessage::new(Role::User, state.prompt()));
        for node in state.path_to(index) {
            messages.push(ChatMessage::new(Role::Assistant, node.text.clone()));
            messages.push(ChatMessage::new(Role::User, self.continue_instruction.clone()));
        }
        Prompt::Chat(messages)
    }

    fn finish(state: &mut Exploration, reason: StopReason) {
        for &i in &state.queue {
            state.nodes[i].status = NodeStatus::NotExpanded;
        }
        state.queue.clear();
        state.stop_reason = Some(reason);
    }

    /// Expands the next queued node, or (with `explore.expand: level`, the default) every
    /// queued node of the shallowest queued depth in one generator batch. Nodes are recorded
    /// and selected in queue order either way, with the same seeds, so both modes build the
    /// same tree wherever the backend's numbers do not depend on what shares its batch.
    /// Returns `false` once exploration has ended.
    pub async fn expand_next(&mut self, state: &mut Exploration) -> Result<bool, ExploreError> {
        if state.is_finished() {
            return Ok(false);
        }
        let Some(&front) = state.queue.front() else {
            let deepest =
                state.nodes.iter().any(|n| n.depth == self.config.explore.max_depth && n.status == NodeStatus::Kept);
            Self::finish(state, if deepest { StopReason::MaxDepth } else { StopReason::Exhausted });
            return Ok(false);
        };
        let frontier: Vec<usize> = match self.config.explore.expand {
            ExpandMode::Node => vec![front],
            ExpandMode::Level => {
                let depth = state.nodes[front].depth;
                state.queue.iter().copied().take_while(|&i| state.nodes[i].depth == depth).collect()
            }
        };
        // As many as the budget admits, in queue order; the rest wait for the next call.
        let mut admitted = 0;
        for count in 1..=frontier.len() as u64 {
            match self.admit(state, count) {
                Ok(true) => admitted += 1,
                Ok(false) => break,
                Err(e) if admitted == 0 => {
                    Self::finish(state, StopReason::BudgetExceeded);
                    return Err(e.into());
                }
                Err(_) => break,
            }
        }
        if admitted == 0 {
            Self::finish(state, StopReason::BudgetExceeded);
            return Ok(false);
        }
        let plans: Vec<Planned> = frontier[..admitted]
            .iter()
            .enumerate()
            .map(|(j, &index)| self.plan(state, index, j as u64))
            .collect::<Result<_, _>>()?;
        let requests: Vec<GenerationRequest> = plans.iter().map(|p| p.request.clone()).collect();
        let started = Instant::now();
        let generations = match requests.as_slice() {
            [one] => vec![self.generator.generate(one).await],
            many => self.generator.generate_batch(many).await,
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if generations.len() != plans.len() {
            return Err(ExploreError::InconsistentState(format!(
                "the generator answered {} of {} requests",
                generations.len(),
                plans.len()
            )));
        }
        // The batch's time, split by generated tokens, is each expansion's time for the budget.
        let tokens: Vec<u64> =
            generations.iter().map(|g| g.as_ref().map_or(0, crate::model::Generation::generated_tokens)).collect();
        let total: u64 = tokens.iter().sum();
        let mut going = true;
        for ((plan, generation), t) in plans.into_iter().zip(generations).zip(tokens) {
            let generation =
                generation.map_err(|source| ExploreError::Generation { node: plan.parent_id.clone(), source })?;
            let ms = match total {
                0 => elapsed_ms / admitted as u64,
                total => (elapsed_ms as u128 * u128::from(t) / u128::from(total)) as u64,
            };
            if !self.record(state, plan, generation, ms).await? {
                going = false;
                break;
            }
        }
        // A prompt cache keeps the queued nodes' paths and may let the pruned ones go.
        let next: Vec<Prompt> = state.queue.iter().map(|&i| self.prompt_for(state, i)).collect();
        self.generator.expect_prompts(&self.prompt_for(state, 0), &next).await;
        Ok(going)
    }

    /// Whether the budget admits `count` more expansions (estimated from the ones so far).
    fn admit(&self, state: &Exploration, count: u64) -> Result<bool, BudgetExceeded> {
        let Some(budget) = self.selector.budget() else { return Ok(true) };
        let n = self.config.explore.n as u64;
        let est_ms = budget.usage().used_ms.checked_div(state.expansions).unwrap_or(0);
        let est_tokens = n.saturating_mul(u64::from(self.config.generation.max_tokens));
        budget.admit(n.saturating_mul(count), est_tokens.saturating_mul(count), est_ms.saturating_mul(count))
    }

    /// The request of node `index`, the `ahead`-th expansion after those done. Expansion e's
    /// candidates take seeds seed + e·n + i: a seed depends on the node's place in the
    /// expansion order, never on what shares its batch.
    fn plan(&self, state: &Exploration, index: usize, ahead: u64) -> Result<Planned, ExploreError> {
        let n = self.config.explore.n;
        let sampling = &self.config.generation;
        // The product is checked (a counter that large is an invalid state, not a seed); the
        // sum wraps like `GenerationRequest::candidate_seed`, since seeds are taken modulo 2^64.
        // The expansion's number, and one more for the counter after it.
        let expansion = state.expansions.checked_add(ahead).filter(|&e| e < u64::MAX);
        let Some(seed_offset) = expansion.and_then(|e| e.checked_mul(n as u64)) else {
            return Err(ExploreError::InconsistentState(format!(
                "expansions = {} leaves no seeds to derive",
                state.expansions
            )));
        };
        let mut request_sampling = sampling.clone();
        request_sampling.seed = sampling.seed.wrapping_add(seed_offset);
        Ok(Planned {
            index,
            parent_id: state.nodes[index].id.clone(),
            request: GenerationRequest { prompt: self.prompt_for(state, index), n, sampling: request_sampling },
        })
    }

    /// Records the generation of one planned expansion (its node at the queue's front):
    /// the children, their selection, the queue and the stop decision. Returns `false`
    /// once exploration has ended.
    async fn record(
        &mut self,
        state: &mut Exploration,
        plan: Planned,
        generation: crate::model::Generation,
        elapsed_ms: u64,
    ) -> Result<bool, ExploreError> {
        let Planned { index, parent_id, .. } = plan;
        let n = self.config.explore.n;
        if state.queue.front() != Some(&index) {
            return Err(ExploreError::InconsistentState(format!("node {parent_id} is not next in the queue")));
        }
        let expansions = state.expansions.saturating_add(1);
        if generation.candidates.len() != n {
            return Err(ExploreError::WrongCandidateCount {
                node: parent_id,
                expected: n,
                actual: generation.candidates.len(),
            });
        }
        let first_child = state.nodes.len();
        // Refused before anything is recorded: a NaN would reach the score (JSON would turn it
        // into a silent null), and the checkpoint could not hold it.
        if let Some((i, lp)) = generation
            .candidates
            .iter()
            .enumerate()
            .find_map(|(i, g)| g.logprob_mean.filter(|lp| !lp.is_finite()).map(|lp| (i, lp)))
        {
            let id = format!("n{}", first_child + i);
            let source = StepError::Input(InputError::NonFiniteLogprobs { id, value: lp.to_string() });
            return Err(ExploreError::Step { node: parent_id, source });
        }
        state.queue.pop_front();
        state.expansions = expansions;
        state.stats.prompt_tokens += generation.timings.prompt_tokens;
        state.stats.prompt_tokens_cached += generation.timings.prompt_cached;

        let depth = state.nodes[index].depth + 1;
        let candidates: Vec<Candidate> = generation
            .candidates
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut c =
                    Candidate { id: format!("n{}", first_child + i), text: g.text.clone(), meta: Default::default() };
                if let Some(lp) = g.logprob_mean {
                    c.meta.insert("logprobs".into(), lp.into());
                }
                c
            })
            .collect();
        let index_of: HashMap<String, usize> =
            candidates.iter().enumerate().map(|(i, c)| (c.id.clone(), first_child + i)).collect();
        let parent =
            Candidate { id: parent_id.clone(), text: state.nodes[index].text.clone(), meta: Default::default() };
        // The batch's time as the backend measured it (prompt and decode), split by
        // generated tokens (equally when none were).
        let batch_ms = generation.timings.prompt_ms + generation.timings.generate_ms;
        let total_tokens: u64 = generation.candidates.iter().map(|g| u64::from(g.tokens)).sum();
        let share = |tokens: u32| match total_tokens {
            0 => batch_ms / n as f64,
            t => batch_ms * f64::from(tokens) / t as f64,
        };
        for (c, g) in candidates.iter().zip(&generation.candidates) {
            state.nodes.push(Node {
                id: c.id.clone(),
                parent: Some(parent_id.clone()),
                depth,
                text: c.text.clone(),
                score: None,
                status: NodeStatus::PrunedBeam,
                tokens: g.tokens,
                logprob_mean: g.logprob_mean,
                finish_reason: Some(g.finish_reason),
                gen_ms: share(g.tokens),
                pruned_by: None,
            });
        }

        let step = self.selector.step(&parent, candidates, self.embedder).await;
        // Record the generation's cost even when the step fails.
        let tokens = state_tokens(&generation);
        if let Some(budget) = self.selector.budget_mut() {
            budget.update(tokens, elapsed_ms);
        }
        let result = step.map_err(|source| ExploreError::Step { node: parent_id.clone(), source })?;

        let mut ranked: Vec<&crate::candidate::ScoredCandidate> = result.scored.iter().collect();
        ranked.sort_by(|a, b| beam::rank(a, b));
        for (r, sc) in ranked.iter().enumerate() {
            let i = index_of[sc.id()];
            state.nodes[i].score = Some(sc.score);
            state.nodes[i].pruned_by = Some(Pruning::Beam { rank: r + 1, k: self.config.beam_k });
        }
        let threshold = match self.config.novelty {
            Some(crate::config::NoveltyConfig::Cosine { threshold }) => Some(threshold),
            Some(crate::config::NoveltyConfig::Mmr { threshold, .. }) => threshold,
            None => None,
        };
        for sc in &result.after_beam {
            let i = index_of[sc.id()];
            state.nodes[i].status = NodeStatus::PrunedNovelty;
            state.nodes[i].pruned_by = result.duplicates.iter().find(|d| d.id == sc.id()).map(|d| Pruning::Novelty {
                duplicate_of: d.duplicate_of.clone(),
                similarity: d.similarity,
                threshold,
            });
        }
        let expandable = depth < self.config.explore.max_depth;
        for sc in &result.kept {
            let i = index_of[sc.id()];
            state.nodes[i].pruned_by = None;
            state.nodes[i].status =
                if expandable && !result.should_continue { NodeStatus::NotExpanded } else { NodeStatus::Kept };
            if expandable && result.should_continue {
                state.queue.push_back(i);
            }
        }
        if let Some(decision) = &result.entropy {
            let (min_entropy, delta_epsilon) =
                self.config.entropy.map_or((0.0, None), |e| (e.min_entropy, e.delta_epsilon));
            state.entropy_history.push(EntropyRecord {
                node: parent_id.clone(),
                depth,
                decision: decision.clone(),
                min_entropy,
                delta_epsilon,
            });
        }
        state.warnings.extend(result.warnings.iter().map(|w| format!("node {parent_id}: {w}")));
        state.selector_state = self.selector.state();
        state.budget = self.selector.budget().map(|b| b.usage());

        if !result.should_continue {
            let reason = match &result.entropy {
                _ if result.budget_exceeded => StopReason::BudgetExceeded,
                Some(d) => d.reason.map_or(StopReason::Exhausted, StopReason::from),
                None => StopReason::Exhausted,
            };
            Self::finish(state, reason);
            return Ok(false);
        }
        Ok(true)
    }

    /// Expands until exploration ends, writing `checkpoint` (atomically) after every
    /// expanded node and once at the end.
    pub async fn run(&mut self, state: &mut Exploration, checkpoint: Option<&Path>) -> Result<(), ExploreError> {
        loop {
            let outcome = self.expand_next(state).await;
            if let Some(path) = checkpoint {
                state.save(path)?;
            }
            if !outcome? {
                return Ok(());
            }
        }
    }
}

fn state_tokens(generation: &crate::model::Generation) -> u64 {
    generation.timings.prompt_tokens + generation.generated_tokens()
}

/// Dotted paths where two JSON values differ.
fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff_values(&sub, x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), out);
            }
        }
        _ if a != b => out.push(format!("{} (checkpoint {a}, now {b})", if path.is_empty() { "(root)" } else { path })),
        _ => {}
    }
}
