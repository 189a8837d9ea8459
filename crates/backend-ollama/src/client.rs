//! A thin HTTP client for Ollama's API: retries with backoff, NDJSON streaming, and errors
//! that say what to do.

use std::time::Duration;

use autobranch_core::model::ModelError;
use futures_util::StreamExt;
use rand::Rng;
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::api::{
    EmbedRequest, EmbedResponse, ErrorBody, LegacyEmbedRequest, LegacyEmbedResponse, ShowResponse, StreamChunk,
    TagsResponse, TokenLogprob,
};

/// Why a call to Ollama failed.
#[derive(Debug, Error)]
pub enum OllamaError {
    /// Nothing answers at the URL.
    #[error(
        "cannot connect to Ollama at {url}: {reason}; start the server with `ollama serve` or point OLLAMA_HOST at it"
    )]
    Connect {
        /// The server.
        url: String,
        /// The connection error.
        reason: String,
    },
    /// The server does not have the model.
    #[error("Ollama at {url} has no model {model:?}; pull it with `ollama pull {model}`")]
    ModelNotFound {
        /// The server.
        url: String,
        /// The model asked for.
        model: String,
    },
    /// An HTTP error status (after retries for 429 and 5xx).
    #[error("Ollama at {url} answered {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The error text.
        body: String,
    },
    /// An `{"error": …}` line in the middle of a stream.
    #[error("Ollama reported an error in the middle of the answer from {url}: {message}")]
    Stream {
        /// The endpoint.
        url: String,
        /// The server's message.
        message: String,
    },
    /// The request took longer than the timeout.
    #[error("Ollama at {url} did not answer within {secs} s; raise the timeout or check the server")]
    Timeout {
        /// The endpoint.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// A line or body that is not the JSON the API documents.
    #[error("Ollama at {url} sent malformed JSON ({reason}): {line:?}")]
    MalformedJson {
        /// The endpoint.
        url: String,
        /// The offending text (cut at 300 characters).
        line: String,
        /// The parse error.
        reason: String,
    },
    /// The stream ended without a `done` line.
    #[error("Ollama's answer from {url} ended before its final line")]
    Truncated {
        /// The endpoint.
        url: String,
    },
    /// Anything else from the HTTP layer.
    #[error("HTTP error talking to Ollama at {url}: {reason}")]
    Http {
        /// The endpoint.
        url: String,
        /// The error.
        reason: String,
    },
}

impl From<OllamaError> for ModelError {
    fn from(e: OllamaError) -> Self {
        match e {
            OllamaError::Connect { .. } | OllamaError::ModelNotFound { .. } => ModelError::Unavailable(e.to_string()),
            _ => ModelError::Backend(e.to_string()),
        }
    }
}

/// Connection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Base URL, e.g. `http://127.0.0.1:11434` (see [`crate::host::base_url`]).
    pub base_url: String,
    /// Whole-request timeout, streaming included.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Retries after a 429, 500, 502 or 503 answer.
    pub retries: u32,
    /// First backoff; doubles per retry, with jitter, up to `backoff_cap`.
    pub backoff: Duration,
    /// Longest backoff.
    pub backoff_cap: Duration,
    /// `keep_alive` sent with every request (e.g. "5m"); `None` leaves the server's default.
    pub keep_alive: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: crate::host::DEFAULT_HOST.to_owned(),
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
            retries: 4,
            backoff: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(5),
            keep_alive: None,
        }
    }
}

/// The streamed answer of one generation, assembled.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    /// Generated text.
    pub text: String,
    /// `done_reason`.
    pub done_reason: Option<String>,
    /// Prompt tokens evaluated.
    pub prompt_eval_count: u64,
    /// Prompt time in ns.
    pub prompt_eval_duration: u64,
    /// Generated tokens.
    pub eval_count: u64,
    /// Generation time in ns.
    pub eval_duration: u64,
    /// Token log-probabilities; `None` when the server sent none.
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// The HTTP client.
#[derive(Clone, Debug)]
pub struct OllamaClient {
    http: reqwest::Client,
    config: ClientConfig,
}

fn cut(s: &str) -> String {
    s.chars().take(300).collect()
}

impl OllamaClient {
    /// A client for `config.base_url`.
    pub fn new(config: ClientConfig) -> Result<Self, OllamaError> {
        // reqwest may be built with rustls but without its default provider (see
        // Cargo.toml): install ring's once, keeping one another crate installed.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| OllamaError::Http { url: config.base_url.clone(), reason: e.to_string() })?;
        Ok(Self { http, config })
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> OllamaError {
        if e.is_timeout() {
            OllamaError::Timeout { url: url.to_owned(), secs: self.config.timeout.as_secs() }
        } else if e.is_connect() {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            OllamaError::Connect { url: self.config.base_url.clone(), reason }
        } else {
            OllamaError::Http { url: url.to_owned(), reason: e.to_string() }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.config.backoff.saturating_mul(1 << attempt.min(16));
        let capped = exp.min(self.config.backoff_cap);
        // Full jitter between half and all of the capped delay, so retries spread out.
        capped.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    /// Sends a request, retrying 429, 500, 502 and 503 with exponential backoff and jitter.
    /// `model` names the model for a 404's message.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
        model: Option<&str>,
    ) -> Result<reqwest::Response, OllamaError> {
        let url = self.url(path);
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| self.transport_error(&url, e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let text = resp.text().await.unwrap_or_default();
            let message =
                serde_json::from_str::<ErrorBody>(&text).map(|b| b.error).unwrap_or_else(|_| cut(text.trim()));
            let retryable = matches!(status.as_u16(), 429 | 500 | 502 | 503);
            if retryable && attempt < self.config.retries {
                tokio::time::sleep(self.backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            if status == StatusCode::NOT_FOUND
                && let Some(model) = model
                && message.contains("not found")
                && serde_json::from_str::<ErrorBody>(&text).is_ok()
            {
                return Err(OllamaError::ModelNotFound { url: self.config.base_url.clone(), model: model.to_owned() });
            }
            return Err(OllamaError::Status { url, status: status.as_u16(), attempts: attempt + 1, body: message });
        }
    }

    async fn json<T: DeserializeOwned>(&self, path: &str, resp: reqwest::Response) -> Result<T, OllamaError> {
        let url = self.url(path);
        let text = resp.text().await.map_err(|e| self.transport_error(&url, e))?;
        serde_json::from_str(&text).map_err(|e| OllamaError::MalformedJson {
            url,
            line: cut(&text),
            reason: e.to_string(),
        })
    }

    /// Streams `/api/chat` or `/api/generate`, calling `on_text` with each piece as it arrives.
    pub async fn stream(
        &self,
        path: &str,
        body: &(impl Serialize + Sync),
        model: &str,
        mut on_text: impl FnMut(&str),
    ) -> Result<Completion, OllamaError> {
        let url = self.url(path);
        let resp = self.send(reqwest::Method::POST, path, Some(body), Some(model)).await?;
        let mut stream = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Completion::default();
        loop {
            // Take complete lines from the buffer before reading more.
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let Some(done) = self.line(&url, &line, &mut out, &mut on_text)? {
                    return Ok(done);
                }
            }
            match stream.next().await {
                Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(self.transport_error(&url, e)),
                None => {
                    // A last line without a newline still counts.
                    let rest = std::mem::take(&mut buf);
                    if let Some(done) = self.line(&url, &rest, &mut out, &mut on_text)? {
                        return Ok(done);
                    }
                    return Err(OllamaError::Truncated { url });
                }
            }
        }
    }

    fn line(
        &self,
        url: &str,
        line: &[u8],
        out: &mut Completion,
        on_text: &mut impl FnMut(&str),
    ) -> Result<Option<Completion>, OllamaError> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let chunk: StreamChunk = serde_json::from_str(text).map_err(|e| OllamaError::MalformedJson {
            url: url.to_owned(),
            line: cut(text),
            reason: e.to_string(),
        })?;
        if let Some(message) = chunk.error {
            return Err(OllamaError::Stream { url: url.to_owned(), message });
        }
        let piece = chunk.text();
        if !piece.is_empty() {
            on_text(piece);
            out.text.push_str(piece);
        }
        if let Some(lps) = chunk.logprobs {
            out.logprobs.get_or_insert_with(Vec::new).extend(lps);
        }
        if chunk.done {
            out.done_reason = chunk.done_reason;
            out.prompt_eval_count = chunk.prompt_eval_count.unwrap_or(0);
            out.prompt_eval_duration = chunk.prompt_eval_duration.unwrap_or(0);
            out.eval_count = chunk.eval_count.unwrap_or(0);
            out.eval_duration = chunk.eval_duration.unwrap_or(0);
            return Ok(Some(std::mem::take(out)));
        }
        Ok(None)
    }

    /// Embeds a batch with `/api/embed`; `Ok(None)` when the server is too old to have it.
    pub async fn embed(&self, model: &str, input: &[String]) -> Result<Option<Vec<Vec<f32>>>, OllamaError> {
        let body = EmbedRequest { model, input, keep_alive: self.config.keep_alive.as_deref() };
        match self.send(reqwest::Method::POST, "/api/embed", Some(&body), Some(model)).await {
            Ok(resp) => Ok(Some(self.json::<EmbedResponse>("/api/embed", resp).await?.embeddings)),
            // An old server has no such route: a plain-text 404, not a JSON error body.
            Err(OllamaError::Status { status: 404, body, .. }) if !body.contains("model") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Embeds one text with the legacy `/api/embeddings`.
    pub async fn embed_legacy(&self, model: &str, text: &str) -> Result<Vec<f32>, OllamaError> {
        let body = LegacyEmbedRequest { model, prompt: text };
        let resp = self.send(reqwest::Method::POST, "/api/embeddings", Some(&body), Some(model)).await?;
        Ok(self.json::<LegacyEmbedResponse>("/api/embeddings", resp).await?.embedding)
    }

    /// The server's local models (`/api/tags`).
    pub async fn tags(&self) -> Result<TagsResponse, OllamaError> {
        let resp = self.send(reqwest::Method::GET, "/api/tags", None::<&()>, None).await?;
        self.json("/api/tags", resp).await
    }

    /// A model's details (`/api/show`).
    pub async fn show(&self, model: &str) -> Result<ShowResponse, OllamaError> {
        let body = serde_json::json!({ "model": model });
        let resp = self.send(reqwest::Method::POST, "/api/show", Some(&body), Some(model)).await?;
        self.json("/api/show", resp).await
    }
}

/// What `/api/show` says about a model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelDetails {
    /// `general.architecture`.
    pub architecture: Option<String>,
    /// `<arch>.context_length`.
    pub context_length: Option<u64>,
    /// `<arch>.embedding_length`.
    pub embedding_length: Option<u64>,
    /// Capabilities (`completion`, `embedding`, …).
    pub capabilities: Vec<String>,
}

impl From<ShowResponse> for ModelDetails {
    fn from(s: ShowResponse) -> Self {
        let arch = s.model_info.get("general.architecture").and_then(|v| v.as_str()).map(str::to_owned);
        let num =
            |key: &str| arch.as_ref().and_then(|a| s.model_info.get(&format!("{a}.{key}"))).and_then(|v| v.as_u64());
        Self {
            context_length: num("context_length"),
            embedding_length: num("embedding_length"),
            architecture: arch.clone(),
            capabilities: s.capabilities,
        }
    }
}
