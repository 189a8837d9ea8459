use serde::{Deserialize, Serialize};

use super::KMeans;

/// Why the stopper said stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntropyReason {
    /// Nothing survived the earlier stages.
    NoCandidatesRemaining,
    /// Exactly one candidate survived.
    Singleton,
    /// Normalised entropy below `min_entropy`.
    LowEntropy,
    /// Entropy changed less than `delta_epsilon` since the previous step.
    LowDeltaEntropy,
}

/// The stopper's verdict on one step's kept set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntropyDecision {
    /// Normalised Shannon entropy in [0, 1].
    pub value: f64,
    /// |value − previous value|, when there was a previous step.
    pub delta: Option<f64>,
    /// Whether exploration should go on.
    pub should_continue: bool,
    /// k used for k-means (0 for no candidates).
    pub clusters: usize,
    /// Sizes of the non-empty clusters.
    pub cluster_sizes: Vec<usize>,
    /// Why it stopped; `None` when it continues.
    pub reason: Option<EntropyReason>,
}

/// The stopper's state between steps, for checkpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EntropyState {
    /// Entropy of the previous step, if any.
    pub previous_entropy: Option<f64>,
}

/// Stops when the kept candidates fall into too few clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct ShannonEntropyStopper {
    min_entropy: f64,
    k_max: usize,
    delta_epsilon: Option<f64>,
    seed: u64,
    state: EntropyState,
}

impl ShannonEntropyStopper {
    /// `min_entropy` in [0, 1], `k_max` ≥ 1, optional `delta_epsilon`, k-means seed
    /// (ranges are validated by the configuration layer).
    pub fn new(min_entropy: f64, k_max: usize, delta_epsilon: Option<f64>, seed: u64) -> Self {
        Self { min_entropy, k_max: k_max.max(1), delta_epsilon, seed, state: EntropyState::default() }
    }

    /// Judges the kept set from its vectors (one per kept candidate, in order).
    pub fn decide(&mut self, vectors: &[&[f32]]) -> EntropyDecision {
        let n = vectors.len();
        if n <= 1 {
            let reason = if n == 0 { EntropyReason::NoCandidatesRemaining } else { EntropyReason::Singleton };
            return EntropyDecision {
                value: 0.0,
                delta: None,
                should_continue: false,
                clusters: n,
                cluster_sizes: if n == 1 { vec![1] } else { Vec::new() },
                reason: Some(reason),
            };
        }
        let k = n.min(self.k_max);
        let fit = KMeans::new(k, self.seed).fit(vectors);
        let mut sizes = vec![0usize; k];
        for &l in &fit.labels {
            sizes[l] += 1;
        }
        sizes.retain(|&s| s > 0);
        let h: f64 = sizes
            .iter()
            .map(|&s| {
                let p = s as f64 / n as f64;
                -p * p.log2()
            })
            .sum();
        let value = if k > 1 { (h / (k as f64).log2()).clamp(0.0, 1.0) } else { 0.0 };
        let delta = self.state.previous_entropy.map(|prev| (value - prev).abs());
        let reason = if value < self.min_entropy {
            Some(EntropyReason::LowEntropy)
        } else if matches!((self.delta_epsilon, delta), (Some(eps), Some(d)) if d < eps) {
            Some(EntropyReason::LowDeltaEntropy)
        } else {
            None
        };
        self.state.previous_entropy = Some(value);
        EntropyDecision { value, delta, should_continue: reason.is_none(), clusters: k, cluster_sizes: sizes, reason }
    }

    /// Forgets the previous entropy (a new tree starts).
    pub fn reset(&mut self) {
        self.state = EntropyState::default();
    }

    /// State for a checkpoint.
    pub fn state(&self) -> EntropyState {
        self.state
    }

    /// Restores a checkpointed state.
    pub fn restore(&mut self, state: EntropyState) {
        self.state = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f32) -> [f32; 2] {
        [angle.cos(), angle.sin()]
    }

    #[test]
    fn zero_and_one_candidates_stop() {
        let mut s = ShannonEntropyStopper::new(0.6, 5, None, 42);
        let d = s.decide(&[]);
        assert_eq!(
            (d.should_continue, d.value, d.clusters, d.reason),
            (false, 0.0, 0, Some(EntropyReason::NoCandidatesRemaining))
        );
        let v = unit(0.0);
        let d = s.decide(&[&v]);
        assert_eq!((d.should_continue, d.value, d.clusters, d.reason), (false, 0.0, 1, Some(EntropyReason::Singleton)));
        assert_eq!(s.state().previous_entropy, None, "edge cases do not touch the history");
    }

    #[test]
    fn two_distinct_candidates_have_full_entropy() {
        let (a, b) = (unit(0.0), unit(1.5));
        let d = ShannonEntropyStopper::new(0.6, 5, None, 42).decide(&[&a, &b]);
        assert_eq!((d.value, d.clusters, d.should_continue), (1.0, 2, true));
        assert_eq!(d.cluster_sizes, vec![1, 1]);
    }

    #[test]
    fn identical_candidates_have_low_entropy() {
        let a = unit(0.3);
        let d = ShannonEntropyStopper::new(0.6, 5, None, 42).decide(&[&a, &a, &a, &a]);
        assert_eq!(d.value, 0.0);
        assert_eq!(d.reason, Some(EntropyReason::LowEntropy));
        assert_eq!(d.cluster_sizes, vec![4]);
    }

    #[test]
    fn k_max_one_gives_zero_entropy() {
        let (a, b) = (unit(0.0), unit(1.5));
        let d = ShannonEntropyStopper::new(0.0, 1, None, 42).decide(&[&a, &b]);
        assert_eq!((d.value, d.clusters, d.should_continue), (0.0, 1, true));
    }

    #[test]
    fn small_delta_stops_and_state_round_trips() {
        let (a, b) = (unit(0.0), unit(1.5));
        let mut s = ShannonEntropyStopper::new(0.5, 5, Some(0.01), 42);
        assert!(s.decide(&[&a, &b]).should_continue);
        let saved = s.state();
        let d = s.decide(&[&a, &b]);
        assert_eq!((d.delta, d.reason), (Some(0.0), Some(EntropyReason::LowDeltaEntropy)));
        s.reset();
        assert!(s.decide(&[&a, &b]).should_continue);
        s.restore(saved);
        assert_eq!(s.decide(&[&a, &b]).reason, Some(EntropyReason::LowDeltaEntropy));
    }
}
