#!/bin/bash
# build-release.sh: builds the hull that ships and prints its path.
#
# Release hull is a static, non-PIE executable: no dynamic loader, no shared library
# to map and no run-time relocations, so each container start touches fewer pages
# (docs/performance.md has the numbers). The flags need an explicit --target, so
# that they do not reach the proc-macro crates built for the host.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
ensure_cargo
cd "$repo"

host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release --quiet --target "$host" >&2
echo "$repo/target/$host/release/hull"
