//! Branching on embedded llama.cpp: N candidates × 64 new tokens from a ~100-token prompt,
//! decoded together in one batch versus one at a time (as N separate calls would), on
//! SmolLM2-135M-Instruct Q4_1.
//!
//! ```sh
//! cargo bench -p autobranch-benches --features llamacpp --bench llamacpp_branching
//! ```
//!
//! Environment: `AUTOBRANCH_MODELS` (the models folder), `BENCH_THREADS` (default 2),
//! `BENCH_REPS` (default 3), `BENCH_N` (default `1,2,4,8,16`). Prints a markdown table; the median of the repetitions is
//! reported after one warm-up run.

use std::time::Instant;

use autobranch_benches::{BRANCH_PROMPT, env_list, env_number, median, models_dir};
use autobranch_core::model::{ChatMessage, GenerationRequest, Prompt, Role, SamplingParams};
use autobranch_llamacpp::{LlamaCppGenerator, LlamaCppOptions};

fn main() {
    // `cargo test --benches` runs this binary without `--bench`: do a tiny smoke run then.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let path = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let threads: i32 = env_number("BENCH_THREADS", 2);
    let reps: usize = env_number("BENCH_REPS", 3);
    let options = LlamaCppOptions { threads: Some(threads), ..LlamaCppOptions::default() };
    let generator = LlamaCppGenerator::load(&path, options).expect("SmolLM2 loads (run scripts/fetch-models.sh)");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let ns = env_list("BENCH_N", &[1, 2, 4, 8, 16]);
    let (ns, tokens, reps) = if smoke { (vec![1, 2], 4, 1) } else { (ns, 64, reps) };

    // llama.cpp's own speed on the same file and threads, measured like llama-bench.
    let raw: Vec<(f64, f64)> =
        (0..reps.max(1)).map(|_| rt.block_on(generator.raw_speed(111, tokens as usize)).expect("raw decode")).collect();
    let raw_pp = median(raw.iter().map(|r| r.0).collect());
    let raw_tg = median(raw.iter().map(|r| r.1).collect());
    println!("SmolLM2-135M-Instruct Q4_1, {threads} threads, {tokens} new tokens per candidate, median of {reps}");
    println!();
    println!("llama.cpp itself (like llama-bench): prompt {raw_pp:.1} tok/s (111 tokens), decode {raw_tg:.1} tok/s");
    println!();
    println!("| N | batched s | batched tok/s | sequential s | sequential tok/s | speed-up | prompt tokens |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut single_decode = None;
    for n in ns {
        let request = GenerationRequest {
            prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, BRANCH_PROMPT)]),
            n,
            // min_p 0 and no EOS stop keep every candidate at exactly `tokens` tokens only
            // if the model does not end early; generated tokens are counted, not assumed.
            sampling: SamplingParams { max_tokens: tokens, temperature: 0.8, seed: 7, ..SamplingParams::default() },
        };
        let run = |sequential: bool| -> (f64, f64, u64, f64) {
            let _ = rt.block_on(generator.generate_with(&request, sequential)).expect("warm-up");
            let mut secs = Vec::new();
            let mut tps = Vec::new();
            let mut prompt_tokens = 0;
            let mut decode = Vec::new();
            for _ in 0..reps {
                let t = Instant::now();
                let g = rt.block_on(generator.generate_with(&request, sequential)).expect("generation");
                let s = t.elapsed().as_secs_f64();
                secs.push(s);
                tps.push(g.generated_tokens() as f64 / s);
                prompt_tokens = g.timings.prompt_tokens;
                decode.push(g.tokens_per_s());
            }
            (median(secs), median(tps), prompt_tokens, median(decode))
        };
        let (bs, btps, pt, bdecode) = run(false);
        let (ss, stps, _, _) = run(true);
        println!("| {n} | {bs:.2} | {btps:.1} | {ss:.2} | {stps:.1} | {:.2}× | {pt} |", ss / bs);
        if n == 1 {
            single_decode = Some(bdecode);
        }
    }
    if let Some(tps) = single_decode {
        println!();
        println!(
            "N = 1 decode through this backend (sampling, log-probabilities, detokenising included): {tps:.1} tok/s, {:.0} % of llama.cpp's raw decode",
            100.0 * tps / raw_tg
        );
    }
}
