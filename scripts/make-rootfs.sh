#!/bin/bash
# make-rootfs.sh DIR: build a minimal busybox root filesystem in DIR.
#
# The rootfs is what hull's demo and integration tests run containers in: a static
# busybox (Debian's busybox-static, so nothing in it needs a dynamic loader), one
# symlink per applet in /bin, the usual top-level directories, and an /etc/passwd and
# /etc/group with the users and groups the tests name (root, nobody, hulltest 1000,
# group extra 2000).
#
# Idempotent and fast: a second run over the same DIR only rewrites the small files in
# /etc and adds what is missing. It never deletes anything in DIR.
set -euo pipefail

usage() { echo "usage: $0 DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
dir=$1

busybox=/bin/busybox

# A dynamically linked busybox (Debian's `busybox` package) would not run inside the
# rootfs, which has no libc: insist on the static one.
is_static() {
    [ -x "$busybox" ] && ! LC_ALL=C ldd "$busybox" >/dev/null 2>&1
}

if ! is_static; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "$0: $busybox is missing or not static; run as root to install busybox-static" >&2
        exit 1
    fi
    echo "$0: installing busybox-static" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q busybox-static >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q busybox-static >&2; }
    is_static || { echo "$0: $busybox is still not a static binary" >&2; exit 1; }
fi

mkdir -p "$dir"
cd "$dir"

mkdir -p bin proc sys dev tmp etc root home/hulltest run var
chmod 1777 tmp
chmod 0700 root

if ! cmp -s "$busybox" bin/busybox; then
    # Copy then rename, so that a reader never sees a half-written binary.
    cp "$busybox" bin/.busybox.new
    chmod 0755 bin/.busybox.new
    mv -f bin/.busybox.new bin/busybox
fi

# One symlink per applet, all in /bin: the default PATH of `hull spec` includes /bin,
# and keeping one directory makes the rootfs easy to read.
while read -r applet; do
    [ "$applet" = busybox ] && continue
    [ -L "bin/$applet" ] || ln -sfn busybox "bin/$applet"
done < <("$busybox" --list)

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
hulltest:x:1000:1000:hull test user:/home/hulltest:/bin/sh
PASSWD

cat > etc/group <<'GROUP'
root:x:0:
tty:x:5:
nogroup:x:65534:
hulltest:x:1000:
extra:x:2000:
GROUP

echo hull > etc/hostname
chmod 0644 etc/passwd etc/group etc/hostname

if [ "$(id -u)" -eq 0 ]; then
    chown 1000:1000 home/hulltest
fi
