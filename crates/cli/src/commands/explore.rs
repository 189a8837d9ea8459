//! `autobranch explore`: the main job. Generates a branching tree from a prompt: n children
//! per node, selection by the configured pipeline, kept children expanded breadth-first,
//! until max depth, the budget or the entropy stop. Checkpoints after every expanded node.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::anyhow;
use autobranch_core::config::{ExpandMode, ModelConfig};
use autobranch_core::entropy::EntropyReason;
use autobranch_core::explore::{
    EntropyRecord, Exploration, ExploreError, Explorer, Node, NodeStatus, Pruning, StopReason,
};
use autobranch_core::{Config, StepError};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::args::{EmbedderArgs, GeneratorArgs, SamplingArgs, load_config};
use crate::backends::{self, Choice};
use crate::failure::{Classify, Failure};
use crate::output;

/// What `explore` was asked.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The root prompt (optional with --resume).
    pub prompt: Option<String>,
    /// Configuration file (.yaml, .yml, .json or .toml); AUTOBRANCH_* variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub generator: GeneratorArgs,
    #[command(flatten)]
    pub embedder: EmbedderArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Children generated per expanded node (explore.n) [default: 8].
    #[arg(long)]
    pub n: Option<usize>,
    /// Deepest level generated; the root is 0 (explore.max_depth) [default: 2].
    #[arg(long)]
    pub depth: Option<usize>,
    /// Beam width: children kept per expanded node (beam.k) [default: 5].
    #[arg(long)]
    pub k: Option<usize>,
    /// Nodes per generator call: `level` (every queued node of one depth in one batch) or
    /// `node` (explore.expand) [default: level].
    #[arg(long, value_name = "level|node")]
    pub expand: Option<String>,
    /// Checkpoint file, rewritten atomically after every expanded node.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Resume from a checkpoint (and keep checkpointing into it unless --checkpoint says otherwise).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Write the finished tree as JSON.
    #[arg(long, value_name = "tree.json")]
    pub out: Option<PathBuf>,
    /// Write a self-contained page that shows the tree.
    #[arg(long, value_name = "tree.html")]
    pub html: Option<PathBuf>,
    /// Print the tree as JSON instead of a tree view.
    #[arg(long)]
    pub json: bool,
}

fn positive(flag: &str, value: Option<usize>) -> Result<Option<usize>, Failure> {
    match value {
        Some(0) => Err(Failure::BadInput(anyhow!("{flag} 0 is out of range; allowed: an integer ≥ 1"))),
        v => Ok(v),
    }
}

/// tree.json: the exploration without the resume-only bookkeeping, its configuration in
/// the keys and shape `--config` reads.
pub fn tree_json(state: &Exploration, config: &Config) -> Result<Value, Failure> {
    let mut v = serde_json::to_value(state).runtime()?;
    if let Value::Object(m) = &mut v {
        for key in ["queue", "expansions", "selector_state", "version"] {
            m.remove(key);
        }
        m.insert("config".into(), config.to_file_value());
    }
    Ok(v)
}

/// An exploration error as bad input (exit 2) or a runtime failure (exit 1).
pub fn classify(e: ExploreError) -> Failure {
    match &e {
        ExploreError::Step { source: StepError::MissingEmbeddings { .. } | StepError::Input(_), .. } => {
            Failure::BadInput(e.into())
        }
        ExploreError::Generation {
            source: autobranch_core::ModelError::InvalidRequest(_) | autobranch_core::ModelError::BrokenModel(_),
            ..
        } => Failure::BadInput(e.into()),
        ExploreError::ConfigMismatch(_) => Failure::BadInput(e.into()),
        _ => Failure::Runtime(e.into()),
    }
}

/// Why a node ended as it did, in a few words.
fn reason(node: &Node) -> String {
    match (&node.status, &node.pruned_by) {
        (_, Some(Pruning::Beam { rank, k })) => format!("rank {rank} > k {k}"),
        (_, Some(Pruning::Novelty { duplicate_of, similarity, threshold })) => match threshold {
            Some(t) => format!("duplicates {duplicate_of} (similarity {similarity:.3} > {t})"),
            None => format!("duplicates {duplicate_of} (similarity {similarity:.3})"),
        },
        _ => String::new(),
    }
}

/// What the entropy stopper decided below one node, and why.
fn entropy_line(e: &EntropyRecord) -> String {
    let d = &e.decision;
    let verdict = match d.reason {
        None => format!("≥ {} → go on", e.min_entropy),
        Some(EntropyReason::LowEntropy) => format!("< {} → stop (too little diversity)", e.min_entropy),
        Some(EntropyReason::LowDeltaEntropy) => format!(
            "≥ {}, but changed by {:.3} < {} → stop (entropy settled)",
            e.min_entropy,
            d.delta.unwrap_or(0.0),
            e.delta_epsilon.unwrap_or(0.0)
        ),
        Some(EntropyReason::Singleton) => "one candidate left → stop".into(),
        Some(EntropyReason::NoCandidatesRemaining) => "nothing left → stop".into(),
    };
    format!(
        "entropy of the children of {} (depth {}): {:.3} over {} cluster(s) {verdict}",
        e.node, e.depth, d.value, d.clusters
    )
}

fn print_tree(state: &Exploration) {
    fn walk(state: &Exploration, id: &str, depth: usize) {
        for node in state.nodes.iter().filter(|n| n.parent.as_deref() == Some(id)) {
            let mark = match node.status {
                NodeStatus::Kept => "✓",
                NodeStatus::NotExpanded => "…",
                NodeStatus::PrunedBeam => "✗ beam",
                NodeStatus::PrunedNovelty => "✗ novelty",
                NodeStatus::Root => "",
            };
            let text: String = node.text.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = text.chars().take(90).collect();
            let ellipsis = if text.chars().count() > 90 { "…" } else { "" };
            let why = reason(node);
            let why = if why.is_empty() { why } else { format!(" [{why}]") };
            println!(
                "{}{} {:.3} {mark:<9} {short}{ellipsis}{why}",
                "  ".repeat(depth),
                node.id,
                node.score.unwrap_or(0.0)
            );
            walk(state, &node.id, depth + 1);
        }
    }
    let root = &state.nodes[0];
    println!("{} {}", root.id, root.text.split_whitespace().collect::<Vec<_>>().join(" "));
    walk(state, &root.id, 1);
    let count = |s: NodeStatus| state.nodes.iter().filter(|n| n.status == s).count();
    println!();
    println!(
        "{} nodes: {} kept, {} pruned by the beam, {} by novelty, {} left unexpanded; stopped: {}",
        state.nodes.len(),
        count(NodeStatus::Kept),
        count(NodeStatus::PrunedBeam),
        count(NodeStatus::PrunedNovelty),
        count(NodeStatus::NotExpanded),
        state.stop_reason.map_or("not finished".into(), stop_text)
    );
    for e in &state.entropy_history {
        println!("{}", entropy_line(e));
    }
    for w in &state.warnings {
        println!("warning: {w}");
    }
}

fn stop_text(reason: StopReason) -> String {
    serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Expansions still possible below the queued nodes: each queued node, and up to k
/// children of each node above the deepest level.
fn planned_expansions(state: &Exploration, config: &Config) -> u64 {
    let (k, max_depth) = (config.beam_k as u64, config.explore.max_depth);
    state
        .queue
        .iter()
        .map(|&i| {
            let below = max_depth.saturating_sub(state.nodes[i].depth + 1);
            // 1 + k + k² + … + k^below
            (0..=below).fold((0u64, 1u64), |(sum, term), _| (sum.saturating_add(term), term.saturating_mul(k))).0
        })
        .fold(0, u64::saturating_add)
}

/// Runs the command.
pub async fn run(args: ExploreArgs) -> Result<(), Failure> {
    let checkpoint = args.checkpoint.clone().or_else(|| args.resume.clone());
    // No output may name the checkpoint or the resumed file, nor the other output (by
    // identity, not by spelling): the later write would destroy the earlier one. The
    // checkpoint may be the resumed file: that is the default.
    let present = |pairs: [(&'static str, &Option<PathBuf>); 2]| -> Vec<(&'static str, PathBuf)> {
        pairs.into_iter().filter_map(|(flag, p)| p.clone().map(|p| (flag, p))).collect()
    };
    let outputs = present([("--out", &args.out), ("--html", &args.html)]);
    let inputs = present([("--resume", &args.resume), ("--checkpoint", &args.checkpoint)]);
    for (i, (flag, path)) in outputs.iter().enumerate() {
        for (other, other_path) in outputs[i + 1..].iter().chain(&inputs) {
            output::distinct(&[(*flag, path.as_path()), (*other, other_path.as_path())])?;
        }
    }
    // Checked before the run, so a long exploration cannot end on an unwritable path.
    let out = args.out.as_deref().map(|p| output::check("--out", p)).transpose()?;
    let html = args.html.as_deref().map(|p| output::check("--html", p)).transpose()?;
    let checkpoint = match checkpoint {
        Some(path) => {
            let flag = if args.checkpoint.is_some() { "--checkpoint" } else { "--resume" };
            Some(output::check(flag, &path)?.regular_file().ok_or_else(|| {
                Failure::BadInput(anyhow!(
                    "{flag} {}: a checkpoint is replaced on every expansion, so it must be a regular file",
                    path.display()
                ))
            })?)
        }
        None => None,
    };

    let resumed = match &args.resume {
        Some(path) => {
            let state = Exploration::load(path)
                .map_err(|e| Failure::BadInput(anyhow!("cannot resume: {e}; the file was left untouched")))?;
            if let Some(p) = &args.prompt
                && p != state.prompt()
            {
                return Err(Failure::BadInput(anyhow!(
                    "the prompt differs from the one in {} ({:?}); drop the prompt to resume, or start anew",
                    path.display(),
                    state.prompt()
                )));
            }
            Some(state)
        }
        None => None,
    };
    // A resume starts from the checkpoint's own configuration unless a configuration file or
    // AUTOBRANCH_* overrides are given; flags apply on top, and Explorer::resume refuses any
    // difference, naming it.
    let env_overrides = std::env::vars().any(|(k, _)| {
        k.strip_prefix(autobranch_core::config::ENV_PREFIX)
            .is_some_and(|r| r.contains(autobranch_core::config::ENV_SEPARATOR))
    });
    let mut config: Config = match &resumed {
        Some(state) if args.config.is_none() && !env_overrides => Explorer::checkpoint_config(state)
            .map_err(|e| Failure::BadInput(anyhow!("cannot resume: {e}; the file was left untouched")))?,
        _ => load_config(args.config.as_ref())?,
    };
    args.sampling.apply(&mut config)?;
    if let Some(n) = positive("--n", args.n)? {
        config.explore.n = n;
    }
    if let Some(d) = positive("--depth", args.depth)? {
        config.explore.max_depth = d;
    }
    if let Some(k) = positive("--k", args.k)? {
        config.beam_k = k;
    }
    match args.expand.as_deref() {
        None => {}
        Some("level") => config.explore.expand = ExpandMode::Level,
        Some("node") => config.explore.expand = ExpandMode::Node,
        Some(other) => {
            return Err(Failure::BadInput(anyhow!("--expand {other:?} is not a mode; allowed: level, node")));
        }
    }
    let prompt = match (&args.prompt, &resumed) {
        (Some(p), _) => p.clone(),
        (None, Some(s)) => s.prompt().to_owned(),
        (None, None) => return Err(Failure::BadInput(anyhow!("give a PROMPT, or --resume FILE"))),
    };
    if let Some(on) = args.generator.prompt_cache {
        // It decides the tree, so the tree's configuration records it: a rerun from tree.json
        // or a resume decodes the same way (and a resume with the other setting is refused).
        let backend = args.generator.generator.as_deref().unwrap_or("llamacpp");
        match &mut config.generator {
            Some(section) if section.backend == backend => section.prompt_cache = Some(on),
            Some(_) => {}
            None => config.generator = Some(ModelConfig { prompt_cache: Some(on), ..ModelConfig::new(backend) }),
        }
    }
    let generator =
        backends::generator(&Choice::generator(&args.generator, config.generator.as_ref()), false, config.explore.n)?;
    let embedder = backends::embedder_if_needed(&config, &args.embedder).await?;
    let children_per_node = config.explore.n;
    let mut explorer = Explorer::new(generator.as_ref(), embedder.as_deref(), config);
    let mut state = match resumed {
        Some(state) => {
            explorer.resume(&state).map_err(classify)?;
            let now = (generator.model_id(), embedder.as_ref().map(|e| e.model_id()));
            if (state.models.generator.as_str(), state.models.embedder.as_deref()) != now {
                return Err(Failure::BadInput(anyhow!(
                    "cannot resume: the checkpoint was made with generator {} and embedder {:?}, now {} and {:?}",
                    state.models.generator,
                    state.models.embedder,
                    now.0,
                    now.1
                )));
            }
            state
        }
        None => explorer.start(&prompt),
    };

    let show_progress = !args.json && std::io::stdout().is_terminal();
    let bar = if show_progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:24}] {pos}/{len} expansions · {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let started = std::time::Instant::now();
    let done_before = state.expansions;
    let tokens_before: u64 = state.nodes.iter().map(|n| u64::from(n.tokens)).sum();
    let outcome = loop {
        let done = state.expansions;
        bar.set_length(done + planned_expansions(&state, explorer.config()));
        bar.set_position(done);
        if let Some(&next) = state.queue.front() {
            let secs = started.elapsed().as_secs_f64();
            let tokens: u64 = state.nodes.iter().map(|n| u64::from(n.tokens)).sum::<u64>() - tokens_before;
            let depth = state.nodes[next].depth;
            let frontier = match explorer.config().explore.expand {
                ExpandMode::Level => state.queue.iter().take_while(|&&i| state.nodes[i].depth == depth).count(),
                ExpandMode::Node => 1,
            };
            let mut msg = match frontier {
                1 => format!("generating {children_per_node} children of {}", state.nodes[next].id),
                f => {
                    format!("generating {} children of {f} nodes at depth {depth} in one batch", f * children_per_node)
                }
            };
            if done > done_before && secs > 0.0 {
                let per = secs / (done - done_before) as f64;
                let left = per * planned_expansions(&state, explorer.config()) as f64;
                msg.push_str(&format!(" · {:.1} tokens/s · at most {left:.0} s left", tokens as f64 / secs));
            }
            bar.set_message(msg);
        }
        let step = explorer.expand_next(&mut state).await;
        if let Some(path) = &checkpoint {
            state.save(path).map_err(|e| Failure::Runtime(e.into()))?;
        }
        match step {
            Ok(true) => continue,
            Ok(false) => break Ok(()),
            Err(e) => break Err(classify(e)),
        }
    };
    bar.finish_and_clear();

    let tree = tree_json(&state, explorer.config())?;
    if let Some(out) = &out {
        out.write(serde_json::to_string_pretty(&tree).runtime()?.as_bytes())?;
    }
    if let Some(page) = &html {
        page.write(crate::html::render(&tree).as_bytes())?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tree).runtime()?);
    } else {
        print_tree(&state);
    }
    outcome
}
