//! ID-mapped mounts (runtime-spec 1.2 `uidMappings`/`gidMappings` on a mount, options
//! `idmap` and `ridmap`): a bind mount whose files appear with their owners shifted.
//!
//! The kernel lets only a process with CAP_SYS_ADMIN over the source file system make
//! one, which the container's init, inside its user namespace, is not. So the parent
//! makes each one as a detached mount tree before `clone3` (`open_tree` +
//! `mount_setattr(MOUNT_ATTR_IDMAP)`), and the init attaches it with `move_mount`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use crate::error::{Context, Error, Result};
use crate::rootfs::parse_options;
use crate::sys::{self, Fork, MountAttr};

/// The mappings an idmapped mount uses: its own, else the container's.
fn mappings<'a>(
    m: &'a Mount,
    spec: &'a Spec,
) -> Option<(&'a [LinuxIdMapping], &'a [LinuxIdMapping])> {
    let linux = spec.linux().as_ref();
    let uid = m
        .uid_mappings()
        .as_deref()
        .or_else(|| linux.and_then(|l| l.uid_mappings().as_deref()))?;
    let gid = m
        .gid_mappings()
        .as_deref()
        .or_else(|| linux.and_then(|l| l.gid_mappings().as_deref()))?;
    Some((uid, gid))
}

/// Makes the detached, ID-mapped tree of every mount that asks for one; `None` for the
/// others. Runs in the parent, before `clone3`.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Vec<Option<OwnedFd>>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let opts = m.options().as_deref().unwrap_or_default();
        let recursive_idmap = opts.iter().any(|o| o == "ridmap");
        let wants = recursive_idmap
            || opts.iter().any(|o| o == "idmap")
            || m.uid_mappings().is_some()
            || m.gid_mappings().is_some();
        if !wants {
            out.push(None);
            continue;
        }
        let field = format!("mounts[{i}]");
        let parsed = parse_options(opts);
        if !parsed.is_bind() {
            return Err(Error::config(field, "only bind mounts can be ID-mapped"));
        }
        let (uid, gid) = mappings(m, spec).ok_or_else(|| {
            Error::config(
                format!("{field}.uidMappings"),
                "an ID-mapped mount needs mappings (its own or the container's)",
            )
        })?;
        let source = crate::rootfs::bind_source(m, bundle)
            .ok_or_else(|| Error::config(format!("{field}.source"), "missing"))?;
        let userns = userns_with(uid, gid)?;
        let tree =
            sys::open_tree_clone(&source, parsed.flags.contains(nix::mount::MsFlags::MS_REC))
                .ctx(|| format!("{field}: open_tree {}", source.display()))?;
        let mut attr_set = sys::MOUNT_ATTR_IDMAP;
        for (flag, attr) in [
            (nix::mount::MsFlags::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
            (nix::mount::MsFlags::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
            (nix::mount::MsFlags::MS_NODEV, sys::MOUNT_ATTR_NODEV),
            (nix::mount::MsFlags::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
        ] {
            if parsed.flags.contains(flag) {
                attr_set |= attr;
            }
        }
        let attr = MountAttr {
            attr_set,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns.as_raw_fd() as u64,
        };
        sys::mount_setattr(tree.as_fd(), recursive_idmap, &attr)
            .ctx(|| format!("{field}: ID-map {}", source.display()))?;
        out.push(Some(tree));
    }
    Ok(out)
}

/// In the init: attaches a prepared tree on the mount point `target`.
pub fn attach(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> std::io::Result<()> {
    sys::move_mount(tree, target)
}

/// A user namespace with these mappings, held by its descriptor: a child is cloned into
/// a new one, the maps are written, the namespace opened, and the child let go.
fn userns_with(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    match sys::clone3(libc::CLONE_NEWUSER as u64, None)
        .ctx(|| "clone a user namespace holder".into())?
    {
        Fork::Child => {
            drop(w);
            let mut b = [0u8; 1];
            // Wait for the parent to close its end, then leave.
            let _ = nix::unistd::read(&r, &mut b);
            sys::exit_now(0)
        }
        Fork::Parent { pid, .. } => {
            drop(r);
            let res = (|| {
                for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
                    let path = format!("/proc/{pid}/{file}");
                    std::fs::write(&path, crate::namespaces::id_map_text(maps))
                        .ctx(|| format!("write {path}"))?;
                }
                let f = std::fs::File::open(format!("/proc/{pid}/ns/user"))
                    .ctx(|| "open the mapping user namespace".into())?;
                Ok(OwnedFd::from(f))
            })();
            drop(w);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            res
        }
    }
}
