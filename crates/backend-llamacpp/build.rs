//! A CUDA build links llama.cpp as shared libraries (`libllama.so.0`, `libggml*.so.0`),
//! which llama-cpp-sys-2 installs in its own build folder. This passes that folder on to the
//! crates that link binaries (the CLI), which put it into their rpath.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_LLAMA_GGML_CMAKE_DIR");
    // `<out>/lib/cmake`: the libraries are in its parent.
    if let Some(lib) = std::env::var_os("DEP_LLAMA_GGML_CMAKE_DIR").as_deref().map(Path::new).and_then(Path::parent) {
        println!("cargo:lib_dir={}", lib.display());
    }
}
