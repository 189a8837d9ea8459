//! Embedding throughput: all-MiniLM-L6-v2 on 1000 short texts, batch 32, on every compiled
//! Burn backend (and on llama.cpp's GGUF conversion when the `llamacpp` feature is on).
//! Each backend runs in its own child process, so its peak memory is its own.
//!
//! ```sh
//! cargo bench -p autobranch-benches --features burn,burn-ndarray,burn-wgpu,llamacpp --bench embed_throughput
//! ```
//!
//! Environment: `AUTOBRANCH_MODELS` (the models folder), `BENCH_THREADS` (CPU threads,
//! default 2), `BENCH_REPS` (default 3), `BENCH_TEXTS` (default 1000), `BENCH_BATCH`
//! (default 32). One warm-up pass, then the median of the repetitions.

use std::process::Command;
use std::time::Instant;

use autobranch_benches::{embedder_names, env_number, load_embedder, median, peak_rss_mib, short_texts};

fn env_usize(name: &str, default: usize) -> usize {
    env_number(name, default)
}

/// Child: measure one embedder and print one tab-separated result line.
fn measure(name: &str, smoke: bool) {
    let threads = env_usize("BENCH_THREADS", 2);
    let batch = env_usize("BENCH_BATCH", 32);
    let (n, reps) = if smoke { (40, 1) } else { (env_usize("BENCH_TEXTS", 1000), env_usize("BENCH_REPS", 3)) };
    let texts = short_texts(n);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let start = Instant::now();
    let embedder = load_embedder(name, batch, Some(threads as i32)).expect("the embedder loads");
    let load_s = start.elapsed().as_secs_f64();
    rt.block_on(embedder.embed(&texts[..batch.min(n)])).expect("warm-up");
    let mut rates = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        let got = rt.block_on(embedder.embed(&texts)).expect("embedding");
        assert_eq!(got.len(), n);
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    let spread = rates.iter().cloned().fold(f64::INFINITY, f64::min)..rates.iter().cloned().fold(0.0, f64::max);
    println!(
        "RESULT\t{name}\t{:.1}\t{:.1}\t{:.1}\t{:.0}\t{load_s:.2}",
        median(rates),
        spread.start,
        spread.end,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this binary without `--bench`: a tiny smoke run then.
    let smoke = !args.iter().any(|a| a == "--bench");
    if let Some(i) = args.iter().position(|a| a == "--only") {
        measure(&args[i + 1], smoke);
        return;
    }
    let threads = env_usize("BENCH_THREADS", 2);
    println!(
        "all-MiniLM-L6-v2, {} short texts, batch {}, {threads} CPU threads, median of {} after a warm-up",
        if smoke { 40 } else { env_usize("BENCH_TEXTS", 1000) },
        env_usize("BENCH_BATCH", 32),
        if smoke { 1 } else { env_usize("BENCH_REPS", 3) }
    );
    println!();
    println!("| embedder | texts/s | min–max | peak RSS MiB | load s |");
    println!("|---|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("own path");
    for name in embedder_names() {
        let mut cmd = Command::new(&exe);
        if !smoke {
            cmd.arg("--bench");
        }
        let out = cmd
            .args(["--only", &name])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()))
            .output()
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT\t")) else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!("| {name} | failed: {} | | | |", stderr.lines().last().unwrap_or("no output"));
            assert!(!smoke, "{name} failed:\n{stderr}");
            continue;
        };
        let f: Vec<&str> = line.split('\t').collect();
        println!("| {} | {} | {}–{} | {} | {} |", f[1], f[2], f[3], f[4], f[5], f[6]);
    }
}
