//! Exit codes: 0 success, 2 bad input or usage, 1 runtime failure.

use std::process::ExitCode;

/// A failed command, classified by whose fault it is.
#[derive(Debug)]
pub enum Failure {
    /// The input, the configuration or the flags are wrong (exit code 2).
    BadInput(anyhow::Error),
    /// Something failed while running (exit code 1).
    Runtime(anyhow::Error),
}

impl Failure {
    /// Prints the error chain to stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        let (error, code) = match self {
            Failure::BadInput(e) => (e, 2),
            Failure::Runtime(e) => (e, 1),
        };
        eprintln!("error: {error:#}");
        ExitCode::from(code)
    }
}

/// A model backend's error: a request the backend refuses (an unknown model, a value out of
/// range) or a model file that computes NaN is bad input; anything else (a server down) is a
/// runtime failure.
pub fn model_failure(e: autobranch_core::ModelError) -> Failure {
    match e {
        autobranch_core::ModelError::InvalidRequest(_) | autobranch_core::ModelError::BrokenModel(_) => {
            Failure::BadInput(e.into())
        }
        _ => Failure::Runtime(e.into()),
    }
}

/// Shorthands for classifying errors.
pub trait Classify<T> {
    /// Marks an error as bad input.
    fn bad_input(self) -> Result<T, Failure>;
    /// Marks an error as a runtime failure.
    fn runtime(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> Classify<T> for Result<T, E> {
    fn bad_input(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::BadInput(e.into()))
    }
    fn runtime(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::Runtime(e.into()))
    }
}
