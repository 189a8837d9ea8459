//! Criterion suite for every backend compiled in (the cargo features of this crate):
//! `embed/<backend>` embeds one batch of 32 short texts with all-MiniLM-L6-v2, and
//! `branch/<backend>` generates 4 candidates × 16 tokens from one prompt with
//! SmolLM2-135M-Instruct (Q4_1), batched. Backends: `llamacpp`, `burn-flex`,
//! `burn-ndarray`, `burn-wgpu`, and `ollama` (the server `OLLAMA_HOST` names, with the
//! models `BENCH_OLLAMA_MODEL` / `BENCH_OLLAMA_EMBED_MODEL`; left out when unset).
//!
//! ```sh
//! cargo bench -p autobranch-benches --features llamacpp,burn,burn-ndarray,burn-wgpu --bench backends
//! ```
//!
//! Models come from `AUTOBRANCH_MODELS` (scripts/fetch-models.sh). The whole-program
//! comparison with tables, JSON and plots is `autobranch bench`; this suite is for
//! tracking one backend's changes with criterion's statistics.

use std::time::Duration;

use autobranch_benches::{BRANCH_PROMPT, embedder_names, load_embedder, models_dir, short_texts};
use autobranch_core::model::{ChatMessage, Embedder, GenerationRequest, Generator, Prompt, Role, SamplingParams};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 32;
const CANDIDATES: usize = 4;
const TOKENS: u32 = 16;

/// The embedders compiled in, by name; a backend that cannot start here (no GPU adapter,
/// no server) is reported and left out rather than failing the suite.
fn embedders() -> Vec<(String, Box<dyn Embedder>)> {
    let mut all: Vec<(String, Box<dyn Embedder>)> = Vec::new();
    for name in embedder_names() {
        match load_embedder(&name, BATCH, None) {
            Ok(e) => all.push((name, e)),
            Err(e) => eprintln!("{name} left out: {e}"),
        }
    }
    #[cfg(feature = "ollama")]
    if let Some(client) = ollama_client() {
        let model = std::env::var("BENCH_OLLAMA_EMBED_MODEL").unwrap_or_else(|_| "all-minilm".into());
        all.push(("ollama".into(), Box::new(autobranch_ollama::OllamaEmbedder::new(client, model))));
    }
    all
}

fn generators() -> Vec<(String, Box<dyn Generator>)> {
    #[allow(unused_mut)]
    let mut all: Vec<(String, Box<dyn Generator>)> = Vec::new();
    #[allow(unused_variables)]
    let path = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    #[cfg(feature = "llamacpp")]
    match autobranch_llamacpp::LlamaCppGenerator::load(&path, autobranch_llamacpp::LlamaCppOptions::default()) {
        Ok(g) => all.push(("llamacpp".into(), Box::new(g))),
        Err(e) => eprintln!("llamacpp left out: {e}"),
    }
    #[cfg(feature = "burn")]
    for backend in autobranch_burn::BurnBackend::compiled() {
        let options = autobranch_burn::BurnGeneratorOptions { backend: Some(backend), ..Default::default() };
        match autobranch_burn::BurnGenerator::load(&path, options) {
            Ok(g) => all.push((format!("burn-{backend}"), Box::new(g))),
            Err(e) => eprintln!("burn-{backend} left out: {e}"),
        }
    }
    #[cfg(feature = "ollama")]
    if let Some(client) = ollama_client() {
        let model = std::env::var("BENCH_OLLAMA_MODEL").unwrap_or_else(|_| "smollm2:135m".into());
        all.push(("ollama".into(), Box::new(autobranch_ollama::OllamaGenerator::new(client, model, CANDIDATES))));
    }
    all
}

#[cfg(feature = "ollama")]
fn ollama_client() -> Option<autobranch_ollama::OllamaClient> {
    let host = std::env::var("OLLAMA_HOST").ok()?;
    let base_url =
        autobranch_ollama::host::base_url(&host).map_err(|e| eprintln!("ollama left out: OLLAMA_HOST: {e}")).ok()?;
    let config = autobranch_ollama::ClientConfig { base_url, ..Default::default() };
    autobranch_ollama::OllamaClient::new(config).map_err(|e| eprintln!("ollama left out: {e}")).ok()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime")
}

fn embed(c: &mut Criterion) {
    let rt = runtime();
    let texts = short_texts(BATCH);
    let mut group = c.benchmark_group("embed");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).throughput(Throughput::Elements(BATCH as u64));
    for (name, embedder) in embedders() {
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| rt.block_on(embedder.embed(&texts)).expect("embedding"));
        });
    }
    group.finish();
}

fn branch(c: &mut Criterion) {
    let rt = runtime();
    let request = GenerationRequest {
        prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, BRANCH_PROMPT)]),
        n: CANDIDATES,
        sampling: SamplingParams { max_tokens: TOKENS, temperature: 0.8, seed: 7, ..SamplingParams::default() },
    };
    let mut group = c.benchmark_group("branch");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(CANDIDATES as u64 * u64::from(TOKENS)));
    for (name, generator) in generators() {
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| rt.block_on(generator.generate(&request)).expect("generation"));
        });
    }
    group.finish();
}

criterion_group!(benches, embed, branch);
criterion_main!(benches);
