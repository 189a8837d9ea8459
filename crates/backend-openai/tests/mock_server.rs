//! The OpenAI-compatible backend against the in-process stand-in (`mock-server` feature).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autobranch_core::model::{
    ChatMessage, Embedder, FinishReason, GenerationRequest, Generator, ModelError, Prompt, Role, SamplingParams,
};
use autobranch_openai::mock::{MockConfig, MockOpenAi, expected_text};
use autobranch_openai::{OpenAiClient, OpenAiConfig, OpenAiEmbedder, OpenAiGenerator, TokenLimit};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";
const TEXT: &str = "/v1/completions";
const KEY: &str = "sk-test-5ecret-K3y";

fn config(url: &str) -> OpenAiConfig {
    OpenAiConfig {
        backoff: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..OpenAiConfig::new(url).unwrap()
    }
}

fn client(url: &str) -> OpenAiClient {
    OpenAiClient::new(config(url)).unwrap()
}

async fn start(config: MockConfig) -> MockOpenAi {
    MockOpenAi::start(config).await.unwrap()
}

fn generator(server: &MockOpenAi, concurrency: usize) -> OpenAiGenerator {
    OpenAiGenerator::new(client(&server.url), "mock-chat", concurrency)
}

fn messages() -> Vec<ChatMessage> {
    vec![ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Describe Mars.")]
}

fn request(n: usize) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(messages()),
        n,
        sampling: SamplingParams { seed: 10, max_tokens: 6, stop: vec!["END".into()], ..SamplingParams::default() },
    }
}

/// What the stand-in says for candidate `i` of `request(n)`.
fn expected(i: u64) -> String {
    expected_text("Be brief.\nDescribe Mars.", 10 + i, 6)
}

/// (candidate index, piece) in arrival order.
type Pieces = Arc<Mutex<Vec<(usize, String)>>>;

fn pieces_sink() -> (Pieces, autobranch_openai::TokenCallback) {
    let pieces = Arc::new(Mutex::new(Vec::new()));
    let sink = pieces.clone();
    (pieces, Arc::new(move |i, p: &str| sink.lock().unwrap().push((i, p.to_owned()))))
}

#[tokio::test]
async fn native_n_is_one_request_with_every_field_mapped() {
    let server = start(MockConfig::default()).await;
    let g = generator(&server, 4);
    let out = g.generate(&request(4)).await.unwrap();
    assert_eq!(server.stats.requests(), 1, "one request for four candidates");
    let body = &server.stats.bodies()[0];
    assert_eq!(body["_path"], CHAT);
    assert_eq!(body["model"], "mock-chat");
    assert_eq!(body["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(body["n"], 4);
    assert_eq!(body["max_tokens"], 6);
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
    assert_eq!(body["seed"], 10);
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["logprobs"], true);
    assert!(body.get("stream").is_none(), "no callback, no stream: {body}");
    let close = |key: &str, want: f64| (body[key].as_f64().unwrap() - want).abs() < 1e-6;
    assert!(close("temperature", 0.8) && close("top_p", 0.95), "{body}");
    assert!(close("min_p", 0.05) && close("repetition_penalty", 1.1) && close("repeat_penalty", 1.1), "{body}");
    assert_eq!(body["top_k"], 40);
    for (i, c) in out.candidates.iter().enumerate() {
        assert_eq!(c.text, expected(i as u64), "candidate {i}");
        let words = c.text.split(' ').count();
        assert_eq!(c.tokens as usize, words, "tokens counted from the logprobs");
        let mean = -0.1 * (words as f64 + 1.0) / 2.0;
        assert!((c.logprob_mean.unwrap() - mean).abs() < 1e-9, "{:?} vs {mean}", c.logprob_mean);
        assert_eq!(c.finish_reason, if words == 6 { FinishReason::Length } else { FinishReason::Stop });
    }
    assert_eq!(out.timings.prompt_tokens, 4, "usage.prompt_tokens");
    assert!(g.warnings().is_empty(), "{:?}", g.warnings());
}

#[tokio::test]
async fn sampling_fields_that_are_off_are_not_sent() {
    let server = start(MockConfig::default()).await;
    let mut r = request(1);
    r.sampling.top_k = 0;
    r.sampling.min_p = 0.0;
    r.sampling.repeat_penalty = 1.0;
    generator(&server, 1).generate(&r).await.unwrap();
    let g = generator(&server, 1).with_extra_sampling(false).with_logprobs(false);
    g.generate(&request(1)).await.unwrap();
    for body in server.stats.bodies() {
        for key in ["top_k", "min_p", "repetition_penalty", "repeat_penalty", "n"] {
            assert!(body.get(key).is_none(), "{key} sent: {body}");
        }
    }
    assert!(server.stats.bodies()[1].get("logprobs").is_none());
}

#[tokio::test]
async fn the_token_limit_field_is_configurable() {
    let server = start(MockConfig::default()).await;
    let sent = |g: OpenAiGenerator| async move {
        g.generate(&request(1)).await.unwrap();
    };
    sent(generator(&server, 1).with_token_limit(TokenLimit::MaxCompletionTokens)).await;
    sent(generator(&server, 1).with_token_limit(TokenLimit::Both)).await;
    let b = server.stats.bodies();
    assert_eq!((b[0].get("max_tokens"), &b[0]["max_completion_tokens"]), (None, &json!(6)));
    assert_eq!((&b[1]["max_tokens"], &b[1]["max_completion_tokens"]), (&json!(6), &json!(6)));
}

#[tokio::test]
async fn text_prompts_use_completions_with_integer_logprobs() {
    let server = start(MockConfig::default()).await;
    let mut r = request(2);
    r.prompt = Prompt::Text("Once upon a time".into());
    let out = generator(&server, 2).generate(&r).await.unwrap();
    let body = &server.stats.bodies()[0];
    assert_eq!(
        (&body["_path"], &body["prompt"], &body["logprobs"]),
        (&json!(TEXT), &json!("Once upon a time"), &json!(1))
    );
    assert_eq!(body["max_tokens"], 6);
    for (i, c) in out.candidates.iter().enumerate() {
        assert_eq!(c.text, expected_text("Once upon a time", 10 + i as u64, 6));
        let words = c.tokens as f64;
        assert!((c.logprob_mean.unwrap() + 0.1 * (words + 1.0) / 2.0).abs() < 1e-9);
    }
}

#[tokio::test]
async fn one_choice_servers_fan_out_with_distinct_seeds_and_bounded_concurrency() {
    let server =
        start(MockConfig { native_n: false, delay: Duration::from_millis(300), ..MockConfig::default() }).await;
    let g = generator(&server, 3);
    let started = Instant::now();
    let out = g.generate(&request(6)).await.unwrap();
    let took = started.elapsed();
    // One native try (1 choice back), then the other five, three at a time.
    assert_eq!(server.stats.requests(), 6);
    let seeds: Vec<u64> = server.stats.bodies().iter().map(|b| b["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds.iter().collect::<HashSet<_>>().len(), 6, "distinct seeds: {seeds:?}");
    assert_eq!(seeds.iter().min(), Some(&10));
    assert_eq!(seeds.iter().max(), Some(&15));
    for (i, c) in out.candidates.iter().enumerate() {
        assert_eq!(c.text, expected(i as u64), "candidate {i} came from seed {}", 10 + i);
    }
    assert!(server.stats.max_in_flight() <= 3);
    // The five fanned-out requests overlapped: at least two rounds of 300 ms after the try.
    assert!(took >= Duration::from_millis(850), "{took:?}");
    let warnings = g.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("1 of 6 choices") && warnings[0].contains("at most 3"), "{}", warnings[0]);

    // Remembered: the next batch fans out straight away, six requests of one choice each.
    g.generate(&request(6)).await.unwrap();
    assert_eq!(server.stats.requests(), 12);
    assert!(server.stats.max_in_flight() >= 2, "fanned-out requests run concurrently");
    assert!(server.stats.bodies()[6..].iter().all(|b| b.get("n").is_none()));
    assert_eq!(server.stats.max_in_flight(), 3);
    assert_eq!(g.warnings().len(), 1, "reported once");
}

#[tokio::test]
async fn servers_that_reject_n_fall_back_to_fan_out() {
    let server = start(MockConfig { reject_n: true, ..MockConfig::default() }).await;
    let g = generator(&server, 2);
    let out = g.generate(&request(3)).await.unwrap();
    assert_eq!(
        out.candidates.iter().map(|c| c.text.clone()).collect::<Vec<_>>(),
        [expected(0), expected(1), expected(2)]
    );
    // The rejected n = 3, the same request with one choice, then two more.
    assert_eq!(server.stats.requests(), 4);
    assert_eq!(g.warnings().len(), 1, "{:?}", g.warnings());
    assert!(g.warnings()[0].contains("Only one completion choice"), "{:?}", g.warnings());
}

#[tokio::test]
async fn rejected_logprobs_are_retried_once_without_them_and_remembered() {
    let server = start(MockConfig { reject_logprobs: true, ..MockConfig::default() }).await;
    let g = generator(&server, 2);
    let out = g.generate(&request(2)).await.unwrap();
    assert_eq!(server.stats.requests(), 2, "rejected, then sent again without logprobs");
    assert!(out.candidates.iter().all(|c| c.logprob_mean.is_none() && c.tokens > 0));
    g.generate(&request(2)).await.unwrap();
    assert_eq!(server.stats.requests(), 3, "remembered");
    let bodies = server.stats.bodies();
    assert!(bodies[0].get("logprobs").is_some() && bodies[1..].iter().all(|b| b.get("logprobs").is_none()));
    let warnings = g.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("rejected logprobs"), "{warnings:?}");
}

#[tokio::test]
async fn strict_servers_get_the_extra_sampling_fields_dropped() {
    let server = start(MockConfig { reject_extra_fields: true, ..MockConfig::default() }).await;
    let g = generator(&server, 1);
    g.generate(&request(1)).await.unwrap();
    g.generate(&request(1)).await.unwrap();
    assert_eq!(server.stats.requests(), 3);
    assert!(server.stats.bodies()[1..].iter().all(|b| b.get("top_k").is_none() && b.get("min_p").is_none()));
    assert_eq!(g.warnings().len(), 1);
    assert!(g.warnings()[0].contains("top_k"), "{:?}", g.warnings());
}

#[tokio::test]
async fn a_server_without_logprobs_warns_once() {
    let server = start(MockConfig { logprobs: false, ..MockConfig::default() }).await;
    let g = generator(&server, 2);
    let out = g.generate(&request(2)).await.unwrap();
    g.generate(&request(2)).await.unwrap();
    assert!(out.candidates.iter().all(|c| c.logprob_mean.is_none()));
    // Without logprobs the usage total is split over the choices by text length.
    let total: u32 = out.candidates.iter().map(|c| c.tokens).sum();
    let words: usize = out.candidates.iter().map(|c| c.text.split(' ').count()).sum();
    assert_eq!(total as usize, words);
    assert_eq!(g.warnings().len(), 1);
    assert!(g.warnings()[0].contains("no token logprobs"));
}

#[tokio::test]
async fn streaming_calls_back_per_candidate_and_reads_usage() {
    let server = start(MockConfig::default()).await;
    let (pieces, callback) = pieces_sink();
    let g = generator(&server, 3).with_token_callback(callback);
    let out = g.generate(&request(3)).await.unwrap();
    assert_eq!(server.stats.requests(), 1);
    let body = &server.stats.bodies()[0];
    assert_eq!((&body["stream"], &body["stream_options"]), (&json!(true), &json!({"include_usage": true})));
    let pieces = pieces.lock().unwrap().clone();
    // The stand-in interleaves the choices' tokens; each candidate gets its own back.
    assert!(pieces.windows(2).any(|w| w[0].0 != w[1].0), "interleaved: {pieces:?}");
    for (i, c) in out.candidates.iter().enumerate() {
        let streamed: String = pieces.iter().filter(|(j, _)| *j == i).map(|(_, p)| p.as_str()).collect();
        assert_eq!(streamed, c.text);
        assert_eq!(c.text, expected(i as u64));
        assert_eq!(c.tokens as usize, c.text.split(' ').count());
        assert!(c.logprob_mean.is_some());
    }
    assert_eq!(out.timings.prompt_tokens, 4);
    assert!(out.timings.prompt_ms > 0.0, "time to the first token");

    // One choice without logprobs: its token count is the usage count.
    let g = generator(&server, 1).with_logprobs(false).with_token_callback(pieces_sink().1);
    let mut r = request(1);
    r.prompt = Prompt::Text("Once upon a time".into());
    let out = g.generate(&r).await.unwrap();
    let c = &out.candidates[0];
    assert_eq!(c.text, expected_text("Once upon a time", 10, 6));
    assert_eq!(c.tokens as usize, c.text.split(' ').count());
    assert_eq!(server.stats.bodies()[1]["_path"], TEXT);
}

#[tokio::test]
async fn streamed_fan_out_reports_candidate_indices() {
    let server = start(MockConfig { native_n: false, ..MockConfig::default() }).await;
    let (pieces, callback) = pieces_sink();
    let out = generator(&server, 4).with_token_callback(callback).generate(&request(4)).await.unwrap();
    let pieces = pieces.lock().unwrap().clone();
    for (i, c) in out.candidates.iter().enumerate() {
        let streamed: String = pieces.iter().filter(|(j, _)| *j == i).map(|(_, p)| p.as_str()).collect();
        assert_eq!((streamed.as_str(), c.text.as_str()), (expected(i as u64).as_str(), expected(i as u64).as_str()));
    }
}

#[tokio::test]
async fn stop_strings_map_to_stop_string() {
    let server = start(MockConfig::default()).await;
    let first = expected(0);
    let words: Vec<&str> = first.split(' ').collect();
    // A word of candidate 0 that is not its first becomes a stop string.
    let stop = words.iter().skip(1).find(|w| **w != words[0]).expect("varied words").to_string();
    for stream in [false, true] {
        let mut r = request(1);
        r.sampling.stop = vec![stop.clone()];
        let g = if stream { generator(&server, 1).with_token_callback(pieces_sink().1) } else { generator(&server, 1) };
        let c = &g.generate(&r).await.unwrap().candidates[0];
        assert_eq!(c.finish_reason, FinishReason::StopString, "stream {stream}: {c:?}");
        assert!(!c.text.split(' ').any(|w| w == stop) && first.starts_with(&c.text), "{c:?}");
    }
}

#[tokio::test]
async fn embeddings_are_batched_and_ordered_by_index() {
    let server = start(MockConfig { embed_reverse_order: true, ..MockConfig::default() }).await;
    let e = OpenAiEmbedder::new(client(&server.url), "mock-embed").with_batch_size(4);
    let texts: Vec<String> = (0..10).map(|i| format!("text number {i}")).collect();
    let m = e.embed(&texts).await.unwrap();
    assert_eq!((m.len(), m.dim(), e.dim()), (10, 8, 8));
    let sizes: Vec<usize> = server.stats.bodies().iter().map(|b| b["input"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [4, 4, 2]);
    // Row i is text i's vector: the same as embedding it alone.
    for (i, t) in texts.iter().enumerate() {
        let alone = e.embed(std::slice::from_ref(t)).await.unwrap();
        assert_eq!(alone.row(0), m.row(i), "row {i}");
    }
    assert!(e.embed(&[]).await.unwrap().is_empty());
    let e = OpenAiEmbedder::connect(client(&server.url), "mock-embed").await.unwrap();
    assert_eq!(e.dim(), 8);
    let e = OpenAiEmbedder::new(client(&server.url), "mock-embed").with_dimensions(5);
    assert_eq!(e.embed(&texts[..2]).await.unwrap().dim(), 5);
    assert_eq!(server.stats.bodies().last().unwrap()["dimensions"], 5);
}

#[tokio::test]
async fn wrong_embedding_counts_and_mixed_dimensions_are_errors() {
    let texts: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let server_ = start(MockConfig { embed_count_off: true, ..MockConfig::default() }).await;
    let err = OpenAiEmbedder::new(client(&server_.url), "mock-embed").embed(&texts).await.unwrap_err();
    assert!(matches!(err, ModelError::MismatchedCount { expected: 3, actual: 2 }), "{err}");
    let server_ = start(MockConfig { embed_mixed_dims: true, ..MockConfig::default() }).await;
    let err = OpenAiEmbedder::new(client(&server_.url), "mock-embed").embed(&texts).await.unwrap_err();
    assert!(matches!(err, ModelError::MismatchedDimensions { expected: 8, actual: 7 }), "{err}");
    let server_ = start(MockConfig { embed_dim: 8, ..MockConfig::default() }).await;
    let e = OpenAiEmbedder::new(client(&server_.url), "mock-embed").with_dimensions(6);
    // The stand-in honours `dimensions`, so ask it for 6 and expect 6; a later answer of 8
    // would be refused, which the mixed-dimension case covers.
    assert_eq!(e.embed(&texts).await.unwrap().dim(), 6);
}

#[tokio::test]
async fn a_missing_or_wrong_key_names_the_variable_and_never_the_key() {
    let server = start(MockConfig { api_key: Some(KEY.into()), ..MockConfig::default() }).await;
    let err = generator(&server, 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Unavailable(_)), "{msg}");
    assert!(msg.contains("OPENAI_API_KEY") && msg.contains("401") && msg.contains("needs an API key"), "{msg}");

    let wrong = "sk-wrong-key-0042";
    let c = OpenAiConfig { api_key_env: "MY_LLM_KEY".into(), ..config(&server.url) }.with_api_key(wrong);
    let g = OpenAiGenerator::new(OpenAiClient::new(c.clone()).unwrap(), "mock-chat", 1);
    let msg = g.generate(&request(1)).await.unwrap_err().to_string();
    assert!(msg.contains("MY_LLM_KEY") && msg.contains("refused the API key"), "{msg}");
    assert!(msg.contains("Incorrect API key provided: <redacted>") && !msg.contains(wrong), "{msg}");
    let e = OpenAiEmbedder::new(OpenAiClient::new(c).unwrap(), "mock-embed");
    let msg = e.embed(&["x".to_owned()]).await.unwrap_err().to_string();
    assert!(msg.contains("MY_LLM_KEY") && !msg.contains(wrong), "{msg}");

    let g = OpenAiGenerator::new(OpenAiClient::new(config(&server.url).with_api_key(KEY)).unwrap(), "mock-chat", 1);
    g.generate(&request(1)).await.unwrap();
    assert!(!format!("{g:?}").contains(KEY), "{g:?}");
}

#[tokio::test]
async fn the_key_never_appears_in_debug_output_or_errors() {
    let c = config("http://127.0.0.1:9/v1").with_api_key(KEY);
    let client = OpenAiClient::new(c.clone()).unwrap();
    let g = OpenAiGenerator::new(client.clone(), "m", 1);
    let e = OpenAiEmbedder::new(client.clone(), "m");
    let debug = format!("{c:?} {c:#?} {client:?} {g:?} {e:?}");
    assert!(!debug.contains(KEY) && debug.contains("redacted"), "{debug}");
    // Errors from every kind of failure, the key sent along each time.
    let refused = g.generate(&request(1)).await.unwrap_err().to_string();
    let server = start(MockConfig { error_mid_stream: true, api_key: Some(KEY.into()), ..MockConfig::default() }).await;
    let keyed = OpenAiClient::new(config(&server.url).with_api_key(KEY)).unwrap();
    let missing = OpenAiGenerator::new(keyed.clone(), "nope", 1).generate(&request(1)).await.unwrap_err().to_string();
    let streamed = OpenAiGenerator::new(keyed, "mock-chat", 1)
        .with_token_callback(pieces_sink().1)
        .generate(&request(1))
        .await
        .unwrap_err()
        .to_string();
    for msg in [refused, missing, streamed] {
        assert!(!msg.contains(KEY), "{msg}");
    }
}

#[tokio::test]
async fn an_unknown_model_is_named_with_what_the_server_offers() {
    let server = start(MockConfig::default()).await;
    let err = OpenAiGenerator::new(client(&server.url), "gpt-9", 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::InvalidRequest(_)), "bad input, exit 2: {msg}");
    assert!(msg.contains("\"gpt-9\"") && msg.contains("it offers: mock-chat, mock-embed"), "{msg}");
    let err = OpenAiEmbedder::connect(client(&server.url), "embed-9").await.unwrap_err();
    assert!(
        matches!(&err, ModelError::InvalidRequest(m) if m.contains("embed-9") && m.contains("mock-embed")),
        "{err}"
    );
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    // Bind then drop a listener: the port is free, nothing answers.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let err = OpenAiGenerator::new(client(&url), "mock-chat", 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Unavailable(_)), "runtime, exit 1: {msg}");
    assert!(msg.contains(&url) && msg.contains("OPENAI_BASE_URL"), "{msg}");
    let err = OpenAiEmbedder::new(client(&url), "mock-embed").embed(&["x".into()]).await.unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn an_error_event_mid_stream_names_the_servers_message() {
    let server = start(MockConfig { error_mid_stream: true, ..MockConfig::default() }).await;
    let (pieces, callback) = pieces_sink();
    let err = generator(&server, 1).with_token_callback(callback).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Backend(_)), "{msg}");
    assert!(msg.contains("in the middle of the answer") && msg.contains("CUDA out of memory"), "{msg}");
    assert_eq!(pieces.lock().unwrap().len(), 1, "the first token still streamed");
}

#[tokio::test]
async fn a_cut_stream_is_an_error() {
    let server = start(MockConfig { cut_stream: true, ..MockConfig::default() }).await;
    let err = generator(&server, 1).with_token_callback(pieces_sink().1).generate(&request(2)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Backend(_)), "{msg}");
    assert!(msg.contains("was cut off") && msg.contains(&server.url), "{msg}");
}

#[tokio::test]
async fn malformed_json_is_quoted_and_shortened() {
    let server = start(MockConfig { malformed_json: true, ..MockConfig::default() }).await;
    let err = generator(&server, 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("malformed data") && msg.contains(r#"{\"id\": \"cmpl-mock\", \"choices\""#), "{msg}");
    assert!(msg.contains("yyyy…") && msg.len() < 500, "shortened: {msg}");
    let err = generator(&server, 1).with_token_callback(pieces_sink().1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("malformed data") && msg.contains("zzzz…") && msg.len() < 500, "{msg}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server =
        start(MockConfig { fail_first: vec![429], retry_after: Some("1".into()), ..MockConfig::default() }).await;
    let started = Instant::now();
    generator(&server, 1).generate(&request(1)).await.unwrap();
    let took = started.elapsed();
    assert_eq!(server.stats.requests(), 2);
    assert!(took >= Duration::from_millis(950), "waited as asked, not the 5 ms backoff: {took:?}");
    // A longer wait than `max_retry_after` is cut to it.
    let server =
        start(MockConfig { fail_first: vec![503], retry_after: Some("30".into()), ..MockConfig::default() }).await;
    let c = OpenAiConfig { max_retry_after: Duration::from_millis(50), ..config(&server.url) };
    let started = Instant::now();
    OpenAiGenerator::new(OpenAiClient::new(c).unwrap(), "mock-chat", 1).generate(&request(1)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn overload_statuses_are_retried_then_reported() {
    for status in [429u16, 500, 502, 503, 504] {
        let server = start(MockConfig { fail_first: vec![status, status], ..MockConfig::default() }).await;
        let out = generator(&server, 1).generate(&request(1)).await;
        assert!(out.is_ok(), "{status}: {out:?}");
        assert_eq!(server.stats.requests(), 3, "{status}: two failures, then success");
    }
    let server = start(MockConfig { fail_first: vec![503; 10], ..MockConfig::default() }).await;
    let err = generator(&server, 1).generate(&request(1)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Backend(_)), "{msg}");
    assert!(msg.contains("503") && msg.contains("after 5 attempt(s)") && msg.contains("server overloaded"), "{msg}");
    // 400 is not retried, and is the request's fault.
    let server = start(MockConfig { fail_first: vec![400], ..MockConfig::default() }).await;
    let err = generator(&server, 1).generate(&request(1)).await.unwrap_err();
    assert!(matches!(err, ModelError::InvalidRequest(_)), "{err}");
    assert_eq!(server.stats.requests(), 1);
}

#[tokio::test]
async fn timeouts_are_configurable_and_reported() {
    let server = start(MockConfig { delay: Duration::from_secs(3), ..MockConfig::default() }).await;
    let c = OpenAiConfig { timeout: Duration::from_millis(300), ..config(&server.url) };
    let started = Instant::now();
    let err = OpenAiGenerator::new(OpenAiClient::new(c).unwrap(), "mock-chat", 1).generate(&request(1)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.unwrap_err().to_string().contains("did not answer within"));
}

#[tokio::test]
async fn model_ids_name_the_backend_the_model_and_the_host() {
    let server = start(MockConfig::default()).await;
    let host = server.url.trim_start_matches("http://").trim_end_matches("/v1");
    assert_eq!(generator(&server, 1).model_id(), format!("openai:mock-chat@{host}"));
    let e = OpenAiEmbedder::new(client(&server.url), "mock-embed");
    assert_eq!(e.model_id(), format!("openai:mock-embed@{host}"));
    let models = client(&server.url).models().await.unwrap();
    assert_eq!(models, ["mock-chat", "mock-embed"]);
    let _: &Value = &server.stats.bodies()[0];
}

/// Fan-out by choice (to compare it with native `n`): the same candidates, one request each,
/// no warning.
#[tokio::test]
async fn fan_out_can_be_chosen_and_gives_the_same_candidates() {
    let server = start(MockConfig::default()).await;
    let native = generator(&server, 4).generate(&request(4)).await.unwrap();
    assert_eq!(server.stats.requests(), 1);
    let g = generator(&server, 4).with_native_n(false);
    let fanned = g.generate(&request(4)).await.unwrap();
    assert_eq!(server.stats.requests(), 5, "one request per candidate");
    assert!(server.stats.bodies()[1..].iter().all(|b| b.get("n").is_none()));
    let texts =
        |g: &autobranch_core::model::Generation| g.candidates.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&fanned), texts(&native));
    assert!(g.warnings().is_empty(), "{:?}", g.warnings());
}
