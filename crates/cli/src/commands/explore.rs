//! `autobranch explore`: the main job. Generates a branching tree from a prompt: n children
//! per node, selection by the configured pipeline, kept children expanded breadth-first,
//! until max depth, the budget or the entropy stop. Checkpoints after every expanded node.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use autobranch_core::explore::{Exploration, ExploreError, Explorer, NodeStatus};
use autobranch_core::{Config, StepError};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::args::{EmbedderArgs, GeneratorArgs, SamplingArgs, load_config};
use crate::backends::{self, Choice};
use crate::failure::{Classify, Failure};

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
    /// Children generated per expanded node.
    #[arg(long)]
    pub n: Option<usize>,
    /// Deepest level generated (the root is 0).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Beam width.
    #[arg(long)]
    pub k: Option<usize>,
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

/// tree.json: the exploration without the resume-only bookkeeping.
pub fn tree_json(state: &Exploration) -> Result<Value, Failure> {
    let mut v = serde_json::to_value(state).runtime()?;
    if let Value::Object(m) = &mut v {
        for key in ["queue", "expansions", "selector_state", "version"] {
            m.remove(key);
        }
    }
    Ok(v)
}

fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::Runtime(anyhow!("cannot write {}: {e}", path.display())))
}

fn classify(e: ExploreError) -> Failure {
    match &e {
        ExploreError::Step { source: StepError::MissingEmbeddings { .. } | StepError::Input(_), .. } => {
            Failure::BadInput(e.into())
        }
        ExploreError::Generation { source: autobranch_core::ModelError::InvalidRequest(_), .. } => {
            Failure::BadInput(e.into())
        }
        ExploreError::ConfigMismatch(_) => Failure::BadInput(e.into()),
        _ => Failure::Runtime(e.into()),
    }
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
            println!("{}{} {:.3} {mark:<9} {short}{ellipsis}", "  ".repeat(depth), node.id, node.score.unwrap_or(0.0));
            walk(state, &node.id, depth + 1);
        }
    }
    let root = &state.nodes[0];
    println!("{} {}", root.id, root.text.split_whitespace().collect::<Vec<_>>().join(" "));
    walk(state, &root.id, 1);
    let kept = state.nodes.iter().filter(|n| n.status == NodeStatus::Kept).count();
    println!();
    println!(
        "{} nodes ({} kept), stopped: {}",
        state.nodes.len(),
        kept,
        state.stop_reason.map_or("not finished".into(), |r| serde_json::to_value(r)
            .unwrap_or_default()
            .as_str()
            .unwrap_or("")
            .to_owned())
    );
    for e in &state.entropy_history {
        println!(
            "entropy below {} (depth {}): {:.3} over {} cluster(s)",
            e.node, e.depth, e.decision.value, e.decision.clusters
        );
    }
    for w in &state.warnings {
        println!("warning: {w}");
    }
}

/// Runs the command.
pub async fn run(args: ExploreArgs) -> Result<(), Failure> {
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
        Some(state) if args.config.is_none() && !env_overrides => {
            Explorer::checkpoint_config(state).ok_or_else(|| {
                Failure::BadInput(anyhow!("cannot resume: the checkpoint holds no readable configuration"))
            })?
        }
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
    let prompt = match (&args.prompt, &resumed) {
        (Some(p), _) => p.clone(),
        (None, Some(s)) => s.prompt().to_owned(),
        (None, None) => return Err(Failure::BadInput(anyhow!("give a PROMPT, or --resume FILE"))),
    };
    let checkpoint = args.checkpoint.clone().or_else(|| args.resume.clone());
    // One file cannot be both the checkpoint and an output: the output would clobber it.
    let outputs = [("--out", &args.out), ("--html", &args.html)];
    for (flag, path) in outputs {
        if let (Some(p), Some(c)) = (path, &checkpoint)
            && p == c
        {
            return Err(Failure::BadInput(anyhow!(
                "{flag} and the checkpoint both name {}; give them different files",
                p.display()
            )));
        }
    }
    if let (Some(o), Some(h)) = (&args.out, &args.html)
        && o == h
    {
        return Err(Failure::BadInput(anyhow!(
            "--out and --html both name {}; give them different files",
            o.display()
        )));
    }

    let generator =
        backends::generator(&Choice::generator(&args.generator, config.generator.as_ref()), false, config.explore.n)?;
    let embedder = if config.build_selector().needs_embeddings() {
        let choice = Choice::embedder(&args.embedder, config.embedding.as_ref());
        Some(backends::embedder(&choice).await?)
    } else {
        None
    };
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
    let bar = if show_progress { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let outcome = loop {
        let next = state.queue.front().map(|&i| state.nodes[i].id.clone());
        if let Some(id) = &next {
            bar.set_message(format!(
                "generating {} children of {id} · {} nodes so far",
                children_per_node,
                state.nodes.len()
            ));
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

    let tree = tree_json(&state)?;
    if let Some(out) = &args.out {
        write_atomically(out, &serde_json::to_string_pretty(&tree).runtime()?)?;
    }
    if let Some(page) = &args.html {
        write_atomically(page, &crate::html::render(&tree))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tree).runtime()?);
    } else {
        print_tree(&state);
    }
    outcome
}
