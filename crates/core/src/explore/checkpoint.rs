use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::tree::Exploration;

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

    /// Reads a checkpoint and checks that it is consistent.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes =
            std::fs::read(path).map_err(|e| CheckpointError::Io { path: path.to_owned(), reason: e.to_string() })?;
        let corrupt = |reason: String| CheckpointError::Corrupt { path: path.to_owned(), reason };
        let state: Exploration = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        state.check().map_err(corrupt)?;
        Ok(state)
    }

    /// Structural checks, so a hand-edited or damaged file cannot crash a resume.
    fn check(&self) -> Result<(), String> {
        if self.version != Self::VERSION {
            return Err(format!("format version {} (this build reads {})", self.version, Self::VERSION));
        }
        let root = self.nodes.first().ok_or("it has no nodes")?;
        if root.parent.is_some() || root.depth != 0 {
            return Err("the first node is not a root".into());
        }
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
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
            } else if i > 0 {
                return Err(format!("node {} has no parent", node.id));
            }
            if seen.insert(node.id.as_str(), i).is_some() {
                return Err(format!("node id {} appears twice", node.id));
            }
        }
        if let Some(&bad) = self.queue.iter().find(|&&q| q >= self.nodes.len()) {
            return Err(format!("queue names node index {bad}, but there are {} nodes", self.nodes.len()));
        }
        Ok(())
    }
}
