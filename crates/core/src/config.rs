//! Configuration (SPEC §8, §12): YAML, JSON or TOML files through the `config` crate,
//! `AUTOBRANCH_SECTION__KEY` environment overrides, and validation that names the key and
//! the allowed range. Files are read defensively first (`config/source.rs`): a size cap, bounded
//! YAML aliases, no repeated JSON keys, no NaN or infinite numbers.

mod raw;
mod source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

pub use source::{MAX_CONFIG_BYTES, MAX_NESTING, MAX_YAML_NODES, MAX_YAML_TEXT_BYTES};

use crate::budget::{Budget, BudgetManager, BudgetMode};
use crate::entropy::ShannonEntropyStopper;
use crate::model::SamplingParams;
use crate::novelty::{CosineNoveltyFilter, MmrNoveltyFilter};
use crate::scoring::{CompositeScorer, StaticScorer, Weights};
use crate::selector::BranchSelector;

/// Prefix of environment overrides: `AUTOBRANCH_BEAM__K=10` sets `beam.k`.
pub const ENV_PREFIX: &str = "AUTOBRANCH_";
/// Separator between levels in environment override names.
pub const ENV_SEPARATOR: &str = "__";

/// A configuration problem; every variant names the file or key at fault.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// The extension names no supported format.
    #[error("config file {path} has an unsupported extension; use .yaml, .yml, .json or .toml")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file or the environment does not parse.
    #[error("cannot parse configuration: {0}")]
    Parse(String),
    /// A key that no section knows.
    #[error("unknown key `{key}`; allowed here: {allowed}")]
    UnknownKey {
        /// Dotted key.
        key: String,
        /// The keys this section knows.
        allowed: String,
    },
    /// A value of the wrong type.
    #[error("`{key}` must be {expected}, got {found}")]
    WrongType {
        /// Dotted key.
        key: String,
        /// What the key takes.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A number outside its range.
    #[error("`{key}` = {value} is out of range; allowed: {allowed}")]
    OutOfRange {
        /// Dotted key.
        key: String,
        /// The value given.
        value: String,
        /// The allowed range.
        allowed: String,
    },
    /// An unknown `type` name.
    #[error("`{key}` = {value:?} is not a known type; allowed: {allowed}")]
    UnknownType {
        /// Dotted key.
        key: String,
        /// The name given.
        value: String,
        /// The known names.
        allowed: String,
    },
    /// A number that is NaN or infinite (from `nan`/`inf` in TOML, `.nan` in YAML, or an
    /// environment value such as `nan`).
    #[error("`{key}` = {value} is not a finite number; NaN and infinities are refused")]
    NonFinite {
        /// Dotted key.
        key: String,
        /// The value given.
        value: String,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("config file {path} is {size} bytes; configuration files may be at most {limit} bytes (1 MiB)")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes (at least this much when it reports none).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// YAML aliases would expand the file beyond [`MAX_YAML_NODES`] or [`MAX_YAML_TEXT_BYTES`].
    #[error(
        "config file {path} expands to more than {limit} {what} once its YAML aliases are resolved; \
         aliases that multiply the content are refused"
    )]
    YamlTooLarge {
        /// The file.
        path: PathBuf,
        /// `nodes` or `bytes of text`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// Mappings and lists nested deeper than [`MAX_NESTING`].
    #[error("{input} nests deeper than {limit} levels; the configuration schema needs three")]
    TooDeep {
        /// The file (`config file …`) or environment override (`environment override …`).
        input: String,
        /// The limit.
        limit: usize,
    },
    /// A JSON file gives one key twice in a mapping.
    #[error("config file {path} gives `{key}` more than once; each key may appear once in its mapping")]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// Dotted key.
        key: String,
    },
}

impl ConfigError {
    /// The same error with the dotted key `from` (exactly) called `to`.
    fn rename_key(mut self, from: &str, to: &str) -> Self {
        match &mut self {
            Self::UnknownKey { key, .. }
            | Self::WrongType { key, .. }
            | Self::OutOfRange { key, .. }
            | Self::UnknownType { key, .. }
            | Self::NonFinite { key, .. }
                if key == from =>
            {
                *key = to.to_owned();
            }
            _ => {}
        }
        self
    }
}

/// Which scorer to use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScorerConfig {
    /// Weighted features (weights as given, normalised when the scorer is built).
    Composite {
        /// Feature weights.
        weights: Weights,
    },
    /// Fixed scores by id.
    Static {
        /// id → score.
        scores: HashMap<String, f64>,
    },
}

/// Which novelty filter to use.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NoveltyConfig {
    /// Cosine threshold.
    Cosine {
        /// Highest similarity still kept, in [0, 1].
        threshold: f64,
    },
    /// Maximal marginal relevance.
    Mmr {
        /// λ in [0, 1].
        lambda_param: f64,
        /// Optional cosine threshold applied over the MMR order.
        threshold: Option<f64>,
    },
}

/// Shannon entropy stopper settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntropyConfig {
    /// Stop below this normalised entropy, in [0, 1].
    pub min_entropy: f64,
    /// Most k-means clusters (≥ 1).
    pub k_max: usize,
    /// Stop when entropy changes less than this (≥ 0).
    pub delta_epsilon: Option<f64>,
    /// k-means seed.
    pub random_seed: u64,
}

impl Default for EntropyConfig {
    fn default() -> Self {
        Self { min_entropy: 0.6, k_max: 5, delta_epsilon: None, random_seed: 42 }
    }
}

/// Budget settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetConfig {
    /// The caps.
    #[serde(flatten)]
    pub budget: Budget,
    /// Strict or soft.
    pub mode: BudgetMode,
}

/// Which model backend serves a role (generation or embedding), and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Backend name: one of [`BACKENDS`].
    #[serde(rename = "type")]
    pub backend: String,
    /// A local path, or a model name for a server.
    pub model: Option<String>,
    /// Server URL (Ollama).
    pub host: Option<String>,
    /// Texts per embedding batch.
    pub batch_size: Option<usize>,
    /// The Burn backend for `type: burn`: one of [`BURN_DEVICES`].
    pub device: Option<String>,
    /// Base URL of an OpenAI-compatible server, `/v1` included (`type: openai`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The environment variable that holds the API key (`type: openai`; default
    /// `OPENAI_API_KEY`). The key itself never goes into a configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Most requests in flight at once (`type: openai`, `ollama`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// CPU threads (`type: llamacpp`; default: the physical cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Context size in tokens (`llamacpp`, `burn` generators; default: the model's trained
    /// context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx_size: Option<u32>,
    /// Layers offloaded to the GPU (`type: llamacpp`; default: all when a GPU is found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_layers: Option<u32>,
    /// Keep finished sequences' KV cells for later prompts that start the same way
    /// (`type: llamacpp` generator; default: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache: Option<bool>,
}

impl ModelConfig {
    /// A section for `backend` with every setting at its default.
    pub fn new(backend: &str) -> Self {
        Self {
            backend: backend.to_owned(),
            model: None,
            host: None,
            batch_size: None,
            device: None,
            base_url: None,
            api_key_env: None,
            concurrency: None,
            threads: None,
            ctx_size: None,
            gpu_layers: None,
            prompt_cache: None,
        }
    }
}

/// Tree exploration settings (SPEC §11).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreConfig {
    /// Children generated per expanded node (≥ 1).
    pub n: usize,
    /// Deepest level generated (≥ 1; the root is depth 0).
    pub max_depth: usize,
    /// How many nodes one generator call expands. Not part of a checkpoint's identity when
    /// it is the default, so checkpoints from before it existed resume.
    #[serde(default, skip_serializing_if = "ExpandMode::is_level")]
    pub expand: ExpandMode,
}

/// How many nodes one generator call expands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpandMode {
    /// Every queued node of the shallowest queued depth, in one batch.
    #[default]
    Level,
    /// One node per call, in queue order.
    Node,
}

impl ExpandMode {
    fn is_level(&self) -> bool {
        *self == ExpandMode::Level
    }

    /// The name a configuration file uses.
    pub fn name(self) -> &'static str {
        match self {
            ExpandMode::Level => "level",
            ExpandMode::Node => "node",
        }
    }
}

impl Default for ExploreConfig {
    fn default() -> Self {
        Self { n: 8, max_depth: 2, expand: ExpandMode::Level }
    }
}

/// The whole configuration. Its serde form (used in checkpoints and `tree.json`) is the
/// validated one; user files go through [`Config::load`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Beam width.
    pub beam_k: usize,
    /// Scorer.
    pub scorer: ScorerConfig,
    /// Novelty filter; `None` turns the stage off.
    pub novelty: Option<NoveltyConfig>,
    /// Entropy stopper; `None` turns the stage off.
    pub entropy: Option<EntropyConfig>,
    /// Budget; off unless configured.
    pub budget: Option<BudgetConfig>,
    /// Embedding backend, when chosen in the configuration.
    pub embedding: Option<ModelConfig>,
    /// Generation backend, when chosen in the configuration.
    pub generator: Option<ModelConfig>,
    /// Sampling settings for generation.
    pub generation: SamplingParams,
    /// System prompt for chat generation.
    pub system: Option<String>,
    /// Exploration shape.
    pub explore: ExploreConfig,
    /// `autobranch serve`'s settings; not part of a tree's configuration, so neither
    /// checkpoints nor `tree.json` carry them.
    #[serde(skip)]
    pub server: ServerConfig,
}

/// The `server` section: where `autobranch serve` listens and what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind (loopback by default).
    pub host: String,
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Most sequences decoded together over all requests (local backends).
    pub max_batch: usize,
    /// Largest `n` of one request.
    pub max_n: usize,
    /// Largest `max_tokens` of one request.
    pub max_tokens: u32,
    /// Most requests in flight; more are answered 429.
    pub max_queue: usize,
    /// Seconds one request may take.
    pub timeout_s: u64,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Variable holding the key every request must present as a Bearer token.
    pub api_key_env: Option<String>,
    /// Seconds in-flight requests get to finish after SIGINT or SIGTERM.
    pub shutdown_grace_s: u64,
    /// Most nodes one `/v1/explore` request may plan.
    pub max_explore_nodes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            max_batch: 32,
            max_n: 64,
            max_tokens: 4096,
            max_queue: 64,
            timeout_s: 300,
            max_body_bytes: 4 << 20,
            api_key_env: None,
            shutdown_grace_s: 10,
            max_explore_nodes: 1000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            beam_k: 5,
            scorer: ScorerConfig::Composite { weights: Weights::CONFIG_DEFAULT },
            novelty: Some(NoveltyConfig::Cosine { threshold: 0.85 }),
            entropy: Some(EntropyConfig::default()),
            budget: None,
            embedding: None,
            generator: None,
            generation: SamplingParams::default(),
            system: None,
            explore: ExploreConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

/// Backend names a `generator` or `embedding` section may choose.
pub const BACKENDS: [&str; 4] = ["llamacpp", "burn", "ollama", "openai"];

/// Burn backends a `device` key may name (each is a cargo feature of the Burn crate).
pub const BURN_DEVICES: [&str; 3] = ["flex", "ndarray", "wgpu"];

/// Every section and the keys it accepts; `docs/configuration.md` is checked against it.
pub const SCHEMA: [(&str, &[&str]); 10] = [
    ("beam", &["k"]),
    ("scorer", &["type", "weights", "scores"]),
    ("novelty", &["type", "threshold", "lambda_param"]),
    ("entropy", &["type", "min_entropy", "k_max", "delta_epsilon", "random_seed"]),
    ("budget", &["max_nodes", "max_tokens", "max_ms", "mode"]),
    // Every model key but the last, the generator's own prompt_cache.
    ("embedding", MODEL_KEYS.split_at(MODEL_KEYS.len() - 1).0),
    ("generator", &MODEL_KEYS),
    (
        "generation",
        &["max_tokens", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed", "stop", "system"],
    ),
    ("explore", &["n", "max_depth", "expand"]),
    (
        "server",
        &[
            "host",
            "port",
            "max_batch",
            "max_n",
            "max_tokens",
            "max_queue",
            "timeout_s",
            "max_body_bytes",
            "api_key_env",
            "shutdown_grace_s",
            "max_explore_nodes",
        ],
    ),
];

/// Most CPU threads a model section may ask for.
pub const MAX_THREADS: u32 = 1024;
/// Most GPU layers a model section may ask for (a GGUF has at most 512; more means "all").
pub const MAX_GPU_LAYERS: u32 = 999;

/// A model section's keys; `prompt_cache` (last) is the generator's alone.
const MODEL_KEYS: [&str; 12] = [
    "type",
    "model",
    "host",
    "batch_size",
    "device",
    "base_url",
    "api_key_env",
    "concurrency",
    "threads",
    "ctx_size",
    "gpu_layers",
    "prompt_cache",
];

fn keys_of(section: &str) -> &'static [&'static str] {
    SCHEMA.iter().find(|(name, _)| *name == section).map_or(&[], |(_, keys)| keys)
}

impl Config {
    /// Loads `file` (if any) and applies overrides from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Loads `file` (if any) and applies overrides from `env` (name, value) pairs; only names
    /// of the form `AUTOBRANCH_SECTION__KEY` count, so `AUTOBRANCH_MODELS` and the like are
    /// left alone.
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let format = file_format(path)?;
            let text = source::read_bounded(path)?;
            match format {
                config::FileFormat::Yaml => source::check_yaml(path, &text)?,
                config::FileFormat::Json => source::check_json(path, &text)?,
                // The TOML parser refuses repeated keys and bounds its own nesting.
                _ => {}
            }
            builder = builder.add_source(config::File::from_str(&text, format));
        }
        let overrides: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.strip_prefix(ENV_PREFIX).is_some_and(|rest| rest.contains(ENV_SEPARATOR)))
            .collect();
        if let Some(name) = overrides.keys().find(|k| k.matches(ENV_SEPARATOR).count() >= MAX_NESTING) {
            let shown: String = name.chars().take(80).collect();
            return Err(ConfigError::TooDeep { input: format!("environment override {shown}…"), limit: MAX_NESTING });
        }
        builder = builder.add_source(
            config::Environment::with_prefix("AUTOBRANCH")
                .prefix_separator("_")
                .separator(ENV_SEPARATOR)
                .try_parsing(true)
                .source(Some(overrides)),
        );
        let merged = builder.build().map_err(|e| ConfigError::Parse(describe(file, e)))?;
        // Through `Raw`, not straight into `Value`, which would turn NaN into `null` (absent).
        let raw: raw::Raw = merged.try_deserialize().map_err(|e| ConfigError::Parse(describe(file, e)))?;
        Self::from_value(&raw.into_value("")?)
    }

    /// Validates a configuration in its serde form (as embedded in checkpoints and
    /// `tree.json`) by the same rules as a file; errors name the serde form's keys
    /// (`beam_k`, `system`, and the section keys shared with files).
    pub fn from_serde_value(value: &Value) -> Result<Self, ConfigError> {
        let Value::Object(serde_form) = value else {
            return Err(wrong_type("(top level)", "a mapping of sections", value));
        };
        let mut file_form = serde_form.clone();
        if let Some(k) = file_form.remove("beam_k") {
            file_form.insert("beam".into(), Value::Object(Map::from_iter([("k".to_owned(), k)])));
        }
        if let Some(system) = file_form.remove("system") {
            match file_form.entry("generation").or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(g) => {
                    g.insert("system".into(), system);
                }
                other => return Err(wrong_type("generation", "a mapping", other)),
            }
        }
        Self::from_value(&Value::Object(file_form))
            .map_err(|e| e.rename_key("beam.k", "beam_k").rename_key("generation.system", "system"))
    }

    /// Validates an already-parsed configuration tree.
    pub fn from_value(root: &Value) -> Result<Self, ConfigError> {
        let empty = Map::new();
        let root = match root {
            Value::Object(m) => m,
            Value::Null => &empty,
            other => return Err(wrong_type("(top level)", "a mapping of sections", other)),
        };
        check_keys("", root, &SCHEMA.map(|(name, _)| name))?;
        let mut cfg = Config::default();

        if let Some(beam) = section(root, "beam")?.into_map() {
            check_keys("beam", beam, keys_of("beam"))?;
            cfg.beam_k = usize_at_least(beam, "beam", "k", 1)?.unwrap_or(5);
        }
        if let Some(scorer) = section(root, "scorer")?.into_map() {
            cfg.scorer = scorer_config(scorer)?;
        }
        match section(root, "novelty")? {
            Section::Absent => {}
            Section::Off => cfg.novelty = None,
            Section::On(m) => cfg.novelty = novelty_config(m)?,
        }
        match section(root, "entropy")? {
            Section::Absent => {}
            Section::Off => cfg.entropy = None,
            Section::On(m) => cfg.entropy = entropy_config(m)?,
        }
        if let Some(b) = section(root, "budget")?.into_map() {
            cfg.budget = Some(budget_config(b)?);
        }
        if let Some(m) = section(root, "embedding")?.into_map() {
            cfg.embedding = model_config("embedding", m)?;
        }
        if let Some(m) = section(root, "generator")?.into_map() {
            cfg.generator = model_config("generator", m)?;
        }
        if let Some(g) = section(root, "generation")?.into_map() {
            (cfg.generation, cfg.system) = generation_config(g)?;
        }
        if let Some(e) = section(root, "explore")?.into_map() {
            check_keys("explore", e, keys_of("explore"))?;
            let d = ExploreConfig::default();
            let expand = match string(e, "explore", "expand")? {
                None => d.expand,
                Some(v) if v.eq_ignore_ascii_case("level") => ExpandMode::Level,
                Some(v) if v.eq_ignore_ascii_case("node") => ExpandMode::Node,
                Some(v) => {
                    return Err(ConfigError::OutOfRange {
                        key: "explore.expand".into(),
                        value: format!("{v:?}"),
                        allowed: "level, node".into(),
                    });
                }
            };
            cfg.explore = ExploreConfig {
                n: usize_at_least(e, "explore", "n", 1)?.unwrap_or(d.n),
                max_depth: usize_at_least(e, "explore", "max_depth", 1)?.unwrap_or(d.max_depth),
                expand,
            };
        }
        if let Some(m) = section(root, "server")?.into_map() {
            cfg.server = server_config(m)?;
        }
        Ok(cfg)
    }

    /// Builds the selection pipeline this configuration describes.
    pub fn build_selector(&self) -> BranchSelector {
        let scorer: Box<dyn crate::scoring::Scorer> = match &self.scorer {
            ScorerConfig::Composite { weights } => Box::new(CompositeScorer::new(*weights)),
            ScorerConfig::Static { scores } => Box::new(StaticScorer::new(scores.clone())),
        };
        let mut selector = BranchSelector::new(scorer, self.beam_k);
        match self.novelty {
            Some(NoveltyConfig::Cosine { threshold }) => {
                selector = selector.with_novelty(Box::new(CosineNoveltyFilter::new(threshold)));
            }
            Some(NoveltyConfig::Mmr { lambda_param, threshold }) => {
                selector = selector.with_novelty(Box::new(MmrNoveltyFilter::new(lambda_param, threshold)));
            }
            None => {}
        }
        if let Some(e) = self.entropy {
            selector = selector.with_entropy(ShannonEntropyStopper::new(
                e.min_entropy,
                e.k_max,
                e.delta_epsilon,
                e.random_seed,
            ));
        }
        if let Some(b) = self.budget {
            selector = selector.with_budget(BudgetManager::new(b.budget, b.mode));
        }
        selector
    }
}

fn file_format(path: &Path) -> Result<config::FileFormat, ConfigError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("yaml" | "yml") => Ok(config::FileFormat::Yaml),
        Some("json") => Ok(config::FileFormat::Json),
        Some("toml") => Ok(config::FileFormat::Toml),
        _ => Err(ConfigError::UnsupportedFormat { path: path.to_owned() }),
    }
}

fn describe(file: Option<&Path>, e: config::ConfigError) -> String {
    match file {
        Some(p) => format!("{}: {e}", p.display()),
        None => e.to_string(),
    }
}

enum Section<'a> {
    Absent,
    Off,
    On(&'a Map<String, Value>),
}

impl<'a> Section<'a> {
    fn into_map(self) -> Option<&'a Map<String, Value>> {
        match self {
            Section::On(m) => Some(m),
            _ => None,
        }
    }
}

/// A section: absent, turned off (`null`, or `type: null`/`none`), or a mapping.
fn section<'a>(root: &'a Map<String, Value>, name: &str) -> Result<Section<'a>, ConfigError> {
    match root.get(name) {
        None => Ok(Section::Absent),
        Some(Value::Null) => Ok(Section::Off),
        Some(Value::Object(m)) => match m.get("type") {
            Some(Value::Null) => Ok(Section::Off),
            Some(Value::String(t)) if t.eq_ignore_ascii_case("null") || t.eq_ignore_ascii_case("none") => {
                Ok(Section::Off)
            }
            _ => Ok(Section::On(m)),
        },
        Some(other) => Err(wrong_type(name, "a mapping (or null to turn the stage off)", other)),
    }
}

fn key_path(section: &str, key: &str) -> String {
    if section.is_empty() { key.to_owned() } else { format!("{section}.{key}") }
}

fn check_keys(section: &str, map: &Map<String, Value>, allowed: &[&str]) -> Result<(), ConfigError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ConfigError::UnknownKey { key: key_path(section, k), allowed: allowed.join(", ") }),
        None => Ok(()),
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        other => other.to_string(),
    }
}

fn wrong_type(key: &str, expected: &str, found: &Value) -> ConfigError {
    ConfigError::WrongType { key: key.to_owned(), expected: expected.to_owned(), found: describe_value(found) }
}

/// An integer ≥ `min`, if present (null counts as absent).
fn uint(map: &Map<String, Value>, section: &str, key: &str, min: u64) -> Result<Option<u64>, ConfigError> {
    uint_in(map, section, key, min, u64::MAX)
}

/// An integer ≥ `min` that fits a `usize`, if present.
fn usize_at_least(map: &Map<String, Value>, section: &str, key: &str, min: u64) -> Result<Option<usize>, ConfigError> {
    let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
    Ok(uint_in(map, section, key, min, max)?.map(|v| usize::try_from(v).unwrap_or(usize::MAX)))
}

/// An integer ≥ `min` that fits a `u32`, if present.
fn u32_at_least(map: &Map<String, Value>, section: &str, key: &str, min: u64) -> Result<Option<u32>, ConfigError> {
    Ok(uint_in(map, section, key, min, u64::from(u32::MAX))?.map(|v| u32::try_from(v).unwrap_or(u32::MAX)))
}

/// An integer in `[min, max]` (both within `u32`), if present.
fn u32_in(map: &Map<String, Value>, section: &str, key: &str, min: u32, max: u32) -> Result<Option<u32>, ConfigError> {
    Ok(uint_in(map, section, key, u64::from(min), u64::from(max))?.map(|v| u32::try_from(v).unwrap_or(max)))
}

/// An integer in `[min, max]`, if present (null counts as absent).
fn uint_in(map: &Map<String, Value>, section: &str, key: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
    let path = key_path(section, key);
    let allowed =
        if max == u64::MAX { format!("an integer ≥ {min}") } else { format!("an integer in [{min}, {max}]") };
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ if n.is_i64() || n.is_u64() => Err(ConfigError::OutOfRange { key: path, value: n.to_string(), allowed }),
            _ => Err(wrong_type(&path, &allowed, &Value::Number(n.clone()))),
        },
        Some(other) => Err(wrong_type(&path, &allowed, other)),
    }
}

/// `[lo, hi]` with the lower end exclusive when the flag is set.
type Range = (f64, bool, f64);

fn range_text((lo, lo_open, hi): Range) -> String {
    match (lo_open, hi.is_finite()) {
        (false, true) => format!("[{lo}, {hi}]"),
        (true, true) => format!("({lo}, {hi}]"),
        (false, false) => format!("a number ≥ {lo}"),
        (true, false) => format!("a number > {lo}"),
    }
}

fn in_range(v: f64, (lo, lo_open, hi): Range) -> bool {
    v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && v <= hi
}

/// A finite number inside `range`, if present.
fn number(map: &Map<String, Value>, section: &str, key: &str, range: Range) -> Result<Option<f64>, ConfigError> {
    let path = key_path(section, key);
    let allowed = range_text(range);
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if in_range(v, range) {
                Ok(Some(v))
            } else {
                Err(ConfigError::OutOfRange { key: path, value: n.to_string(), allowed })
            }
        }
        Some(other) => Err(wrong_type(&path, &format!("a number in {allowed}"), other)),
    }
}

/// A number inside `range` that stays inside it as an `f32` (which 1e300 overflows to
/// infinity and 1e-60 underflows to 0), if present.
fn number_f32(map: &Map<String, Value>, section: &str, key: &str, range: Range) -> Result<Option<f32>, ConfigError> {
    let Some(v) = number(map, section, key, range)? else { return Ok(None) };
    let narrow = v as f32;
    if in_range(f64::from(narrow), range) {
        Ok(Some(narrow))
    } else {
        Err(ConfigError::OutOfRange {
            key: key_path(section, key),
            value: map.get(key).map_or_else(|| v.to_string(), Value::to_string),
            allowed: format!("{} as a 32-bit float (magnitude from about 1.2e-38 to 3.4e38)", range_text(range)),
        })
    }
}

fn string<'a>(map: &'a Map<String, Value>, section: &str, key: &str) -> Result<Option<&'a str>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(&key_path(section, key), "a string", other)),
    }
}

fn boolean(map: &Map<String, Value>, section: &str, key: &str) -> Result<Option<bool>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(&key_path(section, key), "true or false", other)),
    }
}

fn type_name<'a>(
    map: &'a Map<String, Value>,
    section: &str,
    allowed: &[&'static str],
) -> Result<Option<&'a str>, ConfigError> {
    let Some(name) = string(map, section, "type")? else { return Ok(None) };
    match allowed.iter().find(|a| a.eq_ignore_ascii_case(name)) {
        Some(a) => Ok(Some(a)),
        None => Err(ConfigError::UnknownType {
            key: key_path(section, "type"),
            value: name.to_owned(),
            allowed: allowed.join(", "),
        }),
    }
}

const UNIT: Range = (0.0, false, 1.0);
const NON_NEGATIVE: Range = (0.0, false, f64::INFINITY);
const POSITIVE: Range = (0.0, true, f64::INFINITY);
const ANY: Range = (f64::NEG_INFINITY, false, f64::INFINITY);

fn scorer_config(m: &Map<String, Value>) -> Result<ScorerConfig, ConfigError> {
    check_keys("scorer", m, keys_of("scorer"))?;
    match type_name(m, "scorer", &["composite", "static"])?.unwrap_or("composite") {
        "static" => {
            let mut scores = HashMap::new();
            match m.get("scores") {
                None | Some(Value::Null) => {}
                Some(Value::Object(s)) => {
                    for id in s.keys() {
                        let v = number(s, "scorer.scores", id, ANY)?;
                        scores.insert(id.clone(), v.unwrap_or(0.5));
                    }
                }
                Some(other) => return Err(wrong_type("scorer.scores", "a mapping of id → score", other)),
            }
            Ok(ScorerConfig::Static { scores })
        }
        _ => {
            let weights = match m.get("weights") {
                None | Some(Value::Null) => Weights::CONFIG_DEFAULT,
                Some(Value::Object(w)) => {
                    check_keys("scorer.weights", w, &Weights::NAMES)?;
                    let get = |name| number(w, "scorer.weights", name, ANY).map(|v| v.unwrap_or(0.0));
                    Weights {
                        confidence: get("confidence")?,
                        relevance: get("relevance")?,
                        novelty_parent: get("novelty_parent")?,
                        intent_alignment: get("intent_alignment")?,
                        historical_reward: get("historical_reward")?,
                    }
                }
                Some(other) => return Err(wrong_type("scorer.weights", "a mapping of feature → weight", other)),
            };
            Ok(ScorerConfig::Composite { weights })
        }
    }
}

fn novelty_config(m: &Map<String, Value>) -> Result<Option<NoveltyConfig>, ConfigError> {
    check_keys("novelty", m, keys_of("novelty"))?;
    let threshold = number(m, "novelty", "threshold", UNIT)?;
    let lambda = number(m, "novelty", "lambda_param", UNIT)?;
    Ok(Some(match type_name(m, "novelty", &["cosine", "mmr"])?.unwrap_or("cosine") {
        "mmr" => NoveltyConfig::Mmr { lambda_param: lambda.unwrap_or(0.5), threshold },
        _ => NoveltyConfig::Cosine { threshold: threshold.unwrap_or(0.85) },
    }))
}

fn entropy_config(m: &Map<String, Value>) -> Result<Option<EntropyConfig>, ConfigError> {
    check_keys("entropy", m, keys_of("entropy"))?;
    type_name(m, "entropy", &["shannon"])?;
    let d = EntropyConfig::default();
    Ok(Some(EntropyConfig {
        min_entropy: number(m, "entropy", "min_entropy", UNIT)?.unwrap_or(d.min_entropy),
        k_max: usize_at_least(m, "entropy", "k_max", 1)?.unwrap_or(d.k_max),
        delta_epsilon: number(m, "entropy", "delta_epsilon", NON_NEGATIVE)?,
        random_seed: uint(m, "entropy", "random_seed", 0)?.unwrap_or(d.random_seed),
    }))
}

fn budget_config(m: &Map<String, Value>) -> Result<BudgetConfig, ConfigError> {
    check_keys("budget", m, keys_of("budget"))?;
    let d = Budget::default();
    let mode = match string(m, "budget", "mode")? {
        None => BudgetMode::Strict,
        Some(s) if s.eq_ignore_ascii_case("strict") => BudgetMode::Strict,
        Some(s) if s.eq_ignore_ascii_case("soft") => BudgetMode::Soft,
        Some(s) => {
            return Err(ConfigError::UnknownType {
                key: "budget.mode".into(),
                value: s.to_owned(),
                allowed: "strict, soft".into(),
            });
        }
    };
    Ok(BudgetConfig {
        budget: Budget {
            max_nodes: uint(m, "budget", "max_nodes", 1)?.unwrap_or(d.max_nodes),
            max_tokens: uint(m, "budget", "max_tokens", 1)?.unwrap_or(d.max_tokens),
            max_ms: uint(m, "budget", "max_ms", 1)?.unwrap_or(d.max_ms),
        },
        mode,
    })
}

fn model_config(section: &str, m: &Map<String, Value>) -> Result<Option<ModelConfig>, ConfigError> {
    check_keys(section, m, keys_of(section))?;
    let Some(backend) = type_name(m, section, &BACKENDS)? else {
        return Err(ConfigError::WrongType {
            key: key_path(section, "type"),
            expected: format!("one of {}", BACKENDS.join(", ")),
            found: "nothing".into(),
        });
    };
    Ok(Some(ModelConfig {
        backend: backend.to_owned(),
        model: string(m, section, "model")?.map(str::to_owned),
        host: string(m, section, "host")?.map(str::to_owned),
        batch_size: usize_at_least(m, section, "batch_size", 1)?,
        device: match string(m, section, "device")? {
            Some(d) if !BURN_DEVICES.contains(&d) => {
                return Err(ConfigError::UnknownType {
                    key: key_path(section, "device"),
                    value: d.to_owned(),
                    allowed: BURN_DEVICES.join(", "),
                });
            }
            d => d.map(str::to_owned),
        },
        base_url: string(m, section, "base_url")?.map(str::to_owned),
        api_key_env: string(m, section, "api_key_env")?.map(str::to_owned),
        concurrency: usize_at_least(m, section, "concurrency", 1)?,
        threads: u32_in(m, section, "threads", 1, MAX_THREADS)?,
        ctx_size: u32_at_least(m, section, "ctx_size", 1)?,
        gpu_layers: u32_in(m, section, "gpu_layers", 0, MAX_GPU_LAYERS)?,
        prompt_cache: boolean(m, section, "prompt_cache")?,
    }))
}

fn generation_config(m: &Map<String, Value>) -> Result<(SamplingParams, Option<String>), ConfigError> {
    check_keys("generation", m, keys_of("generation"))?;
    let d = SamplingParams::default();
    let s = "generation";
    let stop = match m.get("stop") {
        None | Some(Value::Null) => d.stop.clone(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(t) if !t.is_empty() => Ok(t.clone()),
                other => Err(wrong_type("generation.stop", "a list of non-empty strings", other)),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(wrong_type("generation.stop", "a list of non-empty strings", other)),
    };
    let params = SamplingParams {
        max_tokens: u32_at_least(m, s, "max_tokens", 1)?.unwrap_or(d.max_tokens),
        temperature: number_f32(m, s, "temperature", NON_NEGATIVE)?.unwrap_or(d.temperature),
        top_k: u32_at_least(m, s, "top_k", 0)?.unwrap_or(d.top_k),
        top_p: number_f32(m, s, "top_p", (0.0, true, 1.0))?.unwrap_or(d.top_p),
        min_p: number_f32(m, s, "min_p", UNIT)?.unwrap_or(d.min_p),
        repeat_penalty: number_f32(m, s, "repeat_penalty", POSITIVE)?.unwrap_or(d.repeat_penalty),
        seed: uint(m, s, "seed", 0)?.unwrap_or(d.seed),
        stop,
    };
    Ok((params, string(m, s, "system")?.map(str::to_owned)))
}

fn server_config(m: &Map<String, Value>) -> Result<ServerConfig, ConfigError> {
    let s = "server";
    check_keys(s, m, keys_of(s))?;
    let d = ServerConfig::default();
    let max_seq = 256;
    Ok(ServerConfig {
        host: string(m, s, "host")?.map_or(d.host, str::to_owned),
        port: uint_in(m, s, "port", 0, u64::from(u16::MAX))?.map_or(d.port, |p| p as u16),
        max_batch: uint_in(m, s, "max_batch", 1, max_seq)?.map_or(d.max_batch, |v| v as usize),
        max_n: uint_in(m, s, "max_n", 1, max_seq)?.map_or(d.max_n, |v| v as usize),
        max_tokens: u32_at_least(m, s, "max_tokens", 1)?.unwrap_or(d.max_tokens),
        max_queue: usize_at_least(m, s, "max_queue", 1)?.unwrap_or(d.max_queue),
        timeout_s: uint_in(m, s, "timeout_s", 1, 86_400)?.unwrap_or(d.timeout_s),
        max_body_bytes: usize_at_least(m, s, "max_body_bytes", 1024)?.unwrap_or(d.max_body_bytes),
        api_key_env: string(m, s, "api_key_env")?.map(str::to_owned),
        shutdown_grace_s: uint_in(m, s, "shutdown_grace_s", 0, 3600)?.unwrap_or(d.shutdown_grace_s),
        max_explore_nodes: usize_at_least(m, s, "max_explore_nodes", 1)?.unwrap_or(d.max_explore_nodes),
    })
}

impl Config {
    /// The configuration in the keys and shape that [`Config::load`] reads (`beam.k`,
    /// `novelty.type`, …), so a tree's `config` can be saved as a file and rerun. Numbers
    /// held as f32 are written as their shortest decimal form (0.8, not 0.800000011920929).
    pub fn to_file_value(&self) -> Value {
        use serde_json::json;
        let short = |v: f32| v.to_string().parse::<f64>().map_or(Value::Null, Value::from);
        let scorer = match &self.scorer {
            ScorerConfig::Composite { weights } => json!({"type": "composite", "weights": weights}),
            ScorerConfig::Static { scores } => {
                let sorted: std::collections::BTreeMap<&String, &f64> = scores.iter().collect();
                json!({"type": "static", "scores": sorted})
            }
        };
        let novelty = match self.novelty {
            Some(NoveltyConfig::Cosine { threshold }) => json!({"type": "cosine", "threshold": threshold}),
            Some(NoveltyConfig::Mmr { lambda_param, threshold }) => {
                json!({"type": "mmr", "lambda_param": lambda_param, "threshold": threshold})
            }
            None => Value::Null,
        };
        let entropy = self.entropy.map_or(Value::Null, |e| {
            json!({"type": "shannon", "min_entropy": e.min_entropy, "k_max": e.k_max,
                   "delta_epsilon": e.delta_epsilon, "random_seed": e.random_seed})
        });
        let model = |m: &ModelConfig| {
            let mut v = json!({"type": m.backend});
            let fields = [
                ("model", m.model.clone().map(Value::from)),
                ("host", m.host.clone().map(Value::from)),
                ("batch_size", m.batch_size.map(Value::from)),
                ("device", m.device.clone().map(Value::from)),
                ("base_url", m.base_url.clone().map(Value::from)),
                ("api_key_env", m.api_key_env.clone().map(Value::from)),
                ("concurrency", m.concurrency.map(Value::from)),
                ("threads", m.threads.map(Value::from)),
                ("ctx_size", m.ctx_size.map(Value::from)),
                ("gpu_layers", m.gpu_layers.map(Value::from)),
                ("prompt_cache", m.prompt_cache.map(Value::from)),
            ];
            for (key, value) in fields {
                if let Some(value) = value {
                    v[key] = value;
                }
            }
            v
        };
        let g = &self.generation;
        let mut generation = json!({
            "max_tokens": g.max_tokens, "temperature": short(g.temperature), "top_k": g.top_k,
            "top_p": short(g.top_p), "min_p": short(g.min_p), "repeat_penalty": short(g.repeat_penalty),
            "seed": g.seed, "stop": g.stop,
        });
        if let Some(system) = &self.system {
            generation["system"] = system.clone().into();
        }
        let mut file = json!({
            "beam": {"k": self.beam_k},
            "scorer": scorer,
            "novelty": novelty,
            "entropy": entropy,
            "generation": generation,
            "explore": {"n": self.explore.n, "max_depth": self.explore.max_depth, "expand": self.explore.expand.name()},
        });
        if let Some(b) = self.budget {
            file["budget"] = json!({"max_nodes": b.budget.max_nodes, "max_tokens": b.budget.max_tokens,
                                    "max_ms": b.budget.max_ms, "mode": b.mode});
        }
        if let Some(m) = &self.embedding {
            file["embedding"] = model(m);
        }
        if let Some(m) = &self.generator {
            file["generator"] = model(m);
        }
        file
    }
}
