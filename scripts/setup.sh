#!/bin/bash
# setup.sh: install what hull needs to build, test and be benchmarked, on Debian 12.
#
# Run as root. Installs only the Debian packages that are missing, and does not touch
# apt at all when none are, so it costs a fraction of a second on a prepared machine.
# Rust itself comes from rustup and is not installed here; this script checks for it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
require_root "$@"
# build-essential, pkg-config, libseccomp-dev: build hull (seccomp support).
# busybox-static: the test and demo rootfs (scripts/make-rootfs.sh).
# runc, crun: reference runtimes the tests compare against and the benchmarks time.
# hyperfine: the benchmarks. iproute2, procps, util-linux: ip, ps, nsenter, unshare and
# mount, used by tests to look at containers from outside. uidmap: newuidmap and
# newgidmap, which rootless hull calls for more than one mapped id. apparmor:
# apparmor_parser, for the LSM tests in the cgroup v2 guest (whose kernel has AppArmor).
packages=(build-essential pkg-config libseccomp-dev busybox-static runc crun hyperfine
    iproute2 procps util-linux uidmap apparmor)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The unprivileged user the rootless tests run hull as, with subordinate id ranges for
# newuidmap/newgidmap.
if ! id hull-rootless >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin hull-rootless
fi
for f in /etc/subuid /etc/subgid; do
    grep -q '^hull-rootless:' "$f" 2>/dev/null || echo 'hull-rootless:300000:65536' >>"$f"
done

ensure_cargo
# rustfmt and clippy are part of rustup's default profile, but not of the minimal one.
if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
fi
echo "setup: ready ($(cargo --version))"
