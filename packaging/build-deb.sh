#!/bin/sh
# Builds the Debian package into target/debian/ (binary, systemd unit, commented
# /etc/sylk-gateway/config.toml as a conffile, README, license):
#   packaging/build-deb.sh
# A release build first (about 8 minutes cold on 2 cores), then `cargo deb` (about 40 s).
# Install: dpkg -i target/debian/sylk-gateway_*.deb; then edit /etc/sylk-gateway/config.toml
# and `systemctl start sylk-gateway`. tests/packaging.rs builds the same package from the
# tests' own binary and installs it into a throwaway root.
set -eu
cd "$(dirname "$0")/.."
if ! cargo deb --version 2>/dev/null | grep -q '3\.8\.0'; then
  cargo install cargo-deb --version 3.8.0 --locked
fi
cargo build --release --locked --bin sylk-gateway
cargo deb --no-build
ls -l target/debian/*.deb
