//! Node, token and time budget (SPEC §6).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Caps on a whole exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Most nodes (≥ 1).
    pub max_nodes: u64,
    /// Most tokens (≥ 1).
    pub max_tokens: u64,
    /// Most cumulative model time in ms (≥ 1).
    pub max_ms: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self { max_nodes: 32, max_tokens: 30_000, max_ms: 12_000 }
    }
}

/// What happens when a request would exceed a cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetMode {
    /// Refuse with a [`BudgetExceeded`] error.
    #[default]
    Strict,
    /// Refuse by returning `false`.
    Soft,
}

/// Usage so far, the exportable state of a [`BudgetManager`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetState {
    /// Nodes recorded.
    pub used_nodes: u64,
    /// Tokens recorded.
    pub used_tokens: u64,
    /// Milliseconds recorded.
    pub used_ms: u64,
}

/// Used and maximum for each cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetUsage {
    /// Nodes recorded.
    pub used_nodes: u64,
    /// Node cap.
    pub max_nodes: u64,
    /// Tokens recorded.
    pub used_tokens: u64,
    /// Token cap.
    pub max_tokens: u64,
    /// Milliseconds recorded.
    pub used_ms: u64,
    /// Time cap.
    pub max_ms: u64,
}

/// A strict budget refused a request; carries every cap, usage and estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error, Serialize)]
#[error(
    "budget exceeded: nodes {used_nodes} used + {requested} requested > max {max_nodes}? {}; \
     tokens {used_tokens} used + {est_tokens} estimated > max {max_tokens}? {}; \
     time {used_ms} ms used + {est_ms} ms estimated > max {max_ms} ms? {}",
    yes_no(used_nodes.saturating_add(*requested) > *max_nodes),
    yes_no(used_tokens.saturating_add(*est_tokens) > *max_tokens),
    yes_no(used_ms.saturating_add(*est_ms) > *max_ms)
)]
pub struct BudgetExceeded {
    /// Node cap.
    pub max_nodes: u64,
    /// Nodes used so far.
    pub used_nodes: u64,
    /// Nodes asked for.
    pub requested: u64,
    /// Token cap.
    pub max_tokens: u64,
    /// Tokens used so far.
    pub used_tokens: u64,
    /// Tokens estimated for the request.
    pub est_tokens: u64,
    /// Time cap.
    pub max_ms: u64,
    /// Time used so far.
    pub used_ms: u64,
    /// Time estimated for the request.
    pub est_ms: u64,
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Tracks usage against a [`Budget`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetManager {
    budget: Budget,
    mode: BudgetMode,
    state: BudgetState,
}

impl BudgetManager {
    /// A manager with nothing used yet (caps are validated by the configuration layer).
    pub fn new(budget: Budget, mode: BudgetMode) -> Self {
        Self { budget, mode, state: BudgetState::default() }
    }

    /// The caps.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The mode.
    pub fn mode(&self) -> BudgetMode {
        self.mode
    }

    /// Whether `n_new` nodes costing the estimates fit. Strict mode refuses with an error,
    /// soft mode with `Ok(false)`. Nothing is recorded.
    pub fn admit(&self, n_new: u64, est_tokens: u64, est_ms: u64) -> Result<bool, BudgetExceeded> {
        let s = &self.state;
        let b = &self.budget;
        let over = s.used_nodes.saturating_add(n_new) > b.max_nodes
            || s.used_tokens.saturating_add(est_tokens) > b.max_tokens
            || s.used_ms.saturating_add(est_ms) > b.max_ms;
        if !over {
            return Ok(true);
        }
        match self.mode {
            BudgetMode::Soft => Ok(false),
            BudgetMode::Strict => Err(BudgetExceeded {
                max_nodes: b.max_nodes,
                used_nodes: s.used_nodes,
                requested: n_new,
                max_tokens: b.max_tokens,
                used_tokens: s.used_tokens,
                est_tokens,
                max_ms: b.max_ms,
                used_ms: s.used_ms,
                est_ms,
            }),
        }
    }

    /// Adds actual tokens and milliseconds.
    pub fn update(&mut self, tokens: u64, ms: u64) {
        self.state.used_tokens = self.state.used_tokens.saturating_add(tokens);
        self.state.used_ms = self.state.used_ms.saturating_add(ms);
    }

    /// Adds nodes.
    pub fn record_nodes(&mut self, n: u64) {
        self.state.used_nodes = self.state.used_nodes.saturating_add(n);
    }

    /// Used and maximum for each cap.
    pub fn usage(&self) -> BudgetUsage {
        BudgetUsage {
            used_nodes: self.state.used_nodes,
            max_nodes: self.budget.max_nodes,
            used_tokens: self.state.used_tokens,
            max_tokens: self.budget.max_tokens,
            used_ms: self.state.used_ms,
            max_ms: self.budget.max_ms,
        }
    }

    /// State for a checkpoint.
    pub fn state(&self) -> BudgetState {
        self.state
    }

    /// Restores a checkpointed state.
    pub fn restore(&mut self, state: BudgetState) {
        self.state = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget { max_nodes: 10, max_tokens: 1000, max_ms: 500 }
    }

    #[test]
    fn strict_refuses_with_every_cap_and_usage() {
        let mut m = BudgetManager::new(budget(), BudgetMode::Strict);
        m.record_nodes(8);
        assert_eq!(m.admit(2, 100, 100), Ok(true), "exactly at the cap is allowed");
        let err = m.admit(3, 100, 100).unwrap_err();
        assert_eq!((err.used_nodes, err.requested, err.max_nodes), (8, 3, 10));
        let msg = err.to_string();
        for part in [
            "nodes 8 used + 3 requested > max 10? yes",
            "tokens 0 used + 100 estimated > max 1000? no",
            "max 500 ms? no",
        ] {
            assert!(msg.contains(part), "{msg}");
        }
    }

    #[test]
    fn soft_refuses_with_false() {
        let mut m = BudgetManager::new(budget(), BudgetMode::Soft);
        m.update(990, 10);
        assert_eq!(m.admit(1, 20, 0), Ok(false));
        assert_eq!(m.admit(1, 10, 0), Ok(true));
    }

    #[test]
    fn state_round_trips() {
        let mut m = BudgetManager::new(budget(), BudgetMode::Soft);
        m.update(5, 6);
        m.record_nodes(7);
        let mut other = BudgetManager::new(budget(), BudgetMode::Soft);
        other.restore(m.state());
        assert_eq!(other.usage(), m.usage());
        assert_eq!(m.usage().used_ms, 6);
    }
}
