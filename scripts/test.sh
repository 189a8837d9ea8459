#!/usr/bin/env bash
# Every test of the workspace: unit, integration, property and CLI tests, doctests, the
# examples (built and run), and one quick pass of each benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
cargo run --quiet --locked -p autobranch-core --example custom_models > /dev/null
cargo run --quiet --locked -p autobranch-cli -- select --input examples/select.jsonl --config examples/mars-twist.yaml --json > /dev/null
