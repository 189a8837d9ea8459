//! Flags shared by several commands, and how they override the configuration.

use std::path::PathBuf;

use anyhow::anyhow;
use autobranch_core::Config;
use clap::Args;

use crate::failure::{Classify, Failure};

/// Which generator runs.
#[derive(Args, Debug, Clone, Default)]
pub struct GeneratorArgs {
    /// Generation backend: llamacpp (default), burn or ollama.
    #[arg(long, value_name = "BACKEND")]
    pub generator: Option<String>,
    /// A GGUF path for local backends, a model name for Ollama.
    #[arg(long, value_name = "PATH_OR_NAME")]
    pub model: Option<String>,
    /// The Burn backend for `--generator burn`: flex, ndarray or wgpu (default: the first
    /// compiled in, in that order).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// Which embedder runs.
#[derive(Args, Debug, Clone, Default)]
pub struct EmbedderArgs {
    /// Embedding backend: burn (the default where compiled in), llamacpp or ollama.
    #[arg(long, value_name = "BACKEND")]
    pub embedder: Option<String>,
    /// A model path for local backends (a sentence-transformers folder for burn, a GGUF
    /// for llamacpp), a model name for Ollama.
    #[arg(long, value_name = "PATH_OR_NAME")]
    pub embed_model: Option<String>,
    /// The Burn backend for `--embedder burn`: flex, ndarray or wgpu (default: the first
    /// compiled in, in that order).
    #[arg(long, value_name = "DEVICE")]
    pub embed_device: Option<String>,
}

/// Sampling settings; each overrides the configuration's `generation` section.
#[derive(Args, Debug, Clone, Default)]
pub struct SamplingArgs {
    /// Most new tokens per candidate.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Temperature (0 = greedy).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass in (0, 1].
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Top-k (0 = off).
    #[arg(long)]
    pub top_k: Option<u32>,
    /// Base seed (candidate i uses seed + i).
    #[arg(long)]
    pub seed: Option<u64>,
    /// System prompt.
    #[arg(long)]
    pub system: Option<String>,
}

/// Loads the configuration file (if any) and environment overrides.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    Config::load(path.map(PathBuf::as_path)).bad_input()
}

impl SamplingArgs {
    /// Writes the flags into `config` and checks the result.
    pub fn apply(&self, config: &mut Config) -> Result<(), Failure> {
        let g = &mut config.generation;
        if let Some(v) = self.max_tokens {
            g.max_tokens = v;
        }
        if let Some(v) = self.temperature {
            g.temperature = v;
        }
        if let Some(v) = self.top_p {
            g.top_p = v;
        }
        if let Some(v) = self.top_k {
            g.top_k = v;
        }
        if let Some(v) = self.seed {
            g.seed = v;
        }
        if let Some(v) = &self.system {
            config.system = Some(v.clone());
        }
        config.generation.validate().map_err(|e| Failure::BadInput(anyhow!("{e}")))
    }
}
