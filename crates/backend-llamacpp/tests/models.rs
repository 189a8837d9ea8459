//! Tests on real models. They find the models through `AUTOBRANCH_MODELS` (default
//! `~/.cache/autobranch/models`, filled by `scripts/fetch-models.sh`) and fail, rather than
//! skip, when a model is missing.

use std::path::PathBuf;
use std::sync::OnceLock;

use autobranch_core::model::{
    ChatMessage, FinishReason, GenerationRequest, Generator, ModelError, Prompt, Role, SamplingParams,
};
use autobranch_llamacpp::{LlamaCppGenerator, LlamaCppOptions};

fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "missing model {}; run scripts/fetch-models.sh (it honours AUTOBRANCH_MODELS)",
        path.display()
    );
    path
}

/// The tests that share [`smol`] take turns: requests that reach one generator together
/// share its batch, which can change the last bits of the numbers (continuous batching),
/// and these tests compare exact texts.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

fn smol() -> &'static LlamaCppGenerator {
    static GEN: OnceLock<LlamaCppGenerator> = OnceLock::new();
    GEN.get_or_init(|| {
        LlamaCppGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), LlamaCppOptions::default())
            .expect("SmolLM2 loads")
    })
}

fn request(prompt: Prompt, n: usize, temperature: f32, seed: u64, max_tokens: u32) -> GenerationRequest {
    GenerationRequest {
        prompt,
        n,
        sampling: SamplingParams { temperature, seed, max_tokens, ..SamplingParams::default() },
    }
}

fn chat(text: &str) -> Prompt {
    Prompt::Chat(vec![ChatMessage::new(Role::User, text)])
}

fn texts(g: &autobranch_core::model::Generation) -> Vec<String> {
    g.candidates.iter().map(|c| c.text.clone()).collect()
}

#[tokio::test]
async fn same_seed_same_candidates_and_different_seeds_differ() {
    let _turn = one_at_a_time().await;
    let r = request(chat("Write the first line of a story about a lighthouse."), 3, 0.9, 7, 24);
    let a = smol().generate(&r).await.unwrap();
    let b = smol().generate(&r).await.unwrap();
    assert_eq!(texts(&a), texts(&b));
    let mut other = r.clone();
    other.sampling.seed = 1234;
    let c = smol().generate(&other).await.unwrap();
    assert_ne!(texts(&a), texts(&c));
    // Within a request every candidate has its own seed.
    let distinct: std::collections::HashSet<_> = texts(&a).into_iter().collect();
    assert!(distinct.len() > 1, "{a:?}");
}

#[tokio::test]
async fn greedy_batch_matches_single_sequence() {
    let _turn = one_at_a_time().await;
    for prompt in ["What is the capital of France?", "List three colours.", "Say hello to Mars."] {
        let batch = smol().generate(&request(chat(prompt), 4, 0.0, 1, 32)).await.unwrap();
        let single = smol().generate(&request(chat(prompt), 1, 0.0, 1, 32)).await.unwrap();
        let t = texts(&batch);
        assert!(t.iter().all(|x| x == &t[0]), "{prompt}: batch sequences differ: {t:?}");
        assert_eq!(t[0], single.candidates[0].text, "{prompt}");
        // Sequential mode runs the same loop one candidate at a time.
        let seq = smol().generate_with(&request(chat(prompt), 2, 0.0, 1, 32), true).await.unwrap();
        assert_eq!(seq.candidates[0].text, t[0]);
    }
}

/// A step of more sequences than one CPU decode call carries (63) goes in equal calls, each
/// sampled from its own logits: greedy sequences still equal one decoded alone, and seeded ones
/// repeat.
#[tokio::test]
async fn a_step_of_many_sequences_decodes_in_several_calls_alike() {
    let _turn = one_at_a_time().await;
    let prompt = chat("Say hello to Mars.");
    let single = smol().generate(&request(prompt.clone(), 1, 0.0, 1, 8)).await.unwrap();
    let many = smol().generate(&request(prompt.clone(), 70, 0.0, 1, 8)).await.unwrap();
    assert!(texts(&many).iter().all(|t| t == &single.candidates[0].text), "{:?}", texts(&many));
    let sampled = request(prompt, 70, 0.9, 3, 8);
    let (a, b) = (smol().generate(&sampled).await.unwrap(), smol().generate(&sampled).await.unwrap());
    assert_eq!(texts(&a), texts(&b));
    assert!(texts(&a).iter().collect::<std::collections::HashSet<_>>().len() > 10, "70 seeds, few texts");
}

/// Requests in one batch whose prompts begin alike decode the common tokens once: a later
/// request takes them from the first request that holds them, and decodes only the rest.
#[tokio::test]
async fn a_batch_decodes_a_shared_prompt_prefix_once() {
    let _turn = one_at_a_time().await;
    let system = "You write openings of short stories: one sentence, vivid, concrete, never a cliché.";
    let with_system =
        |text: &str| Prompt::Chat(vec![ChatMessage::new(Role::System, system), ChatMessage::new(Role::User, text)]);
    let requests = [
        request(with_system("A lighthouse keeper finds a letter."), 2, 0.0, 1, 12),
        request(with_system("A train stops in a town with no name."), 2, 0.0, 1, 12),
        request(with_system("A lighthouse keeper finds a letter."), 1, 0.0, 1, 12),
        request(chat("List three colours."), 1, 0.0, 1, 12),
    ];
    let batch: Vec<_> = smol().generate_batch(&requests).await.into_iter().map(Result::unwrap).collect();
    let cached: Vec<u64> = batch.iter().map(|g| g.timings.prompt_cached).collect();
    let total: Vec<u64> = batch.iter().map(|g| g.timings.prompt_tokens).collect();
    assert_eq!(cached[0], 0, "the first request has nothing to share: {cached:?}");
    assert!(cached[1] > 20 && cached[1] < total[1] - 5, "the system prompt is shared: {cached:?} of {total:?}");
    assert_eq!(cached[2], total[2] - 1, "a repeated prompt decodes its last token only: {cached:?} of {total:?}");
    assert!(cached[3] < cached[1], "another system prompt shares only the template's start: {cached:?}");
    // Shared cells hold what the request would have computed alone.
    for (r, g) in requests.iter().zip(&batch) {
        let alone = smol().generate(r).await.unwrap();
        assert_eq!(alone.timings.prompt_cached, 0);
        assert_eq!(texts(g)[0], texts(&alone)[0], "{:?}", r.prompt);
    }
    // And a batch that starts idle shares the same cells every run.
    let mut sampled = requests.to_vec();
    for r in &mut sampled {
        r.sampling.temperature = 0.9;
    }
    let a: Vec<_> = smol().generate_batch(&sampled).await.into_iter().map(|g| texts(&g.unwrap())).collect();
    let b: Vec<_> = smol().generate_batch(&sampled).await.into_iter().map(|g| texts(&g.unwrap())).collect();
    assert_eq!(a, b);
}

fn cached_smol(n_ctx: u32, max_sequences: u32) -> LlamaCppGenerator {
    let options =
        LlamaCppOptions { n_ctx: Some(n_ctx), max_sequences, prompt_cache: true, ..LlamaCppOptions::default() };
    LlamaCppGenerator::load(&model("SmolLM2-135M-Instruct.Q4_1.gguf"), options).expect("SmolLM2 loads")
}

/// With the prompt cache on, a child's prompt (the parent's path and its text) decodes only
/// what follows the parent's text; the same calls in a fresh generator give the same texts.
#[tokio::test]
async fn the_prompt_cache_serves_a_child_its_parents_text() {
    let question = ChatMessage::new(Role::User, "Give a plot twist for a story about a lighthouse.");
    let parent = request(Prompt::Chat(vec![question.clone()]), 2, 0.8, 7, 24);
    let child_of = |text: &str| {
        let path = vec![
            question.clone(),
            ChatMessage::new(Role::Assistant, text),
            ChatMessage::new(Role::User, "Continue the story."),
        ];
        request(Prompt::Chat(path), 2, 0.8, 8, 24)
    };
    let run = || async {
        let g = cached_smol(2048, 16);
        let first = g.generate(&parent).await.unwrap();
        let children =
            g.generate_batch(&[child_of(&first.candidates[0].text), child_of(&first.candidates[1].text)]).await;
        let children: Vec<_> = children.into_iter().map(Result::unwrap).collect();
        (first, children)
    };
    let (first, children) = run().await;
    assert_eq!(first.timings.prompt_cached, 0, "nothing is cached before the first request");
    for (parent_candidate, child) in first.candidates.iter().zip(&children) {
        // The parent's prompt and every token of its text but the last decoded (a token or two
        // may re-tokenise differently where the text meets the template).
        let held = first.timings.prompt_tokens + u64::from(parent_candidate.tokens) - 1;
        let cached = child.timings.prompt_cached;
        assert!(cached + 2 >= held && cached < child.timings.prompt_tokens, "cached {cached}, held {held}");
    }
    let (again, children_again) = run().await;
    assert_eq!(texts(&again), texts(&first));
    let texts_of = |c: &[autobranch_core::model::Generation]| c.iter().map(texts).collect::<Vec<_>>();
    assert_eq!(texts_of(&children_again), texts_of(&children), "same calls, same texts");
}

/// The explorer's hint drops kept sequences under its root that no queued prompt continues
/// (a pruned sibling), and leaves the rest: the queued path, and prompts under another root.
#[tokio::test]
async fn the_prompt_cache_drops_what_the_hint_does_not_serve() {
    let g = cached_smol(2048, 16);
    let root = chat("Give a plot twist for a story about a lighthouse.");
    let parent = g.generate(&request(root.clone(), 2, 0.8, 7, 24)).await.unwrap();
    let other = request(chat("List three colours."), 1, 0.8, 1, 8);
    g.generate(&other).await.unwrap();
    let Prompt::Chat(question) = &root else { unreachable!() };
    let child_of = |text: &str| {
        let mut path = question.clone();
        path.push(ChatMessage::new(Role::Assistant, text));
        path.push(ChatMessage::new(Role::User, "Continue the story."));
        request(Prompt::Chat(path), 1, 0.8, 8, 8)
    };
    let (kept, pruned) = (child_of(&parent.candidates[0].text), child_of(&parent.candidates[1].text));
    assert_ne!(kept.prompt, pruned.prompt, "two different candidates");
    g.expect_prompts(&root, std::slice::from_ref(&kept.prompt)).await;
    let cached = |g: &autobranch_core::model::Generation| (g.timings.prompt_cached, g.timings.prompt_tokens);
    let (hit, total) = cached(&g.generate(&kept).await.unwrap());
    assert!(hit + 2 >= parent.timings.prompt_tokens + u64::from(parent.candidates[0].tokens) - 1, "{hit} of {total}");
    // Its own kept cells would give it the parent's prompt and all its text but a token or two.
    let (hit, _) = cached(&g.generate(&pruned).await.unwrap());
    let held = parent.timings.prompt_tokens + u64::from(parent.candidates[1].tokens) - 1;
    assert!(hit + 3 < held, "the pruned sibling's cells are gone: {hit} cached of the {held} it held");
    let (hit, total) = cached(&g.generate(&other).await.unwrap());
    assert_eq!(hit, total - 1, "another root's prompt stays");
}

/// A context too small for everything kept evicts the least recently used sequences: every
/// request still succeeds, the newest prompts stay cached, the oldest go. Sequence ids run out
/// first with few of them, and give way the same way.
#[tokio::test]
async fn the_prompt_cache_evicts_the_least_recently_used_when_full() {
    for (n_ctx, max_sequences) in [(384, 64), (4096, 6)] {
        let g = cached_smol(n_ctx, max_sequences);
        let asks: Vec<_> = (0..10)
            .map(|i| request(chat(&format!("Story {i}: name a colour and a reason to like it.")), 2, 0.8, i, 32))
            .collect();
        for ask in &asks {
            g.generate(ask).await.unwrap_or_else(|e| panic!("ctx {n_ctx}, {max_sequences} ids: {e}"));
        }
        let newest = g.generate(&asks[9]).await.unwrap();
        assert_eq!(newest.timings.prompt_cached, newest.timings.prompt_tokens - 1, "ctx {n_ctx}: the newest stays");
        let mut lost = 0;
        for ask in &asks[..4] {
            let again = g.generate(ask).await.unwrap();
            lost += usize::from(again.timings.prompt_cached < again.timings.prompt_tokens - 1);
        }
        assert!(lost > 0, "ctx {n_ctx}, {max_sequences} ids: the oldest prompts were evicted");
    }
}

#[tokio::test]
async fn chat_template_is_applied() {
    let _turn = one_at_a_time().await;
    let g = smol()
        .generate(&request(chat("What is the capital of France? Answer in one word."), 1, 0.0, 1, 16))
        .await
        .unwrap();
    assert!(g.candidates[0].text.contains("Paris"), "{:?}", g.candidates[0].text);
    assert_eq!(g.candidates[0].finish_reason, FinishReason::Stop);
}

#[tokio::test]
async fn logprobs_are_finite_and_not_positive_and_timings_add_up() {
    let _turn = one_at_a_time().await;
    let g = smol().generate(&request(chat("Describe the sea."), 4, 1.0, 3, 16)).await.unwrap();
    for c in &g.candidates {
        let lp = c.logprob_mean.expect("llama.cpp reports logprobs");
        assert!(lp.is_finite() && lp <= 0.0, "{lp}");
        assert!(c.tokens >= 1 && c.tokens <= 16);
    }
    assert!(g.timings.prompt_tokens > 10);
    assert!(g.timings.prompt_ms > 0.0 && g.timings.generate_ms > 0.0);
    assert!(g.tokens_per_s() > 0.0);
}

#[tokio::test]
async fn stop_strings_cut_the_text() {
    let _turn = one_at_a_time().await;
    let mut r = request(Prompt::Text("1, 2, 3, 4,".into()), 2, 0.0, 1, 32);
    r.sampling.stop = vec!["7".into()];
    let g = smol().generate(&r).await.unwrap();
    for c in &g.candidates {
        assert_eq!(c.finish_reason, FinishReason::StopString, "{:?}", c.text);
        assert!(!c.text.contains('7'), "{:?}", c.text);
        assert!(c.text.contains('5'), "{:?}", c.text);
    }
}

#[tokio::test]
async fn gemma3_loads_and_completes_text() {
    let gemma = LlamaCppGenerator::load(&model("gemma-3-270m-q4_k_m.gguf"), LlamaCppOptions::default()).unwrap();
    assert_eq!(gemma.info().architecture, "gemma3");
    let g = gemma
        .generate(&request(Prompt::Text("Paris is the capital and largest city of".into()), 2, 0.0, 1, 8))
        .await
        .unwrap();
    assert_eq!(g.candidates[0].text, g.candidates[1].text);
    assert!(g.candidates[0].text.contains("France"), "{:?}", g.candidates[0].text);
    // A base model has no chat template: a chat request says so.
    let err = gemma.generate(&request(chat("hi"), 1, 0.0, 1, 8)).await.unwrap_err();
    assert!(err.to_string().contains("no tokenizer.chat_template"), "{err}");
}

fn assert_invalid(result: Result<autobranch_core::model::Generation, ModelError>, needle: &str) {
    match result {
        Err(ModelError::InvalidRequest(msg)) => assert!(msg.contains(needle), "{msg}"),
        other => panic!("expected an invalid-request error containing {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_requests_are_refused() {
    let _turn = one_at_a_time().await;
    let mut r = request(chat("hi"), 0, 0.5, 1, 8);
    assert_invalid(smol().generate(&r).await, "n = 0");
    r.n = 1;
    r.sampling.temperature = -1.0;
    assert_invalid(smol().generate(&r).await, "temperature");
    r.sampling.temperature = 0.5;
    r.sampling.top_p = 0.0;
    assert_invalid(smol().generate(&r).await, "top_p");
    r.sampling.top_p = 1.5;
    assert_invalid(smol().generate(&r).await, "top_p");
}

#[tokio::test]
async fn context_overflow_says_how_to_fix_it() {
    let small = LlamaCppGenerator::load(
        &model("SmolLM2-135M-Instruct.Q4_1.gguf"),
        LlamaCppOptions { n_ctx: Some(128), ..LlamaCppOptions::default() },
    )
    .unwrap();
    let long = "word ".repeat(400);
    assert_invalid(small.generate(&request(Prompt::Text(long), 1, 0.0, 1, 8)).await, "shorten the prompt");
    assert_invalid(
        small.generate(&request(Prompt::Text("hello".into()), 8, 0.5, 1, 64)).await,
        "ask for fewer candidates or fewer tokens, or raise the context size",
    );
}

#[test]
fn bad_model_files_are_errors_not_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let err = |p: &std::path::Path| match LlamaCppGenerator::load(p, LlamaCppOptions::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{} loaded", p.display()),
    };
    assert!(err(&dir.path().join("missing.gguf")).contains("does not exist"));
    let random = dir.path().join("random.gguf");
    std::fs::write(&random, (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    assert!(err(&random).contains("is not a GGUF file"));
    let truncated = dir.path().join("truncated.gguf");
    let bytes = std::fs::read(model("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    for cut in [100usize, 1 << 20, bytes.len() - 1000] {
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        assert!(err(&truncated).contains("damaged or truncated"), "cut at {cut}");
    }
}

/// A copy of SmolLM2 in a temporary folder, for rewriting.
fn smol_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smollm2.gguf");
    std::fs::copy(model("SmolLM2-135M-Instruct.Q4_1.gguf"), &path).unwrap();
    (dir, path)
}

#[test]
fn hyperparameters_llama_cpp_aborts_on_are_load_errors() {
    use autobranch_gguf::Value;
    let (_dir, path) = smol_copy();
    let cases = [
        (
            "llama.block_count",
            Value::Uint(0),
            "0 is out of range; allowed: an integer from 1 to 512 (llama.cpp's limit)",
        ),
        ("llama.block_count", Value::Uint(1_000_000), "1000000 is out of range; allowed: an integer from 1 to 512"),
        (
            "llama.block_count",
            Value::Uint(31),
            "31 is out of range; allowed: 30, the layers (blk.N) in the tensor table",
        ),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::Float(f64::NAN),
            "NaN is out of range; allowed: a finite number > 0",
        ),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::Float(-1.0),
            "-1 is out of range; allowed: a finite number > 0",
        ),
        (
            "llama.context_length",
            Value::Uint(u64::from(u32::MAX)),
            "4294967295 is out of range; allowed: an integer from 1 to 16777216",
        ),
        ("llama.rope.freq_base", Value::Float(f64::NAN), "NaN is out of range; allowed: a finite number > 0"),
        (
            "llama.attention.head_count",
            Value::Uint(1_000_000),
            "1000000 is out of range; allowed: an integer from 1 to 576",
        ),
        (
            "llama.attention.head_count_kv",
            Value::Uint(2),
            "2 is out of range; allowed: 0 or a divisor of 9 (llama.attention.head_count)",
        ),
        ("llama.embedding_length", Value::Uint(1 << 30), "1073741824 is out of range; allowed: an integer from 1 to"),
        (
            "llama.feed_forward_length",
            Value::Uint(1 << 30),
            "1073741824 is out of range; allowed: an integer from 0 to",
        ),
        ("llama.rope.dimension_count", Value::Uint(65), "65 is out of range; allowed: an integer from 0 to 64"),
        (
            "tokenizer.ggml.bos_token_id",
            Value::Uint(49152),
            "49152 is out of range; allowed: a token id from 0 to 49151",
        ),
    ];
    for (key, value, expected) in cases {
        let err = autobranch_gguf::testing::with_metadata(&path, key, &value, || {
            LlamaCppGenerator::load(&path, LlamaCppOptions::default()).err().expect("a hostile file loaded")
        })
        .unwrap();
        assert!(matches!(err, ModelError::Unavailable(_)), "{err:?}");
        let err = err.to_string();
        assert!(err.contains(&format!("{}: {key} = {expected}", path.display())), "{key}: {err}");
    }
}

#[tokio::test]
async fn nan_weights_fail_generation_naming_the_model_file() {
    let (_dir, path) = smol_copy();
    autobranch_gguf::testing::fill_tensor(&path, "output_norm.weight", f32::NAN).unwrap();
    let g = LlamaCppGenerator::load(&path, LlamaCppOptions::default()).unwrap();
    for temperature in [0.0, 0.8] {
        let err = g.generate(&request(Prompt::Text("Hello".into()), 2, temperature, 1, 4)).await.unwrap_err();
        assert!(matches!(err, ModelError::BrokenModel(_)), "{err:?}");
        assert!(
            err.to_string().contains(&format!("{}: the model computed logits containing NaN", path.display())),
            "{err}"
        );
    }
    let err = g.prompt_logits(Prompt::Text("Hello".into())).await.unwrap_err();
    assert!(err.to_string().contains("logits containing NaN"), "{err}");
}
