use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entropy::{EntropyDecision, EntropyReason};
use crate::model::FinishReason;
use crate::selector::SelectorState;

/// What became of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// The prompt.
    Root,
    /// Survived selection (and was expanded, or sits at max depth).
    Kept,
    /// Cut by the beam.
    PrunedBeam,
    /// Cut by the novelty filter.
    PrunedNovelty,
    /// Survived selection but exploration stopped before expanding it.
    NotExpanded,
}

/// One node of the tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// `n0` for the root, then `n1`, `n2`, … in creation order.
    pub id: String,
    /// Parent id (`None` for the root).
    pub parent: Option<String>,
    /// 0 for the root.
    pub depth: usize,
    /// The prompt (root) or the generated text.
    pub text: String,
    /// Selector score (`None` for the root).
    pub score: Option<f64>,
    /// What became of it.
    pub status: NodeStatus,
    /// Generated tokens.
    pub tokens: u32,
    /// Mean token log-probability, when the backend reports one.
    pub logprob_mean: Option<f64>,
    /// Why generation ended.
    pub finish_reason: Option<FinishReason>,
    /// This candidate's share of its batch's generation time in ms (the batch's wall time
    /// split by generated tokens).
    pub gen_ms: f64,
    /// Why it was pruned (`None` unless its status is a pruned one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_by: Option<Pruning>,
}

/// Why a node was pruned, in the terms of the stage that pruned it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Pruning {
    /// Ranked below the beam's width among its siblings.
    Beam {
        /// 1-based rank by score (ties by id) among its siblings.
        rank: usize,
        /// The beam's width.
        k: usize,
    },
    /// Too similar to a better sibling that was kept.
    Novelty {
        /// The kept sibling it is most similar to.
        duplicate_of: String,
        /// Their cosine similarity.
        similarity: f64,
        /// The highest similarity the filter keeps (`None` for MMR without a threshold).
        threshold: Option<f64>,
    },
}

/// Why exploration ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every kept node reached the maximum depth.
    MaxDepth,
    /// Nothing was left to expand before the maximum depth.
    Exhausted,
    /// The budget refused the next generation or a step's kept nodes.
    BudgetExceeded,
    /// The entropy stopper: too little diversity.
    LowEntropy,
    /// The entropy stopper: entropy stopped changing.
    LowDeltaEntropy,
    /// The entropy stopper: nothing survived a step.
    NoCandidatesRemaining,
    /// The entropy stopper: one candidate survived a step.
    Singleton,
}

impl From<EntropyReason> for StopReason {
    fn from(r: EntropyReason) -> Self {
        match r {
            EntropyReason::LowEntropy => Self::LowEntropy,
            EntropyReason::LowDeltaEntropy => Self::LowDeltaEntropy,
            EntropyReason::NoCandidatesRemaining => Self::NoCandidatesRemaining,
            EntropyReason::Singleton => Self::Singleton,
        }
    }
}

/// The entropy decision of one expansion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntropyRecord {
    /// The expanded node.
    pub node: String,
    /// Depth of its children.
    pub depth: usize,
    /// The decision.
    #[serde(flatten)]
    pub decision: EntropyDecision,
    /// The threshold it was compared with: stop below it.
    #[serde(default)]
    pub min_entropy: f64,
    /// The smallest change that keeps exploration going, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_epsilon: Option<f64>,
}

/// Which models produced the tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelIds {
    /// Generator model id.
    pub generator: String,
    /// Embedder model id, when one was used.
    pub embedder: Option<String>,
}

/// The whole state of an exploration: the tree so far, the work queue and the selector's
/// state. It is the checkpoint format, and its finished form is `tree.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exploration {
    /// Checkpoint format version.
    pub version: u32,
    /// Every node, root first, in creation order.
    pub nodes: Vec<Node>,
    /// Why it ended; `None` while running.
    pub stop_reason: Option<StopReason>,
    /// Budget usage, when a budget is configured.
    pub budget: Option<crate::budget::BudgetUsage>,
    /// One entry per expansion that ran the entropy stopper.
    pub entropy_history: Vec<EntropyRecord>,
    /// The configuration it runs under (a resume must match it).
    pub config: Value,
    /// The models.
    pub models: ModelIds,
    /// Warnings from the selector steps.
    pub warnings: Vec<String>,
    /// Node indices waiting for expansion, in order.
    pub queue: VecDeque<usize>,
    /// Expansions done so far (seeds derive from it).
    pub expansions: u64,
    /// Selector state after the last expansion.
    pub selector_state: SelectorState,
    /// What generation cost.
    #[serde(default)]
    pub stats: ExploreStats,
}

/// Prompt tokens of an exploration's generations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreStats {
    /// Prompt tokens of every expansion.
    pub prompt_tokens: u64,
    /// Of those, the tokens the generator took from its cache instead of computing them.
    #[serde(default)]
    pub prompt_tokens_cached: u64,
}

impl Exploration {
    /// Current checkpoint format.
    pub const VERSION: u32 = 1;

    /// Whether exploration has ended.
    pub fn is_finished(&self) -> bool {
        self.stop_reason.is_some()
    }

    /// The root prompt.
    pub fn prompt(&self) -> &str {
        &self.nodes[0].text
    }

    /// Node by id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The nodes from the root's first child down to `index`, in order.
    pub fn path_to(&self, index: usize) -> Vec<&Node> {
        let mut path = Vec::new();
        let mut cur = &self.nodes[index];
        while let Some(parent) = &cur.parent {
            path.push(cur);
            cur = self.node(parent).expect("parents precede children");
        }
        path.reverse();
        path
    }
}
