use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::candidate::Meta;
use crate::detect::{BranchExtractor, BranchPoint};
use crate::model::{Embedder, Embeddings, ModelError, dot};

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Unique id.
    pub id: String,
    /// Who said it.
    pub speaker: String,
    /// What was said.
    pub content: String,
    /// Extra data.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// Kinds of semantic branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SemanticType {
    /// Consecutive turns are dissimilar.
    TopicShift,
    /// Curiosity followed by commitment.
    DecisionPoint,
    /// A question answered by a plan of action.
    QuestionToAction,
}

/// A branch found between two consecutive turns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SemanticBranch {
    /// The second turn's id.
    pub turn_id: String,
    /// Kind.
    pub branch_type: SemanticType,
    /// Human-readable description.
    pub description: String,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// First 200 characters of the first turn.
    pub context_before: String,
    /// First 200 characters of the second turn.
    pub context_after: String,
    /// Extra data.
    pub meta: Meta,
}

/// A node of the combined graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphNode {
    /// Turn id, `explicit_{i}` or `semantic_{i}`.
    pub id: String,
    /// `turn`, `explicit_branch` or `semantic_branch`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Other fields by node kind.
    #[serde(flatten)]
    pub data: Meta,
}

/// An edge turn → branch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphEdge {
    /// Turn id.
    pub from: String,
    /// Branch node id.
    pub to: String,
}

/// Turns and branches as one graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConversationGraph {
    /// Nodes: turns first, then explicit, then semantic branches.
    pub nodes: Vec<GraphNode>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
}

/// Counts over an analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationStatistics {
    /// Explicit + semantic.
    pub total_branches: usize,
    /// Explicit branch points.
    pub explicit_count: usize,
    /// Semantic branches.
    pub semantic_count: usize,
    /// Options over the explicit branch points.
    pub explicit_options: usize,
    /// Semantic branches per kind.
    pub semantic_types: BTreeMap<SemanticType, usize>,
    /// Mean semantic confidence (0 for none).
    pub avg_semantic_confidence: f64,
}

/// The result of analysing a conversation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationAnalysis {
    /// Branch points in turns that carry an explicit marker.
    pub explicit_branches: Vec<BranchPoint>,
    /// Branches between consecutive turns.
    pub semantic_branches: Vec<SemanticBranch>,
    /// Combined graph.
    pub graph: ConversationGraph,
    /// Counts.
    pub statistics: ConversationStatistics,
    /// Detectors that could not run, and why.
    pub warnings: Vec<String>,
}

static EXPLICIT_MARKER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^(BRANCH:|OPTIONS?:|CHOOSE:|DECISION:)").expect("valid regex"));
static CURIOSITY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(wondering|curious|what if|should i|could i)\b|\?").expect("valid regex"));
static COMMITMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(i want|i will|let's|i'd like|i need)\b|\b(decided|choose|focus on|go with)\b")
        .expect("valid regex")
});
static ACTION_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^(i'll|let's|i will|i'm going to|i would like to)|^(create|build|write|implement|design|analyze)")
        .expect("valid regex")
});

fn prefix_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Finds explicit and semantic branches in a conversation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConversationAnalyzer {
    /// Topic shift when consecutive turns' cosine falls below this (default 0.6).
    pub topic_shift_threshold: f64,
    /// Run the explicit (marker) detector.
    pub enable_explicit: bool,
    /// Run the semantic (pairwise) detectors.
    pub enable_semantic: bool,
}

impl Default for ConversationAnalyzer {
    fn default() -> Self {
        Self { topic_shift_threshold: 0.6, enable_explicit: true, enable_semantic: true }
    }
}

impl ConversationAnalyzer {
    /// Embeds every turn once (when an embedder is given) and analyses.
    pub async fn analyze_with(
        &self,
        turns: &[Turn],
        embedder: Option<&dyn Embedder>,
    ) -> Result<ConversationAnalysis, ModelError> {
        let vectors = match embedder {
            Some(e) if self.enable_semantic && turns.len() >= 2 => {
                let texts: Vec<String> = turns.iter().map(|t| t.content.clone()).collect();
                let v = e.embed(&texts).await?;
                if v.len() != turns.len() {
                    return Err(ModelError::MismatchedCount { expected: turns.len(), actual: v.len() });
                }
                Some(v)
            }
            _ => None,
        };
        Ok(self.analyze(turns, vectors.as_ref()))
    }

    /// Analyses with precomputed turn vectors (row `i` for turn `i`); without them topic
    /// shifts are skipped, with a warning, and the pattern detectors still run.
    pub fn analyze(&self, turns: &[Turn], vectors: Option<&Embeddings>) -> ConversationAnalysis {
        let mut warnings = Vec::new();
        let explicit = if self.enable_explicit { explicit_branches(turns) } else { Vec::new() };
        let mut semantic = Vec::new();
        if self.enable_semantic {
            if vectors.is_none() && turns.len() >= 2 {
                warnings.push("no embeddings: topic shifts were not detected (the pattern detectors ran)".into());
            }
            for (i, pair) in turns.windows(2).enumerate() {
                let (a, b) = (&pair[0], &pair[1]);
                if let Some(v) = vectors {
                    let sim = f64::from(dot(v.row(i), v.row(i + 1)));
                    if sim < self.topic_shift_threshold {
                        let mut meta = Meta::new();
                        meta.insert("similarity".into(), json!(sim));
                        meta.insert("threshold".into(), json!(self.topic_shift_threshold));
                        semantic.push(semantic_branch(
                            a,
                            b,
                            SemanticType::TopicShift,
                            format!("Topic shift detected (similarity: {sim:.2})"),
                            1.0 - sim,
                            meta,
                        ));
                    }
                }
                if CURIOSITY.is_match(&a.content) && COMMITMENT.is_match(&b.content) {
                    let meta = json!({"curiosity_signals": true, "commitment_signals": true});
                    semantic.push(semantic_branch(
                        a,
                        b,
                        SemanticType::DecisionPoint,
                        "Transition from exploration to commitment".into(),
                        0.8,
                        as_meta(meta),
                    ));
                }
                if a.content.trim().ends_with('?') && ACTION_LINE.is_match(&b.content) {
                    let meta = json!({"question": true, "action": true});
                    semantic.push(semantic_branch(
                        a,
                        b,
                        SemanticType::QuestionToAction,
                        "Transition from question to actionable plan".into(),
                        0.7,
                        as_meta(meta),
                    ));
                }
            }
        }
        let graph = graph(turns, &explicit, &semantic);
        let statistics = stats(&explicit, &semantic);
        ConversationAnalysis { explicit_branches: explicit, semantic_branches: semantic, graph, statistics, warnings }
    }
}

fn as_meta(v: serde_json::Value) -> Meta {
    match v {
        serde_json::Value::Object(m) => m,
        _ => Meta::new(),
    }
}

fn semantic_branch(
    a: &Turn,
    b: &Turn,
    kind: SemanticType,
    description: String,
    confidence: f64,
    meta: Meta,
) -> SemanticBranch {
    SemanticBranch {
        turn_id: b.id.clone(),
        branch_type: kind,
        description,
        confidence,
        context_before: prefix_chars(&a.content, 200),
        context_after: prefix_chars(&b.content, 200),
        meta,
    }
}

fn explicit_branches(turns: &[Turn]) -> Vec<BranchPoint> {
    let mut out = Vec::new();
    for turn in turns.iter().filter(|t| EXPLICIT_MARKER.is_match(&t.content)) {
        for mut bp in BranchExtractor.extract(&turn.content) {
            bp.meta.insert("turn_id".into(), json!(turn.id));
            bp.meta.insert("speaker".into(), json!(turn.speaker));
            bp.meta.insert("detection_type".into(), json!("explicit"));
            bp.meta.insert("confidence".into(), json!(1.0));
            out.push(bp);
        }
    }
    out
}

fn graph(turns: &[Turn], explicit: &[BranchPoint], semantic: &[SemanticBranch]) -> ConversationGraph {
    let mut g = ConversationGraph::default();
    for t in turns {
        let content = if t.content.chars().count() > 100 {
            format!("{}...", prefix_chars(&t.content, 100))
        } else {
            t.content.clone()
        };
        g.nodes.push(GraphNode {
            id: t.id.clone(),
            kind: "turn",
            data: as_meta(json!({"speaker": t.speaker, "content": content})),
        });
    }
    for (i, bp) in explicit.iter().enumerate() {
        let id = format!("explicit_{i}");
        let labels: Vec<&str> = bp.options.iter().map(|o| o.label.as_str()).collect();
        g.nodes.push(GraphNode {
            id: id.clone(),
            kind: "explicit_branch",
            data: as_meta(json!({"branch_type": bp.kind, "options": labels, "confidence": 1.0})),
        });
        if let Some(turn) = bp.meta.get("turn_id").and_then(|v| v.as_str()) {
            g.edges.push(GraphEdge { from: turn.to_owned(), to: id });
        }
    }
    for (i, sb) in semantic.iter().enumerate() {
        let id = format!("semantic_{i}");
        g.nodes.push(GraphNode {
            id: id.clone(),
            kind: "semantic_branch",
            data: as_meta(
                json!({"branch_type": sb.branch_type, "description": sb.description, "confidence": sb.confidence}),
            ),
        });
        g.edges.push(GraphEdge { from: sb.turn_id.clone(), to: id });
    }
    g
}

fn stats(explicit: &[BranchPoint], semantic: &[SemanticBranch]) -> ConversationStatistics {
    let mut semantic_types = BTreeMap::new();
    for s in semantic {
        *semantic_types.entry(s.branch_type).or_insert(0) += 1;
    }
    ConversationStatistics {
        total_branches: explicit.len() + semantic.len(),
        explicit_count: explicit.len(),
        semantic_count: semantic.len(),
        explicit_options: explicit.iter().map(|b| b.options.len()).sum(),
        semantic_types,
        avg_semantic_confidence: if semantic.is_empty() {
            0.0
        } else {
            semantic.iter().map(|s| s.confidence).sum::<f64>() / semantic.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(id: &str, speaker: &str, content: &str) -> Turn {
        Turn { id: id.into(), speaker: speaker.into(), content: content.into(), meta: Meta::new() }
    }

    fn conversation() -> Vec<Turn> {
        vec![
            turn("t1", "user", "I'm wondering which web framework to learn?"),
            turn("t2", "assistant", "OPTIONS:\n1. Flask\n2. FastAPI\n3. Django"),
            turn("t3", "user", "Should I care about speed?"),
            turn("t4", "user", "Let's go with FastAPI.\nI'll build an API."),
        ]
    }

    #[test]
    fn explicit_markers_run_the_extractor() {
        let a = ConversationAnalyzer::default().analyze(&conversation(), None);
        assert_eq!(a.explicit_branches.len(), 1);
        let bp = &a.explicit_branches[0];
        assert_eq!(bp.meta["turn_id"], "t2");
        assert_eq!(bp.meta["detection_type"], "explicit");
        assert_eq!(bp.meta["confidence"], 1.0);
        assert_eq!(a.graph.edges[0], GraphEdge { from: "t2".into(), to: "explicit_0".into() });
    }

    #[test]
    fn pattern_detectors_run_without_vectors_and_say_what_was_skipped() {
        let a = ConversationAnalyzer::default().analyze(&conversation(), None);
        let kinds: Vec<(&str, SemanticType)> =
            a.semantic_branches.iter().map(|s| (s.turn_id.as_str(), s.branch_type)).collect();
        assert_eq!(kinds, [("t4", SemanticType::DecisionPoint), ("t4", SemanticType::QuestionToAction)]);
        assert_eq!(a.warnings.len(), 1);
        assert!((a.statistics.avg_semantic_confidence - 0.75).abs() < 1e-12);
    }

    #[test]
    fn topic_shift_uses_pairwise_similarity() {
        let v = Embeddings::from_rows(&[vec![1.0, 0.0], vec![1.0, 0.1], vec![0.0, 1.0], vec![0.0, 1.0]]).unwrap();
        let a = ConversationAnalyzer::default().analyze(&conversation(), Some(&v));
        let shift: Vec<&SemanticBranch> =
            a.semantic_branches.iter().filter(|s| s.branch_type == SemanticType::TopicShift).collect();
        assert_eq!(shift.len(), 1);
        assert_eq!(shift[0].turn_id, "t3");
        assert!((shift[0].confidence - 1.0 + f64::from(v.cosine(1, 2))).abs() < 1e-9);
        assert!(a.warnings.is_empty());
    }

    #[test]
    fn contexts_are_cut_at_200_characters() {
        let long = "é".repeat(300) + "?";
        let turns = [turn("a", "u", &long), turn("b", "u", "I will write it.")];
        let a = ConversationAnalyzer::default().analyze(&turns, None);
        assert_eq!(a.semantic_branches[0].context_before.chars().count(), 200);
    }
}
