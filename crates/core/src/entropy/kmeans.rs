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
        let mut gram = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let g = dot64(points[i], points[j]);
                gram[i * n + j] = g;
                gram[j * n + i] = g;
            }
        }
        self.fit_gram(&gram, n)
    }

    /// Clusters `n` points given only their Gram matrix (pairwise dot products, row-major).
    /// Centres are kept as weights over the points, so the cost per iteration is O(k·n²)
    /// whatever the vectors' dimension: a 384-d step with a handful of kept candidates
    /// clusters in microseconds.
    pub fn fit_gram(&self, gram: &[f64], n: usize) -> KMeansFit {
        if n == 0 {
            return KMeansFit { labels: Vec::new(), inertia: 0.0 };
        }
        let k = self.k.clamp(1, n);
        let g = Gram { values: gram, n };
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut best: Option<KMeansFit> = None;
        let mut centres = Centres::new(k, n);
        for _ in 0..self.restarts.max(1) {
            let seeds = plus_plus_init(&g, k, &mut rng);
            centres.seed(&seeds);
            let fit = lloyd(&g, &mut centres, self.max_iterations);
            if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
                best = Some(fit);
            }
        }
        best.expect("at least one restart ran")
    }
}

/// Dot product accumulated in f64 (exact products of f32 inputs), four lanes for speed.
fn dot64(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += f64::from(x[l]) * f64::from(y[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

struct Gram<'a> {
    values: &'a [f64],
    n: usize,
}

impl Gram<'_> {
    fn at(&self, i: usize, j: usize) -> f64 {
        self.values[i * self.n + j]
    }

    /// Squared distance between points `i` and `j`; exactly 0 for identical rows.
    fn point_dist(&self, i: usize, j: usize) -> f64 {
        (self.at(i, i) + self.at(j, j) - 2.0 * self.at(i, j)).max(0.0)
    }
}

/// k-means++: the first centre uniformly, then each next one with probability ∝ D².
/// Returns the chosen point indices.
fn plus_plus_init(g: &Gram, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = g.n;
    let mut seeds = vec![rng.random_range(0..n)];
    let mut d2: Vec<f64> = (0..n).map(|i| g.point_dist(i, seeds[0])).collect();
    while seeds.len() < k {
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
        seeds.push(pick);
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(g.point_dist(i, pick));
        }
    }
    seeds
}

/// Centres as weights over the points (centre c = Σ_j w[c·n + j]·x_j) and scratch space,
/// reused across iterations and restarts so the hot loop does not allocate.
struct Centres {
    k: usize,
    n: usize,
    weights: Vec<f64>,
    dist: Vec<f64>,
    cross: Vec<f64>,
}

impl Centres {
    fn new(k: usize, n: usize) -> Self {
        Self { k, n, weights: vec![0.0; k * n], dist: vec![0.0; k * n], cross: vec![0.0; n] }
    }

    fn seed(&mut self, seeds: &[usize]) {
        self.weights.fill(0.0);
        for (c, &s) in seeds.iter().enumerate() {
            self.weights[c * self.n + s] = 1.0;
        }
    }

    /// Moves each centre to the mean of its points; an empty cluster keeps its centre.
    fn update(&mut self, labels: &[usize]) {
        for c in 0..self.k {
            let count = labels.iter().filter(|&&l| l == c).count();
            if count > 0 {
                let share = 1.0 / count as f64;
                let w = &mut self.weights[c * self.n..(c + 1) * self.n];
                for (wj, &l) in w.iter_mut().zip(labels) {
                    *wj = if l == c { share } else { 0.0 };
                }
            }
        }
    }

    /// Squared distance of every point to every centre: ‖x_i‖² − 2⟨x_i, c⟩ + ‖c‖².
    fn compute_distances(&mut self, g: &Gram) {
        let n = self.n;
        for c in 0..self.k {
            let w = &self.weights[c * n..(c + 1) * n];
            for i in 0..n {
                self.cross[i] = (0..n).filter(|&j| w[j] != 0.0).map(|j| w[j] * g.at(i, j)).sum();
            }
            let norm: f64 = (0..n).map(|j| w[j] * self.cross[j]).sum();
            for i in 0..n {
                self.dist[c * n + i] = (g.at(i, i) - 2.0 * self.cross[i] + norm).max(0.0);
            }
        }
    }

    /// Writes the nearest centre of each point (ties to the lower centre) into `labels`.
    fn assign(&mut self, g: &Gram, labels: &mut [usize]) {
        self.compute_distances(g);
        for (i, label) in labels.iter_mut().enumerate() {
            let mut best = (0, f64::INFINITY);
            for c in 0..self.k {
                let d = self.dist[c * self.n + i];
                if d < best.1 {
                    best = (c, d);
                }
            }
            *label = best.0;
        }
    }
}

fn lloyd(g: &Gram, centres: &mut Centres, max_iterations: usize) -> KMeansFit {
    let n = g.n;
    let mut labels = vec![0; n];
    let mut next = vec![0; n];
    centres.assign(g, &mut labels);
    for _ in 0..max_iterations {
        centres.update(&labels);
        centres.assign(g, &mut next);
        if next == labels {
            break;
        }
        std::mem::swap(&mut labels, &mut next);
    }
    // `dist` holds the distances to the final centres.
    let inertia = labels.iter().enumerate().map(|(i, &l)| centres.dist[l * n + i]).sum();
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
