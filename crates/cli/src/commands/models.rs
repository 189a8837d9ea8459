//! `autobranch models`: fetch the default models, or show where they live.

use anyhow::anyhow;

use crate::backends::models_dir;
use crate::failure::Failure;

/// The models `autobranch models fetch NAME` knows, as the fetch script names them; the
/// embedding folders are also what `--embed-model NAME` finds in the models folder.
pub const NAMES: [&str; 4] = ["smollm2", EMBEDDING_FOLDERS[0], EMBEDDING_FOLDERS[1], "gemma-3-270m"];

/// The sentence-transformers folders among [`NAMES`].
pub const EMBEDDING_FOLDERS: [&str; 2] = ["all-minilm-l6-v2", "all-mpnet-base-v2"];

/// Runs `scripts/fetch-models.sh` from the source tree this binary was built from, for the
/// default models or the ones `names` picks.
pub fn fetch(names: &[String]) -> Result<(), Failure> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-models.sh");
    if !script.is_file() {
        return Err(Failure::Runtime(anyhow!(
            "the fetch script {} is not there (this binary was moved away from its source tree); \
             run scripts/fetch-models.sh from the autobranch repository",
            script.display()
        )));
    }
    let status = std::process::Command::new("bash")
        .arg(&script)
        .args(names)
        .env("AUTOBRANCH_MODELS", models_dir())
        .status()
        .map_err(|e| Failure::Runtime(anyhow!("cannot run {}: {e}", script.display())))?;
    if status.success() { Ok(()) } else { Err(Failure::Runtime(anyhow!("fetching models failed ({status})"))) }
}

/// Prints the models folder.
pub fn path() {
    println!("{}", models_dir().display());
}
