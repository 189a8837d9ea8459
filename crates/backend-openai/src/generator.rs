//! [`OpenAiGenerator`]: `n` candidates from one request with native `n`, or fanned out as
//! concurrent requests where the server returns fewer choices.
//!
//! Sampling fields: `max_tokens` (see [`TokenLimit`] for `max_completion_tokens`),
//! `temperature`, `top_p`, `seed` (kept to 63 bits) and `stop` are standard and always sent.
//! `top_k`, `min_p` and the repetition penalty are not part of OpenAI's API; they are sent
//! only when they are not "off" (0, 0 and 1): vLLM and SGLang read `top_k`, `min_p` and
//! `repetition_penalty`, llama-server reads `top_k`, `min_p` and `repeat_penalty`, so the
//! penalty goes under both names (each server ignores the other's). A server that rejects
//! unknown fields (the hosted OpenAI API) answers 400 naming one; the fields are then dropped
//! for that server, with one warning.
//!
//! `n`: vLLM, SGLang and the OpenAI API return `n` choices; llama-server refuses `n` > 1 and
//! some servers silently return one choice. Either way the missing candidates are requested
//! one by one (seed `seed + i`, at most `concurrency` at once), and later batches go straight
//! to fan-out. Log-probabilities (`logprobs: true` for chats, `logprobs: 1` for text) are
//! dropped the same way when a server rejects them. What was learnt is in
//! [`OpenAiGenerator::warnings`] and logged with `tracing::warn!`.

use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use autobranch_core::model::{Generation, GenerationRequest, GenerationTimings, Generator, ModelError, Prompt, Role};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::answer::{Answer, TokenCallback};
use crate::api::{ChatRequest, CommonFields, CompletionRequest, Message, ResponseBody, StreamOptions};
use crate::client::{OpenAiClient, StreamEnd};
use crate::compat::{Plan, ServerCompat, TokenLimit};
use crate::error::OpenAiError;

/// Generates with a model on an OpenAI-compatible server.
pub struct OpenAiGenerator {
    client: OpenAiClient,
    model: String,
    id: String,
    concurrency: usize,
    logprobs: bool,
    extra_sampling: bool,
    token_limit: TokenLimit,
    on_token: Option<TokenCallback>,
    compat: ServerCompat,
}

impl fmt::Debug for OpenAiGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiGenerator")
            .field("client", &self.client)
            .field("model", &self.model)
            .field("concurrency", &self.concurrency)
            .field("logprobs", &self.logprobs)
            .field("extra_sampling", &self.extra_sampling)
            .field("token_limit", &self.token_limit)
            .field("streaming", &self.on_token.is_some())
            .finish_non_exhaustive()
    }
}

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

impl OpenAiGenerator {
    /// A generator for `model`; at most `concurrency` requests in flight when candidates are
    /// fanned out.
    pub fn new(client: OpenAiClient, model: impl Into<String>, concurrency: usize) -> Self {
        let model = model.into();
        let id = format!("openai:{model}@{}", client.host());
        let compat = ServerCompat::new(client.host());
        Self {
            client,
            model,
            id,
            concurrency: concurrency.max(1),
            logprobs: true,
            extra_sampling: true,
            token_limit: TokenLimit::default(),
            on_token: None,
            compat,
        }
    }

    /// Streams the answers (server-sent events) and hands every text piece to `callback`
    /// with its candidate index.
    pub fn with_token_callback(mut self, callback: TokenCallback) -> Self {
        self.on_token = Some(callback);
        self
    }

    /// Whether to send `n` to the server (on by default); off, every candidate is its own
    /// request from the start, as for a server without native `n`.
    pub fn with_native_n(self, native: bool) -> Self {
        if !native {
            self.compat.fan_out_always();
        }
        self
    }

    /// Whether to ask for token log-probabilities (on by default).
    pub fn with_logprobs(mut self, ask: bool) -> Self {
        self.logprobs = ask;
        self
    }

    /// Whether to send top_k, min_p and the repetition penalty when they are not off (on by
    /// default).
    pub fn with_extra_sampling(mut self, send: bool) -> Self {
        self.extra_sampling = send;
        self
    }

    /// Which field carries a chat request's token limit (default [`TokenLimit::MaxTokens`];
    /// a server that says it wants the other one gets it from then on).
    pub fn with_token_limit(mut self, field: TokenLimit) -> Self {
        self.token_limit = field;
        self
    }

    /// The model name sent to the server.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// What was learnt about the server and reported so far (each warning once).
    pub fn warnings(&self) -> Vec<String> {
        self.compat.warnings()
    }

    fn wanted(&self, count: usize) -> Plan {
        Plan {
            count,
            logprobs: self.logprobs,
            extras: self.extra_sampling,
            stream: self.on_token.is_some(),
            stream_options: true,
            token_limit: self.token_limit,
        }
    }

    async fn send(
        &self,
        request: &GenerationRequest,
        first: usize,
        plan: &Plan,
    ) -> Result<(&'static str, reqwest::Response), OpenAiError> {
        let s = &request.sampling;
        // Servers read the seed as a signed 64-bit (or smaller) integer.
        let seed = request.candidate_seed(first) & (i64::MAX as u64);
        let extras = plan.extras;
        let mut common = CommonFields {
            n: (plan.count > 1).then_some(plan.count),
            max_tokens: Some(s.max_tokens),
            max_completion_tokens: None,
            temperature: s.temperature,
            top_p: s.top_p,
            seed,
            stop: &s.stop,
            top_k: (extras && s.top_k != 0).then_some(s.top_k),
            min_p: (extras && s.min_p != 0.0).then_some(s.min_p),
            repetition_penalty: (extras && s.repeat_penalty != 1.0).then_some(s.repeat_penalty),
            repeat_penalty: (extras && s.repeat_penalty != 1.0).then_some(s.repeat_penalty),
            stream: plan.stream,
            stream_options: (plan.stream && plan.stream_options).then_some(StreamOptions { include_usage: true }),
        };
        match &request.prompt {
            Prompt::Chat(messages) => {
                if plan.token_limit == TokenLimit::MaxCompletionTokens {
                    common.max_tokens = None;
                }
                if plan.token_limit != TokenLimit::MaxTokens {
                    common.max_completion_tokens = Some(s.max_tokens);
                }
                let body = ChatRequest {
                    model: &self.model,
                    messages: messages.iter().map(|m| Message { role: role(m.role), content: &m.content }).collect(),
                    logprobs: plan.logprobs.then_some(true),
                    common,
                };
                Ok(("/chat/completions", self.client.post("/chat/completions", &body, &self.model).await?))
            }
            Prompt::Text(prompt) => {
                let body =
                    CompletionRequest { model: &self.model, prompt, logprobs: plan.logprobs.then_some(1), common };
                Ok(("/completions", self.client.post("/completions", &body, &self.model).await?))
            }
        }
    }

    /// One request for `count` choices, the first being candidate `first`; fields the
    /// server rejects are dropped and the request sent again.
    async fn call(&self, request: &GenerationRequest, first: usize, count: usize) -> Result<Answer, OpenAiError> {
        let chat = matches!(request.prompt, Prompt::Chat(_));
        loop {
            let plan = self.compat.plan(self.wanted(count));
            let started = Instant::now();
            let (path, resp) = match self.send(request, first, &plan).await {
                Ok(r) => r,
                Err(OpenAiError::BadRequest { message, .. }) if self.compat.adapt(&plan, chat, &message) => continue,
                Err(e) => return Err(e),
            };
            let is_stream = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/event-stream"));
            let mut answer = Answer::new(first, plan.count, plan.logprobs, started, is_stream);
            if is_stream {
                self.read_stream(path, resp, &mut answer).await?;
            } else {
                // Also where a server ignored `stream: true` and answered in one piece.
                let body: ResponseBody = self.client.read_json(path, resp).await?;
                if let Some(message) = body.error_message() {
                    return Err(OpenAiError::Stream {
                        url: self.client.url(path),
                        message: self.client.server_text(&message),
                    });
                }
                answer.absorb(body, self.on_token.as_ref());
            }
            if answer.len() == 0 {
                return Err(OpenAiError::Malformed {
                    url: self.client.url(path),
                    text: String::new(),
                    reason: "the answer has no choices".into(),
                });
            }
            return Ok(answer);
        }
    }

    async fn read_stream(&self, path: &str, resp: reqwest::Response, answer: &mut Answer) -> Result<(), OpenAiError> {
        let url = self.client.url(path);
        let on_token = self.on_token.as_ref();
        let end = self
            .client
            .read_events(path, resp, |event, data| {
                let body: ResponseBody =
                    serde_json::from_str(data).map_err(|e| self.client.malformed(&url, data, e))?;
                let error = body.error_message().or_else(|| (event == Some("error")).then(|| data.to_owned()));
                if let Some(message) = error {
                    return Err(OpenAiError::Stream { url: url.clone(), message: self.client.server_text(&message) });
                }
                answer.absorb(body, on_token);
                Ok(())
            })
            .await?;
        match end {
            StreamEnd::Done => Ok(()),
            // A server that closes the stream without `[DONE]` after finishing every choice.
            StreamEnd::Eof(_) if answer.all_finished() => Ok(()),
            StreamEnd::Eof(events) => {
                Err(OpenAiError::Cut { url, events, reason: "the stream ended before `data: [DONE]`".into() })
            }
        }
    }
}

#[async_trait]
impl Generator for OpenAiGenerator {
    /// `openai:MODEL@HOST`.
    fn model_id(&self) -> &str {
        &self.id
    }

    /// Every request in flight at once (up to `concurrency`): the server batches them.
    async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
        let mut out = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(self.concurrency) {
            // Collected before the await: async-trait's futures cannot hold the closure.
            let calls: Vec<_> = chunk.iter().map(|r| self.generate(r)).collect();
            out.extend(futures_util::future::join_all(calls).await);
        }
        out
    }

    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        request.validate()?;
        let started = Instant::now();
        let n = request.n;
        let mut answers = Vec::new();
        let mut have = 0;
        if n == 1 || self.compat.native_n() {
            let answer = self.call(request, 0, n).await?;
            have = answer.len().min(n);
            if n > 1 {
                self.compat.learn_n(n, have, self.concurrency);
            }
            answers.push(answer);
        }
        if have < n {
            // `buffered` keeps candidates in seed order while up to `concurrency` run at once.
            let rest: Vec<Answer> = stream::iter(have..n)
                .map(|i| self.call(request, i, 1))
                .buffered(self.concurrency)
                .try_collect()
                .await?;
            answers.extend(rest);
        }
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        if answers.iter().any(|a| a.asked_logprobs) && !answers.iter().any(Answer::has_logprobs) {
            self.compat.no_logprobs_sent();
        }
        let candidates: Vec<_> = answers.iter().flat_map(Answer::candidates).take(n).collect();
        if candidates.len() != n {
            return Err(ModelError::MismatchedCount { expected: n, actual: candidates.len() });
        }
        let prompt_ms = answers.iter().filter_map(Answer::prompt_ms).reduce(f64::min).unwrap_or(0.0);
        let timings = GenerationTimings {
            prompt_tokens: answers.iter().filter_map(Answer::prompt_tokens).max().unwrap_or(0),
            // Fanned-out requests each had their own prompt: what all of them found cached.
            prompt_cached: answers.iter().map(|a| a.prompt_cached().unwrap_or(0)).min().unwrap_or(0),
            prompt_ms,
            // Requests run concurrently: decode time is the wall time after the prompt.
            generate_ms: (wall_ms - prompt_ms).max(0.0),
        };
        Ok(Generation { candidates, timings })
    }
}
