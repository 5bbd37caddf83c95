#!/usr/bin/env bash
# Every test of the repository, as CI runs it (`.ci/run` calls exactly this).
# Needs the Rust toolchain, python3 and Node; cargo fetches the crates, the scripts install the
# Python tools (moto, SAM CLI, cfn-lint, checkov) into venvs under .tools/, Debian's
# Chromium (apt, when /usr/bin/chromium is missing) and playwright-core (npm, into .tools/). Every server a
# test starts binds 127.0.0.1 and is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# CI builds once from a clean clone, so it keeps the build small on disk: no incremental caches,
# and test binaries linked without debug information (panics still name file and line; a
# backtrace names functions). Over a hundred test binaries took 4.0 GB with it, 2.5 GB without.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=false
export CARGO_PROFILE_DEV_STRIP=debuginfo

echo "== format"
cargo fmt --all -- --check

echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== local AWS emulator (moto) for the AWS adapter tests"
scripts/moto.sh start
trap 'scripts/moto.sh stop' EXIT
export MOTO_ENDPOINT="http://127.0.0.1:${PORT:-5055}"

echo "== headless browser for the status page test (Debian's Chromium driven by playwright-core)"
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
# playwright-core only drives the browser it is given: it downloads none.
if [ ! -d .tools/status-browser/node_modules/playwright-core ]; then
  mkdir -p .tools/status-browser
  npm install --prefix .tools/status-browser --no-audit --no-fund --no-save playwright-core@1.65.1
fi
# The browser test runs inside the workspace test run below. Run on its own (`cargo test -p
# wfo-connect`), cargo would resolve features for that one package and build most dependencies a
# second time: gigabytes of disk, which a CI machine with little free space does not have.
export WFO_STATUS_PAGE_BROWSER=1
export NODE_PATH="$PWD/.tools/status-browser/node_modules"

echo "== tests"
cargo test --workspace --locked

echo "== infrastructure (sam validate --lint, cfn-lint, checkov)"
scripts/validate-infra.sh
