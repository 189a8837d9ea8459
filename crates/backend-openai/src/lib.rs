//! # autobranch-openai
//!
//! Any OpenAI-compatible server as an autobranch backend: vLLM, SGLang, llama-server,
//! LM Studio or a hosted API.
//!
//! - [`OpenAiGenerator`] sends chats to `POST {base}/chat/completions` and plain prompts to
//!   `POST {base}/completions`, with every sampling field mapped (see the [`generator`]
//!   module for which server reads which). `n` is sent natively; a server that returns fewer
//!   choices (or rejects `n`) gets the rest as concurrent requests with seeds `seed + i`,
//!   bounded by a concurrency limit, and this is remembered and reported once.
//! - Token log-probabilities are asked for and averaged into `logprob_mean`; a server that
//!   rejects the field is asked again without it, once, with one warning.
//! - With a token callback the answers stream as server-sent events, demultiplexed by choice
//!   `index`; usage counts feed the token counts and timings.
//! - [`OpenAiEmbedder`] batches `POST {base}/embeddings` and checks count, order and
//!   dimensions.
//! - [`OpenAiConfig`] reads `OPENAI_BASE_URL` and `OPENAI_API_KEY` (or a named variable);
//!   the key never appears in `Debug` output, errors or logs. 429 and 5xx answers are
//!   retried with exponential backoff and jitter, honouring `Retry-After`.
//! - Errors say what to do and map onto core's [`ModelError`](autobranch_core::ModelError):
//!   an unknown model (named, with what `GET {base}/models` offers) or a rejected request is
//!   `InvalidRequest`; a server that is down or refuses the key is `Unavailable`; failures
//!   while answering are `Backend`.
//!
//! ```
//! use autobranch_core::model::{ChatMessage, GenerationRequest, Generator, Prompt, Role, SamplingParams};
//! use autobranch_openai::mock::{MockConfig, MockOpenAi};
//! use autobranch_openai::{OpenAiClient, OpenAiConfig, OpenAiGenerator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A stand-in server; against a real one use `OpenAiConfig::from_env(None, None)?`.
//! let server = MockOpenAi::start(MockConfig::default()).await?;
//! let client = OpenAiClient::new(OpenAiConfig::new(&server.url)?)?;
//! let generator = OpenAiGenerator::new(client, "mock-chat", 4);
//! let request = GenerationRequest {
//!     prompt: Prompt::Chat(vec![ChatMessage::new(Role::User, "Tell me about Mars.")]),
//!     n: 3,
//!     sampling: SamplingParams::default(),
//! };
//! let generation = generator.generate(&request).await?;
//! assert_eq!(generation.candidates.len(), 3);
//! assert_eq!(server.stats.requests(), 1, "native n: one request");
//! # Ok(())
//! # }
//! ```

mod answer;
mod api;
mod client;
mod compat;
pub mod config;
mod embedder;
mod error;
pub mod generator;
#[cfg(feature = "mock-server")]
pub mod mock;
mod sse;

pub use answer::TokenCallback;
pub use client::OpenAiClient;
pub use compat::TokenLimit;
pub use config::{ApiKey, OpenAiConfig};
pub use embedder::OpenAiEmbedder;
pub use error::OpenAiError;
pub use generator::OpenAiGenerator;
