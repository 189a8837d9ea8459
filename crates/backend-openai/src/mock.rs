//! An in-process stand-in for an OpenAI-compatible server (`mock-server` feature), for tests
//! on machines without one. It answers `/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings` and `/v1/models` with the documented fields, streams server-sent events,
//! and can be told to behave like the servers that differ: one choice only, no `logprobs`,
//! strict about unknown fields, keyed, overloaded, or broken mid-stream.
//!
//! Text is deterministic: choice `j` of a request with seed `s` is [`expected_text`] of the
//! prompt and `s + j`, so native `n` and fan-out give the same candidates.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use autobranch_openai::mock::{MockConfig, MockOpenAi};
//! let server = MockOpenAi::start(MockConfig { native_n: false, ..MockConfig::default() }).await?;
//! // Point a client (or the CLI, through OPENAI_BASE_URL) at `server.url`, then count:
//! assert_eq!(server.stats.requests(), 0);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Models it serves (others answer 404 `model_not_found`).
    pub models: Vec<String>,
    /// The key every request must carry as `Authorization: Bearer …`; `None`: no key needed.
    /// A wrong key is echoed in the 401 message, so tests can check it is redacted.
    pub api_key: Option<String>,
    /// Whether it honours `n` (false: one choice per request, like LM Studio).
    pub native_n: bool,
    /// Whether it answers 400 to `n` > 1 (like llama-server).
    pub reject_n: bool,
    /// Whether it sends token log-probabilities when asked.
    pub logprobs: bool,
    /// Whether it answers 400 to any request with a `logprobs` field.
    pub reject_logprobs: bool,
    /// Whether it answers 400 to `top_k`, `min_p`, `repetition_penalty` or `repeat_penalty`
    /// (like the hosted OpenAI API).
    pub reject_extra_fields: bool,
    /// Whether it reports token usage (in a stream only when `include_usage` is asked for).
    pub usage: bool,
    /// Delay before each generation or embedding answer starts.
    pub delay: Duration,
    /// Statuses answered to the first requests, in order, before behaving normally.
    pub fail_first: Vec<u16>,
    /// `Retry-After` header value sent with those failures.
    pub retry_after: Option<String>,
    /// Streams break off (the connection is dropped) after the first token.
    pub cut_stream: bool,
    /// Streams send an error event after the first token, then end.
    pub error_mid_stream: bool,
    /// Answers are cut-off JSON: the whole body, or one stream payload after the first token.
    pub malformed_json: bool,
    /// Embedding length (a request's `dimensions` overrides it).
    pub embed_dim: usize,
    /// Return one embedding fewer than asked for.
    pub embed_count_off: bool,
    /// Return the last embedding one component short.
    pub embed_mixed_dims: bool,
    /// List embeddings in reverse order (with their true `index`).
    pub embed_reverse_order: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            models: vec!["mock-chat".into(), "mock-embed".into()],
            api_key: None,
            native_n: true,
            reject_n: false,
            logprobs: true,
            reject_logprobs: false,
            reject_extra_fields: false,
            usage: true,
            delay: Duration::ZERO,
            fail_first: Vec::new(),
            retry_after: None,
            cut_stream: false,
            error_mid_stream: false,
            malformed_json: false,
            embed_dim: 8,
            embed_count_off: false,
            embed_mixed_dims: false,
            embed_reverse_order: false,
        }
    }
}

/// What the stand-in saw.
#[derive(Debug, Default)]
pub struct MockStats {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
}

impl MockStats {
    /// Requests received (any endpoint, failures included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Most generation or embedding requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Request bodies in arrival order, each with its path under `"_path"` (e.g.
    /// `/v1/chat/completions`; `GET /v1/models` records `{}`).
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// The bodies sent to `path`.
    pub fn bodies_to(&self, path: &str) -> Vec<Value> {
        self.bodies().into_iter().filter(|b| b["_path"] == path).collect()
    }
}

/// A running stand-in; it stops when dropped.
pub struct MockOpenAi {
    /// Base URL including `/v1`, e.g. `http://127.0.0.1:40123/v1`.
    pub url: String,
    /// What it saw.
    pub stats: Arc<MockStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    config: MockConfig,
    stats: Arc<MockStats>,
}

const WORDS: [&str; 16] = [
    "the", "red", "moon", "rose", "over", "a", "quiet", "colony", "while", "dust", "fell", "softly", "and", "ships",
    "slept", "far",
];

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The words a choice would say before any limit: 3 to 8 of them, from (prompt, seed).
fn natural_words(prompt: &str, seed: u64) -> Vec<&'static str> {
    let h = mix(fnv(prompt) ^ mix(seed));
    let len = 3 + (h % 6) as usize;
    (0..len as u64).map(|t| WORDS[(mix(h.wrapping_add(t)) % WORDS.len() as u64) as usize]).collect()
}

/// One choice: its token pieces, finish reason and the stop string that ended it.
struct Choice {
    pieces: Vec<String>,
    finish: &'static str,
    stop_reason: Option<String>,
}

fn choice(prompt: &str, seed: u64, max_tokens: usize, stop: &[String]) -> Choice {
    let words = natural_words(prompt, seed);
    let mut pieces = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if let Some(s) = stop.iter().find(|s| s.trim() == *w) {
            return Choice { pieces, finish: "stop", stop_reason: Some(s.clone()) };
        }
        if i == max_tokens {
            return Choice { pieces, finish: "length", stop_reason: None };
        }
        pieces.push(if i == 0 { (*w).to_owned() } else { format!(" {w}") });
    }
    // A choice that says exactly `max_tokens` words ran into the limit too.
    let finish = if pieces.len() >= max_tokens { "length" } else { "stop" };
    Choice { pieces, finish, stop_reason: None }
}

/// The text the stand-in generates for `prompt` with `seed` and no stop strings. For a chat
/// the prompt is the messages' contents joined by newlines.
pub fn expected_text(prompt: &str, seed: u64, max_tokens: usize) -> String {
    choice(prompt, seed, max_tokens, &[]).pieces.concat()
}

fn logprob(token: usize) -> f64 {
    -0.1 * (token as f64 + 1.0)
}

fn error(status: StatusCode, message: &str, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

fn sse(events: Vec<Result<String, ()>>) -> Response {
    use tokio_stream::StreamExt;
    let stream = tokio_stream::iter(events).then(|e| async move {
        match e {
            Ok(data) => Ok(Bytes::from(format!("data: {data}\n\n"))),
            Err(()) => {
                // Let the events before the cut reach the client first, as on a real network.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("connection dropped by the stand-in"))
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .expect("valid response")
}

impl Shared {
    /// Counts and records the request; answers an injected failure, a missing key or an
    /// unknown model.
    fn admit(&self, path: &str, headers: &HeaderMap, body: &Value) -> Option<Response> {
        let n = self.stats.requests.fetch_add(1, Ordering::SeqCst);
        let mut recorded = body.clone();
        if let Value::Object(m) = &mut recorded {
            m.insert("_path".into(), json!(path));
        }
        if let Ok(mut b) = self.stats.bodies.lock() {
            b.push(recorded);
        }
        if let Some(&code) = self.config.fail_first.get(n) {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = error(status, "server overloaded, try again", None);
            if let Some(after) = &self.config.retry_after
                && let Ok(v) = after.parse()
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Some(r);
        }
        if let Some(key) = &self.config.api_key {
            let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            match given.and_then(|g| g.strip_prefix("Bearer ")) {
                Some(g) if g == key => {}
                Some(g) => {
                    let msg = format!("Incorrect API key provided: {g}. You can find your API key in your account.");
                    return Some(error(StatusCode::UNAUTHORIZED, &msg, Some("invalid_api_key")));
                }
                None => {
                    let msg = "You didn't provide an API key. Provide it in an Authorization header (Bearer).";
                    return Some(error(StatusCode::UNAUTHORIZED, msg, None));
                }
            }
        }
        if let Some(model) = body.get("model") {
            let model = model.as_str().unwrap_or("");
            if !self.config.models.iter().any(|m| m == model) {
                let msg = format!("The model `{model}` does not exist or you do not have access to it.");
                return Some(error(StatusCode::NOT_FOUND, &msg, Some("model_not_found")));
            }
        }
        None
    }

    async fn busy(&self) {
        let now = self.stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.config.delay).await;
        self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// A 400 for a field this configuration refuses.
    fn refusal(&self, body: &Value, n: usize) -> Option<Response> {
        if self.config.reject_n && n > 1 {
            return Some(error(StatusCode::BAD_REQUEST, "Only one completion choice is allowed", None));
        }
        if self.config.reject_logprobs && body.get("logprobs").is_some() {
            return Some(error(StatusCode::BAD_REQUEST, "logprobs is not supported by this server", None));
        }
        if self.config.reject_extra_fields
            && let Some(field) =
                ["top_k", "min_p", "repetition_penalty", "repeat_penalty"].into_iter().find(|f| body.get(*f).is_some())
        {
            let msg = format!("Unrecognized request argument supplied: {field}");
            return Some(error(StatusCode::BAD_REQUEST, &msg, None));
        }
        None
    }

    async fn generation(&self, path: &str, headers: HeaderMap, raw: Bytes, chat: bool) -> Response {
        let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
            return error(StatusCode::BAD_REQUEST, "the request body is not JSON", None);
        };
        if let Some(r) = self.admit(path, &headers, &body) {
            return r;
        }
        let asked = body.get("n").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
        if let Some(r) = self.refusal(&body, asked) {
            return r;
        }
        self.busy().await;

        let prompt = if chat {
            let messages = body["messages"].as_array().cloned().unwrap_or_default();
            messages.iter().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n")
        } else {
            body["prompt"].as_str().unwrap_or("").to_owned()
        };
        let seed = body.get("seed").and_then(Value::as_u64).unwrap_or(0);
        let max_tokens =
            body.get("max_completion_tokens").or_else(|| body.get("max_tokens")).and_then(Value::as_u64).unwrap_or(16)
                as usize;
        let stop: Vec<String> = match &body["stop"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        let count = if self.config.native_n { asked } else { 1 };
        let choices: Vec<Choice> =
            (0..count).map(|j| choice(&prompt, seed.wrapping_add(j as u64), max_tokens, &stop)).collect();
        let want_logprobs = self.config.logprobs && body.get("logprobs").is_some_and(|v| v != &json!(false));
        let completion_tokens: usize = choices.iter().map(|c| c.pieces.len()).sum();
        let usage = json!({
            "prompt_tokens": prompt.split_whitespace().count(),
            "completion_tokens": completion_tokens,
            "total_tokens": prompt.split_whitespace().count() + completion_tokens,
        });
        let model = body["model"].clone();
        if body.get("stream").and_then(Value::as_bool) == Some(true) {
            let include_usage = self.config.usage && body["stream_options"]["include_usage"] == json!(true);
            return self.stream(chat, &model, &choices, want_logprobs, include_usage.then_some(usage));
        }
        if self.config.malformed_json {
            let long = "y".repeat(300);
            let text = format!("{{\"id\": \"cmpl-mock\", \"choices\": [{{\"index\": 0, \"text\": \"{long}");
            return ([(header::CONTENT_TYPE, "application/json")], text).into_response();
        }
        let choices: Vec<Value> = choices
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let text = c.pieces.concat();
                let logprobs = want_logprobs.then(|| logprobs_value(chat, &c.pieces));
                let mut v = json!({"index": j, "logprobs": logprobs, "finish_reason": c.finish,
                                   "stop_reason": c.stop_reason});
                if chat {
                    v["message"] = json!({"role": "assistant", "content": text});
                } else {
                    v["text"] = json!(text);
                }
                v
            })
            .collect();
        let object = if chat { "chat.completion" } else { "text_completion" };
        let mut answer = json!({"id": "cmpl-mock", "object": object, "created": 0, "model": model, "choices": choices});
        if self.config.usage {
            answer["usage"] = usage;
        }
        axum::Json(answer).into_response()
    }

    fn stream(
        &self,
        chat: bool,
        model: &Value,
        choices: &[Choice],
        want_logprobs: bool,
        usage: Option<Value>,
    ) -> Response {
        let object = if chat { "chat.completion.chunk" } else { "text_completion" };
        let chunk = |choice: Value| {
            json!({"id": "cmpl-mock", "object": object, "created": 0, "model": model, "choices": [choice]}).to_string()
        };
        let mut events: Vec<Result<String, ()>> = Vec::new();
        if chat {
            for j in 0..choices.len() {
                events.push(Ok(chunk(
                    json!({"index": j, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}),
                )));
            }
        }
        let longest = choices.iter().map(|c| c.pieces.len()).max().unwrap_or(0);
        let mut first_token = true;
        // Tokens of all choices interleave, as a batching server sends them.
        for t in 0..longest {
            for (j, c) in choices.iter().enumerate() {
                let Some(piece) = c.pieces.get(t) else { continue };
                let mut v = json!({"index": j, "finish_reason": null});
                if chat {
                    v["delta"] = json!({"content": piece});
                } else {
                    v["text"] = json!(piece);
                }
                if want_logprobs {
                    let mut lp = logprobs_value(chat, std::slice::from_ref(piece));
                    // The value of the token's position in its choice, as in a whole answer.
                    if chat {
                        lp["content"][0]["logprob"] = json!(logprob(t));
                    } else {
                        lp["token_logprobs"][0] = json!(logprob(t));
                    }
                    v["logprobs"] = lp;
                }
                events.push(Ok(chunk(v)));
                if first_token {
                    first_token = false;
                    if self.config.cut_stream {
                        events.push(Err(()));
                        return sse(events);
                    }
                    if self.config.error_mid_stream {
                        events.push(Ok(json!({"error": {"message": "CUDA out of memory while generating",
                                                        "type": "server_error", "code": 500}})
                        .to_string()));
                        return sse(events);
                    }
                    if self.config.malformed_json {
                        events.push(Ok(format!("{{\"id\": \"cmpl-mock\", \"choices\": [{}", "z".repeat(300))));
                        return sse(events);
                    }
                }
            }
        }
        for (j, c) in choices.iter().enumerate() {
            let mut v = json!({"index": j, "finish_reason": c.finish, "stop_reason": c.stop_reason});
            if chat {
                v["delta"] = json!({});
            } else {
                v["text"] = json!("");
            }
            events.push(Ok(chunk(v)));
        }
        if let Some(usage) = usage {
            events.push(Ok(json!({"id": "cmpl-mock", "object": object, "created": 0, "model": model,
                                  "choices": [], "usage": usage})
            .to_string()));
        }
        events.push(Ok("[DONE]".into()));
        sse(events)
    }
}

fn logprobs_value(chat: bool, pieces: &[String]) -> Value {
    if chat {
        let content: Vec<Value> = pieces
            .iter()
            .enumerate()
            .map(|(t, p)| json!({"token": p, "logprob": logprob(t), "bytes": p.as_bytes(), "top_logprobs": []}))
            .collect();
        json!({ "content": content })
    } else {
        let lps: Vec<f64> = (0..pieces.len()).map(logprob).collect();
        let top: Vec<Value> = pieces.iter().zip(&lps).map(|(p, lp)| json!({ p.as_str(): lp })).collect();
        json!({"tokens": pieces, "token_logprobs": lps, "top_logprobs": top, "text_offset": vec![0; pieces.len()]})
    }
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.generation("/v1/chat/completions", headers, body, true).await
}

async fn completions(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.generation("/v1/completions", headers, body, false).await
}

fn vector(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; dim];
    for (i, b) in text.bytes().enumerate() {
        v[(i + b as usize) % dim] += 1.0 + (b % 7) as f32;
    }
    if text.is_empty() {
        v[0] = 1.0;
    }
    v
}

async fn embeddings(State(s): State<Arc<Shared>>, headers: HeaderMap, raw: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON", None);
    };
    if let Some(r) = s.admit("/v1/embeddings", &headers, &body) {
        return r;
    }
    s.busy().await;
    let inputs: Vec<String> = match &body["input"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => return error(StatusCode::BAD_REQUEST, "'input' must be a string or an array of strings", None),
    };
    let dim = body.get("dimensions").and_then(Value::as_u64).map_or(s.config.embed_dim, |d| d as usize).max(1);
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let short = s.config.embed_mixed_dims && i + 1 == inputs.len();
            json!({"object": "embedding", "index": i, "embedding": vector(t, if short { dim - 1 } else { dim })})
        })
        .collect();
    if s.config.embed_count_off {
        data.pop();
    }
    if s.config.embed_reverse_order {
        data.reverse();
    }
    axum::Json(json!({"object": "list", "data": data, "model": body["model"],
                      "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}}))
    .into_response()
}

async fn models(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(r) = s.admit("/v1/models", &headers, &json!({})) {
        return r;
    }
    let data: Vec<Value> =
        s.config.models.iter().map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "mock"})).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

impl MockOpenAi {
    /// Starts the stand-in on a free loopback port.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        let stats = Arc::new(MockStats::default());
        let shared = Arc::new(Shared { config, stats: stats.clone() });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/completions", post(completions))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/models", get(models))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, stats, task })
    }
}
