//! Against a real Ollama, when `OLLAMA_HOST` points at one; otherwise it says it skipped.
//! `OLLAMA_TEST_MODEL` picks the model (default: the server's first).

use autobranch_core::model::{GenerationRequest, Generator, Prompt, SamplingParams};
use autobranch_ollama::{ClientConfig, OllamaClient, OllamaGenerator, host};

#[tokio::test]
async fn real_ollama_generates_two_candidates() {
    let Ok(raw) = std::env::var("OLLAMA_HOST") else {
        eprintln!("SKIPPED real_ollama_generates_two_candidates: OLLAMA_HOST is not set (no Ollama server here)");
        return;
    };
    let client =
        OllamaClient::new(ClientConfig { base_url: host::base_url(&raw).unwrap(), ..ClientConfig::default() }).unwrap();
    let tags = client.tags().await.expect("the server at OLLAMA_HOST answers /api/tags");
    let model = std::env::var("OLLAMA_TEST_MODEL")
        .ok()
        .or_else(|| tags.models.first().map(|m| m.name.clone()))
        .expect("the server has at least one model (or set OLLAMA_TEST_MODEL)");
    let g = OllamaGenerator::new(client, model, 2);
    let out = g
        .generate(&GenerationRequest {
            prompt: Prompt::Text("The capital of France is".into()),
            n: 2,
            sampling: SamplingParams { max_tokens: 8, ..SamplingParams::default() },
        })
        .await
        .unwrap();
    assert_eq!(out.candidates.len(), 2);
    assert!(out.candidates.iter().all(|c| c.tokens > 0));
}
