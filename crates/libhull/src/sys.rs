//! The narrow layer of raw system calls that neither `std` nor `nix` wraps the way hull
//! needs them: `clone3`, `openat2`, `mount_setattr`, `open_tree`, `move_mount`,
//! `pidfd_open`, `close_range`, `capset`, `bpf`, `sched_setattr`, `prlimit`, a few
//! `prctl`s and `ioctl`s, and taking ownership of descriptors the kernel or libseccomp
//! hands over.
//!
//! Every `unsafe` block of libhull lives here, each with its `SAFETY:` line.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cstr(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `struct clone_args` of `<linux/sched.h>`, up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What `clone3` returned.
pub enum Fork {
    /// In the parent: the child's pid and a pidfd for it.
    Parent { pid: i32, pidfd: OwnedFd },
    /// In the child.
    Child,
}

/// `clone3` with `flags` (namespace flags), `CLONE_PIDFD`, SIGCHLD on exit and, when
/// given, `CLONE_INTO_CGROUP`. Behaves like `fork`: the child returns [`Fork::Child`] on
/// a copy of the caller's stack.
///
/// hull is single-threaded, so the child may allocate and take locks freely.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Fork> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: args is a valid clone_args of the size passed; with no stack given the
    // child continues on a copy of this stack, like fork(2). The process has one thread.
    let ret = check(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    })?;
    if ret == 0 {
        return Ok(Fork::Child);
    }
    // SAFETY: the kernel filled pidfd with a new descriptor we own (CLONE_PIDFD).
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Fork::Parent {
        pid: ret as i32,
        pidfd,
    })
}

/// `openat2(dirfd, path, flags, resolve)`; `O_CLOEXEC` is always added.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let path = cstr(path)?;
    // SAFETY: open_how is plain data; zeroed is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = resolve;
    loop {
        // SAFETY: valid fd, NUL-terminated path, open_how of the size passed.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match check(ret) {
            // SAFETY: the kernel returned a new descriptor that we now own.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            // openat2 asks to retry when a rename raced with RESOLVE_IN_ROOT.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `struct mount_attr` of `<linux/mount.h>`.
#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE?, attr)`.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: valid fd, empty NUL-terminated path, mount_attr of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`: a signal that cannot hit a recycled pid.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: valid fd, NULL siginfo is allowed.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}

/// A pidfs file handle of the process behind `pidfd`, as `<type>:<hex bytes>`. It names
/// that one process for as long as the kernel runs: a pid number comes back for a new
/// process, a pidfs inode number never does. `None` before Linux 6.13, where a pidfd
/// has no file handle.
pub fn pidfd_handle(pidfd: BorrowedFd<'_>) -> Option<String> {
    const MAX: usize = 64;
    #[repr(C)]
    struct Handle {
        bytes: u32,
        kind: i32,
        data: [u8; MAX],
    }
    let mut h = Handle {
        bytes: MAX as u32,
        kind: 0,
        data: [0; MAX],
    };
    let mut mount_id: i32 = 0;
    // SAFETY: h is a `struct file_handle` with room for MAX bytes, as h.bytes says.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            pidfd.as_raw_fd(),
            c"".as_ptr(),
            &mut h as *mut Handle,
            &mut mount_id as *mut i32,
            libc::AT_EMPTY_PATH,
        )
    };
    if ret < 0 {
        return None;
    }
    let data = h.data.get(..h.bytes as usize)?;
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{}:{hex}", h.kind))
}

/// Opens a pidfd from a [`pidfd_handle`]: fails with `ESTALE` once the process is
/// gone (reaped), whatever process has its pid number now.
pub fn pidfd_from_handle(handle: &str) -> io::Result<OwnedFd> {
    static SELF: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
    let (kind, hex) = handle.split_once(':').ok_or_else(invalid)?;
    let kind: i32 = kind.parse().map_err(|_| invalid())?;
    // struct file_handle: u32 size, i32 type, then at most MAX_HANDLE_SZ bytes; `list`
    // builds one per container, on the stack.
    let len = hex.len() / 2;
    if hex.len() % 2 != 0 || len > 128 {
        return Err(invalid());
    }
    let mut raw = [0u8; 8 + 128];
    raw[..4].copy_from_slice(&(len as u32).to_ne_bytes());
    raw[4..8].copy_from_slice(&kind.to_ne_bytes());
    for (byte, pair) in raw[8..].iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let nibble = |c: u8| (c as char).to_digit(16);
        *byte = match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => (hi << 4 | lo) as u8,
            _ => return Err(invalid()),
        };
    }
    // Any pidfd names the pidfs mount: our own, opened once.
    let mount = SELF
        .get_or_init(|| pidfd_open(std::process::id() as i32).ok())
        .as_ref()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSYS))?;
    // SAFETY: raw is a complete `struct file_handle`; the kernel only reads it.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount.as_raw_fd(),
            raw.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the process behind `pidfd` has exited (a zombie included).
pub fn pidfd_exited(pidfd: BorrowedFd<'_>) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// [`pidfd_exited`] of many pidfds with one `poll`. A pidfd the kernel flags as bad
/// counts as exited.
pub fn pidfds_exited(pidfds: &[BorrowedFd<'_>]) -> Vec<bool> {
    let mut fds: Vec<libc::pollfd> = pidfds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: fds is a valid array of fds.len() pollfds; no timeout.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if ret < 0 {
        // Only EINTR or ENOMEM: ask one by one.
        return pidfds.iter().map(|fd| pidfd_exited(*fd)).collect();
    }
    fds.iter().map(|p| p.revents != 0).collect()
}

/// Marks every descriptor from `first` up close-on-exec.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes descriptor flags.
    let ret = unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `capset` of the calling thread's effective, permitted and inheritable sets (bit masks).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and a two-element data array as capset(2) v3 requires.
    check(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })?;
    Ok(())
}

/// `prctl` with integer arguments.
pub fn prctl(option: i32, arg2: u64) -> io::Result<()> {
    // SAFETY: prctl options used by hull take integer arguments only.
    let ret = unsafe { libc::prctl(option, arg2, 0, 0, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The path through which a descriptor can be named to calls that take paths, such as
/// `mount(2)`: the descriptor itself, not a string a container could swap.
pub fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC)`: an anonymous file
/// that may be executed and sealed. Kernels before 6.3 know no `MFD_EXEC` (every memfd
/// is executable there): asked again without it.
pub fn memfd_exec(name: &str) -> io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    for flags in [base | libc::MFD_EXEC, base] {
        // SAFETY: a NUL-terminated name and integer flags.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: the kernel returned a new descriptor that we now own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(e);
        }
    }
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

/// `fcntl(fd, F_GET_SEALS)`: the seals of a memfd (EINVAL for other files).
pub fn seals(fd: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// `fcntl(fd, F_ADD_SEALS, seals)`.
pub fn add_seals(fd: BorrowedFd<'_>, seals: i32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)` with this process's own arguments and
/// environment: runs the program in `fd` in place of this one. Returns only the error.
pub fn execveat_self(fd: BorrowedFd<'_>) -> io::Error {
    use std::os::unix::ffi::OsStringExt;
    let to_c = |v: Vec<u8>| CString::new(v).ok();
    let args: Option<Vec<CString>> = std::env::args_os().map(|a| to_c(a.into_vec())).collect();
    let env: Option<Vec<CString>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            to_c(kv)
        })
        .collect();
    let (Some(args), Some(env)) = (args, env) else {
        return io::Error::from_raw_os_error(libc::EINVAL);
    };
    let ptrs = |v: &[CString]| -> Vec<*const libc::c_char> {
        v.iter()
            .map(|c| c.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let (argv, envp) = (ptrs(&args), ptrs(&env));
    // SAFETY: NUL-terminated strings in NULL-terminated arrays, all alive across the
    // call; an empty path with AT_EMPTY_PATH names fd itself.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// Leaves the process at once, without running destructors or atexit handlers (for the
/// container init, whose address space is a copy of the parent's).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// Reads a small file (state, /proc, cgroup files) with one `open`, as few `read`s as
/// it takes and one `close`: no `statx` for a size hint, no extra read to see the end
/// when a read already came back short. `list` does this for every container.
pub fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    read_small_file(&mut std::fs::File::open(path)?)
}

/// [`read_small`] of a file already open.
pub fn read_small_file(f: &mut std::fs::File) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        let n = f.read(&mut buf[len..])?;
        len += n;
        if n == 0 || len < buf.len() {
            break;
        }
        buf.resize(buf.len() * 2, 0);
    }
    buf.truncate(len);
    Ok(buf)
}

/// The effective user id of the process (for the `hull` binary, which does not use nix).
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)`: adds `cap` to the ambient set.
pub fn cap_ambient_raise(cap: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0,
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

const OPEN_TREE_CLONE: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | O_CLOEXEC)`, with `AT_RECURSIVE` when
/// `recursive`: a detached copy of the mount at `path` (and of those under it).
pub fn open_tree_clone(path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: c is NUL-terminated; open_tree returns a new descriptor or -1.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) })?;
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)`:
/// attaches the detached mount tree `tree` on the mount point `target`.
pub fn move_mount(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: two valid descriptors and empty NUL-terminated paths.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// `flock(fd, LOCK_EX)`: waits for an exclusive lock, held until the descriptor closes.
pub fn flock_exclusive(fd: BorrowedFd<'_>) -> io::Result<()> {
    flock(fd, libc::LOCK_EX)
}

/// `flock(fd, op)`: takes (or, on a descriptor that holds one, converts) a lock.
pub fn flock(fd: BorrowedFd<'_>, op: i32) -> io::Result<()> {
    loop {
        // SAFETY: flock on a valid descriptor.
        if unsafe { libc::flock(fd.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: the calling process joins a new session
/// keyring named `name`.
pub fn join_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING) takes a NUL-terminated name.
    check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })?;
    Ok(())
}

/// `setdomainname(name)`: the NIS domain name of the current UTS namespace.
pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: name is valid for its length.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `signal(signo, SIG_DFL)`: the default disposition for `signo`.
pub fn signal_default(signo: i32) -> io::Result<()> {
    // SAFETY: installing SIG_DFL sets no handler; invalid numbers fail harmlessly.
    if unsafe { libc::signal(signo, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `set_mempolicy(mode, nodes, maxnode)` of the calling thread: `nodes` is a bit mask of
/// NUMA nodes (`maxnode` counts its bits plus one), `None` passes no mask.
pub fn set_mempolicy(mode: i32, nodes: Option<&[u64]>) -> io::Result<()> {
    let (ptr, max) = match nodes {
        Some(n) => (n.as_ptr(), (n.len() * 64 + 1) as u64),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: ptr is NULL or holds the words maxnode counts (their bits plus one).
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, max) })?;
    Ok(())
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio)`: the I/O priority of the calling process.
pub fn ioprio_set(ioprio: i32) -> io::Result<()> {
    // SAFETY: ioprio_set takes integers; 1 is IOPRIO_WHO_PROCESS, 0 this process.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, ioprio) })?;
    Ok(())
}

/// The fields of `struct sched_attr` that [`sched_setattr`] sets (it fills in the size).
pub struct SchedParams {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// `struct sched_attr` (SCHED_ATTR_SIZE_VER0).
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// `sched_setattr(0, attr, 0)`: the scheduling policy and attributes of the calling thread.
pub fn sched_setattr(p: &SchedParams) -> io::Result<()> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: p.policy,
        flags: p.flags,
        nice: p.nice,
        priority: p.priority,
        runtime: p.runtime,
        deadline: p.deadline,
        period: p.period,
    };
    // SAFETY: attr is a valid sched_attr of the size it declares.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) })?;
    Ok(())
}

/// `prlimit(pid, resource, {soft, hard}, NULL)`: sets a resource limit of process `pid`.
pub fn prlimit(
    pid: i32,
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: lim is a valid rlimit; old limit not requested.
    if unsafe { libc::prlimit(pid, resource, &lim, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What [`recv_fd`] received.
pub enum ReceivedFd {
    /// The first descriptor the message carried (SCM_RIGHTS).
    Fd(OwnedFd),
    /// A message without a descriptor.
    Missing,
    /// The control data was cut short (`MSG_CTRUNC`): it held more than one descriptor.
    Truncated,
}

/// `recvmsg` of one message (payload up to 4 KiB, dropped) on the unix socket `sock`,
/// with room for one descriptor sent with SCM_RIGHTS, received close-on-exec.
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<ReceivedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let Ok(cmsgs) = msg.cmsgs() else {
        return Ok(ReceivedFd::Truncated);
    };
    for c in cmsgs {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel installed this descriptor for us.
                return Ok(ReceivedFd::Fd(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
    }
    Ok(ReceivedFd::Missing)
}

/// The seccomp notify descriptor libseccomp made when it loaded `ctx`'s filter, now the
/// caller's. Call it once per loaded filter: each call returns the same descriptor.
pub fn seccomp_notify_fd(
    ctx: &libseccomp::ScmpFilterContext,
) -> Result<OwnedFd, libseccomp::error::SeccompError> {
    let raw = ctx.get_notify_fd()?;
    // SAFETY: libseccomp made this descriptor when it loaded the filter and leaves it to
    // the caller (releasing the context does not close it).
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_ATTACH: i64 = 8;

// `bpf_prog_load` passes a slice of instructions as an array of `struct bpf_insn`.
const _: () = assert!(std::mem::size_of::<crate::cgroup_devices::Insn>() == 8);

/// The `bpf_attr` prefix of BPF_PROG_LOAD.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `bpf_attr` prefix of BPF_PROG_ATTACH.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `bpf(BPF_PROG_LOAD)` of `insns` as a program of `prog_type` for
/// `expected_attach_type`, named `name`, under `license`; the verifier writes its log
/// (level 1) into `log`.
pub fn bpf_prog_load(
    prog_type: u32,
    expected_attach_type: u32,
    insns: &[crate::cgroup_devices::Insn],
    license: &CStr,
    name: [u8; 16],
    log: &mut [u8],
) -> io::Result<OwnedFd> {
    let attr = ProgLoadAttr {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type,
    };
    // SAFETY: attr is a valid bpf_attr prefix for BPF_PROG_LOAD of the size passed;
    // the pointers it holds live until the call returns.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    })?;
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `bpf(BPF_PROG_ATTACH)`: attaches the program `prog` to `target` (for a cgroup
/// program, the cgroup's directory) as `attach_type`, with `flags`.
pub fn bpf_prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> io::Result<()> {
    let attach = ProgAttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    // SAFETY: attach is a valid bpf_attr prefix for BPF_PROG_ATTACH of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attach as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    })?;
    Ok(())
}

/// `ioctl(fd, TIOCSCTTY, 0)`: the terminal `fd` becomes the controlling terminal of the
/// calling process's session.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioctl(fd, TIOCSWINSZ)`: sets a terminal's window size.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: ws is a valid winsize for TIOCSWINSZ.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioctl(fd, TIOCGWINSZ)`: a terminal's window size, as (rows, columns).
pub fn winsize(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    // SAFETY: zeroed winsize is valid; TIOCGWINSZ fills it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ws is a valid winsize for TIOCGWINSZ.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((ws.ws_row, ws.ws_col))
}

/// The index of network interface `name` in the current network namespace
/// (`SIOCGIFINDEX` on an `AF_INET` datagram socket; a longer name is cut to
/// `IFNAMSIZ - 1` bytes).
pub fn ifindex(name: &str) -> io::Result<i32> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: a zeroed ifreq is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    // SAFETY: req is a valid ifreq for SIOCGIFINDEX.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFINDEX filled the index member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex })
}
