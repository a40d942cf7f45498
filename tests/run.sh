#!/usr/bin/env bash
# The test command (CI runs exactly this through .ci/run):
#   1. installs the real third-party test peers that the tests need, when missing
#      (Chromium + playwright-core for the browser test; the SIP issue adds Kamailio, sipp, baresip);
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
#   chromium: tests/browser_room.rs (headless, fake camera and microphone);
#   ip: the same test's loopback-only network namespace;
#   kamailio: tests/sip_*.rs (registrar + proxy on 127.0.0.1:5060, ../shared/peers/kamailio);
#   sipp: scripted SIP phone for the SIP call tests;
#   baresip, python3: a real SIP phone and its control script (tests/sip_browser_call.rs);
#   firefox-esr: Firefox participants in tests/browser_room.rs and tests/web_app.rs;
#   nft: blocks UDP to the media ports inside a test's network namespace (tests/ice_tcp.rs);
#   systemd-analyze, dpkg-deb: check the package's unit file and contents (tests/packaging.rs);
#   redis-server, redis-cli: the cluster tests' bus (tests/cluster.rs, tests/sip_cluster.rs).
PEERS=(chromium:chromium ip:iproute2 kamailio:kamailio sipp:sip-tester baresip:baresip-core python3:python3 firefox-esr:firefox-esr nft:nftables systemd-analyze:systemd redis-server:redis-server redis-cli:redis-tools)
missing=()
for entry in "${PEERS[@]+"${PEERS[@]}"}"; do
  cmd=${entry%%:*}; pkg=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
# Packages without a command of their own (kamailio-tls-modules: Kamailio's TLS listener of
# tests/sip_calls.rs `sip_register_and_call_over_tls`; ca-certificates: the system CAs SIP
# over TLS trusts by default; postgresql: the server of tests/storage_backends.rs and the
# cluster tests, started by them on loopback).
for pkg in fonts-liberation kamailio-tls-modules ca-certificates postgresql; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing test peers: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Where systemd runs, the kamailio package starts its own service on port 5060, which the
  # tests' Kamailio needs: stop and disable it (peers.md §2).
  if [[ " ${missing[*]} " == *" kamailio "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now kamailio >/dev/null 2>&1 || true
  fi
  # The packages' own PostgreSQL and Redis services are not used (the tests start theirs).
  if [ -d /run/systemd/system ]; then
    for service in postgresql redis-server; do
      if [[ " ${missing[*]} " == *" $service "* ]]; then
        systemctl disable --now "$service" >/dev/null 2>&1 || true
      fi
    done
  fi
fi
# npm packages go to target/peers-tools/node_modules (the tests read PEERS_TOOLS):
#   playwright-core drives Debian's Chromium (no browser download); needs Node >= 20;
#   puppeteer-core drives Debian's Firefox ESR over WebDriver BiDi (no browser download);
#   typescript (tsc) checks that src/web/sylkrtc.d.ts is generated from the library's JSDoc;
#   axe-core checks the web app's screens for accessibility violations.
export PEERS_TOOLS="${PEERS_TOOLS:-$PWD/target/peers-tools}"
for npm_pkg in playwright-core@1.65.1 puppeteer-core@24.43.1 typescript@5.9.3 axe-core@4.11.0; do
  if [ ! -f "$PEERS_TOOLS/node_modules/${npm_pkg%@*}/package.json" ]; then
    step "installing $npm_pkg into $PEERS_TOOLS"
    command -v npm >/dev/null 2>&1 || { echo "npm (Node >= 20) is needed for the browser tests" >&2; exit 1; }
    mkdir -p "$PEERS_TOOLS"
    (cd "$PEERS_TOOLS" && { [ -f package.json ] || npm init -y >/dev/null; } &&
      npm install --no-audit --no-fund --loglevel=error "$npm_pkg")
  fi
done

# cargo-deb builds the Debian package in tests/packaging.rs (pinned: its options move).
if ! cargo deb --version 2>/dev/null | grep -q '3\.8\.0'; then
  step "installing cargo-deb 3.8.0"
  cargo install cargo-deb --version 3.8.0 --locked
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
