//! Records the versions of the inference engines this binary is built with (from the
//! workspace's Cargo.lock), so `autobranch bench --json` can say which engines it measured.

use std::path::Path;

const ENGINES: [&str; 5] = ["burn", "llama-cpp-2", "llama-cpp-sys-2", "tokenizers", "reqwest"];

fn main() {
    let lock = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    // Outside the workspace (a packaged crate) there is no lock file: the versions are unknown.
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')) else { continue };
        if !ENGINES.contains(&name) {
            continue;
        }
        if let Some(version) =
            lines.next().and_then(|l| l.strip_prefix("version = \"")).and_then(|r| r.strip_suffix('"'))
        {
            found.push(format!("{name}={version}"));
        }
    }
    println!("cargo:rustc-env=AUTOBRANCH_ENGINE_VERSIONS={}", found.join(","));
}
