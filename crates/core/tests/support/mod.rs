//! Deterministic stand-ins for real models, shared by the integration tests.
#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use autobranch_core::model::{
    CandidateTimings, Embedder, Embeddings, FinishReason, GeneratedCandidate, Generation, GenerationRequest,
    GenerationTimings, Generator, ModelError, Prompt,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bag-of-words hashing embedder: texts that share words are similar.
#[derive(Default)]
pub struct HashEmbedder {
    pub calls: AtomicUsize,
    pub texts: Mutex<Vec<String>>,
    pub fail: bool,
}

pub const DIM: usize = 32;

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

pub fn hash_vector(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; DIM];
    for word in text.split_whitespace() {
        let h = fnv(&word.to_lowercase());
        v[(h % DIM as u64) as usize] += if h & (1 << 40) == 0 { 1.0 } else { -1.0 };
    }
    v
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        "hash-embedder"
    }
    fn dim(&self) -> usize {
        DIM
    }
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.texts.lock().unwrap().extend(texts.iter().cloned());
        if self.fail {
            return Err(ModelError::Unavailable("test embedder is down".into()));
        }
        let rows: Vec<Vec<f32>> = texts.iter().map(|t| hash_vector(t)).collect();
        if rows.is_empty() {
            return Ok(Embeddings::empty(DIM));
        }
        Embeddings::from_rows(&rows)
    }
}

const WORDS: [&str; 24] = [
    "the",
    "ship",
    "drifted",
    "toward",
    "a",
    "red",
    "moon",
    "while",
    "memory",
    "returned",
    "slowly",
    "detective",
    "found",
    "a",
    "clue",
    "in",
    "dust",
    "laughing",
    "ending",
    "tragic",
    "rain",
    "fell",
    "quiet",
    "city",
];

/// Picks words at random from a small vocabulary, seeded per candidate.
#[derive(Default)]
pub struct WordGenerator {
    pub requests: Mutex<Vec<GenerationRequest>>,
}

pub fn words_for(seed: u64, max_tokens: u32) -> (String, u32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = rng.random_range(3..=max_tokens.clamp(3, 12));
    let text: Vec<&str> = (0..len).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect();
    (text.join(" "), len)
}

#[async_trait]
impl Generator for WordGenerator {
    fn model_id(&self) -> &str {
        "word-generator"
    }
    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        request.validate()?;
        self.requests.lock().unwrap().push(request.clone());
        let prompt_tokens = match &request.prompt {
            Prompt::Text(t) => t.split_whitespace().count(),
            Prompt::Chat(m) => m.iter().map(|m| m.content.split_whitespace().count()).sum(),
        } as u64;
        let candidates = (0..request.n)
            .map(|i| {
                let seed = request.candidate_seed(i);
                let (text, tokens) = words_for(seed, request.sampling.max_tokens);
                GeneratedCandidate {
                    text,
                    tokens,
                    logprob_mean: Some(-((seed % 7) as f64) / 4.0),
                    finish_reason: FinishReason::Length,
                    timings: CandidateTimings { generate_ms: 1.0 },
                }
            })
            .collect();
        Ok(Generation {
            candidates,
            timings: GenerationTimings { prompt_tokens, prompt_cached: 0, prompt_ms: 1.0, generate_ms: 1.0 },
        })
    }
}
