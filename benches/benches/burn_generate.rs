//! Branching on the Burn generator next to embedded llama.cpp on the same GGUF
//! (SmolLM2-135M-Instruct Q4_1): N candidates × 64 new tokens from a ~110-token chat prompt,
//! decoded as one batch, on every compiled Burn backend.
//!
//! ```sh
//! cargo bench -p autobranch-benches --features llamacpp,burn,burn-wgpu --bench burn_generate
//! ```
//!
//! Environment: `AUTOBRANCH_MODELS` (the models folder), `BENCH_THREADS` (llama.cpp's
//! threads, default 2; Burn's CPU backends use rayon's pool, `RAYON_NUM_THREADS`),
//! `BENCH_REPS` (default 3), `BENCH_N` (default `1,4,8`), `BENCH_BACKENDS` (default: every
//! compiled Burn backend, e.g. `flex,wgpu`). Prints a markdown table: the
//! median of the repetitions after one warm-up run; ratios come from the same run.

use std::time::Instant;

use autobranch_benches::{BRANCH_PROMPT, env_list, env_number, median, models_dir};
use autobranch_burn::{BurnBackend, BurnGenerator, BurnGeneratorOptions};
use autobranch_core::model::{ChatMessage, Generation, GenerationRequest, Prompt, Role, SamplingParams};
use autobranch_llamacpp::{LlamaCppGenerator, LlamaCppOptions};

/// (seconds, generated tokens per second, decode-only tokens per second, prompt ms), medians.
fn measure(reps: usize, mut run: impl FnMut() -> Generation) -> (f64, f64, f64, f64) {
    let _ = run();
    let (mut secs, mut tps, mut decode, mut prompt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        let g = run();
        let s = t.elapsed().as_secs_f64();
        secs.push(s);
        tps.push(g.generated_tokens() as f64 / s);
        decode.push(g.tokens_per_s());
        prompt.push(g.timings.prompt_ms);
    }
    (median(secs), median(tps), median(decode), median(prompt))
}

fn main() {
    // `cargo test --benches` runs this binary without `--bench`: do a tiny smoke run then.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let path = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let threads: i32 = env_number("BENCH_THREADS", 2);
    let reps: usize = env_number("BENCH_REPS", 3);
    let ns = env_list("BENCH_N", &[1, 4, 8]);
    let backends: Vec<BurnBackend> = match std::env::var("BENCH_BACKENDS") {
        Ok(v) => v.split(',').map(|b| b.trim().parse().expect("BENCH_BACKENDS: flex, ndarray or wgpu")).collect(),
        Err(_) => BurnBackend::compiled(),
    };
    let (ns, tokens, reps, backends) =
        if smoke { (vec![2], 3, 1, backends[..1].to_vec()) } else { (ns, 64, reps, backends) };

    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let llama = LlamaCppGenerator::load(&path, LlamaCppOptions { threads: Some(threads), ..Default::default() })
        .expect("SmolLM2 loads (run scripts/fetch-models.sh)");
    let request = |n| GenerationRequest {
        prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, BRANCH_PROMPT)]),
        n,
        sampling: SamplingParams { max_tokens: tokens, temperature: 0.8, seed: 7, ..SamplingParams::default() },
    };
    let reference: Vec<_> = ns
        .iter()
        .map(|&n| measure(reps, || rt.block_on(llama.generate_with(&request(n), false)).expect("llama.cpp")))
        .collect();

    println!("SmolLM2-135M-Instruct Q4_1, {tokens} new tokens per candidate, batched, median of {reps}");
    println!();
    println!("| backend | N | s | tok/s | decode tok/s | prompt ms | tok/s vs llama.cpp |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (&n, r) in ns.iter().zip(&reference) {
        println!("| llama.cpp ({threads} threads) | {n} | {:.2} | {:.1} | {:.1} | {:.0} | 1.00 |", r.0, r.1, r.2, r.3);
    }
    for backend in backends {
        let started = Instant::now();
        let burn =
            match BurnGenerator::load(&path, BurnGeneratorOptions { backend: Some(backend), ..Default::default() }) {
                Ok(g) => g,
                Err(e) => {
                    println!("| burn {backend} | – | cannot run here: {e} | | | | |");
                    continue;
                }
            };
        let load_s = started.elapsed().as_secs_f64();
        for (&n, r) in ns.iter().zip(&reference) {
            let m = measure(reps, || burn.generate_blocking(&request(n), false).expect("burn"));
            println!("| burn {backend} | {n} | {:.2} | {:.1} | {:.1} | {:.0} | {:.2} |", m.0, m.1, m.2, m.3, m.1 / r.1);
        }
        eprintln!("burn {backend}: loaded (dequantised to f32) in {load_s:.1} s");
    }
}
