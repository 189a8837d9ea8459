//! An in-process stand-in for an Ollama server, for tests and benchmarks on machines that
//! cannot run Ollama. It speaks the documented API faithfully: field names and types,
//! NDJSON streaming, `{"error": …}` bodies and status codes, and it can be told to be slow,
//! to fail, or to misbehave in the ways real servers do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// How the stand-in behaves.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Models it has (others answer 404 "not found, try pulling it first").
    pub models: Vec<String>,
    /// Delay before each generation or embedding answer starts.
    pub delay: Duration,
    /// Whether it sends token logprobs when asked (Ollama 0.12.11 and later).
    pub logprobs: bool,
    /// Whether it has `/api/embed` (older servers only have `/api/embeddings`).
    pub embed_endpoint: bool,
    /// Embedding length.
    pub embed_dim: usize,
    /// Statuses answered to the first requests, in order, before behaving normally.
    pub fail_first: Vec<u16>,
    /// Send an `{"error": …}` line after the first token.
    pub error_mid_stream: bool,
    /// Send a line that is not JSON after the first token.
    pub malformed_line: bool,
    /// Return one embedding fewer than asked for.
    pub embed_count_off: bool,
    /// Return embeddings one component short.
    pub embed_dim_off: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            models: vec!["smollm2:135m".into(), "all-minilm".into()],
            delay: Duration::ZERO,
            logprobs: true,
            embed_endpoint: true,
            embed_dim: 8,
            fail_first: Vec::new(),
            error_mid_stream: false,
            malformed_line: false,
            embed_count_off: false,
            embed_dim_off: false,
        }
    }
}

/// What the stand-in saw.
#[derive(Debug, Default)]
pub struct MockStats {
    /// Requests answered (any endpoint).
    pub requests: AtomicUsize,
    /// Generation requests in flight right now.
    pub in_flight: AtomicUsize,
    /// Most generation requests in flight at once.
    pub max_in_flight: AtomicUsize,
    /// Request bodies, in arrival order, with the path under `"_path"`.
    pub bodies: Mutex<Vec<Value>>,
}

struct Shared {
    config: MockConfig,
    stats: Arc<MockStats>,
}

/// A running stand-in; it stops when dropped.
pub struct MockOllama {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// What it saw.
    pub stats: Arc<MockStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockOllama {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const WORDS: [&str; 12] =
    ["the", "red", "moon", "rose", "over", "a", "quiet", "colony", "while", "dust", "fell", "softly"];

fn ndjson(lines: Vec<String>, per_line: Duration) -> Response {
    let stream = async_stream(lines, per_line);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .expect("valid response")
}

fn async_stream(
    lines: Vec<String>,
    per_line: Duration,
) -> impl tokio_stream::Stream<Item = Result<Bytes, std::io::Error>> {
    use tokio_stream::StreamExt;
    tokio_stream::iter(lines).then(move |l| async move {
        if !per_line.is_zero() {
            tokio::time::sleep(per_line).await;
        }
        Ok::<_, std::io::Error>(Bytes::from(l + "\n"))
    })
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

impl Shared {
    /// Counts the request, records its body, and returns an injected failure if one is due.
    async fn admit(&self, path: &str, body: &Value) -> Option<Response> {
        let n = self.stats.requests.fetch_add(1, Ordering::SeqCst);
        let mut recorded = body.clone();
        if let Value::Object(m) = &mut recorded {
            m.insert("_path".into(), json!(path));
        }
        self.stats.bodies.lock().await.push(recorded);
        if let Some(&code) = self.config.fail_first.get(n) {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Some(error(status, "server overloaded, try again"));
        }
        let model = body.get("model").and_then(Value::as_str).unwrap_or("");
        if !self.config.models.iter().any(|m| m == model) {
            return Some(error(StatusCode::NOT_FOUND, &format!("model \"{model}\" not found, try pulling it first")));
        }
        None
    }

    async fn generation(&self, path: &str, body: Value, chat: bool) -> Response {
        if let Some(r) = self.admit(path, &body).await {
            return r;
        }
        let in_flight = self.stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.stats.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
        tokio::time::sleep(self.config.delay).await;
        self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);

        let options = body.get("options").cloned().unwrap_or(json!({}));
        let seed = options.get("seed").and_then(Value::as_i64).unwrap_or(0);
        let num_predict = options.get("num_predict").and_then(Value::as_i64).unwrap_or(8).clamp(1, 64) as usize;
        // The answer's length depends on the seed: some stop early, others hit num_predict.
        let natural = 3 + (seed.unsigned_abs() as usize % 6);
        let count = natural.min(num_predict);
        let done_reason = if natural >= num_predict { "length" } else { "stop" };
        let want_logprobs = self.config.logprobs && body.get("logprobs").and_then(Value::as_bool) == Some(true);
        let mut lines = Vec::new();
        for i in 0..count {
            let word = WORDS[(seed.unsigned_abs() as usize + 5 * i) % WORDS.len()];
            let piece = if i == 0 { word.to_owned() } else { format!(" {word}") };
            let mut line = if chat {
                json!({"model": body["model"], "created_at": "2026-11-26T10:00:00Z",
                       "message": {"role": "assistant", "content": piece}, "done": false})
            } else {
                json!({"model": body["model"], "created_at": "2026-11-26T10:00:00Z", "response": piece, "done": false})
            };
            if want_logprobs {
                line["logprobs"] =
                    json!([{ "token": piece, "logprob": -0.1 * (i as f64 + 1.0), "bytes": piece.as_bytes() }]);
            }
            lines.push(line.to_string());
            if i == 0 && self.config.error_mid_stream {
                lines.push(json!({"error": "an unexpected error occurred while generating"}).to_string());
            }
            if i == 0 && self.config.malformed_line {
                lines.push("{\"model\": \"smollm2\", \"response\": ".into());
            }
        }
        let mut done = if chat {
            json!({"model": body["model"], "message": {"role": "assistant", "content": ""}})
        } else {
            json!({"model": body["model"], "response": "", "context": [1, 2, 3]})
        };
        for (k, v) in [
            ("created_at", json!("2026-11-26T10:00:01Z")),
            ("done", json!(true)),
            ("done_reason", json!(done_reason)),
            ("total_duration", json!(5_000_000u64 + count as u64 * 1_000_000)),
            ("load_duration", json!(1_000_000u64)),
            ("prompt_eval_count", json!(12)),
            ("prompt_eval_duration", json!(2_000_000u64)),
            ("eval_count", json!(count)),
            ("eval_duration", json!(count as u64 * 1_000_000)),
        ] {
            done[k] = v;
        }
        lines.push(done.to_string());
        ndjson(lines, Duration::from_millis(1))
    }
}

async fn chat(State(s): State<Arc<Shared>>, axum::Json(body): axum::Json<Value>) -> Response {
    s.generation("/api/chat", body, true).await
}

async fn generate(State(s): State<Arc<Shared>>, axum::Json(body): axum::Json<Value>) -> Response {
    s.generation("/api/generate", body, false).await
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

async fn embed(State(s): State<Arc<Shared>>, axum::Json(body): axum::Json<Value>) -> Response {
    if !s.config.embed_endpoint {
        return (StatusCode::NOT_FOUND, "404 page not found").into_response();
    }
    if let Some(r) = s.admit("/api/embed", &body).await {
        return r;
    }
    tokio::time::sleep(s.config.delay).await;
    let inputs: Vec<String> = match &body["input"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => return error(StatusCode::BAD_REQUEST, "invalid input type"),
    };
    let dim = if s.config.embed_dim_off { s.config.embed_dim - 1 } else { s.config.embed_dim };
    let mut embeddings: Vec<Vec<f32>> = inputs.iter().map(|t| vector(t, dim)).collect();
    if s.config.embed_count_off {
        embeddings.pop();
    }
    axum::Json(json!({"model": body["model"], "embeddings": embeddings, "total_duration": 1_000_000,
                      "load_duration": 10_000, "prompt_eval_count": inputs.len()}))
    .into_response()
}

async fn embeddings(State(s): State<Arc<Shared>>, axum::Json(body): axum::Json<Value>) -> Response {
    if let Some(r) = s.admit("/api/embeddings", &body).await {
        return r;
    }
    let text = body["prompt"].as_str().unwrap_or("");
    axum::Json(json!({"embedding": vector(text, s.config.embed_dim)})).into_response()
}

async fn tags(State(s): State<Arc<Shared>>) -> Response {
    s.stats.requests.fetch_add(1, Ordering::SeqCst);
    let models: Vec<Value> = s
        .config
        .models
        .iter()
        .map(|m| {
            json!({"name": m, "model": m, "modified_at": "2026-11-01T00:00:00Z", "size": 98362432u64,
                        "digest": "sha256:0", "details": {"format": "gguf", "family": "llama"}})
        })
        .collect();
    axum::Json(json!({ "models": models })).into_response()
}

async fn show(State(s): State<Arc<Shared>>, axum::Json(body): axum::Json<Value>) -> Response {
    if let Some(r) = s.admit("/api/show", &body).await {
        return r;
    }
    let embedding = body["model"].as_str().is_some_and(|m| m.contains("minilm"));
    let arch = if embedding { "bert" } else { "llama" };
    axum::Json(json!({
        "modelfile": "FROM model.gguf",
        "parameters": "stop \"<|im_end|>\"",
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": arch, "parameter_size": "135M", "quantization_level": "Q4_1"},
        "model_info": {"general.architecture": arch, format!("{arch}.context_length"): 8192,
                        format!("{arch}.embedding_length"): if embedding { s.config.embed_dim } else { 576 }},
        "capabilities": if embedding { json!(["embedding"]) } else { json!(["completion"]) },
    }))
    .into_response()
}

impl MockOllama {
    /// Starts the stand-in on a free loopback port.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        let stats = Arc::new(MockStats::default());
        let shared = Arc::new(Shared { config, stats: stats.clone() });
        let app = Router::new()
            .route("/api/chat", post(chat))
            .route("/api/generate", post(generate))
            .route("/api/embed", post(embed))
            .route("/api/embeddings", post(embeddings))
            .route("/api/tags", get(tags))
            .route("/api/show", post(show))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, stats, task })
    }
}
