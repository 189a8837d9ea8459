//! Per-sequence seeded sampling over one row of logits, in llama.cpp's chain order:
//! repetition penalty over the last 64 sampled tokens, then greedy when the temperature is
//! 0, else top-k → top-p → min-p → temperature → a draw from a ChaCha8 stream seeded with
//! the candidate's seed (the same seed gives the same tokens on every run).

use std::collections::VecDeque;

use autobranch_core::model::SamplingParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tokens the repetition penalty looks back over (llama.cpp's default `penalty_last_n`).
const PENALTY_WINDOW: usize = 64;

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

    /// Picks the next token from `logits` and remembers it for the repetition penalty.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let token = self.pick(logits);
        if self.recent.len() == PENALTY_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(token);
        token
    }

    fn pick(&mut self, logits: &[f32]) -> u32 {
        let c = &mut self.candidates;
        c.clear();
        c.extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        if self.params.repeat_penalty != 1.0 {
            let mut seen: Vec<u32> = self.recent.iter().copied().collect();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                // llama.cpp's rule: shrink a positive logit, grow a negative one.
                let p = self.params.repeat_penalty;
                if let Some(entry) = c.get_mut(t as usize) {
                    entry.1 = if entry.1 > 0.0 { entry.1 / p } else { entry.1 * p };
                }
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

    #[test]
    fn greedy_takes_the_largest_logit_and_penalises_repeats() {
        let mut s = Sampler::new(&SamplingParams { repeat_penalty: 3.0, ..params(0.0) }, 1);
        assert_eq!(s.sample(&[0.1, 2.0, 1.0]), 1);
        // 2.0 / 3 < 1.0: the repeated token loses.
        assert_eq!(s.sample(&[0.1, 2.0, 1.0]), 2);
    }

    #[test]
    fn the_same_seed_draws_the_same_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| (i as f32 * 0.7).sin()).collect();
        let draw = |seed| {
            let mut s = Sampler::new(&SamplingParams { top_k: 0, top_p: 1.0, min_p: 0.0, ..params(1.0) }, seed);
            (0..20).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }

    #[test]
    fn top_k_top_p_and_min_p_cut_the_tail() {
        let logits = [5.0, 4.9, 0.0, -1.0, -2.0];
        for seed in 0..50 {
            let mut s = Sampler::new(&SamplingParams { top_k: 2, top_p: 1.0, min_p: 0.0, ..params(1.0) }, seed);
            assert!(s.sample(&logits) < 2);
            let mut s = Sampler::new(&SamplingParams { top_k: 0, top_p: 0.5, min_p: 0.0, ..params(1.0) }, seed);
            assert_eq!(s.sample(&logits), 0);
            let mut s = Sampler::new(&SamplingParams { top_k: 0, top_p: 1.0, min_p: 0.5, ..params(1.0) }, seed);
            assert!(s.sample(&logits) < 2);
        }
    }
}
