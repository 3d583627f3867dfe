//! The container's init: the child of `clone3`, from its first instruction to `execve`.
//!
//! It runs on a copy of hull's address space, single-threaded, and talks to the parent
//! only over the [`Channel`]. It builds the rootfs, waits on the exec fifo for `start`,
//! drops to the process's user and capabilities, and executes the process.
//! Must never: return into the parent's code path (it leaves with `_exit` or `execve`),
//! or keep a host descriptor open across `execve`.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::{SigSet, SigmaskHow};
use oci_spec::runtime::{Process, Spec};

use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use crate::rootfs;
use crate::security::{self, CapMasks};
use crate::sync::{Channel, Msg};
use crate::sys;

/// Everything the init needs, prepared by the parent before `clone3`.
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub id: &'a str,
    pub channel: Channel,
    pub ns: &'a Plan,
    /// `O_PATH` descriptor of the exec fifo; reopened for writing through /proc.
    pub fifo: OwnedFd,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub cgroup_paths: &'a [PathBuf],
    /// The v1 cgroups, which the init joins first of all.
    pub cgroup_join: crate::cgroups::SelfJoin,
    /// Detached ID-mapped mount trees made by the parent, by mount index.
    pub idmapped: &'a [Option<OwnedFd>],
    /// Descriptors of the parent's that the init must close at once (the state lock).
    pub close_fds: Vec<std::os::fd::RawFd>,
    /// The parent runs as root, so it can write the id maps of a non-dumpable init.
    /// Known before `clone3`: the init cannot tell by itself, since its euid in a new
    /// user namespace turns from the overflow uid to 0 as soon as `uid_map` is written.
    pub parent_is_root: bool,
}

/// The init's whole life. Reports any error to the parent and exits 1.
pub fn init(mut args: InitArgs<'_>) -> ! {
    let Err(e) = run_init(&mut args);
    if READY.load(std::sync::atomic::Ordering::Relaxed) {
        // `create` has returned: nobody reads the channel any more. The process's own
        // stderr is the only place left to say what went wrong.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "hull: container init: {e}");
    } else {
        let _ = args.channel.send(&Msg::Error(e.to_string()));
    }
    sys::exit_now(1)
}

/// Set once the init has told the parent it is ready.
static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn run_init(a: &mut InitArgs<'_>) -> Result<Infallible> {
    for fd in &a.close_fds {
        // These descriptors belong to the parent's objects, which the init never
        // touches again (it leaves with _exit or execve).
        let _ = nix::unistd::close(*fd);
    }
    a.cgroup_join.join()?;
    // Until execve, /proc/<pid> of the init must not let the container reach hull's
    // memory or descriptors (CVE-2019-5736, CVE-2016-9962). With root, the parent
    // turned non-dumpable before clone3 and the init was born so: a pid namespace the
    // container joins may hold its processes already. A non-dumpable process's /proc
    // files belong to root, so without root the parent could no longer write the uid
    // and gid maps: then the init turns non-dumpable once they are written, before it
    // enters anything of the container. (Until then a process of a joined pid
    // namespace of the same user could reach it, as with runc.)
    let rootless = !a.parent_is_root;
    let process = a
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config("process", "missing"))?;
    match a.channel.recv()? {
        Some(Msg::Go) => {}
        _ => sys::exit_now(1),
    }
    if rootless {
        sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    }
    if let Some(user) = &a.ns.user_join {
        nix::sched::setns(user.as_fd(), nix::sched::CloneFlags::CLONE_NEWUSER)
            .ctx(|| "join the user namespace".into())?;
    }
    let unshare_now = a.ns.child_unshare - nix::sched::CloneFlags::CLONE_NEWCGROUP;
    if !unshare_now.is_empty() {
        nix::sched::unshare(unshare_now).ctx(|| "unshare namespaces".into())?;
    }
    let in_user_ns = a.ns.new_user || a.ns.user_join.is_some();
    if in_user_ns {
        // Become root of the user namespace, so files made for the rootfs have an owner
        // that maps.
        let root_u = nix::unistd::Uid::from_raw(0);
        let root_g = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(root_g, root_g, root_g)
            .ctx(|| "setresgid(0) in the user namespace".into())?;
        nix::unistd::setresuid(root_u, root_u, root_u)
            .ctx(|| "setresuid(0) in the user namespace".into())?;
    }
    let new_cgroup_ns =
        a.ns.child_unshare
            .contains(nix::sched::CloneFlags::CLONE_NEWCGROUP);
    if new_cgroup_ns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare the cgroup namespace".into())?;
    }
    if !a.no_new_keyring {
        join_session_keyring(a.id)?;
    }

    let ctx = rootfs::MountContext {
        spec: a.spec,
        bundle: a.bundle,
        rootfs: a.rootfs,
        in_user_ns,
        new_cgroup_ns,
        cgroup_paths: a.cgroup_paths,
        idmapped: a.idmapped,
    };
    let root = rootfs::prepare(&ctx)?;
    // runc makes the working directory when the rootfs lacks it.
    rootfs::mkdir_all(root.as_fd(), process.cwd())
        .ctx(|| format!("make process.cwd {}", process.cwd().display()))?;

    a.channel.send(&Msg::MountsDone)?;
    let state_json = match a.channel.recv()? {
        Some(Msg::Hooks(s)) => s,
        _ => sys::exit_now(1),
    };
    if let Some(hooks) = a.spec.hooks() {
        crate::hooks::run_all(
            "createContainer",
            hooks.create_container().as_deref().unwrap_or_default(),
            &state_json,
        )?;
    }

    rootfs::pivot(a.rootfs, root.as_fd(), a.no_pivot)?;
    drop(root);
    // Sysctls go in before /proc/sys turns read-only (runc's order).
    set_identity(a.spec)?;
    rootfs::finish(a.spec)?;

    if process.terminal().unwrap_or(false) {
        let sock = a
            .console_socket
            .as_ref()
            .ok_or_else(|| Error::Usage("process.terminal needs a console socket".into()))?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::terminal::setup_console(sock.as_fd(), size)?;
    } else {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
    }

    crate::attributes::apply_linux(a.spec)?;
    let env = environment(process);
    let exe = find_executable(process, &env)?;
    // Built now, so that `create` reports a failure; loaded at the very end.
    let seccomp = crate::seccomp::Filter::for_init(a.spec, &state_json)?;
    a.channel.send(&Msg::Ready)?;
    READY.store(true, std::sync::atomic::Ordering::Relaxed);

    // Block here until `hull start` opens the fifo for reading.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(sys::fd_path(a.fifo.as_fd()))
        .ctx(|| "open the exec fifo".into())?;
    fifo.write_all(b"0").ctx(|| "write the exec fifo".into())?;

    if let Some(hooks) = a.spec.hooks() {
        // The container is `created` now, not `creating` as it was for createContainer.
        let state_json = match serde_json::from_str::<serde_json::Value>(&state_json) {
            Ok(mut v) => {
                v["status"] = "created".into();
                v.to_string()
            }
            Err(_) => state_json,
        };
        crate::hooks::run_all(
            "startContainer",
            hooks.start_container().as_deref().unwrap_or_default(),
            &state_json,
        )?;
    }
    exec_process(process, &exe, &env, a.preserve_fds, seccomp)
}

use std::os::unix::fs::OpenOptionsExt;

/// A session keyring of the container's own, so it cannot see hull's keys.
fn join_session_keyring(id: &str) -> Result<()> {
    let name = CString::new(format!("_ses.{id}")).map_err(|_| Error::Usage("bad id".into()))?;
    if let Err(e) = sys::join_session_keyring(&name) {
        // Kernels without keyrings: nothing to isolate (runc ignores ENOSYS too).
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(Error::sys("join a new session keyring", e));
        }
    }
    Ok(())
}

/// Hostname, domain name and sysctls, set from inside the container's namespaces.
fn set_identity(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).ctx(|| format!("set hostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname() {
        sys::setdomainname(d).ctx(|| format!("set domainname {d:?}"))?;
    }
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        // Each file is opened beneath procfs's /proc/sys, with no symlink and no mount
        // crossed: nothing put over a sysctl can take the write.
        let proc_sys = std::fs::File::open("/proc/sys").ctx(|| "open /proc/sys".into())?;
        let fs = nix::sys::statfs::fstatfs(&proc_sys).ctx(|| "statfs /proc/sys".into())?;
        if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
            return Err(Error::Init("/proc/sys is not procfs".into()));
        }
        for (key, value) in sysctl {
            let rel = key.replace('.', "/");
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let fd = sys::openat2(
                    proc_sys.as_fd(),
                    Path::new(&rel),
                    libc::O_WRONLY,
                    0,
                    libc::RESOLVE_BENEATH
                        | libc::RESOLVE_NO_SYMLINKS
                        | libc::RESOLVE_NO_MAGICLINKS
                        | libc::RESOLVE_NO_XDEV,
                )?;
                std::fs::File::from(fd).write_all(value.as_bytes())
            };
            write().map_err(|e| {
                Error::config(
                    format!("linux.sysctl.{key}"),
                    format!("write /proc/sys/{rel}: {e}"),
                )
            })?;
        }
    }
    Ok(())
}

/// The process's environment; HOME from the container's /etc/passwd when unset, as
/// runc does.
pub(crate) fn environment(process: &Process) -> Vec<String> {
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = home_of(process.user().uid()).unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    env
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Resolves `args[0]` in the container as execvp would, with the process's PATH.
pub(crate) fn find_executable(process: &Process, env: &[String]) -> Result<PathBuf> {
    let arg0 = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or_else(|| Error::config("process.args", "empty"))?;
    let not_found = || {
        Error::Init(format!(
            "exec: {arg0:?}: executable file not found in $PATH"
        ))
    };
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(Error::Init(format!("exec: {arg0:?}: no such executable")))
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(arg0))
        .find(|p| is_executable(p))
        .ok_or_else(not_found)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The last steps, in the order the kernel requires: cwd and umask while still root,
/// the bounding set (needs CAP_SETPCAP), the user, the other capability sets,
/// no_new_privs, the seccomp filter, then close every descriptor not passed on purpose
/// and execve.
pub(crate) fn exec_process(
    process: &Process,
    exe: &Path,
    env: &[String],
    preserve_fds: u32,
    seccomp: Option<crate::seccomp::Filter>,
) -> Result<Infallible> {
    rootfs::chdir_inside(process.cwd())
        .ctx(|| format!("chdir to process.cwd {}", process.cwd().display()))?;
    let user = process.user();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        user.umask().unwrap_or(0o022),
    ));
    security::apply_lsm(process)?;
    crate::attributes::apply_process(process)?;
    let caps = CapMasks::from_spec(process.capabilities().as_ref());
    security::drop_bounding(caps.bounding)?;
    if process.terminal().unwrap_or(false) {
        // The pty was made by root; the process must own its terminal to reopen it
        // (runc's fixStdioPermissions).
        // Standard input is the pty slave, which setup_console made.
        nix::unistd::fchown(
            std::io::stdin(),
            Some(nix::unistd::Uid::from_raw(user.uid())),
            Some(nix::unistd::Gid::from_raw(user.gid())),
        )
        .ctx(|| "chown the terminal to the process user".into())?;
    }
    // CVE-2024-21626: nothing of hull's may survive execve. Both before any seccomp
    // filter, which a profile recorded under runc (whose own last steps come before
    // its filter too) may forbid close_range or rt_sigaction in.
    sys::cloexec_from(3 + preserve_fds).ctx(|| "close_range".into())?;
    reset_signals()?;
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    let mut seccomp = seccomp;
    // Without no_new_privs the kernel takes a filter only from CAP_SYS_ADMIN: load it
    // before the user and capabilities change (runc and crun do the same).
    if let Some(filter) = seccomp.take_if(|f| f.needs_privilege(no_new_privs, caps.effective)) {
        filter.load()?;
    }
    // A user namespace made without root has setgroups denied (see
    // namespaces::write_id_maps): keep the groups it has then.
    let setgroups =
        std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny");
    if !setgroups
        && user
            .additional_gids()
            .as_ref()
            .is_some_and(|g| !g.is_empty())
    {
        return Err(Error::config(
            "process.user.additionalGids",
            "setgroups is denied in this user namespace (rootless without newgidmap)",
        ));
    }
    security::set_user(user, setgroups)?;
    security::apply_caps(&caps)?;
    if no_new_privs {
        security::set_no_new_privs()?;
    }
    // Last, so that the profile never forbids a step of hull's own.
    if let Some(filter) = seccomp {
        filter.load()?;
    }

    let cstr = |s: &str| {
        CString::new(s).map_err(|_| Error::config("process", format!("{s:?} contains a NUL byte")))
    };
    let argv: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .map(|a| cstr(a))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect::<Result<_>>()?;
    let path = CString::new(exe.as_os_str().as_bytes())
        .map_err(|_| Error::Init("bad executable path".into()))?;
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(Error::sys(
        format!("exec {}", exe.display()),
        std::io::Error::from(e),
    ))
}

/// The process starts with no blocked signals and default dispositions: hull's
/// parent blocks signals to forward them, Rust ignores SIGPIPE, and whoever started
/// hull may have ignored others; none of that belongs to the container.
pub fn reset_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .ctx(|| "sigprocmask".into())?;
    for signo in 1..=libc::SIGRTMAX() {
        if signo == libc::SIGKILL || signo == libc::SIGSTOP {
            continue;
        }
        // Invalid numbers (those glibc keeps for itself) fail harmlessly.
        let _ = sys::signal_default(signo);
    }
    Ok(())
}
