use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::ModelError;
use super::streaming::{Piece, StreamOptions};

/// Who speaks a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The user's turn.
    User,
    /// The model's turn.
    Assistant,
}

/// One message of a chat prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

/// What the model continues: raw text, or a chat rendered with the model's own template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Raw completion of this text.
    Text(String),
    /// A chat; the backend applies the model's chat template with a generation prompt.
    Chat(Vec<ChatMessage>),
}

/// Sampling settings shared by every candidate of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Most new tokens per candidate (≥ 1).
    pub max_tokens: u32,
    /// Softmax temperature (≥ 0); 0 means greedy.
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 turns it off.
    pub top_k: u32,
    /// Nucleus sampling mass in (0, 1]; 1 turns it off.
    pub top_p: f32,
    /// Drop tokens below `min_p` × the top probability, in [0, 1]; 0 turns it off.
    pub min_p: f32,
    /// Penalty for repeated tokens (> 0); 1 turns it off.
    pub repeat_penalty: f32,
    /// Base seed; candidate `i` samples with `seed + i`.
    pub seed: u64,
    /// Generation stops when any of these strings appears; it is cut from the text.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            max_tokens: 128,
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            seed: 42,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Checks every field's range, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |field: &str, value: String, allowed: &str| {
            Err(ModelError::InvalidRequest(format!("{field} = {value} is out of range; allowed: {allowed}")))
        };
        if self.max_tokens == 0 {
            return bad("max_tokens", "0".into(), "an integer ≥ 1");
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad("temperature", self.temperature.to_string(), "a number ≥ 0 (0 = greedy)");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", self.top_p.to_string(), "(0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", self.min_p.to_string(), "[0, 1]");
        }
        if !(self.repeat_penalty.is_finite() && self.repeat_penalty > 0.0) {
            return bad("repeat_penalty", self.repeat_penalty.to_string(), "a number > 0 (1 = off)");
        }
        if self.stop.iter().any(String::is_empty) {
            return bad("stop", "\"\"".into(), "non-empty strings");
        }
        Ok(())
    }
}

/// One request: `n` candidates continuing one prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// What to continue.
    pub prompt: Prompt,
    /// How many candidates (≥ 1).
    pub n: usize,
    /// Sampling settings.
    pub sampling: SamplingParams,
}

impl GenerationRequest {
    /// Checks `n` and the sampling settings.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.n == 0 {
            return Err(ModelError::InvalidRequest("n = 0 is out of range; allowed: an integer ≥ 1".into()));
        }
        if let Prompt::Chat(messages) = &self.prompt
            && messages.is_empty()
        {
            return Err(ModelError::InvalidRequest("chat prompt has no messages; give at least one".into()));
        }
        self.sampling.validate()
    }

    /// Seed of candidate `index`: the request seed plus the index.
    pub fn candidate_seed(&self, index: usize) -> u64 {
        self.sampling.seed.wrapping_add(index as u64)
    }

    /// The candidates' seeds in candidate order, in groups of at most `group` that a backend
    /// decodes side by side (`1`: one candidate at a time; `n`: all together).
    pub fn seed_groups(&self, group: usize) -> impl Iterator<Item = Vec<u64>> + '_ {
        let group = group.max(1);
        (0..self.n)
            .step_by(group)
            .map(move |start| (start..(start + group).min(self.n)).map(|i| self.candidate_seed(i)).collect())
    }
}

/// The log-probability of `token` under `logits` (a log-softmax of one entry), as the
/// backends report a candidate's mean log-probability; `-inf` for a token outside `logits`.
/// The exponentials run in eight independent f32 lanes (a vocabulary is tens of thousands
/// of logits, summed once per generated token), the total in f64.
pub fn log_prob(logits: &[f32], token: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut lanes = [0.0f32; 8];
    let chunks = logits.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&l| f64::from((l - max).exp())).sum();
    for chunk in chunks {
        for (lane, &l) in lanes.iter_mut().zip(chunk) {
            *lane += (l - max).exp();
        }
    }
    let sum = lanes.iter().map(|&a| f64::from(a)).sum::<f64>() + tail;
    let l = logits.get(token).copied().unwrap_or(f32::NEG_INFINITY);
    f64::from(l - max) - sum.ln()
}

/// Why a candidate stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model produced end-of-generation.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// A stop string appeared.
    StopString,
}

/// Per-candidate timing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidateTimings {
    /// Wall time from the first decode step to this candidate's end, in ms.
    pub generate_ms: f64,
}

/// One generated candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratedCandidate {
    /// Generated text (stop string removed).
    pub text: String,
    /// Number of generated tokens.
    pub tokens: u32,
    /// Mean log-probability of the sampled tokens, when the backend has one.
    pub logprob_mean: Option<f64>,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Timing.
    pub timings: CandidateTimings,
}

/// Per-request timing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationTimings {
    /// Tokens of the (shared) prompt.
    pub prompt_tokens: u64,
    /// Of those, the leading tokens the backend did not compute: their cells were in its
    /// cache already (a prefix shared with another request). 0 where a backend cannot tell.
    #[serde(default)]
    pub prompt_cached: u64,
    /// Prompt evaluation time in ms.
    pub prompt_ms: f64,
    /// Decode time in ms.
    pub generate_ms: f64,
}

/// The answer to a [`GenerationRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// `n` candidates in seed order.
    pub candidates: Vec<GeneratedCandidate>,
    /// Request timing.
    pub timings: GenerationTimings,
}

impl Generation {
    /// Generated tokens over all candidates.
    pub fn generated_tokens(&self) -> u64 {
        self.candidates.iter().map(|c| u64::from(c.tokens)).sum()
    }

    /// Generated tokens per decode second (prompt evaluation excluded).
    pub fn tokens_per_s(&self) -> f64 {
        if self.timings.generate_ms > 0.0 {
            self.generated_tokens() as f64 / (self.timings.generate_ms / 1000.0)
        } else {
            0.0
        }
    }
}

/// Produces `n` candidate continuations of one prompt.
#[async_trait]
pub trait Generator: Send + Sync {
    /// A stable identifier of the model (path or name), recorded in outputs.
    fn model_id(&self) -> &str;

    /// Generates `request.n` candidates; implementations call `request.validate()` first.
    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError>;

    /// Generates as [`generate`](Self::generate) does, handing each candidate's text to
    /// `on_piece` as it is produced. This default hands over each whole text once the
    /// generation is done, without token detail; backends that decode locally stream token
    /// by token (see [`streams_tokens`](Self::streams_tokens)).
    async fn generate_streaming(
        &self,
        request: &GenerationRequest,
        options: StreamOptions,
        on_piece: &(dyn Fn(Piece) + Send + Sync),
    ) -> Result<Generation, ModelError> {
        let _ = options;
        let generation = self.generate(request).await?;
        for (candidate, c) in generation.candidates.iter().enumerate() {
            on_piece(Piece { candidate, text: c.text.clone(), token: None, top: Vec::new() });
        }
        Ok(generation)
    }

    /// Whether [`generate_streaming`](Self::generate_streaming) streams token by token and
    /// reports each token's log-probability when asked.
    fn streams_tokens(&self) -> bool {
        false
    }

    /// Generates several requests, each with its own prompt and `n`, one answer per request
    /// in order. This default runs them one after another; backends that batch (llama.cpp)
    /// decode them all together, each prompt once.
    async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
        let mut out = Vec::with_capacity(requests.len());
        for request in requests {
            out.push(self.generate(request).await);
        }
        out
    }

    /// A hint: the caller's next requests begin with the `next` prompts, and all of its
    /// requests, earlier ones included, begin with `root`. A generator that keeps a prompt
    /// cache (llama.cpp's) may drop what it holds under `root` that begins none of `next`;
    /// an explore tree sends it after each expansion, with its queue. The default ignores it.
    async fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
        let _ = (root, next);
    }
}

/// `Generator` for the smart pointers, every method forwarded (the defaults included, so a
/// backend's own batching and streaming survive the wrapping).
macro_rules! forward_generator {
    ($($pointer:ident),*) => {$(
        #[async_trait]
        impl<G: Generator + ?Sized> Generator for $pointer<G> {
            fn model_id(&self) -> &str {
                (**self).model_id()
            }
            async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
                (**self).generate(request).await
            }
            async fn generate_streaming(
                &self,
                request: &GenerationRequest,
                options: StreamOptions,
                on_piece: &(dyn Fn(Piece) + Send + Sync),
            ) -> Result<Generation, ModelError> {
                (**self).generate_streaming(request, options, on_piece).await
            }
            fn streams_tokens(&self) -> bool {
                (**self).streams_tokens()
            }
            async fn generate_batch(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation, ModelError>> {
                (**self).generate_batch(requests).await
            }
            async fn expect_prompts(&self, root: &Prompt, next: &[Prompt]) {
                (**self).expect_prompts(root, next).await
            }
        }
    )*};
}

forward_generator!(Arc, Box);

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> GenerationRequest {
        GenerationRequest { prompt: Prompt::Text("hi".into()), n: 2, sampling: SamplingParams::default() }
    }

    #[test]
    fn validation_names_the_field() {
        let mut r = request();
        r.n = 0;
        assert!(r.validate().unwrap_err().to_string().contains("n = 0"));
        let mut r = request();
        r.sampling.temperature = -0.1;
        assert!(r.validate().unwrap_err().to_string().contains("temperature"));
        for top_p in [0.0, 1.5, f32::NAN] {
            let mut r = request();
            r.sampling.top_p = top_p;
            assert!(r.validate().unwrap_err().to_string().contains("top_p"), "{top_p}");
        }
        let mut r = request();
        r.sampling.top_p = 1.0;
        assert!(r.validate().is_ok());
    }

    #[test]
    fn candidate_seeds_follow_the_request_seed() {
        let r = request();
        assert_eq!(r.candidate_seed(3), 45);
    }

    #[test]
    fn log_prob_is_a_log_softmax() {
        let logits: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
        let z: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
        for t in [0, 5, 36] {
            assert!((log_prob(&logits, t) - (f64::from(logits[t]) - z.ln())).abs() < 1e-5);
        }
        assert!(log_prob(&logits, 99).is_infinite());
        assert_eq!(log_prob(&[3.0], 0), 0.0);
    }

    #[test]
    fn seed_groups_cover_every_candidate_once_in_order() {
        let mut r = request();
        r.n = 5;
        assert_eq!(r.seed_groups(5).collect::<Vec<_>>(), vec![vec![42, 43, 44, 45, 46]]);
        assert_eq!(r.seed_groups(2).collect::<Vec<_>>(), vec![vec![42, 43], vec![44, 45], vec![46]]);
        assert_eq!(r.seed_groups(1).count(), 5);
        assert_eq!(r.seed_groups(0).count(), 5, "a group of 0 is read as 1");
    }
}
