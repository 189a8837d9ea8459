//! The Burn generator on SmolLM2-135M-Instruct Q4_1 (its logits against llama.cpp are
//! tested in benches/tests/burn_vs_llamacpp.rs): seeded determinism, batched and sequential
//! branching agreeing, stop strings and finish reasons, and bad input. Models come from
//! `AUTOBRANCH_MODELS` (scripts/fetch-models.sh).

use std::path::PathBuf;
use std::sync::OnceLock;

use autobranch_burn::{BurnGenerator, BurnGeneratorOptions, LoadError};
use autobranch_core::model::{
    ChatMessage, FinishReason, GenerationRequest, Generator, ModelError, Prompt, Role, SamplingParams,
};

fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    });
    let path = dir.join(name);
    assert!(path.is_file(), "missing {}; run scripts/fetch-models.sh", path.display());
    path
}

fn smollm2() -> &'static BurnGenerator {
    static G: OnceLock<BurnGenerator> = OnceLock::new();
    G.get_or_init(|| {
        BurnGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), BurnGeneratorOptions::default()).unwrap()
    })
}

fn request(n: usize, sampling: SamplingParams) -> GenerationRequest {
    let prompt = Prompt::Chat(vec![ChatMessage::new(Role::User, "Name a colour and say why you like it.")]);
    GenerationRequest { prompt, n, sampling }
}

#[tokio::test]
async fn same_seed_same_candidates_and_batching_changes_nothing() {
    let g = smollm2();
    let sampling = SamplingParams { max_tokens: 12, seed: 11, ..SamplingParams::default() };
    let a = g.generate(&request(3, sampling.clone())).await.unwrap();
    let b = g.generate(&request(3, sampling.clone())).await.unwrap();
    let texts =
        |g: &autobranch_core::model::Generation| g.candidates.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&a), texts(&b));
    assert_eq!(a.candidates.len(), 3);
    // Different seeds per candidate: not all three the same.
    assert!(texts(&a).iter().any(|t| *t != texts(&a)[0]), "{:?}", texts(&a));
    // One at a time (as n separate calls): the same candidates, up to float noise in
    // batched GEMMs, so compare the first tokens' text only where the runs agree in length.
    let seq = g.generate_blocking(&request(3, sampling), true).unwrap();
    let same = texts(&seq).iter().zip(texts(&a)).filter(|(x, y)| x == &y).count();
    assert!(same >= 2, "batched {:?} vs sequential {:?}", texts(&a), texts(&seq));
    for c in &a.candidates {
        assert!(c.tokens >= 1 && c.tokens <= 12);
        assert!(c.logprob_mean.unwrap() <= 0.0);
        assert!(matches!(c.finish_reason, FinishReason::Length | FinishReason::Stop));
    }
    assert!(a.timings.prompt_tokens > 20 && a.timings.prompt_ms > 0.0 && a.timings.generate_ms > 0.0);
}

#[tokio::test]
async fn stop_strings_and_end_of_turn_finish_candidates() {
    let g = smollm2();
    let greedy = SamplingParams { max_tokens: 32, temperature: 0.0, ..SamplingParams::default() };
    let capital = Prompt::Chat(vec![ChatMessage::new(Role::User, "What is the capital of France?")]);
    let request = |sampling| GenerationRequest { prompt: capital.clone(), n: 1, sampling };
    let full = g.generate(&request(greedy.clone())).await.unwrap().candidates.remove(0);
    assert_eq!(full.finish_reason, FinishReason::Stop, "{full:?}");
    assert!(!full.text.contains("<|im_end|>"));
    let word = full.text.split_whitespace().nth(2).unwrap().to_owned();
    let stopped =
        g.generate(&request(SamplingParams { stop: vec![word.clone()], ..greedy })).await.unwrap().candidates.remove(0);
    assert_eq!(stopped.finish_reason, FinishReason::StopString);
    assert_eq!(stopped.text, full.text[..full.text.find(&word).unwrap()]);
}

#[tokio::test]
async fn prompts_beyond_the_context_are_refused() {
    let options = BurnGeneratorOptions { n_ctx: Some(32), ..Default::default() };
    let g = BurnGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), options).unwrap();
    let long = Prompt::Text("word ".repeat(40));
    let req = GenerationRequest { prompt: long, n: 2, sampling: SamplingParams::default() };
    let err = g.generate(&req).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::InvalidRequest(m) if m.contains("the prompt has 41 tokens but the context holds 32")),
        "{err}"
    );
    let req = GenerationRequest {
        prompt: Prompt::Text("Hello".into()),
        n: 2,
        sampling: SamplingParams { max_tokens: 40, ..SamplingParams::default() },
    };
    let err = g.generate(&req).await.unwrap_err();
    assert!(err.to_string().contains("1 prompt tokens + 40 new tokens = 41 tokens exceed the context of 32"), "{err}");
}

#[test]
fn bad_files_are_named() {
    let load = |path: &std::path::Path| BurnGenerator::load(path, BurnGeneratorOptions::default()).err().unwrap();
    let err = load(&model("gemma-3-270m-q4_k_m.gguf"));
    assert!(
        err.to_string().contains("architecture gemma3 is not supported by the Burn generator; supported: llama"),
        "{err}"
    );
    let err = load(std::path::Path::new("/nonexistent/model.gguf"));
    assert!(matches!(err, LoadError::Gguf(_)) && err.to_string().contains("/nonexistent/model.gguf"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("model.gguf");
    std::fs::write(&fake, b"not a model at all").unwrap();
    assert!(load(&fake).to_string().contains("is not a GGUF file"));
    let options = BurnGeneratorOptions { n_ctx: Some(100_000), ..Default::default() };
    let err = BurnGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), options).err().unwrap();
    assert_eq!(err.to_string(), "context size 100000 is out of range; allowed: 1 to the model's 8192");
}

#[test]
fn hostile_hyperparameters_are_load_errors_before_any_allocation() {
    use autobranch_gguf::Value;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smollm2.gguf");
    std::fs::copy(model("SmolLM2-135M-Instruct.Q4_1.gguf"), &path).unwrap();
    let cases = [
        // The generator used to size its rotary tables by this: 549 GB.
        (
            "llama.context_length",
            Value::Uint(u64::from(u32::MAX)),
            "4294967295 is out of range; allowed: an integer from 1 to 16777216",
        ),
        (
            "llama.block_count",
            Value::Uint(1_000_000),
            "1000000 is out of range; allowed: an integer from 1 to 512 (llama.cpp's limit)",
        ),
        ("llama.rope.freq_base", Value::Float(f64::NAN), "NaN is out of range; allowed: a finite number > 0"),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::Float(-1.0),
            "-1 is out of range; allowed: a finite number > 0",
        ),
        (
            "tokenizer.ggml.eos_token_id",
            Value::Uint(1 << 20),
            "1048576 is out of range; allowed: a token id from 0 to 49151 (tokenizer.ggml.tokens has 49152)",
        ),
    ];
    for (key, value, expected) in cases {
        let err = autobranch_gguf::testing::with_metadata(&path, key, &value, || {
            BurnGenerator::load(&path, BurnGeneratorOptions::default()).err().expect("a hostile file loaded")
        })
        .unwrap();
        assert!(matches!(err, LoadError::Gguf(_)), "{err:?}");
        assert_eq!(err.to_string(), format!("{}: {key} = {expected}", path.display()));
    }
}

/// A one-layer llama of width 8 (2 heads of 4, 1 key/value head) over a byte-level
/// vocabulary plus an end token, with small deterministic weights.
fn tiny_llama(output_norm: f32) -> autobranch_gguf::testing::GgufBuilder {
    use autobranch_gguf::Value;
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet().into_iter().collect();
    alphabet.sort_unstable();
    let mut tokens: Vec<Value> = alphabet.iter().map(|c| Value::Str(c.to_string())).collect();
    tokens.push(Value::Str("<|endoftext|>".into()));
    let vocab = tokens.len() as u64;
    let mut types = vec![Value::Int(1); alphabet.len()];
    types.push(Value::Int(3));
    let weights = |n: u64| (0..n).map(|i| ((i * 7919 % 200) as f32 - 100.0) / 1000.0).collect::<Vec<f32>>();
    let u = Value::Uint;
    autobranch_gguf::testing::GgufBuilder::new()
        .meta("general.architecture", Value::Str("llama".into()))
        .meta("llama.block_count", u(1))
        .meta("llama.context_length", u(64))
        .meta("llama.embedding_length", u(8))
        .meta("llama.feed_forward_length", u(16))
        .meta("llama.attention.head_count", u(2))
        .meta("llama.attention.head_count_kv", u(1))
        .meta("llama.rope.dimension_count", u(4))
        .meta("llama.attention.layer_norm_rms_epsilon", Value::Float(1e-5))
        .meta("tokenizer.ggml.model", Value::Str("gpt2".into()))
        .meta("tokenizer.ggml.tokens", Value::Array(tokens))
        .meta("tokenizer.ggml.token_type", Value::Array(types))
        .meta("tokenizer.ggml.merges", Value::Array(Vec::new()))
        .meta("tokenizer.ggml.eos_token_id", u(vocab - 1))
        .tensor("token_embd.weight", &[8, vocab], weights(8 * vocab))
        .tensor("blk.0.attn_norm.weight", &[8], vec![1.0; 8])
        .tensor("blk.0.attn_q.weight", &[8, 8], weights(64))
        .tensor("blk.0.attn_k.weight", &[8, 4], weights(32))
        .tensor("blk.0.attn_v.weight", &[8, 4], weights(32))
        .tensor("blk.0.attn_output.weight", &[8, 8], weights(64))
        .tensor("blk.0.ffn_norm.weight", &[8], vec![1.0; 8])
        .tensor("blk.0.ffn_gate.weight", &[8, 16], weights(128))
        .tensor("blk.0.ffn_up.weight", &[8, 16], weights(128))
        .tensor("blk.0.ffn_down.weight", &[16, 8], weights(128))
        .tensor("output_norm.weight", &[8], vec![output_norm; 8])
}

#[tokio::test]
async fn nan_weights_fail_generation_naming_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    let raw = |temperature| GenerationRequest {
        prompt: Prompt::Text("hi".into()),
        n: 2,
        sampling: SamplingParams { temperature, max_tokens: 3, ..SamplingParams::default() },
    };
    tiny_llama(1.0).write(&path).unwrap();
    let g = BurnGenerator::load(&path, BurnGeneratorOptions::default()).unwrap();
    let fine = g.generate(&raw(0.8)).await.unwrap();
    assert!(fine.candidates.iter().all(|c| c.logprob_mean.is_some_and(f64::is_finite)), "{fine:?}");

    tiny_llama(f32::NAN).write(&path).unwrap();
    let g = BurnGenerator::load(&path, BurnGeneratorOptions::default()).unwrap();
    for temperature in [0.0, 0.8] {
        let err = g.generate(&raw(temperature)).await.unwrap_err();
        assert!(matches!(err, ModelError::BrokenModel(_)), "{err:?}");
        let expected = format!("{}: the model computed logits containing NaN", path.display());
        assert!(err.to_string().contains(&expected), "{err}");
    }
}

/// Counts the kernels the runtime launches (the GPU backends'; the CPU backends launch none).
#[derive(Default)]
struct Launches(std::sync::atomic::AtomicU64);

impl cubecl_runtime::logging::LaunchObserver for Launches {
    fn launched(&self, _kernel: &'static str) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A decode step's structure: one device→host read per forward pass (the prompt's, then one
/// per step; the row's candidates and log-sum-exp come back together), on every compiled
/// backend; on wgpu (lavapipe here) the kernel launches per pass are counted and reported
/// (on a GPU a step costs about its launches: the figure to bring down).
#[tokio::test]
async fn every_forward_pass_reads_the_device_once() {
    for backend in autobranch_burn::BurnBackend::compiled() {
        let options =
            BurnGeneratorOptions { backend: Some(backend), n_ctx: Some(512), ..BurnGeneratorOptions::default() };
        let g = BurnGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), options).unwrap();
        let max_tokens = 6;
        // Default sampling (top-k 40, penalty 1.1: the reduced read) and top-k off (whole rows).
        for sampling in [
            SamplingParams { max_tokens, seed: 3, ..SamplingParams::default() },
            SamplingParams { max_tokens, seed: 3, top_k: 0, ..SamplingParams::default() },
        ] {
            // A first run compiles and autotunes the kernels; the counted one runs them.
            g.generate_blocking(&request(2, sampling.clone()), false).unwrap();
            let launches = std::sync::Arc::new(Launches::default());
            let before = g.host_reads();
            let generation = {
                let _watch = cubecl_runtime::logging::LaunchObservation::new(launches.clone());
                g.generate_blocking(&request(2, sampling.clone()), false).unwrap()
            };
            let reads = g.host_reads() - before;
            // The last token of the longest candidate is sampled but never run.
            let longest = generation.candidates.iter().map(|c| c.tokens).max().unwrap();
            assert_eq!(reads, u64::from(longest), "{backend}: 1 prompt pass + {} decode steps", longest - 1);
            let launched = launches.0.load(std::sync::atomic::Ordering::Relaxed);
            println!(
                "{backend} top_k {}: {reads} device reads for {longest} forward passes, {launched} kernel launches \
                 ({:.1} per pass)",
                sampling.top_k,
                launched as f64 / reads as f64
            );
        }
    }
}

/// `generate_batch` decodes several requests' sequences together: every distinct prompt runs
/// once (a repeated one is reported as cached, a shared start is copied), prompts of
/// different lengths share the steps,
/// a bad request fails alone, and each request gets what it gets alone (up to float noise in
/// batched GEMMs, as above).
#[tokio::test]
async fn a_batch_of_requests_decodes_together_each_prompt_once() {
    let g = smollm2();
    let sampling = SamplingParams { max_tokens: 10, seed: 5, ..SamplingParams::default() };
    let other = GenerationRequest {
        prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, "Write one line about the sea at night, please.")]),
        n: 3,
        sampling: SamplingParams { max_tokens: 6, seed: 9, ..SamplingParams::default() },
    };
    let bad = GenerationRequest { n: 0, ..request(1, sampling.clone()) };
    let requests = [request(2, sampling.clone()), other.clone(), bad, request(2, sampling.clone())];
    let before = g.host_reads();
    let out = g.generate_batch(&requests).await;
    let reads = g.host_reads() - before;
    assert_eq!(out.len(), 4);
    assert!(matches!(&out[2], Err(ModelError::InvalidRequest(m)) if m.contains("n = 0")), "{:?}", out[2]);
    let ok: Vec<_> = [0, 1, 3].iter().map(|&i| out[i].as_ref().unwrap()).collect();
    for (generation, n) in ok.iter().zip([2, 3, 2]) {
        assert_eq!(generation.candidates.len(), n);
    }
    // Two distinct prompts, then one read per step of the longest candidate.
    let longest = ok.iter().flat_map(|g| g.candidates.iter().map(|c| c.tokens)).max().unwrap();
    assert_eq!(reads, 2 + u64::from(longest) - 1);
    assert_eq!(ok[0].timings.prompt_cached, 0);
    assert_eq!(ok[2].timings.prompt_cached, ok[2].timings.prompt_tokens, "the repeated prompt ran once");
    assert!(ok[1].timings.prompt_tokens > ok[0].timings.prompt_tokens, "prompts of different lengths");
    // The chat template's start is shared: the second prompt ran only after it.
    let shared = ok[1].timings.prompt_cached;
    assert!(shared > 10 && shared < ok[1].timings.prompt_tokens, "{shared} of {}", ok[1].timings.prompt_tokens);
    let texts =
        |g: &autobranch_core::model::Generation| g.candidates.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(ok[0]), texts(ok[2]), "same prompt, same seeds");
    let alone = [g.generate(&requests[0]).await.unwrap(), g.generate(&other).await.unwrap()];
    let pairs: Vec<(String, String)> =
        alone.iter().zip([ok[0], ok[1]]).flat_map(|(a, b)| texts(a).into_iter().zip(texts(b))).collect();
    let same = pairs.iter().filter(|(a, b)| a == b).count();
    assert!(same + 1 >= pairs.len(), "alone vs batched: {pairs:?}");
    for c in ok[1].candidates.iter() {
        assert!(c.tokens <= 6, "each request keeps its own max_tokens: {c:?}");
    }
}

/// Past `max_sequences` the requests go in several batches, none split.
#[tokio::test]
async fn a_batch_beyond_max_sequences_is_split_between_requests() {
    let options = BurnGeneratorOptions { max_sequences: Some(4), ..BurnGeneratorOptions::default() };
    let g = BurnGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), options).unwrap();
    let greedy = SamplingParams { max_tokens: 4, temperature: 0.0, ..SamplingParams::default() };
    let requests = [request(3, greedy.clone()), request(3, greedy.clone())];
    let before = g.host_reads();
    let out = g.generate_batch(&requests).await;
    let reads = g.host_reads() - before;
    let out: Vec<_> = out.into_iter().map(Result::unwrap).collect();
    // Two batches of one request each: each its own prompt pass and steps.
    let steps: u64 = out.iter().map(|o| u64::from(o.candidates.iter().map(|c| c.tokens).max().unwrap())).sum();
    assert_eq!(reads, steps, "{out:?}");
    assert_eq!(out[1].timings.prompt_cached, 0, "the second batch ran its prompt");
    let err = BurnGenerator::load(
        &model("SmolLM2-135M-Instruct.Q4_1.gguf"),
        BurnGeneratorOptions { max_sequences: Some(0), ..BurnGeneratorOptions::default() },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("max_sequences must be at least 1"), "{err}");
}

fn cached_smollm2(n_ctx: usize) -> BurnGenerator {
    let options = BurnGeneratorOptions { prompt_cache: true, n_ctx: Some(n_ctx), ..BurnGeneratorOptions::default() };
    BurnGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), options).unwrap()
}

fn chat(text: &str) -> Prompt {
    Prompt::Chat(vec![ChatMessage::new(Role::User, text)])
}

/// An explore child's prompt: its parent's path, the parent's text, the next instruction.
fn child_of(root: &Prompt, text: &str) -> GenerationRequest {
    let Prompt::Chat(question) = root else { unreachable!("a chat") };
    let mut path = question.clone();
    path.push(ChatMessage::new(Role::Assistant, text));
    path.push(ChatMessage::new(Role::User, "Continue the story."));
    let greedy = SamplingParams { max_tokens: 8, temperature: 0.0, ..SamplingParams::default() };
    GenerationRequest { prompt: Prompt::Chat(path), n: 1, sampling: greedy }
}

fn texts(g: &autobranch_core::model::Generation) -> Vec<String> {
    g.candidates.iter().map(|c| c.text.clone()).collect()
}

/// With the prompt cache, a child's prompt runs only what follows its parent's kept
/// sequence (the parent's prompt and its text), and answers as it does computed whole.
#[tokio::test]
async fn the_prompt_cache_serves_a_child_from_its_parents_sequence() {
    let root = chat("Give a plot twist for a story about a lighthouse.");
    let parent = GenerationRequest {
        prompt: root.clone(),
        n: 2,
        sampling: SamplingParams { max_tokens: 16, seed: 7, ..SamplingParams::default() },
    };
    let run = || async {
        let g = cached_smollm2(2048);
        let first = g.generate(&parent).await.unwrap();
        let children: Vec<_> = first.candidates.iter().map(|c| child_of(&root, &c.text)).collect();
        let answers = g.generate_batch(&children).await.into_iter().map(Result::unwrap).collect::<Vec<_>>();
        assert!(g.kept_tokens() <= 2048);
        (first, children, answers)
    };
    let (first, children, answers) = run().await;
    assert_eq!(first.timings.prompt_cached, 0, "nothing is kept before the first request");
    for (parent_candidate, child) in first.candidates.iter().zip(&answers) {
        // A token or two may re-tokenise differently where the text meets the template.
        let held = first.timings.prompt_tokens + u64::from(parent_candidate.tokens) - 1;
        let cached = child.timings.prompt_cached;
        assert!(cached + 2 >= held && cached < child.timings.prompt_tokens, "cached {cached}, held {held}");
    }
    let whole = smollm2().generate_batch(&children).await.into_iter().map(Result::unwrap).collect::<Vec<_>>();
    assert_eq!(answers.iter().map(texts).collect::<Vec<_>>(), whole.iter().map(texts).collect::<Vec<_>>());
    let (again, _, answers_again) = run().await;
    assert_eq!(texts(&again), texts(&first), "same calls, same texts");
    assert_eq!(answers_again.iter().map(texts).collect::<Vec<_>>(), answers.iter().map(texts).collect::<Vec<_>>());
}

/// The explorer's hint drops the kept sequences under its root that no queued prompt
/// continues; a context too small for everything kept evicts the least recently used.
#[tokio::test]
async fn the_prompt_cache_drops_what_the_hint_does_not_serve_and_evicts_when_full() {
    let g = cached_smollm2(2048);
    let root = chat("Give a plot twist for a story about a lighthouse.");
    let sampling = SamplingParams { max_tokens: 16, seed: 3, ..SamplingParams::default() };
    let parent = g.generate(&GenerationRequest { prompt: root.clone(), n: 2, sampling }).await.unwrap();
    let other = GenerationRequest { prompt: chat("List three colours."), n: 1, ..child_of(&root, "") };
    g.generate(&other).await.unwrap();
    let (kept, pruned) = (child_of(&root, &parent.candidates[0].text), child_of(&root, &parent.candidates[1].text));
    assert_ne!(kept.prompt, pruned.prompt, "two different candidates");
    g.expect_prompts(&root, std::slice::from_ref(&kept.prompt)).await;
    let held = |i: usize| parent.timings.prompt_tokens + u64::from(parent.candidates[i].tokens) - 1;
    let hit = g.generate(&kept).await.unwrap().timings.prompt_cached;
    assert!(hit + 2 >= held(0), "the queued path stays: {hit} of {}", held(0));
    let hit = g.generate(&pruned).await.unwrap().timings.prompt_cached;
    assert!(hit + 3 < held(1), "the pruned sibling's sequence is gone: {hit} cached of the {} it held", held(1));
    let again = g.generate(&other).await.unwrap().timings;
    assert_eq!(again.prompt_cached, again.prompt_tokens - 1, "another root's prompt stays");

    let small = cached_smollm2(256);
    let asks: Vec<_> = (0..8)
        .map(|i| GenerationRequest {
            prompt: chat(&format!("Story {i}: name a colour and a reason.")),
            ..other.clone()
        })
        .collect();
    for ask in &asks {
        small.generate(ask).await.unwrap();
        assert!(small.kept_tokens() <= 256, "{} tokens kept in a context of 256", small.kept_tokens());
    }
    let newest = small.generate(&asks[7]).await.unwrap().timings;
    assert_eq!(newest.prompt_cached, newest.prompt_tokens - 1, "the newest stays");
    // The first entry sharing the longest start serves each later prompt's template, so the
    // oldest that went are those that served nothing since.
    let mut lost = 0;
    for ask in &asks[..4] {
        let again = small.generate(ask).await.unwrap().timings;
        lost += usize::from(again.prompt_cached < again.prompt_tokens - 1);
    }
    assert!(lost > 0, "the older prompts were evicted");
}
