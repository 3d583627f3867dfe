#!/bin/bash
# guest-init.sh RUNDIR: pid 1 of the cgroup v2 test VM, once vm/initramfs-init has
# switched to the host's root filesystem (read-only 9p with a tmpfs overlay).
#
# Sets the guest up the way a pure cgroup v2 host is: API filesystems, tmpfs /tmp and
# /run, and /sys/fs/cgroup as the unified hierarchy alone (the kernel was booted with
# cgroup_no_v1=all) with every available controller enabled for the root's children.
# Then runs RUNDIR/command, reports its exit status to the host in RUNDIR/exit-status
# (RUNDIR is a writable 9p share of the host's directory) and on the console as
# `HULL-VM-EXIT=<n>`, and powers the VM off.
#
# Must never: leave the VM running. If this script dies, the kernel panics on the death of
# pid 1 and panic=-1 with qemu -no-reboot ends the VM; the host then sees no status.
set -u
rundir=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

power_off() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 60
    exit 1
}

fail() {
    echo "guest-init: $*"
    echo "HULL-VM-EXIT=1"
    echo 1 > "$rundir/exit-status"
    power_off
}

mount -t proc -o nosuid,nodev,noexec proc /proc || fail "mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "mount /sys"
mountpoint -q /dev || mount -t devtmpfs -o nosuid devtmpfs /dev || fail "mount /dev"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm || fail "mount /dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue || fail "mount /dev/mqueue"
# /tmp stays the overlay's: writable (tmpfs upper) and still showing the host's /tmp,
# where CI may have cloned the repo.
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run || fail "mount /run"
# nsdelegate and memory_recursiveprot: what systemd mounts cgroup2 with.
# securityfs: where AppArmor (on in Debian's kernel) takes profiles, for the LSM tests.
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
    fail "mount the cgroup2 hierarchy at /sys/fs/cgroup"

read -ra controllers < /sys/fs/cgroup/cgroup.controllers
for controller in "${controllers[@]}"; do
    echo "+$controller" > /sys/fs/cgroup/cgroup.subtree_control ||
        fail "cannot enable the $controller controller at the root"
done

hostname hull-cgroup2-vm
ip link set lo up 2>/dev/null || true

echo "guest-init: Linux $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
echo "guest-init: cgroup mounts: $(awk '$3 ~ /^cgroup/ {printf "%s (%s) ", $2, $3}' /proc/mounts)"
echo "guest-init: root cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

bash "$rundir/command"
status=$?
echo "$status" > "$rundir/exit-status"
echo "HULL-VM-EXIT=$status"
power_off
