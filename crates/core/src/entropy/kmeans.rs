use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded k-means with k-means++ initialisation and several restarts (best inertia wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KMeans {
    /// Number of clusters (≥ 1, ≤ number of points).
    pub k: usize,
    /// Independent restarts; the one with the lowest inertia is kept.
    pub restarts: usize,
    /// Lloyd iterations per restart at most.
    pub max_iterations: usize,
    /// Seed: the same seed and points give the same labels on every platform.
    pub seed: u64,
}

/// The result of a fit.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansFit {
    /// Cluster of each point.
    pub labels: Vec<usize>,
    /// Sum of squared distances to the assigned centres.
    pub inertia: f64,
}

impl KMeans {
    /// k clusters, 10 restarts, up to 300 iterations each.
    pub fn new(k: usize, seed: u64) -> Self {
        Self { k, restarts: 10, max_iterations: 300, seed }
    }

    /// Clusters `points` (all of one dimension). `k` is capped at the number of points.
    pub fn fit(&self, points: &[&[f32]]) -> KMeansFit {
        let n = points.len();
        let k = self.k.clamp(1, n.max(1));
        if n == 0 {
            return KMeansFit { labels: Vec::new(), inertia: 0.0 };
        }
        let pts: Vec<Vec<f64>> = points.iter().map(|p| p.iter().map(|&x| f64::from(x)).collect()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut best: Option<KMeansFit> = None;
        for _ in 0..self.restarts.max(1) {
            let centres = plus_plus_init(&pts, k, &mut rng);
            let fit = lloyd(&pts, centres, self.max_iterations);
            if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
                best = Some(fit);
            }
        }
        best.expect("at least one restart ran")
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++: the first centre uniformly, then each next one with probability ∝ D².
fn plus_plus_init(pts: &[Vec<f64>], k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let n = pts.len();
    let mut centres = vec![pts[rng.random_range(0..n)].clone()];
    let mut d2: Vec<f64> = pts.iter().map(|p| sq_dist(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // Every point coincides with a centre: any point will do.
            rng.random_range(0..n)
        };
        centres.push(pts[pick].clone());
        for (d, p) in d2.iter_mut().zip(pts) {
            *d = d.min(sq_dist(p, &centres[centres.len() - 1]));
        }
    }
    centres
}

fn nearest(p: &[f64], centres: &[Vec<f64>]) -> (usize, f64) {
    centres
        .iter()
        .enumerate()
        .map(|(c, centre)| (c, sq_dist(p, centre)))
        .fold((0, f64::INFINITY), |best, cur| if cur.1 < best.1 { cur } else { best })
}

fn lloyd(pts: &[Vec<f64>], mut centres: Vec<Vec<f64>>, max_iterations: usize) -> KMeansFit {
    let dim = pts[0].len();
    let mut labels: Vec<usize> = pts.iter().map(|p| nearest(p, &centres).0).collect();
    for _ in 0..max_iterations {
        let mut sums = vec![vec![0.0; dim]; centres.len()];
        let mut counts = vec![0usize; centres.len()];
        for (p, &l) in pts.iter().zip(&labels) {
            counts[l] += 1;
            sums[l].iter_mut().zip(p).for_each(|(s, x)| *s += x);
        }
        for ((centre, sum), &count) in centres.iter_mut().zip(sums).zip(&counts) {
            // An empty cluster keeps its centre.
            if count > 0 {
                *centre = sum.into_iter().map(|s| s / count as f64).collect();
            }
        }
        let next: Vec<usize> = pts.iter().map(|p| nearest(p, &centres).0).collect();
        if next == labels {
            break;
        }
        labels = next;
    }
    let inertia = pts.iter().zip(&labels).map(|(p, &l)| sq_dist(p, &centres[l])).sum();
    KMeansFit { labels, inertia }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_obvious_groups() {
        let pts: [[f32; 2]; 6] = [[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]];
        let rows: Vec<&[f32]> = pts.iter().map(|p| p.as_slice()).collect();
        let fit = KMeans::new(2, 42).fit(&rows);
        assert_eq!(fit.labels[0], fit.labels[1]);
        assert_eq!(fit.labels[1], fit.labels[2]);
        assert_eq!(fit.labels[3], fit.labels[4]);
        assert_ne!(fit.labels[0], fit.labels[3]);
        assert!(fit.inertia < 0.1);
    }

    #[test]
    fn same_seed_same_labels() {
        let pts: Vec<[f32; 3]> =
            (0..20).map(|i| [(i as f32 * 0.37).sin(), (i as f32 * 0.11).cos(), i as f32 * 0.01]).collect();
        let rows: Vec<&[f32]> = pts.iter().map(|p| p.as_slice()).collect();
        assert_eq!(KMeans::new(4, 7).fit(&rows), KMeans::new(4, 7).fit(&rows));
    }

    #[test]
    fn identical_points_form_one_non_empty_cluster() {
        let p = [1.0f32, 0.0];
        let fit = KMeans::new(3, 1).fit(&[&p, &p, &p]);
        assert!(fit.labels.iter().all(|&l| l == fit.labels[0]));
        assert_eq!(fit.inertia, 0.0);
    }
}
