//! Ollama fan-out: N = 8 candidates against a server that takes a fixed time per request,
//! sent one at a time (as the original library's users call Ollama) versus concurrently.
//! The server is the in-process stand-in, so the numbers measure the client alone.
//!
//! ```sh
//! cargo bench -p autobranch-benches --features ollama --bench ollama_fanout
//! ```

use std::time::{Duration, Instant};

use autobranch_core::model::{GenerationRequest, Generator, Prompt, SamplingParams};
use autobranch_ollama::mock::{MockConfig, MockOllama};
use autobranch_ollama::{ClientConfig, OllamaClient, OllamaGenerator};

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let delay = Duration::from_millis(if smoke { 20 } else { 250 });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let server = MockOllama::start(MockConfig { delay, ..MockConfig::default() }).await.expect("stand-in starts");
        let client = OllamaClient::new(ClientConfig { base_url: server.url.clone(), ..ClientConfig::default() })
            .expect("client");
        let request = GenerationRequest {
            prompt: Prompt::Text("Once upon a time".into()),
            n: 8,
            sampling: SamplingParams { max_tokens: 16, ..SamplingParams::default() },
        };
        println!("N = 8 candidates, {} ms server-side delay per request, median of 5", delay.as_millis());
        println!();
        println!("| concurrency | wall time | × one request |");
        println!("|---:|---:|---:|");
        let mut results = Vec::new();
        for concurrency in [1usize, 2, 4, 8] {
            let generator = OllamaGenerator::new(client.clone(), "smollm2:135m", concurrency);
            let mut times = Vec::new();
            for _ in 0..if smoke { 1 } else { 5 } {
                let started = Instant::now();
                generator.generate(&request).await.expect("generation");
                times.push(started.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let t = times[times.len() / 2];
            println!("| {concurrency} | {:.0} ms | {:.2} |", t * 1000.0, t / delay.as_secs_f64());
            results.push(t);
        }
        println!();
        println!("concurrency 8 is {:.1}× faster than one at a time", results[0] / results[3]);
    });
}
