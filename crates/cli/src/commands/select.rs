//! `autobranch select`: one selection step over a JSONL file of candidates.

use std::collections::HashMap;
use std::path::Path;

use anyhow::anyhow;
use autobranch_core::vectors::check_vector;
use autobranch_core::{Candidate, Config, Embedder, Meta, StepError, StepResult, StepVectors};
use serde::Deserialize;
use serde_json::json;

use crate::args::EmbedderArgs;
use crate::backends::{self, Choice};
use crate::failure::{Classify, Failure};
use crate::input::{parse_jsonl, read_text};

/// One line of the input: the parent or a candidate.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    id: String,
    text: String,
    #[serde(default)]
    meta: Meta,
    embedding: Option<Vec<f64>>,
    role: Option<String>,
}

impl Line {
    /// Marks the line as the parent.
    pub fn into_parent(mut self) -> Self {
        self.role = Some("parent".into());
        self
    }
}

/// The parsed input: the parent, the candidates and, when every line has one, their vectors.
pub struct Input {
    parent: Candidate,
    candidates: Vec<Candidate>,
    vectors: Option<StepVectors>,
    missing_embeddings: Vec<usize>,
}

fn parse_input(text: &str, source: &str) -> anyhow::Result<Input> {
    input_from_lines(parse_jsonl(text, source)?, source)
}

/// The input from its numbered lines; `source` names where they came from in errors.
pub fn input_from_lines(lines: Vec<(usize, Line)>, source: &str) -> anyhow::Result<Input> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut parent: Option<usize> = None;
    for (pos, (n, line)) in lines.iter().enumerate() {
        if line.id.is_empty() {
            return Err(anyhow!("{source}:{n}: \"id\" is empty; every line needs a non-empty id"));
        }
        if let Some(first) = seen.insert(&line.id, *n) {
            return Err(anyhow!(
                "{source}:{n}: duplicate id {:?} (first on line {first}); ids must be unique",
                line.id
            ));
        }
        match line.role.as_deref() {
            None | Some("candidate") => {}
            Some("parent") => {
                if let Some(p) = parent {
                    return Err(anyhow!(
                        "{source}:{n}: a second \"role\": \"parent\" line (the first is on line {}); give exactly one",
                        lines[p].0
                    ));
                }
                parent = Some(pos);
            }
            Some(other) => {
                return Err(anyhow!(
                    "{source}:{n}: \"role\" is {other:?}; allowed: \"parent\", \"candidate\" or no role"
                ));
            }
        }
    }
    let parent =
        parent.ok_or_else(|| anyhow!("{source}: no line has \"role\": \"parent\"; mark the parent line with it"))?;

    let with_vectors = lines.iter().filter(|(_, l)| l.embedding.is_some()).count();
    let missing_embeddings: Vec<usize> = lines.iter().filter(|(_, l)| l.embedding.is_none()).map(|(n, _)| *n).collect();
    let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let vectors = if with_vectors == lines.len() {
        let rows: Vec<Vec<f32>> =
            lines.iter().map(|(_, l)| to_f32(l.embedding.as_deref().unwrap_or_default())).collect();
        let dim = rows[parent].len();
        for ((n, line), row) in lines.iter().zip(&rows) {
            check_vector(&line.id, row, dim).map_err(|e| anyhow!("{source}:{n}: {e}"))?;
        }
        let cands: Vec<(&str, &[f32])> = lines
            .iter()
            .zip(&rows)
            .enumerate()
            .filter(|(i, _)| *i != parent)
            .map(|(_, ((_, l), r))| (l.id.as_str(), r.as_slice()))
            .collect();
        Some(StepVectors::precomputed((&lines[parent].1.id, &rows[parent]), &cands)?)
    } else {
        None
    };
    let mut parent_candidate = None;
    let mut candidates = Vec::with_capacity(lines.len() - 1);
    for (i, (_, l)) in lines.into_iter().enumerate() {
        let c = Candidate { id: l.id, text: l.text, meta: l.meta };
        if i == parent { parent_candidate = Some(c) } else { candidates.push(c) }
    }
    let parent = parent_candidate.ok_or_else(|| anyhow!("{source}: parent line vanished"))?;
    let missing_embeddings = if with_vectors == 0 { Vec::new() } else { missing_embeddings };
    Ok(Input { parent, candidates, vectors, missing_embeddings })
}

/// Runs the command.
pub async fn run(input: &Path, config: Option<&Path>, model: &EmbedderArgs, json: bool) -> Result<(), Failure> {
    let config = Config::load(config).bad_input()?;
    let (text, source) = read_text(Some(input)).bad_input()?;
    let input = parse_input(&text, &source).bad_input()?;
    let selector = config.build_selector();

    // An embedder is used only when the input carries no vectors and a stage needs them, and
    // only when one is asked for (flags or the configuration's `embedding` section).
    let asked = model.embedder.is_some()
        || model.embed_model.is_some()
        || model.embed_device.is_some()
        || config.embedding.is_some();
    let embedder = if input.vectors.is_none() && selector.needs_embeddings() && asked {
        let choice = Choice::embedder(model, config.embedding.as_ref());
        Some(backends::embedder(&choice).await?)
    } else {
        None
    };
    let result = step(&config, input, embedder.as_deref(), &source).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&to_json(&result)).runtime()?);
    } else {
        print_table(&result);
    }
    Ok(())
}

/// One selection step on the input; the embedder, if any, embeds an input without vectors.
pub async fn step(
    config: &Config,
    input: Input,
    embedder: Option<&dyn Embedder>,
    source: &str,
) -> Result<StepResult, Failure> {
    let mut selector = config.build_selector();
    if !input.missing_embeddings.is_empty() && embedder.is_none() {
        let lines: Vec<String> = input.missing_embeddings.iter().map(ToString::to_string).collect();
        return Err(Failure::BadInput(anyhow!(
            "{source}: line(s) {} have no \"embedding\" while others do, and no embedder is configured; \
             give every line an embedding or none",
            lines.join(", ")
        )));
    }
    let result = match (&input.vectors, embedder) {
        (Some(v), _) => selector.step_with_vectors(&input.parent, input.candidates, Some(v)),
        (None, Some(e)) => selector.step(&input.parent, input.candidates, Some(e)).await,
        (None, None) => selector.step_with_vectors(&input.parent, input.candidates, None),
    };
    result.map_err(|e| match e {
        StepError::MissingEmbeddings { .. } => Failure::BadInput(anyhow!(
            "{e}; add \"embedding\" to every line of {source}, configure an embedder, \
             or turn the stage off in the config (novelty: null, entropy: null)"
        )),
        StepError::Input(_) => Failure::BadInput(e.into()),
        StepError::Budget(_) | StepError::Embedding(_) => Failure::Runtime(e.into()),
    })
}

fn ids(list: &[autobranch_core::ScoredCandidate]) -> Vec<&str> {
    list.iter().map(|c| c.id()).collect()
}

/// The result as `select --json` prints it.
pub fn to_json(r: &StepResult) -> serde_json::Value {
    json!({
        "kept": r.kept.iter().map(|c| json!({"id": c.id(), "text": c.text(), "score": c.score})).collect::<Vec<_>>(),
        "scored": r.scored.iter().map(|c| json!({"id": c.id(), "score": c.score})).collect::<Vec<_>>(),
        "after_beam": ids(&r.after_beam),
        "after_novelty": ids(&r.after_novelty),
        "duplicates": r.duplicates,
        "entropy": r.entropy,
        "should_continue": r.should_continue,
        "budget": r.budget,
        "warnings": r.warnings,
    })
}

fn preview(text: &str, n: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > n {
        format!("{}…", one_line.chars().take(n - 1).collect::<String>())
    } else {
        one_line
    }
}

fn print_table(r: &StepResult) {
    let beam: Vec<&str> = ids(&r.after_beam);
    let kept: Vec<&str> = ids(&r.kept);
    let width = r.scored.iter().map(|c| c.id().chars().count()).max().unwrap_or(2).max(2);
    println!("{:<width$}  {:>6}  {:<16}  text", "id", "score", "stage");
    for c in &r.scored {
        let stage = if kept.contains(&c.id()) {
            "kept"
        } else if beam.contains(&c.id()) {
            "pruned: novelty"
        } else {
            "pruned: beam"
        };
        println!("{:<width$}  {:>6.4}  {:<16}  {}", c.id(), c.score, stage, preview(c.text(), 60));
    }
    println!();
    println!(
        "{} scored → {} after beam → {} after novelty → {} kept",
        r.scored.len(),
        r.after_beam.len(),
        r.after_novelty.len(),
        r.kept.len()
    );
    if let Some(e) = &r.entropy {
        let sizes: Vec<String> = e.cluster_sizes.iter().map(ToString::to_string).collect();
        let reason =
            e.reason.map(|r| format!(" ({})", serde_json::to_value(r).unwrap_or_default().as_str().unwrap_or("")));
        println!(
            "entropy {:.4}{} over {} cluster(s) of sizes [{}]: {}{}",
            e.value,
            e.delta.map(|d| format!(" (Δ {d:.4})")).unwrap_or_default(),
            e.clusters,
            sizes.join(", "),
            if e.should_continue { "continue" } else { "stop" },
            reason.unwrap_or_default()
        );
    }
    if let Some(b) = &r.budget {
        println!(
            "budget: nodes {}/{}, tokens {}/{}, time {}/{} ms",
            b.used_nodes, b.max_nodes, b.used_tokens, b.max_tokens, b.used_ms, b.max_ms
        );
    }
    println!("should continue: {}", if r.should_continue { "yes" } else { "no" });
    for w in &r.warnings {
        println!("warning: {w}");
    }
}
