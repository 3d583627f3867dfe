#!/bin/bash
# run-cgroup2-tests.sh: run hull's cgroup-related integration tests in a VM whose only
# cgroup hierarchy is v2.
#
# The host may be cgroup v1 or hybrid; hull must also work where /sys/fs/cgroup is the
# unified hierarchy and nothing else. This script boots Debian 12's own kernel under
# qemu (TCG: software emulation, no KVM needed) with the host's root filesystem as the
# guest's, read-only over virtio-9p with a tmpfs overlay on top, so the guest runs the
# test binaries, the hull binary and the test rootfs that were built here, unchanged.
# In the guest, vm/guest-init.sh mounts a pure cgroup v2 hierarchy with every controller
# enabled and runs vm/guest-tests.sh, whose exit status becomes this script's.
#
# Run as root, on Debian 12. Installs what is missing first: the kernel (only its image
# and modules are used; the host keeps booting its own), qemu from bookworm-backports,
# busybox-static. Never writes to the host from the guest: the 9p export of / is
# read-only; the only writable share is this run's own directory under $cache.
#
# Usage: run-cgroup2-tests.sh [COMMAND [ARG...]]
# With a COMMAND, the guest runs it instead of the tests (in the same environment: the
# hull package's directory, HULL_TEST_ROOTFS set), to look around on pure cgroup v2, e.g.
#   vm/run-cgroup2-tests.sh sh -c 'cat /sys/fs/cgroup/cgroup.subtree_control; ../../target/debug/hull features'
#
# Exit status: the guest's (0: every test passed), or 1 if the VM did not boot or did not
# report, 124 if it ran longer than $HULL_VM_TIMEOUT_SECS (default 1800).
set -euo pipefail
# Functions whose output is captured with $(…) stop at the first error too.
shopt -s inherit_errexit

# The integration test binaries (`[[test]]` names) that the guest runs, in order. Each
# name of optional_test_binaries is added when the workspace has a test by that name.
test_binaries=(namespaces lifecycle exec rootfs)
optional_test_binaries=(cgroups cgroup_fields lsm)

vm_timeout_secs=${HULL_VM_TIMEOUT_SECS:-1800}
vm_memory_mb=2048
vm_cpus=2
# How long one hull command may take in the guest: TCG runs code ~20 times slower.
guest_hull_timeout_secs=300
cache=/var/cache/hull-vm

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
require_root

say() { echo "cgroup2-vm: $*"; }
die() { echo "cgroup2-vm: $*" >&2; exit 1; }

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# bookworm's qemu 7.2 conflicts with the backports qemu-utils that some machines have;
# the backports qemu-system-x86 goes with either.
install_packages() {
    local base=() need_qemu=false
    is_installed linux-image-amd64 || base+=(linux-image-amd64)
    is_installed busybox-static || base+=(busybox-static)
    is_installed qemu-system-x86 || need_qemu=true
    [ ${#base[@]} -gt 0 ] || $need_qemu || return 0

    export DEBIAN_FRONTEND=noninteractive
    if $need_qemu && ! grep -qsE '^[^#]*bookworm-backports' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
        say "adding bookworm-backports to apt's sources"
        cat > /etc/apt/sources.list.d/backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    fi
    apt-get update -q
    if [ ${#base[@]} -gt 0 ]; then
        say "installing ${base[*]}"
        apt-get install -y -q --no-install-recommends "${base[@]}"
    fi
    if $need_qemu; then
        say "installing qemu-system-x86 from bookworm-backports"
        apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-x86
    fi
}

# The version of the kernel that linux-image-amd64 points at, e.g. 6.1.0-37-amd64.
kernel_version() {
    local depends
    depends=$(dpkg-query -W -f='${Depends}' linux-image-amd64)
    depends=${depends%%[ ,|]*}
    echo "${depends#linux-image-}"
}

# The module files (relative to /lib/modules/$kver) to load, dependencies first, for
# the modules named; built-in modules are skipped. Reads modules.dep.
declare -A module_file=() module_deps=() module_done=()
module_load_order() {
    local kver=$1; shift
    local dir=/lib/modules/$kver file deps name
    while IFS=: read -r file deps; do
        name=${file##*/}
        name=${name%%.ko*}
        module_file[${name//-/_}]=$file
        module_deps[${name//-/_}]=$deps
    done < "$dir/modules.dep"
    for name in "$@"; do
        visit_module "$dir" "$name"
    done
}

# Prints the files of module $2 and of what it needs, each once, dependencies first.
visit_module() {
    local dir=$1 name=${2//-/_} dep
    [ -z "${module_done[$name]:-}" ] || return 0
    module_done[$name]=1
    if [ -z "${module_file[$name]:-}" ]; then
        grep -qE "/${name//_/[-_]}\.ko" "$dir/modules.builtin" ||
            die "kernel module $name is neither in $dir/modules.dep nor built in"
        return 0
    fi
    for dep in ${module_deps[$name]}; do
        dep=${dep##*/}
        visit_module "$dir" "${dep%%.ko*}"
    done
    echo "${module_file[$name]}"
}

# Builds the initramfs at $2 for kernel $1: static busybox, vm/initramfs-init as /init,
# and the modules that mount the host's root over 9p with an overlay.
build_initramfs() {
    local kver=$1 out=$2 staging=$2.d file base
    mkdir -p "$staging"/{bin,dev,proc,sys,modules}
    cp /bin/busybox "$staging/bin/busybox"
    cp "$here/initramfs-init" "$staging/init"
    chmod 0755 "$staging/init"
    # The kernel opens /dev/console for init before anything can mount devtmpfs.
    mknod -m 0600 "$staging/dev/console" c 5 1

    local modules=(virtio_pci virtio_ring virtio 9pnet 9pnet_virtio 9p overlay)
    local dir=/lib/modules/$kver
    for name in netfs fscache; do
        grep -qE "/$name\.ko" "$dir/modules.dep" && modules+=("$name")
    done
    local order
    order=$(module_load_order "$kver" "${modules[@]}")
    : > "$staging/modules/load-order"
    for file in $order; do
        base=$(basename "$file")
        case $base in
            *.ko) cp "$dir/$file" "$staging/modules/$base" ;;
            # busybox insmod may lack xz support: load them decompressed.
            *.ko.xz) base=${base%.xz}; busybox unxz -c "$dir/$file" > "$staging/modules/$base" ;;
            *) die "cannot unpack kernel module $file" ;;
        esac
        echo "$base" >> "$staging/modules/load-order"
    done

    (cd "$staging" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 > "$out"
    rm -rf "$staging"
}

# The names of the workspace's integration test targets, one a line.
test_targets() {
    cargo metadata --no-deps --format-version 1 |
        # A target is an innermost JSON object; its fields may come in any order.
        grep -oE '\{[^{}]*\}' | grep -F '"kind":["test"]' |
        sed -E 's/.*"name":"([^"]*)".*/\1/'
}

# Builds the test binaries the guest runs, and prints "name path" for each.
build_tests() {
    local name line target path wanted=("${test_binaries[@]}") available
    available=$(test_targets) || die "cargo metadata failed"
    for name in "${optional_test_binaries[@]}"; do
        grep -qx "$name" <<< "$available" && wanted+=("$name")
    done
    local args=()
    for name in "${wanted[@]}"; do args+=(--test "$name"); done
    local json
    json=$(cargo test --workspace --no-run --message-format=json-render-diagnostics "${args[@]}") ||
        die "cargo could not build the test binaries ${wanted[*]}"

    declare -A built=()
    while IFS= read -r line; do
        case $line in
            *'"reason":"compiler-artifact"'*'"executable":"'*) ;;
            *) continue ;;
        esac
        target=$(sed -E 's/.*"target":(\{[^{}]*\}).*/\1/' <<< "$line")
        case $target in *'"kind":["test"]'*) ;; *) continue ;; esac
        name=$(sed -E 's/.*"name":"([^"]*)".*/\1/' <<< "$target")
        path=$(sed -E 's/.*"executable":"([^"]*)".*/\1/' <<< "$line")
        built[$name]=$path
    done <<< "$json"
    for name in "${wanted[@]}"; do
        [ -n "${built[$name]:-}" ] || die "cargo built no test binary named $name"
        echo "$name ${built[$name]}"
    done
}

# The serial console's text without carriage returns and terminal escapes (SeaBIOS
# resets and clears the screen).
console_filter() {
    sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1b[a-zA-Z]//g'
}

# The guest mounts its own file systems on these, hiding whatever the host has there.
check_visible_in_guest() {
    local path
    for path in "$@"; do
        case $(realpath -m "$path")/ in
            /run/* | /proc/* | /sys/* | /dev/*)
                die "$path is hidden in the guest (it mounts its own /run, /proc, /sys, /dev): move the repo elsewhere" ;;
        esac
    done
}

main() {
    local started=$SECONDS
    install_packages
    ensure_cargo
    cd "$repo"

    local kver
    kver=$(kernel_version)
    local kernel=/boot/vmlinuz-$kver
    if [ ! -f "$kernel" ] || [ ! -d "/lib/modules/$kver" ]; then
        die "linux-image-amd64 points at $kver, but $kernel or /lib/modules/$kver is missing"
    fi

    local rootfs=$repo/.test-rootfs
    if [ ! -x "$rootfs/bin/busybox" ]; then
        rm -rf "$rootfs.partial"
        "$repo/scripts/make-rootfs.sh" "$rootfs.partial"
        mv "$rootfs.partial" "$rootfs"
    fi

    say "building the test binaries"
    local tests
    tests=$(build_tests)
    local binaries
    mapfile -t binaries < <(cut -d' ' -f2 <<< "$tests")
    check_visible_in_guest "$repo" "$rootfs" "${binaries[@]}"

    mkdir -p "$cache"
    rundir=$(mktemp -d "$cache/run.XXXXXX")
    trap 'rm -rf "$rundir"' EXIT
    build_initramfs "$kver" "$rundir/initramfs.cpio.gz"

    # What the guest runs, once it is up (vm/guest-init.sh runs this file).
    {
        echo "export HULL_TEST_ROOTFS=$(printf %q "$rootfs")"
        echo "export HULL_TEST_TIMEOUT_SECS=$guest_hull_timeout_secs"
        # cargo runs a package's tests in the package's directory.
        echo "cd $(printf %q "$repo/crates/hull")"
        if [ $# -gt 0 ]; then
            printf 'exec'
            printf ' %q' "$@"
        else
            printf 'exec %q' "$here/guest-tests.sh"
            local name path
            while read -r name path; do printf ' %q' "$name=$path"; done <<< "$tests"
        fi
        echo
    } > "$rundir/command"

    local cmdline="console=ttyS0 quiet panic=-1 cgroup_no_v1=all"
    cmdline+=" hull_init=$here/guest-init.sh hull_rundir=$rundir"
    case $cmdline in *'"'*) die "paths with quotes cannot go on the kernel command line" ;; esac
    [ "$(wc -w <<< "$cmdline")" -eq 6 ] || die "paths with spaces cannot go on the kernel command line"

    say "booting Linux $kver (pure cgroup v2, qemu TCG, timeout ${vm_timeout_secs}s)"
    local vm_status=0
    # --foreground: qemu stays in our process group, so ^C stops it too.
    timeout --foreground --kill-after=10 "$vm_timeout_secs" qemu-system-x86_64 \
        -machine q35 -accel tcg -cpu max -m "$vm_memory_mb" -smp "$vm_cpus" \
        -nographic -no-reboot -nic none \
        -kernel "$kernel" -initrd "$rundir/initramfs.cpio.gz" -append "$cmdline" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$rundir,mount_tag=hullrun,security_model=none" \
        < /dev/null 2>&1 | console_filter | tee "$rundir/console.log" || vm_status=${PIPESTATUS[0]}
    cp "$rundir/console.log" "$cache/last-console.log"

    local elapsed=$((SECONDS - started)) status
    if [ "$vm_status" -eq 124 ] || [ "$vm_status" -eq 137 ]; then
        say "FAILED: the VM ran longer than ${vm_timeout_secs}s and was stopped (${elapsed}s in all)"
        exit 124
    fi
    status=$(cat "$rundir/exit-status" 2>/dev/null || true)
    local what="the tests"
    [ $# -eq 0 ] || what="the command \`$*\`"
    case $status in
        0) say "PASSED: $what passed on pure cgroup v2 (${elapsed}s in all)"; exit 0 ;;
        2) [ $# -gt 0 ] || say "FAILED: the guest is broken: runc could not run a container in it (see above)" ;;&
        [0-9]*) say "FAILED: $what failed on pure cgroup v2 (status $status, ${elapsed}s in all)"; exit "$status" ;;
        *) say "FAILED: the VM did not report a status (qemu exited with $vm_status); see the console output above"; exit 1 ;;
    esac
}

main "$@"
