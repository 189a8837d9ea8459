//! The OpenAI wire format as this client writes and reads it. Responses are read leniently
//! (every field optional) because compatible servers differ in what they fill in.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One chat message.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Message<'a> {
    /// system, user or assistant.
    pub role: &'static str,
    /// Text.
    pub content: &'a str,
}

/// `stream_options`.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct StreamOptions {
    /// Ask for a final chunk with token counts.
    pub include_usage: bool,
}

/// The fields chat and text completions share.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct CommonFields<'a> {
    /// Choices wanted; left out for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// Most new tokens (every server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Most new tokens (OpenAI's newer name, chat only; reasoning models need it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Temperature.
    pub temperature: f32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Seed.
    pub seed: u64,
    /// Stop strings.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    /// Top-k (vLLM, SGLang, llama-server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Min-p (vLLM, SGLang, llama-server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    /// Repetition penalty (vLLM's and SGLang's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f32>,
    /// Repetition penalty (llama-server's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f32>,
    /// Stream server-sent events.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Streaming options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// `POST /chat/completions`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// The conversation.
    pub messages: Vec<Message<'a>>,
    /// Ask for the sampled tokens' log-probabilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub common: CommonFields<'a>,
}

/// `POST /completions`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CompletionRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// Raw prompt.
    pub prompt: &'a str,
    /// How many top alternatives to return with each token's log-probability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u8>,
    /// Everything else.
    #[serde(flatten)]
    pub common: CommonFields<'a>,
}

/// A chat message or delta in an answer.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct MessageBody {
    /// Text; servers send `null` for some deltas.
    #[serde(default)]
    pub content: Option<String>,
}

/// One choice of an answer or of a streamed chunk.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ChoiceBody {
    /// Which choice.
    #[serde(default)]
    pub index: usize,
    /// Chat answer.
    #[serde(default)]
    pub message: Option<MessageBody>,
    /// Chat chunk.
    #[serde(default)]
    pub delta: Option<MessageBody>,
    /// Text completion (whole or piece).
    #[serde(default)]
    pub text: Option<String>,
    /// `stop`, `length`, … once the choice is complete.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// vLLM and SGLang: the stop string (or token id) that ended the choice.
    #[serde(default)]
    pub stop_reason: Option<Value>,
    /// Chat: `{"content": [{"logprob": …}]}`; completions: `{"token_logprobs": […]}`.
    #[serde(default)]
    pub logprobs: Option<Value>,
}

impl ChoiceBody {
    /// The text this choice (or chunk) carries.
    pub fn text(&self) -> &str {
        fn content(m: &Option<MessageBody>) -> Option<&str> {
            m.as_ref().and_then(|m| m.content.as_deref())
        }
        content(&self.message).or(content(&self.delta)).or(self.text.as_deref()).unwrap_or("")
    }
}

/// Token counts.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub(crate) struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    /// Generated tokens over all choices.
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    /// What the prompt tokens were made of (vLLM, SGLang and llama-server count the ones
    /// their prefix cache held).
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// `usage.prompt_tokens_details`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub(crate) struct PromptTokensDetails {
    /// Prompt tokens read from the server's cache.
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// llama-server's own timing report, sent alongside the OpenAI fields.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub(crate) struct ServerTimings {
    /// Prompt evaluation time.
    #[serde(default)]
    pub prompt_ms: Option<f64>,
}

/// A completion answer or one streamed chunk of it.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ResponseBody {
    /// Choices (a usage-only chunk has none).
    #[serde(default)]
    pub choices: Vec<ChoiceBody>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// llama-server timings.
    #[serde(default)]
    pub timings: Option<ServerTimings>,
    /// An error reported in place of an answer or a chunk.
    #[serde(default)]
    pub error: Option<Value>,
    /// vLLM's error shape: `{"object": "error", "message": …}`.
    #[serde(default)]
    pub object: Option<String>,
    /// The message of vLLM's error shape.
    #[serde(default)]
    pub message: Option<String>,
}

impl ResponseBody {
    /// The error this body reports instead of an answer, if it is one.
    pub fn error_message(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(value_message(e));
        }
        (self.object.as_deref() == Some("error")).then(|| self.message.clone().unwrap_or_else(|| "error".into()))
    }
}

/// `POST /embeddings`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct EmbeddingsRequest<'a> {
    /// Model name.
    pub model: &'a str,
    /// Texts.
    pub input: &'a [String],
    /// Requested vector length (OpenAI's `text-embedding-3-*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<usize>,
}

/// One vector of an embeddings answer.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct EmbeddingItem {
    /// Which input it belongs to.
    #[serde(default)]
    pub index: Option<usize>,
    /// The vector.
    pub embedding: Vec<f32>,
}

/// The embeddings answer.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct EmbeddingsResponse {
    /// One item per input, not necessarily in input order.
    pub data: Vec<EmbeddingItem>,
}

/// One entry of `GET /models`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ModelEntry {
    /// The model's name.
    pub id: String,
}

/// `GET /models`.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ModelsResponse {
    /// The models.
    #[serde(default)]
    pub data: Vec<ModelEntry>,
}

/// The sampled tokens' log-probabilities in either shape: chat's `content[].logprob` or
/// completions' `token_logprobs[]` (nulls skipped).
pub(crate) fn token_logprobs(logprobs: &Value) -> Vec<f64> {
    if let Some(content) = logprobs.get("content").and_then(Value::as_array) {
        return content.iter().filter_map(|t| t.get("logprob").and_then(Value::as_f64)).collect();
    }
    logprobs
        .get("token_logprobs")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// The human message in an error value: a string, `{"message": …}` or `{"error": …}`.
fn value_message(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => match (m.get("message"), m.get("error"), m.get("detail")) {
            (Some(msg), ..) | (None, Some(msg), _) | (None, None, Some(msg)) => value_message(msg),
            _ => v.to_string(),
        },
        Value::Array(items) => items.iter().map(value_message).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// The message of an error body in any of the shapes servers use (OpenAI's
/// `{"error": {"message": …}}`, vLLM's `{"object": "error", "message": …}`, `{"error": "…"}`,
/// FastAPI's `{"detail": …}`); otherwise the body itself.
pub(crate) fn error_body_message(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v @ Value::Object(_)) => value_message(&v),
        _ => body.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn logprobs_are_read_in_both_shapes() {
        let chat = json!({"content": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.5}]});
        assert_eq!(token_logprobs(&chat), [-0.5, -1.5]);
        let text = json!({"tokens": ["a", "b", "c"], "token_logprobs": [null, -0.25, -0.75]});
        assert_eq!(token_logprobs(&text), [-0.25, -0.75]);
        assert!(token_logprobs(&Value::Null).is_empty());
    }

    #[test]
    fn error_messages_are_found_in_every_shape() {
        let openai = r#"{"error": {"message": "The model `x` does not exist", "type": "invalid_request_error"}}"#;
        assert_eq!(error_body_message(openai), "The model `x` does not exist");
        let vllm = r#"{"object": "error", "message": "bad n", "type": "BadRequestError", "code": 400}"#;
        assert_eq!(error_body_message(vllm), "bad n");
        assert_eq!(error_body_message(r#"{"error": "plain"}"#), "plain");
        assert_eq!(error_body_message(r#"{"detail": [{"msg": "field required"}]}"#), r#"{"msg":"field required"}"#);
        assert_eq!(error_body_message(" 404 page not found\n"), "404 page not found");
    }

    #[test]
    fn requests_leave_out_what_is_not_set() {
        let common = CommonFields { temperature: 0.5, top_p: 1.0, seed: 7, ..CommonFields::default() };
        let body = serde_json::to_value(ChatRequest {
            model: "m",
            messages: vec![Message { role: "user", content: "hi" }],
            logprobs: None,
            common,
        })
        .unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "top_p": 1.0, "seed": 7})
        );
    }
}
