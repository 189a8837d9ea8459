//! `autobranch models`: fetch the default models or models from the Hugging Face Hub, or
//! show where they live.

use anyhow::anyhow;

use crate::backends::models_dir;
use crate::failure::Failure;
use crate::hub;

/// The models `autobranch models fetch NAME` knows, as the fetch script names them; the
/// embedding folders are also what `--embed-model NAME` finds in the models folder.
pub const NAMES: [&str; 4] = ["smollm2", EMBEDDING_FOLDERS[0], EMBEDDING_FOLDERS[1], "gemma-3-270m"];

/// The sentence-transformers folders among [`NAMES`].
pub const EMBEDDING_FOLDERS: [&str; 2] = ["all-minilm-l6-v2", "all-mpnet-base-v2"];

/// A name `autobranch models fetch` takes: one of [`NAMES`] or a hub spec (`hf:…`).
pub fn parse_name(name: &str) -> Result<String, String> {
    match hub::Spec::parse(name) {
        Some(Ok(_)) => Ok(name.to_owned()),
        Some(Err(Failure::BadInput(e) | Failure::Runtime(e))) => Err(format!("{e:#}")),
        None if NAMES.contains(&name) => Ok(name.to_owned()),
        None => Err(format!("unknown model {name:?}; allowed: {}, or hf:ORG/REPO[@REVISION][/FILE]", NAMES.join(", "))),
    }
}

/// Fetches the default models, or the ones `names` picks: the project's through
/// `scripts/fetch-models.sh`, the hub's into the hub's cache (each one's local path printed).
pub fn fetch(names: &[String]) -> Result<(), Failure> {
    let mut specs = Vec::new();
    let mut named = Vec::new();
    for name in names {
        match hub::Spec::parse(name) {
            Some(spec) => specs.push(spec?),
            None => named.push(name),
        }
    }
    if specs.is_empty() || !named.is_empty() {
        run_fetch_script(&named)?;
    }
    if specs.is_empty() {
        return Ok(());
    }
    let hub = hub::Hub::from_env()?;
    for spec in specs {
        println!("{}", hub.fetch(&spec)?.display());
    }
    Ok(())
}

/// Runs `scripts/fetch-models.sh` from the source tree this binary was built from, for the
/// default models or the ones `names` picks.
fn run_fetch_script(names: &[&String]) -> Result<(), Failure> {
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
