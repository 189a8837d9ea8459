//! Deterministic branch detection (SPEC §9): enumerations, disjunctions and conditionals
//! in a text, with leaf counts and statistics.

mod extract;
mod types;

pub use extract::{BranchExtractor, BranchStatistics, count_max_leaves, statistics};
pub use types::{BranchOption, BranchPoint, BranchType};
