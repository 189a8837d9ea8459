//! scikit-learn's `KMeans(n_clusters=k, random_state=seed, n_init=10)` (Lloyd, k-means++
//! init), step for step, so the compatibility layer's `ShannonEntropyStopper` finds the
//! clusters the original finds: the same random draws (numpy's `RandomState`, MT19937), the
//! same greedy k-means++ trials, the same convergence tests and the same choice among
//! restarts. Sums are added in numpy's orders (`blas.rs`): squared norms as its einsum,
//! the k-means++ potentials (where two trials often tie to the last bit) as OpenBLAS's
//! Haswell/Zen `ddot` and `dgemv_t` kernels; on a CPU where OpenBLAS picks another kernel
//! (AVX-512) those ties can fall the other way. The choice among equally far points when a
//! cluster empties (fewer distinct points than clusters) follows numpy's SIMD argpartition
//! where all are equal.

use rand_mt::Mt;

use super::blas;
use super::vectors::Matrix;

/// The labels of the best of `n_init` restarts (lowest inertia), as scikit-learn fits them.
pub fn fit(points: &Matrix, k: usize, seed: u32, n_init: usize) -> Vec<usize> {
    let (n, d) = (points.rows(), points.dim());
    let k = k.clamp(1, n.max(1));
    // scikit-learn centres the data first, for more accurate distances.
    let mut x = points.clone();
    for f in 0..d {
        let mean = (0..n).map(|i| points.at(i, f)).sum::<f64>() / n as f64;
        for i in 0..n {
            *x.at_mut(i, f) -= mean;
        }
    }
    let tol = mean_variance(points) * 1e-4;
    let norms: Vec<f64> = (0..n).map(|i| blas::row_norm_sq(x.row(i))).collect();
    let mut pairs = PointDistances { x: &x, norms: &norms, memo: vec![None; n * n] };
    let mut rng = RandomState(Mt::new(seed));
    let mut best: Option<(Vec<usize>, f64)> = None;
    for _ in 0..n_init.max(1) {
        let centres = plus_plus(&mut pairs, k, &mut rng);
        let (labels, inertia) = lloyd(&x, centres, tol);
        let better = match &best {
            None => true,
            Some((best_labels, best_inertia)) => inertia < *best_inertia && !same_clustering(&labels, best_labels, k),
        };
        if better {
            best = Some((labels, inertia));
        }
    }
    best.map(|(labels, _)| labels).unwrap_or_default()
}

blas::fused_kernel! {
    /// A dot product as BLAS's GEMM kernels accumulate one output: along the vectors, one
    /// fused multiply-add at a time (the k-means distances are GEMM products in scikit-learn).
    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).fold(0.0, |acc, (x, y)| x.mul_add(*y, acc))
    }
}

blas::fused_kernel! {
    /// `x · c` into `out` for every row `c` of `centres`, each summed as [`dot`] sums it;
    /// four rows' chains run side by side, so one chain's additions wait less on the last.
    fn dots(x: &[f64], centres: &Matrix, out: &mut [f64]) {
        let k = centres.rows();
        let fours = k & !3;
        for j in (0..fours).step_by(4) {
            let rows = [centres.row(j), centres.row(j + 1), centres.row(j + 2), centres.row(j + 3)];
            let mut acc = [0.0f64; 4];
            for (f, &xf) in x.iter().enumerate() {
                for l in 0..4 {
                    acc[l] = xf.mul_add(rows[l][f], acc[l]);
                }
            }
            out[j..j + 4].copy_from_slice(&acc);
        }
        for (o, j) in out[fours..k].iter_mut().zip(fours..) {
            *o = dot(x, centres.row(j));
        }
    }
}

/// numpy's legacy `RandomState`: MT19937 seeded by `init_genrand`, 53-bit doubles.
struct RandomState(Mt);

impl RandomState {
    fn random_sample(&mut self) -> f64 {
        let a = self.0.next_u32() >> 5;
        let b = self.0.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }
}

/// `np.mean(np.var(X, axis=0))` of the data as given (scikit-learn takes it before centring):
/// the data-dependent scale of the tolerance. Each column's mean and squares are added row by
/// row, as numpy reduces along the first axis; the columns' mean is a pairwise sum.
fn mean_variance(points: &Matrix) -> f64 {
    let (n, d) = (points.rows(), points.dim());
    if n == 0 || d == 0 {
        return 0.0;
    }
    let variances: Vec<f64> = (0..d)
        .map(|f| {
            let mean = (0..n).fold(0.0, |a, i| a + points.at(i, f)) / n as f64;
            (0..n).fold(0.0, |a, i| a + (points.at(i, f) - mean) * (points.at(i, f) - mean)) / n as f64
        })
        .collect();
    blas::pairwise_sum(&variances) / d as f64
}

/// `_euclidean_distances(..., squared=True)` between points: −2·a·b + ‖a‖² + ‖b‖², never
/// negative; each pair computed once per fit (every restart's k-means++ asks again).
struct PointDistances<'a> {
    x: &'a Matrix,
    norms: &'a [f64],
    memo: Vec<Option<f64>>,
}

impl PointDistances<'_> {
    fn get(&mut self, a: usize, b: usize) -> f64 {
        let n = self.x.rows();
        *self.memo[a * n + b]
            .get_or_insert_with(|| (-2.0 * dot(self.x.row(a), self.x.row(b)) + self.norms[a] + self.norms[b]).max(0.0))
    }
}

/// The squared distance scikit-learn's Cython helpers compute (four terms at a time).
fn sq_distance_unrolled(a: &[f64], b: &[f64]) -> f64 {
    let mut result = 0.0;
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (p, q) in ca.zip(cb) {
        result += (p[0] - q[0]) * (p[0] - q[0])
            + (p[1] - q[1]) * (p[1] - q[1])
            + (p[2] - q[2]) * (p[2] - q[2])
            + (p[3] - q[3]) * (p[3] - q[3]);
    }
    for (p, q) in ra.iter().zip(rb) {
        result += (p - q) * (p - q);
    }
    result
}

/// Greedy k-means++ with 2 + ⌊ln k⌋ trials per centre, as `_kmeans_plusplus` draws them.
fn plus_plus(pairs: &mut PointDistances<'_>, k: usize, rng: &mut RandomState) -> Matrix {
    let n = pairs.x.rows();
    let trials = 2 + (k as f64).ln() as usize;
    // `random_state.choice(n, p=w / w.sum())` with unit weights.
    let p = 1.0 / n as f64;
    let mut cdf: Vec<f64> = Vec::with_capacity(n);
    let mut acc = 0.0;
    for _ in 0..n {
        acc += p;
        cdf.push(acc);
    }
    let last = cdf[n - 1];
    cdf.iter_mut().for_each(|c| *c /= last);
    let u = rng.random_sample();
    let first = cdf.partition_point(|&c| c <= u).min(n - 1);
    let mut chosen = vec![first];
    let mut closest: Vec<f64> = (0..n).map(|j| pairs.get(first, j)).collect();
    // `closest_dist_sq @ sample_weight`: numpy's dot, OpenBLAS's ddot.
    let mut potential = blas::ddot_sum(&closest);
    for _ in 1..k {
        let draws: Vec<f64> = (0..trials).map(|_| rng.random_sample() * potential).collect();
        let mut cumulative = Vec::with_capacity(n);
        let mut acc = 0.0;
        for &c in &closest {
            acc += c;
            cumulative.push(acc);
        }
        let candidates: Vec<usize> =
            draws.iter().map(|&draw| cumulative.partition_point(|&c| c < draw).min(n - 1)).collect();
        let mut distances: Vec<Vec<f64>> = candidates
            .iter()
            .map(|&candidate| (0..n).map(|j| closest[j].min(pairs.get(candidate, j))).collect())
            .collect();
        // `distance_to_candidates @ sample_weight`: one matrix-vector product, OpenBLAS's
        // dgemv_t; the first lowest wins (`np.argmin`).
        let pots = blas::gemv_t_sums(&distances);
        let best = (1..pots.len()).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        potential = pots[best];
        closest = distances.swap_remove(best);
        chosen.push(candidates[best]);
    }
    Matrix::from_rows(chosen.iter().map(|&i| pairs.x.row(i).to_vec()).collect())
}

/// Nearest centre of every point by ‖c‖² − 2·x·c (the term `_update_chunk_dense` keeps;
/// ‖c‖² by `row_norms`).
fn assign(x: &Matrix, centres: &Matrix, labels: &mut [usize]) {
    let k = centres.rows();
    let centre_norms: Vec<f64> = (0..k).map(|j| blas::row_norm_sq(centres.row(j))).collect();
    let mut products = vec![0.0; k];
    for (i, label) in labels.iter_mut().enumerate() {
        dots(x.row(i), centres, &mut products);
        let distance = |j: usize| -2.0 * products[j] + centre_norms[j];
        let (mut best, mut best_j) = (distance(0), 0);
        for j in 1..k {
            let dj = distance(j);
            if dj < best {
                best = dj;
                best_j = j;
            }
        }
        *label = best_j;
    }
}

/// One Lloyd iteration: assign, then move each centre to its points' mean (an empty cluster
/// takes the point farthest from its centre). Returns the new centres and the shift of each.
fn lloyd_step(x: &Matrix, centres: &Matrix, labels: &mut [usize]) -> (Matrix, Vec<f64>) {
    let (k, d) = (centres.rows(), centres.dim());
    assign(x, centres, labels);
    let mut sums = Matrix::zeros(k, d);
    let mut weights = vec![0.0; k];
    for (i, &label) in labels.iter().enumerate() {
        weights[label] += 1.0;
        for f in 0..d {
            *sums.at_mut(label, f) += x.at(i, f);
        }
    }
    let empty: Vec<usize> = (0..k).filter(|&j| weights[j] == 0.0).collect();
    if !empty.is_empty() {
        let far = |i: usize| sq_distance_unrolled(x.row(i), centres.row(labels[i]));
        // numpy's argpartition picks among equally far points in an order of its SIMD
        // kernels; the last of them is what it picks when all are equal (every point on its
        // centre, the usual way a cluster empties: fewer distinct points than clusters).
        let mut order: Vec<usize> = (0..x.rows()).rev().collect();
        order.sort_by(|&a, &b| far(b).total_cmp(&far(a)));
        for (&new, &point) in empty.iter().zip(&order) {
            let old = labels[point];
            for f in 0..d {
                *sums.at_mut(old, f) -= x.at(point, f);
                *sums.at_mut(new, f) = x.at(point, f);
            }
            weights[new] = 1.0;
            weights[old] -= 1.0;
        }
    }
    for (j, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            let alpha = 1.0 / w;
            (0..d).for_each(|f| *sums.at_mut(j, f) *= alpha);
        }
    }
    let shifts = (0..k).map(|j| sq_distance_unrolled(sums.row(j), centres.row(j)).sqrt()).collect();
    (sums, shifts)
}

/// `_kmeans_single_lloyd`: at most 300 iterations, stopping when the labels repeat or the
/// centres move less than `tol` in total; returns the labels and their inertia.
fn lloyd(x: &Matrix, mut centres: Matrix, tol: f64) -> (Vec<usize>, f64) {
    let n = x.rows();
    let mut labels = vec![usize::MAX; n];
    let mut previous = labels.clone();
    let mut strict = false;
    for _ in 0..300 {
        let (moved, shifts) = lloyd_step(x, &centres, &mut labels);
        centres = moved;
        if labels == previous {
            strict = true;
            break;
        }
        if shifts.iter().map(|s| s * s).sum::<f64>() <= tol {
            break;
        }
        previous.clone_from(&labels);
    }
    if !strict {
        // The labels must match the final centres.
        assign(x, &centres, &mut labels);
    }
    let inertia = inertia(x, &centres, &labels);
    (labels, inertia)
}

/// `_inertia_dense`: an OpenMP `prange` over the points, split statically among the threads
/// scikit-learn runs (`OMP_NUM_THREADS`, else the CPUs this process may use); each thread
/// sums its block in order, and the blocks' sums are added in thread order (with two threads
/// the only result; with more, OpenMP adds them as the threads finish, so scikit-learn
/// itself can differ in the last bit from run to run).
fn inertia(x: &Matrix, centres: &Matrix, labels: &[usize]) -> f64 {
    let n = labels.len();
    let threads = openmp_threads().clamp(1, n.max(1));
    let (each, extra) = (n / threads, n % threads);
    let mut total = 0.0;
    let mut start = 0;
    for t in 0..threads {
        let end = start + each + usize::from(t < extra);
        total += (start..end).fold(0.0, |a, i| a + sq_distance_unrolled(x.row(i), centres.row(labels[i])));
        start = end;
    }
    total
}

/// The threads scikit-learn's OpenMP loops run on (`_openmp_effective_n_threads`), found
/// once per process: the CPU count reads cgroup files, and every restart asks.
fn openmp_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        let configured = std::env::var("OMP_NUM_THREADS").ok().and_then(|v| v.split(',').next()?.trim().parse().ok());
        configured.filter(|&t| t > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// Whether two labelings are the same partition up to renaming (`_is_same_clustering`).
fn same_clustering(a: &[usize], b: &[usize], k: usize) -> bool {
    let mut mapping = vec![usize::MAX; k];
    for (&x, &y) in a.iter().zip(b) {
        if mapping[x] == usize::MAX {
            mapping[x] = y;
        } else if mapping[x] != y {
            return false;
        }
    }
    true
}
