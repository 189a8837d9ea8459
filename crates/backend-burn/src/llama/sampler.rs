//! Per-sequence seeded sampling over a row's candidate tokens (the whole row, or its
//! largest logits: see [`candidates_needed`]), in llama.cpp's chain order:
//! repetition penalty over the last 64 sampled tokens, then greedy when the temperature is
//! 0, else top-k → top-p → min-p → temperature → a draw from a ChaCha8 stream seeded with
//! the candidate's seed (the same seed gives the same tokens on every run).

use std::collections::VecDeque;

use autobranch_core::model::SamplingParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tokens the repetition penalty looks back over (llama.cpp's default `penalty_last_n`).
const PENALTY_WINDOW: usize = 64;

/// How many of a row's largest logits the sampler needs to pick exactly the token it would
/// pick from the whole row: `None` when it needs the whole row (top-k off, or a repetition
/// penalty below 1, which can lift any token into the top). Greedy needs the largest one;
/// top-k the k largest; a penalty above 1 only lowers the at most 64 recent tokens, so k + 64
/// of them hold the k largest after it.
pub fn candidates_needed(params: &SamplingParams, vocab: usize) -> Option<usize> {
    let k = if params.temperature <= 0.0 { 1 } else { params.top_k as usize };
    if k == 0 || params.repeat_penalty < 1.0 {
        return None;
    }
    let k = if params.repeat_penalty > 1.0 { k + PENALTY_WINDOW } else { k };
    (k < vocab).then_some(k)
}

/// One sequence's sampler.
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
    recent: VecDeque<u32>,
    /// (token, logit) candidates, reused between steps.
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    /// A sampler for `params`, drawing from a stream seeded with `seed`.
    pub fn new(params: &SamplingParams, seed: u64) -> Self {
        Self {
            params: params.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            recent: VecDeque::with_capacity(PENALTY_WINDOW),
            candidates: Vec::new(),
        }
    }

    /// Picks the next token from a row's `candidates`, `(token, logit)` pairs (the whole row,
    /// or at least its [`candidates_needed`] largest), and remembers it for the repetition
    /// penalty.
    pub fn sample(&mut self, candidates: &[(u32, f32)]) -> u32 {
        let token = self.pick(candidates);
        if self.recent.len() == PENALTY_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(token);
        token
    }

    fn pick(&mut self, candidates: &[(u32, f32)]) -> u32 {
        let c = &mut self.candidates;
        c.clear();
        c.extend_from_slice(candidates);
        if self.params.repeat_penalty != 1.0 {
            let mut seen: Vec<u32> = self.recent.iter().copied().collect();
            seen.sort_unstable();
            seen.dedup();
            // llama.cpp's rule: shrink a positive logit, grow a negative one.
            let p = self.params.repeat_penalty;
            for entry in c.iter_mut().filter(|e| seen.binary_search(&e.0).is_ok()) {
                entry.1 = if entry.1 > 0.0 { entry.1 / p } else { entry.1 * p };
            }
        }
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if self.params.temperature <= 0.0 {
            return c.iter().min_by(|a, b| by_logit(a, b)).map_or(0, |t| t.0);
        }
        let k = self.params.top_k as usize;
        if k > 0 && k < c.len() {
            c.select_nth_unstable_by(k - 1, by_logit);
            c.truncate(k);
        }
        c.sort_unstable_by(by_logit);
        if self.params.top_p < 1.0 {
            let probs = softmax(c.iter().map(|t| t.1));
            let mut cumulative = 0.0;
            let keep = probs
                .iter()
                .position(|&p| {
                    cumulative += p;
                    cumulative >= self.params.top_p
                })
                .map_or(c.len(), |i| i + 1);
            c.truncate(keep.max(1));
        }
        if self.params.min_p > 0.0 {
            // p ≥ min_p · p_max  ⇔  logit ≥ max_logit + ln(min_p).
            let floor = c[0].1 + self.params.min_p.ln();
            let keep = c.iter().take_while(|t| t.1 >= floor).count();
            c.truncate(keep.max(1));
        }
        let probs = softmax(c.iter().map(|t| t.1 / self.params.temperature));
        let mut r: f32 = self.rng.random::<f32>();
        for (t, p) in c.iter().zip(&probs) {
            r -= p;
            if r < 0.0 {
                return t.0;
            }
        }
        c.last().map_or(0, |t| t.0)
    }
}

fn softmax(logits: impl Iterator<Item = f32> + Clone) -> Vec<f32> {
    let max = logits.clone().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams { temperature, ..SamplingParams::default() }
    }

    /// A whole row as candidates.
    fn row(logits: &[f32]) -> Vec<(u32, f32)> {
        logits.iter().enumerate().map(|(i, &l)| (i as u32, l)).collect()
    }

    /// The `k` largest of a row, largest first, as a device's top-k returns them.
    fn top(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
        let mut all = row(logits);
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    #[test]
    fn the_largest_candidates_pick_what_the_whole_row_picks() {
        // A vocabulary of 500 with few distinct logit values, so the sequences repeat tokens
        // and the penalty matters; every setting that reads fewer than the whole row.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let settings = [
            SamplingParams {
                temperature: 0.8,
                top_k: 40,
                top_p: 0.95,
                min_p: 0.05,
                repeat_penalty: 1.1,
                ..params(0.8)
            },
            SamplingParams { temperature: 1.5, top_k: 5, top_p: 1.0, min_p: 0.0, repeat_penalty: 3.0, ..params(1.5) },
            SamplingParams { top_k: 40, repeat_penalty: 1.0, ..params(0.7) },
            SamplingParams { repeat_penalty: 2.0, ..params(0.0) },
        ];
        for p in &settings {
            let k = candidates_needed(p, 500).expect("fewer than the whole row");
            for seed in 0..20 {
                let (mut whole, mut part) = (Sampler::new(p, seed), Sampler::new(p, seed));
                for _ in 0..60 {
                    let logits: Vec<f32> = (0..500).map(|_| (rng.random::<f32>() * 8.0).round()).collect();
                    let a = whole.sample(&row(&logits));
                    assert_eq!(part.sample(&top(&logits, k)), a, "{p:?} seed {seed}");
                }
            }
        }
        assert_eq!(candidates_needed(&SamplingParams { top_k: 0, ..params(0.8) }, 500), None);
        assert_eq!(candidates_needed(&SamplingParams { repeat_penalty: 0.9, ..params(0.8) }, 500), None);
        assert_eq!(candidates_needed(&SamplingParams { top_k: 40, ..params(0.8) }, 60), None);
    }

    #[test]
    fn greedy_takes_the_largest_logit_and_penalises_repeats() {
        let mut s = Sampler::new(&SamplingParams { repeat_penalty: 3.0, ..params(0.0) }, 1);
        assert_eq!(s.sample(&row(&[0.1, 2.0, 1.0])), 1);
        // 2.0 / 3 < 1.0: the repeated token loses.
        assert_eq!(s.sample(&row(&[0.1, 2.0, 1.0])), 2);
    }

    #[test]
    fn the_same_seed_draws_the_same_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| (i as f32 * 0.7).sin()).collect();
        let draw = |seed| {
            let mut s = Sampler::new(&SamplingParams { top_k: 0, top_p: 1.0, min_p: 0.0, ..params(1.0) }, seed);
            (0..20).map(|_| s.sample(&row(&logits))).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }

    #[test]
    fn top_k_top_p_and_min_p_cut_the_tail() {
        let logits = [5.0, 4.9, 0.0, -1.0, -2.0];
        for seed in 0..50 {
            let mut s = Sampler::new(&SamplingParams { top_k: 2, top_p: 1.0, min_p: 0.0, ..params(1.0) }, seed);
            assert!(s.sample(&row(&logits)) < 2);
            let mut s = Sampler::new(&SamplingParams { top_k: 0, top_p: 0.5, min_p: 0.0, ..params(1.0) }, seed);
            assert_eq!(s.sample(&row(&logits)), 0);
            let mut s = Sampler::new(&SamplingParams { top_k: 0, top_p: 1.0, min_p: 0.5, ..params(1.0) }, seed);
            assert!(s.sample(&row(&logits)) < 2);
        }
    }
}
