#!/bin/bash
# test.sh: the whole check that CI runs: formatting, lints, unit and integration tests.
#
# Run as root: the integration tests create real containers (namespaces, mounts,
# cgroups). Installs what is missing first (scripts/setup.sh), and builds the test
# rootfs at <repo>/.test-rootfs if it is not there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
require_root "$@"
"$here/setup.sh"
ensure_cargo
cd "$repo"

rootfs=$repo/.test-rootfs
if [ ! -x "$rootfs/bin/busybox" ]; then
    # Build aside and rename, so an interrupted build never looks like a finished one.
    rm -rf "$rootfs.partial"
    "$here/make-rootfs.sh" "$rootfs.partial"
    mv "$rootfs.partial" "$rootfs"
fi
export HULL_TEST_ROOTFS=$rootfs

step() { echo; echo "==> $*"; }

step cargo fmt --all -- --check
cargo fmt --all -- --check
step cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets -- -D warnings
step cargo test --workspace
cargo test --workspace
step "vm/run-cgroup2-tests.sh (the cgroup tests on pure cgroup v2, in a qemu guest)"
"$here/../vm/run-cgroup2-tests.sh"
echo
echo "test: all passed"
