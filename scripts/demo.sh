#!/bin/bash
# demo.sh: build hull and run one container with it.
#
# Makes a busybox bundle in a temporary directory, runs a container in it that prints
# its hostname (set by the config to "hull") and its pid (1: it is the init of a new pid
# namespace), then removes everything it made. Run as root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
require_root "$@"
ensure_cargo

cd "$repo"
hull=$("$here/build-release.sh")

tmp=$(mktemp -d /tmp/hull-demo.XXXXXX)
id=demo-$RANDOM$RANDOM
state=$tmp/state
bundle=$tmp/bundle
cleanup() {
    # `run` deletes the container when it exits; this is for an interrupted demo.
    "$hull" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

"$here/make-rootfs.sh" "$bundle/rootfs"
"$hull" spec --bundle "$bundle"

# No terminal (the demo may run without one, e.g. from CI), and a process that shows
# the container's view of itself. The default spec has no hooks, so the first "args"
# array is process.args. The $(...) and $$ are for the container's shell, not ours.
# shellcheck disable=SC2016
sed -z -i \
    -e 's/"terminal":[[:space:]]*true/"terminal": false/' \
    -e 's/"args":[[:space:]]*\[[^]]*\]/"args": ["sh", "-c", "echo hostname: $(hostname); echo pid: $$"]/' \
    "$bundle/config.json"
if ! grep -q '"terminal": false' "$bundle/config.json" ||
    ! grep -q 'echo pid' "$bundle/config.json"; then
    echo "demo: could not edit $bundle/config.json" >&2
    exit 1
fi

echo "+ hull --root $state run -b $bundle $id"
"$hull" --root "$state" run -b "$bundle" "$id"
