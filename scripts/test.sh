#!/usr/bin/env bash
# Every test of the repository, as CI runs it (`.ci/run` calls exactly this).
# Needs only the Rust toolchain; cargo fetches the crates. Test servers bind 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== format"
cargo fmt --all -- --check

echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked
