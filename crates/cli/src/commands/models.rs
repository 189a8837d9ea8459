//! `autobranch models`: fetch the default models, or show where they live.

use anyhow::anyhow;

use crate::backends::models_dir;
use crate::failure::Failure;

/// Runs `scripts/fetch-models.sh` from the source tree this binary was built from.
pub fn fetch() -> Result<(), Failure> {
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
        .env("AUTOBRANCH_MODELS", models_dir())
        .status()
        .map_err(|e| Failure::Runtime(anyhow!("cannot run {}: {e}", script.display())))?;
    if status.success() { Ok(()) } else { Err(Failure::Runtime(anyhow!("fetching models failed ({status})"))) }
}

/// Prints the models folder.
pub fn path() {
    println!("{}", models_dir().display());
}
