#!/usr/bin/env bash
# The test command (CI runs exactly this through .ci/run):
#   1. installs the real third-party test peers that the tests need, when missing
#      (none yet: the SIP and browser issues add Kamailio, sipp, baresip and Chromium here);
#   2. cargo fmt --check;
#   3. cargo clippy --all-targets -- -D warnings;
#   4. every test (unit, property and integration tests against the real binary), in
#      parallel with cargo-nextest when it is installed, else with cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

step() { printf '\n==> %s\n' "$*"; }

# --- 1. test peers -----------------------------------------------------------------------
# Each entry: a command that must exist, and the Debian package that provides it.
PEERS=()
missing=()
for entry in "${PEERS[@]+"${PEERS[@]}"}"; do
  cmd=${entry%%:*}; pkg=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing test peers: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 2. format ---------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

# --- 3. lint -----------------------------------------------------------------------------
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# --- 4. tests ----------------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest run --workspace"
  cargo nextest run --workspace --no-fail-fast
else
  step "cargo test --workspace"
  cargo test --workspace --no-fail-fast
fi
