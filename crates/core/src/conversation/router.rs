use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::analyzer::{ConversationAnalysis, ConversationAnalyzer, Turn};
use super::llm_parser::{LlmBranchParser, LlmParseError, OnParseFailure};
use crate::detect::BranchPoint;
use crate::model::Embedder;

static AMBIGUITY: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        r"(?i)\b(maybe|perhaps|might|could|possibly|uncertain|unclear|ambiguous)\b",
        r"(?i)\b(depends|varies|context|situational)\b",
        r"(?i)\b(on one hand|on the other hand|however|although|but)\b",
        r"\?",
    ]
    .map(|p| Regex::new(p).expect("valid regex"))
});
static IMPLICIT: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        r"(?i)\b(torn between|considering|contemplating|weighing)\b",
        r"(?i)\b(on balance|all things considered|taking into account)\b",
        r"(?i)\b(dilemma|trade-off|pros and cons)\b",
        r"(?i)\b(if.*then.*else|depending on|in case of)\b",
    ]
    .map(|p| Regex::new(p).expect("valid regex"))
});

/// The router's heuristic measurements, each in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HeuristicScores {
    /// 0.6·min(avg length/500, 1) + 0.4·unique/total words.
    pub complexity: f64,
    /// Hedging, contrast and question marks per 1000 characters, capped at 1.
    pub ambiguity: f64,
    /// How much the hybrid detectors already found.
    pub hybrid_quality: f64,
    /// Share of turns with a branch.
    pub coverage: f64,
    /// Implicit decision phrases per turn, capped at 1.
    pub implicit_signals: f64,
}

/// Whether to spend an LLM call on a conversation, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouterDecision {
    /// Call the LLM parser.
    pub use_llm: bool,
    /// Confidence in the decision, in [0, 1].
    pub confidence: f64,
    /// Why.
    pub reason: String,
    /// The measurements.
    pub heuristic_scores: HeuristicScores,
    /// Expected value of the LLM call, in [0, 1].
    pub estimated_value: f64,
}

/// Decides from cheap heuristics whether the LLM parser is worth calling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Router {
    /// Most estimated time (100 ms per turn).
    pub time_budget_ms: f64,
    /// Most estimated cost (0.0001 per 1000 tokens, 4 characters a token).
    pub cost_budget: f64,
    /// Least expected value to call the LLM.
    pub min_value_threshold: f64,
    /// Only call the LLM when the value is at least 0.7.
    pub prefer_speed: bool,
}

impl Default for Router {
    fn default() -> Self {
        Self { time_budget_ms: 10_000.0, cost_budget: 0.001, min_value_threshold: 0.3, prefer_speed: false }
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

impl Router {
    /// Measures the conversation and the hybrid results, and decides.
    pub fn decide(&self, turns: &[Turn], hybrid: &ConversationAnalysis) -> RouterDecision {
        let scores = HeuristicScores {
            complexity: complexity(turns),
            ambiguity: ambiguity(turns),
            hybrid_quality: hybrid_quality(hybrid),
            coverage: coverage(turns, hybrid),
            implicit_signals: implicit_signals(turns),
        };
        let value = (0.2 * scores.complexity
            + 0.3 * scores.ambiguity
            + 0.25 * (1.0 - scores.hybrid_quality)
            + 0.15 * (1.0 - scores.coverage)
            + 0.3 * scores.implicit_signals)
            .clamp(0.0, 1.0);
        let total_chars: usize = turns.iter().map(|t| chars(&t.content)).sum();
        let est_ms = turns.len() as f64 * 100.0;
        let est_cost = total_chars as f64 / 4.0 / 1000.0 * 0.0001;
        let meets_budget = est_ms <= self.time_budget_ms && est_cost <= self.cost_budget;
        let meets_threshold = value >= self.min_value_threshold;
        let (use_llm, reason) = if self.prefer_speed && value < 0.7 {
            (false, "Speed preference: hybrid sufficient".to_owned())
        } else if meets_budget && meets_threshold {
            (true, recommend(&scores, value))
        } else if !meets_budget {
            (false, "Budget constraints exceeded".to_owned())
        } else {
            (false, format!("Expected value ({value:.2}) below threshold ({:.2})", self.min_value_threshold))
        };
        let distance = ((value - self.min_value_threshold).abs() * 2.0).min(1.0);
        let s = [scores.complexity, scores.ambiguity, scores.hybrid_quality, scores.coverage, scores.implicit_signals];
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        let variance = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / s.len() as f64;
        let confidence = distance * 0.6 + (1.0 - (variance * 2.0).min(1.0)) * 0.4;
        RouterDecision { use_llm, confidence, reason, heuristic_scores: scores, estimated_value: value }
    }
}

fn recommend(s: &HeuristicScores, value: f64) -> String {
    let mut reasons = Vec::new();
    if s.complexity > 0.6 {
        reasons.push("high complexity");
    }
    if s.ambiguity > 0.5 {
        reasons.push("significant ambiguity");
    }
    if s.hybrid_quality < 0.4 {
        reasons.push("limited hybrid detection");
    }
    if s.coverage < 0.5 {
        reasons.push("low conversation coverage");
    }
    if s.implicit_signals > 0.4 {
        reasons.push("implicit decision signals detected");
    }
    if reasons.is_empty() {
        format!("LLM recommended (expected value: {value:.2})")
    } else {
        format!("LLM recommended: {} (expected value: {value:.2})", reasons.join(", "))
    }
}

fn complexity(turns: &[Turn]) -> f64 {
    if turns.is_empty() {
        return 0.0;
    }
    let avg_len = turns.iter().map(|t| chars(&t.content)).sum::<usize>() as f64 / turns.len() as f64;
    let words: Vec<String> = turns
        .iter()
        .flat_map(|t| t.content.to_lowercase().split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let vocab = if words.is_empty() {
        0.0
    } else {
        words.iter().collect::<std::collections::HashSet<_>>().len() as f64 / words.len() as f64
    };
    ((avg_len / 500.0).min(1.0) * 0.6 + vocab * 0.4).min(1.0)
}

fn ambiguity(turns: &[Turn]) -> f64 {
    let total_len: usize = turns.iter().map(|t| chars(&t.content)).sum();
    if total_len == 0 {
        return 0.0;
    }
    let signals: usize =
        turns.iter().map(|t| AMBIGUITY.iter().map(|r| r.find_iter(&t.content).count()).sum::<usize>()).sum();
    (signals as f64 / total_len as f64 * 1000.0).min(1.0)
}

fn hybrid_quality(h: &ConversationAnalysis) -> f64 {
    let total = h.explicit_branches.len() + h.semantic_branches.len();
    if total == 0 {
        return 0.0;
    }
    ((total as f64 / 5.0).min(1.0) + h.explicit_branches.len() as f64 / total as f64 * 0.3).min(1.0)
}

fn coverage(turns: &[Turn], h: &ConversationAnalysis) -> f64 {
    if turns.is_empty() {
        return 1.0;
    }
    let mut with_branch = std::collections::HashSet::new();
    for bp in &h.explicit_branches {
        if let Some(id) = bp.meta.get("turn_id").and_then(|v| v.as_str()) {
            with_branch.insert(id.to_owned());
        }
    }
    for sb in &h.semantic_branches {
        with_branch.insert(sb.turn_id.clone());
    }
    with_branch.len() as f64 / turns.len() as f64
}

fn implicit_signals(turns: &[Turn]) -> f64 {
    if turns.is_empty() {
        return 0.0;
    }
    let hits: usize = turns.iter().map(|t| IMPLICIT.iter().filter(|r| r.is_match(&t.content)).count()).sum();
    (hits as f64 / turns.len() as f64).min(1.0)
}

/// The result of [`AutoRouter::analyze`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Routed {
    /// What the hybrid detectors found.
    pub hybrid: ConversationAnalysis,
    /// Branch points the LLM parser added.
    pub llm_branches: Vec<BranchPoint>,
    /// The router's decision, when LLM routing is enabled.
    pub decision: Option<RouterDecision>,
}

/// Hybrid analysis, plus the LLM parser when routing is enabled and the router says so.
pub struct AutoRouter<'a> {
    /// The hybrid analyzer.
    pub analyzer: ConversationAnalyzer,
    /// The LLM parser, if any.
    pub parser: Option<LlmBranchParser<'a>>,
    /// The router.
    pub router: Router,
    /// LLM use is opt-in.
    pub enable_llm_routing: bool,
}

impl<'a> AutoRouter<'a> {
    /// Hybrid only: LLM routing off, as by default.
    pub fn new(analyzer: ConversationAnalyzer) -> Self {
        Self { analyzer, parser: None, router: Router::default(), enable_llm_routing: false }
    }

    /// Turns LLM routing on with this parser.
    pub fn with_llm(mut self, parser: LlmBranchParser<'a>, router: Router) -> Self {
        self.parser = Some(parser);
        self.router = router;
        self.enable_llm_routing = true;
        self
    }

    /// Analyses and, when worth it, asks the LLM for more branch points.
    pub async fn analyze(&self, turns: &[Turn], embedder: Option<&dyn Embedder>) -> Result<Routed, LlmParseError> {
        let hybrid = self.analyzer.analyze_with(turns, embedder).await?;
        if !self.enable_llm_routing {
            return Ok(Routed { hybrid, llm_branches: Vec::new(), decision: None });
        }
        let decision = self.router.decide(turns, &hybrid);
        let llm_branches = match &self.parser {
            Some(parser) if decision.use_llm => {
                let text =
                    turns.iter().map(|t| format!("[{}]: {}", t.speaker, t.content)).collect::<Vec<_>>().join("\n\n");
                parser.parse(&text, OnParseFailure::Empty).await?
            }
            _ => Vec::new(),
        };
        Ok(Routed { hybrid, llm_branches, decision: Some(decision) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::Meta;

    fn turn(id: &str, content: &str) -> Turn {
        Turn { id: id.into(), speaker: "user".into(), content: content.into(), meta: Meta::new() }
    }

    #[test]
    fn heuristics_follow_the_formulas() {
        let turns = [turn("a", "maybe we could go? I am torn between two options"), turn("b", "ok ok")];
        assert!((complexity(&turns) - ((26.5 / 500.0) * 0.6 + 11.0 / 12.0 * 0.4)).abs() < 1e-12);
        // maybe, could, ? → 3 signals over 53 characters: capped at 1.
        assert_eq!(ambiguity(&turns), 1.0);
        assert!(
            (ambiguity(&[turn("x", &"word ".repeat(200)), turn("y", "maybe")]) - 1.0 / 1005.0 * 1000.0).abs() < 1e-12
        );
        assert_eq!(implicit_signals(&turns), 0.5);
    }

    #[test]
    fn empty_results_recommend_the_llm_and_prefer_speed_declines() {
        let turns = [turn("a", "maybe? perhaps? torn between a dilemma")];
        let hybrid = ConversationAnalyzer::default().analyze(&turns, None);
        let d = Router::default().decide(&turns, &hybrid);
        assert!(d.use_llm, "{d:?}");
        assert!(d.reason.starts_with("LLM recommended"));
        let fast = Router { prefer_speed: true, ..Router::default() };
        let d2 = fast.decide(&turns, &hybrid);
        assert_eq!(d2.use_llm, d2.estimated_value >= 0.7);
    }

    #[test]
    fn budget_refuses_long_conversations() {
        let turns: Vec<Turn> = (0..101).map(|i| turn(&i.to_string(), "maybe?")).collect();
        let hybrid = ConversationAnalyzer::default().analyze(&turns, None);
        let d = Router::default().decide(&turns, &hybrid);
        assert!(!d.use_llm);
        assert_eq!(d.reason, "Budget constraints exceeded");
    }
}
