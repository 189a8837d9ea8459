//! Workloads shared by the benchmarks: synthetic candidate sets with precomputed vectors.

use autobranch_core::Candidate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One selector step's input: a parent, `n` candidates and their unit vectors.
pub struct StepWorkload {
    /// The parent.
    pub parent: Candidate,
    /// The parent's vector.
    pub parent_vector: Vec<f32>,
    /// The candidates (with a `logprobs` entry, as a generator would give).
    pub candidates: Vec<Candidate>,
    /// One unit vector per candidate.
    pub vectors: Vec<Vec<f32>>,
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn gaussianish(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    // Sum of uniforms: cheap, symmetric, close enough to normal for direction sampling.
    (0..dim).map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum()).collect()
}

impl StepWorkload {
    /// `n` candidates of dimension `dim` drawn around a few topics, so that some are
    /// near-duplicates (as sampled LLM continuations are) and novelty has work to do.
    pub fn clustered(n: usize, dim: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let topics: Vec<Vec<f32>> = (0..8).map(|_| unit(gaussianish(&mut rng, dim))).collect();
        let parent_vector = unit(gaussianish(&mut rng, dim));
        let mut candidates = Vec::with_capacity(n);
        let mut vectors = Vec::with_capacity(n);
        for i in 0..n {
            let topic = &topics[rng.random_range(0..topics.len())];
            let spread = rng.random_range(0.05f32..0.6);
            let noise = unit(gaussianish(&mut rng, dim));
            vectors.push(unit(topic.iter().zip(&noise).map(|(t, e)| t + spread * e).collect()));
            let logprob = -rng.random_range(0.05f64..3.0);
            candidates.push(
                Candidate::new(format!("c{i}"), format!("candidate {i} about topic {spread:.3}"))
                    .expect("non-empty id")
                    .with_meta("logprobs", logprob),
            );
        }
        Self {
            parent: Candidate::new("root", "the parent prompt").expect("non-empty id"),
            parent_vector,
            candidates,
            vectors,
        }
    }

    /// (id, vector) pairs for [`autobranch_core::StepVectors::precomputed`].
    pub fn pairs(&self) -> Vec<(&str, &[f32])> {
        self.candidates.iter().zip(&self.vectors).map(|(c, v)| (c.id.as_str(), v.as_slice())).collect()
    }
}
