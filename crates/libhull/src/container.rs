//! Host-side orchestration of a container's life: create, start, run, state, kill,
//! delete. Each public function is one command of the CLI.
//!
//! Owns: the order of the steps and the promise that a failed create leaves nothing
//! behind (the [`Undo`] guard). Knows every module below it; none of them knows it.

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use oci_spec::runtime::Hook;

use crate::cgroups::{self, CgroupRecord};
use crate::error::{Context, Error, Result};
use crate::namespaces::{self, Plan};
use crate::process::{self, InitArgs};
use crate::spec;
use crate::state::{self, Locked, Root, State, Status, EXEC_FIFO};
use crate::sync::{Channel, Msg};
use crate::sys::{self, Fork};

/// The flags of `create` (and `run`).
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// A container hull has just created, while the creating process still holds it.
pub struct Created {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Undoes a partial create when dropped: kills the init, removes the cgroups and the
/// state directory. `disarm` once the container is whole.
struct Undo {
    locked: Option<Locked>,
    cgroup: Option<CgroupRecord>,
    child: Option<(i32, OwnedFd)>,
    netdev: Option<crate::netdev::Moved>,
}

impl Undo {
    /// Keeps everything: the container is whole. The lock is released on return.
    fn disarm(mut self) {
        self.netdev = None;
        self.cgroup = None;
        self.child = None;
        self.locked = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(moved) = self.netdev.take() {
            let _ = crate::netdev::move_out(&moved);
        }
        if let Some((pid, pidfd)) = self.child.take() {
            let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(rec) = self.cgroup.take() {
            let _ = cgroups::remove(&rec);
        }
        if let Some(locked) = self.locked.take() {
            let _ = locked.remove();
        }
    }
}

/// `hull create`: the container's init is left blocked on the exec fifo.
pub fn create(root: &Root, opts: &CreateOptions, detach_terminal: bool) -> Result<Created> {
    let mut t = crate::log::Phases::new("create");
    let bundle = spec::load_bundle(&opts.bundle)?;
    t.mark("parse config.json");
    let (_, console) = crate::terminal::console_ends(false, opts.console_socket.as_deref())?;
    create_from(root, opts, &bundle, detach_terminal, console, t)
}

/// `create` of a loaded bundle, with the console socket already connected (or the
/// end of a socketpair, for a foreground `run -t`).
fn create_from(
    root: &Root,
    opts: &CreateOptions,
    bundle: &spec::Bundle,
    detach_terminal: bool,
    console: Option<OwnedFd>,
    mut t: crate::log::Phases,
) -> Result<Created> {
    let spec = &bundle.spec;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::config("linux", "missing"))?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    // runc's rules for the console socket.
    if terminal && console.is_none() && detach_terminal {
        return Err(Error::Usage(
            "cannot allocate tty if hull will detach without setting console socket".into(),
        ));
    }
    if !terminal && console.is_some() {
        return Err(Error::Usage(
            "cannot use console socket if hull will not detach or allocate tty".into(),
        ));
    }
    if let Some(p) = spec.process() {
        crate::security::check_lsm(p, true)?;
    }
    crate::seccomp::prepare(spec)?;
    crate::attributes::validate(spec)?;
    let ns = Plan::from_spec(linux)?;
    let cg = cgroups::without_root_if_not_delegated(cgroups::plan(
        linux.cgroups_path().as_deref(),
        &opts.id,
    )?);
    let limits = match linux.resources() {
        Some(r) => crate::cgroup_resources::writes(r, cg.unified)?,
        None => Vec::new(),
    };
    crate::cgroup_resources::check_available(&cg, &limits)?;
    let device_rules = crate::cgroup_devices::rules(spec)?;
    let netdev = match linux.net_devices() {
        Some(devices) => crate::netdev::plan(devices, ns.new_net, &root.path().join(&opts.id))?,
        None => Default::default(),
    };
    t.mark("plan namespaces and cgroups");

    let locked = root.create(&opts.id)?;
    let mut undo = Undo {
        locked: Some(locked),
        cgroup: None,
        child: None,
        netdev: None,
    };
    let locked = undo.locked.as_ref().expect("just set");
    let mut st = State {
        summary: state::Summary {
            id: opts.id.clone(),
            status: Status::Creating,
            pid: 0,
            pid_start: 0,
            pid_handle: None,
            boot_id: None,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: crate::time::now_rfc3339(),
            owner: String::new(),
            annotations: spec.annotations().clone().unwrap_or_default(),
        },
        cgroup: cg.clone(),
        poststart: hooks_of(spec, |h| h.poststart().clone()),
        poststop: hooks_of(spec, |h| h.poststop().clone()),
        netdev: netdev.clone(),
    };
    // Recorded before made: a crash from here on leaves what `delete --force` needs.
    locked.save(&st)?;
    locked.save_exec(&state::ExecSpec {
        process: spec.process().clone(),
        namespaces: linux
            .namespaces()
            .iter()
            .flatten()
            .map(|n| namespaces::proc_name(n.typ()).to_string())
            .collect(),
        seccomp: linux.seccomp().clone(),
    })?;
    undo.cgroup = Some(cg.clone());
    cgroups::create(&cg)?;
    crate::cgroup_resources::apply(&cg, &limits)?;
    crate::cgroup_devices::apply(&cg, &device_rules)?;

    let fifo_path = locked.dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx(|| format!("mkfifo {}", fifo_path.display()))?;
    // The init opens it as the container's root: 0622 whatever the umask, owned by the
    // host uid and gid that are root in the container (runc does the same).
    fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .ctx(|| format!("chmod {}", fifo_path.display()))?;
    let (uid, gid) = host_root_ids(linux);
    std::os::unix::fs::chown(&fifo_path, Some(uid), Some(gid))
        .ctx(|| format!("chown {}", fifo_path.display()))?;
    let fifo: OwnedFd = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(&fifo_path)
        .ctx(|| format!("open {}", fifo_path.display()))?
        .into();

    t.mark("state dir, cgroups, exec fifo");
    let idmapped = crate::idmap::prepare(spec, &bundle.dir)?;
    let (parent_end, child_end) = Channel::pair()?;
    let cgroup_join = cgroups::SelfJoin::open(&cg)?;
    let cgroup_v2 = cgroups::open_v2(&cg);
    let parent_is_root = nix::unistd::geteuid().is_root();
    if parent_is_root {
        // The init is born non-dumpable (see process::run_init); hull itself never
        // needs to be dumped.
        sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
    }
    let restore = ns.enter_for_clone(linux)?;
    let forked = cgroups::clone3_into(cgroup_v2.as_ref(), ns.clone_flags);
    if let Ok((Fork::Child, _)) = forked {
        drop(parent_end);
        // A descriptor of the host's cgroupfs: gone before the init goes anywhere a
        // path of the container's could take it (CVE-2024-21626).
        drop(cgroup_v2);
        process::init(InitArgs {
            spec,
            bundle: &bundle.dir,
            rootfs: &bundle.rootfs,
            id: &opts.id,
            channel: child_end,
            ns: &ns,
            fifo,
            console_socket: console,
            preserve_fds: opts.preserve_fds,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            cgroup_paths: &cg.paths,
            cgroup_join,
            idmapped: &idmapped,
            close_fds: vec![locked.lock_fd()],
            parent_is_root,
        });
    }
    let left = restore.leave();
    let (pid, pidfd, in_cgroup) =
        match forked.map_err(|e| Error::sys("clone3 the container init", e))? {
            (Fork::Parent { pid, pidfd }, in_cgroup) => (pid, pidfd, in_cgroup),
            (Fork::Child, _) => unreachable!("the child never returns from init"),
        };
    undo.child = Some((pid, pidfd.try_clone().ctx(|| "dup pidfd".into())?));
    left?;
    t.mark("clone3");
    drop(child_end);
    drop(cgroup_join);
    drop(fifo);
    drop(console);

    // The init may have failed already (joining its cgroups is its first step): then
    // what we do to its pid fails too, and the message it left says why.
    let init_error = |e: Error| parent_end.pending_error().map(Error::Init).unwrap_or(e);
    if ns.new_user {
        namespaces::write_id_maps(pid, linux).map_err(init_error)?;
    }
    if !in_cgroup {
        cgroups::join_v2(&cg, pid).map_err(init_error)?;
    }
    t.mark("id maps, cgroup v2 join");
    let process_spec = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config("process", "missing"))?;
    if let Some(adj) = process_spec.oom_score_adj() {
        fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
            .ctx(|| "write oom_score_adj".into())
            .map_err(init_error)?;
    }
    set_rlimits(pid, process_spec).map_err(init_error)?;
    undo.netdev = Some(netdev.clone());
    crate::netdev::move_in(&netdev, pid).map_err(init_error)?;
    st.summary.pid = pid;
    st.summary.pid_start = state::read_stat(pid).map(|(_, s)| s).unwrap_or(0);
    st.summary.pid_handle = sys::pidfd_handle(pidfd.as_fd());
    st.summary.boot_id = state::boot_id().map(str::to_string);
    parent_end.send(&Msg::Go).map_err(init_error)?;
    t.mark("rlimits, go");

    loop {
        match parent_end.recv()? {
            Some(Msg::MountsDone) => {
                let json = hook_state(&st, Status::Creating);
                if let Some(hooks) = spec.hooks() {
                    crate::hooks::run_all(
                        "prestart",
                        hooks.prestart().as_deref().unwrap_or_default(),
                        &json,
                    )?;
                    crate::hooks::run_all(
                        "createRuntime",
                        hooks.create_runtime().as_deref().unwrap_or_default(),
                        &json,
                    )?;
                }
                parent_end.send(&Msg::Hooks(json))?;
                t.mark(
                    "init: cgroup v1 join, mounts (in the init); prestart and createRuntime hooks",
                );
            }
            Some(Msg::Ready) => {
                t.mark("init: rootfs, pivot_root, identity (in the init)");
                break;
            }
            Some(Msg::Error(e)) => return Err(Error::Init(e)),
            Some(other) => {
                return Err(Error::Init(format!(
                    "unexpected message {other:?} from init"
                )))
            }
            None => return Err(Error::Init("container init exited during set-up".into())),
        }
    }
    st.summary.status = Status::Created;
    locked.save(&st)?;
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    t.mark("state.json");
    undo.disarm();
    Ok(Created { pid, pidfd })
}

use std::os::unix::fs::OpenOptionsExt;

fn hooks_of(
    spec: &oci_spec::runtime::Spec,
    f: impl Fn(&oci_spec::runtime::Hooks) -> Option<Vec<Hook>>,
) -> Vec<Hook> {
    spec.hooks().as_ref().and_then(f).unwrap_or_default()
}

/// The state JSON given to hooks on stdin (runtime-spec "State").
fn hook_state(st: &State, status: Status) -> String {
    let mut v = st.to_oci_json(status);
    v["pid"] = st.summary.pid.into();
    v.to_string()
}

/// Rlimits are set from the parent with prlimit: raising a hard limit needs
/// CAP_SYS_RESOURCE in the host's user namespace, which the init may not have.
pub(crate) fn set_rlimits(pid: i32, process: &oci_spec::runtime::Process) -> Result<()> {
    for (i, rl) in process.rlimits().iter().flatten().enumerate() {
        let name = serde_json::to_value(rl.typ())
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let resource = rlimit_number(&name).ok_or_else(|| {
            Error::config(
                format!("process.rlimits[{i}].type"),
                format!("unknown rlimit {name}"),
            )
        })?;
        sys::prlimit(pid, resource, rl.soft(), rl.hard()).ctx(|| format!("set {name}"))?;
    }
    Ok(())
}

fn rlimit_number(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// The host uid and gid that are root inside the container (themselves without a
/// user namespace).
fn host_root_ids(linux: &oci_spec::runtime::Linux) -> (u32, u32) {
    let map = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter()
            .flatten()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
            .unwrap_or(0)
    };
    (map(linux.uid_mappings()), map(linux.gid_mappings()))
}

/// Writes the pid file atomically, as runc does.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("hull-tmp");
    fs::write(&tmp, pid.to_string()).ctx(|| format!("write {}", tmp.display()))?;
    fs::rename(&tmp, path).ctx(|| format!("write pid file {}", path.display()))
}

/// `hull start`: releases the init from the exec fifo.
pub fn start(root: &Root, id: &str) -> Result<()> {
    let locked = root.lock(id)?;
    let mut st = locked.load()?;
    match st.status(&locked.dir) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::Status(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running => {
            return Err(Error::Status(
                "cannot start an already running container".into(),
            ))
        }
        other => {
            return Err(Error::Status(format!(
                "cannot start a container in the {other} state"
            )))
        }
    }
    // The init's own pidfd, never one of a process that took its pid since.
    let pidfd = st
        .summary
        .init_pidfd()
        .ctx(|| format!("pidfd of pid {}", st.summary.pid))?
        .ok_or_else(|| Error::Status("cannot start a container that has stopped".into()))?;
    let fifo_path = locked.dir.join(EXEC_FIFO);
    let fifo = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo_path)
        .ctx(|| format!("open {}", fifo_path.display()))?;
    // Wait for the init's byte; if the init dies instead, its pidfd becomes readable.
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll the exec fifo", std::io::Error::from(e))),
            Ok(_) => {}
        }
        let mut buf = [0u8; 1];
        match nix::unistd::read(fifo.as_fd(), &mut buf) {
            Ok(1) => break,
            Err(nix::errno::Errno::EAGAIN) | Ok(_) => {}
            Err(e) => return Err(Error::sys("read the exec fifo", std::io::Error::from(e))),
        }
        if fds[1]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
        {
            return Err(Error::Status("container init exited before start".into()));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    fs::remove_file(&fifo_path).ctx(|| format!("remove {}", fifo_path.display()))?;
    st.summary.status = Status::Running;
    locked.save(&st)?;
    // runtime-spec: a failing poststart hook is logged; the container keeps running.
    if !st.poststart.is_empty() {
        let json = hook_state(&st, Status::Running);
        if let Err(e) = crate::hooks::run_all("poststart", &st.poststart, &json) {
            crate::log::warn(&e.to_string());
        }
    }
    Ok(())
}

/// `hull state`: the state JSON of one container.
pub fn state(root: &Root, id: &str) -> Result<serde_json::Value> {
    let st = root.load(id)?;
    let status = st.status(&root.path().join(id));
    Ok(st.to_oci_json(status))
}

/// What `list` shows.
pub struct Listing {
    /// Each container's summary and live status, by id.
    pub containers: Vec<(state::Summary, Status)>,
    /// The containers whose state could not be read.
    pub unreadable: Vec<Error>,
}

/// `hull list`: every container's state.
///
/// Unlike `state`, `list` believes hull's own record of `pause` and `resume`: it reads
/// the freezer only of the containers hull paused (to see one thawed behind its back),
/// so a container frozen by someone else shows as running here and as paused in
/// `state`. The freezer file is the dearest read of a container's status (5 µs, as much
/// as the state file), and `list` would pay it for every running container.
///
/// What each container costs is mostly the kernel's: a `stat` of its directory, its
/// state file read, and its init's pidfs handle opened (docs/performance.md). The
/// errors of containers whose state could not be read come back apart: the others are
/// listed all the same.
pub fn list(root: &Root) -> Result<Listing> {
    let state::Summaries {
        found: summaries,
        unreadable,
    } = root.load_summaries()?;
    // The inits of all containers are asked of the kernel together.
    let asked: Vec<&state::Summary> = summaries
        .iter()
        .map(|(s, _)| s)
        .filter(|s| s.needs_init())
        .collect();
    let mut live = state::inits_alive(&asked).into_iter();
    let mut owners = Owners::default();
    let mut out = Vec::with_capacity(summaries.len());
    for (mut s, uid) in summaries {
        let frozen = || {
            s.status == Status::Paused
                && root
                    .load(&s.id)
                    .is_ok_and(|st| cgroups::is_frozen(&st.cgroup))
        };
        let alive = || live.next().unwrap_or(false);
        let status = s.status_given(alive, &root.path().join(&s.id), frozen);
        // runc's list names the owner of the state directory.
        s.owner = owners.name(uid);
        out.push((s, status));
    }
    Ok(Listing {
        containers: out,
        unreadable,
    })
}

/// User names of state directory owners: /etc/passwd read once per `list`, each uid
/// looked up once.
#[derive(Default)]
struct Owners {
    names: HashMap<u32, String>,
}

impl Owners {
    /// The user name of `uid` (from /etc/passwd), or the number.
    fn name(&mut self, uid: u32) -> String {
        if self.names.is_empty() {
            let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
            for line in passwd.lines() {
                let mut f = line.split(':');
                if let (Some(name), Some(_), Some(Ok(id))) =
                    (f.next(), f.next(), f.next().map(str::parse::<u32>))
                {
                    self.names.entry(id).or_insert_with(|| name.to_string());
                }
            }
        }
        self.names
            .entry(uid)
            .or_insert_with(|| uid.to_string())
            .clone()
    }
}

/// `hull kill`: a signal to the init, or with `all` to every process in the cgroup.
///
/// As runc: `--all` signals whatever is in the container's cgroup, even once the init
/// has exited (processes of a shared pid namespace outlive it); a `SIGKILL` to a paused
/// container thaws it, since on cgroup v1 a frozen process dies only once thawed.
pub fn kill(root: &Root, id: &str, sig: i32, all: bool) -> Result<()> {
    let st = root.load(id)?;
    if all {
        return kill_all(&st, sig);
    }
    let status = st.status(&root.path().join(id));
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::Status("container not running".into()));
    }
    signal_init(&st, sig)?;
    if status == Status::Paused && sig == libc::SIGKILL {
        cgroups::set_frozen(&st.cgroup, false)?;
    }
    Ok(())
}

/// Signals the init through a pidfd that is surely its own.
fn signal_init(st: &State, sig: i32) -> Result<()> {
    let pidfd = st
        .summary
        .init_pidfd()
        .ctx(|| format!("pidfd of pid {}", st.summary.pid))?;
    let Some(pidfd) = pidfd else {
        return Ok(());
    };
    sys::pidfd_send_signal(pidfd.as_fd(), sig)
        .ctx(|| format!("signal {sig} to pid {}", st.summary.pid))
}

/// Signals every process of the container's cgroup, frozen meanwhile where a freezer
/// is (runc does the same), so that none forks a child the signal would miss. A
/// container that was paused stays so, unless the signal is `SIGKILL`.
fn kill_all(st: &State, sig: i32) -> Result<()> {
    let was_frozen = cgroups::is_frozen(&st.cgroup);
    let froze = !was_frozen && cgroups::set_frozen(&st.cgroup, true).is_ok();
    let sent = signal_members(&st.cgroup, sig);
    if froze || (was_frozen && sig == libc::SIGKILL) {
        cgroups::set_frozen(&st.cgroup, false)?;
    }
    sent
}

/// Sends `sig` to every process in the container's cgroup through pidfds: each listed
/// pid is opened, the list is read again, and only the pids still in it get the
/// signal. A pid that was freed and taken by a process outside the container in
/// between is thereby never signalled, and real-time signals go as they are.
fn signal_members(rec: &CgroupRecord, sig: i32) -> Result<()> {
    let opened: Vec<(i32, OwnedFd)> = cgroups::procs(rec)?
        .into_iter()
        .filter_map(|pid| sys::pidfd_open(pid).ok().map(|fd| (pid, fd)))
        .collect();
    let still: std::collections::HashSet<i32> = cgroups::procs(rec)?.into_iter().collect();
    for (pid, pidfd) in opened.iter().filter(|(pid, _)| still.contains(pid)) {
        match sys::pidfd_send_signal(pidfd.as_fd(), sig) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(Error::sys(format!("signal {sig} to pid {pid}"), e)),
        }
    }
    Ok(())
}

/// `hull delete`: removes a stopped container; `force` kills a running one first.
pub fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
    let locked = root.lock(id)?;
    let st = match locked.load() {
        Ok(st) => st,
        // A state directory without state (a create killed before its first write).
        Err(Error::NotFound(_)) if force => return locked.remove(),
        Err(e) => return Err(e),
    };
    let status = st.status(&locked.dir);
    match status {
        Status::Stopped | Status::Created => {}
        Status::Creating if force || !st.summary.init_alive() => {}
        _ if force => {}
        other => {
            return Err(Error::Status(format!(
                "cannot delete container {id} that is not stopped: {other}"
            )))
        }
    }
    destroy(locked, &st)
}

/// Kills whatever is left of the container, waits for it, removes its cgroups and
/// state, and runs the poststop hooks.
fn destroy(locked: Locked, st: &State) -> Result<()> {
    // Before the namespace can go: the devices go home under their own names.
    if let Err(e) = crate::netdev::move_out(&st.netdev) {
        crate::log::warn(&e.to_string());
    }
    // Without a pid namespace of its own, the container's other processes outlive its
    // init and must be killed one by one; with one, they die with the init, and
    // whatever else is in the cgroup (a cgroup the container joined) is not the
    // container's to kill (runc decides the same way). Asked only when processes are
    // left to decide for.
    let shared_pid_ns = || {
        locked
            .namespaces()
            .map_or(true, |ns| !ns.iter().any(|n| n == "pid"))
    };
    // A frozen process only dies once thawed: kill, then thaw.
    if cgroups::is_frozen(&st.cgroup) {
        if shared_pid_ns() {
            signal_members(&st.cgroup, libc::SIGKILL)?;
        } else {
            signal_init(st, libc::SIGKILL)?;
        }
        cgroups::set_frozen(&st.cgroup, false)?;
    }
    let init = st
        .summary
        .init_pidfd()
        .ctx(|| format!("pidfd of pid {}", st.summary.pid))?;
    if let Some(pidfd) = init {
        let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        wait_pidfd(&pidfd);
    }
    if !cgroups::procs(&st.cgroup)?.is_empty() && shared_pid_ns() {
        for _ in 0..100 {
            if cgroups::procs(&st.cgroup)?.is_empty() {
                break;
            }
            signal_members(&st.cgroup, libc::SIGKILL)?;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    cgroups::remove(&st.cgroup)?;
    let json = hook_state(st, Status::Stopped);
    if let Err(e) = crate::hooks::run_all("poststop", &st.poststop, &json) {
        crate::log::warn(&e.to_string());
    }
    locked.remove()
}

/// Blocks until the process behind `pidfd` has exited.
fn wait_pidfd(pidfd: &OwnedFd) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    while let Err(nix::errno::Errno::EINTR) = poll(&mut fds, PollTimeout::NONE) {}
}

/// Signals a foreground `run` forwards to the container (runc forwards all but these).
pub(crate) fn forwarded_signals() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
        Signal::SIGTRAP,
        Signal::SIGABRT,
    ] {
        set.remove(s);
    }
    set
}

/// `hull run`: create, start and, unless detached, wait and delete. Returns the
/// container's exit status (128+n when killed by signal n).
pub fn run(root: &Root, opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    let run_t = crate::log::Phases::new("run");
    let mut t = crate::log::Phases::new("create");
    let bundle = spec::load_bundle(&opts.bundle)?;
    t.mark("parse config.json");
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let (ours, console) = crate::terminal::console_ends(
        terminal && !detach && opts.console_socket.is_none(),
        opts.console_socket.as_deref(),
    )?;
    // Block the forwarded signals before the init exists; it unblocks its own.
    let sigs = forwarded_signals();
    sigs.thread_block().ctx(|| "block signals".into())?;
    let created = create_from(root, opts, &bundle, detach, console, t)?;
    let mut t = run_t;
    t.mark("create");
    let master = ours.map(|s| crate::sync::recv_fd(s.as_fd())).transpose()?;
    if let Err(e) = start(root, &opts.id) {
        let _ = delete(root, &opts.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    t.mark("start");
    let code = wait_forwarding(&created, &sigs, master.as_ref())?;
    t.mark("the container's process");
    if !keep {
        delete(root, &opts.id, true)?;
        t.mark("delete");
    }
    Ok(code)
}

/// Waits for the init, forwarding signals to it and, with a terminal, copying between
/// hull's stdio and the pty master.
pub(crate) fn wait_forwarding(c: &Created, sigs: &SigSet, master: Option<&OwnedFd>) -> Result<i32> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let sfd = SignalFd::with_flags(sigs, SfdFlags::SFD_CLOEXEC).ctx(|| "signalfd".into())?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = master.and_then(|_| crate::terminal::RawMode::enter(stdin.as_fd()));
    if let (Some(m), Some((rows, cols))) = (master, crate::terminal::get_size(stdin.as_fd())) {
        let _ = crate::terminal::set_size(m.as_fd(), rows, cols);
    }
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let pid = nix::unistd::Pid::from_raw(c.pid);
    loop {
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(c.pidfd.as_fd(), PollFlags::POLLIN),
        ];
        if let Some(m) = master {
            if master_open {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", std::io::Error::from(e))),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, exit_ready) = (ready(0), ready(1));
        let mut next = 2;
        let master_ready = master_open && {
            let r = ready(next);
            next += 1;
            r
        };
        let stdin_ready = stdin_open && master.is_some() && ready(next);
        drop(fds);
        if let Some(m) = master {
            if master_ready && !crate::terminal::pump(m.as_fd(), stdout.as_fd()) {
                master_open = false;
            }
            if stdin_ready && !crate::terminal::pump(stdin.as_fd(), m.as_fd()) {
                stdin_open = false;
            }
        }
        if sig_ready {
            if let Ok(Some(info)) = sfd.read_signal() {
                let signo = info.ssi_signo as i32;
                match signo {
                    libc::SIGCHLD => {}
                    libc::SIGWINCH => {
                        if let (Some(m), Some((rows, cols))) =
                            (master, crate::terminal::get_size(stdin.as_fd()))
                        {
                            let _ = crate::terminal::set_size(m.as_fd(), rows, cols);
                        }
                    }
                    libc::SIGURG => {}
                    _ => {
                        let _ = sys::pidfd_send_signal(c.pidfd.as_fd(), signo);
                    }
                }
            }
        }
        if exit_ready || sig_ready {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => {
                    drain(master, stdout.as_fd());
                    return Ok(code);
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    drain(master, stdout.as_fd());
                    return Ok(128 + sig as i32);
                }
                _ => {}
            }
        }
    }
}

/// Copies what the pty still holds after the process exited.
fn drain(master: Option<&OwnedFd>, out: std::os::fd::BorrowedFd<'_>) {
    if let Some(m) = master {
        let _ = nix::fcntl::fcntl(
            m,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while crate::terminal::pump(m.as_fd(), out) {}
    }
}

/// `hull ps`: the pids of every process in the container's cgroup.
pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>> {
    let st = root.load(id)?;
    cgroups::procs(&st.cgroup)
}

/// `hull pause`: freezes every process of a running container.
pub fn pause(root: &Root, id: &str) -> Result<()> {
    let locked = root.lock(id)?;
    let mut st = locked.load()?;
    match st.status(&locked.dir) {
        Status::Running | Status::Created => {}
        Status::Paused => return Err(Error::Status(format!("container {id} is already paused"))),
        other => {
            return Err(Error::Status(format!(
                "container {id} is not running: {other}"
            )))
        }
    }
    cgroups::set_frozen(&st.cgroup, true)?;
    st.summary.status = Status::Paused;
    locked.save(&st)
}

/// `hull resume`: thaws a paused container.
pub fn resume(root: &Root, id: &str) -> Result<()> {
    let locked = root.lock(id)?;
    let mut st = locked.load()?;
    if st.status(&locked.dir) != Status::Paused {
        return Err(Error::Status(format!("container {id} is not paused")));
    }
    cgroups::set_frozen(&st.cgroup, false)?;
    st.summary.status = if locked.dir.join(EXEC_FIFO).exists() {
        Status::Created
    } else {
        Status::Running
    };
    locked.save(&st)
}

/// `hull update`: new resource limits for a container, all applied or none.
pub fn update(root: &Root, id: &str, res: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let locked = root.lock(id)?;
    let st = locked.load()?;
    if st.status(&locked.dir) == Status::Stopped {
        return Err(Error::Status(format!("container {id} is stopped")));
    }
    // Errors name the field in the resources document, not in config.json.
    let in_update = |e: Error| match e {
        Error::Config { path, msg, .. } => Error::Config {
            file: "resources".into(),
            path: path.trim_start_matches("linux.resources.").to_string(),
            msg,
        },
        other => other,
    };
    let res = &crate::cgroup_resources::with_current_v2(res, &st.cgroup);
    let writes = crate::cgroup_resources::writes(res, st.cgroup.unified).map_err(in_update)?;
    crate::cgroup_resources::check_available(&st.cgroup, &writes).map_err(in_update)?;
    if let Some(m) = res.memory() {
        if let (Some(true), Some(limit)) = (m.check_before_update(), m.limit()) {
            let usage = crate::cgroup_stats::stats(&st.cgroup)["memory"]["usage"]["usage"]
                .as_i64()
                .unwrap_or(0);
            if limit > 0 && limit < usage {
                return Err(Error::config(
                    "linux.resources.memory.limit",
                    format!("{limit} is below the current usage {usage} (checkBeforeUpdate)"),
                ));
            }
        }
    }
    crate::cgroup_resources::apply(&st.cgroup, &writes).map_err(in_update)
}

/// One `events` record: `{"type": "stats", "id": .., "data": ..}` as runc prints it.
pub fn stats(root: &Root, id: &str) -> Result<serde_json::Value> {
    let st = root.load(id)?;
    if st.status(&root.path().join(id)) == Status::Stopped {
        return Err(Error::Status(format!("container {id} is not running")));
    }
    Ok(
        serde_json::json!({"type": "stats", "id": id, "data": crate::cgroup_stats::stats(&st.cgroup)}),
    )
}

/// `hull events`: calls `emit` with a stats record every `interval` and an `oom`
/// record whenever the kernel OOM-kills a process of the container, until it stops.
pub fn events(
    root: &Root,
    id: &str,
    interval: std::time::Duration,
    mut emit: impl FnMut(&serde_json::Value),
) -> Result<()> {
    let st = root.load(id)?;
    let dir = root.path().join(id);
    let mut ooms = crate::cgroup_stats::oom_kills(&st.cgroup);
    let tick = std::time::Duration::from_millis(100).min(interval);
    let mut next = std::time::Instant::now();
    loop {
        if st.status(&dir) == Status::Stopped || !dir.exists() {
            return Ok(());
        }
        let now_ooms = crate::cgroup_stats::oom_kills(&st.cgroup);
        if now_ooms > ooms {
            ooms = now_ooms;
            emit(&serde_json::json!({"type": "oom", "id": id}));
        }
        if std::time::Instant::now() >= next {
            emit(
                &serde_json::json!({"type": "stats", "id": id, "data": crate::cgroup_stats::stats(&st.cgroup)}),
            );
            next += interval;
        }
        std::thread::sleep(tick);
    }
}
