//! Records the versions of the inference engines this binary is built with (from the
//! workspace's Cargo.lock), so `autobranch bench --json` can say which engines it measured;
//! in a CUDA build, sets the rpath to the shared libraries it links.

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

    // A CUDA build links llama.cpp's shared libraries and the CUDA toolkit's: their folders
    // go into the rpath, so the binary runs without LD_LIBRARY_PATH.
    println!("cargo:rerun-if-env-changed=CUDA_PATH");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        // The build folder of llama.cpp (from autobranch-llamacpp), then the binary's own
        // folder, where a copied installation keeps the libraries. DT_RPATH rather than
        // DT_RUNPATH: it also serves the libraries' own dependencies (libllama → libggml →
        // libggml-cuda → libcublas), which carry no search path of their own.
        println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
        if let Some(lib) = std::env::var_os("DEP_AUTOBRANCH_LLAMACPP_LIB_DIR") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", Path::new(&lib).display());
        }
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
        if let Some(cuda) = std::env::var_os("CUDA_PATH") {
            let lib = Path::new(&cuda).join("lib");
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
        }
    }
}
