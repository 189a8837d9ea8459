use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::explorer::Explorer;
use super::tree::{Exploration, Node, NodeStatus};
use crate::config::{ConfigError, ExploreConfig};

/// A checkpoint could not be written, read or trusted.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("checkpoint {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// The file is not a valid checkpoint.
    #[error("checkpoint {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The configuration embedded in the checkpoint breaks the rules of a configuration file.
    #[error("checkpoint {path} holds an invalid configuration: {source}")]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, naming the key.
        #[source]
        source: ConfigError,
    },
}

impl Exploration {
    /// Writes the state atomically: a temporary file in the same folder, synced, then renamed
    /// over `path`, so a kill leaves either the old or the new checkpoint, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |e: std::io::Error| CheckpointError::Io { path: path.to_owned(), reason: e.to_string() };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| CheckpointError::Io { path: path.to_owned(), reason: "not a file path".into() })?;
        let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| CheckpointError::Io { path: path.to_owned(), reason: e.to_string() })?;
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&json).and_then(|()| file.sync_all()).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Reads a checkpoint and checks it the way a resume needs: its configuration by the
    /// rules of a configuration file, and the tree, queue and counters against that
    /// configuration, so a hand-edited or damaged file cannot crash a resume or explore
    /// past its own limits. This is the one place a checkpoint is checked.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes =
            std::fs::read(path).map_err(|e| CheckpointError::Io { path: path.to_owned(), reason: e.to_string() })?;
        let corrupt = |reason: String| CheckpointError::Corrupt { path: path.to_owned(), reason };
        let state: Exploration = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if state.version != Self::VERSION {
            return Err(corrupt(format!("format version {} (this build reads {})", state.version, Self::VERSION)));
        }
        let config = Explorer::checkpoint_config(&state)
            .map_err(|source| CheckpointError::InvalidConfig { path: path.to_owned(), source })?;
        state.check(&config.explore).map_err(corrupt)?;
        Ok(state)
    }

    /// Structural checks against the exploration's shape.
    fn check(&self, shape: &ExploreConfig) -> Result<(), String> {
        let root = self.nodes.first().ok_or("it has no nodes")?;
        if root.parent.is_some() || root.depth != 0 || root.status != NodeStatus::Root {
            return Err("the first node is not a root".into());
        }
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(self.nodes.len());
        let mut children = vec![0usize; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(parent) = &node.parent {
                let &p = seen
                    .get(parent.as_str())
                    .ok_or_else(|| format!("node {} names unknown parent {parent}", node.id))?;
                if self.nodes[p].depth + 1 != node.depth {
                    return Err(format!(
                        "node {} has depth {} under a parent of depth {}",
                        node.id, node.depth, self.nodes[p].depth
                    ));
                }
                children[p] += 1;
            } else if i > 0 {
                return Err(format!("node {} has no parent", node.id));
            }
            if i > 0 && node.status == NodeStatus::Root {
                return Err(format!("node {} has status root but is not the first node", node.id));
            }
            if node.depth > shape.max_depth {
                return Err(format!(
                    "node {} has depth {}, deeper than explore.max_depth = {}",
                    node.id, node.depth, shape.max_depth
                ));
            }
            check_numbers(node)?;
            if seen.insert(node.id.as_str(), i).is_some() {
                return Err(format!("node id {} appears twice", node.id));
            }
        }
        // Each expansion adds exactly explore.n children to one node (a short batch is refused
        // before anything is recorded), so the counter must equal the nodes that have children.
        let mut expanded = 0u64;
        for (node, &count) in self.nodes.iter().zip(&children) {
            if count > 0 {
                if count != shape.n {
                    return Err(format!(
                        "node {} has {count} children; every expansion adds explore.n = {}",
                        node.id, shape.n
                    ));
                }
                expanded += 1;
            }
        }
        if self.expansions != expanded {
            return Err(format!(
                "expansions is {}, but {expanded} node(s) have children (one expansion each)",
                self.expansions
            ));
        }
        self.check_queue(shape, &children)
    }

    /// Every queued node can be expanded: it exists, was kept (or is the root), sits above
    /// the maximum depth, has no children yet and is queued once.
    fn check_queue(&self, shape: &ExploreConfig, children: &[usize]) -> Result<(), String> {
        if let Some(reason) = self.stop_reason
            && !self.queue.is_empty()
        {
            return Err(format!("it has ended ({reason:?}) but its queue still names {} node(s)", self.queue.len()));
        }
        let mut queued = HashSet::with_capacity(self.queue.len());
        for &q in &self.queue {
            let node = self
                .nodes
                .get(q)
                .ok_or_else(|| format!("queue names node index {q}, but there are {} nodes", self.nodes.len()))?;
            if !queued.insert(q) {
                return Err(format!("queue names node {} twice", node.id));
            }
            if !matches!(node.status, NodeStatus::Root | NodeStatus::Kept) {
                return Err(format!(
                    "queue names node {} with status {:?}; only the root and kept nodes wait for expansion",
                    node.id, node.status
                ));
            }
            if node.depth >= shape.max_depth {
                return Err(format!(
                    "queue names node {} at depth {}; nodes at explore.max_depth = {} are not expanded",
                    node.id, node.depth, shape.max_depth
                ));
            }
            if children[q] > 0 {
                return Err(format!("queue names node {}, which has been expanded already", node.id));
            }
        }
        Ok(())
    }
}

/// A node's numbers are what the explorer records: a score in [0, 1], a finite mean
/// logprob, a finite non-negative time. (JSON has no NaN, so a file that spells one fails to
/// parse; this catches the rest, such as `"score": 7`.)
fn check_numbers(node: &Node) -> Result<(), String> {
    if let Some(s) = node.score
        && !(0.0..=1.0).contains(&s)
    {
        return Err(format!("node {} has score {s}; scores lie in [0, 1]", node.id));
    }
    if let Some(lp) = node.logprob_mean
        && !lp.is_finite()
    {
        return Err(format!("node {} has mean logprob {lp}; it must be a finite number", node.id));
    }
    if !(node.gen_ms.is_finite() && node.gen_ms >= 0.0) {
        return Err(format!("node {} has gen_ms {}; it must be a finite number ≥ 0", node.id, node.gen_ms));
    }
    Ok(())
}
