#!/usr/bin/env bash
# Every test of the workspace: unit, integration, property and CLI tests, the backends'
# tests on real models (fetched by scripts/fetch-models.sh into $AUTOBRANCH_MODELS), doc
# tests, the examples (built and run), and one quick pass of each benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
# The benchmarks that need a backend, in their quick test mode.
cargo test --locked -p autobranch-benches --features llamacpp,ollama --benches
# Against a real Ollama only when OLLAMA_HOST names one; shown, so a skip is visible.
cargo test --locked -p autobranch-ollama --test real_server -- --nocapture
cargo run --quiet --locked -p autobranch-core --example custom_models > /dev/null
cargo run --quiet --locked -p autobranch-cli -- select --input examples/select.jsonl --config examples/mars-twist.yaml --json > /dev/null
