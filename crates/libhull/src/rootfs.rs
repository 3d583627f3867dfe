//! The container's root file system: every mount of the spec, /dev, pivot_root, masked
//! and read-only paths.
//!
//! Owns: mount option parsing and every mount the container gets. Every destination is
//! resolved inside the rootfs with `openat2(RESOLVE_IN_ROOT)` and mounted through
//! `/proc/self/fd/N` of that descriptor, so a symlink in the rootfs can never make hull
//! mount over a host path (the class of CVE-2021-30465).
//! Must never: run outside the container's own mount namespace.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::error::{Context, Error, Result};
use crate::sys::{self, fd_path, MountAttr};

/// One mount's options, split the way the kernel wants them.
#[derive(Debug, PartialEq)]
pub struct MountOptions {
    /// Flags for `mount(2)`.
    pub flags: MsFlags,
    /// Propagation changes, applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) for `mount_setattr(AT_RECURSIVE)`.
    pub rec_set: u64,
    pub rec_clr: u64,
    /// File-system specific options, comma-joined.
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clr: 0,
            data: String::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Parses a mount's `options` as runc does: known flags set or clear bits, propagation
/// and recursive attributes are kept apart, anything else is file-system data.
pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "nosymfollow" => (
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
                MsFlags::empty(),
            ),
            "symfollow" => (
                MsFlags::empty(),
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
            ),
            // runc's extension for tmpfs over a non-empty directory; not supported yet,
            // and harmless to leave out of the data string.
            "tmpcopyup" => continue,
            // ID-mapped mounts are made by the parent (crate::idmap).
            "idmap" | "ridmap" => continue,
            other => {
                if let Some(p) = propagation_flag(other) {
                    o.propagation.push(p);
                    continue;
                }
                if let Some((set, clr)) = recursive_attr(other) {
                    o.rec_set |= set;
                    o.rec_clr |= clr;
                    continue;
                }
                if !o.data.is_empty() {
                    o.data.push(',');
                }
                o.data.push_str(other);
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
    }
    o
}

/// `private`, `rshared`, ... as mount flags.
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// The recursive mount attributes of runtime-spec 1.1 (`rro`, `rnosuid`, ...) as
/// `mount_attr` bits to set and to clear.
fn recursive_attr(name: &str) -> Option<(u64, u64)> {
    use sys::*;
    Some(match name {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
        "rnorelatime" => (0, 0),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
        "ratime" => (0, 0),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
        "rnostrictatime" => (0, 0),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

const RESOLVE: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

/// Opens `path` (absolute, as seen in the container) inside `root` as `O_PATH`.
pub fn resolve(root: BorrowedFd<'_>, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    sys::openat2(root, rel, libc::O_PATH | flags, 0, RESOLVE)
}

/// Changes the working directory to `path` resolved inside the current root, which
/// must be the container's: no magic link (`/proc/self/fd/N`, a descriptor of the
/// host's) and no symlink leads out of it (CVE-2024-21626).
pub fn chdir_inside(path: &Path) -> io::Result<()> {
    let root: OwnedFd = fs::File::open("/")?.into();
    let dir = resolve(root.as_fd(), path, libc::O_DIRECTORY)?;
    nix::unistd::fchdir(&dir)?;
    Ok(())
}

/// How many dangling symlinks [`mkdir_all`] and [`ensure_file`] follow before giving up
/// with ELOOP, as the kernel's own limit for one lookup.
const MAX_SYMLINKS: usize = 40;

/// Makes every missing directory of `path` inside `root` and returns the last one.
/// Each new directory is made with `mkdirat` under its parent's descriptor, and each
/// step is resolved again inside the root, so no symlink leads out.
///
/// A component that is a symlink to a place that does not exist yet in the rootfs
/// (`/evil -> /tmp/x`, where `/tmp/x` exists on the host only) is followed by hand:
/// its target is made inside the root, as runc's `securejoin.MkdirAll` does, so the
/// mount lands at `<rootfs>/tmp/x` and never on the host's `/tmp/x`.
pub fn mkdir_all(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    match resolve(root, path, libc::O_DIRECTORY) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        other => return other,
    }
    // The components still to walk, the next one last.
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    // Start from the deepest directory that exists (usually the parent: /dev for
    // /dev/pts), not from the root: one lookup instead of one per component.
    let mut start = None;
    for keep in (1..todo.len()).rev() {
        let ancestor: PathBuf =
            Path::new("/").join(todo[todo.len() - keep..].iter().rev().collect::<PathBuf>());
        match resolve(root, &ancestor, libc::O_DIRECTORY) {
            Ok(fd) => {
                todo.truncate(todo.len() - keep);
                start = Some((ancestor, fd));
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            // A component that is not a directory, or a loop: walk from the root,
            // which says which.
            Err(_) => break,
        }
    }
    let (mut cur, mut dir) = match start {
        Some(found) => found,
        None => {
            let cur = PathBuf::from("/");
            let dir = resolve(root, &cur, libc::O_DIRECTORY)?;
            (cur, dir)
        }
    };
    let mut links = 0;
    while let Some(name) = todo.pop() {
        let next = cur.join(&name);
        dir = match resolve(root, &next, libc::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match nix::sys::stat::mkdirat(
                    &dir,
                    name.as_os_str(),
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) => {}
                    Err(nix::errno::Errno::EEXIST) => {
                        // Something is there that does not resolve: a dangling symlink.
                        let target = dangling_target(&dir, &name, &mut links, e)?;
                        push_components(&mut todo, &target);
                        if target.is_absolute() {
                            cur = PathBuf::from("/");
                            dir = resolve(root, &cur, libc::O_DIRECTORY)?;
                        }
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
                resolve(root, &next, libc::O_DIRECTORY)?
            }
            Err(e) => return Err(e),
        };
        cur = next;
    }
    Ok(dir)
}

/// Pushes the components of `path` on `todo` so that the first is popped first.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    let start = todo.len();
    for comp in path.components() {
        match comp {
            Component::Normal(n) => todo.push(n.to_owned()),
            Component::ParentDir => todo.push(OsString::from("..")),
            _ => {}
        }
    }
    todo[start..].reverse();
}

/// The target of the symlink `name` in `dir`, counted against [`MAX_SYMLINKS`];
/// `not_found` when `name` is not a symlink after all.
fn dangling_target(
    dir: &OwnedFd,
    name: &OsStr,
    links: &mut usize,
    not_found: io::Error,
) -> io::Result<PathBuf> {
    let target = match nix::fcntl::readlinkat(dir, name) {
        Ok(t) => PathBuf::from(t),
        Err(nix::errno::Errno::EINVAL) => return Err(not_found),
        Err(e) => return Err(e.into()),
    };
    *links += 1;
    if *links > MAX_SYMLINKS {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    Ok(target)
}

/// Makes `path` inside `root` as an empty file (for a bind mount of a file) if missing;
/// a dangling symlink on the way or at the end is followed inside the root, as in
/// [`mkdir_all`].
fn ensure_file(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    let mut path = path.to_path_buf();
    let mut links = 0;
    loop {
        let not_found = match resolve(root, &path, 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => e,
            other => return other,
        };
        let (parent, name) = split(&path)?;
        let dir = mkdir_all(root, parent)?;
        match nix::fcntl::openat(
            &dir,
            name,
            nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_EXCL
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CLOEXEC
                | nix::fcntl::OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_) => return resolve(root, &path, 0),
            Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        // Made meanwhile, or a dangling symlink to follow.
        let target = match dangling_target(&dir, name, &mut links, not_found) {
            Ok(t) => t,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return resolve(root, &path, 0),
            Err(e) => return Err(e),
        };
        path = parent.join(target);
    }
}

fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => Ok((p, n)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "path has no file name",
        )),
    }
}

fn mount_fd(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: &str,
) -> nix::Result<()> {
    let data = (!data.is_empty()).then_some(data);
    mount(source, fd_path(target).as_str(), fstype, flags, data)
}

/// Remounts a bind mount with `flags`; in a user namespace the kernel locks the
/// nosuid/nodev/noexec/atime flags of the source, so they are kept when asked to.
fn remount_bind(target: BorrowedFd<'_>, flags: MsFlags) -> nix::Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount_fd(None, target, None, base | flags, "") {
        Err(nix::errno::Errno::EPERM) => {
            let locked = nix::sys::statvfs::fstatvfs(target)?.flags();
            use nix::sys::statvfs::FsFlags;
            let mut more = MsFlags::empty();
            for (st, ms) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
                (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
                (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            ] {
                if locked.contains(st) {
                    more |= ms;
                }
            }
            mount_fd(None, target, None, base | flags | more, "")
        }
        other => other,
    }
}

/// Facts about the container that decide how its mounts are made.
pub struct MountContext<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    /// The container is in a new user namespace (mknod is not allowed there).
    pub in_user_ns: bool,
    pub new_cgroup_ns: bool,
    /// The container's cgroup directories on the host, for cgroup bind mounts.
    pub cgroup_paths: &'a [PathBuf],
    /// Detached ID-mapped trees the parent made, by mount index (crate::idmap).
    pub idmapped: &'a [Option<OwnedFd>],
}

/// Builds the root file system: makes the host's mounts invisible to it, bind-mounts
/// the rootfs, mounts everything in `mounts`, then /dev. Returns the rootfs descriptor.
pub fn prepare(ctx: &MountContext<'_>) -> Result<OwnedFd> {
    let propagation = ctx
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .map(|p| {
            propagation_flag(p).ok_or_else(|| {
                Error::config(
                    "linux.rootfsPropagation",
                    format!("unknown propagation {p:?}"),
                )
            })
        })
        .transpose()?;
    // Nothing mounted from here on may propagate back to the host: slave by default,
    // private when asked for (shared is applied to the new root after pivot_root).
    let host = match propagation {
        Some(p) if p.contains(MsFlags::MS_PRIVATE) => MsFlags::MS_PRIVATE,
        _ => MsFlags::MS_SLAVE,
    };
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        host | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make / a slave mount".into())?;
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("bind-mount the rootfs {}", ctx.rootfs.display()))?;
    let root: OwnedFd = fs::File::open(ctx.rootfs)
        .ctx(|| format!("open rootfs {}", ctx.rootfs.display()))?
        .into();

    let mut dev_is_bind = false;
    for (i, m) in ctx.spec.mounts().iter().flatten().enumerate() {
        let opts = parse_options(m.options().as_deref().unwrap_or_default());
        if m.destination() == Path::new("/dev") && opts.is_bind() {
            dev_is_bind = true;
        }
        let res = match ctx.idmapped.get(i).and_then(Option::as_ref) {
            Some(tree) => attach_idmapped(root.as_fd(), m, tree.as_fd()),
            None => mount_one(ctx, root.as_fd(), m, &opts),
        };
        res.map_err(|e| match e {
            Error::Sys { what, source } => Error::sys(
                format!("mounts[{i}] ({}): {what}", m.destination().display()),
                source,
            ),
            other => other,
        })?;
    }
    if !dev_is_bind {
        create_devices(ctx, root.as_fd())?;
    }
    Ok(root)
}

/// The host path a bind mount takes: `source`, relative to the bundle when relative.
pub fn bind_source(m: &Mount, bundle: &Path) -> Option<PathBuf> {
    m.source().as_ref().map(|s| {
        if s.is_absolute() {
            s.clone()
        } else {
            bundle.join(s)
        }
    })
}

/// An ID-mapped bind mount: the tree the parent made, attached on its mount point.
fn attach_idmapped(root: BorrowedFd<'_>, m: &Mount, tree: BorrowedFd<'_>) -> Result<()> {
    let dest = m.destination();
    let is_dir = nix::sys::stat::fstat(tree)
        .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(true);
    let target = if is_dir {
        mkdir_all(root, dest)
    } else {
        ensure_file(root, dest)
    }
    .ctx(|| format!("make mount point {}", dest.display()))?;
    not_in_procfs(target.as_fd(), dest)?;
    crate::idmap::attach(tree, target.as_fd()).ctx(|| "attach the ID-mapped mount".into())
}

/// The files under /proc that a bind mount may cover: what lxcfs provides (runc's
/// `checkProcMount` allows the same).
const PROC_MOUNT_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Refuses a mount point that resolved into a procfs already mounted in the container
/// (a destination that is, or passes through, a symlink into /proc, such as
/// `/etc/hostname -> /proc/sys/kernel/cap_last_cap`): what the container could put over
/// procfs files would fool hull's own later reads and writes there, and hide the
/// masked and read-only paths (CVE-2025-52881 class; runc refuses the same).
fn not_in_procfs(target: BorrowedFd<'_>, dest: &Path) -> Result<()> {
    let fs = nix::sys::statfs::fstatfs(target).ctx(|| format!("statfs {}", dest.display()))?;
    let allowed = PROC_MOUNT_ALLOWED.iter().any(|a| Path::new(a) == dest);
    if fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC && !allowed {
        return Err(Error::Init(format!(
            "mount destination {} is inside /proc",
            dest.display()
        )));
    }
    Ok(())
}

fn mount_one(
    ctx: &MountContext<'_>,
    root: BorrowedFd<'_>,
    m: &Mount,
    o: &MountOptions,
) -> Result<()> {
    let dest = m.destination();
    let fstype = m.typ().as_deref().unwrap_or("");
    if o.is_bind() {
        let source = bind_source(m, ctx.bundle).ok_or_else(|| {
            Error::Init(format!("bind mount of {} has no source", dest.display()))
        })?;
        let meta =
            fs::metadata(&source).ctx(|| format!("stat bind source {}", source.display()))?;
        let target = if meta.is_dir() {
            mkdir_all(root, dest)
        } else {
            ensure_file(root, dest)
        }
        .ctx(|| format!("make mount point {}", dest.display()))?;
        not_in_procfs(target.as_fd(), dest)?;
        mount_fd(
            Some(&source),
            target.as_fd(),
            None,
            o.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
            "",
        )
        .ctx(|| format!("bind-mount {}", source.display()))?;
        // The first mount ignores every flag but BIND and REC: apply the rest with a
        // remount of the new mount, reopened so the descriptor names it and not the
        // directory beneath.
        let rest = o.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !rest.is_empty() {
            let top = resolve(root, dest, 0).ctx(|| format!("reopen {}", dest.display()))?;
            remount_bind(top.as_fd(), rest).ctx(|| "remount the bind mount".into())?;
        }
    } else if fstype == "cgroup" || fstype == "cgroup2" {
        let target =
            mkdir_all(root, dest).ctx(|| format!("make mount point {}", dest.display()))?;
        not_in_procfs(target.as_fd(), dest)?;
        mount_cgroup(ctx, root, dest, target.as_fd(), o)?;
    } else {
        let target =
            mkdir_all(root, dest).ctx(|| format!("make mount point {}", dest.display()))?;
        not_in_procfs(target.as_fd(), dest)?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(fstype));
        let res = mount_fd(
            Some(&source),
            target.as_fd(),
            Some(fstype),
            o.flags,
            &o.data,
        );
        match res {
            // A user namespace that does not own the network namespace may not mount
            // sysfs: bind the host's /sys instead, as runc does.
            Err(nix::errno::Errno::EPERM) if fstype == "sysfs" && ctx.in_user_ns => {
                mount_fd(
                    Some(Path::new("/sys")),
                    target.as_fd(),
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    "",
                )
                .ctx(|| "bind-mount /sys".into())?;
                let top = resolve(root, dest, 0).ctx(|| format!("reopen {}", dest.display()))?;
                remount_bind(top.as_fd(), o.flags).ctx(|| "remount /sys".into())?;
            }
            other => other.ctx(|| format!("mount {fstype}"))?,
        }
    }
    let needs_top = !o.propagation.is_empty() || o.rec_set != 0 || o.rec_clr != 0;
    if needs_top {
        let top = resolve(root, dest, 0).ctx(|| format!("reopen {}", dest.display()))?;
        for p in &o.propagation {
            mount_fd(None, top.as_fd(), None, *p, "").ctx(|| "set mount propagation".into())?;
        }
        if o.rec_set != 0 || o.rec_clr != 0 {
            let attr = MountAttr {
                attr_set: o.rec_set,
                attr_clr: o.rec_clr,
                propagation: 0,
                userns_fd: 0,
            };
            sys::mount_setattr(top.as_fd(), true, &attr)
                .ctx(|| "set recursive mount attributes".into())?;
        }
    }
    Ok(())
}

/// A `cgroup` mount: cgroup2 on a v2 host; on v1, a tmpfs with one mount per hierarchy
/// (fresh in a cgroup namespace, else a bind of the container's own cgroup, as runc).
fn mount_cgroup(
    ctx: &MountContext<'_>,
    root: BorrowedFd<'_>,
    dest: &Path,
    target: BorrowedFd<'_>,
    o: &MountOptions,
) -> Result<()> {
    if crate::cgroups::layout() == crate::cgroups::Layout::Unified {
        if ctx.new_cgroup_ns {
            return mount_fd(
                Some(Path::new("cgroup2")),
                target,
                Some("cgroup2"),
                o.flags,
                "",
            )
            .ctx(|| "mount cgroup2".into());
        }
        let own = ctx
            .cgroup_paths
            .first()
            .cloned()
            .unwrap_or_else(|| "/sys/fs/cgroup".into());
        mount_fd(
            Some(&own),
            target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            "",
        )
        .ctx(|| format!("bind-mount {}", own.display()))?;
        let top = resolve(root, dest, 0).ctx(|| format!("reopen {}", dest.display()))?;
        return remount_bind(top.as_fd(), o.flags).ctx(|| "remount the cgroup mount".into());
    }
    let base = o.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    mount_fd(
        Some(Path::new("tmpfs")),
        target,
        Some("tmpfs"),
        base,
        "mode=755",
    )
    .ctx(|| "mount tmpfs for cgroups".into())?;
    let own = fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())?;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers)) = (parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" || controllers.is_empty() {
            continue;
        }
        let name = controllers.strip_prefix("name=").unwrap_or(controllers);
        let sub = dest.join(name);
        let t = mkdir_all(root, &sub).ctx(|| format!("make mount point {}", sub.display()))?;
        if ctx.new_cgroup_ns {
            let data = if controllers.starts_with("name=") {
                format!("none,{controllers}")
            } else {
                controllers.to_string()
            };
            mount_fd(
                Some(Path::new("cgroup")),
                t.as_fd(),
                Some("cgroup"),
                o.flags,
                &data,
            )
            .ctx(|| format!("mount cgroup {controllers}"))?;
        } else {
            let host_mount = Path::new("/sys/fs/cgroup").join(name);
            let Some(own) = ctx.cgroup_paths.iter().find(|p| p.starts_with(&host_mount)) else {
                continue;
            };
            mount_fd(
                Some(own),
                t.as_fd(),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                "",
            )
            .ctx(|| format!("bind-mount {}", own.display()))?;
            let top = resolve(root, &sub, 0).ctx(|| format!("reopen {}", sub.display()))?;
            remount_bind(top.as_fd(), o.flags).ctx(|| "remount the cgroup mount".into())?;
        }
    }
    if o.flags.contains(MsFlags::MS_RDONLY) {
        let top = resolve(root, dest, 0).ctx(|| format!("reopen {}", dest.display()))?;
        mount_fd(
            None,
            top.as_fd(),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base,
            "mode=755",
        )
        .ctx(|| "remount the cgroup tmpfs read-only".into())?;
    }
    Ok(())
}

/// The devices every container gets (runtime-spec "Default Devices").
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn create_devices(ctx: &MountContext<'_>, root: BorrowedFd<'_>) -> Result<()> {
    let old = nix::sys::stat::umask(Mode::empty());
    let res = (|| {
        // Root in the container owns the default devices, as with runc.
        for (path, major, minor) in DEFAULT_DEVICES {
            let dev = oci_spec::runtime::LinuxDeviceBuilder::default()
                .path(*path)
                .typ(LinuxDeviceType::C)
                .major(*major as i64)
                .minor(*minor as i64)
                .file_mode(0o666u32)
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(|e| Error::Init(e.to_string()))?;
            create_device(ctx, root, &dev)?;
        }
        let devices = ctx.spec.linux().as_ref().and_then(|l| l.devices().clone());
        for dev in devices.iter().flatten() {
            create_device(ctx, root, dev)?;
        }
        let dev = mkdir_all(root, Path::new("/dev")).ctx(|| "open /dev".into())?;
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            match nix::unistd::symlinkat(target, &dev, name) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => {
                    return Err(Error::sys(
                        format!("symlink /dev/{name}"),
                        io::Error::from(e),
                    ))
                }
            }
        }
        if Path::new("/proc/kcore").exists() {
            let _ = nix::unistd::symlinkat("/proc/kcore", &dev, "core");
        }
        // /dev/ptmx must be the container's own devpts instance's ptmx.
        match nix::unistd::unlinkat(&dev, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys("remove /dev/ptmx", io::Error::from(e))),
        }
        nix::unistd::symlinkat("pts/ptmx", &dev, "ptmx").ctx(|| "symlink /dev/ptmx".into())?;
        Ok(())
    })();
    nix::sys::stat::umask(old);
    res
}

/// Makes one device node: `mknod` where allowed, else a bind mount of the host's node
/// at the same path (inside a user namespace mknod is never allowed).
fn create_device(ctx: &MountContext<'_>, root: BorrowedFd<'_>, dev: &LinuxDevice) -> Result<()> {
    let path = dev.path();
    if !path.starts_with("/dev") {
        return Err(Error::config(
            "linux.devices",
            format!("{} is not under /dev", path.display()),
        ));
    }
    let (parent, name) = split(path).ctx(|| format!("device {}", path.display()))?;
    let dir = mkdir_all(root, parent).ctx(|| format!("make {}", parent.display()))?;
    let kind = match dev.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::config(
                "linux.devices",
                format!("{}: type a is not a device node", path.display()),
            ))
        }
    };
    let mode = Mode::from_bits_truncate(dev.file_mode().unwrap_or(0o666));
    let rdev = nix::sys::stat::makedev(dev.major() as u64, dev.minor() as u64);
    let made = if ctx.in_user_ns {
        Err(nix::errno::Errno::EPERM)
    } else {
        match nix::sys::stat::mknodat(&dir, name, kind, mode, rdev) {
            // Whatever is at the path is replaced, as runc does.
            Err(nix::errno::Errno::EEXIST) => {
                nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                    .and_then(|()| nix::sys::stat::mknodat(&dir, name, kind, mode, rdev))
            }
            other => other,
        }
    };
    match made {
        Ok(()) => {
            nix::unistd::fchownat(
                &dir,
                name,
                dev.uid().map(nix::unistd::Uid::from_raw),
                dev.gid().map(nix::unistd::Gid::from_raw),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .ctx(|| format!("chown {}", path.display()))?;
        }
        Err(nix::errno::Errno::EPERM) => {
            // Whatever is at the path is replaced, as runc does.
            let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
            let host = fs::metadata(path).ctx(|| format!("host device {}", path.display()))?;
            if !(host.file_type().is_char_device() || host.file_type().is_block_device()) {
                return Err(Error::Init(format!(
                    "host {} is not a device",
                    path.display()
                )));
            }
            let target = ensure_file(root, path).ctx(|| format!("make {}", path.display()))?;
            mount_fd(Some(path), target.as_fd(), None, MsFlags::MS_BIND, "")
                .ctx(|| format!("bind-mount host device {}", path.display()))?;
        }
        Err(e) => {
            return Err(Error::sys(
                format!("mknod {}", path.display()),
                io::Error::from(e),
            ))
        }
    }
    Ok(())
}

/// Makes the rootfs the process's root: `pivot_root` and detach the old root, or with
/// `--no-pivot` a move mount and `chroot` (which a process with CAP_SYS_CHROOT can
/// escape: runc's flag, for ramdisks where pivot_root is impossible).
pub fn pivot(rootfs: &Path, root: BorrowedFd<'_>, no_pivot: bool) -> Result<()> {
    nix::unistd::fchdir(root).ctx(|| format!("chdir to {}", rootfs.display()))?;
    if no_pivot {
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .ctx(|| "move the rootfs to /".into())?;
        nix::unistd::chroot(".").ctx(|| "chroot".into())?;
    } else {
        // An absolute path: still the old root, whatever the working directory.
        let old_root: OwnedFd = fs::File::open("/")
            .ctx(|| "open the old root".into())?
            .into();
        nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root".into())?;
        // The old root is now stacked on the new one, but "." still names the new
        // root's mount for mount(2) (only umount's lookup steps onto the mount on
        // top): without this fchdir the MS_SLAVE below would turn every mount of the
        // container into a slave, undoing `rshared` and `runbindable` mount options.
        // runc fchdirs to the old root for the same reason.
        nix::unistd::fchdir(&old_root).ctx(|| "chdir to the old root".into())?;
        // Make the old root a slave so unmounting it cannot propagate to the host,
        // then detach it.
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| "make the old root a slave".into())?;
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
            .ctx(|| "detach the old root".into())?;
    }
    nix::unistd::chdir("/").ctx(|| "chdir to /".into())
}

/// The last touches after `pivot_root`: read-only and masked paths, the root's
/// propagation and read-only flag.
pub fn finish(spec: &Spec) -> Result<()> {
    let root: OwnedFd = fs::File::open("/").ctx(|| "open /".into())?.into();
    if let Some(linux) = spec.linux() {
        for path in linux.readonly_paths().iter().flatten() {
            readonly_path(root.as_fd(), Path::new(path))?;
        }
        let mut null = None;
        for path in linux.masked_paths().iter().flatten() {
            masked_path(root.as_fd(), Path::new(path), &mut null)?;
        }
        if let Some(p) = linux.rootfs_propagation() {
            if let Some(flag) = propagation_flag(p) {
                mount(None::<&str>, "/", None::<&str>, flag, None::<&str>)
                    .ctx(|| format!("set rootfs propagation {p}"))?;
            }
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let top = resolve(root.as_fd(), Path::new("/"), 0).ctx(|| "open /".into())?;
        remount_bind(top.as_fd(), MsFlags::MS_RDONLY).ctx(|| "remount / read-only".into())?;
    }
    Ok(())
}

fn readonly_path(root: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let fd = match resolve(root, path, 0) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("readonly path {}", path.display()), e)),
    };
    mount_fd(
        Some(Path::new(&fd_path(fd.as_fd()))),
        fd.as_fd(),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        "",
    )
    .ctx(|| format!("bind-mount readonly path {}", path.display()))?;
    let top = resolve(root, path, 0).ctx(|| format!("reopen {}", path.display()))?;
    // A bind remount sets every per-mount flag at once: keep the nosuid, nodev and
    // noexec of the mount the path is on, as runc does, or /proc/sys of a `nosuid,
    // nodev,noexec` /proc would come out suid, dev and exec.
    use nix::sys::statvfs::FsFlags;
    let on = nix::sys::statvfs::fstatvfs(&top)
        .ctx(|| format!("statvfs {}", path.display()))?
        .flags();
    let mut keep = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if on.contains(st) {
            keep |= ms;
        }
    }
    remount_bind(top.as_fd(), MsFlags::MS_RDONLY | MsFlags::MS_REC | keep)
        .ctx(|| format!("remount {} read-only", path.display()))
}

/// The container's `/dev/null`, opened without following a symlink at its end and
/// checked to be the null device: it is the source of the bind mounts that mask files.
/// A `/dev/null` swapped for a symlink or another file (by a container sharing the
/// mount, or a mount of the config's) would otherwise put that file, say a host
/// procfs file, writable, over a masked path (CVE-2025-31133).
fn null_device(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    let fd =
        resolve(root, Path::new("/dev/null"), libc::O_NOFOLLOW).ctx(|| "open /dev/null".into())?;
    let st = nix::sys::stat::fstat(&fd).ctx(|| "stat /dev/null".into())?;
    let null = st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3);
    if !null {
        return Err(Error::Init(
            "/dev/null is not the null device: masked paths cannot be masked with it".into(),
        ));
    }
    Ok(fd)
}

fn masked_path(root: BorrowedFd<'_>, path: &Path, null: &mut Option<OwnedFd>) -> Result<()> {
    let fd = match resolve(root, path, 0) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("masked path {}", path.display()), e)),
    };
    let is_dir = nix::sys::stat::fstat(&fd)
        .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .unwrap_or(false);
    if is_dir {
        mount_fd(
            Some(Path::new("tmpfs")),
            fd.as_fd(),
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            "",
        )
        .ctx(|| format!("mask {}", path.display()))
    } else {
        let null = match null {
            Some(fd) => fd,
            None => null.insert(null_device(root)?),
        };
        mount_fd(
            Some(Path::new(&fd_path(null.as_fd()))),
            fd.as_fd(),
            None,
            MsFlags::MS_BIND,
            "",
        )
        .ctx(|| format!("mask {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_and_data_are_split() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
    }

    #[test]
    fn later_options_override_earlier() {
        assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
        assert_eq!(
            opts(&["rbind", "ro"]).flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
    }

    #[test]
    fn propagation_and_recursive_attributes_are_kept_apart() {
        let o = opts(&["rbind", "rprivate", "rro", "rnosuid"]);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.rec_set, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID);
        assert!(o.data.is_empty());
    }

    /// A fresh directory to act as a rootfs; no privilege needed.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hull-unit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn mkdir_all_follows_dangling_symlinks_inside_the_root() {
        let dir = scratch("mkdir_all");
        let root_path = dir.join("root");
        fs::create_dir(&root_path).unwrap();
        let outside = dir.join("outside");
        std::os::unix::fs::symlink(&outside, root_path.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../x/y", root_path.join("rel")).unwrap();
        let root: OwnedFd = fs::File::open(&root_path).unwrap().into();

        mkdir_all(root.as_fd(), Path::new("/abs/a/b")).unwrap();
        mkdir_all(root.as_fd(), Path::new("/rel/c")).unwrap();
        ensure_file(root.as_fd(), Path::new("/abs/f")).unwrap();
        mkdir_all(root.as_fd(), Path::new("/../../../up")).unwrap();

        let inside = root_path.join(outside.strip_prefix("/").unwrap());
        assert!(inside.join("a/b").is_dir());
        assert!(inside.join("f").is_file());
        assert!(root_path.join("x/y/c").is_dir());
        assert!(root_path.join("up").is_dir());
        assert!(!outside.exists(), "made outside the root");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mkdir_all_stops_at_a_symlink_loop() {
        let dir = scratch("mkdir_loop");
        std::os::unix::fs::symlink("/b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("/a", dir.join("b")).unwrap();
        let root: OwnedFd = fs::File::open(&dir).unwrap().into();
        let err = mkdir_all(root.as_fd(), Path::new("/a/c")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        fs::remove_dir_all(&dir).unwrap();
    }
}
