use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::types::{BranchOption, BranchPoint, BranchType};
use crate::candidate::Meta;

static ENUM_MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+\.\s+|[-*•]\s+)").expect("valid regex"));
static DISJUNCTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(or|either|alternatively)\b").expect("valid regex"));
static EITHER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\beither\b").expect("valid regex"));
static OR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\bor\b").expect("valid regex"));
static LEADING_CONNECTIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(alternatively|also|and)\s+").expect("valid regex"));
static CONDITIONAL_HINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(if\b.*?\bthen\b|unless\b|otherwise\b)").expect("valid regex"));
static IF_THEN_ELSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bif\b\s+(.*?)\s+\bthen\b\s+(.*?)(?:\s+\belse\b\s+(.*?))?$").expect("valid regex")
});

/// Finds branch points in text without a model.
#[derive(Clone, Copy, Debug, Default)]
pub struct BranchExtractor;

impl BranchExtractor {
    /// Enumerations, then disjunctions, then conditionals.
    pub fn extract(&self, text: &str) -> Vec<BranchPoint> {
        let mut points = enumerations(text);
        let sentences = split_sentences(text);
        points.extend(disjunctions(&sentences));
        points.extend(conditionals(&sentences));
        points
    }
}

/// Lines as Python's `str.splitlines` cuts them.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\u{85}', '\u{2028}', '\u{2029}'])
}

fn enumerations(text: &str) -> Vec<BranchPoint> {
    let lines: Vec<&str> = split_lines(text).map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut points = Vec::new();
    let mut run_start: Option<usize> = None;
    for i in 0..=lines.len() {
        let is_item = lines.get(i).is_some_and(|l| ENUM_MARKER.is_match(l));
        match (is_item, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if i - start >= 2 {
                    points.push(enumeration(&lines[start..i], start));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    points
}

fn enumeration(lines: &[&str], start: usize) -> BranchPoint {
    let id = format!("bp_enum_{start}");
    let options = lines
        .iter()
        .enumerate()
        .map(|(j, line)| BranchOption {
            id: format!("{id}_opt{j}"),
            label: ENUM_MARKER.replace(line, "").trim().to_owned(),
            span: (*line).to_owned(),
            meta: Meta::new(),
        })
        .collect();
    BranchPoint {
        id,
        kind: BranchType::Enumeration,
        options,
        depends_on: Vec::new(),
        context: lines.join("\n"),
        meta: Meta::new(),
    }
}

/// Splits after `.`, `!` or `?` followed by whitespace; trims and drops empty sentences.
pub(crate) fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() && matches!(prev, Some('.' | '!' | '?')) {
            out.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            while let Some(&(j, w)) = chars.peek() {
                if !w.is_whitespace() {
                    break;
                }
                end = j + w.len_utf8();
                chars.next();
            }
            start = end;
            prev = None;
            continue;
        }
        prev = Some(c);
    }
    out.push(&text[start..]);
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

fn disjunctions(sentences: &[&str]) -> Vec<BranchPoint> {
    let mut points = Vec::new();
    for (idx, sentence) in sentences.iter().enumerate() {
        if !DISJUNCTION.is_match(sentence) {
            continue;
        }
        let without_either = EITHER.replace_all(sentence, "");
        let parts: Vec<String> = OR
            .split(without_either.trim())
            .map(|part| {
                let cleaned = part.trim_matches([' ', ',', '.', ';', ':', '!', '?']);
                LEADING_CONNECTIVE.replace(cleaned, "").into_owned()
            })
            .filter(|p| p.chars().count() > 1)
            .collect();
        if parts.len() >= 2 {
            let id = format!("bp_disj_{idx}");
            let options = parts
                .into_iter()
                .enumerate()
                .map(|(j, p)| BranchOption { id: format!("{id}_opt{j}"), label: p.clone(), span: p, meta: Meta::new() })
                .collect();
            points.push(BranchPoint {
                id,
                kind: BranchType::Disjunction,
                options,
                depends_on: Vec::new(),
                context: (*sentence).to_owned(),
                meta: Meta::new(),
            });
        }
    }
    points
}

fn conditionals(sentences: &[&str]) -> Vec<BranchPoint> {
    let mut points = Vec::new();
    for (idx, sentence) in sentences.iter().enumerate() {
        if !CONDITIONAL_HINT.is_match(sentence) {
            continue;
        }
        let Some(caps) = IF_THEN_ELSE.captures(sentence) else { continue };
        let Some(else_clause) = caps.get(3).map(|m| m.as_str().trim()).filter(|e| !e.is_empty()) else {
            continue;
        };
        let condition = caps[1].trim();
        let then_clause = caps[2].trim();
        let id = format!("bp_cond_{idx}");
        let options = vec![
            BranchOption {
                id: format!("{id}_then"),
                label: then_clause.to_owned(),
                span: format!("if {condition} then {then_clause}"),
                meta: Meta::new(),
            },
            BranchOption {
                id: format!("{id}_else"),
                label: else_clause.to_owned(),
                span: format!("else {else_clause}"),
                meta: Meta::new(),
            },
        ];
        let mut meta = Meta::new();
        meta.insert("condition".into(), condition.into());
        points.push(BranchPoint {
            id,
            kind: BranchType::Conditional,
            options,
            depends_on: Vec::new(),
            context: (*sentence).to_owned(),
            meta,
        });
    }
    points
}

/// The product of option counts (1 for none), saturating at `u64::MAX`; the flag says
/// whether it saturated.
pub fn count_max_leaves(points: &[BranchPoint]) -> (u64, bool) {
    points.iter().fold((1u64, false), |(acc, sat), p| match acc.checked_mul(p.options.len() as u64) {
        Some(v) => (v, sat),
        None => (u64::MAX, true),
    })
}

/// Counts over a set of branch points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchStatistics {
    /// Branch points.
    pub total_branch_points: usize,
    /// Options over all branch points.
    pub total_options: usize,
    /// Product of option counts, saturating (see `max_leaves_saturated`).
    pub max_leaves: u64,
    /// Whether `max_leaves` hit `u64::MAX` (saturating arithmetic, not big integers).
    pub max_leaves_saturated: bool,
    /// Branch points per type.
    pub by_type: BTreeMap<BranchType, usize>,
    /// Mean options per branch point (0 for none).
    pub avg_options_per_branch: f64,
}

/// Statistics of `points`.
pub fn statistics(points: &[BranchPoint]) -> BranchStatistics {
    let total_options: usize = points.iter().map(|p| p.options.len()).sum();
    let mut by_type = BTreeMap::new();
    for p in points {
        *by_type.entry(p.kind).or_insert(0) += 1;
    }
    let (max_leaves, max_leaves_saturated) = count_max_leaves(points);
    BranchStatistics {
        total_branch_points: points.len(),
        total_options,
        max_leaves,
        max_leaves_saturated,
        by_type,
        avg_options_per_branch: if points.is_empty() { 0.0 } else { total_options as f64 / points.len() as f64 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(p: &BranchPoint) -> Vec<&str> {
        p.options.iter().map(|o| o.label.as_str()).collect()
    }

    #[test]
    fn enumeration_runs_ignore_blank_lines() {
        let text = "Pick a framework:\n\n1. Flask\n\n2. FastAPI\n- Django\nThat's all.\n* lone";
        let points = BranchExtractor.extract(text);
        let e = &points[0];
        assert_eq!(e.id, "bp_enum_1");
        assert_eq!(e.kind, BranchType::Enumeration);
        assert_eq!(labels(e), ["Flask", "FastAPI", "Django"]);
        assert_eq!(e.options[1].id, "bp_enum_1_opt1");
        assert_eq!(e.options[1].span, "2. FastAPI");
        assert_eq!(e.context, "1. Flask\n2. FastAPI\n- Django");
        assert!(points.iter().all(|p| p.id != "bp_enum_5"), "a single item is no branch point");
    }

    #[test]
    fn disjunctions_split_on_or_and_drop_connectives() {
        let points =
            BranchExtractor.extract("Hello there. We could use Flask, or alternatively FastAPI! Either tea or coffee.");
        let d: Vec<&BranchPoint> = points.iter().filter(|p| p.kind == BranchType::Disjunction).collect();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].id, "bp_disj_1");
        assert_eq!(labels(d[0]), ["We could use Flask", "FastAPI"]);
        assert_eq!(d[1].id, "bp_disj_2");
        assert_eq!(labels(d[1]), ["tea", "coffee"]);
    }

    #[test]
    fn or_inside_words_does_not_count() {
        assert!(BranchExtractor.extract("The orchestra performed for the doctor.").is_empty());
    }

    #[test]
    fn conditionals_need_an_else() {
        let points = BranchExtractor.extract("If it rains then stay inside else go for a walk. If hungry then eat.");
        assert_eq!(points.len(), 1);
        let c = &points[0];
        assert_eq!(c.id, "bp_cond_0");
        assert_eq!(labels(c), ["stay inside", "go for a walk."]);
        assert_eq!(c.options[0].span, "if it rains then stay inside");
        assert_eq!(c.options[1].id, "bp_cond_0_else");
        assert_eq!(c.meta["condition"], "it rains");
    }

    #[test]
    fn sentences_split_after_terminal_punctuation_only() {
        assert_eq!(split_sentences("A b. C d!  E?\nF 3.5 g"), ["A b.", "C d!", "E?", "F 3.5 g"]);
        assert!(split_sentences("   ").is_empty());
    }

    #[test]
    fn leaves_multiply_and_saturate() {
        let text = "1. a\n2. b\n3. c\nx\n- d\n- e";
        let points = BranchExtractor.extract(text);
        assert_eq!(count_max_leaves(&points), (6, false));
        assert_eq!(count_max_leaves(&[]), (1, false));
        let many: Vec<BranchPoint> = std::iter::repeat_n(points[0].clone(), 64).collect();
        assert_eq!(count_max_leaves(&many), (u64::MAX, true));
        let stats = statistics(&points);
        assert_eq!((stats.total_branch_points, stats.total_options, stats.avg_options_per_branch), (2, 5, 2.5));
        assert_eq!(stats.by_type[&BranchType::Enumeration], 2);
    }
}
