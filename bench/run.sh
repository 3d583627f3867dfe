#!/bin/bash
# run.sh: benchmark hull against runc and crun, side by side, on one busybox bundle.
#
#   ./bench/run.sh                 the full benchmark (about 3 minutes on 2 cores, plus
#                                  the build)
#   ./bench/run.sh --quick         a smoke test with few runs; everything goes to
#                                  bench/results/quick.tmp/, latest.* is left alone
#
# What it does, in order:
#  1. On the host: installs what is missing (Debian's runc, crun, hyperfine, time,
#     gnuplot-nox, jq, python3), builds hull in release mode, then re-executes itself
#     inside a private mount namespace (`unshare -m --propagation private`).
#  2. In that namespace: lazily unmounts /sys/fs/cgroup/unified (crun 1.8 refuses the
#     host's hybrid v1+v2 layout) and covers the empty directory with a scratch tmpfs,
#     so that all three runtimes see the same pure cgroup v1 host. No mount made or
#     removed here is seen outside: the host keeps its cgroup2 mount.
#  3. Makes one busybox rootfs and one config (`hull spec`, terminal off, /bin/true, no
#     cgroup namespace), then per container a bundle directory holding only a copy of
#     that config that differs in linux.cgroupsPath (/hull-bench/<runtime>/<name>) and
#     points root.path at the shared rootfs. Each runtime keeps its state in its own
#     --root under a tmpfs, and each container has its own id.
#  4. Measures with hyperfine (-N, warm-up, --export-json): run (with and without a
#     network namespace), create, start, delete, exec; list and state with 1, 10, 50
#     and 100 running containers; 50 runs at once; and, with /usr/bin/time, the peak
#     RSS of create and exec, plus each binary's size.
#  5. Deletes every container, removes the /hull-bench cgroups (deepest first; no other
#     cgroup is touched), checks that nothing is left, and writes the report:
#     bench/results/latest.{json,md,png} (bench/report.py). Raw hyperfine exports and
#     the log stay in bench/results/raw.tmp/ (ignored by git).
#
# Settings (environment): BENCH_RUNS (100), BENCH_WARMUP (10), BENCH_PARALLEL (50),
# BENCH_PAR_RUNS (10), BENCH_SCALE_LEVELS ("1 10 50 100"), BENCH_RSS_RUNS (10).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

quick=0
case "${1:-}" in
    "") ;;
    --quick) quick=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

if [ "$quick" -eq 1 ]; then
    runs=${BENCH_RUNS:-5} warmup=${BENCH_WARMUP:-1} parallel=${BENCH_PARALLEL:-10}
    par_runs=${BENCH_PAR_RUNS:-2} levels=${BENCH_SCALE_LEVELS:-"1 10"}
    rss_runs=${BENCH_RSS_RUNS:-3} outdir=$here/results/quick.tmp
else
    runs=${BENCH_RUNS:-100} warmup=${BENCH_WARMUP:-10} parallel=${BENCH_PARALLEL:-50}
    par_runs=${BENCH_PAR_RUNS:-10} levels=${BENCH_SCALE_LEVELS:-"1 10 50 100"}
    rss_runs=${BENCH_RSS_RUNS:-10} outdir=$here/results
fi
runtimes=(hull runc crun)
raw=$outdir/raw.tmp
step=$here/step.sh

log() { printf '%s\n' "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------
# Phase 1, on the host.

install_missing() {
    local -a missing=()
    local pkg
    for pkg in runc crun hyperfine time gnuplot-nox jq python3; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; }
}

if [ -z "${HULL_BENCH_IN_NAMESPACE:-}" ]; then
    require_root "$@"
    install_missing
    ensure_cargo
    log "building hull (scripts/build-release.sh: static, non-PIE)"
    hull_bin=$("$repo/scripts/build-release.sh")
    [ -x "$hull_bin" ] || die "no $hull_bin after the build"
    # Measured from an installed copy, as runc and crun are: the file the linker
    # wrote starts 0.1 ms slower at every exec here (11 more page faults each), even
    # after its page cache is dropped, while a copy of it (written whole, as dpkg or
    # `install` write) does not.
    install -D -m 0755 "$hull_bin" "$repo/target/bench/hull"
    export HULL_BENCH_BIN=$repo/target/bench/hull
    HULL_BENCH_IN_NAMESPACE=1 exec unshare --mount --propagation private "$here/run.sh" "$@"
fi

# ---------------------------------------------------------------------------------
# Phase 2, in the private mount namespace.

declare -A bin=(
    [hull]=$HULL_BENCH_BIN
    [runc]=$(command -v runc)
    [crun]=$(command -v crun)
)

# Same cgroup view for everyone: see the header. The scratch tmpfs matters: crun, on a
# v1 host, still makes <cgroupsPath>/cgroup.procs under /sys/fs/cgroup/unified, and
# without it those files would land in the host's /sys/fs/cgroup tmpfs, hidden under
# the real cgroup2 mount.
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] && mountpoint -q /sys/fs/cgroup/unified; then
    umount -l /sys/fs/cgroup/unified
    mount -t tmpfs -o size=16m,mode=0755 hull-bench-scratch /sys/fs/cgroup/unified
    cgroup_note="hybrid host: /sys/fs/cgroup/unified unmounted in the benchmark's mount namespace (pure cgroup v1)"
elif [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    cgroup_note="pure cgroup v2"
else
    cgroup_note="pure cgroup v1"
fi

# Everything the benchmark makes lives in one tmpfs, like /run where runtimes keep
# their state by default; it vanishes with this mount namespace.
work=$(mktemp -d /tmp/hull-bench.XXXXXX)
mount -t tmpfs -o mode=0755 hull-bench "$work"
state=$work/state
bundles=$work/bundles
mkdir -p "$state" "$bundles"
for rt in "${runtimes[@]}"; do mkdir -p "$state/$rt"; done

rm -rf "$raw"
mkdir -p "$raw" "$outdir"

# The mount points of the cgroup hierarchies this namespace sees.
cgroup_mounts() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { t = $(i + 1); break } }
         (t == "cgroup" || t == "cgroup2") && $5 ~ "^/sys/fs/cgroup" { print $5 }' \
        /proc/self/mountinfo
}

# Deletes every container of every runtime, then the /hull-bench cgroups, deepest
# first. Safe to run twice; runs on any exit.
cleanup_done=0
cleanup() {
    [ "$cleanup_done" -eq 1 ] && return 0
    cleanup_done=1
    set +e
    local rt id m pids
    for rt in "${runtimes[@]}"; do
        [ -d "$state/$rt" ] || continue
        for id in $("${bin[$rt]}" --root "$state/$rt" list -q 2>/dev/null); do
            "${bin[$rt]}" --root "$state/$rt" delete -f "$id" >/dev/null 2>&1 ||
                log "cleanup: $rt delete -f $id failed"
        done
    done
    for m in $(cgroup_mounts); do
        [ -d "$m/hull-bench" ] || continue
        # Only the benchmark's own containers can be in here; a runtime that failed to
        # delete one leaves its processes behind, and the cgroups cannot go with them.
        pids=$(find "$m/hull-bench" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un)
        if [ -n "$pids" ]; then
            log "cleanup: killing leftover container processes in $m/hull-bench: $pids"
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null
            sleep 0.5
        fi
        find "$m/hull-bench" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$m/hull-bench" ] && log "cleanup: could not remove $m/hull-bench"
    done
    umount "$work" && rmdir "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------
# The bundle: one rootfs, one config and its variants, one directory per container.

log "making the busybox rootfs and the config"
"$repo/scripts/make-rootfs.sh" "$work/rootfs" >/dev/null
mkdir "$work/spec"
"${bin[hull]}" spec --bundle "$work/spec"

# The base config: `hull spec`, without a terminal, without a cgroup namespace (the
# default has none; dropped anyway so that the benchmark does not change if it
# gains one), and with root.path pointing at the one shared rootfs.
jq --arg rootfs "$work/rootfs" '
    .process.terminal = false
    | .process.args = ["/bin/true"]
    | .root.path = $rootfs
    | .linux.namespaces |= map(select(.type != "cgroup"))' \
    "$work/spec/config.json" >"$work/config.true.json"
jq '.linux.namespaces |= map(select(.type != "network"))' \
    "$work/config.true.json" >"$work/config.nonet.json"
jq '.process.args = ["sleep", "86400"]' "$work/config.true.json" >"$work/config.sleep.json"
jq -e '[.linux.namespaces[].type] | index("network")' "$work/config.true.json" >/dev/null ||
    die "the default spec has no network namespace; the with/without netns runs would be the same"

# make_bundle RT NAME VARIANT: $bundles/RT/NAME/config.json, the variant's config with
# its own cgroupsPath.
make_bundle() {
    mkdir -p "$bundles/$1/$2"
    jq --arg cg "/hull-bench/$1/$2" '.linux.cgroupsPath = $cg' \
        "$work/config.$3.json" >"$bundles/$1/$2/config.json"
}

max_level=0
for l in $levels; do [ "$l" -gt "$max_level" ] && max_level=$l; done
for rt in "${runtimes[@]}"; do
    make_bundle "$rt" run true
    make_bundle "$rt" run-nonet nonet
    make_bundle "$rt" create true
    make_bundle "$rt" start true
    make_bundle "$rt" delete true
    make_bundle "$rt" exec sleep
    make_bundle "$rt" rss true
    for ((i = 1; i <= max_level; i++)); do make_bundle "$rt" "$rt-scale-$i" sleep; done
    for ((i = 1; i <= parallel; i++)); do make_bundle "$rt" "$rt-par-$i" true; done
done

# The bench parent cgroups, made before any container so that no runtime counts them
# as its own (hull removes the parents it made; in the parallel runs one container's
# delete would then race with another's create).
for m in $(cgroup_mounts); do
    for d in "$m/hull-bench" "$m/hull-bench/hull" "$m/hull-bench/runc" "$m/hull-bench/crun"; do
        mkdir -p "$d"
        if [ "$(stat -f -c %T "$m")" = cgroup2fs ]; then
            read -r -a controllers <"$(dirname "$d")/cgroup.controllers" || true
            for c in "${controllers[@]}"; do
                echo "+$c" >"$(dirname "$d")/cgroup.subtree_control" 2>/dev/null || true
            done
        elif [ -f "$m/cpuset.cpus" ]; then
            # A new v1 cpuset cgroup has no cpus and no memory nodes until given some.
            cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
            cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
        fi
    done
done

# ---------------------------------------------------------------------------------
# What the report needs to say where the numbers come from.

version_of() {
    case $1 in
        hull) "${bin[hull]}" --version | awk '{ print $2 }' ;;
        runc) runc --version | awk 'NR == 1 { print $3 }' ;;
        crun) crun --version | awk 'NR == 1 { print $3 }' ;;
    esac
}
for rt in "${runtimes[@]}"; do
    path=$(readlink -f "${bin[$rt]}")
    # ldd fails on a static executable: no shared libraries then.
    libs=$( (ldd "$path" 2>/dev/null || true) | awk '/=>/ { print $1 }' | sort | paste -sd, -)
    jq -n --arg rt "$rt" --arg version "$(version_of "$rt")" --arg path "$path" \
        --argjson size "$(stat -c %s "$path")" --arg libs "$libs" \
        '{runtime: $rt, version: $version, path: $path, size_bytes: $size,
          shared_libs: ($libs | split(",") | map(select(. != "")))}' >"$raw/binary.$rt.json"
done
# The machine may be shared (builds, tests): say how busy it was, so that a reader can
# judge the spread. cpu_jiffies prints the busy and the total time of all cores since
# boot (in USER_HZ ticks); own_cpu_ticks sets own_ticks to the user+system time of this
# shell's finished children, that is hyperfine and everything it waited for.
cpu_jiffies() { awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat; }
own_cpu_ticks() {
    # `times` in this shell: in a pipeline or a $(...) it would run in a subshell, which
    # has no children of its own.
    times >"$raw/times.out"
    own_ticks=$(awk -v hz="$(getconf CLK_TCK)" 'NR == 2 { s = 0
        for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
        print s * hz }' "$raw/times.out")
    rm -f "$raw/times.out"
}
busy_pct() { awk -v b1="$1" -v t1="$2" -v b2="$3" -v t2="$4" 'BEGIN { printf "%.0f", 100 * (b2 - b1) / (t2 - t1) }'; }
read -r b1 t1 < <(cpu_jiffies)
sleep 3
read -r b2 t2 < <(cpu_jiffies)
busy_before=$(busy_pct "$b1" "$t1" "$b2" "$t2")

hull_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    hull_commit="$hull_commit+uncommitted changes"
fi
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
    --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    --argjson cores "$(nproc)" --arg mem "$(free -h | awk '/^Mem:/ { print $2 }')" \
    --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" --arg cgroups "$cgroup_note" \
    --arg hyperfine "$(hyperfine --version | awk '{ print $2 }')" --arg commit "$hull_commit" \
    --argjson busy "$busy_before" --argjson quick "$quick" \
    --argjson runs "$runs" --argjson warmup "$warmup" --argjson parallel "$parallel" \
    --argjson par_runs "$par_runs" --argjson rss_runs "$rss_runs" \
    --arg levels "$levels" \
    '{date: $date, kernel: $kernel, cpu: $cpu, cores: $cores, memory: $mem, os: $os,
      cgroups: $cgroups, hyperfine: $hyperfine, hull_commit: $commit,
      cpu_busy_pct_before: $busy, quick: ($quick == 1), runs: $runs, warmup: $warmup,
      parallel: $parallel, parallel_runs: $par_runs, rss_runs: $rss_runs,
      scale_levels: ($levels | split(" ") | map(select(. != "") | tonumber))}' >"$raw/meta.json"

# ---------------------------------------------------------------------------------
# The measurements.

# hf KEY RT HYPERFINE-ARGS... COMMAND: one hyperfine benchmark of one runtime, exported
# to $raw/KEY.RT.json. A failure is recorded in $raw/KEY.RT.failed and does not stop the
# other runtimes or benchmarks.
hf() {
    local key=$1 rt=$2
    shift 2
    local out=$raw/$key.$rt.json
    printf '  %-10s %-5s ' "$key" "$rt" >&2
    echo "=== $key $rt" >>"$raw/hyperfine.log"
    if hyperfine -N --style basic --command-name "$rt" --export-json "$out" "$@" \
        >>"$raw/hyperfine.log" 2>&1; then
        jq -r '.results[0] | [.mean, (.stddev // 0), (.times | length)] | @tsv' "$out" |
            awk -F'\t' '{ u = "ms"; f = 1000; if ($1 >= 1) { u = "s"; f = 1 }
                          printf "%9.3f %s ± %.3f  (%d runs)\n", $1 * f, u, $2 * f, $3 }' >&2
    else
        rm -f "$out"
        grep -v '^ *$' "$raw/hyperfine.log" | tail -n 3 >"$raw/$key.$rt.failed"
        echo "FAILED: $(tail -n 1 "$raw/$key.$rt.failed")" >&2
    fi
}

started=$SECONDS
read -r b1 t1 < <(cpu_jiffies)
own_cpu_ticks
own1=$own_ticks
log "1/6 run /bin/true, with and without a network namespace"
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    hf run "$rt" --warmup "$warmup" --runs "$runs" \
        --prepare "$step gone $b $r $rt-run" --cleanup "$step gone $b $r $rt-run" \
        "$b --root $r run -b $bundles/$rt/run $rt-run"
done
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    hf run-nonet "$rt" --warmup "$warmup" --runs "$runs" \
        --prepare "$step gone $b $r $rt-run-nonet" --cleanup "$step gone $b $r $rt-run-nonet" \
        "$b --root $r run -b $bundles/$rt/run-nonet $rt-run-nonet"
done

log "2/6 create, start and delete, each on its own"
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    hf create "$rt" --warmup "$warmup" --runs "$runs" \
        --prepare "$step gone $b $r $rt-create" --cleanup "$step gone $b $r $rt-create" \
        "$b --root $r create -b $bundles/$rt/create $rt-create"
done
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    hf start "$rt" --warmup "$warmup" --runs "$runs" \
        --prepare "$step created $b $r $bundles/$rt/start $rt-start" \
        --cleanup "$step gone $b $r $rt-start" \
        "$b --root $r start $rt-start"
done
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    hf delete "$rt" --warmup "$warmup" --runs "$runs" \
        --prepare "$step stopped $b $r $bundles/$rt/delete $rt-delete" \
        --cleanup "$step gone $b $r $rt-delete" \
        "$b --root $r delete $rt-delete"
done

# peak_rss KEY RT COMMAND...: the peak RSS in KiB of COMMAND, $rss_runs times, to
# $raw/rss-KEY.RT.json; GNU time reports the largest of the process and the children
# it waited for (for exec: the exec'd process too, for create: not the container).
peak_rss() {
    local key=$1 rt=$2 i kib
    shift 2
    local -a vals=()
    for ((i = 0; i < rss_runs; i++)); do
        [ "$key" = create ] && "$step" gone "${bin[$rt]}" "$state/$rt" "$rt-rss"
        if /usr/bin/time -q -f %M -o "$raw/rss.out" "$@" </dev/null >/dev/null 2>&1; then
            kib=$(tail -n 1 "$raw/rss.out")
            vals+=("$kib")
        else
            log "peak RSS of $rt $key: the command failed"
            echo "the command failed: $*" >"$raw/rss-$key.$rt.failed"
            break
        fi
    done
    rm -f "$raw/rss.out"
    [ "$key" = create ] && "$step" gone "${bin[$rt]}" "$state/$rt" "$rt-rss"
    [ ${#vals[@]} -gt 0 ] || return 0
    printf '%s\n' "${vals[@]}" | jq -s '{kib: .}' >"$raw/rss-$key.$rt.json"
    printf '  %-10s %-5s %9s KiB peak RSS (median of %d)\n' "rss-$key" "$rt" \
        "$(printf '%s\n' "${vals[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
        "${#vals[@]}" >&2
}

log "3/6 exec true into a running container, and peak RSS of exec and create"
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    if "$step" running "$b" "$r" "$bundles/$rt/exec" "$rt-exec"; then
        hf exec "$rt" --warmup "$warmup" --runs "$runs" "$b --root $r exec $rt-exec true"
        peak_rss exec "$rt" "$b" --root "$r" exec "$rt-exec" true
    else
        echo "could not start the container to exec into" >"$raw/exec.$rt.failed"
    fi
    "$step" gone "$b" "$r" "$rt-exec"
    peak_rss create "$rt" "$b" --root "$r" create -b "$bundles/$rt/rss" "$rt-rss"
done

log "4/6 list and state with $levels running containers"
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt n=0 ok=1
    for level in $levels; do
        while [ "$n" -lt "$level" ]; do
            n=$((n + 1))
            "$step" running "$b" "$r" "$bundles/$rt/$rt-scale-$n" "$rt-scale-$n" || { ok=0; break; }
        done
        if [ "$ok" -eq 0 ]; then
            echo "could not start container $n of $level" | tee "$raw/list-$level.$rt.failed" \
                >"$raw/state-$level.$rt.failed"
            log "$rt: could not start container $n; skipping its larger levels"
            break
        fi
        hf "list-$level" "$rt" --warmup "$warmup" --runs "$runs" "$b --root $r list"
        hf "state-$level" "$rt" --warmup "$warmup" --runs "$runs" "$b --root $r state $rt-scale-1"
    done
    for ((i = 1; i <= n; i++)); do "$step" gone "$b" "$r" "$rt-scale-$i"; done
done

log "5/6 $parallel runs of /bin/true at once"
for rt in "${runtimes[@]}"; do
    b=${bin[$rt]} r=$state/$rt
    hf parallel "$rt" --warmup 1 --runs "$par_runs" \
        "$step parallel $b $r $bundles/$rt $rt-par $parallel"
    for ((i = 1; i <= parallel; i++)); do "$step" gone "$b" "$r" "$rt-par-$i"; done
done
read -r b2 t2 < <(cpu_jiffies)
own_cpu_ticks
own2=$own_ticks
busy_during=$(busy_pct "$b1" "$t1" "$b2" "$t2")
own_during=$(busy_pct 0 "$t1" "$(awk -v a="$own1" -v b="$own2" 'BEGIN { print b - a }')" "$t2")
log "measured in $((SECONDS - started)) s; CPU busy: $busy_before% before, $busy_during% during" \
    "(the benchmark's own processes: $own_during%)"

# ---------------------------------------------------------------------------------
# Clean up, check that nothing is left, report.

log "6/6 cleaning up and checking that nothing is left"
leftovers=()
for rt in "${runtimes[@]}"; do
    ids=$("${bin[$rt]}" --root "$state/$rt" list -q 2>/dev/null | paste -sd' ' -)
    [ -z "$ids" ] || leftovers+=("$rt still lists: $ids")
done
cleanup
for m in $(cgroup_mounts); do
    [ -d "$m/hull-bench" ] && leftovers+=("cgroup $m/hull-bench")
done
mountpoint -q "$work" 2>/dev/null && leftovers+=("mount $work")
[ -d "$work" ] && leftovers+=("directory $work")
jq -n --argjson busy "$busy_during" --argjson own "$own_during" \
    --arg left "$(printf '%s\n' "${leftovers[@]+"${leftovers[@]}"}")" \
    '{cpu_busy_pct_during: $busy, cpu_own_pct_during: $own, leftovers: ($left | split("\n") | map(select(. != "")))}' \
    >"$raw/end.json"
if [ ${#leftovers[@]} -gt 0 ]; then
    log "left behind (deleted by hand if still there):"
    printf '  %s\n' "${leftovers[@]}" >&2
else
    log "nothing left: no containers, no /hull-bench cgroups, no mounts"
fi

/usr/bin/python3 "$here/report.py" "$raw" "$outdir"
