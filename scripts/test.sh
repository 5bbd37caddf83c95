#!/usr/bin/env bash
# Every test of the repository, as CI runs it (`.ci/run` calls exactly this).
# Needs the Rust toolchain and python3; cargo fetches the crates, the scripts install the
# Python tools (moto, SAM CLI, cfn-lint, checkov) into venvs under .tools/. Every server a
# test starts binds 127.0.0.1 and is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== format"
cargo fmt --all -- --check

echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== local AWS emulator (moto) for the AWS adapter tests"
scripts/moto.sh start
trap 'scripts/moto.sh stop' EXIT
export MOTO_ENDPOINT="http://127.0.0.1:${PORT:-5055}"

echo "== tests"
cargo test --workspace --locked

echo "== infrastructure (sam validate --lint, cfn-lint, checkov)"
scripts/validate-infra.sh
