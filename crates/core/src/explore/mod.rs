//! Tree exploration (SPEC §11): generate `n` children per node, select, expand the kept
//! ones breadth-first, stop on max depth, budget or entropy; checkpoint and resume.

mod checkpoint;
mod explorer;
mod tree;

pub use checkpoint::CheckpointError;
pub use explorer::{ExploreError, Explorer};
pub use tree::{EntropyRecord, Exploration, ExploreStats, ModelIds, Node, NodeStatus, Pruning, StopReason};
