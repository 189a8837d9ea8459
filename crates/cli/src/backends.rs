//! Wires the model backends that were compiled in (cargo features `llamacpp`,
//! `burn-flex`, `burn-ndarray`, `burn-wgpu`, `ollama`, `openai`). Asking for one that was not
//! compiled in says which feature to enable; a missing model says how to fetch it.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use autobranch_core::config::ModelConfig;
use autobranch_core::{Embedder, Generator};

use crate::args::{EmbedderArgs, GeneratorArgs};
use crate::failure::Failure;
use crate::hub;

/// Default generation model in the models folder.
pub const DEFAULT_GENERATOR_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Default GGUF embedding model in the models folder.
pub const DEFAULT_EMBED_GGUF: &str = "all-minilm-l6-v2.gguf";
/// Default sentence-transformers folder (Burn) in the models folder.
pub const DEFAULT_EMBED_FOLDER: &str = "all-minilm-l6-v2";

/// The embedder used when neither flags nor configuration name one: Burn on the CPU where
/// it is compiled in, else llama.cpp.
pub const DEFAULT_EMBEDDER: &str =
    if cfg!(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")) { "burn" } else { "llamacpp" };

const FETCH_HINT: &str = "; fetch the default models with `autobranch models fetch` (or scripts/fetch-models.sh)";

/// The models folder: `$AUTOBRANCH_MODELS`, else `~/.cache/autobranch/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".cache/autobranch/models")
    })
}

/// What a local model is: one file (a GGUF) or a folder (sentence-transformers).
#[derive(Clone, Copy)]
enum Local {
    File,
    #[cfg_attr(not(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")), allow(dead_code))]
    Folder,
}

/// A model given as a path (by `flag`), a fetched model's name, a model on the Hugging Face
/// Hub (`hf:…`, from its cache or downloaded), or the default in the models folder; it must
/// exist and be of the right kind, and a wrong kind says what to give instead.
fn local_model(flag: &str, model: Option<&str>, default: &str, kind: Local) -> Result<PathBuf, Failure> {
    if let Some(spec) = model.and_then(hub::Spec::parse) {
        let want = match kind {
            Local::File => hub::Want::File,
            Local::Folder => hub::Want::Folder,
        };
        return hub::Hub::from_env()?.resolve(flag, &spec?, want);
    }
    let known = model.and_then(|m| known_folder(m, kind));
    let path = match (model, known) {
        (_, Some(name)) => models_dir().join(name),
        (Some(m), None) => PathBuf::from(m),
        (None, None) => models_dir().join(default),
    };
    let shown = path.display();
    let bad = |message: String| Err(Failure::BadInput(anyhow!(message)));
    match kind {
        Local::File if path.is_dir() => {
            let ggufs: Vec<String> = std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|name| name.ends_with(".gguf"))
                .collect();
            let hint = match ggufs.as_slice() {
                [] => String::new(),
                names => format!("; it holds {}", names.join(", ")),
            };
            bad(format!("{flag} {shown} is a directory; give a GGUF model file{hint}"))
        }
        Local::Folder if path.is_file() => {
            let gguf = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
            let hint = if gguf {
                "; for a GGUF embedding model use --embedder llamacpp"
            } else {
                " (config.json, tokenizer.json, model.safetensors)"
            };
            bad(format!("{flag} {shown} is a file; the burn embedder reads a sentence-transformers folder{hint}"))
        }
        _ if !path.exists() => {
            let fetch_one = known.map(|name| format!("; fetch it with `autobranch models fetch {name}`"));
            let hint = match fetch_one {
                Some(hint) => hint,
                None if model.is_none() => FETCH_HINT.to_owned(),
                None => String::new(),
            };
            let (what, folder) = match kind {
                Local::File => ("model file", ""),
                Local::Folder => (
                    "model folder",
                    " (a sentence-transformers folder: config.json, tokenizer.json, model.safetensors)",
                ),
            };
            bad(format!("{what} {shown} does not exist{folder}{hint}"))
        }
        _ => Ok(path),
    }
}

/// The sentence-transformers folder a bare model name means, as users of
/// `SentenceTransformer('all-mpnet-base-v2')` write it (with or without the
/// `sentence-transformers/` owner): one the fetch step puts in the models folder. A path that
/// exists is never a name.
pub fn embedding_folder_name(model: &str) -> Option<&'static str> {
    if Path::new(model).exists() {
        return None;
    }
    let bare = model.strip_prefix("sentence-transformers/").unwrap_or(model).to_ascii_lowercase();
    crate::commands::models::EMBEDDING_FOLDERS.into_iter().find(|name| *name == bare)
}

/// [`embedding_folder_name`] where a folder is wanted.
fn known_folder(model: &str, kind: Local) -> Option<&'static str> {
    if matches!(kind, Local::Folder) { embedding_folder_name(model) } else { None }
}

fn not_compiled(role: &str, name: &str, feature: &str) -> Failure {
    Failure::BadInput(anyhow!(
        "{role} backend {name:?} is not compiled into this build; rebuild with `cargo build --release -p autobranch-cli --features {feature}`"
    ))
}

fn unknown(role: &str, name: &str) -> Failure {
    Failure::BadInput(anyhow!("unknown {role} backend {name:?}; allowed: llamacpp, burn, ollama, openai"))
}

/// How a backend is chosen: name, model and device from the flags, else the configuration
/// section.
pub struct Choice<'a> {
    /// `llamacpp`, `burn` or `ollama`.
    pub backend: String,
    /// Path or model name.
    pub model: Option<String>,
    /// The Burn backend (`flex`, `ndarray`, `wgpu`), for `burn`.
    pub device: Option<String>,
    /// The configuration section, for host and batch size.
    pub config: Option<&'a ModelConfig>,
    /// CPU threads, context size and GPU layers of a local model: the flags (generator
    /// only), else the section.
    pub threads: Option<u32>,
    pub ctx_size: Option<u32>,
    pub gpu_layers: Option<u32>,
    /// Whether a local generator keeps finished sequences' cells (off when `None`).
    pub prompt_cache: Option<bool>,
    /// The role, for messages: "generator" or "embedding" (the section's name).
    role: &'static str,
}

impl<'a> Choice<'a> {
    /// Flags win over the configuration (whose model and device count only when it names
    /// the same backend); `default` is the backend when neither names one.
    fn new(flags: (Option<&str>, Option<&str>, Option<&str>), config: Option<&'a ModelConfig>, default: &str) -> Self {
        let (flag_backend, flag_model, flag_device) = flags;
        let backend = flag_backend
            .map(str::to_owned)
            .or_else(|| config.map(|c| c.backend.clone()))
            .unwrap_or_else(|| default.into());
        let config = config.filter(|c| c.backend == backend);
        let model = flag_model.map(str::to_owned).or_else(|| config.and_then(|c| c.model.clone()));
        let device = flag_device.map(str::to_owned).or_else(|| config.and_then(|c| c.device.clone()));
        Self {
            backend,
            model,
            device,
            config,
            threads: config.and_then(|c| c.threads),
            ctx_size: config.and_then(|c| c.ctx_size),
            gpu_layers: config.and_then(|c| c.gpu_layers),
            prompt_cache: config.and_then(|c| c.prompt_cache),
            role: "embedding",
        }
    }

    /// The generator from `--generator`/`--model`/`--device`/`--threads`/`--ctx-size`/
    /// `--gpu-layers` and the `generator` section; llama.cpp by default.
    pub fn generator(args: &GeneratorArgs, config: Option<&'a ModelConfig>) -> Self {
        let mut choice =
            Self::new((args.generator.as_deref(), args.model.as_deref(), args.device.as_deref()), config, "llamacpp");
        choice.threads = args.threads.or(choice.threads);
        choice.ctx_size = args.ctx_size.or(choice.ctx_size);
        choice.gpu_layers = args.gpu_layers.or(choice.gpu_layers);
        choice.prompt_cache = args.prompt_cache.or(choice.prompt_cache);
        choice.role = "generator";
        choice
    }

    /// The embedder from `--embedder`/`--embed-model`/`--embed-device` and the `embedding`
    /// section; [`DEFAULT_EMBEDDER`] by default.
    pub fn embedder(args: &EmbedderArgs, config: Option<&'a ModelConfig>) -> Self {
        Self::new(
            (args.embedder.as_deref(), args.embed_model.as_deref(), args.embed_device.as_deref()),
            config,
            DEFAULT_EMBEDDER,
        )
    }

    /// Refuses the local-model settings this backend does not take (`ctx_size` and
    /// `prompt_cache` are taken by the burn generator too, `burn_generator`), naming the
    /// setting and where it applies.
    fn check_local_settings(&self, burn_generator: bool) -> Result<(), Failure> {
        if self.backend == "llamacpp" {
            return Ok(());
        }
        let flag = |name: &str| {
            if self.role == "generator" { format!("--{} / ", name.replace('_', "-")) } else { String::new() }
        };
        let given = [
            ("threads", self.threads.is_some()),
            ("gpu_layers", self.gpu_layers.is_some()),
            ("ctx_size", self.ctx_size.is_some() && !burn_generator),
            ("prompt_cache", self.prompt_cache.is_some() && !burn_generator),
        ];
        match given.iter().find(|(_, set)| *set) {
            None => Ok(()),
            Some((name, _)) => Err(Failure::BadInput(anyhow!(
                "{}{}.{name} applies to the llamacpp backend{}, not {}",
                flag(name),
                self.role,
                if matches!(*name, "ctx_size" | "prompt_cache") { " and the burn generator" } else { "" },
                self.backend
            ))),
        }
    }
}

/// llama.cpp settings from the choice: batch size, threads, context size, GPU layers.
#[cfg(feature = "llamacpp")]
fn llamacpp_options(choice: &Choice<'_>) -> autobranch_llamacpp::LlamaCppOptions {
    let mut options = autobranch_llamacpp::LlamaCppOptions::default();
    if let Some(b) = choice.config.and_then(|c| c.batch_size) {
        options.batch_size = b as u32;
    }
    options.threads = choice.threads.map(|t| t as i32);
    options.n_ctx = choice.ctx_size;
    options.gpu_layers = choice.gpu_layers;
    options.prompt_cache = choice.prompt_cache.unwrap_or(false);
    options
}

#[cfg(feature = "ollama")]
fn ollama_client(choice: &Choice<'_>) -> Result<autobranch_ollama::OllamaClient, Failure> {
    let host = match choice.config.and_then(|c| c.host.as_deref()) {
        Some(h) => autobranch_ollama::host::base_url(h),
        None => autobranch_ollama::host::from_env(),
    }
    .map_err(|e| Failure::BadInput(anyhow!(e)))?;
    autobranch_ollama::OllamaClient::new(autobranch_ollama::ClientConfig { base_url: host, ..Default::default() })
        .map_err(|e| Failure::Runtime(e.into()))
}

/// A client for an OpenAI-compatible server: the section's `base_url`, else
/// `OPENAI_BASE_URL`, else OpenAI's; the key from `api_key_env` (default `OPENAI_API_KEY`).
#[cfg(feature = "openai")]
fn openai_client(choice: &Choice<'_>) -> Result<autobranch_openai::OpenAiClient, Failure> {
    let base_url = choice.config.and_then(|c| c.base_url.as_deref());
    let key_env = choice.config.and_then(|c| c.api_key_env.as_deref());
    let config =
        autobranch_openai::OpenAiConfig::from_env(base_url, key_env).map_err(|e| Failure::BadInput(e.into()))?;
    autobranch_openai::OpenAiClient::new(config).map_err(|e| Failure::Runtime(e.into()))
}

/// The openai generator: `n` sent natively, or with `native_n` false never sent (one request
/// per candidate: the fan-out side of `bench generate`'s native-`n` comparison).
#[cfg(feature = "openai")]
pub fn openai_generator(
    choice: &Choice<'_>,
    concurrency: usize,
    native_n: bool,
) -> Result<Box<dyn Generator>, Failure> {
    let model = server_model(choice, "generator", "--model", "Qwen/Qwen2.5-7B-Instruct")?;
    let concurrency = choice.config.and_then(|c| c.concurrency).unwrap_or(concurrency);
    let g = autobranch_openai::OpenAiGenerator::new(openai_client(choice)?, model, concurrency).with_native_n(native_n);
    Ok(Box::new(g))
}

/// The model name a server backend needs, or an error that says how to give it.
#[cfg_attr(not(any(feature = "ollama", feature = "openai")), allow(dead_code))]
fn server_model(choice: &Choice<'_>, role: &str, flag: &str, example: &str) -> Result<String, Failure> {
    choice.model.clone().ok_or_else(|| {
        Failure::BadInput(anyhow!("the {} {role} needs a model name: {flag} NAME (e.g. {example})", choice.backend))
    })
}

/// Loads the generator; `sequential` asks the local backends to decode candidates one at a time.
pub fn generator(choice: &Choice<'_>, sequential: bool, concurrency: usize) -> Result<Box<dyn Generator>, Failure> {
    let _ = (sequential, concurrency);
    choice.check_local_settings(choice.backend == "burn")?;
    match choice.backend.as_str() {
        "llamacpp" => {
            #[cfg(feature = "llamacpp")]
            {
                let path = local_model("--model", choice.model.as_deref(), DEFAULT_GENERATOR_MODEL, Local::File)?;
                let options = autobranch_llamacpp::LlamaCppOptions { sequential, ..llamacpp_options(choice) };
                let g = autobranch_llamacpp::LlamaCppGenerator::load(&path, options)
                    .map_err(|e| Failure::BadInput(anyhow!("cannot load {}: {e}", path.display())))?;
                Ok(Box::new(g))
            }
            #[cfg(not(feature = "llamacpp"))]
            Err(not_compiled("generator", "llamacpp", "llamacpp"))
        }
        "ollama" => {
            #[cfg(feature = "ollama")]
            {
                let model = server_model(choice, "generator", "--model", "llama3.1:8b")?;
                Ok(Box::new(autobranch_ollama::OllamaGenerator::new(ollama_client(choice)?, model, concurrency)))
            }
            #[cfg(not(feature = "ollama"))]
            Err(not_compiled("generator", "ollama", "ollama"))
        }
        "openai" => {
            #[cfg(feature = "openai")]
            {
                openai_generator(choice, concurrency, true)
            }
            #[cfg(not(feature = "openai"))]
            Err(not_compiled("generator", "openai", "openai"))
        }
        "burn" => burn_generator(choice, sequential),
        other => Err(unknown("generator", other)),
    }
}

/// The generator `autobranch serve` runs: llama.cpp decodes up to `max_batch` sequences of
/// all requests together (and reports its batch sizes); a server backend fans out at most
/// `max_n` requests at once.
pub fn serve_generator(
    choice: &Choice<'_>,
    max_batch: usize,
    max_n: usize,
) -> Result<(Box<dyn Generator>, Option<crate::commands::serve::BatchSizes>), Failure> {
    #[cfg(feature = "llamacpp")]
    if choice.backend == "llamacpp" {
        let path = local_model("--model", choice.model.as_deref(), DEFAULT_GENERATOR_MODEL, Local::File)?;
        let options =
            autobranch_llamacpp::LlamaCppOptions { max_sequences: max_batch as u32, ..llamacpp_options(choice) };
        let g = autobranch_llamacpp::LlamaCppGenerator::load(&path, options)
            .map_err(|e| Failure::BadInput(anyhow!("cannot load {}: {e}", path.display())))?;
        let stats = g.batch_stats();
        let sizes: crate::commands::serve::BatchSizes = Box::new(move || {
            let s = stats.snapshot();
            (s.buckets, s.steps, s.sequences)
        });
        return Ok((Box::new(g), Some(sizes)));
    }
    let _ = max_batch;
    Ok((generator(choice, false, max_n)?, None))
}

/// Loads the embedder.
pub async fn embedder(choice: &Choice<'_>) -> Result<Box<dyn Embedder>, Failure> {
    choice.check_local_settings(false)?;
    match choice.backend.as_str() {
        "llamacpp" => {
            #[cfg(feature = "llamacpp")]
            {
                let path = local_model("--embed-model", choice.model.as_deref(), DEFAULT_EMBED_GGUF, Local::File)?;
                let e = autobranch_llamacpp::LlamaCppEmbedder::load(&path, llamacpp_options(choice))
                    .map_err(|e| Failure::BadInput(anyhow!("cannot load {}: {e}", path.display())))?;
                Ok(Box::new(e))
            }
            #[cfg(not(feature = "llamacpp"))]
            Err(not_compiled("embedder", "llamacpp", "llamacpp"))
        }
        "ollama" => {
            #[cfg(feature = "ollama")]
            {
                let model = server_model(choice, "embedder", "--embed-model", "all-minilm")?;
                let e = autobranch_ollama::OllamaEmbedder::connect(ollama_client(choice)?, model)
                    .await
                    .map_err(|e| Failure::Runtime(e.into()))?;
                Ok(Box::new(e))
            }
            #[cfg(not(feature = "ollama"))]
            Err(not_compiled("embedder", "ollama", "ollama"))
        }
        "openai" => {
            #[cfg(feature = "openai")]
            {
                let model = server_model(choice, "embedder", "--embed-model", "text-embedding-3-small")?;
                let mut e = autobranch_openai::OpenAiEmbedder::connect(openai_client(choice)?, model)
                    .await
                    .map_err(crate::failure::model_failure)?;
                if let Some(b) = choice.config.and_then(|c| c.batch_size) {
                    e = e.with_batch_size(b);
                }
                Ok(Box::new(e))
            }
            #[cfg(not(feature = "openai"))]
            Err(not_compiled("embedder", "openai", "openai"))
        }
        "burn" => burn_embedder(choice),
        other => Err(unknown("embedder", other)),
    }
}

/// The embedder an exploration or selection with `config` needs: one only when a selection
/// stage uses vectors; flags (`args`) win over the configuration's `embedding` section.
pub async fn embedder_if_needed(
    config: &autobranch_core::Config,
    args: &EmbedderArgs,
) -> Result<Option<Box<dyn Embedder>>, Failure> {
    if !config.build_selector().needs_embeddings() {
        return Ok(None);
    }
    Ok(Some(embedder(&Choice::embedder(args, config.embedding.as_ref())).await?))
}

/// The Burn backend the choice names (`None`: the first compiled), checked to be compiled in.
#[cfg(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu"))]
fn burn_backend(choice: &Choice<'_>) -> Result<Option<autobranch_burn::BurnBackend>, Failure> {
    let Some(name) = choice.device.as_deref() else { return Ok(None) };
    let b: autobranch_burn::BurnBackend = name.parse().map_err(|e: String| Failure::BadInput(anyhow!(e)))?;
    if !b.is_compiled() {
        return Err(not_compiled("Burn", name, &format!("burn-{name}")));
    }
    Ok(Some(b))
}

/// A Burn load error: the backend cannot run here (runtime) or the input is bad.
#[cfg(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu"))]
fn burn_failure(path: &std::path::Path, e: autobranch_burn::LoadError) -> Failure {
    match e {
        autobranch_burn::LoadError::Backend(_) => Failure::Runtime(anyhow!(e)),
        other => Failure::BadInput(anyhow!("cannot load {}: {other}", path.display())),
    }
}

/// The Burn generator (a Llama-family GGUF) on the chosen (or first compiled) Burn backend.
fn burn_generator(choice: &Choice<'_>, sequential: bool) -> Result<Box<dyn Generator>, Failure> {
    #[cfg(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu"))]
    {
        use autobranch_burn::{BurnGenerator, BurnGeneratorOptions};
        let backend = burn_backend(choice)?;
        let path = local_model("--model", choice.model.as_deref(), DEFAULT_GENERATOR_MODEL, Local::File)?;
        let n_ctx = choice.ctx_size.map(|n| n as usize);
        let prompt_cache = choice.prompt_cache.unwrap_or(false);
        let options = BurnGeneratorOptions { backend, sequential, n_ctx, prompt_cache, max_sequences: None };
        let g = BurnGenerator::load(&path, options).map_err(|e| burn_failure(&path, e))?;
        Ok(Box::new(g))
    }
    #[cfg(not(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")))]
    {
        let _ = (choice, sequential);
        Err(not_compiled("generator", "burn", "burn-flex"))
    }
}

/// The Burn embedder on the chosen (or first compiled) Burn backend.
fn burn_embedder(choice: &Choice<'_>) -> Result<Box<dyn Embedder>, Failure> {
    #[cfg(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu"))]
    {
        use autobranch_burn::{BurnEmbedder, BurnEmbedderOptions};
        let backend = burn_backend(choice)?;
        let path = local_model("--embed-model", choice.model.as_deref(), DEFAULT_EMBED_FOLDER, Local::Folder)?;
        let mut options = BurnEmbedderOptions { backend, ..Default::default() };
        if let Some(b) = choice.config.and_then(|c| c.batch_size) {
            options.batch_size = b;
        }
        let e = BurnEmbedder::load(&path, options).map_err(|e| burn_failure(&path, e))?;
        Ok(Box::new(e))
    }
    #[cfg(not(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")))]
    {
        let _ = choice;
        Err(not_compiled("embedder", "burn", "burn-flex"))
    }
}
