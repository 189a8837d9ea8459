//! `autobranch serve`: an OpenAI-compatible HTTP service on the loaded models, plus
//! autobranch's own `/v1/select` and `/v1/explore`.
//!
//! - `openai.rs`: `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`
//! - `branching.rs`: `/v1/select`, `/v1/explore`
//! - `metrics.rs`: `/metrics` (Prometheus)
//! - `error.rs`: errors in OpenAI's shape
//!
//! Model work stays on the backends' own threads: concurrent requests reach the llama.cpp
//! worker together and decode in its one batch (continuous batching). Here are the limits
//! around it: a bounded number of requests in flight (429 beyond), a per-request timeout,
//! the body size, an optional API key, and a graceful shutdown.

mod branching;
mod error;
mod metrics;
mod openai;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use autobranch_core::{Config, Embedder, Generator, ModelError};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::args::{EmbedderArgs, GeneratorArgs, SamplingArgs, load_config};
use crate::backends::{self, Choice};
use crate::failure::Failure;
use error::ApiError;
pub use metrics::BatchSizes;
use metrics::Metrics;

/// What `serve` was asked.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to bind (server.host) [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Port; 0 picks a free one, printed at start (server.port) [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Configuration file: its `server` section, and defaults for sampling and branching.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub generator: GeneratorArgs,
    #[command(flatten)]
    pub embedder: EmbedderArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Most sequences decoded together over all requests (server.max_batch) [default: 32].
    #[arg(long, value_name = "N")]
    pub max_batch: Option<usize>,
    /// Serve generation only (no /v1/embeddings; /v1/select then needs vectors in the body).
    #[arg(long)]
    pub no_embedder: bool,
}

/// Everything the handlers share.
pub struct AppState {
    generator: Arc<dyn Generator>,
    /// Names a request's `model` may give for the generator: its served name first.
    generator_names: Vec<String>,
    embedder: Option<Arc<dyn Embedder>>,
    embedder_names: Vec<String>,
    /// The server's configuration: the `server` limits, and the defaults of requests.
    config: Config,
    queue: Arc<Semaphore>,
    metrics: Metrics,
    api_key: Option<String>,
    /// Unix time the server started (`created` of its models).
    started: u64,
}

impl AppState {
    fn model_list(&self) -> Vec<String> {
        let mut names = vec![self.generator_names[0].clone()];
        names.extend(self.embedder_names.first().cloned());
        names
    }
}

/// The name a model is served under: a path's file name, a server's model name as is.
fn served_names(model_id: &str) -> Vec<String> {
    let name = Path::new(model_id).file_name().map(|n| n.to_string_lossy().into_owned());
    match name {
        Some(n) if n != model_id => vec![n, model_id.to_owned()],
        _ => vec![model_id.to_owned()],
    }
}

/// One request's place in the queue: counted while it lives; a request dropped before it
/// finished (its client went away) counts as cancelled.
struct Flight {
    state: Arc<AppState>,
    _permit: OwnedSemaphorePermit,
    finished: bool,
}

impl Flight {
    /// Takes a place, or answers 429 when `server.max_queue` requests are in flight.
    fn start(state: &Arc<AppState>) -> Result<Self, ApiError> {
        let permit = Arc::clone(&state.queue).try_acquire_owned().map_err(|_| {
            state.metrics.rejected_busy.fetch_add(1, Ordering::Relaxed);
            let mut e = ApiError::status(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{} requests are in flight, the most this server queues; retry shortly",
                    state.config.server.max_queue
                ),
            );
            e.retry_after = Some(1);
            e
        })?;
        state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Self { state: Arc::clone(state), _permit: permit, finished: false })
    }

    /// Runs the model call within the request timeout (504 after it, and the call is
    /// dropped, which cancels its sequences).
    async fn run<T>(mut self, work: impl Future<Output = Result<T, ModelError>>) -> Result<T, ApiError> {
        let limit = Duration::from_secs(self.state.config.server.timeout_s);
        let outcome = tokio::time::timeout(limit, work).await;
        match outcome {
            Ok(result) => {
                self.finished = true;
                result.map_err(ApiError::model)
            }
            Err(_) => Err(ApiError::status(
                StatusCode::GATEWAY_TIMEOUT,
                format!("the request took longer than server.timeout_s = {} s and was cancelled", limit.as_secs()),
            )),
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.finished {
            self.state.metrics.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The events of a streamed answer; dropping it (the client went away) aborts the task
/// producing them, which drops the model call and so cancels its sequences.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Result<Event, Infallible>>,
    task: tokio::task::JoinHandle<()>,
}

impl EventStream {
    fn new(rx: mpsc::UnboundedReceiver<Result<Event, Infallible>>, task: tokio::task::JoinHandle<()>) -> Self {
        Self { rx, task }
    }
}

impl tokio_stream::Stream for EventStream {
    type Item = Result<Event, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// Every route but `/health` wants the key when one is configured.
async fn require_key(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(key) = &state.api_key else { return next.run(request).await };
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(key.as_bytes())) {
        next.run(request).await
    } else {
        let env = state.config.server.api_key_env.as_deref().unwrap_or("the configured variable");
        ApiError::status(
            StatusCode::UNAUTHORIZED,
            format!("missing or wrong API key: send the key held in {env} as `Authorization: Bearer KEY`"),
        )
        .into_response()
    }
}

/// Counts every answer by route and status, with its latency.
async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record(&route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::status(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {}; routes: GET /health, GET /v1/models, GET /metrics, POST /v1/chat/completions, \
             /v1/completions, /v1/embeddings, /v1/select, /v1/explore",
            request.method(),
            request.uri().path()
        ),
    )
}

/// The service's routes.
fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.server.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/select", post(branching::select))
        .route("/v1/explore", post(branching::explore))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), require_key))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), count))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Runs the command until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), Failure> {
    let mut config = load_config(args.config.as_ref())?;
    args.sampling.apply(&mut config)?;
    if let Some(h) = &args.host {
        config.server.host = h.clone();
    }
    if let Some(p) = args.port {
        config.server.port = p;
    }
    if let Some(b) = args.max_batch {
        if !(1..=256).contains(&b) {
            return Err(Failure::BadInput(anyhow!("--max-batch {b} is out of range; allowed: 1 to 256")));
        }
        config.server.max_batch = b;
    }
    let api_key = match &config.server.api_key_env {
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.is_empty() => Some(k),
            _ => {
                return Err(Failure::BadInput(anyhow!(
                    "server.api_key_env names {var}, but {var} is unset or empty; set it to the key clients must send"
                )));
            }
        },
        None => None,
    };
    let choice = Choice::generator(&args.generator, config.generator.as_ref());
    let (generator, batch_sizes) = backends::serve_generator(&choice, config.server.max_batch, config.server.max_n)?;
    let embedder: Option<Arc<dyn Embedder>> = if args.no_embedder {
        None
    } else {
        let choice = Choice::embedder(&args.embedder, config.embedding.as_ref());
        Some(Arc::from(backends::embedder(&choice).await?))
    };
    let generator: Arc<dyn Generator> = Arc::from(generator);
    let host = config.server.host.clone();
    let port = config.server.port;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await.map_err(|e| {
        Failure::BadInput(anyhow!("cannot listen on {host}:{port}: {e}; choose another --host or --port"))
    })?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| Failure::Runtime(e.into()))?;
    if api_key.is_none() && !is_loopback(&host) {
        eprintln!(
            "warning: listening on {addr}, reachable from other machines, without an API key; \
             set server.api_key_env to require one"
        );
    }
    let grace = Duration::from_secs(config.server.shutdown_grace_s);
    let state = Arc::new(AppState {
        generator_names: served_names(generator.model_id()),
        embedder_names: embedder.as_ref().map(|e| served_names(e.model_id())).unwrap_or_default(),
        generator,
        embedder,
        queue: Arc::new(Semaphore::new(config.server.max_queue)),
        metrics: Metrics::new(batch_sizes),
        api_key,
        started: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        config,
    });
    let models = state.model_list().join(", ");
    // The first line of stdout, for scripts that start the server on port 0.
    println!("autobranch serve: listening on http://{addr} (models: {models})");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    shutdown_signal().await;
    eprintln!("autobranch serve: shutting down; requests in flight get up to {} s to finish", grace.as_secs());
    let _ = stop.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(Failure::Runtime(anyhow!("the server failed: {e}"))),
        Ok(Err(e)) => Err(Failure::Runtime(anyhow!("the server task failed: {e}"))),
        Err(_) => {
            eprintln!("autobranch serve: requests still running after {} s were dropped", grace.as_secs());
            Ok(())
        }
    }
}
