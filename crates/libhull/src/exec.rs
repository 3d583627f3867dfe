//! `hull exec`: a new process in a running container.
//!
//! The process must end up exactly where the container's init is: in every one of its
//! namespaces (the pid namespace for real, so it is born there: the parent enters the
//! pid and time namespaces "for children" around `clone3` and leaves them at once), in
//! its cgroup, its root and working directory, with the user, capabilities, rlimits and
//! no_new_privs of the process spec. The child is non-dumpable until `execve`, so the
//! container can neither ptrace it nor reach hull's binary or descriptors through
//! `/proc/<pid>` (CVE-2019-5736); it closes every descriptor not passed on and changes
//! into the container's own directory before `execve` (CVE-2024-21626).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use oci_spec::runtime::{LinuxCapabilities, Process};

use crate::cgroups;
use crate::container::{self, Created};
use crate::error::{Context, Error, Result};
use crate::process;
use crate::state::{Root, Status};
use crate::sync::{Channel, Msg};
use crate::sys::{self, Fork};

/// How to run the new process.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub id: String,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: u32,
    /// A sub-cgroup of the container's cgroup to put the process in.
    pub sub_cgroup: Option<String>,
    pub ignore_paused: bool,
}

/// runc's exec flags, applied over the container's own process spec.
#[derive(Debug, Default, Clone)]
pub struct ProcessFlags {
    pub args: Vec<String>,
    pub tty: bool,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

/// Reads a `process.json` (the spec's `process` object); errors name the JSON path.
pub fn load_process(path: &Path) -> Result<Process> {
    let text = std::fs::read(path).map_err(|e| Error::Config {
        file: path.display().to_string(),
        path: "$".into(),
        msg: e.to_string(),
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&text);
    let p: Process = serde_path_to_error::deserialize(de).map_err(|e| Error::Config {
        file: path.display().to_string(),
        path: e.path().to_string(),
        msg: e.into_inner().to_string(),
    })?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::Config {
            file: path.display().to_string(),
            path: "args".into(),
            msg: "must have at least one entry".into(),
        });
    }
    Ok(p)
}

/// The process `exec` runs from flags, as runc builds it: the container's process with
/// the flags' args, terminal, cwd, extra env, user, groups, capabilities and
/// no_new_privs.
pub fn process_from_flags(base: &Process, f: &ProcessFlags) -> Result<Process> {
    let mut p = base.clone();
    if f.args.is_empty() {
        return Err(Error::Usage("exec needs a command (or --process)".into()));
    }
    p.set_args(Some(f.args.clone()));
    p.set_terminal(Some(f.tty));
    p.set_console_size(None);
    if let Some(cwd) = &f.cwd {
        p.set_cwd(cwd.clone());
    }
    if !f.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &f.env {
            let key = kv.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
    }
    let mut user = p.user().clone();
    if let Some(spec) = &f.user {
        let (uid, gid) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        let num = |s: &str, what: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::Usage(format!("--user {spec:?}: {what} must be a number")))
        };
        match uid.parse::<u32>() {
            Ok(n) => user.set_uid(n),
            // A name is looked up in the container's /etc/passwd once inside it.
            Err(_) => user.set_username(Some(uid.to_string())),
        };
        if let Some(g) = gid {
            user.set_gid(num(g, "gid")?);
        }
    }
    if !f.additional_gids.is_empty() {
        user.set_additional_gids(Some(f.additional_gids.clone()));
    }
    p.set_user(user);
    if !f.caps.is_empty() {
        let mut caps: LinuxCapabilities = p.capabilities().clone().unwrap_or_default();
        for name in &f.caps {
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::json!(name))
                    .map_err(|_| Error::Usage(format!("--cap {name:?}: unknown capability")))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ]
            .iter()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(cap);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if f.apparmor.is_some() {
        p.set_apparmor_profile(f.apparmor.clone());
    }
    if f.process_label.is_some() {
        p.set_selinux_label(f.process_label.clone());
    }
    Ok(p)
}

fn ns_flag(name: &str) -> CloneFlags {
    match name {
        "user" => CloneFlags::CLONE_NEWUSER,
        "mnt" => CloneFlags::CLONE_NEWNS,
        "cgroup" => CloneFlags::CLONE_NEWCGROUP,
        "uts" => CloneFlags::CLONE_NEWUTS,
        "ipc" => CloneFlags::CLONE_NEWIPC,
        "net" => CloneFlags::CLONE_NEWNET,
        "pid" => CloneFlags::CLONE_NEWPID,
        "time" => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        _ => CloneFlags::empty(),
    }
}

/// Runs `process` in container `o.id`. Returns its exit status, or 0 when detached.
pub fn exec(root: &Root, o: &ExecOptions, process: &Process) -> Result<i32> {
    let st = root.load(&o.id)?;
    match st.status(&root.path().join(&o.id)) {
        Status::Running | Status::Created => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            return Err(Error::Status(
                "cannot exec in a paused container (use --ignore-paused)".into(),
            ))
        }
        other => return Err(Error::Status(format!("cannot exec in a {other} container"))),
    }
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::Usage(
            "cannot allocate tty if hull will detach without setting console socket".into(),
        ));
    }
    if !terminal && o.console_socket.is_some() {
        return Err(Error::Usage(
            "cannot use console socket if hull will not detach or allocate tty".into(),
        ));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::Usage(format!(
            "cwd {} is not an absolute path",
            process.cwd().display()
        )));
    }
    crate::security::check_lsm(process, false)?;
    crate::attributes::validate_process(process)?;
    // The pidfd pins the init: once it is open and the start time matches, the
    // namespaces it names are the container's.
    let pidfd = st
        .summary
        .init_pidfd()
        .ctx(|| format!("pidfd of pid {}", st.summary.pid))?
        .ok_or_else(|| Error::Status("container not running".into()))?;
    let mut cg = st.cgroup.clone();
    if let Some(sub) = &o.sub_cgroup {
        if sub.split('/').any(|c| c == "..") {
            return Err(Error::Usage(format!(
                "--cgroup {sub:?} must not contain .."
            )));
        }
        // runc: the sub-cgroup in the hierarchies that have it, the container's own
        // cgroup in the others; it must exist in at least one.
        let subs: Vec<PathBuf> = cg
            .paths
            .iter()
            .map(|p| p.join(sub.trim_start_matches('/')))
            .collect();
        if !subs.iter().any(|p| p.is_dir()) {
            return Err(Error::Usage(format!(
                "--cgroup {sub:?}: no such sub-cgroup of the container"
            )));
        }
        cg.paths = subs
            .into_iter()
            .zip(&st.cgroup.paths)
            .map(|(s, own)| if s.is_dir() { s } else { own.clone() })
            .collect();
    }

    let mut for_children = CloneFlags::empty();
    let mut in_child = CloneFlags::empty();
    let exec_spec = root.load_exec(&o.id)?;
    for name in &exec_spec.namespaces {
        let f = ns_flag(name);
        if name == "pid" || name == "time" {
            for_children |= f;
        } else {
            in_child |= f;
        }
    }
    let (ours, console) = crate::terminal::console_ends(
        terminal && !o.detach && o.console_socket.is_none(),
        o.console_socket.as_deref(),
    )?;

    let sigs = container::forwarded_signals();
    if !o.detach {
        sigs.thread_block().ctx(|| "block signals".into())?;
    }
    // hull never runs inside the container's namespaces: only its children do.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    let (parent_end, child_end) = Channel::pair()?;
    let mut cgroup_join = cgroups::SelfJoin::open(&cg)?;
    let cgroup_v2 = cgroups::open_v2(&cg);
    let own = enter_for_children(pidfd.as_fd(), for_children)?;
    let forked = cgroups::clone3_into(cgroup_v2.as_ref(), 0);
    if let Ok((Fork::Child, _)) = forked {
        drop(parent_end);
        // A descriptor of the host's cgroupfs: gone before the child enters the
        // container, where a path of the container's could reach it (CVE-2024-21626).
        drop(cgroup_v2);
        // Built before the child joins the container's mount namespace: a notify
        // filter's listenerPath is a path of the host.
        let seccomp = cgroup_join.join().and_then(|()| {
            crate::seccomp::Filter::for_exec(
                exec_spec.seccomp.as_ref(),
                st.to_oci_json(Status::Running),
            )
        });
        let res = seccomp.and_then(|seccomp| {
            exec_child(
                &child_end,
                pidfd.as_fd(),
                in_child,
                process,
                console.as_ref(),
                o.preserve_fds,
                seccomp,
            )
        });
        let Err(e) = res;
        let _ = child_end.send(&Msg::Error(e.to_string()));
        sys::exit_now(1);
    }
    leave(own)?;
    let (pid, child_pidfd, in_cgroup) =
        match forked.map_err(|e| Error::sys("clone3 the exec process", e))? {
            (Fork::Parent { pid, pidfd }, in_cgroup) => (pid, pidfd, in_cgroup),
            (Fork::Child, _) => unreachable!("the child never returns"),
        };
    drop(child_end);
    drop(cgroup_join);
    drop(console);
    let kill_child = |e: Error| {
        let _ = sys::pidfd_send_signal(child_pidfd.as_fd(), libc::SIGKILL);
        let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
        e
    };
    // The child may have failed already (joining its cgroups is its first step): the
    // message it left says why better than what failed here.
    let fail = |e: Error| kill_child(parent_end.pending_error().map(Error::Init).unwrap_or(e));
    if !in_cgroup {
        cgroups::join_v2(&cg, pid).map_err(fail)?;
    }
    container::set_rlimits(pid, process).map_err(fail)?;
    parent_end.send(&Msg::Go).map_err(fail)?;
    // The child's end closes on a successful execve; a failure arrives as a message.
    match parent_end.recv().map_err(kill_child)? {
        None => {}
        Some(Msg::Error(e)) => {
            let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(Error::Init(e));
        }
        Some(other) => {
            return Err(kill_child(Error::Init(format!(
                "unexpected message {other:?}"
            ))))
        }
    }
    if let Some(f) = &o.pid_file {
        container::write_pid_file(f, pid)?;
    }
    if o.detach {
        return Ok(0);
    }
    let master = ours.map(|s| crate::sync::recv_fd(s.as_fd())).transpose()?;
    container::wait_forwarding(
        &Created {
            pid,
            pidfd: child_pidfd,
        },
        &sigs,
        master.as_ref(),
    )
}

/// Enters the pid and time namespaces of the init for our children only; returns our
/// own to go back to.
fn enter_for_children(
    pidfd: std::os::fd::BorrowedFd<'_>,
    flags: CloneFlags,
) -> Result<Vec<(CloneFlags, OwnedFd)>> {
    let mut own = Vec::new();
    for (flag, name) in [
        (CloneFlags::CLONE_NEWPID, "pid"),
        (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "time"),
    ] {
        if !flags.contains(flag) {
            continue;
        }
        let fd: OwnedFd = std::fs::File::open(format!("/proc/self/ns/{name}"))
            .ctx(|| format!("open /proc/self/ns/{name}"))?
            .into();
        nix::sched::setns(pidfd, flag).ctx(|| format!("join the container's {name} namespace"))?;
        own.push((flag, fd));
    }
    Ok(own)
}

fn leave(own: Vec<(CloneFlags, OwnedFd)>) -> Result<()> {
    for (flag, fd) in own {
        nix::sched::setns(fd.as_fd(), flag).ctx(|| "return to hull's own namespace".into())?;
    }
    Ok(())
}

/// The exec'd process, from `clone3` to `execve`.
fn exec_child(
    ch: &Channel,
    pidfd: std::os::fd::BorrowedFd<'_>,
    flags: CloneFlags,
    process: &Process,
    console: Option<&OwnedFd>,
    preserve_fds: u32,
    seccomp: Option<crate::seccomp::Filter>,
) -> Result<std::convert::Infallible> {
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    match ch.recv()? {
        Some(Msg::Go) => {}
        _ => sys::exit_now(1),
    }
    // One setns with every flag: the kernel enters the user namespace first, and the
    // pidfd leaves no window for the namespaces to be swapped (Linux 5.8).
    if !flags.is_empty() {
        nix::sched::setns(pidfd, flags).ctx(|| "join the container's namespaces".into())?;
    }
    // setns(mnt) put us at the container's root; the working directory must exist there.
    crate::rootfs::chdir_inside(process.cwd())
        .map_err(|e| Error::Usage(format!("cwd {}: {e}", process.cwd().display())))?;
    let resolved;
    let process = match process.user().username() {
        Some(name) => {
            let (uid, gid) = passwd_lookup(name).ok_or_else(|| {
                Error::Usage(format!(
                    "user {name:?}: not found in the container's /etc/passwd"
                ))
            })?;
            let mut p = process.clone();
            let mut u = p.user().clone();
            u.set_uid(uid);
            u.set_gid(gid);
            u.set_username(None);
            p.set_user(u);
            resolved = p;
            &resolved
        }
        None => process,
    };
    if process.terminal().unwrap_or(false) {
        let sock =
            console.ok_or_else(|| Error::Usage("a terminal needs a console socket".into()))?;
        crate::terminal::setup_console(sock.as_fd(), None)?;
    } else {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
    }
    let env = process::environment(process);
    let exe = process::find_executable(process, &env)?;
    process::exec_process(process, &exe, &env, preserve_fds, seccomp)
}

/// uid and gid of a user name in the container's /etc/passwd.
fn passwd_lookup(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}
