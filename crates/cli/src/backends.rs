//! Wires model backends chosen in the configuration. The backend crates add themselves here
//! behind cargo features; a backend that was not compiled in is a clear error.

use autobranch_core::Embedder;
use autobranch_core::config::ModelConfig;

use crate::failure::Failure;

/// The embedder the configuration asks for, if any.
pub fn embedder(config: Option<&ModelConfig>) -> Result<Option<Box<dyn Embedder>>, Failure> {
    match config {
        None => Ok(None),
        Some(m) => Err(Failure::BadInput(anyhow::anyhow!(
            "embedding backend {:?} is not compiled into this build of autobranch; \
             give every input line an \"embedding\" instead, or build with the backend's cargo feature",
            m.backend
        ))),
    }
}
