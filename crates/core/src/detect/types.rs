use serde::{Deserialize, Serialize};

use crate::candidate::Meta;

/// The kind of a branch point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchType {
    /// A numbered or bulleted list.
    Enumeration,
    /// "A or B".
    Disjunction,
    /// "if … then … else …".
    Conditional,
    /// "choose a framework that fits" (found by the LLM parser only).
    OpenDirective,
}

impl BranchType {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enumeration => "enumeration",
            Self::Disjunction => "disjunction",
            Self::Conditional => "conditional",
            Self::OpenDirective => "open_directive",
        }
    }
}

/// One option of a branch point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchOption {
    /// `{branch point id}_opt{j}`, `_then` or `_else`.
    pub id: String,
    /// The option's text without markers.
    pub label: String,
    /// The span of the source it came from.
    pub span: String,
    /// Extra data.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// A place where the text offers two or more mutually exclusive options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BranchPoint {
    /// `bp_enum_{i}`, `bp_disj_{i}` or `bp_cond_{i}`.
    pub id: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: BranchType,
    /// At least two options.
    pub options: Vec<BranchOption>,
    /// Ids of branch points this one depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The source span it was found in.
    pub context: String,
    /// Extra data (`condition`, `turn_id`, …).
    #[serde(default)]
    pub meta: Meta,
}

impl BranchPoint {
    /// Checks the invariants: non-empty id, ≥ 2 options, non-empty option ids and labels.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("branch point id is empty".into());
        }
        if self.options.len() < 2 {
            return Err(format!(
                "branch point {} has {} option(s); at least 2 are needed",
                self.id,
                self.options.len()
            ));
        }
        if let Some(o) = self.options.iter().find(|o| o.id.is_empty() || o.label.is_empty()) {
            return Err(format!("branch point {} has an option with an empty id or label ({:?})", self.id, o.id));
        }
        Ok(())
    }
}
