//! Plugging your own models into autobranch: a custom `Generator` and `Embedder` used by
//! one selector step and by a whole tree exploration.
//!
//! Run with `cargo run -p autobranch-core --example custom_models`.

use async_trait::async_trait;
use autobranch_core::explore::Explorer;
use autobranch_core::model::{
    CandidateTimings, Embedder, Embeddings, FinishReason, GeneratedCandidate, Generation, GenerationRequest,
    GenerationTimings, Generator, ModelError,
};
use autobranch_core::{Candidate, Config};

/// A "model" that continues a story from a fixed list of twists, chosen by seed.
struct TwistGenerator;

const TWISTS: [&str; 6] = [
    "The detective realises the victim staged the whole scene.",
    "The detective realises the victim staged the entire crime scene.",
    "A dust storm buries the only witness under the colony dome.",
    "The colony's AI confesses, but its logs were forged.",
    "The detective's partner was on Earth the whole time.",
    "The oxygen ledger shows one colonist too many.",
];

#[async_trait]
impl Generator for TwistGenerator {
    fn model_id(&self) -> &str {
        "twist-list"
    }

    async fn generate(&self, request: &GenerationRequest) -> Result<Generation, ModelError> {
        request.validate()?;
        let candidates = (0..request.n)
            .map(|i| {
                let text = TWISTS[(request.candidate_seed(i) % TWISTS.len() as u64) as usize].to_owned();
                GeneratedCandidate {
                    tokens: text.split_whitespace().count() as u32,
                    text,
                    logprob_mean: Some(-0.3 - 0.1 * i as f64),
                    finish_reason: FinishReason::Stop,
                    timings: CandidateTimings::default(),
                }
            })
            .collect();
        Ok(Generation { candidates, timings: GenerationTimings::default() })
    }
}

/// Character-trigram hashing: texts sharing many trigrams get similar vectors.
struct TrigramEmbedder;

#[async_trait]
impl Embedder for TrigramEmbedder {
    fn model_id(&self) -> &str {
        "trigram-hash-256"
    }

    fn dim(&self) -> usize {
        256
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        let mut flat = vec![0.0f32; texts.len() * 256];
        for (row, text) in flat.chunks_exact_mut(256).zip(texts) {
            let chars: Vec<char> = text.to_lowercase().chars().collect();
            for w in chars.windows(3) {
                let h = w.iter().fold(2166136261u32, |h, c| (h ^ *c as u32).wrapping_mul(16777619));
                row[(h % 256) as usize] += 1.0;
            }
        }
        // Rows are L2-normalised by the constructor.
        Embeddings::from_flat(256, flat)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One selector step over candidates from the generator.
    let config = Config {
        beam_k: 4,
        explore: autobranch_core::config::ExploreConfig { n: 6, max_depth: 2, ..Default::default() },
        ..Config::default()
    };
    let mut selector = config.build_selector();
    let parent = Candidate::new("root", "Give the Mars detective story a plot twist.")?;
    let request = autobranch_core::model::GenerationRequest {
        prompt: autobranch_core::model::Prompt::Text(parent.text.clone()),
        n: 6,
        sampling: config.generation.clone(),
    };
    let generation = TwistGenerator.generate(&request).await?;
    let candidates = generation
        .candidates
        .iter()
        .enumerate()
        .map(|(i, g)| {
            Candidate::new(format!("c{i}"), g.text.clone())
                .map(|c| c.with_meta("logprobs", g.logprob_mean.unwrap_or(0.0)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let result = selector.step(&parent, candidates, Some(&TrigramEmbedder)).await?;
    println!("selector step:");
    for c in &result.scored {
        let fate = if result.kept.iter().any(|k| k.id() == c.id()) { "kept" } else { "pruned" };
        println!("  {:.3} {:6} {}", c.score, fate, c.text());
    }

    // A whole tree, breadth-first, with the same two models.
    let mut explorer = Explorer::new(&TwistGenerator, Some(&TrigramEmbedder), config);
    let mut tree = explorer.start("Give the Mars detective story a plot twist.");
    explorer.run(&mut tree, None).await?;
    println!("\nexploration stopped: {:?}", tree.stop_reason);
    for node in &tree.nodes {
        let indent = "  ".repeat(node.depth);
        println!("{indent}{} [{:?}] {}", node.id, node.status, node.text);
    }
    Ok(())
}
