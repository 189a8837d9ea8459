//! The `autobranch` Python package's native module, `autobranch._native`.
//!
//! Two layers, as the package's README describes:
//! - [`compat`]: the kernels under `autobranch`'s drop-in replacement for
//!   chatroutes-autobranch 1.3.1 (scoring, novelty and entropy in the original's f64
//!   arithmetic, scikit-learn's k-means step for step);
//! - [`native`]: the whole job in-process (generators, embedders, the explorer and the
//!   selection step of the CLI), exposed as `autobranch.native`.

use pyo3::prelude::*;

pub mod compat;
pub mod native;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(compat::scoring::composite_score, m)?)?;
    m.add_function(wrap_pyfunction!(compat::scoring::scored_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(compat::scoring::beam_order, m)?)?;
    m.add_function(wrap_pyfunction!(compat::novelty::cosine_similarity, m)?)?;
    m.add_function(wrap_pyfunction!(compat::novelty::cosine_keep, m)?)?;
    m.add_function(wrap_pyfunction!(compat::novelty::mmr_order, m)?)?;
    m.add_function(wrap_pyfunction!(compat::entropy::shannon_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(compat::blas::openblas_sums, m)?)?;
    m.add_class::<native::Embedder>()?;
    m.add_class::<native::Generator>()?;
    m.add_class::<native::Explorer>()?;
    m.add_function(wrap_pyfunction!(native::select, m)?)?;
    m.add_function(wrap_pyfunction!(native::extract_branch_points, m)?)?;
    m.add("LLM_PARSER_SYSTEM_PROMPT", autobranch_core::conversation::LLM_PARSER_SYSTEM_PROMPT)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
