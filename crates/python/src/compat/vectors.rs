//! Embeddings from Python (lists of floats, tuples, numpy arrays) as f64 rows, and the cosine
//! the original computes with numpy: dot / (‖a‖·‖b‖), 0 when either norm is 0.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyList};

/// Rows of one dimension, row-major.
#[derive(Clone, Debug)]
pub struct Matrix {
    data: Vec<f64>,
    rows: usize,
    dim: usize,
}

impl Matrix {
    /// A matrix of zeros.
    pub fn zeros(rows: usize, dim: usize) -> Self {
        Self { data: vec![0.0; rows * dim], rows, dim }
    }

    /// Rows that all have the same length.
    pub fn from_rows(rows: Vec<Vec<f64>>) -> Self {
        let dim = rows.first().map_or(0, Vec::len);
        let n = rows.len();
        Self { data: rows.into_iter().flatten().collect(), rows: n, dim }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Length of every row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Element (i, j).
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.dim + j]
    }

    /// Element (i, j), writable.
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.data[i * self.dim + j]
    }
}

fn not_a_number(item: &Bound<'_, PyAny>) -> PyErr {
    let shown = item.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("an embedding holds {shown}; every element must be a number"))
}

fn number(item: &Bound<'_, PyAny>) -> PyResult<f64> {
    match item.cast::<PyFloat>() {
        Ok(f) => Ok(f.value()),
        Err(_) => item.extract::<f64>().map_err(|_| not_a_number(item)),
    }
}

/// One embedding: any sequence of numbers.
pub fn vector(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    // The hot path of every step with cached embeddings: a list of floats.
    if let Some(v) = super::cpython::floats(obj) {
        return Ok(v);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        // Borrowed items and `PyFloat_AsDouble` (floats, ints and anything with
        // `__float__`), no reference counting per element.
        let n = list.len();
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: `list` is a live list and `i` is in bounds; the borrowed item is used
            // before anything can change the list (no Python code runs in between).
            let x = unsafe { ffi::PyFloat_AsDouble(ffi::PyList_GetItem(list.as_ptr(), i as ffi::Py_ssize_t)) };
            if x == -1.0 && PyErr::occurred(list.py()) {
                let _ = PyErr::take(list.py());
                return Err(not_a_number(&list.get_item(i)?));
            }
            v.push(x);
        }
        return Ok(v);
    }
    let mut v = Vec::new();
    for item in obj.try_iter()? {
        v.push(number(&item?)?);
    }
    Ok(v)
}

/// Several embeddings, one per row, of the same length (as `np.array` requires of the
/// original's k-means input).
pub fn matrix(obj: &Bound<'_, PyAny>) -> PyResult<Matrix> {
    let rows: Vec<Vec<f64>> = obj.try_iter()?.map(|r| vector(&r?)).collect::<PyResult<_>>()?;
    if let Some(first) = rows.first()
        && let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != first.len())
    {
        return Err(PyValueError::new_err(format!(
            "setting an array element with a sequence: embedding {i} has {} dimensions, embedding 0 has {}",
            r.len(),
            first.len()
        )));
    }
    Ok(Matrix::from_rows(rows))
}

/// Several embeddings that may differ in length (each pair is checked when compared).
pub fn rows(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
    obj.try_iter()?.map(|r| vector(&r?)).collect()
}

/// `np.dot(a, b)` of two 1-d vectors, with numpy's error for different lengths.
pub fn dot(a: &[f64], b: &[f64]) -> PyResult<f64> {
    if a.len() != b.len() {
        return Err(PyValueError::new_err(format!(
            "shapes ({},) and ({},) not aligned: {} (dim 0) != {} (dim 0)",
            a.len(),
            b.len(),
            a.len(),
            b.len()
        )));
    }
    Ok(dot_unchecked(a, b))
}

/// The dot product of two vectors of one length as OpenBLAS's `ddot` (under `np.dot` and
/// `np.linalg.norm`) sums it on this CPU ([`super::blas::ddot`]).
pub fn dot_unchecked(a: &[f64], b: &[f64]) -> f64 {
    super::blas::ddot(a, b)
}

/// `np.linalg.norm(a)`.
pub fn norm(a: &[f64]) -> f64 {
    dot_unchecked(a, a).sqrt()
}

/// The original's `_cosine_similarity`: 0 when either norm is 0.
pub fn cosine(a: &[f64], na: f64, b: &[f64], nb: f64) -> PyResult<f64> {
    let d = dot(a, b)?;
    if na == 0.0 || nb == 0.0 {
        return Ok(0.0);
    }
    Ok(d / (na * nb))
}

/// Python's `max(values)` (the first of equals wins; NaN compares false, so a leading NaN
/// sticks and a later one is skipped).
pub fn py_max(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().fold(None, |best, v| match best {
        None => Some(v),
        Some(b) if v > b => Some(v),
        keep => keep,
    })
}

/// Python's `min(a, b)`.
pub fn py_min2(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// Python's `max(a, b)`.
pub fn py_max2(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}
