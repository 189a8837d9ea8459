//! Flags shared by several commands, and how they override the configuration.

use std::path::PathBuf;

use anyhow::anyhow;
use autobranch_core::Config;
use clap::Args;

use crate::failure::{Classify, Failure};

/// Which generator runs.
#[derive(Args, Debug, Clone, Default)]
pub struct GeneratorArgs {
    /// Generation backend: llamacpp (default), burn, ollama or openai (any OpenAI-compatible
    /// server: OPENAI_BASE_URL, OPENAI_API_KEY).
    #[arg(long, value_name = "BACKEND")]
    pub generator: Option<String>,
    /// A GGUF path for local backends, a model name for a server.
    #[arg(long, value_name = "PATH_OR_NAME")]
    pub model: Option<String>,
    /// The Burn backend for `--generator burn`: flex, ndarray or wgpu (default: the first
    /// compiled in, in that order).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// CPU threads of the llamacpp generator (generator.threads) [default: the physical cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Context size in tokens of the llamacpp or burn generator (generator.ctx_size)
    /// [default: the model's trained context].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub ctx_size: Option<u32>,
    /// Layers of the llamacpp model offloaded to the GPU in a `cuda` build; 0 keeps it on the
    /// CPU, 999 is all (generator.gpu_layers) [default: all when a GPU is found].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=999))]
    pub gpu_layers: Option<u32>,
    /// Keep finished sequences' KV cells for later prompts that start the same way: an explore
    /// level decodes only what follows each parent's text, a chat's next turn only the new
    /// message (llamacpp and burn; generator.prompt_cache). A seeded request's answer may then depend on
    /// what ran before it, and a resumed tree differ from an uninterrupted one [default: false].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub prompt_cache: Option<bool>,
}

/// Which embedder runs.
#[derive(Args, Debug, Clone, Default)]
pub struct EmbedderArgs {
    /// Embedding backend: burn (the default where compiled in), llamacpp, ollama or openai.
    #[arg(long, value_name = "BACKEND")]
    pub embedder: Option<String>,
    /// A model path for local backends (a sentence-transformers folder for burn, a GGUF
    /// for llamacpp), a model name for a server.
    #[arg(long, value_name = "PATH_OR_NAME")]
    pub embed_model: Option<String>,
    /// The Burn backend for `--embedder burn`: flex, ndarray or wgpu (default: the first
    /// compiled in, in that order).
    #[arg(long, value_name = "DEVICE")]
    pub embed_device: Option<String>,
}

/// Sampling settings; each overrides the configuration's `generation` section (whose
/// defaults are shown).
#[derive(Args, Debug, Clone, Default)]
pub struct SamplingArgs {
    /// Most new tokens per candidate [default: 128].
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Softmax temperature; 0 is greedy (pure greedy also needs --repeat-penalty 1)
    /// [default: 0.8].
    #[arg(long, value_name = "T")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass in (0, 1]; 1 turns it off [default: 0.95].
    #[arg(long, value_name = "P")]
    pub top_p: Option<f32>,
    /// Keep only the K most likely tokens; 0 turns it off [default: 40].
    #[arg(long, value_name = "K")]
    pub top_k: Option<u32>,
    /// Drop tokens below P × the top token's probability, in [0, 1]; 0 turns it off
    /// [default: 0.05].
    #[arg(long, value_name = "P")]
    pub min_p: Option<f32>,
    /// Penalty for tokens among the last 64, > 0; 1 turns it off [default: 1.1].
    #[arg(long, value_name = "X")]
    pub repeat_penalty: Option<f32>,
    /// Stop a candidate where this text appears (cut from the text); repeat for several.
    #[arg(long, value_name = "TEXT")]
    pub stop: Vec<String>,
    /// Base seed; candidate i of an expansion uses seed + i [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// System prompt [default: the model's own].
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
}

/// Loads the configuration file (if any) and environment overrides.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    Config::load(path.map(PathBuf::as_path)).bad_input()
}

impl SamplingArgs {
    /// Writes the flags into `config` and checks the result; a value out of range is
    /// reported under its flag's name when a flag set it.
    pub fn apply(&self, config: &mut Config) -> Result<(), Failure> {
        let g = &mut config.generation;
        let mut given = Vec::new();
        let mut set = |field: &'static str, flag: &'static str| given.push((field, flag));
        if let Some(v) = self.max_tokens {
            g.max_tokens = v;
            set("max_tokens", "--max-tokens");
        }
        if let Some(v) = self.temperature {
            g.temperature = v;
            set("temperature", "--temperature");
        }
        if let Some(v) = self.top_p {
            g.top_p = v;
            set("top_p", "--top-p");
        }
        if let Some(v) = self.top_k {
            g.top_k = v;
            set("top_k", "--top-k");
        }
        if let Some(v) = self.min_p {
            g.min_p = v;
            set("min_p", "--min-p");
        }
        if let Some(v) = self.repeat_penalty {
            g.repeat_penalty = v;
            set("repeat_penalty", "--repeat-penalty");
        }
        if !self.stop.is_empty() {
            g.stop.clone_from(&self.stop);
            set("stop", "--stop");
        }
        if let Some(v) = self.seed {
            g.seed = v;
        }
        if let Some(v) = &self.system {
            config.system = Some(v.clone());
        }
        config.generation.validate().map_err(|e| {
            let message = e.to_string();
            let named = given.iter().find_map(|(field, flag)| {
                message.strip_prefix(&format!("invalid request: {field} = ")).map(|rest| format!("{flag} {rest}"))
            });
            Failure::BadInput(anyhow!(named.unwrap_or_else(|| format!("generation section: {message}"))))
        })
    }
}
