//! The whole answer of branch detection for one text, bounded in size.

use serde::Serialize;
use thiserror::Error;

use super::extract::{BranchExtractor, BranchStatistics, statistics};
use super::types::BranchPoint;

/// Longest text [`detect`] reads: 4 MiB.
pub const MAX_DETECT_BYTES: usize = 4 << 20;

/// Why [`detect`] refused a text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DetectError {
    /// The text is longer than [`MAX_DETECT_BYTES`].
    #[error("the text is {size} bytes; branch detection reads at most {limit} bytes (4 MiB), so split it")]
    TooLarge {
        /// The text's length in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

/// Branch points with their statistics: the shape of `autobranch detect --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// Every branch point, in [`BranchExtractor::extract`]'s order.
    pub branch_points: Vec<BranchPoint>,
    /// Product of option counts, saturating (as in `statistics`).
    pub max_leaves: u64,
    /// Counts over the branch points.
    pub statistics: BranchStatistics,
}

/// Finds the branch points of `text` and their statistics.
///
/// Refuses a text over [`MAX_DETECT_BYTES`] (4 MiB) with [`DetectError::TooLarge`]. Below it,
/// memory and output grow linearly with the text; what they cost per byte depends on how
/// densely the text branches, because each option carries its own id, label and span. For
/// ordinary prose the result takes about 20 bytes of memory per byte of text and its pretty
/// JSON about 11; the worst shapes (a conditional every 20 bytes, a list item every 4) take
/// up to about 70 and 26, so a text at the limit stays under 300 MB. Serialise the result
/// straight to its destination (`serde_json::to_writer_pretty`): converting it to a
/// `serde_json::Value` first (e.g. with `json!`) costs five times the result again.
pub fn detect(text: &str) -> Result<Detection, DetectError> {
    if text.len() > MAX_DETECT_BYTES {
        return Err(DetectError::TooLarge { size: text.len(), limit: MAX_DETECT_BYTES });
    }
    let branch_points = BranchExtractor.extract(text);
    let statistics = statistics(&branch_points);
    Ok(Detection { max_leaves: statistics.max_leaves, branch_points, statistics })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_over_the_limit_are_refused_with_their_size() {
        let text = "a".repeat(MAX_DETECT_BYTES + 1);
        let err = detect(&text).unwrap_err();
        assert_eq!(err, DetectError::TooLarge { size: MAX_DETECT_BYTES + 1, limit: MAX_DETECT_BYTES });
        assert_eq!(
            err.to_string(),
            "the text is 4194305 bytes; branch detection reads at most 4194304 bytes (4 MiB), so split it"
        );
        assert!(detect(&text[1..]).is_ok(), "exactly the limit is read");
    }

    #[test]
    fn the_json_has_the_cli_shape() {
        let d = detect("Tea or coffee?").unwrap();
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["max_leaves"], 2);
        assert_eq!(v["statistics"]["total_branch_points"], 1);
        assert_eq!(v["branch_points"][0]["id"], "bp_disj_0");
    }
}
