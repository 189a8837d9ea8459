//! `autobranch bench`: the comparative benchmark across the backends compiled in. Each task
//! prints a markdown table; `--json` also writes the numbers with the machine, versions and
//! model files (SHA-256) they came from. Every number is the median of `--reps` runs after a
//! warm-up, with the spread (min–max); backends are measured in the same run, so ratios
//! between them are meaningful on a noisy machine.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use autobranch_benches::{BRANCH_PROMPT, StepWorkload, median, peak_rss_mib, short_texts, step_config};
use autobranch_core::config::ExpandMode;
use autobranch_core::explore::Explorer;
use autobranch_core::model::{
    ChatMessage, Embedder, Generation, GenerationRequest, Generator, ModelError, Prompt, Role, SamplingParams,
};
use autobranch_core::{Config, StepVectors};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod plot;

use crate::args::{EmbedderArgs, GeneratorArgs};
use crate::backends::{self, Choice};
use crate::failure::Failure;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Task {
    /// Selector step latency on precomputed vectors.
    Select,
    /// Embedding throughput and peak memory per embedder.
    Embed,
    /// Prompt and decode speed, batched and sequential branching, per generator.
    Generate,
    /// One full tree per generator/embedder pair, time per stage.
    Explore,
    /// Everything above.
    All,
}

/// Arguments of `autobranch bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, default_value = "all")]
    pub task: Task,
    /// Backends, comma-separated: llamacpp, burn (first compiled device), burn:flex,
    /// burn:ndarray, burn:wgpu, ollama:MODEL, openai:MODEL (OPENAI_BASE_URL names the
    /// server). Default: llamacpp and burn where compiled in.
    #[arg(long, value_name = "LIST")]
    pub backends: Option<String>,
    /// Also write the results, the machine and the model files' hashes as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw SVG plots into this folder: step latency against N (select) and
    /// branching time against N per generator (generate).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Timed repetitions per measurement (after one warm-up).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// A tiny run of every measurement (a smoke test, not a benchmark).
    #[arg(long)]
    pub quick: bool,
    /// The embedding model of the local backends (burn, llamacpp) in `embed` and `explore`:
    /// a folder, a GGUF file for llamacpp, or a fetched model's name (all-mpnet-base-v2).
    /// Default: all-MiniLM-L6-v2.
    #[arg(long, value_name = "PATH_OR_NAME")]
    pub embed_model: Option<String>,
    /// Internal: measure one embedder in this process and print its JSON.
    #[arg(long, hide = true)]
    pub child: bool,
}

/// A backend spec: `name`, `burn:DEVICE`, or `ollama:MODEL` / `openai:MODEL` for servers.
#[derive(Clone, Debug)]
struct Spec {
    name: String,
    /// Burn's backend, for `burn`.
    device: Option<String>,
    /// The served model, for `ollama` and `openai`.
    model: Option<String>,
    /// The embedding model of a local backend (`--embed-model`); `None` is the default.
    embed_model: Option<String>,
}

impl Spec {
    fn parse(s: &str) -> Result<Self, Failure> {
        let (name, detail) = match s.split_once(':') {
            Some((n, d)) => (n.trim(), Some(d.trim().to_owned())),
            None => (s.trim(), None),
        };
        if !["llamacpp", "burn", "ollama", "openai"].contains(&name) {
            return Err(Failure::BadInput(anyhow!(
                "--backends: unknown backend {name:?}; allowed: llamacpp, burn, burn:flex, burn:ndarray, burn:wgpu, ollama:MODEL, openai:MODEL"
            )));
        }
        match (name, detail) {
            ("burn", device) => Ok(Self { name: name.to_owned(), device, model: None, embed_model: None }),
            ("ollama" | "openai", model) => Ok(Self { name: name.to_owned(), device: None, model, embed_model: None }),
            (_, None) => Ok(Self { name: name.to_owned(), device: None, model: None, embed_model: None }),
            (_, Some(_)) => Err(Failure::BadInput(anyhow!(
                "--backends: {s:?}: only burn takes a device (burn:flex, …) and only servers a model (openai:MODEL)"
            ))),
        }
    }

    /// The embedding model's path: `--embed-model` (a fetched model's name is its folder in
    /// the models folder, a hub model its folder in the hub's cache), else `default` there.
    fn embed_path(&self, dir: &Path, default: &str) -> PathBuf {
        match self.embed_model.as_deref() {
            Some(m) if m.starts_with(crate::hub::PREFIX) => crate::hub::Spec::parse(m)
                .and_then(Result::ok)
                .and_then(|spec| crate::hub::Hub::from_env().ok()?.cached(&spec))
                .unwrap_or_else(|| PathBuf::from(m)),
            Some(m) => backends::embedding_folder_name(m).map_or_else(|| PathBuf::from(m), |name| dir.join(name)),
            None => dir.join(default),
        }
    }

    fn label(&self) -> String {
        match (&self.device, &self.model) {
            (Some(d), _) | (None, Some(d)) => format!("{}:{d}", self.name),
            (None, None) => self.name.clone(),
        }
    }

    /// The generator; `sequential` decodes one candidate at a time on local backends and
    /// sends one request per candidate (fan-out instead of native `n`) to an OpenAI server;
    /// `prompt_cache` keeps a local generator's finished sequences for later prompts.
    fn generator(&self, sequential: bool, n: usize, prompt_cache: bool) -> Result<Box<dyn Generator>, Failure> {
        let args = GeneratorArgs {
            generator: Some(self.name.clone()),
            model: self.model.clone(),
            device: self.device.clone(),
            prompt_cache: prompt_cache.then_some(true),
            ..GeneratorArgs::default()
        };
        #[cfg(feature = "openai")]
        if self.name == "openai" && sequential {
            return backends::openai_generator(&Choice::generator(&args, None), n, false);
        }
        backends::generator(&Choice::generator(&args, None), sequential, n)
    }

    async fn embedder(&self) -> Result<Box<dyn Embedder>, Failure> {
        let args = EmbedderArgs {
            embedder: Some(self.name.clone()),
            embed_model: self.model.clone().or_else(|| self.embed_model.clone()),
            embed_device: self.device.clone(),
        };
        backends::embedder(&Choice::embedder(&args, None)).await
    }

    /// Whether this backend runs on Burn's wgpu backend (named, or the only one compiled in).
    fn on_wgpu(&self) -> bool {
        self.name == "burn"
            && match self.device.as_deref() {
                Some(device) => device == "wgpu",
                None => cfg!(feature = "burn-wgpu") && !cfg!(any(feature = "burn-flex", feature = "burn-ndarray")),
            }
    }

    /// The local model file this backend reads by default (for the hashes in the JSON).
    fn model_files(&self, role: &str) -> Vec<PathBuf> {
        let dir = backends::models_dir();
        match (self.name.as_str(), role) {
            ("llamacpp" | "burn", "generate") => vec![dir.join(backends::DEFAULT_GENERATOR_MODEL)],
            ("llamacpp", "embed") => vec![self.embed_path(&dir, backends::DEFAULT_EMBED_GGUF)],
            ("burn", "embed") => vec![self.embed_path(&dir, backends::DEFAULT_EMBED_FOLDER).join("model.safetensors")],
            _ => Vec::new(),
        }
    }
}

fn default_specs() -> Vec<Spec> {
    let mut specs = Vec::new();
    if cfg!(feature = "llamacpp") {
        specs.push(Spec { name: "llamacpp".into(), device: None, model: None, embed_model: None });
    }
    if cfg!(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")) {
        specs.push(Spec { name: "burn".into(), device: None, model: None, embed_model: None });
    }
    specs
}

/// (median, min, max) of timings.
fn summary(secs: Vec<f64>) -> (f64, f64, f64) {
    let (lo, hi) = secs.iter().fold((f64::INFINITY, 0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    (median(secs), lo, hi)
}

/// (median, min, max) of `reps` timed runs of `f` after one warm-up, in seconds.
fn timed<T>(reps: usize, mut f: impl FnMut() -> Result<T, Failure>) -> Result<(f64, f64, f64, T), Failure> {
    f()?;
    let mut secs = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        last = Some(f()?);
        secs.push(t.elapsed().as_secs_f64());
    }
    let (med, lo, hi) = summary(secs);
    Ok((med, lo, hi, last.expect("at least one run")))
}

/// [`timed`] for async work.
async fn timed_async<T, F, Fut>(reps: usize, mut f: F) -> Result<(f64, f64, f64, T), Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    f().await?;
    let mut secs = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        last = Some(f().await?);
        secs.push(t.elapsed().as_secs_f64());
    }
    let (med, lo, hi) = summary(secs);
    Ok((med, lo, hi, last.expect("at least one run")))
}

fn runtime_failure(e: autobranch_core::ModelError) -> Failure {
    Failure::Runtime(anyhow!(e))
}

fn bench_select(reps: usize, quick: bool) -> Result<Value, Failure> {
    let sizes: &[usize] = if quick { &[10, 100] } else { &[10, 50, 100, 500, 10_000] };
    println!("\n## Selector step (384-d precomputed vectors, beam 5, cosine novelty 0.85)\n");
    println!("| N | median | min–max |");
    println!("|---:|---:|---:|");
    let mut rows = Vec::new();
    for &n in sizes {
        let work = StepWorkload::clustered(n, 384, 7);
        let mut selector = step_config().build_selector();
        // Short steps repeat inside one timing so each sample is well above the clock's grain.
        let inner = (20_000 / n).max(1);
        let (med, lo, hi, _) = timed(reps.max(5), || {
            for _ in 0..inner {
                let vectors = StepVectors::precomputed(("root", &work.parent_vector), &work.pairs())
                    .map_err(|e| Failure::Runtime(anyhow!(e)))?;
                selector
                    .step_with_vectors(&work.parent, work.candidates.clone(), Some(&vectors))
                    .map_err(|e| Failure::Runtime(anyhow!(e)))?;
            }
            Ok(())
        })?;
        let per = |s: f64| s / inner as f64 * 1e3;
        println!("| {n} | {:.3} ms | {:.3}–{:.3} ms |", per(med), per(lo), per(hi));
        rows.push(json!({"n": n, "median_ms": per(med), "min_ms": per(lo), "max_ms": per(hi)}));
    }
    Ok(Value::Array(rows))
}

/// One embedder in this process: texts/s and peak memory.
async fn embed_one(spec: &Spec, reps: usize, quick: bool) -> Result<Value, Failure> {
    let texts = short_texts(if quick { 40 } else { 1000 });
    let started = Instant::now();
    let embedder = spec.embedder().await?;
    let load_s = started.elapsed().as_secs_f64();
    let (e, t) = (embedder.as_ref(), &texts);
    let (med, lo, hi, _) = timed_async(reps, || async move { e.embed(t).await.map_err(runtime_failure) }).await?;
    Ok(json!({
        "backend": spec.label(), "texts": texts.len(), "texts_per_s": texts.len() as f64 / med,
        "min_texts_per_s": texts.len() as f64 / hi, "max_texts_per_s": texts.len() as f64 / lo,
        "load_s": load_s, "peak_rss_mib": peak_rss_mib(), "dim": embedder.dim(),
    }))
}

/// Each embedder in its own process, so its peak memory is its own.
fn bench_embed(specs: &[Spec], reps: usize, quick: bool) -> Result<Value, Failure> {
    let exe = std::env::current_exe().context("cannot find the autobranch binary").map_err(Failure::Runtime)?;
    let texts = if quick { 40 } else { 1000 };
    println!("\n## Embeddings ({texts} short texts, one process per embedder)\n");
    println!("| embedder | texts/s | min–max | peak memory | load |");
    println!("|---|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for spec in specs {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["bench", "embed", "--child", "--reps", &reps.to_string(), "--backends", &spec.label()]);
        if let Some(model) = &spec.embed_model {
            cmd.args(["--embed-model", model]);
        }
        if quick {
            cmd.arg("--quick");
        }
        let out = cmd.output().context("cannot run the embedding child").map_err(Failure::Runtime)?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            println!("| {} | cannot run here: {err} | | | |", spec.label());
            rows.push(json!({"backend": spec.label(), "error": err}));
            continue;
        }
        let row: Value = serde_json::from_slice(&out.stdout)
            .context("the embedding child printed no JSON")
            .map_err(Failure::Runtime)?;
        let f = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {} | {:.1} | {:.1}–{:.1} | {:.0} MiB | {:.1} s |",
            spec.label(),
            f("texts_per_s"),
            f("min_texts_per_s"),
            f("max_texts_per_s"),
            f("peak_rss_mib"),
            f("load_s")
        );
        rows.push(row);
    }
    Ok(Value::Array(rows))
}

async fn time_generation(
    g: &dyn Generator,
    request: &GenerationRequest,
    reps: usize,
) -> Result<(f64, f64, f64, autobranch_core::model::Generation), Failure> {
    timed_async(reps, || async move { g.generate(request).await.map_err(runtime_failure) }).await
}

fn branch_request(n: usize, tokens: u32) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, BRANCH_PROMPT)]),
        n,
        sampling: SamplingParams { max_tokens: tokens, temperature: 0.8, seed: 7, ..SamplingParams::default() },
    }
}

async fn bench_generate(specs: &[Spec], reps: usize, quick: bool) -> Result<Value, Failure> {
    let (ns, tokens): (&[usize], u32) = if quick { (&[1, 2], 4) } else { (&[1, 4, 8, 16], 64) };
    println!("\n## Generation (chat prompt of ~110 tokens, {tokens} new tokens per candidate)\n");
    println!("| generator | N | batched | sequential | speed-up | batched tok/s | prompt tok/s | decode tok/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for spec in specs.iter().filter(|s| s.name != "ollama" || std::env::var_os("OLLAMA_HOST").is_some()) {
        if spec.name == "openai" {
            println!(
                "(openai: the sequential column is fan-out, one concurrent request per candidate, against native n)"
            );
        }
        let batched = spec.generator(false, 16, false)?;
        let sequential = spec.generator(true, 1, false)?;
        for &n in ns {
            let request = &branch_request(n, tokens);
            let (b, b_lo, b_hi, g) = time_generation(batched.as_ref(), request, reps).await?;
            let (s, s_lo, s_hi, _) = time_generation(sequential.as_ref(), request, reps).await?;
            let prompt_tps = g.timings.prompt_tokens as f64 / (g.timings.prompt_ms / 1e3);
            let tps = g.generated_tokens() as f64 / b;
            println!(
                "| {} | {n} | {b:.2} s | {s:.2} s | {:.2}× | {tps:.1} | {prompt_tps:.0} | {:.1} |",
                spec.label(),
                s / b,
                g.tokens_per_s()
            );
            rows.push(json!({
                "backend": spec.label(), "n": n, "new_tokens": tokens,
                "batched_s": b, "batched_min_s": b_lo, "batched_max_s": b_hi,
                "sequential_s": s, "sequential_min_s": s_lo, "sequential_max_s": s_hi,
                "generated_tokens": g.generated_tokens(), "prompt_tokens": g.timings.prompt_tokens,
                "prompt_tokens_per_s": prompt_tps, "decode_tokens_per_s": g.tokens_per_s(),
            }));
        }
    }
    Ok(Value::Array(rows))
}

/// A generator that adds the wall time of its calls to the last entry of `spent` (one
/// entry per run), to split a tree's time into generation and the rest.
struct TimedGenerator<'a> {
    inner: &'a dyn Generator,
    spent: Mutex<Vec<f64>>,
    calls: Mutex<usize>,
}

#[async_trait]
impl Generator for TimedGenerator<'_> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        let started = Instant::now();
        let out = self.inner.generate(request).await;
        self.add(started);
        out
    }

    async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
        let started = Instant::now();
        let out = self.inner.generate_batch(requests).await;
        self.add(started);
        out
    }

    async fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        self.inner.expect_prompts(root, next).await;
    }
}

impl TimedGenerator<'_> {
    /// Counts one call and adds its time to the current run.
    fn add(&self, started: Instant) {
        if let Ok(mut spent) = self.spent.lock()
            && let Some(last) = spent.last_mut()
        {
            *last += started.elapsed().as_secs_f64();
        }
        if let Ok(mut calls) = self.calls.lock() {
            *calls += 1;
        }
    }
}

async fn bench_explore(specs: &[Spec], reps: usize, quick: bool) -> Result<Value, Failure> {
    let generators: Vec<&Spec> = specs.iter().filter(|s| s.name != "ollama").collect();
    let embedder_spec = specs.iter().find(|s| s.name == "burn").or(generators.first().copied()).cloned();
    let Some(embedder_spec) = embedder_spec else { return Ok(Value::Array(Vec::new())) };
    let embedder = embedder_spec.embedder().await?;
    let (n, depth, tokens) = if quick { (2, 2, 4) } else { (8, 3, 48) };
    println!(
        "\n## Explore (depth {depth}, n {n}, beam 3, {tokens} tokens per node; embedder {})\n",
        embedder_spec.label()
    );
    println!(
        "node: one node per generator call; level: every queued node of a depth in one batch; + prompt cache: \
         the generator (llama.cpp, Burn) keeps each finished sequence's keys and values, so a child's prompt \
         decodes only what follows its parent's text.\n"
    );
    println!(
        "| generator | mode | tree | generation | embedding + selection | nodes | generator calls | prompt tokens | \
         computed |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for spec in generators {
        let plain = spec.generator(false, n, false)?;
        let cached = if matches!(spec.name.as_str(), "llamacpp" | "burn") {
            Some(spec.generator(false, n, true)?)
        } else {
            None
        };
        let mut runs = vec![(ExpandMode::Node, plain.as_ref(), "node"), (ExpandMode::Level, plain.as_ref(), "level")];
        if let Some(cached) = &cached {
            runs.push((ExpandMode::Level, cached.as_ref(), "level + prompt cache"));
        }
        for (mode, generator, label) in runs {
            let mut config = Config { beam_k: 3, ..Config::default() };
            config.explore.n = n;
            config.explore.max_depth = depth;
            config.explore.expand = mode;
            config.generation.max_tokens = tokens;
            let timed = TimedGenerator { inner: generator, spent: Mutex::new(Vec::new()), calls: Mutex::new(0) };
            let (g, e, config) = (&timed, embedder.as_ref(), &config);
            // A tree's last expansion leaves an empty queue, which empties the prompt cache of
            // that tree: every run starts alike.
            let (med, lo, hi, state) = timed_async(reps, || async move {
                g.spent.lock().map_err(|_| Failure::Runtime(anyhow!("timer poisoned")))?.push(0.0);
                let mut explorer = Explorer::new(g, Some(e), config.clone());
                let mut state = explorer.start("Give a plot twist for a detective story set in a Mars colony.");
                explorer.run(&mut state, None).await.map_err(|e| Failure::Runtime(anyhow!(e)))?;
                Ok(state)
            })
            .await?;
            // Wall time inside the generator per run (warm-up first, left out); the rest of a
            // tree's time is embedding and selection.
            let spent = timed.spent.lock().map_err(|_| Failure::Runtime(anyhow!("timer poisoned")))?.clone();
            let runs = spent.len().max(1);
            let calls = *timed.calls.lock().map_err(|_| Failure::Runtime(anyhow!("counter poisoned")))? / runs;
            let gen_s = median(spent[1..].to_vec());
            let rest_s = (med - gen_s).max(0.0);
            let prompt = state.stats.prompt_tokens;
            let computed = prompt.saturating_sub(state.stats.prompt_tokens_cached);
            println!(
                "| {} | {} | {med:.2} s ({lo:.2}–{hi:.2}) | {gen_s:.2} s | {rest_s:.2} s | {} | {calls} | {prompt} | \
                 {computed} |",
                spec.label(),
                label,
                state.nodes.len()
            );
            rows.push(json!({
                "generator": spec.label(), "embedder": embedder_spec.label(), "mode": mode.name(),
                "prompt_cache": label != mode.name(), "n": n,
                "depth": depth, "beam": 3, "tree_s": med, "tree_min_s": lo, "tree_max_s": hi, "generation_s": gen_s,
                "embedding_and_selection_s": rest_s, "nodes": state.nodes.len(), "generator_calls": calls,
                "prompt_tokens": prompt, "prompt_tokens_computed": computed,
            }));
        }
    }
    Ok(Value::Array(rows))
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
}

fn sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(format!("{:x}", hasher.finalize()))
}

/// The GPU adapter Burn's wgpu backend runs on, when one of `specs` uses it; null otherwise.
fn gpu(specs: &[Spec]) -> Value {
    if specs.iter().any(Spec::on_wgpu) { wgpu_adapter() } else { Value::Null }
}

#[cfg(feature = "burn-wgpu")]
fn wgpu_adapter() -> Value {
    match autobranch_burn::wgpu_adapter() {
        Ok(adapter) => json!(adapter),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

#[cfg(not(feature = "burn-wgpu"))]
fn wgpu_adapter() -> Value {
    Value::Null
}

/// The inference engines compiled into this binary and their versions (from Cargo.lock).
fn engines() -> Value {
    let compiled = |name: &str| match name {
        "burn" => cfg!(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")),
        "llama-cpp-2" | "llama-cpp-sys-2" => cfg!(feature = "llamacpp"),
        "reqwest" => cfg!(any(feature = "ollama", feature = "openai")),
        _ => true,
    };
    let versions = env!("AUTOBRANCH_ENGINE_VERSIONS")
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter(|&(name, _)| compiled(name))
        .map(|(name, version)| (name.to_owned(), json!(version)));
    Value::Object(versions.collect())
}

fn machine(specs: &[Spec]) -> Value {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    json!({
        "cpu": cpu_model(),
        "logical_cpus": threads,
        "threads_used": std::env::var("RAYON_NUM_THREADS").ok().and_then(|t| t.parse::<usize>().ok()).unwrap_or(threads),
        "os": std::env::consts::OS, "arch": std::env::consts::ARCH,
        "gpu": gpu(specs),
        "devices": super::devices::report(),
    })
}

/// Runs `autobranch bench`.
pub async fn run(args: &BenchArgs) -> Result<(), Failure> {
    let mut specs = match &args.backends {
        Some(list) => {
            let specs =
                list.split(',').filter(|s| !s.trim().is_empty()).map(Spec::parse).collect::<Result<Vec<_>, _>>()?;
            if specs.is_empty() {
                return Err(Failure::BadInput(anyhow!(
                    "--backends {list:?} names no backend; allowed: a comma-separated list of llamacpp, burn, burn:flex, burn:ndarray, burn:wgpu, ollama"
                )));
            }
            specs
        }
        None => default_specs(),
    };
    for spec in specs.iter_mut().filter(|s| s.name == "burn" || s.name == "llamacpp") {
        spec.embed_model.clone_from(&args.embed_model);
    }
    if args.reps == 0 {
        return Err(Failure::BadInput(anyhow!("--reps 0 is out of range; allowed: an integer ≥ 1")));
    }
    // Checked before the (long) run, so a bad path fails at once.
    let json_out = args.json.as_deref().map(|p| crate::output::check("--json", p)).transpose()?;
    if args.child {
        let spec = specs.first().ok_or_else(|| Failure::BadInput(anyhow!("--child needs one backend")))?;
        println!("{}", embed_one(spec, args.reps, args.quick).await?);
        return Ok(());
    }
    let wants = |t: Task| args.task == t || args.task == Task::All;
    let machine = machine(&specs);
    println!("# autobranch bench\n");
    println!(
        "{} · {} logical CPUs · backends {}",
        cpu_model().unwrap_or_default(),
        machine["logical_cpus"],
        specs.iter().map(Spec::label).collect::<Vec<_>>().join(", ")
    );
    if let Some(adapter) = machine["gpu"].as_str() {
        println!("GPU adapter (wgpu): {adapter}");
    }
    let mut results = serde_json::Map::new();
    let mut files = Vec::new();
    if wants(Task::Select) {
        results.insert("select".into(), bench_select(args.reps, args.quick)?);
    }
    if wants(Task::Embed) {
        results.insert("embed".into(), bench_embed(&specs, args.reps, args.quick)?);
        files.extend(specs.iter().flat_map(|s| s.model_files("embed")));
    }
    if wants(Task::Generate) {
        results.insert("generate".into(), bench_generate(&specs, args.reps, args.quick).await?);
        files.extend(specs.iter().flat_map(|s| s.model_files("generate")));
    }
    if wants(Task::Explore) {
        results.insert("explore".into(), bench_explore(&specs, args.reps, args.quick).await?);
    }
    if let Some(dir) = &args.plot {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .map_err(Failure::Runtime)?;
        let rows = |task: &str| results.get(task).and_then(Value::as_array).cloned();
        if let Some(rows) = rows("select") {
            plot::select(&rows, &dir.join("select.svg")).map_err(Failure::Runtime)?;
        }
        if let Some(rows) = rows("generate") {
            plot::branching(&rows, &dir.join("branching.svg")).map_err(Failure::Runtime)?;
        }
    }
    if let Some(json_out) = &json_out {
        files.sort();
        files.dedup();
        let models: Vec<Value> = files
            .iter()
            .filter(|f| f.is_file())
            .map(|f| json!({"path": f, "bytes": f.metadata().map(|m| m.len()).ok(), "sha256": sha256(f)}))
            .collect();
        let out = json!({
            "autobranch": env!("CARGO_PKG_VERSION"),
            "engines": engines(),
            "machine": machine,
            "backends": specs.iter().map(Spec::label).collect::<Vec<_>>(),
            "reps": args.reps, "quick": args.quick,
            "models": models,
            "results": results,
        });
        let text = serde_json::to_string_pretty(&out).map_err(|e| Failure::Runtime(e.into()))?;
        json_out.write(text.as_bytes())?;
    }
    Ok(())
}
