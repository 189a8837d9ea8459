//! Deterministic branch detection (SPEC §9): enumerations, disjunctions and conditionals
//! in a text, with leaf counts and statistics. [`detect`] is the bounded entry point for
//! whole documents; [`BranchExtractor`] works on text the caller has already bounded.

mod detection;
mod extract;
mod types;

pub use detection::{DetectError, Detection, MAX_DETECT_BYTES, detect};
pub use extract::{BranchExtractor, BranchStatistics, count_max_leaves, statistics};
pub use types::{BranchOption, BranchPoint, BranchType};
