//! The Ollama backend against the in-process stand-in (`mock-server` feature).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use autobranch_core::model::{
    ChatMessage, Embedder, FinishReason, GenerationRequest, Generator, ModelError, Prompt, Role, SamplingParams,
};
use autobranch_ollama::mock::{MockConfig, MockOllama};
use autobranch_ollama::{ClientConfig, OllamaClient, OllamaEmbedder, OllamaGenerator};

fn client(url: &str) -> OllamaClient {
    OllamaClient::new(ClientConfig {
        base_url: url.into(),
        backoff: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..ClientConfig::default()
    })
    .unwrap()
}

fn request(n: usize) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Hi")]),
        n,
        sampling: SamplingParams { seed: 10, max_tokens: 6, stop: vec!["END".into()], ..SamplingParams::default() },
    }
}

#[tokio::test]
async fn fans_out_with_seeds_and_maps_every_option() {
    let server = MockOllama::start(MockConfig::default()).await.unwrap();
    let g = OllamaGenerator::new(client(&server.url), "smollm2:135m", 8).with_num_ctx(4096);
    let out = g.generate(&request(4)).await.unwrap();
    assert_eq!(out.candidates.len(), 4);
    let bodies = server.stats.bodies.lock().await.clone();
    let mut seeds: Vec<i64> = bodies.iter().map(|b| b["options"]["seed"].as_i64().unwrap()).collect();
    seeds.sort();
    assert_eq!(seeds, vec![10, 11, 12, 13]);
    let b = &bodies[0];
    assert_eq!(b["_path"], "/api/chat");
    assert_eq!(b["stream"], true);
    assert_eq!(b["logprobs"], true);
    assert_eq!(b["messages"][0], serde_json::json!({"role": "system", "content": "Be brief."}));
    let o = &b["options"];
    for key in ["temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed", "num_predict", "stop", "num_ctx"] {
        assert!(o.get(key).is_some(), "options lack {key}: {o}");
    }
    assert_eq!(o["num_predict"], 6);
    assert_eq!(o["num_ctx"], 4096);
    assert_eq!(o["stop"], serde_json::json!(["END"]));
    // Candidates come back in seed order, with counts, reasons and logprobs.
    for (i, c) in out.candidates.iter().enumerate() {
        let seed = 10 + i;
        let natural = 3 + seed % 6;
        assert_eq!(c.tokens as usize, natural.min(6));
        assert_eq!(c.finish_reason, if natural >= 6 { FinishReason::Length } else { FinishReason::Stop });
        let lp = c.logprob_mean.unwrap();
        assert!(lp < 0.0 && lp.is_finite());
        assert_eq!(c.text.split(' ').count(), c.tokens as usize);
    }
    assert_eq!(out.timings.prompt_tokens, 12);
    assert!((out.timings.prompt_ms - 2.0).abs() < 1e-9);
}

#[tokio::test]
async fn plain_prompts_use_raw_generate_and_stream_tokens() {
    let server = MockOllama::start(MockConfig::default()).await.unwrap();
    let pieces = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = pieces.clone();
    let g = OllamaGenerator::new(client(&server.url), "smollm2:135m", 2)
        .with_token_callback(Arc::new(move |i, p| sink.lock().unwrap().push((i, p.to_owned()))));
    let mut r = request(2);
    r.prompt = Prompt::Text("Once upon a time".into());
    let out = g.generate(&r).await.unwrap();
    let bodies = server.stats.bodies.lock().await.clone();
    assert_eq!(bodies[0]["_path"], "/api/generate");
    assert_eq!(bodies[0]["raw"], true);
    assert_eq!(bodies[0]["prompt"], "Once upon a time");
    let pieces = pieces.lock().unwrap();
    let first: String = pieces.iter().filter(|(i, _)| *i == 0).map(|(_, p)| p.as_str()).collect();
    assert_eq!(first, out.candidates[0].text);
}

#[tokio::test]
async fn concurrency_is_bounded_and_real() {
    let server =
        MockOllama::start(MockConfig { delay: Duration::from_millis(500), ..MockConfig::default() }).await.unwrap();
    let g = OllamaGenerator::new(client(&server.url), "smollm2:135m", 3);
    let started = Instant::now();
    g.generate(&request(6)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(server.stats.max_in_flight.load(Ordering::SeqCst), 3);
    // Six requests, three at a time, 500 ms each: about two rounds (1 s), far from six (3 s),
    // with room for a loaded machine.
    assert!(took >= Duration::from_millis(1000) && took < Duration::from_millis(2500), "{took:?}");
}

#[tokio::test]
async fn without_server_logprobs_candidates_carry_none() {
    let server = MockOllama::start(MockConfig { logprobs: false, ..MockConfig::default() }).await.unwrap();
    let out = OllamaGenerator::new(client(&server.url), "smollm2:135m", 2).generate(&request(2)).await.unwrap();
    assert!(out.candidates.iter().all(|c| c.logprob_mean.is_none() && c.tokens > 0));
}

#[tokio::test]
async fn connection_refused_names_the_url_and_ollama_serve() {
    // Bind then drop a listener: the port is free, nothing answers.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let err = OllamaGenerator::new(client(&url), "smollm2:135m", 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Unavailable(_)), "{msg}");
    assert!(msg.contains(&url) && msg.contains("ollama serve"), "{msg}");
}

#[tokio::test]
async fn unknown_model_suggests_ollama_pull() {
    let server = MockOllama::start(MockConfig::default()).await.unwrap();
    let err = OllamaGenerator::new(client(&server.url), "llama9:1t", 1).generate(&request(1)).await.unwrap_err();
    assert!(err.to_string().contains("ollama pull llama9:1t"), "{err}");
    let err = OllamaEmbedder::connect(client(&server.url), "nomic-embed").await.err().unwrap();
    assert!(err.to_string().contains("ollama pull nomic-embed"), "{err}");
}

#[tokio::test]
async fn overload_statuses_are_retried_then_reported() {
    for status in [429u16, 500, 502, 503] {
        let server =
            MockOllama::start(MockConfig { fail_first: vec![status, status], ..MockConfig::default() }).await.unwrap();
        let out = OllamaGenerator::new(client(&server.url), "smollm2:135m", 1).generate(&request(1)).await;
        assert!(out.is_ok(), "{status}: {out:?}");
        assert_eq!(server.stats.requests.load(Ordering::SeqCst), 3, "{status}: two failures, then success");
    }
    let server = MockOllama::start(MockConfig { fail_first: vec![503; 10], ..MockConfig::default() }).await.unwrap();
    let err = OllamaGenerator::new(client(&server.url), "smollm2:135m", 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("503") && msg.contains("after 5 attempt(s)") && msg.contains("server overloaded"), "{msg}");
    // 400 is not retried.
    let server = MockOllama::start(MockConfig { fail_first: vec![400], ..MockConfig::default() }).await.unwrap();
    assert!(OllamaGenerator::new(client(&server.url), "smollm2:135m", 1).generate(&request(1)).await.is_err());
    assert_eq!(server.stats.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn error_line_in_the_middle_of_a_stream_is_an_error() {
    let server = MockOllama::start(MockConfig { error_mid_stream: true, ..MockConfig::default() }).await.unwrap();
    let err = OllamaGenerator::new(client(&server.url), "smollm2:135m", 1).generate(&request(1)).await.unwrap_err();
    assert!(
        err.to_string().contains("in the middle of the answer") && err.to_string().contains("unexpected error"),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_json_is_quoted() {
    let server = MockOllama::start(MockConfig { malformed_line: true, ..MockConfig::default() }).await.unwrap();
    let err = OllamaGenerator::new(client(&server.url), "smollm2:135m", 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("malformed JSON") && msg.contains(r#"{\"model\": \"smollm2\", \"response\":"#), "{msg}");
}

#[tokio::test]
async fn timeouts_are_configurable_and_reported() {
    let server =
        MockOllama::start(MockConfig { delay: Duration::from_secs(3), ..MockConfig::default() }).await.unwrap();
    let c = OllamaClient::new(ClientConfig {
        base_url: server.url.clone(),
        timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    let err = OllamaGenerator::new(c, "smollm2:135m", 1).generate(&request(1)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("did not answer within"), "{err}");
}

#[tokio::test]
async fn embeddings_are_batched_and_fall_back_on_old_servers() {
    let server = MockOllama::start(MockConfig::default()).await.unwrap();
    let e = OllamaEmbedder::connect(client(&server.url), "all-minilm").await.unwrap();
    assert_eq!(e.dim(), 8);
    let texts: Vec<String> = ["a red moon", "quiet colony", ""].map(String::from).to_vec();
    let m = e.embed(&texts).await.unwrap();
    assert_eq!((m.len(), m.dim()), (3, 8));
    let paths: Vec<String> =
        server.stats.bodies.lock().await.iter().map(|b| b["_path"].as_str().unwrap().to_owned()).collect();
    assert_eq!(paths, ["/api/show", "/api/embed"], "one batched call");

    let old = MockOllama::start(MockConfig { embed_endpoint: false, ..MockConfig::default() }).await.unwrap();
    let e = OllamaEmbedder::new(client(&old.url), "all-minilm");
    let legacy = e.embed(&texts).await.unwrap();
    assert_eq!(legacy, m, "the legacy endpoint gives the same vectors");
    assert_eq!(old.stats.requests.load(Ordering::SeqCst), 3, "one legacy call per text");
}

#[tokio::test]
async fn embedding_count_and_dimension_mismatches_are_errors() {
    let texts: Vec<String> = ["a", "b"].map(String::from).to_vec();
    let server = MockOllama::start(MockConfig { embed_count_off: true, ..MockConfig::default() }).await.unwrap();
    let err = OllamaEmbedder::new(client(&server.url), "all-minilm").embed(&texts).await.unwrap_err();
    assert!(matches!(err, ModelError::MismatchedCount { expected: 2, actual: 1 }), "{err}");
    let server = MockOllama::start(MockConfig { embed_dim_off: true, ..MockConfig::default() }).await.unwrap();
    let err =
        OllamaEmbedder::connect(client(&server.url), "all-minilm").await.unwrap().embed(&texts).await.unwrap_err();
    assert!(matches!(err, ModelError::MismatchedDimensions { expected: 8, actual: 7 }), "{err}");
}

#[tokio::test]
async fn discovery_lists_models_and_reads_context_length() {
    let server = MockOllama::start(MockConfig::default()).await.unwrap();
    let c = client(&server.url);
    let tags = c.tags().await.unwrap();
    assert_eq!(tags.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["smollm2:135m", "all-minilm"]);
    let g = OllamaGenerator::new(c, "smollm2:135m", 1);
    let d = g.details().await.unwrap();
    assert_eq!(
        (d.architecture.as_deref(), d.context_length, d.embedding_length),
        (Some("llama"), Some(8192), Some(576))
    );
}
