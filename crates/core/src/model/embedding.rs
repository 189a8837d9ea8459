use std::sync::Arc;

use async_trait::async_trait;

use super::ModelError;

/// A row-major matrix of embedding vectors; every row is finite and L2-normalised or all
/// zeros (the constructors refuse NaN and infinities, so no score can inherit one).
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// Builds the matrix from flat row-major data, normalising each row to unit length
    /// (zero rows stay zero); a NaN or infinite value is an error naming its row.
    pub fn from_flat(dim: usize, mut data: Vec<f32>) -> Result<Self, ModelError> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(ModelError::MismatchedDimensions { expected: dim, actual: data.len() });
        }
        // A branch-free scan first (it vectorises); look for the position only on failure.
        if !data.iter().fold(true, |ok, x| ok & x.is_finite()) {
            let at = data.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(ModelError::NonFiniteEmbedding { row: at / dim, index: at % dim });
        }
        for row in data.chunks_exact_mut(dim) {
            normalise(row);
        }
        Ok(Self { dim, data })
    }

    /// Builds the matrix from rows of equal length; the dimension comes from the first row.
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self, ModelError> {
        let dim = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(dim * rows.len());
        for row in rows {
            let row = row.as_ref();
            if row.len() != dim {
                return Err(ModelError::MismatchedDimensions { expected: dim, actual: row.len() });
            }
            data.extend_from_slice(row);
        }
        if rows.is_empty() {
            return Ok(Self { dim: 0, data });
        }
        Self::from_flat(dim, data)
    }

    /// An empty matrix of the given dimension.
    pub fn empty(dim: usize) -> Self {
        Self { dim, data: Vec::new() }
    }

    /// Vector length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// Cosine similarity of rows `i` and `j` (0 when either is a zero vector).
    pub fn cosine(&self, i: usize, j: usize) -> f32 {
        dot(self.row(i), self.row(j))
    }

    /// Converts into rows, e.g. for JSON output.
    pub fn to_rows(&self) -> Vec<Vec<f32>> {
        self.rows().map(<[f32]>::to_vec).collect()
    }
}

fn normalise(row: &mut [f32]) {
    let norm = dot(row, row).sqrt();
    if norm > 0.0 && norm.is_finite() {
        row.iter_mut().for_each(|x| *x /= norm);
        return;
    }
    // The squares overflowed (|x| ≳ 1.8e19) or underflowed to 0: scale the largest
    // component to 1 first, then normalise.
    let scale = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if scale > 0.0 {
        row.iter_mut().for_each(|x| *x /= scale);
        let norm = dot(row, row).sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product with eight independent accumulators so the compiler vectorises it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Turns a batch of texts into L2-normalised vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// A stable identifier of the model (path or name), recorded in outputs.
    fn model_id(&self) -> &str;

    /// Vector length.
    fn dim(&self) -> usize;

    /// Embeds every text; row `i` belongs to `texts[i]`.
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError>;
}

#[async_trait]
impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn model_id(&self) -> &str {
        (**self).model_id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        (**self).embed(texts).await
    }
}

#[async_trait]
impl<E: Embedder + ?Sized> Embedder for Box<E> {
    fn model_id(&self) -> &str {
        (**self).model_id()
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
        (**self).embed(texts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_normalised_and_zero_rows_stay_zero() {
        let m = Embeddings::from_rows(&[vec![3.0, 4.0], vec![0.0, 0.0]]).unwrap();
        assert_eq!(m.row(0), &[0.6, 0.8]);
        assert_eq!(m.row(1), &[0.0, 0.0]);
        assert_eq!(m.cosine(0, 1), 0.0);
        assert!((m.cosine(0, 0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn mismatched_rows_are_rejected() {
        let err = Embeddings::from_rows(&[vec![1.0, 0.0], vec![1.0]]).unwrap_err();
        assert!(matches!(err, ModelError::MismatchedDimensions { expected: 2, actual: 1 }));
    }

    #[test]
    fn non_finite_values_are_refused_with_their_row() {
        let err = Embeddings::from_rows(&[vec![1.0, 0.0], vec![0.5, f32::NAN]]).unwrap_err();
        assert!(matches!(err, ModelError::NonFiniteEmbedding { row: 1, index: 1 }), "{err}");
        let err = Embeddings::from_flat(2, vec![f32::INFINITY, 0.0]).unwrap_err();
        assert_eq!(err.to_string(), "embedding row 0 holds a non-finite value at index 0; vectors must be finite");
    }

    #[test]
    fn huge_and_tiny_rows_still_become_unit_vectors() {
        let m = Embeddings::from_rows(&[vec![3e30, 4e30], vec![3e-30, 4e-30]]).unwrap();
        for i in 0..2 {
            assert!((m.row(i)[0] - 0.6).abs() < 1e-6 && (m.row(i)[1] - 0.8).abs() < 1e-6, "{:?}", m.row(i));
        }
    }

    #[test]
    fn dot_matches_naive_sum_for_odd_lengths() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }
}
