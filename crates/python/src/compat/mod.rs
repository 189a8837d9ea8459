//! The compatibility layer's native kernels: the original library's arithmetic (f64, numpy's
//! and scikit-learn's rules) for the hot loops of `autobranch.core.scorer`,
//! `autobranch.novelty` and `autobranch.entropy`. The Python classes around them keep the
//! original's API; these functions only compute.

pub mod blas;
pub mod cpython;
pub mod entropy;
pub mod kmeans;
pub mod novelty;
pub mod scoring;
pub mod vectors;
