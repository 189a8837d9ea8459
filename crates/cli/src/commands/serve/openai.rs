//! The OpenAI endpoints: `/v1/models`, `/v1/chat/completions`, `/v1/completions` and
//! `/v1/embeddings`, in OpenAI's request and response shapes, so the official clients work
//! unchanged. Fields OpenAI has and this server cannot honour are refused by name, not
//! ignored.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use autobranch_core::model::{
    ChatMessage, FinishReason, Generation, GenerationRequest, MAX_TOP_LOGPROBS, Piece, Prompt, Role, StreamOptions,
    TokenLogprob,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::error::{ApiError, ApiJson};
use super::{AppState, EventStream, Flight};

/// Fields OpenAI clients send that change nothing here.
const IGNORED: [&str; 8] =
    ["user", "metadata", "store", "service_tier", "parallel_tool_calls", "stream_options", "prediction", "n_probs"];

/// Fields whose meaning this server cannot honour: refused when set.
const UNSUPPORTED: [&str; 12] = [
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "response_format",
    "logit_bias",
    "audio",
    "modalities",
    "reasoning_effort",
    "web_search_options",
    "suffix",
    "guided_json",
];

/// `stop`: one string or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct UsageOption {
    #[serde(default)]
    include_usage: bool,
}

/// The sampling fields both generation endpoints share.
#[derive(Deserialize)]
struct Sampling {
    model: String,
    n: Option<usize>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u32>,
    min_p: Option<f32>,
    repeat_penalty: Option<f32>,
    /// vLLM's and SGLang's name for `repeat_penalty`.
    repetition_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<Stop>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<UsageOption>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Map<String, Value>>),
}

#[derive(Deserialize)]
struct MessageIn {
    role: String,
    content: Option<Content>,
}

/// `POST /v1/chat/completions`.
#[derive(Deserialize)]
pub struct ChatRequest {
    messages: Vec<MessageIn>,
    logprobs: Option<bool>,
    top_logprobs: Option<usize>,
    #[serde(flatten)]
    sampling: Sampling,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// `POST /v1/completions`.
#[derive(Deserialize)]
pub struct CompletionRequest {
    prompt: Value,
    logprobs: Option<usize>,
    echo: Option<bool>,
    best_of: Option<usize>,
    #[serde(flatten)]
    sampling: Sampling,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// `POST /v1/embeddings`.
#[derive(Deserialize)]
pub struct EmbeddingRequest {
    model: String,
    input: Value,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

fn refuse_unsupported(other: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in other {
        if value.is_null() || IGNORED.contains(&key.as_str()) {
            continue;
        }
        let what =
            if UNSUPPORTED.contains(&key.as_str()) { "is not supported by autobranch serve" } else { "is unknown" };
        return Err(ApiError::invalid(Some(key.clone()), format!("the parameter {key:?} {what}")));
    }
    Ok(())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// A number no earlier call in this process returned.
fn next_count() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A fresh id: the prefix and 24 hex digits from the clock and a counter.
fn new_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}{:08x}", nanos(), next_count() as u32)
}

/// A seed for a request without one: requests without `seed` differ, as on other servers.
fn random_seed() -> u64 {
    // splitmix64 of the clock, the process and a counter, so two requests in the same
    // nanosecond differ too
    let mut z = nanos() ^ next_count().rotate_left(17) ^ (std::process::id() as u64) << 32;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn finish_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Length => "length",
        _ => "stop",
    }
}

impl AppState {
    /// Checks `model` against the served generator.
    fn check_generator(&self, model: &str) -> Result<(), ApiError> {
        if self.generator_names.iter().any(|n| n == model) {
            return Ok(());
        }
        Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("the model {model:?} is not served here; available: {}", self.model_list().join(", ")),
        ))
    }

    /// The request a body's sampling fields describe, the configuration's `generation`
    /// section filling what it leaves out.
    fn generation_request(&self, prompt: Prompt, s: &Sampling) -> Result<GenerationRequest, ApiError> {
        self.check_generator(&s.model)?;
        let limits = &self.config.server;
        let n = s.n.unwrap_or(1);
        if n == 0 || n > limits.max_n {
            return Err(ApiError::invalid(
                Some("n".into()),
                format!("n = {n} is out of range; allowed: 1 to {}", limits.max_n),
            ));
        }
        for (name, value) in [("presence_penalty", s.presence_penalty), ("frequency_penalty", s.frequency_penalty)] {
            if value.is_some_and(|v| v != 0.0) {
                return Err(ApiError::invalid(
                    Some(name.into()),
                    format!("{name} is not supported; use repeat_penalty (> 0, 1 = off) instead"),
                ));
            }
        }
        let mut sampling = self.config.generation.clone();
        if let Some(m) = s.max_completion_tokens.or(s.max_tokens) {
            let param = if s.max_completion_tokens.is_some() { "max_completion_tokens" } else { "max_tokens" };
            if m == 0 || m > limits.max_tokens {
                return Err(ApiError::invalid(
                    Some(param.into()),
                    format!("{param} = {m} is out of range; allowed: 1 to {}", limits.max_tokens),
                ));
            }
            sampling.max_tokens = m;
        }
        if let Some(t) = s.temperature {
            sampling.temperature = t;
        }
        if let Some(p) = s.top_p {
            sampling.top_p = p;
        }
        if let Some(k) = s.top_k {
            sampling.top_k = k;
        }
        if let Some(p) = s.min_p {
            sampling.min_p = p;
        }
        if let (Some(a), Some(b)) = (s.repeat_penalty, s.repetition_penalty)
            && a != b
        {
            return Err(ApiError::invalid(
                Some("repetition_penalty".into()),
                format!("repeat_penalty = {a} and repetition_penalty = {b} disagree; they are one setting"),
            ));
        }
        if let Some(r) = s.repeat_penalty.or(s.repetition_penalty) {
            sampling.repeat_penalty = r;
        }
        sampling.seed = s.seed.map_or_else(random_seed, |v| v as u64);
        match &s.stop {
            Some(Stop::One(one)) => sampling.stop = vec![one.clone()],
            Some(Stop::Many(many)) if many.len() > 4 => {
                return Err(ApiError::invalid(Some("stop".into()), "stop holds at most 4 strings"));
            }
            Some(Stop::Many(many)) => sampling.stop = many.clone(),
            None => {}
        }
        let request = GenerationRequest { prompt, n, sampling };
        request.validate().map_err(ApiError::model)?;
        Ok(request)
    }
}

fn chat_prompt(messages: &[MessageIn]) -> Result<Prompt, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid(Some("messages".into()), "messages is empty; give at least one message"));
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::invalid(
                    Some(format!("messages[{i}].role")),
                    format!("role {other:?} is not supported; allowed: system, developer, user, assistant"),
                ));
            }
        };
        let content = match &m.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for (j, part) in parts.iter().enumerate() {
                    match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                        (Some("text"), Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                Some(format!("messages[{i}].content[{j}]")),
                                format!("content part of type {kind:?} is not supported; only text parts are"),
                            ));
                        }
                    }
                }
                text
            }
        };
        out.push(ChatMessage::new(role, content));
    }
    Ok(Prompt::Chat(out))
}

fn usage(generations: &[&Generation]) -> Value {
    let prompt: u64 = generations.iter().map(|g| g.timings.prompt_tokens).sum();
    let cached: u64 = generations.iter().map(|g| g.timings.prompt_cached).sum();
    let completion: u64 = generations.iter().map(|g| g.generated_tokens()).sum();
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

fn chat_logprob(t: &TokenLogprob, top: &[TokenLogprob]) -> Value {
    let entry = |t: &TokenLogprob| json!({"token": t.token, "logprob": t.logprob, "bytes": t.bytes});
    let mut v = entry(t);
    v["top_logprobs"] = top.iter().map(entry).collect();
    v
}

/// Per-token detail collected from a generation's pieces, by candidate.
type Collected = Arc<Mutex<Vec<Vec<(TokenLogprob, Vec<TokenLogprob>)>>>>;

/// Runs one generation inside the server's limits: a place in the queue, the timeout,
/// the token counters, and (with `options`) the per-token detail of each candidate.
async fn run_generation(
    state: &Arc<AppState>,
    request: &GenerationRequest,
    options: Option<StreamOptions>,
) -> Result<(Generation, Collected), ApiError> {
    let collected: Collected = Arc::new(Mutex::new(vec![Vec::new(); request.n]));
    let flight = Flight::start(state)?;
    let sink = Arc::clone(&collected);
    let on_piece = move |p: Piece| {
        if let (Some(token), Ok(mut c)) = (p.token, sink.lock())
            && let Some(list) = c.get_mut(p.candidate)
        {
            list.push((token, p.top));
        }
    };
    let generation = match options {
        Some(o) => flight.run(state.generator.generate_streaming(request, o, &on_piece)).await?,
        None => flight.run(state.generator.generate(request)).await?,
    };
    state.metrics.tokens(&generation);
    Ok((generation, collected))
}

fn logprob_options(state: &AppState, wanted: bool, top: usize, param: &str) -> Result<Option<StreamOptions>, ApiError> {
    if top > MAX_TOP_LOGPROBS {
        return Err(ApiError::invalid(
            Some(param.into()),
            format!("{param} = {top} is out of range; allowed: 0 to {MAX_TOP_LOGPROBS}"),
        ));
    }
    if !wanted {
        return Ok(None);
    }
    if !state.generator.streams_tokens() {
        return Err(ApiError::invalid(
            Some("logprobs".into()),
            "this server's generator does not report token log-probabilities",
        ));
    }
    Ok(Some(StreamOptions { logprobs: true, top_logprobs: top }))
}

/// `POST /v1/chat/completions`.
pub async fn chat(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    refuse_unsupported(&body.other)?;
    let prompt = chat_prompt(&body.messages)?;
    let request = state.generation_request(prompt, &body.sampling)?;
    let top = body.top_logprobs.unwrap_or(0);
    let options = logprob_options(&state, body.logprobs.unwrap_or(false), top, "top_logprobs")?;
    if body.top_logprobs.is_some_and(|t| t > 0) && options.is_none() {
        return Err(ApiError::invalid(Some("top_logprobs".into()), "top_logprobs needs logprobs: true"));
    }
    let (id, created, model) = (new_id("chatcmpl"), now(), body.sampling.model.clone());
    if body.sampling.stream {
        let include_usage = body.sampling.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let kind = StreamKind::Chat;
        return Ok(
            stream(state, vec![request], options, kind, Head { id, created, model, include_usage })?.into_response()
        );
    }
    let (generation, collected) = run_generation(&state, &request, options).await?;
    let collected = collected.lock().map(|c| c.clone()).unwrap_or_default();
    let choices: Vec<Value> = generation
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let logprobs = options.map_or(Value::Null, |_| {
                let content: Vec<Value> =
                    collected.get(i).into_iter().flatten().map(|(t, top)| chat_logprob(t, top)).collect();
                json!({"content": content, "refusal": null})
            });
            json!({
                "index": i,
                "message": {"role": "assistant", "content": c.text, "refusal": null},
                "logprobs": logprobs,
                "finish_reason": finish_reason(c.finish_reason),
            })
        })
        .collect();
    Ok(Json(json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "system_fingerprint": null, "choices": choices, "usage": usage(&[&generation]),
    }))
    .into_response())
}

/// A field that holds one string or a non-empty list of them (`prompt`, `input`).
fn strings(value: &Value, param: &str) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::invalid(
            Some(param.into()),
            format!("{param} must be a string or a non-empty list of strings (token ids are not supported)"),
        )
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(bad)).collect()
        }
        _ => Err(bad()),
    }
}

fn completion_logprobs(text: &str, tokens: &[(TokenLogprob, Vec<TokenLogprob>)]) -> Value {
    let mut offset = 0;
    let mut offsets = Vec::with_capacity(tokens.len());
    for (t, _) in tokens {
        offsets.push(offset.min(text.len()));
        offset += t.token.len();
    }
    let top: Vec<Value> = tokens
        .iter()
        .map(|(_, top)| Value::Object(top.iter().map(|t| (t.token.clone(), json!(t.logprob))).collect()))
        .collect();
    json!({
        "tokens": tokens.iter().map(|(t, _)| t.token.clone()).collect::<Vec<_>>(),
        "token_logprobs": tokens.iter().map(|(t, _)| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": top,
        "text_offset": offsets,
    })
}

/// `POST /v1/completions`.
pub async fn completions(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    refuse_unsupported(&body.other)?;
    if body.echo == Some(true) {
        return Err(ApiError::invalid(Some("echo".into()), "echo is not supported"));
    }
    if body.best_of.is_some_and(|b| b > 1) {
        return Err(ApiError::invalid(Some("best_of".into()), "best_of > 1 is not supported; use n"));
    }
    let prompts = strings(&body.prompt, "prompt")?;
    let requests: Vec<GenerationRequest> = prompts
        .into_iter()
        .map(|p| state.generation_request(Prompt::Text(p), &body.sampling))
        .collect::<Result<_, _>>()?;
    let options = match body.logprobs {
        Some(k) => logprob_options(&state, true, k, "logprobs")?,
        None => None,
    };
    let (id, created, model) = (new_id("cmpl"), now(), body.sampling.model.clone());
    if body.sampling.stream {
        let include_usage = body.sampling.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let head = Head { id, created, model, include_usage };
        return Ok(stream(state, requests, options, StreamKind::Completion, head)?.into_response());
    }
    // The prompts run concurrently, so they share the backend's batch.
    let runs = requests.iter().map(|r| run_generation(&state, r, options));
    let results: Vec<(Generation, Collected)> =
        futures_util::future::join_all(runs).await.into_iter().collect::<Result<_, _>>()?;
    let mut choices = Vec::new();
    for (generation, collected) in &results {
        let collected = collected.lock().map(|c| c.clone()).unwrap_or_default();
        for (i, c) in generation.candidates.iter().enumerate() {
            let logprobs = options
                .map_or(Value::Null, |_| completion_logprobs(&c.text, collected.get(i).map_or(&[], Vec::as_slice)));
            choices.push(json!({
                "index": choices.len(), "text": c.text, "logprobs": logprobs,
                "finish_reason": finish_reason(c.finish_reason),
            }));
        }
    }
    let generations: Vec<&Generation> = results.iter().map(|(g, _)| g).collect();
    Ok(Json(json!({
        "id": id, "object": "text_completion", "created": created, "model": model,
        "system_fingerprint": null, "choices": choices, "usage": usage(&generations),
    }))
    .into_response())
}

#[derive(Clone, Copy)]
enum StreamKind {
    Chat,
    Completion,
}

/// What every chunk of a stream repeats.
#[derive(Clone)]
struct Head {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

impl Head {
    fn chunk(&self, kind: StreamKind, choices: Vec<Value>, usage: Option<Value>) -> Event {
        let object = match kind {
            StreamKind::Chat => "chat.completion.chunk",
            StreamKind::Completion => "text_completion",
        };
        let mut v = json!({
            "id": self.id, "object": object, "created": self.created, "model": self.model,
            "system_fingerprint": null, "choices": choices,
        });
        if self.include_usage {
            v["usage"] = usage.unwrap_or(Value::Null);
        }
        Event::default().data(v.to_string())
    }
}

fn piece_choice(kind: StreamKind, index: usize, p: &Piece, logprobs: bool) -> Value {
    match kind {
        StreamKind::Chat => {
            let lp = match (&p.token, logprobs) {
                (Some(t), true) => json!({"content": [chat_logprob(t, &p.top)], "refusal": null}),
                _ => Value::Null,
            };
            json!({"index": index, "delta": {"content": p.text}, "logprobs": lp, "finish_reason": null})
        }
        StreamKind::Completion => {
            let lp = match (&p.token, logprobs) {
                (Some(t), true) => completion_logprobs(&p.text, &[(t.clone(), p.top.clone())]),
                _ => Value::Null,
            };
            json!({"index": index, "text": p.text, "logprobs": lp, "finish_reason": null})
        }
    }
}

fn final_choice(kind: StreamKind, index: usize, reason: FinishReason) -> Value {
    let reason = finish_reason(reason);
    match kind {
        StreamKind::Chat => json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": reason}),
        StreamKind::Completion => json!({"index": index, "text": "", "logprobs": null, "finish_reason": reason}),
    }
}

/// Server-sent events for a generation: each choice's pieces as they are decoded (chunks
/// carry the choice's `index`), a last chunk per choice with its finish reason, the usage
/// when asked for, then `[DONE]`. An error after the stream began arrives as an event with
/// an `error` object, which OpenAI's clients raise.
fn stream(
    state: Arc<AppState>,
    requests: Vec<GenerationRequest>,
    options: Option<StreamOptions>,
    kind: StreamKind,
    head: Head,
) -> Result<Sse<EventStream>, ApiError> {
    // The places in the queue are taken now, so a full queue is a 429, not a broken stream.
    let flights: Vec<Flight> = requests.iter().map(|_| Flight::start(&state)).collect::<Result<_, _>>()?;
    let (tx, rx) = mpsc::unbounded_channel::<Result<Event, Infallible>>();
    let task = tokio::spawn(async move {
        let offsets: Vec<usize> = requests.iter().scan(0, |at, r| Some(std::mem::replace(at, *at + r.n))).collect();
        if let StreamKind::Chat = kind {
            let role = (0..requests.iter().map(|r| r.n).sum())
                .map(|i| json!({"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}))
                .collect();
            let _ = tx.send(Ok(head.chunk(kind, role, None)));
        }
        let logprobs = options.is_some();
        let options = options.unwrap_or_default();
        let runs = requests.iter().zip(flights).zip(&offsets).map(|((request, flight), &offset)| {
            let (tx, head, state) = (tx.clone(), head.clone(), &state);
            async move {
                let on_piece = move |p: Piece| {
                    if !p.text.is_empty() || (logprobs && p.token.is_some()) {
                        let choice = piece_choice(kind, offset + p.candidate, &p, logprobs);
                        let _ = tx.send(Ok(head.chunk(kind, vec![choice], None)));
                    }
                };
                let generation = flight.run(state.generator.generate_streaming(request, options, &on_piece)).await?;
                state.metrics.tokens(&generation);
                Ok::<_, ApiError>(generation)
            }
        });
        let results = futures_util::future::join_all(runs).await;
        match results.into_iter().collect::<Result<Vec<Generation>, ApiError>>() {
            Ok(generations) => {
                for (generation, &offset) in generations.iter().zip(&offsets) {
                    for (i, c) in generation.candidates.iter().enumerate() {
                        let _ =
                            tx.send(Ok(head.chunk(kind, vec![final_choice(kind, offset + i, c.finish_reason)], None)));
                    }
                }
                if head.include_usage {
                    let all: Vec<&Generation> = generations.iter().collect();
                    let _ = tx.send(Ok(head.chunk(kind, Vec::new(), Some(usage(&all)))));
                }
            }
            Err(e) => {
                let error = json!({"error": {"message": e.message, "type": e.kind, "param": e.param, "code": e.code}});
                let _ = tx.send(Ok(Event::default().data(error.to_string())));
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]")));
    });
    Ok(Sse::new(EventStream::new(rx, task)))
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<EmbeddingRequest>,
) -> Result<Response, ApiError> {
    refuse_unsupported(&body.other)?;
    let Some(embedder) = &state.embedder else {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            "this server runs no embedder (started with --no-embedder)",
        ));
    };
    if !state.embedder_names.contains(&body.model) {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("the model {:?} is not served here; available: {}", body.model, state.model_list().join(", ")),
        ));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                Some("encoding_format".into()),
                format!("encoding_format {other:?} is not supported; allowed: float, base64"),
            ));
        }
    };
    if let Some(d) = body.dimensions
        && d != embedder.dim()
    {
        return Err(ApiError::invalid(
            Some("dimensions".into()),
            format!("dimensions = {d}, but the model's vectors have {} (they cannot be shortened)", embedder.dim()),
        ));
    }
    let texts = strings(&body.input, "input")?;
    let flight = Flight::start(&state)?;
    let vectors = flight.run(embedder.embed(&texts)).await?;
    let data: Vec<Value> = vectors
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = row.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(row)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list", "data": data, "model": body.model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    }))
    .into_response())
}

/// `GET /v1/models`.
pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let created = state.started;
    let entry = |id: &str, kind: &str| json!({"id": id, "object": "model", "created": created, "owned_by": "autobranch", "kind": kind});
    let mut data = vec![entry(&state.generator_names[0], "generator")];
    if state.embedder.is_some() {
        data.push(entry(&state.embedder_names[0], "embedder"));
    }
    Json(json!({"object": "list", "data": data}))
}
