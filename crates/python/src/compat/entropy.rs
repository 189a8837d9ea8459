//! The original `ShannonEntropyStopper`'s number: scikit-learn's k-means clusters of the kept
//! candidates' embeddings, then −Σ p·log2(p + 1e-10) over the cluster sizes, normalised by
//! log2(k) and clipped to [0, 1].

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::kmeans;
use super::vectors::matrix;

/// `(entropy, cluster_sizes)` of the embeddings in `k` clusters; sizes in label order, as
/// `np.unique(labels, return_counts=True)` lists them.
#[pyfunction]
pub fn shannon_entropy(embeddings: &Bound<'_, PyAny>, k: usize, seed: u32) -> PyResult<(f64, Vec<usize>)> {
    let points = matrix(embeddings)?;
    let (n, d) = (points.rows(), points.dim());
    if d == 0 {
        return Err(PyValueError::new_err(format!(
            "Found array with 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is required by KMeans."
        )));
    }
    let any = |test: fn(f64) -> bool| (0..n).any(|i| points.row(i).iter().any(|&v| test(v)));
    if any(f64::is_nan) {
        return Err(PyValueError::new_err("Input X contains NaN."));
    }
    if any(f64::is_infinite) {
        return Err(PyValueError::new_err("Input X contains infinity or a value too large for dtype('float64')."));
    }
    if k > n {
        return Err(PyValueError::new_err(format!("n_samples={n} should be >= n_clusters={k}.")));
    }
    let labels = kmeans::fit(&points, k, seed, 10);
    let mut sizes = vec![0usize; k];
    labels.iter().for_each(|&l| sizes[l] += 1);
    sizes.retain(|&s| s > 0);
    let total = n as f64;
    // numpy sums a short array left to right.
    let raw = -sizes.iter().map(|&s| s as f64 / total).map(|p| p * (p + 1e-10).log2()).fold(0.0, |a, b| a + b);
    let normalised = if k > 1 { raw / (k as f64).log2() } else { 0.0 };
    Ok((normalised.clamp(0.0, 1.0), sizes))
}
