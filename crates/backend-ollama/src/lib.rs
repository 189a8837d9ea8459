//! # autobranch-ollama
//!
//! A remote [Ollama](https://ollama.com) server as an autobranch backend.
//!
//! - [`OllamaGenerator`] uses `/api/chat` for chats and `/api/generate` (raw) for plain
//!   prompts, with every sampling option mapped. Ollama has no `n`: a request for `n`
//!   candidates fans out as `n` concurrent streamed requests with seeds `seed + i`, bounded
//!   by a concurrency limit. How many really run at once is decided by the server's
//!   `OLLAMA_NUM_PARALLEL`; above it, requests queue on the server.
//! - Token log-probabilities are asked for (`logprobs: true`, Ollama 0.12.11 and later);
//!   when the server sends none, a warning is logged once and candidates carry no
//!   `logprob_mean`, so scoring uses its neutral confidence.
//! - [`OllamaEmbedder`] batches through `/api/embed` and falls back to the legacy
//!   `/api/embeddings` on older servers.
//! - Errors say what to do: connection refused names the URL and `ollama serve`, an unknown
//!   model suggests `ollama pull`, 429/500/502/503 are retried with exponential backoff and
//!   jitter, and malformed lines are quoted.
//!
//! Why a thin `reqwest` client instead of the `ollama-rs` crate (measured on 0.3.6):
//! ollama-rs has no `done_reason` field in its responses, and its default features pull
//! reqwest 0.12 with native-tls, so OpenSSL headers become a build requirement (its
//! dependency tree has 252 lines). This client needs plain HTTP only (a `tls` feature adds
//! rustls for remote HTTPS servers) and reads every field the pipeline uses.

pub mod api;
mod client;
mod embedder;
mod generator;
pub mod host;
#[cfg(feature = "mock-server")]
pub mod mock;

pub use client::{ClientConfig, Completion, ModelDetails, OllamaClient, OllamaError};
pub use embedder::OllamaEmbedder;
pub use generator::OllamaGenerator;
