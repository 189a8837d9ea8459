//! The hyperparameter checks of `read_header` accept the real models (SmolLM2, Gemma 3,
//! the MiniLM GGUF); copies with one value rewritten are refused in the backends' tests.
//! Models come from `AUTOBRANCH_MODELS`.

use std::path::PathBuf;

use autobranch_gguf::read_header;

fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    });
    let path = dir.join(name);
    assert!(path.is_file(), "missing {}; run scripts/fetch-models.sh --tests", path.display());
    path
}

#[test]
fn real_models_pass() {
    for name in ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf", "all-minilm-l6-v2.gguf"] {
        if let Err(e) = read_header(&model(name)) {
            panic!("{name}: {e}");
        }
    }
}
