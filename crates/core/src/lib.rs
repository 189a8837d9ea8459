//! # autobranch-core
//!
//! Controlled branching generation with LLMs: generate several candidates from a parent,
//! score them, keep the best k, prune near-duplicates, decide when to stop from the entropy
//! of their clusters, and stay inside a node/token/time budget. Model code lives in the
//! backend crates; this crate defines the [`Generator`](model::Generator) and
//! [`Embedder`](model::Embedder) traits they implement.
//!
//! Modules mirror the behavioural specification: [`scoring`], [`beam`], [`novelty`],
//! [`entropy`], [`budget`], [`selector`], [`config`], [`explore`], [`detect`] and
//! [`conversation`].
//!
//! ```
//! use autobranch_core::{Candidate, Config, StepVectors};
//!
//! let mut selector = Config::default().build_selector();
//! let parent = Candidate::new("root", "Name a colour").unwrap();
//! let candidates = vec![
//!     Candidate::new("a", "red").unwrap().with_meta("logprobs", -0.2),
//!     Candidate::new("b", "crimson").unwrap().with_meta("logprobs", -0.9),
//!     Candidate::new("c", "blue").unwrap().with_meta("logprobs", -0.4),
//! ];
//! // Vectors from any embedder; here three made-up 2-d ones.
//! let vectors = StepVectors::precomputed(
//!     ("root", &[1.0, 0.0]),
//!     &[("a", &[0.8, 0.6]), ("b", &[0.79, 0.61]), ("c", &[0.6, -0.8])],
//! )
//! .unwrap();
//! let result = selector.step_with_vectors(&parent, candidates, Some(&vectors)).unwrap();
//! // "crimson" is a near-duplicate of "red" (cosine > 0.85) and is pruned.
//! let kept: Vec<&str> = result.kept.iter().map(|c| c.text()).collect();
//! assert_eq!(kept, ["red", "blue"]);
//! ```

pub mod beam;
pub mod budget;
pub mod candidate;
pub mod config;
pub mod conversation;
pub mod detect;
pub mod entropy;
pub mod error;
pub mod explore;
pub mod model;
pub mod novelty;
pub mod scoring;
pub mod selector;
pub mod vectors;

pub use candidate::{Candidate, Meta, ScoredCandidate};
pub use config::{Config, ConfigError};
pub use error::{InputError, StepError};
pub use model::{Embedder, Embeddings, Generator, ModelError};
pub use selector::{BranchSelector, Duplicate, SelectorState, StepResult};
pub use vectors::StepVectors;
