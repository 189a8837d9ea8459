//! The Burn generator against embedded llama.cpp on SmolLM2-135M-Instruct Q4_1: the same
//! prompt tokens; next-token logits on five prompts, on every compiled Burn backend (wgpu
//! runs on lavapipe where there is no GPU); greedy continuations.
//!
//! Two references. On the same Q4_1 file llama.cpp also quantises activations to 8 bits
//! (its Q4_1 × Q8_1 dot product), so logits agree to cosine ≈ 0.999 and near-tied first
//! tokens can swap. On `SmolLM2-135M-Instruct.F32.gguf` (the same weights dequantised by
//! llama.cpp's Python package, made by scripts/fetch-models.sh) llama.cpp computes in f32
//! as Burn does, so the logits must agree to cosine ≥ 0.9999 with the same argmax
//! everywhere. Models come from `AUTOBRANCH_MODELS` (scripts/fetch-models.sh).

use std::path::PathBuf;

use autobranch_burn::{BurnBackend, BurnGenerator, BurnGeneratorOptions};
use autobranch_core::model::{ChatMessage, GenerationRequest, Generator, Prompt, Role, SamplingParams};
use autobranch_llamacpp::{LlamaCppGenerator, LlamaCppOptions};

const Q4_1: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const F32: &str = "SmolLM2-135M-Instruct.F32.gguf";

fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    });
    let path = dir.join(name);
    assert!(path.is_file(), "missing {}; run scripts/fetch-models.sh", path.display());
    path
}

fn chat(text: &str) -> Prompt {
    Prompt::Chat(vec![ChatMessage::new(Role::User, text)])
}

fn prompts() -> Vec<Prompt> {
    vec![
        chat("Give a plot twist for a detective story set in a Mars colony, in one sentence."),
        chat("What is the capital of France?"),
        chat("Write a haiku about the sea."),
        Prompt::Chat(vec![
            ChatMessage::new(Role::System, "You are a terse assistant."),
            ChatMessage::new(Role::User, "List three prime numbers."),
        ]),
        Prompt::Text("Once upon a time, in a village by the mountains,".into()),
    ]
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn argmax(v: &[f32]) -> usize {
    top(v, 1)[0].0
}

/// The `k` largest logits with their token ids.
fn top(v: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut all: Vec<(usize, f32)> = v.iter().copied().enumerate().collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

fn llama(name: &str) -> LlamaCppGenerator {
    LlamaCppGenerator::load(&model(name), LlamaCppOptions::default()).expect("llama.cpp loads SmolLM2")
}

fn burn(backend: BurnBackend) -> BurnGenerator {
    let options = BurnGeneratorOptions { backend: Some(backend), ..Default::default() };
    BurnGenerator::load(&model(Q4_1), options).expect("Burn loads SmolLM2")
}

/// llama.cpp's next-token logits for every prompt.
async fn reference(name: &str) -> Vec<Vec<f32>> {
    let llama = llama(name);
    let mut out = Vec::new();
    for p in prompts() {
        out.push(llama.prompt_logits(p).await.unwrap());
    }
    out
}

#[tokio::test]
async fn tokenizer_matches_llama_cpp() {
    let (llama, burn) = (llama(Q4_1), burn(BurnBackend::compiled()[0]));
    let texts = [
        "Hello, world!",
        "  leading spaces and trailing   ",
        "Numbers: 1234567 and 3.14159, dates 2026-11-26.",
        "Émile a mangé des crêpes à Noël; naïve façade.",
        "日本語のテキストと中文混合",
        "emoji 🙂🚀 and symbols ©®™ → ∑",
        "tabs\tand\nnewlines\n\nand \r\n windows",
        "don't can't I'm we'll they've",
        "<|im_start|>user\nspecial tokens inline<|im_end|>",
        "code: fn main() { println!(\"{}\", x?); }",
    ];
    let mut prompts: Vec<Prompt> = texts.iter().map(|t| Prompt::Text((*t).into())).collect();
    prompts.extend(self::prompts());
    for p in prompts {
        let want = llama.prompt_tokens(p.clone()).await.unwrap();
        assert_eq!(burn.prompt_tokens(&p).unwrap(), want, "{p:?}");
    }
}

#[tokio::test]
async fn next_token_logits_match_llama_cpp_on_every_backend() {
    let (exact, quantised) = (reference(F32).await, reference(Q4_1).await);
    for backend in BurnBackend::compiled() {
        let burn = burn(backend);
        for ((p, f32_ref), q_ref) in prompts().iter().zip(&exact).zip(&quantised) {
            let got = burn.prompt_logits(p).unwrap();
            assert_eq!(got.len(), f32_ref.len());
            let (c_exact, c_quant) = (cosine(&got, f32_ref), cosine(&got, q_ref));
            println!(
                "{backend}: cosine {c_exact:.6} to llama.cpp f32, {c_quant:.5} to llama.cpp Q4_1; top 3 {:?}, llama.cpp \
                 f32 {:?}, Q4_1 {:?}",
                top(&got, 3),
                top(f32_ref, 3),
                top(q_ref, 3)
            );
            let floor = if backend == BurnBackend::Wgpu { 0.999 } else { 0.9999 };
            assert!(c_exact >= floor, "{backend}: cosine {c_exact} to llama.cpp f32 for {p:?}");
            assert_eq!(argmax(&got), argmax(f32_ref), "{backend}: greedy first token differs for {p:?}");
            assert!(c_quant >= 0.99, "{backend}: cosine {c_quant} to llama.cpp Q4_1 for {p:?}");
        }
    }
}

#[tokio::test]
async fn greedy_continuations_agree_with_llama_cpp() {
    let (llama, burn) = (llama(F32), burn(BurnBackend::compiled()[0]));
    let sampling =
        SamplingParams { max_tokens: 32, temperature: 0.0, repeat_penalty: 1.0, ..SamplingParams::default() };
    let mut agreeing = Vec::new();
    for prompt in prompts() {
        let request = GenerationRequest { prompt, n: 1, sampling: sampling.clone() };
        let a = burn.generate(&request).await.unwrap().candidates.remove(0);
        let b = llama.generate(&request).await.unwrap().candidates.remove(0);
        let ta = burn.prompt_tokens(&Prompt::Text(a.text.clone())).unwrap();
        let tb = burn.prompt_tokens(&Prompt::Text(b.text.clone())).unwrap();
        let same = ta.iter().zip(&tb).take_while(|(x, y)| x == y).count();
        println!("{same} of {} greedy tokens agree: burn {:?} / llama.cpp {:?}", tb.len(), a.text, b.text);
        agreeing.push(same);
    }
    assert!(agreeing.iter().all(|&n| n >= 1), "first greedy tokens differ: {agreeing:?}");
}
