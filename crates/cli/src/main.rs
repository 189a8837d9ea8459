//! `autobranch`: controlled branching generation from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use autobranch_cli::args::{EmbedderArgs, GeneratorArgs};
use autobranch_cli::commands;
use autobranch_cli::failure::Failure;
use clap::{Parser, Subcommand};

/// Controlled branching generation with LLMs: score, select, prune and explore candidates.
#[derive(Parser)]
#[command(name = "autobranch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Explore a branching tree from a prompt: generate, select, expand the kept children.
    Explore(commands::explore::ExploreArgs),
    /// Generate candidates only, with timings.
    Generate(commands::generate::GenerateArgs),
    /// Embed texts, one per line.
    Embed {
        /// Text file; `-` or nothing reads standard input.
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
        /// Configuration file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        embedder: EmbedderArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the creative-writing scenarios (ai-memory, mars-twist, romcom-endings, style-continuation).
    Scenarios {
        /// A scenario's name, or all.
        #[arg(default_value = "all")]
        name: String,
        /// Configuration file (scenario settings override its selection sections).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        generator: GeneratorArgs,
        #[command(flatten)]
        embedder: EmbedderArgs,
        /// Most new tokens per candidate.
        #[arg(long, default_value_t = 48)]
        max_tokens: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the models over HTTP: the OpenAI API (chat, completions, embeddings, models),
    /// /v1/select, /v1/explore and /metrics, with batching across requests.
    Serve(commands::serve::ServeArgs),
    /// Benchmark the compiled-in backends: selection, embeddings, generation, exploration.
    Bench(commands::bench::BenchArgs),
    /// The compiled-in model backends, the devices (CPU, GPUs) each can see, and the one
    /// each would run on.
    Devices {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the default models, or show where they live.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Run one selection step (score → beam → novelty → entropy → budget) on a JSONL file.
    Select {
        /// One JSON object per line: {"id", "text", "meta"?, "embedding"?, "role"?}; the line
        /// with "role": "parent" is the parent.
        #[arg(long, value_name = "FILE.jsonl")]
        input: PathBuf,
        /// Configuration file (.yaml, .yml, .json or .toml); AUTOBRANCH_* variables override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        embedder: EmbedderArgs,
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

#[derive(Subcommand)]
enum ModelsAction {
    /// Download the default models into $AUTOBRANCH_MODELS (checks SHA-256; a no-op when
    /// present), or only the models named; `hf:ORG/REPO[@REVISION][/FILE]` downloads from
    /// the Hugging Face Hub into its cache and prints the local path.
    Fetch {
        /// Models to fetch instead of the default set: smollm2, all-minilm-l6-v2,
        /// all-mpnet-base-v2, gemma-3-270m, or hf:ORG/REPO (a sentence-transformers folder) or
        /// hf:ORG/REPO/FILE.
        #[arg(value_parser = commands::models::parse_name, value_name = "NAME|hf:ORG/REPO[/FILE]")]
        names: Vec<String>,
    },
    /// Print the models folder.
    Path,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Backends report what they had to work around (a server without `n`, a retry) as
    // tracing warnings: one line each on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .without_time()
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Failure::Runtime(anyhow::anyhow!("cannot start the async runtime: {e}")).report(),
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Select { input, config, embedder, json } => {
                commands::select::run(&input, config.as_deref(), &embedder, json).await
            }
            Command::Explore(args) => commands::explore::run(args).await,
            Command::Generate(args) => commands::generate::run(args).await,
            Command::Bench(args) => commands::bench::run(&args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Embed { file, config, embedder, json } => {
                commands::embed::run(file.as_deref(), config.as_ref(), &embedder, json).await
            }
            Command::Scenarios { name, config, generator, embedder, max_tokens, json } => {
                commands::scenarios::run(&name, config.as_ref(), &generator, &embedder, max_tokens, json).await
            }
            Command::Models { action: ModelsAction::Fetch { names } } => commands::models::fetch(&names),
            Command::Models { action: ModelsAction::Path } => {
                commands::models::path();
                Ok(())
            }
            Command::Devices { json } => commands::devices::run(json),
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
