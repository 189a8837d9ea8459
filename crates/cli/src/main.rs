//! `autobranch`: controlled branching generation from the command line.

mod backends;
mod commands;
mod failure;
mod input;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use failure::Failure;

/// Controlled branching generation with LLMs: score, select, prune and explore candidates.
#[derive(Parser)]
#[command(name = "autobranch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one selection step (score → beam → novelty → entropy → budget) on a JSONL file.
    Select {
        /// One JSON object per line: {"id", "text", "meta"?, "embedding"?, "role"?}; the line
        /// with "role": "parent" is the parent.
        #[arg(long, value_name = "FILE.jsonl")]
        input: PathBuf,
        /// Configuration file (.yaml, .yml, .json or .toml); AUTOBRANCH_* variables override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Find branch points (lists, "or" choices, if/then/else) in a text.
    Detect {
        /// Text file; `-` or nothing reads standard input.
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Find explicit and semantic branches in a conversation.
    Analyze {
        /// One JSON object per line: {"id", "speaker", "content", "embedding"?}.
        #[arg(value_name = "CONVERSATION.jsonl")]
        file: PathBuf,
        /// Cosine similarity below which consecutive turns count as a topic shift.
        #[arg(long, default_value_t = 0.6)]
        topic_shift_threshold: f64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Failure::Runtime(anyhow::anyhow!("cannot start the async runtime: {e}")).report(),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Select { input, config, json } => commands::select::run(&input, config.as_deref(), json).await,
            Command::Detect { file, json } => commands::detect::run(file.as_deref(), json),
            Command::Analyze { file, topic_shift_threshold, json } => {
                commands::analyze::run(&file, topic_shift_threshold, json).await
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
