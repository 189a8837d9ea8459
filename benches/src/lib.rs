//! Workloads shared by the benchmarks: synthetic candidate sets with precomputed vectors.

use autobranch_core::Candidate;
use autobranch_core::config::{Config, NoveltyConfig, ScorerConfig};
use autobranch_core::scoring::Weights;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The selector configuration of the step benchmarks: beam 5, cosine novelty at 0.85, the
/// composite scorer with the configuration's default weights.
pub fn step_config() -> Config {
    Config {
        beam_k: 5,
        novelty: Some(NoveltyConfig::Cosine { threshold: 0.85 }),
        scorer: ScorerConfig::Composite { weights: Weights::CONFIG_DEFAULT },
        ..Config::default()
    }
}

/// One selector step's input: a parent, `n` candidates and their unit vectors.
pub struct StepWorkload {
    /// The parent.
    pub parent: Candidate,
    /// The parent's vector.
    pub parent_vector: Vec<f32>,
    /// The candidates (with a `logprobs` entry, as a generator would give).
    pub candidates: Vec<Candidate>,
    /// One unit vector per candidate.
    pub vectors: Vec<Vec<f32>>,
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn gaussianish(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    // Sum of uniforms: cheap, symmetric, close enough to normal for direction sampling.
    (0..dim).map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum()).collect()
}

impl StepWorkload {
    /// `n` candidates of dimension `dim` drawn around a few topics, so that some are
    /// near-duplicates (as sampled LLM continuations are) and novelty has work to do.
    pub fn clustered(n: usize, dim: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let topics: Vec<Vec<f32>> = (0..8).map(|_| unit(gaussianish(&mut rng, dim))).collect();
        let parent_vector = unit(gaussianish(&mut rng, dim));
        let mut candidates = Vec::with_capacity(n);
        let mut vectors = Vec::with_capacity(n);
        for i in 0..n {
            let topic = &topics[rng.random_range(0..topics.len())];
            let spread = rng.random_range(0.05f32..0.6);
            let noise = unit(gaussianish(&mut rng, dim));
            vectors.push(unit(topic.iter().zip(&noise).map(|(t, e)| t + spread * e).collect()));
            let logprob = -rng.random_range(0.05f64..3.0);
            candidates.push(
                Candidate::new(format!("c{i}"), format!("candidate {i} about topic {spread:.3}"))
                    .expect("non-empty id")
                    .with_meta("logprobs", logprob),
            );
        }
        Self {
            parent: Candidate::new("root", "the parent prompt").expect("non-empty id"),
            parent_vector,
            candidates,
            vectors,
        }
    }

    /// (id, vector) pairs for [`autobranch_core::StepVectors::precomputed`].
    pub fn pairs(&self) -> Vec<(&str, &[f32])> {
        self.candidates.iter().zip(&self.vectors).map(|(c, v)| (c.id.as_str(), v.as_slice())).collect()
    }
}

/// `n` short English sentences (9 to 16 words, about 12 to 20 tokens), the embedding
/// benchmark's workload, like the candidate sentences of a branching step. Text `i` is
/// picked from fixed word lists by index arithmetic only, so `benches/reference/` rebuilds
/// the same list in Python.
pub fn short_texts(n: usize) -> Vec<String> {
    const SUBJECTS: [&str; 12] = [
        "The detective",
        "A tired engineer",
        "The colony governor",
        "An old robot",
        "The youngest pilot",
        "A quiet botanist",
        "The ship's doctor",
        "A curious child",
        "The night guard",
        "An AI archivist",
        "The supply captain",
        "A retired miner",
    ];
    const VERBS: [&str; 10] =
        ["finds", "hides", "repairs", "questions", "remembers", "follows", "opens", "forgets", "signals", "measures"];
    const OBJECTS: [&str; 12] = [
        "a broken oxygen valve",
        "the sealed airlock",
        "a letter from Earth",
        "the water reclaimer",
        "a map of the third dome",
        "an encrypted log",
        "the greenhouse lights",
        "a frozen footprint",
        "the governor's diary",
        "a cracked helmet",
        "the last supply crate",
        "a strange red crystal",
    ];
    const ENDINGS: [&str; 8] = [
        "before dawn.",
        "while the storm rages outside.",
        "and tells no one.",
        "for the second time today.",
        "under the flickering lights.",
        "as the alarms begin to sound.",
        "with trembling hands.",
        "near the old landing pad.",
    ];
    (0..n)
        .map(|i| {
            let s = SUBJECTS[i % 12];
            let v = VERBS[(i / 12) % 10];
            let o = OBJECTS[(i * 7 + i / 120) % 12];
            let e = ENDINGS[(i * 5 + i / 12) % 8];
            format!("{s} {v} {o} {e}")
        })
        .collect()
}

/// The process's peak resident memory in MiB (`VmHWM`), where the OS reports it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The models folder: `AUTOBRANCH_MODELS`, else `~/.cache/autobranch/models`.
pub fn models_dir() -> std::path::PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    })
}

/// The number in environment variable `name`, or `default` when it is unset or not a number.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// The comma-separated numbers in environment variable `name`, or `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| default.to_vec())
}

/// The embedders the benchmarks can load, by name: `burn-<device>` for each compiled Burn
/// backend, then `llamacpp`, as the cargo features of this crate allow.
pub fn embedder_names() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    #[cfg(feature = "burn")]
    names.extend(autobranch_burn::BurnBackend::compiled().iter().map(|b| format!("burn-{b}")));
    if cfg!(feature = "llamacpp") {
        names.push("llamacpp".into());
    }
    names
}

/// Loads embedder `name` (one of [`embedder_names`]) with all-MiniLM-L6-v2 from
/// [`models_dir`]: the sentence-transformers folder for Burn, its GGUF conversion for
/// llama.cpp (`threads` CPU threads; `None` is llama.cpp's default).
pub fn load_embedder(
    name: &str,
    batch: usize,
    threads: Option<i32>,
) -> Result<Box<dyn autobranch_core::model::Embedder>, String> {
    let _ = (batch, threads);
    #[cfg(feature = "burn")]
    if let Some(backend) = name.strip_prefix("burn-") {
        let options = autobranch_burn::BurnEmbedderOptions {
            backend: Some(backend.parse()?),
            batch_size: batch,
            ..Default::default()
        };
        let embedder = autobranch_burn::BurnEmbedder::load(&models_dir().join("all-minilm-l6-v2"), options);
        return Ok(Box::new(embedder.map_err(|e| e.to_string())?));
    }
    #[cfg(feature = "llamacpp")]
    if name == "llamacpp" {
        let options =
            autobranch_llamacpp::LlamaCppOptions { threads, batch_size: (batch * 256) as u32, ..Default::default() };
        let embedder =
            autobranch_llamacpp::LlamaCppEmbedder::load(&models_dir().join("all-minilm-l6-v2.gguf"), options);
        return Ok(Box::new(embedder.map_err(|e| e.to_string())?));
    }
    Err(format!("unknown embedder {name:?}; compiled in: {}", embedder_names().join(", ")))
}

/// The branching benches' prompt (about 110 tokens with SmolLM2's chat template).
pub const BRANCH_PROMPT: &str = "You are writing a mystery novel set in a research colony on Mars. The colony has \
three domes, a failing water reclaimer, and a governor who keeps secrets. Last night the chief engineer was found \
dead in the airlock, and the detective has only one day before the supply ship leaves. Write the next paragraph of \
the story, in which the detective finds a clue that changes everything about the case.";

/// The median of `values` (the upper one for an even count); `NaN` when empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
