#!/usr/bin/env bash
# Build the Lambda zip with cargo-lambda: scripts/build-lambda.sh [arm64|x86_64]
#
# arm64 (the template's default Architecture) needs Rust's aarch64-unknown-linux-gnu standard
# library. When it is missing we try to fetch it once with rustup; when that fails (no access to
# the Rust distribution server) we say so plainly and point at the x86_64 build instead of
# printing a wall of compiler errors.
set -euo pipefail

arch="${1:-arm64}"
bin="sc-action-runner"
out="target/lambda/${bin}/bootstrap.zip"

case "$arch" in
  arm64)
    rust_target="aarch64-unknown-linux-gnu"
    arch_flag="--arm64"
    ;;
  x86_64)
    rust_target="x86_64-unknown-linux-gnu"
    arch_flag="--x86-64"
    ;;
  *)
    echo "usage: $0 [arm64|x86_64]" >&2
    exit 64
    ;;
esac

if ! command -v cargo-lambda >/dev/null 2>&1; then
  echo "cargo-lambda is not on PATH; run 'make venv' (it installs cargo-lambda into .venv)." >&2
  exit 1
fi

has_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$rust_target"
}

if command -v rustup >/dev/null 2>&1 && ! has_target; then
  echo "Rust target ${rust_target} is not installed; fetching it with rustup..."
  if ! timeout 300 rustup target add "$rust_target" || ! has_target; then
    cat >&2 <<EOF

The ${arch} build needs the Rust target ${rust_target}, and it could not be fetched
('rustup target add ${rust_target}' failed: is the Rust distribution server reachable?).

Build for x86_64 instead, and deploy with the matching architecture:

    make build-x86                    # cargo lambda build --release --x86-64 --output-format zip
    make sam-build SAM_ARCH=x86_64    # sam build with Architecture=x86_64
    sam deploy --guided --parameter-overrides Architecture=x86_64

EOF
    exit 2
  fi
fi

set -x
cargo lambda build --release "$arch_flag" --output-format zip --bin "$bin"
{ set +x; } 2>/dev/null
echo "Built ${out} (${arch})."
