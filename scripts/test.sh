#!/usr/bin/env bash
# Every test of the workspace: unit, integration, property and CLI tests, the backends'
# tests on real models (fetched by scripts/fetch-models.sh into $AUTOBRANCH_MODELS), doc
# tests, the examples, and one quick pass of each benchmark (those that need a backend
# included). One feature set throughout, so llama.cpp and Burn are compiled once; every
# Burn backend is in it (wgpu runs on Mesa's lavapipe where there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURES="autobranch-benches/llamacpp,autobranch-benches/ollama,autobranch-benches/burn"
FEATURES="$FEATURES,autobranch-burn/ndarray,autobranch-burn/wgpu,autobranch-cli/burn-ndarray,autobranch-cli/burn-wgpu"
# Mesa prints a warning on every start without it.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
TARGET="${CARGO_TARGET_DIR:-target}"

cargo test --workspace --all-targets --locked --features "$FEATURES"
cargo test --workspace --doc --locked --features "$FEATURES"
# The Python package (crates/python): its extension module from this same build (one target
# directory, one feature set), staged beside its Python sources; then its pytest suite (the
# original chatroutes-autobranch side by side, the real models, the CLI binary) and the
# notebook-shaped example, in the virtual environment scripts/fetch-models.sh --tests fills.
# `--all-targets`, as above: with `--lib` alone the dev-dependencies' features drop out
# (gguf's test-support, openai's mock server, …), which recompiled half the graph, Burn
# included; with it only the extension module itself is linked.
cargo build --quiet --locked --workspace --all-targets --features "$FEATURES"
MODELS="${AUTOBRANCH_MODELS:-$HOME/.cache/autobranch/models}"
PYDEV="$TARGET/python-dev"
rm -rf "$PYDEV" && mkdir -p "$PYDEV"
cp -r crates/python/python/autobranch "$PYDEV/"
cp "$TARGET/debug/lib_native.so" "$PYDEV/autobranch/_native.abi3.so"
AUTOBRANCH_BIN="$TARGET/debug/autobranch" PYTHONPATH="$PYDEV" \
    "$MODELS/.venv/bin/python" -m pytest -q -p no:cacheprovider crates/python/tests
PYTHONPATH="$PYDEV" "$MODELS/.venv/bin/python" examples/python/creative_writing.py --max-tokens 16 > /dev/null
# Against a real Ollama only when OLLAMA_HOST names one; shown, so a skip is visible. The same
# package set and features as above (a `-p` run resolves features anew and recompiles).
cargo test --locked --workspace --features "$FEATURES" --test real_server -- --nocapture
# The library example, and the README's select example with the binaries built above.
cargo build --quiet --locked --workspace --examples --features "$FEATURES"
"$TARGET/debug/examples/custom_models" > /dev/null
"$TARGET/debug/autobranch" select --input examples/select.jsonl --config examples/mars-twist.yaml --json > /dev/null
