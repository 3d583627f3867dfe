//! The process's privileges: user and groups, the five capability sets, no_new_privs.
//!
//! Owns: the capability table and the order in which privileges are dropped, which the
//! kernel makes subtle: the bounding set needs CAP_SETPCAP (so it is dropped while
//! still root), `setuid` away from 0 clears the effective set unless KEEPCAPS is on, and
//! an ambient capability must be both permitted and inheritable.

use oci_spec::runtime::{Capabilities, LinuxCapabilities, User};

use crate::error::{Context, Error, Result};
use crate::sys;

/// Capability names in kernel bit order (`<linux/capability.h>`), a static table.
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The highest capability this kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(CAPABILITIES.len() as u32 - 1)
}

/// Bit mask of a set of capabilities; a capability this kernel does not know is
/// skipped, as runc does (it warns).
fn mask(set: Option<&Capabilities>, last: u32) -> u64 {
    let mut m = 0u64;
    for cap in set.into_iter().flatten() {
        let name = format!("CAP_{cap}");
        if let Some(bit) = CAPABILITIES.iter().position(|c| *c == name) {
            if bit as u32 <= last {
                m |= 1 << bit;
            }
        }
    }
    m
}

/// Capability bit masks resolved from the spec.
#[derive(Debug, Default, Clone, Copy)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapMasks {
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> CapMasks {
        let last = last_cap();
        match caps {
            None => CapMasks::default(),
            Some(c) => CapMasks {
                bounding: mask(c.bounding().as_ref(), last),
                effective: mask(c.effective().as_ref(), last),
                permitted: mask(c.permitted().as_ref(), last),
                inheritable: mask(c.inheritable().as_ref(), last),
                ambient: mask(c.ambient().as_ref(), last),
            },
        }
    }
}

/// Drops every capability outside `bounding` from the bounding set.
pub fn drop_bounding(bounding: u64) -> Result<()> {
    for bit in 0..=last_cap() {
        if bounding & (1 << bit) == 0 {
            sys::prctl(libc::PR_CAPBSET_DROP, bit as u64)
                .ctx(|| format!("drop {} from the bounding set", cap_name(bit)))?;
        }
    }
    Ok(())
}

fn cap_name(bit: u32) -> String {
    CAPABILITIES
        .get(bit as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("capability {bit}"))
}

/// Switches to the process user: supplementary groups, gid, uid; capabilities in the
/// permitted set survive (KEEPCAPS) so [`apply_caps`] can set them afterwards.
pub fn set_user(user: &User, setgroups_allowed: bool) -> Result<()> {
    sys::prctl(libc::PR_SET_KEEPCAPS, 1).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    if setgroups_allowed {
        let groups: Vec<nix::unistd::Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).ctx(|| "setgroups".into())?;
    }
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setresgid({})", user.gid()))?;
    let uid = nix::unistd::Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setresuid({})", user.uid()))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 0).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    Ok(())
}

/// Sets the effective, permitted and inheritable sets, then raises the ambient ones.
pub fn apply_caps(m: &CapMasks) -> Result<()> {
    sys::capset(m.effective, m.permitted, m.inheritable)
        .map_err(|e| Error::sys("set capabilities (effective, permitted, inheritable)", e))?;
    sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64)
        .ctx(|| "clear ambient capabilities".into())?;
    for bit in 0..64u32 {
        if m.ambient & (1 << bit) == 0 {
            continue;
        }
        // Like runc, an ambient capability that is not also permitted and inheritable
        // is skipped rather than failing the container (runc's default spec asks for
        // ambient capabilities without inheritable ones).
        if let Err(e) = sys::cap_ambient_raise(bit) {
            if e.raw_os_error() != Some(libc::EPERM) {
                return Err(Error::sys(format!("raise ambient {}", cap_name(bit)), e));
            }
        }
    }
    Ok(())
}

/// Sets no_new_privs: execve can no longer grant privileges.
pub fn set_no_new_privs() -> Result<()> {
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())
}

/// True when AppArmor is enabled on the host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// True when SELinux is enabled on the host.
pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Refuses an AppArmor profile or SELinux label the host cannot apply, before anything
/// is made; runc refuses both too (it fails at the write, or says SELinux is disabled).
/// `in_config`: the process comes from config.json (errors name its JSON path) rather
/// than from `exec`'s flags.
pub fn check_lsm(process: &oci_spec::runtime::Process, in_config: bool) -> Result<()> {
    let fail = |path: &str, flag: &str, msg: String| {
        if in_config {
            Error::config(path, msg)
        } else {
            Error::Usage(format!("{flag}: {msg}"))
        }
    };
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        if !apparmor_enabled() {
            let msg = format!("profile {p:?} is set but AppArmor is not enabled on this host");
            return Err(fail("process.apparmorProfile", "--apparmor", msg));
        }
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        if !selinux_enabled() {
            let msg = format!("label {l:?} is set but SELinux is disabled or not supported");
            return Err(fail("process.selinuxLabel", "--process-label", msg));
        }
    }
    Ok(())
}

/// Asks the LSMs to switch the process's profile / label at its next execve.
pub fn apply_lsm(process: &oci_spec::runtime::Process) -> Result<()> {
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let text = format!("exec {p}");
        write_attr("/proc/self/attr/apparmor/exec", &text)
            .or_else(|_| write_attr("/proc/self/attr/exec", &text))
            .ctx(|| format!("apply AppArmor profile {p:?}"))?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        write_attr("/proc/self/attr/exec", l).ctx(|| format!("apply SELinux label {l:?}"))?;
    }
    Ok(())
}

/// Writes an LSM attribute file, which must be procfs's own: a mount over /proc (a
/// volume of the image's, or the container's own mount before `exec`) would otherwise
/// take the write, and the process would run unconfined (CVE-2019-16884).
fn write_attr(path: &str, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let fs = nix::sys::statfs::fstatfs(&f)?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(std::io::Error::other(format!(
            "{path} is not on procfs (something is mounted over /proc)"
        )));
    }
    f.write_all(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability;

    #[test]
    fn table_matches_kernel_numbers() {
        assert_eq!(CAPABILITIES[21], "CAP_SYS_ADMIN");
        assert_eq!(CAPABILITIES[29], "CAP_AUDIT_WRITE");
        assert_eq!(CAPABILITIES[40], "CAP_CHECKPOINT_RESTORE");
    }

    #[test]
    fn masks_come_from_spec_names() {
        let set: Capabilities = [Capability::Kill, Capability::NetBindService].into();
        assert_eq!(mask(Some(&set), 40), (1 << 5) | (1 << 10));
        let set: Capabilities = [Capability::CheckpointRestore].into();
        assert_eq!(mask(Some(&set), 39), 0, "unknown to the kernel: skipped");
    }
}
