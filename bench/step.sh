#!/bin/bash
# step.sh: the small steps that bench/run.sh hands to hyperfine as --prepare, --cleanup
# or as a timed command. Not meant to be run by hand.
#
# Every step takes the runtime's binary and its state dir first, so that one file
# serves hull, runc and crun alike:
#
#   step.sh gone     BIN ROOT ID              no container ID exists (delete -f, quietly)
#   step.sh created  BIN ROOT BUNDLE ID       ID exists and is "created"
#   step.sh running  BIN ROOT BUNDLE ID       ID exists and is "running"
#   step.sh stopped  BIN ROOT BUNDLE ID       ID exists and its process has exited
#   step.sh parallel BIN ROOT BUNDLES PREFIX N
#                                             N foreground `run`s at once, container i
#                                             with bundle BUNDLES/PREFIX-i and id PREFIX-i;
#                                             fails if any of them fails
#
# A container's stdio is the caller's: every create and run here gets /dev/null, so
# that no container holds a pipe of hyperfine's (or of a `| tee`) open.
set -euo pipefail

die() { echo "step.sh: $*" >&2; exit 1; }

# status BIN ROOT ID: the container's status word, or nothing if it does not exist.
# The three runtimes format `state` differently (indentation, key order), but each
# prints `"status": "<word>"` on a line of its own.
status() {
    "$1" --root "$2" state "$3" 2>/dev/null |
        sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p' | head -n 1
}

gone() {
    "$1" --root "$2" delete -f "$3" </dev/null >/dev/null 2>&1 || true
    [ -z "$(status "$1" "$2" "$3")" ] || die "could not delete $3"
}

created() {
    gone "$1" "$2" "$4"
    "$1" --root "$2" create -b "$3" "$4" </dev/null >/dev/null 2>&1 ||
        die "$1 create $4 failed"
}

running() {
    created "$@"
    "$1" --root "$2" start "$4" </dev/null >/dev/null 2>&1 || die "$1 start $4 failed"
}

stopped() {
    running "$@"
    # /bin/true exits at once, but after `start` has returned: wait for it, up to 5 s.
    local i
    for ((i = 0; i < 500; i++)); do
        [ "$(status "$1" "$2" "$4")" = stopped ] && return 0
        sleep 0.01
    done
    die "$4 did not stop within 5 s (status: $(status "$1" "$2" "$4"))"
}

parallel() {
    local bin=$1 root=$2 bundles=$3 prefix=$4 n=$5 i failed=0
    local -a pids=()
    for ((i = 1; i <= n; i++)); do
        "$bin" --root "$root" run -b "$bundles/$prefix-$i" "$prefix-$i" \
            </dev/null >/dev/null 2>&1 &
        pids+=("$!")
    done
    for i in "${pids[@]}"; do
        wait "$i" || failed=$((failed + 1))
    done
    [ "$failed" -eq 0 ] || die "$failed of $n parallel runs failed"
}

[ $# -ge 1 ] || die "usage: step.sh gone|created|running|stopped|parallel ARGS..."
step=$1
shift
case $step in
    gone) [ $# -eq 3 ] || die "usage: step.sh gone BIN ROOT ID"; gone "$@" ;;
    created | running | stopped)
        [ $# -eq 4 ] || die "usage: step.sh $step BIN ROOT BUNDLE ID"
        "$step" "$@"
        ;;
    parallel)
        [ $# -eq 5 ] || die "usage: step.sh parallel BIN ROOT BUNDLES PREFIX N"
        parallel "$@"
        ;;
    *) die "unknown step: $step" ;;
esac
