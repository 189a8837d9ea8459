//! The original novelty filters' selection rules over f64 embeddings: the cosine threshold
//! walk and Maximal Marginal Relevance. Each pair's cosine is computed once (the original
//! recomputes it in every round) and equals the original's to the last bit but for the order
//! of the dot product's sum.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::vectors::{cosine, norm, py_max, rows};

/// Pairwise cosines, computed when first asked for.
struct Cosines {
    rows: Vec<Vec<f64>>,
    norms: Vec<f64>,
    cache: Vec<Option<f64>>,
}

impl Cosines {
    fn new(rows: Vec<Vec<f64>>) -> Self {
        let norms = rows.iter().map(|r| norm(r)).collect();
        let n = rows.len();
        Self { rows, norms, cache: vec![None; n * n] }
    }

    fn get(&mut self, i: usize, j: usize) -> PyResult<f64> {
        let n = self.rows.len();
        if let Some(c) = self.cache[i * n + j] {
            return Ok(c);
        }
        let c = cosine(&self.rows[i], self.norms[i], &self.rows[j], self.norms[j])?;
        self.cache[i * n + j] = Some(c);
        self.cache[j * n + i] = Some(c);
        Ok(c)
    }

    /// The threshold rule over `order`: keep an item unless its largest cosine to the items
    /// kept before it is above `threshold`. Returns positions in `order`.
    fn threshold_walk(&mut self, order: &[usize], threshold: f64) -> PyResult<Vec<usize>> {
        let mut kept: Vec<usize> = Vec::new();
        for (pos, &i) in order.iter().enumerate() {
            if kept.is_empty() {
                kept.push(pos);
                continue;
            }
            let sims = kept.iter().map(|&p| self.get(i, order[p])).collect::<PyResult<Vec<f64>>>()?;
            let max = py_max(sims).expect("something was kept");
            if max <= threshold {
                kept.push(pos);
            }
        }
        Ok(kept)
    }
}

/// The original's `_cosine_similarity(a, b)`: 0 when either norm is 0.
#[pyfunction]
pub fn cosine_similarity(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (a, b) = (super::vectors::vector(a)?, super::vectors::vector(b)?);
    cosine(&a, norm(&a), &b, norm(&b))
}

/// `CosineNoveltyFilter.prune`'s rule: the indices of the embeddings kept, in order.
#[pyfunction]
pub fn cosine_keep(embeddings: &Bound<'_, PyAny>, threshold: f64) -> PyResult<Vec<usize>> {
    let rows = rows(embeddings)?;
    let order: Vec<usize> = (0..rows.len()).collect();
    Cosines::new(rows).threshold_walk(&order, threshold)
}

/// `MMRNoveltyFilter.prune`'s rule: every index in MMR selection order, then (with a
/// threshold) only those the cosine walk over that order keeps.
#[pyfunction]
#[pyo3(signature = (scores, embeddings, lambda_param, threshold=None))]
pub fn mmr_order(
    scores: Vec<f64>,
    embeddings: &Bound<'_, PyAny>,
    lambda_param: f64,
    threshold: Option<f64>,
) -> PyResult<Vec<usize>> {
    let n = scores.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut cos = Cosines::new(rows(embeddings)?);
    // Python's min() and max() over the list.
    let (mut lo, mut hi) = (scores[0], scores[0]);
    for &s in &scores[1..] {
        if s < lo {
            lo = s;
        }
        if s > hi {
            hi = s;
        }
    }
    let relevance: Vec<f64> =
        if hi == lo { vec![1.0; n] } else { scores.iter().map(|s| (s - lo) / (hi - lo)).collect() };
    let mut selected: Vec<usize> = Vec::with_capacity(n);
    let mut unselected: Vec<usize> = (0..n).collect();
    // The largest similarity of each index to the selected ones, folded in selection order
    // as Python's max() folds it.
    let mut max_sim: Vec<Option<f64>> = vec![None; n];
    while !unselected.is_empty() {
        let (mut best, mut best_idx) = (f64::NEG_INFINITY, None::<usize>);
        for &idx in &unselected {
            let sim = max_sim[idx].unwrap_or(0.0);
            let mmr = lambda_param * relevance[idx] - (1.0 - lambda_param) * sim;
            if mmr > best || (mmr == best && best_idx.is_none_or(|b| idx < b)) {
                best = mmr;
                best_idx = Some(idx);
            }
        }
        let Some(chosen) = best_idx else {
            // The original appends None and then fails to remove it.
            return Err(PyValueError::new_err("list.remove(x): x not in list"));
        };
        unselected.retain(|&i| i != chosen);
        selected.push(chosen);
        for &idx in &unselected {
            let s = cos.get(idx, chosen)?;
            max_sim[idx] = Some(match max_sim[idx] {
                None => s,
                Some(m) if s > m => s,
                Some(m) => m,
            });
        }
    }
    match threshold {
        Some(t) => Ok(cos.threshold_walk(&selected, t)?.into_iter().map(|p| selected[p]).collect()),
        None => Ok(selected),
    }
}
