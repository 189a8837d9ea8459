//! `autobranch analyze`: explicit and semantic branches of a conversation.

use std::collections::HashMap;
use std::path::Path;

use anyhow::anyhow;
use autobranch_core::conversation::{ConversationAnalyzer, Turn};
use autobranch_core::vectors::check_vector;
use autobranch_core::{Embeddings, Meta};
use serde::Deserialize;

use crate::failure::{Classify, Failure};
use crate::input::{parse_jsonl, read_text};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    speaker: String,
    content: String,
    #[serde(default)]
    meta: Meta,
    embedding: Option<Vec<f64>>,
}

fn parse(text: &str, source: &str) -> anyhow::Result<(Vec<Turn>, Option<Embeddings>)> {
    let lines: Vec<(usize, Line)> = parse_jsonl(text, source)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (n, l) in &lines {
        if l.id.is_empty() {
            return Err(anyhow!("{source}:{n}: \"id\" is empty; every turn needs a non-empty id"));
        }
        if let Some(first) = seen.insert(&l.id, *n) {
            return Err(anyhow!("{source}:{n}: duplicate id {:?} (first on line {first}); ids must be unique", l.id));
        }
    }
    let with = lines.iter().filter(|(_, l)| l.embedding.is_some()).count();
    let vectors = if with == 0 {
        None
    } else if with < lines.len() {
        let missing: Vec<String> =
            lines.iter().filter(|(_, l)| l.embedding.is_none()).map(|(n, _)| n.to_string()).collect();
        return Err(anyhow!(
            "{source}: line(s) {} have no \"embedding\" while others do; give every turn one or none",
            missing.join(", ")
        ));
    } else {
        let rows: Vec<Vec<f32>> =
            lines.iter().map(|(_, l)| l.embedding.iter().flatten().map(|&x| x as f32).collect()).collect();
        for ((n, l), row) in lines.iter().zip(&rows) {
            check_vector(&l.id, row, rows[0].len()).map_err(|e| anyhow!("{source}:{n}: {e}"))?;
        }
        Some(Embeddings::from_rows(&rows)?)
    };
    let turns = lines
        .into_iter()
        .map(|(_, l)| Turn { id: l.id, speaker: l.speaker, content: l.content, meta: l.meta })
        .collect();
    Ok((turns, vectors))
}

/// Runs the command.
pub async fn run(file: &Path, topic_shift_threshold: f64, json: bool) -> Result<(), Failure> {
    if !(0.0..=1.0).contains(&topic_shift_threshold) {
        return Err(Failure::BadInput(anyhow!(
            "--topic-shift-threshold = {topic_shift_threshold} is out of range; allowed: [0, 1]"
        )));
    }
    let (text, source) = read_text(Some(file)).bad_input()?;
    let (turns, vectors) = parse(&text, &source).bad_input()?;
    let analyzer = ConversationAnalyzer { topic_shift_threshold, ..ConversationAnalyzer::default() };
    let analysis = analyzer.analyze(&turns, vectors.as_ref());
    if json {
        println!("{}", serde_json::to_string_pretty(&analysis).runtime()?);
        return Ok(());
    }
    println!("explicit branches: {}", analysis.explicit_branches.len());
    for bp in &analysis.explicit_branches {
        let turn = bp.meta.get("turn_id").and_then(|t| t.as_str()).unwrap_or("?");
        let labels: Vec<&str> = bp.options.iter().map(|o| o.label.as_str()).collect();
        println!("  turn {turn}: {} [{}]", bp.kind.as_str(), labels.join(" | "));
    }
    println!("semantic branches: {}", analysis.semantic_branches.len());
    for sb in &analysis.semantic_branches {
        println!("  turn {}: {} (confidence {:.2})", sb.turn_id, sb.description, sb.confidence);
    }
    let s = &analysis.statistics;
    println!(
        "{} branch(es): {} explicit with {} option(s), {} semantic, mean semantic confidence {:.2}",
        s.total_branches, s.explicit_count, s.explicit_options, s.semantic_count, s.avg_semantic_confidence
    );
    for w in &analysis.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
