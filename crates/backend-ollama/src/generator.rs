//! [`OllamaGenerator`]: `n` candidates as `n` concurrent streamed requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use autobranch_core::model::{
    CandidateTimings, FinishReason, GeneratedCandidate, Generation, GenerationRequest, GenerationTimings, Generator,
    ModelError, Prompt, Role,
};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::api::{ChatRequest, GenerateRequest, Message, Options};
use crate::client::{Completion, ModelDetails, OllamaClient};

/// Called with (candidate index, text piece) as tokens arrive.
pub type TokenCallback = Arc<dyn Fn(usize, &str) + Send + Sync>;

/// Generates with a model on an Ollama server.
pub struct OllamaGenerator {
    client: OllamaClient,
    model: String,
    concurrency: usize,
    num_ctx: Option<u32>,
    ask_logprobs: bool,
    warned_no_logprobs: AtomicBool,
    on_token: Option<TokenCallback>,
}

impl OllamaGenerator {
    /// A generator for `model` (e.g. `llama3.1:8b`); at most `concurrency` requests in flight.
    pub fn new(client: OllamaClient, model: impl Into<String>, concurrency: usize) -> Self {
        Self {
            client,
            model: model.into(),
            concurrency: concurrency.max(1),
            num_ctx: None,
            ask_logprobs: true,
            warned_no_logprobs: AtomicBool::new(false),
            on_token: None,
        }
    }

    /// Sets the context size sent as `num_ctx`.
    pub fn with_num_ctx(mut self, num_ctx: u32) -> Self {
        self.num_ctx = Some(num_ctx);
        self
    }

    /// Receives every text piece as it streams in.
    pub fn with_token_callback(mut self, callback: TokenCallback) -> Self {
        self.on_token = Some(callback);
        self
    }

    /// Whether to ask for log-probabilities (on by default; servers before 0.12.11 ignore it).
    pub fn with_logprobs(mut self, ask: bool) -> Self {
        self.ask_logprobs = ask;
        self
    }

    /// The model's details from `/api/show`, checking that the server has it.
    pub async fn details(&self) -> Result<ModelDetails, ModelError> {
        Ok(self.client.show(&self.model).await?.into())
    }

    fn options(&self, request: &GenerationRequest, index: usize) -> Options {
        let s = &request.sampling;
        Options {
            temperature: s.temperature,
            top_k: s.top_k,
            top_p: s.top_p,
            min_p: s.min_p,
            repeat_penalty: s.repeat_penalty,
            // Ollama takes a signed seed; wrap rather than fail on huge values.
            seed: request.candidate_seed(index) as i64,
            num_predict: i64::from(s.max_tokens),
            stop: s.stop.clone(),
            num_ctx: self.num_ctx,
        }
    }

    async fn one(&self, request: &GenerationRequest, index: usize) -> Result<(Completion, f64), ModelError> {
        let options = self.options(request, index);
        let keep_alive = self.client.config().keep_alive.as_deref();
        let on_token = self.on_token.clone();
        let callback = move |piece: &str| {
            if let Some(cb) = &on_token {
                cb(index, piece);
            }
        };
        let started = Instant::now();
        let completion = match &request.prompt {
            Prompt::Text(prompt) => {
                let body = GenerateRequest {
                    model: &self.model,
                    prompt,
                    raw: true,
                    stream: true,
                    options: &options,
                    keep_alive,
                    logprobs: self.ask_logprobs,
                };
                self.client.stream("/api/generate", &body, &self.model, callback).await?
            }
            Prompt::Chat(messages) => {
                let messages: Vec<Message> = messages
                    .iter()
                    .map(|m| Message {
                        role: match m.role {
                            Role::System => "system",
                            Role::User => "user",
                            Role::Assistant => "assistant",
                        }
                        .into(),
                        content: m.content.clone(),
                    })
                    .collect();
                let body = ChatRequest {
                    model: &self.model,
                    messages: &messages,
                    stream: true,
                    options: &options,
                    keep_alive,
                    logprobs: self.ask_logprobs,
                };
                self.client.stream("/api/chat", &body, &self.model, callback).await?
            }
        };
        Ok((completion, started.elapsed().as_secs_f64() * 1000.0))
    }

    fn candidate(&self, c: &Completion, wall_ms: f64) -> GeneratedCandidate {
        // Ollama reports both end-of-generation and a stop string as "stop".
        let finish = match c.done_reason.as_deref() {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        };
        let logprob_mean = match &c.logprobs {
            Some(lps) if !lps.is_empty() => Some(lps.iter().map(|t| t.logprob).sum::<f64>() / lps.len() as f64),
            _ => {
                if self.ask_logprobs && !self.warned_no_logprobs.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "Ollama sent no token logprobs (it needs version 0.12.11 or later); \
                         candidates are scored without a confidence feature"
                    );
                }
                None
            }
        };
        let tokens = if c.eval_count > 0 { c.eval_count } else { c.logprobs.as_ref().map_or(0, |l| l.len() as u64) };
        GeneratedCandidate {
            text: c.text.clone(),
            tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
            logprob_mean,
            finish_reason: finish,
            timings: CandidateTimings {
                generate_ms: if c.eval_duration > 0 { c.eval_duration as f64 / 1e6 } else { wall_ms },
            },
        }
    }
}

#[async_trait]
impl Generator for OllamaGenerator {
    fn model_id(&self) -> &str {
        &self.model
    }

    /// The requests concurrently, at most `concurrency` candidate requests in flight in all.
    async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
        let widest = requests.iter().map(|r| r.n).max().unwrap_or(1).max(1);
        let at_once = (self.concurrency / widest).max(1);
        let mut out = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(at_once) {
            // Collected before the await: async-trait's futures cannot hold the closure.
            let calls: Vec<_> = chunk.iter().map(|r| self.generate(r)).collect();
            out.extend(futures_util::future::join_all(calls).await);
        }
        out
    }

    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        request.validate()?;
        let started = Instant::now();
        // `buffered` keeps the candidates in seed order while up to `concurrency` run at once.
        let results: Vec<(Completion, f64)> =
            stream::iter(0..request.n).map(|i| self.one(request, i)).buffered(self.concurrency).try_collect().await?;
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        let prompt_ms = results.iter().map(|(c, _)| c.prompt_eval_duration as f64 / 1e6).fold(0.0, f64::max);
        let candidates = results.iter().map(|(c, ms)| self.candidate(c, *ms)).collect::<Vec<_>>();
        let timings = GenerationTimings {
            prompt_tokens: results.iter().map(|(c, _)| c.prompt_eval_count).max().unwrap_or(0),
            prompt_cached: 0,
            prompt_ms,
            // Candidates decode concurrently: the decode time is the wall time after the prompt.
            generate_ms: (wall_ms - prompt_ms).max(0.0),
        };
        Ok(Generation { candidates, timings })
    }
}
