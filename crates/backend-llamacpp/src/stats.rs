//! How full the batch runs: the number of sequences in each decode step, counted by the
//! worker and read from any thread (for a server's metrics).

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the histogram's buckets, in sequences per step.
pub const BATCH_BUCKETS: [u32; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/// Counters of decode steps by batch size.
#[derive(Debug, Default)]
pub struct BatchStats {
    buckets: [AtomicU64; BATCH_BUCKETS.len()],
    steps: AtomicU64,
    sequences: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSnapshot {
    /// (upper bound, steps with at most that many sequences), cumulative as Prometheus wants.
    pub buckets: Vec<(u32, u64)>,
    /// Decode steps.
    pub steps: u64,
    /// Sequences over all steps.
    pub sequences: u64,
}

impl BatchStats {
    /// Counts one decode step of `size` sequences.
    pub fn record(&self, size: usize) {
        let at = BATCH_BUCKETS.iter().position(|&b| size <= b as usize).unwrap_or(BATCH_BUCKETS.len() - 1);
        self.buckets[at].fetch_add(1, Ordering::Relaxed);
        self.steps.fetch_add(1, Ordering::Relaxed);
        self.sequences.fetch_add(size as u64, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> BatchSnapshot {
        let mut total = 0;
        let buckets = BATCH_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(&b, c)| {
                total += c.load(Ordering::Relaxed);
                (b, total)
            })
            .collect();
        BatchSnapshot {
            buckets,
            steps: self.steps.load(Ordering::Relaxed),
            sequences: self.sequences.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let stats = BatchStats::default();
        for size in [1, 3, 8, 9, 300] {
            stats.record(size);
        }
        let s = stats.snapshot();
        assert_eq!((s.steps, s.sequences), (5, 321));
        assert_eq!(s.buckets[0], (1, 1));
        assert_eq!(s.buckets[2], (4, 2));
        assert_eq!(s.buckets[3], (8, 3));
        assert_eq!(s.buckets[4], (16, 4));
        assert_eq!(*s.buckets.last().unwrap(), (256, 5));
    }
}
