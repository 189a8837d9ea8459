//! A thin HTTP client for OpenAI-compatible APIs: Bearer authentication, retries with
//! backoff that honour `Retry-After`, server-sent-event reading, and errors that say what to
//! do without ever showing the key.

use std::fmt;
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{ModelsResponse, error_body_message};
use crate::config::{OpenAiConfig, host};
use crate::error::{OpenAiError, shorten};
use crate::sse::{SseDecoder, SseItem};

/// How a streamed answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// `data: [DONE]` arrived.
    Done,
    /// The body ended without it, after this many events.
    Eof(usize),
}

/// The HTTP client for one server.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    config: OpenAiConfig,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The error and every error it wraps, outermost first.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The wait a 429 or 503 answer asks for: `retry-after-ms` (milliseconds, as OpenAI sends)
/// or `Retry-After` in seconds. The HTTP-date form is not read.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let secs = number("retry-after-ms").map(|ms| ms / 1000.0).or_else(|| number("retry-after"))?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Whether an error message says that `model` does not exist.
fn names_missing_model(status: u16, message: &str, model: &str) -> bool {
    let m = message.to_lowercase();
    let about_model = m.contains("model");
    let missing = ["not found", "does not exist", "not exist", "unknown model", "no such model", "model_not_found"]
        .iter()
        .any(|k| m.contains(k));
    match status {
        404 => about_model && (missing || (!model.is_empty() && message.contains(model))),
        // A 400 can name the model for other reasons ("x does not support logprobs").
        400 | 422 => about_model && missing,
        _ => false,
    }
}

fn install_crypto_provider() {
    // reqwest is built without a default rustls provider (that would be aws-lc, a large C
    // build), by this crate's `tls` feature or another crate's; ring is already part of the
    // workspace. Another installed provider is kept.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl OpenAiClient {
    /// A client for `config.base_url`.
    pub fn new(config: OpenAiConfig) -> Result<Self, OpenAiError> {
        let base_url = crate::config::base_url(&config.base_url)
            .map_err(|reason| OpenAiError::InvalidBaseUrl { value: config.base_url.clone(), reason })?;
        if base_url.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(OpenAiError::InvalidBaseUrl {
                value: base_url,
                reason: "this build has no TLS; enable the `tls` feature of autobranch-openai".into(),
            });
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| OpenAiError::Http { url: base_url.clone(), reason: chain(&e) })?;
        Ok(Self { http, config: OpenAiConfig { base_url, ..config } })
    }

    /// The settings.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// `host[:port]` of the server, as model ids show it.
    pub fn host(&self) -> &str {
        host(&self.config.base_url)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    /// Server text fit for an error message: the key replaced, then cut to 200 characters.
    pub(crate) fn server_text(&self, text: &str) -> String {
        let text = match &self.config.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "<redacted>"),
            _ => text.to_owned(),
        };
        shorten(&text)
    }

    pub(crate) fn malformed(&self, url: &str, text: &str, reason: impl fmt::Display) -> OpenAiError {
        OpenAiError::Malformed { url: url.to_owned(), text: self.server_text(text), reason: reason.to_string() }
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> OpenAiError {
        if e.is_timeout() {
            OpenAiError::Timeout { url: url.to_owned(), secs: self.config.timeout.as_secs() }
        } else if e.is_connect() {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            OpenAiError::Connect { url: self.config.base_url.clone(), reason }
        } else {
            OpenAiError::Http { url: url.to_owned(), reason: self.server_text(&chain(e)) }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.config.backoff.saturating_mul(1 << attempt.min(16));
        let capped = exp.min(self.config.backoff_cap);
        // Jitter between half and all of the capped delay, so concurrent retries spread out.
        capped.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    /// Sends a request, retrying 429, 500, 502, 503 and 504. `model` names the model for a
    /// "no such model" answer.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
        model: Option<&str>,
    ) -> Result<reqwest::Response, OpenAiError> {
        let url = self.url(path);
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(key) = &self.config.api_key {
                req = req.bearer_auth(key.expose());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| self.transport_error(&url, &e))?;
            let status = resp.status().as_u16();
            if resp.status().is_success() {
                return Ok(resp);
            }
            let asked_wait = retry_after(resp.headers());
            let text = resp.text().await.unwrap_or_default();
            let message = match self.server_text(&error_body_message(&text)) {
                m if m.is_empty() => "(no message)".to_owned(),
                m => m,
            };
            if matches!(status, 429 | 500 | 502 | 503 | 504) && attempt < self.config.retries {
                let wait = asked_wait.map_or_else(|| self.backoff(attempt), |w| w.min(self.config.max_retry_after));
                tracing::debug!("{url} answered {status}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(self.status_error(url, status, attempt + 1, message, model));
        }
    }

    fn status_error(
        &self,
        url: String,
        status: u16,
        attempts: u32,
        message: String,
        model: Option<&str>,
    ) -> OpenAiError {
        if matches!(status, 401 | 403) {
            return OpenAiError::Auth {
                url,
                status,
                env: self.config.api_key_env.clone(),
                key_sent: self.config.api_key.is_some(),
                message,
            };
        }
        if let Some(model) = model
            && names_missing_model(status, &message, model)
        {
            // `post` fills in what the server offers.
            let available = Err("not listed".to_owned());
            return OpenAiError::ModelNotFound {
                url: self.config.base_url.clone(),
                model: model.to_owned(),
                available,
            };
        }
        match status {
            400 | 422 => OpenAiError::BadRequest { url, status, message },
            404 => OpenAiError::Status {
                url,
                status,
                attempts,
                message: format!("{message}; check the base URL, which must end in the API version (e.g. …/v1)"),
            },
            _ => OpenAiError::Status { url, status, attempts, message },
        }
    }

    /// POSTs a JSON body to `path` (e.g. `/chat/completions`) for `model`.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: &(impl Serialize + Sync),
        model: &str,
    ) -> Result<reqwest::Response, OpenAiError> {
        match self.send(reqwest::Method::POST, path, Some(body), Some(model)).await {
            Err(OpenAiError::ModelNotFound { url, model, .. }) => {
                let available = self.models().await.map_err(|e| e.to_string());
                Err(OpenAiError::ModelNotFound { url, model, available })
            }
            other => other,
        }
    }

    /// Reads a whole JSON answer.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        &self,
        path: &str,
        resp: reqwest::Response,
    ) -> Result<T, OpenAiError> {
        let url = self.url(path);
        let text = resp.text().await.map_err(|e| self.transport_error(&url, &e))?;
        serde_json::from_str(&text).map_err(|e| self.malformed(&url, &text, e))
    }

    /// Reads a server-sent-event answer, handing each `data:` payload (and its event name) to
    /// `on_data`, until `data: [DONE]` or the end of the body.
    pub(crate) async fn read_events(
        &self,
        path: &str,
        resp: reqwest::Response,
        mut on_data: impl FnMut(Option<&str>, &str) -> Result<(), OpenAiError>,
    ) -> Result<StreamEnd, OpenAiError> {
        let url = self.url(path);
        let mut decoder = SseDecoder::default();
        let mut events = 0;
        let mut body = resp.bytes_stream();
        let mut handle = |item: SseItem, events: &mut usize| -> Result<Option<StreamEnd>, OpenAiError> {
            match item {
                SseItem::Done => Ok(Some(StreamEnd::Done)),
                SseItem::Malformed(line) => Err(self.malformed(&url, &line, "not a server-sent-event line")),
                SseItem::Data { event, data } => {
                    *events += 1;
                    on_data(event.as_deref(), &data).map(|()| None)
                }
            }
        };
        loop {
            match body.next().await {
                Some(Ok(bytes)) => {
                    for item in decoder.feed(&bytes) {
                        if let Some(end) = handle(item, &mut events)? {
                            return Ok(end);
                        }
                    }
                }
                Some(Err(e)) if e.is_timeout() => return Err(self.transport_error(&url, &e)),
                Some(Err(e)) => {
                    return Err(OpenAiError::Cut { url: url.clone(), events, reason: self.server_text(&chain(&e)) });
                }
                None => {
                    if let Some(item) = decoder.finish()
                        && let Some(end) = handle(item, &mut events)?
                    {
                        return Ok(end);
                    }
                    return Ok(StreamEnd::Eof(events));
                }
            }
        }
    }

    /// The model names `GET /models` lists.
    pub async fn models(&self) -> Result<Vec<String>, OpenAiError> {
        let resp = self.send(reqwest::Method::GET, "/models", None::<&()>, None).await?;
        let list: ModelsResponse = self.read_json("/models", resp).await?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn missing_model_messages_are_recognised() {
        assert!(names_missing_model(404, "The model `gpt-9` does not exist", "gpt-9"));
        assert!(names_missing_model(400, "model 'x' not found", "x"));
        assert!(!names_missing_model(404, "404 page not found", "x"));
        assert!(!names_missing_model(404, "Invalid URL (POST /v1/models/x/chat)", "y"));
        assert!(!names_missing_model(400, "temperature must be positive", "x"));
        assert!(!names_missing_model(500, "model crashed", "x"));
    }

    #[test]
    fn https_clients_build_with_the_tls_feature_only() {
        let built = OpenAiClient::new(OpenAiConfig::default());
        if cfg!(feature = "tls") {
            assert_eq!(built.unwrap().host(), "api.openai.com");
        } else {
            assert!(built.unwrap_err().to_string().contains("`tls` feature"));
        }
    }

    #[test]
    fn server_text_hides_the_key_before_cutting() {
        let config = OpenAiConfig { base_url: "http://h/v1".into(), ..OpenAiConfig::default() };
        let client = OpenAiClient::new(config.with_api_key("sk-secret")).unwrap();
        let text = format!("{}Incorrect API key provided: sk-secret", "x".repeat(190));
        let shown = client.server_text(&text);
        assert!(!shown.contains("sk-sec") && shown.ends_with('…'), "{shown}");
        assert!(!format!("{client:?}").contains("sk-secret"));
    }
}
