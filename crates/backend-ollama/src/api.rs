//! Ollama's wire format (the documented `/api` endpoints), as this client reads and writes it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Sampling options (`options` in requests).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Options {
    /// Temperature.
    pub temperature: f32,
    /// Top-k (0 disables).
    pub top_k: u32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Min-p.
    pub min_p: f32,
    /// Repeat penalty.
    pub repeat_penalty: f32,
    /// Seed.
    pub seed: i64,
    /// Most new tokens.
    pub num_predict: i64,
    /// Stop strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Context size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u32>,
}

/// A chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// system, user or assistant.
    pub role: String,
    /// Text.
    #[serde(default)]
    pub content: String,
}

/// `POST /api/chat`.
#[derive(Clone, Debug, Serialize)]
pub struct ChatRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// Messages.
    pub messages: &'a [Message],
    /// Stream NDJSON.
    pub stream: bool,
    /// Sampling.
    pub options: &'a Options,
    /// How long the server keeps the model loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<&'a str>,
    /// Ask for token log-probabilities (Ollama 0.12.11 and later).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logprobs: bool,
}

/// `POST /api/generate`.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// Prompt.
    pub prompt: &'a str,
    /// No template: the prompt is sent as is.
    pub raw: bool,
    /// Stream NDJSON.
    pub stream: bool,
    /// Sampling.
    pub options: &'a Options,
    /// How long the server keeps the model loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<&'a str>,
    /// Ask for token log-probabilities.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub logprobs: bool,
}

/// One token's log-probability.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TokenLogprob {
    /// The token's text.
    #[serde(default)]
    pub token: String,
    /// Its log-probability.
    pub logprob: f64,
}

/// One NDJSON line of a streamed `/api/chat` or `/api/generate` answer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct StreamChunk {
    /// Generate: the next piece of text.
    #[serde(default)]
    pub response: Option<String>,
    /// Chat: the next piece of the assistant's message.
    #[serde(default)]
    pub message: Option<Message>,
    /// Whether this is the last line.
    #[serde(default)]
    pub done: bool,
    /// Why generation stopped (`stop`, `length`, …) on the last line.
    #[serde(default)]
    pub done_reason: Option<String>,
    /// Prompt tokens evaluated.
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
    /// Prompt evaluation time in ns.
    #[serde(default)]
    pub prompt_eval_duration: Option<u64>,
    /// Generated tokens.
    #[serde(default)]
    pub eval_count: Option<u64>,
    /// Generation time in ns.
    #[serde(default)]
    pub eval_duration: Option<u64>,
    /// Token log-probabilities of this piece, when asked for and supported.
    #[serde(default)]
    pub logprobs: Option<Vec<TokenLogprob>>,
    /// An error reported in the middle of a stream.
    #[serde(default)]
    pub error: Option<String>,
}

impl StreamChunk {
    /// The text this line adds.
    pub fn text(&self) -> &str {
        self.response.as_deref().or(self.message.as_ref().map(|m| m.content.as_str())).unwrap_or("")
    }
}

/// `POST /api/embed`.
#[derive(Clone, Debug, Serialize)]
pub struct EmbedRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// Texts.
    pub input: &'a [String],
    /// How long the server keeps the model loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<&'a str>,
}

/// `/api/embed` answer.
#[derive(Clone, Debug, Deserialize)]
pub struct EmbedResponse {
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
}

/// `POST /api/embeddings` (the legacy, one-text endpoint).
#[derive(Clone, Debug, Serialize)]
pub struct LegacyEmbedRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// Text.
    pub prompt: &'a str,
}

/// `/api/embeddings` answer.
#[derive(Clone, Debug, Deserialize)]
pub struct LegacyEmbedResponse {
    /// The vector.
    pub embedding: Vec<f32>,
}

/// One model of `/api/tags`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ModelTag {
    /// Name with tag, e.g. `llama3.1:8b`.
    pub name: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
}

/// `/api/tags` answer.
#[derive(Clone, Debug, Deserialize)]
pub struct TagsResponse {
    /// Local models.
    #[serde(default)]
    pub models: Vec<ModelTag>,
}

/// `/api/show` answer (the parts used here).
#[derive(Clone, Debug, Deserialize)]
pub struct ShowResponse {
    /// GGUF-style metadata: `general.architecture`, `<arch>.context_length`, …
    #[serde(default)]
    pub model_info: serde_json::Map<String, Value>,
    /// `completion`, `embedding`, …
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// An error body: `{"error": "..."}`.
#[derive(Clone, Debug, Deserialize)]
pub struct ErrorBody {
    /// The message.
    pub error: String,
}
