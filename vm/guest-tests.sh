#!/bin/bash
# guest-tests.sh NAME=PATH...: run in the cgroup v2 test VM (vm/guest-init.sh runs it
# through the run's command file): first a sanity check of the guest with runc, then
# each test binary with --test-threads=1. Prints one line per binary and a summary.
#
# Runs every binary even when one fails. Exit status: 0 only if all passed; 2 if the
# guest itself is broken (runc cannot run a container on it).
#
# Environment (set by the command file): HULL_TEST_ROOTFS, HULL_TEST_TIMEOUT_SECS; the
# working directory is the hull package's, as under `cargo test`.
set -u

say() { echo "guest-tests: $*"; }

# runc is the reference: if it cannot run a busybox container on this pure v2 guest,
# a hull failure here would say nothing about hull.
runc_sanity_check() {
    if ! command -v runc > /dev/null; then
        say "runc is not installed: no sanity check of the guest"
        return 0
    fi
    local bundle=/tmp/runc-sanity output
    mkdir -p "$bundle"
    cp -a "$HULL_TEST_ROOTFS" "$bundle/rootfs"
    (cd "$bundle" && runc spec)
    sed -i -e 's/"terminal": true/"terminal": false/' \
        -e 's|^\(\s*\)"sh"$|\1"sh", "-c", "echo ok; cat /proc/self/cgroup; ls /sys/fs/cgroup/cgroup.controllers"|' \
        "$bundle/config.json"
    output=$(runc --root "$bundle/state" run --bundle "$bundle" runc-sanity 2>&1)
    local status=$?
    sed 's/^/    /' <<< "$output"
    rm -rf "$bundle"
    if [ "$status" -ne 0 ] || ! grep -qx ok <<< "$output" || ! grep -qx /sys/fs/cgroup/cgroup.controllers <<< "$output"; then
        say "SANITY CHECK FAILED: runc could not run a busybox container on cgroup v2 (status $status)"
        return 1
    fi
    say "sanity check passed: runc ran a busybox container on cgroup v2"
}

runc_sanity_check || exit 2

results=()
failed=0
for arg in "$@"; do
    name=${arg%%=*}
    binary=${arg#*=}
    say "running $name ($binary --test-threads=1)"
    started=$SECONDS
    "$binary" --test-threads=1
    status=$?
    if [ "$status" -eq 0 ]; then
        results+=("passed  $name ($((SECONDS - started))s)")
    else
        results+=("FAILED  $name (status $status, $((SECONDS - started))s)")
        failed=1
    fi
done

say "summary:"
for line in "${results[@]}"; do say "  $line"; done
exit "$failed"
