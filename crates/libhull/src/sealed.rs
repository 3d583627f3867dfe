//! hull runs `create`, `run` and `exec` from a copy of its binary that the container
//! cannot write (CVE-2019-5736).
//!
//! The processes hull makes for a container are copies of hull until their last
//! `execve`. If the program a container asks to run is a script starting
//! `#!/proc/self/exe`, the kernel resolves that link in the calling process, which is
//! hull: the hull binary then runs inside the container, where its processes can open
//! `/proc/<pid>/exe` and, once it has exited, reopen that for writing and replace the
//! host's hull. hull therefore re-executes itself first from the same file seen through
//! a detached, read-only bind mount (`open_tree` and `mount_setattr`; what crun and
//! runc 1.2 do with a read-only mount): the link then names a file on a read-only mount,
//! which no one can reopen for writing. Without the right to make mounts (rootless), a
//! binary owned by root and writable by no one else is out of the container's reach
//! already; any other is copied into a memfd sealed against writes (what runc did
//! before 1.2; it costs a copy of the binary).
//!
//! Owns: deciding whether this process already runs from a binary the container cannot
//! write, re-executing. Must never: run for commands that make no container process.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Context, Error, Result};
use crate::sys;

/// The seals of the memfd copy: no write, no size change, no change of seals.
const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

const SELF_EXE: &str = "/proc/self/exe";

/// Whether the binary this process runs from is one a container could not write: on a
/// read-only mount, or a sealed memfd.
pub fn running_safe() -> Result<bool> {
    let exe = File::open(SELF_EXE).ctx(|| format!("open {SELF_EXE}"))?;
    let read_only = nix::sys::statvfs::fstatvfs(&exe)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    // A file that is not a memfd has no seals to report (EINVAL).
    Ok(read_only || sys::seals(exe.as_fd()).is_ok_and(|s| s & SEALS == SEALS))
}

/// Re-executes hull, with the same arguments and environment, from its binary seen
/// through a read-only mount (or, rootless, from a sealed copy when it must), unless
/// it already runs from such a one. Returns only when nothing had to be done.
pub fn ensure() -> Result<()> {
    if running_safe()? {
        return Ok(());
    }
    let exe = match read_only_view() {
        Ok(tree) => tree,
        // No right to make mounts (rootless, or a root without CAP_SYS_ADMIN or whose
        // seccomp profile forbids them), or a kernel before 5.12.
        Err(e) => {
            let rootless = !nix::unistd::geteuid().is_root();
            if e.raw_os_error() == Some(libc::EPERM) && rootless && root_owned_and_unwritable()? {
                return Ok(());
            }
            sealed_copy()?
        }
    };
    let e = sys::execveat_self(exe.as_fd());
    Err(Error::sys(
        "re-execute hull from a read-only view of itself",
        e,
    ))
}

/// The binary, bound alone on a detached mount that is then made read-only.
fn read_only_view() -> std::io::Result<OwnedFd> {
    let tree = sys::open_tree_clone(Path::new(SELF_EXE), false)?;
    let attr = sys::MountAttr {
        attr_set: sys::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    sys::mount_setattr(tree.as_fd(), false, &attr)?;
    Ok(tree)
}

/// Whether the binary belongs to root and no one else may write it: then no process of
/// a rootless container, which is never the host's root, can write it either.
fn root_owned_and_unwritable() -> Result<bool> {
    let meta = std::fs::metadata(SELF_EXE).ctx(|| format!("stat {SELF_EXE}"))?;
    Ok(meta.uid() == 0 && meta.mode() & 0o022 == 0)
}

/// A copy of the binary in a memfd sealed against writes.
fn sealed_copy() -> Result<OwnedFd> {
    let mut exe = File::open(SELF_EXE).ctx(|| format!("open {SELF_EXE}"))?;
    let mut copy: File = sys::memfd_exec("hull")
        .ctx(|| "memfd_create for a sealed copy of hull".into())?
        .into();
    std::io::copy(&mut exe, &mut copy).ctx(|| "copy hull into a memfd".into())?;
    sys::add_seals(copy.as_fd(), SEALS).ctx(|| "seal the copy of hull".into())?;
    Ok(copy.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memfd copy holds the whole binary and refuses writes.
    #[test]
    fn the_copy_is_whole_and_sealed() {
        use std::io::{Read, Seek, Write};
        let mut copy = File::from(sealed_copy().unwrap());
        let mut bytes = Vec::new();
        copy.rewind().unwrap();
        copy.read_to_end(&mut bytes).unwrap();
        let original = std::fs::read(SELF_EXE).unwrap();
        // (Not assert_eq: a mismatch would print megabytes.)
        assert!(
            bytes == original,
            "{} bytes copied of {}",
            bytes.len(),
            original.len()
        );
        assert_eq!(sys::seals(copy.as_fd()).unwrap() & SEALS, SEALS);
        let e = copy.write(b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    }
}
