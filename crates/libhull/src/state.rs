//! The state store: `<root>/<id>/state.json`, one directory per container, written
//! atomically (temp file + rename) under a per-container `flock`.
//!
//! Owns: container ids, the state file format, the lock, listing, and deciding a
//! container's status from what the kernel shows. Must never: signal or reap processes.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Hook;
use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupRecord;
use crate::error::{Context, Error, Result};

/// The file `create` leaves for `start` to open: the init blocks writing to it.
pub const EXEC_FIFO: &str = "exec.fifo";
const STATE_FILE: &str = "state.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// The name the runtime spec gives the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `exec` needs of the container's config, kept apart from [`State`] in
/// `exec.json` so that `state` and `list` read small files.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecSpec {
    /// The container's process, the base of what `exec` runs.
    pub process: Option<oci_spec::runtime::Process>,
    /// The namespaces of the container (names under /proc/<pid>/ns) that `exec` joins.
    pub namespaces: Vec<String>,
    /// The container's seccomp profile, which `exec`'s processes get too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

const EXEC_FILE: &str = "exec.json";

/// What hull keeps of a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(flatten)]
    pub summary: Summary,
    /// The cgroups hull made or joined for this container.
    pub cgroup: CgroupRecord,
    /// Hooks `start` runs once the process runs (kept here: start reads no config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<Hook>,
    /// Hooks `delete` runs after the container is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<Hook>,
    /// Host network interfaces moved into the container, to move back at delete.
    #[serde(default, skip_serializing_if = "is_default")]
    pub netdev: crate::netdev::Moved,
}

/// The part of a container's state that `list` prints and needs for the live status:
/// `list` reads only this of each `state.json` and skips the rest (the cgroup paths
/// and hooks are most of the file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub id: String,
    /// The status stored at the last transition; [`State::status`] decides the live one.
    pub status: Status,
    /// The init's pid in hull's pid namespace; 0 before it exists.
    pub pid: i32,
    /// The init's start time (field 22 of `/proc/<pid>/stat`), so a recycled pid is
    /// never taken for the container.
    pub pid_start: u64,
    /// The init's pidfs file handle ([`crate::sys::pidfd_handle`]), where the kernel has
    /// them: the same question answered with one cheap call, and a pidfd that cannot
    /// belong to anyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_handle: Option<String>,
    /// The boot the init was started in (`/proc/sys/kernel/random/boot_id`): pidfs
    /// handles, pids and start times all begin again at every boot, so a state left
    /// from an earlier boot (a `--root` on disk) names nothing that runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

fn is_default(m: &crate::netdev::Moved) -> bool {
    *m == crate::netdev::Moved::default()
}

impl State {
    /// The live status: what the stored one means given what the kernel shows now.
    pub fn status(&self, dir: &Path) -> Status {
        // Frozen by `hull pause` or by anyone else: runc reads the freezer too.
        self.summary
            .status_with(dir, || crate::cgroups::is_frozen(&self.cgroup))
    }

    /// The runtime-spec state, with runc's extra fields, as `hull state` prints it.
    pub fn to_oci_json(&self, status: Status) -> serde_json::Value {
        self.summary.to_oci_json(status)
    }
}

impl Summary {
    /// The live status, given whether the container's cgroup is frozen (asked only of
    /// a container whose init still runs).
    pub fn status_with(&self, dir: &Path, frozen: impl FnOnce() -> bool) -> Status {
        self.status_given(|| self.init_alive(), dir, frozen)
    }

    /// Whether the status depends on the init being alive: `creating` and `stopped`
    /// are what they say whatever runs.
    pub fn needs_init(&self) -> bool {
        !matches!(self.status, Status::Creating | Status::Stopped)
    }

    /// [`Summary::status_with`], with the init's liveness asked of `alive` (only when
    /// [`Summary::needs_init`]).
    pub fn status_given(
        &self,
        alive: impl FnOnce() -> bool,
        dir: &Path,
        frozen: impl FnOnce() -> bool,
    ) -> Status {
        if !self.needs_init() {
            return self.status;
        }
        if !alive() {
            return Status::Stopped;
        }
        if frozen() {
            return Status::Paused;
        }
        // `start` removes the fifo before it records `running`: once running, there
        // is nothing to look at.
        if self.status != Status::Running && dir.join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The runtime-spec state, with runc's extra fields.
    pub fn to_oci_json(&self, status: Status) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": crate::spec::OCI_VERSION,
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.to_string(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }

    /// Whether the container's init still runs (a zombie does not).
    pub fn init_alive(&self) -> bool {
        match self.by_handle() {
            ByHandle::Opened(fd) => !crate::sys::pidfd_exited(fd.as_fd()),
            ByHandle::Gone => false,
            ByHandle::Unknown => process_alive(self.pid, self.pid_start),
        }
    }

    /// A pidfd of the container's init while it runs (`None` once it has exited):
    /// through its pidfs handle, or opened by pid and then checked against the start
    /// time, so that it is never a descriptor of another process that got the pid
    /// later.
    pub fn init_pidfd(&self) -> std::io::Result<Option<OwnedFd>> {
        match self.by_handle() {
            ByHandle::Opened(fd) => Ok((!crate::sys::pidfd_exited(fd.as_fd())).then_some(fd)),
            ByHandle::Gone => Ok(None),
            ByHandle::Unknown => match crate::sys::pidfd_open(self.pid) {
                Ok(fd) if process_alive(self.pid, self.pid_start) => {
                    Ok((!crate::sys::pidfd_exited(fd.as_fd())).then_some(fd))
                }
                Ok(_) => Ok(None),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// The init's pidfd, opened through its pidfs handle.
    fn by_handle(&self) -> ByHandle {
        if self.pid <= 0 || self.started_in_another_boot() {
            return ByHandle::Gone;
        }
        match self
            .pid_handle
            .as_deref()
            .map(crate::sys::pidfd_from_handle)
        {
            Some(Ok(fd)) => ByHandle::Opened(fd),
            Some(Err(e)) if e.raw_os_error() == Some(libc::ESTALE) => ByHandle::Gone,
            // No handle (an older kernel), or one this kernel cannot open.
            _ => ByHandle::Unknown,
        }
    }

    fn started_in_another_boot(&self) -> bool {
        matches!((self.boot_id.as_deref(), boot_id()), (Some(then), Some(now)) if then != now)
    }
}

/// Whether the init of each container still runs, as [`Summary::init_alive`] says, for
/// many containers at once (`list`): the pidfs handles are opened first, then one
/// `poll` over them tells which have exited. They go by batches (256 under the usual
/// limit of 1024 descriptors), so that a root with thousands of containers never runs
/// out of descriptors.
pub fn inits_alive(summaries: &[&Summary]) -> Vec<bool> {
    // A quarter of the soft descriptor limit, at most 256: a handle that could not be
    // opened for want of a descriptor would fall back to /proc, which would fail too,
    // and a running container would be listed as stopped.
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft);
    let batch_len = (soft / 4).clamp(1, 256) as usize;
    let mut alive = Vec::with_capacity(summaries.len());
    for batch in summaries.chunks(batch_len) {
        let opened: Vec<ByHandle> = batch.iter().map(|s| s.by_handle()).collect();
        let fds: Vec<_> = opened
            .iter()
            .filter_map(|o| match o {
                ByHandle::Opened(fd) => Some(fd.as_fd()),
                _ => None,
            })
            .collect();
        let mut exited = crate::sys::pidfds_exited(&fds).into_iter();
        alive.extend(opened.iter().zip(batch).map(|(o, s)| match o {
            ByHandle::Opened(_) => !exited.next().unwrap_or(true),
            ByHandle::Gone => false,
            ByHandle::Unknown => process_alive(s.pid, s.pid_start),
        }));
    }
    alive
}

/// What the init's pidfs handle gives.
enum ByHandle {
    /// A pidfd of the init, which may have exited (a zombie) since.
    Opened(OwnedFd),
    /// The init has been reaped, was never started, or belongs to another boot.
    Gone,
    /// No handle to open: the pid and its start time must say.
    Unknown,
}

/// This boot's id, read once per process.
pub fn boot_id() -> Option<&'static str> {
    static ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let raw = crate::sys::read_small(Path::new("/proc/sys/kernel/random/boot_id")).ok()?;
        String::from_utf8(raw).ok().map(|s| s.trim().to_string())
    })
    .as_deref()
}

/// The init is alive when its pid exists, is not a zombie, and started when ours did.
pub fn process_alive(pid: i32, start: u64) -> bool {
    match read_stat(pid) {
        Some((state, started)) => state != 'Z' && state != 'X' && started == start,
        None => false,
    }
}

/// State letter and start time of a process, from `/proc/<pid>/stat`.
pub fn read_stat(pid: i32) -> Option<(char, u64)> {
    let raw = crate::sys::read_small(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    let text = String::from_utf8(raw).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // rest starts at field 3; start time is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

/// Checks a container id as runc does: not empty, not `.` or `..`, only
/// letters, digits and `_ + - .`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("invalid container id {id:?}")))
    }
}

/// The directory holding every container's state (`--root`).
pub struct Root {
    dir: PathBuf,
}

/// What [`Root::load_summaries`] finds under the root.
#[derive(Debug, Default)]
pub struct Summaries {
    /// Each container's summary and the uid owning its state directory, by id.
    pub found: Vec<(Summary, u32)>,
    /// The containers whose state could not be read.
    pub unreadable: Vec<Error>,
}

/// A container's state directory, held under an exclusive `flock` until dropped.
pub struct Locked {
    pub id: String,
    pub dir: PathBuf,
    _lock: OwnedFd,
    /// The directory's inode and owner, which its records in the list index name.
    ino: u64,
    uid: u32,
}

impl Root {
    pub fn new(dir: &Path) -> Root {
        Root {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Makes `<root>/<id>` for a new container and locks it; fails if it exists.
    pub fn create(&self, id: &str) -> Result<Locked> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .ctx(|| format!("create state root {}", self.dir.display()))?;
        let dir = self.dir.join(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.into()))
            }
            Err(e) => return Err(Error::sys(format!("create {}", dir.display()), e)),
        }
        let locked = lock_dir(id, dir)?;
        // The new directory's first record, before anything else can be read of it: a
        // record of an older directory of this name that did not go through `remove`
        // (removed by hand) may name the very inode the new one was given. Without it
        // the directory is not a container yet, and has no record to undo.
        match locked.record(None) {
            Ok(index) => {
                index.finish();
                Ok(locked)
            }
            Err(e) => {
                let _ = fs::remove_dir(&locked.dir);
                Err(e)
            }
        }
    }

    /// Locks the state directory of an existing container.
    pub fn lock(&self, id: &str) -> Result<Locked> {
        validate_id(id)?;
        lock_dir(id, self.dir.join(id))
    }

    /// Reads a container's state without taking its lock (for `state` and `list`: the
    /// rename in [`Locked::save`] makes every read see a whole file).
    pub fn load(&self, id: &str) -> Result<State> {
        validate_id(id)?;
        load(&self.dir.join(id), id)
    }

    /// The [`Summary`] of every container's state and the uid owning its state
    /// directory (which runc's `list` names), sorted by id. The root is opened once; the
    /// summaries come from the list index ([`crate::index`]) where it has a record of
    /// the very directory the root shows, and from each container's own state file
    /// otherwise. A container being created or deleted right now is skipped; one whose
    /// state cannot be read is in [`Summaries::unreadable`], and the others are still
    /// listed (runc warns and goes on).
    pub fn load_summaries(&self) -> Result<Summaries> {
        let dir = match fs::File::open(&self.dir) {
            Ok(d) => OwnedFd::from(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Summaries::default()),
            Err(e) => return Err(Error::sys(format!("read {}", self.dir.display()), e)),
        };
        let entries = container_dirs(dir.as_fd()).ctx(|| format!("read {}", self.dir.display()))?;
        let text = crate::index::read(dir.as_fd());
        let index = crate::index::latest(dir.as_fd(), &text);
        let mut out = Summaries::default();
        for DirEntry { id, ino, is_dir } in entries {
            // A summary the index holds but that does not parse is read from the file.
            let indexed = index
                .get(id.as_str())
                .filter(|e| is_dir && e.dir == ino)
                .and_then(|e| Some((serde_json::from_slice(e.summary?).ok()?, e.uid)));
            let found = match indexed {
                Some(found) => Ok(found),
                None => match read_summary(dir.as_fd(), &self.dir, &id) {
                    Some(read) => read,
                    None => continue,
                },
            };
            match found {
                // The directory names the container, as in runc, whatever the record
                // says: `list` reaches the fifo and the full state by this name.
                Ok((summary, uid)) => out.found.push((Summary { id, ..summary }, uid)),
                Err(e) => out.unreadable.push(e),
            }
        }
        Ok(out)
    }
}

/// A name in the state root that may be a container's directory.
pub(crate) struct DirEntry {
    pub id: String,
    /// The inode number the directory entry gives.
    pub ino: u64,
    /// Whether the entry says it is a directory (some file systems do not say).
    pub is_dir: bool,
}

/// The entries of the root open as `root` that may be containers, sorted by id: valid
/// ids that are directories or do not say what they are. A symlink is never one.
pub(crate) fn container_dirs(root: BorrowedFd<'_>) -> std::io::Result<Vec<DirEntry>> {
    use nix::fcntl::OFlag;
    let mut dir = nix::dir::Dir::openat(
        root,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let mut entries: Vec<DirEntry> = dir
        .iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let is_dir = match e.file_type() {
                Some(nix::dir::Type::Directory) => true,
                None => false,
                Some(_) => return None,
            };
            let id = e.file_name().to_str().ok()?;
            validate_id(id).ok()?;
            Some(DirEntry {
                id: id.to_string(),
                ino: e.ino(),
                is_dir,
            })
        })
        .collect();
    entries.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Ok(entries)
}

/// The summary of container `id` read from its own state file under the root open as
/// `root` (at `root_path`, which errors name), with the uid owning its directory:
/// `None` when there is no such container (not a directory, or one being created or
/// deleted right now). Two path components down from the root's descriptor, no symlink
/// followed.
pub(crate) fn read_summary(
    root: BorrowedFd<'_>,
    root_path: &Path,
    id: &str,
) -> Option<Result<(Summary, u32)>> {
    use nix::fcntl::AtFlags;
    // Only a directory is a container (runc's list skips anything else).
    let uid = match nix::sys::stat::fstatat(root, id, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => st.st_uid,
        Ok(_) => return None,
        // Gone: a container being deleted now.
        Err(nix::errno::Errno::ENOENT) => return None,
        Err(e) => {
            let dir = root_path.join(id);
            return Some(Err(Error::sys(format!("stat {}", dir.display()), e)));
        }
    };
    let file = format!("{id}/{STATE_FILE}");
    let path = root_path.join(&file);
    let fd = match crate::sys::openat2(
        root,
        Path::new(&file),
        libc::O_RDONLY,
        0,
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH,
    ) {
        Ok(fd) => fd,
        // Not written yet, or gone: a container being created or deleted now.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return None,
        Err(e) => return Some(Err(Error::sys(format!("open {}", path.display()), e))),
    };
    let summary = crate::sys::read_small_file(&mut fs::File::from(fd))
        .map_err(|e| Error::sys(format!("read {}", path.display()), e))
        .and_then(|text| parse_json::<Summary>(&text, &path, "corrupt state"));
    Some(summary.map(|s| (s, uid)))
}

impl Root {
    /// Reads what `exec` needs of a container's config.
    pub fn load_exec(&self, id: &str) -> Result<ExecSpec> {
        validate_id(id)?;
        read_exec(&self.dir.join(id), id)
    }
}

/// `exec.json` of the container in `dir` (or the part of it that `T` holds).
fn read_exec<T: serde::de::DeserializeOwned>(dir: &Path, id: &str) -> Result<T> {
    read_json(dir, EXEC_FILE, id, "corrupt")
}

/// A small JSON file of the container in `dir`, read with one `read`: "does not exist"
/// when it is not there.
fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &str,
    id: &str,
    corrupt: &str,
) -> Result<T> {
    let path = dir.join(file);
    let text = match crate::sys::read_small(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound(id.into()))
        }
        Err(e) => return Err(Error::sys(format!("read {}", path.display()), e)),
    };
    parse_json(&text, &path, corrupt)
}

/// `text`, the contents of `path`, parsed; a failure names the file.
fn parse_json<T: serde::de::DeserializeOwned>(
    text: &[u8],
    path: &Path,
    corrupt: &str,
) -> Result<T> {
    serde_json::from_slice(text)
        .map_err(|e| Error::Status(format!("{}: {corrupt}: {e}", path.display())))
}

fn lock_dir(id: &str, dir: PathBuf) -> Result<Locked> {
    let fd: OwnedFd = match fs::File::open(&dir) {
        Ok(f) => f.into(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound(id.into()))
        }
        Err(e) => return Err(Error::sys(format!("open {}", dir.display()), e)),
    };
    crate::sys::flock_exclusive(fd.as_fd()).ctx(|| format!("lock {}", dir.display()))?;
    // While this waited, the holder may have removed the directory and another command
    // made a new one by the same name: the lock is only worth something on the
    // directory that the path names now.
    let held = nix::sys::stat::fstat(&fd).ctx(|| format!("stat {}", dir.display()))?;
    match nix::sys::stat::lstat(&dir) {
        Ok(now) if now.st_dev == held.st_dev && now.st_ino == held.st_ino => {}
        Ok(_) | Err(nix::errno::Errno::ENOENT) => return Err(Error::NotFound(id.into())),
        Err(e) => return Err(Error::sys(format!("stat {}", dir.display()), e)),
    }
    Ok(Locked {
        id: id.into(),
        dir,
        _lock: fd,
        ino: held.st_ino,
        uid: held.st_uid,
    })
}

fn load(dir: &Path, id: &str) -> Result<State> {
    read_state(dir, id)
}

/// The state (or the part of it that `T` holds) of the container in `dir`.
fn read_state<T: serde::de::DeserializeOwned>(dir: &Path, id: &str) -> Result<T> {
    read_json(dir, STATE_FILE, id, "corrupt state")
}

impl Locked {
    /// The lock's descriptor number: the container's init, a copy of the creating
    /// process, must close it or the lock would live as long as the container.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self._lock.as_raw_fd()
    }

    pub fn load(&self) -> Result<State> {
        load(&self.dir, &self.id)
    }

    /// The namespaces the container's config lists (`proc_name`s), from `exec.json`;
    /// the process and seccomp profile beside them are skipped unparsed.
    pub fn namespaces(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Only {
            namespaces: Vec<String>,
        }
        read_exec::<Only>(&self.dir, &self.id).map(|o| o.namespaces)
    }

    /// Appends this directory's record to the list index of its root: its summary, or
    /// `None` for a directory without a state (new, or going). The save or removal it
    /// records is to be done before the returned writer is finished.
    fn record(&self, summary: Option<&Summary>) -> Result<crate::index::Writer> {
        let root = self.dir.parent().unwrap_or(Path::new("/"));
        let mut index = crate::index::Writer::begin(root)?;
        index.append(&self.id, self.ino, self.uid, summary)?;
        Ok(index)
    }

    /// Writes the state atomically: a reader sees the old file or the new one. Its
    /// summary goes to the list index first ([`crate::index`] says why in that order).
    pub fn save(&self, state: &State) -> Result<()> {
        let tmp = self.dir.join(".state.json.tmp");
        let path = self.dir.join(STATE_FILE);
        let data = serde_json::to_vec(state).map_err(|e| Error::Status(e.to_string()))?;
        let index = self.record(Some(&state.summary))?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .ctx(|| format!("write {}", tmp.display()))?;
        f.write_all(&data)
            .ctx(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, &path).ctx(|| format!("rename to {}", path.display()))?;
        index.finish();
        Ok(())
    }

    /// Writes `exec.json` (once, at create).
    pub fn save_exec(&self, spec: &ExecSpec) -> Result<()> {
        let path = self.dir.join(EXEC_FILE);
        let data = serde_json::to_vec(spec).map_err(|e| Error::Status(e.to_string()))?;
        fs::write(&path, data).ctx(|| format!("write {}", path.display()))
    }

    /// Removes the state directory (the lock goes with it when `self` drops), once the
    /// list index can no longer vouch for it: it has recorded that the directory goes,
    /// or it has been removed. Otherwise the directory stays, true to its last record,
    /// and the error is returned.
    pub fn remove(self) -> Result<()> {
        let index = self.record(None)?;
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::sys(format!("remove {}", self.dir.display()), e)),
        }
        index.finish();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_like_runc() {
        for good in ["a", "abc-1", "x_y.z+1", "A9"] {
            validate_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_own_stat() {
        let pid = std::process::id() as i32;
        let (state, start) = read_stat(pid).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(process_alive(pid, start));
        assert!(!process_alive(pid, start + 1));
    }

    /// A pidfs handle names one process: it opens while the process runs, says
    /// "exited" for a zombie, and fails once it is reaped (kernels with pidfs handles).
    #[test]
    fn pidfs_handle_names_one_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let pidfd = crate::sys::pidfd_open(pid).unwrap();
        let Some(handle) = crate::sys::pidfd_handle(pidfd.as_fd()) else {
            eprintln!("no pidfs file handles on this kernel: skipped");
            child.kill().unwrap();
            child.wait().unwrap();
            return;
        };
        let mut s = Summary {
            id: "c".into(),
            status: Status::Running,
            pid,
            // A wrong start time: the handle alone must decide.
            pid_start: 1,
            pid_handle: Some(handle),
            boot_id: boot_id().map(str::to_string),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            owner: String::new(),
            annotations: HashMap::new(),
        };
        assert!(s.init_alive());
        assert!(s.init_pidfd().unwrap().is_some());
        // pidfs handles begin again at every boot: a state from another boot names
        // nothing that runs now.
        let this_boot = s.boot_id.replace("another boot".into());
        assert!(!s.init_alive());
        assert!(s.init_pidfd().unwrap().is_none());
        s.boot_id = this_boot;
        child.kill().unwrap();
        let wait_exit = || {
            while !crate::sys::pidfd_exited(pidfd.as_fd()) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        wait_exit();
        assert!(!s.init_alive(), "a zombie is not alive");
        assert!(s.init_pidfd().unwrap().is_none());
        child.wait().unwrap();
        assert!(!s.init_alive(), "a reaped process is not alive");
        let e = crate::sys::pidfd_from_handle(s.pid_handle.as_deref().unwrap()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ESTALE));
        s.pid_handle = Some("not a handle".into());
        assert!(!s.init_alive(), "a bad handle falls back to the start time");
    }

    /// [`inits_alive`] answers as [`Summary::init_alive`] does, for more summaries than
    /// one batch holds: a live init, a zombie, one never started.
    #[test]
    fn inits_alive_asks_many_at_once() {
        let spawn = || {
            let child = std::process::Command::new("sleep")
                .arg("100")
                .spawn()
                .unwrap();
            let pidfd = crate::sys::pidfd_open(child.id() as i32).unwrap();
            (child, pidfd)
        };
        let (mut live, live_fd) = spawn();
        let (mut dead, dead_fd) = spawn();
        let summary = |pid: u32, fd: &OwnedFd| Summary {
            id: "c".into(),
            status: Status::Running,
            pid: pid as i32,
            pid_start: read_stat(pid as i32).map_or(0, |(_, start)| start),
            pid_handle: crate::sys::pidfd_handle(fd.as_fd()),
            boot_id: boot_id().map(str::to_string),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            owner: String::new(),
            annotations: HashMap::new(),
        };
        let (a, b) = (summary(live.id(), &live_fd), summary(dead.id(), &dead_fd));
        let never = Summary {
            pid: 0,
            ..a.clone()
        };
        dead.kill().unwrap();
        while !crate::sys::pidfd_exited(dead_fd.as_fd()) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let many: Vec<&Summary> = (0..300).flat_map(|_| [&a, &b, &never]).collect();
        let alive = inits_alive(&many);
        assert_eq!(alive.len(), many.len());
        for (s, alive) in many.iter().zip(&alive) {
            assert_eq!(*alive, s.init_alive(), "pid {}", s.pid);
        }
        assert!(alive[0] && !alive[1] && !alive[2], "{:?}", &alive[..3]);
        live.kill().unwrap();
        live.wait().unwrap();
        dead.wait().unwrap();
    }

    /// A command waiting for the lock of a container that is removed meanwhile, and
    /// made again under the same name, gets "does not exist", not the new one's lock.
    #[test]
    fn a_lock_on_a_removed_directory_is_not_the_lock_of_its_successor() {
        let (dir, root) = unit_root("relock");
        let first = root.create("c").unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| root.lock("c"));
            std::thread::sleep(std::time::Duration::from_millis(100));
            first.remove().unwrap();
            let _second = root.create("c").unwrap();
            let got = waiter.join().unwrap();
            assert!(matches!(got, Err(Error::NotFound(_))), "{:?}", got.err());
        });
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A state root of this test process's own: `<tmp>/hull-unit-<name>-<pid>`.
    fn unit_root(name: &str) -> (PathBuf, Root) {
        let dir = std::env::temp_dir().join(format!("hull-unit-{name}-{}", std::process::id()));
        let root = Root::new(&dir);
        (dir, root)
    }

    fn test_state(id: &str, status: Status, bundle: &str) -> State {
        State {
            summary: Summary {
                id: id.into(),
                status,
                pid: 0,
                pid_start: 0,
                pid_handle: None,
                boot_id: None,
                bundle: bundle.into(),
                rootfs: format!("{bundle}/rootfs").into(),
                created: crate::time::now_rfc3339(),
                owner: String::new(),
                annotations: HashMap::new(),
            },
            cgroup: CgroupRecord::default(),
            poststart: Vec::new(),
            poststop: Vec::new(),
            netdev: Default::default(),
        }
    }

    fn listed(root: &Root) -> Vec<(String, Status, String)> {
        let Summaries { found, unreadable } = root.load_summaries().unwrap();
        assert!(unreadable.is_empty(), "{unreadable:?}");
        found
            .into_iter()
            .map(|(s, _)| (s.id, s.status, s.bundle.display().to_string()))
            .collect()
    }

    fn entry(id: &str, status: Status, bundle: &str) -> (String, Status, String) {
        (id.into(), status, bundle.into())
    }

    /// `list` reads the index where it has a record of the very directory the root
    /// shows, and the state file where it has none or cannot be believed.
    #[test]
    fn list_believes_the_index_only_for_the_directory_it_records() {
        let (dir, root) = unit_root("index");
        let index = dir.join(crate::index::INDEX);
        let a = root.create("a").unwrap();
        assert!(index.exists(), "the first create builds the index");
        // Made but never saved: not a container yet.
        assert_eq!(listed(&root), []);
        a.save(&test_state("a", Status::Created, "/a1")).unwrap();
        a.save(&test_state("a", Status::Running, "/a1")).unwrap();
        let b = root.create("b").unwrap();
        b.save(&test_state("b", Status::Created, "/b1")).unwrap();
        let both = [
            entry("a", Status::Running, "/a1"),
            entry("b", Status::Created, "/b1"),
        ];
        assert_eq!(listed(&root), both);
        // The index, not the file, is what is read for a recorded directory (a save
        // writes the index first, so it is never behind the file).
        let file = dir.join("a").join(STATE_FILE);
        let saved = fs::read(&file).unwrap();
        fs::write(&file, b"{").unwrap();
        assert_eq!(listed(&root), both);
        fs::write(&file, saved).unwrap();
        // Deleted, and made again by the same name: the old record never speaks for it.
        b.remove().unwrap();
        let b = root.create("b").unwrap();
        assert_eq!(listed(&root), [entry("a", Status::Running, "/a1")]);
        b.save(&test_state("b", Status::Created, "/b2")).unwrap();
        let both = [
            entry("a", Status::Running, "/a1"),
            entry("b", Status::Created, "/b2"),
        ];
        assert_eq!(listed(&root), both);
        // Removed by hand, last record and all, then made again.
        drop(b);
        fs::remove_dir_all(dir.join("b")).unwrap();
        let b = root.create("b").unwrap();
        assert_eq!(listed(&root), [entry("a", Status::Running, "/a1")]);
        // A directory no index line names (made by an older hull): its file is read.
        fs::create_dir(dir.join("c")).unwrap();
        fs::write(
            dir.join("c").join(STATE_FILE),
            serde_json::to_vec(&test_state("c", Status::Stopped, "/c1")).unwrap(),
        )
        .unwrap();
        let three = [
            entry("a", Status::Running, "/a1"),
            entry("c", Status::Stopped, "/c1"),
        ];
        assert_eq!(listed(&root), three);
        // An index with a line that does not parse is not believed at all; one that is
        // gone neither. Both times the files are read, and the next save builds it anew.
        for spoil in [true, false] {
            if spoil {
                let mut text = fs::read(&index).unwrap();
                text.extend(b"{\"id\":\n");
                text.extend(b"{}\n");
                fs::write(&index, text).unwrap();
            } else {
                fs::remove_file(&index).unwrap();
            }
            assert_eq!(listed(&root), three);
            a.save(&test_state("a", Status::Paused, "/a1")).unwrap();
            let text = String::from_utf8(fs::read(&index).unwrap()).unwrap();
            assert!(text.contains("\"c\""), "{text}");
            a.save(&test_state("a", Status::Running, "/a1")).unwrap();
            assert_eq!(listed(&root), three);
        }
        drop((a, b));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Deleted containers leave lines; the index is built anew before it grows past
    /// twice its built size, so it stays about as big as the containers it records.
    #[test]
    fn the_index_is_rebuilt_as_it_grows() {
        let (dir, root) = unit_root("grow");
        let index = dir.join(crate::index::INDEX);
        let kept = root.create("kept").unwrap();
        kept.save(&test_state("kept", Status::Running, "/k"))
            .unwrap();
        let mut largest = 0;
        for i in 0..600 {
            let id = format!("c{}", i % 7);
            let c = root.create(&id).unwrap();
            c.save(&test_state(&id, Status::Created, "/x")).unwrap();
            c.remove().unwrap();
            largest = largest.max(fs::metadata(&index).unwrap().len());
        }
        // Each round adds some 400 bytes: it would be 240 kB by now.
        assert!(largest > 60_000 && largest < 66_000, "{largest}");
        assert_eq!(listed(&root), [entry("kept", Status::Running, "/k")]);
        drop(kept);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_is_atomic_and_create_refuses_duplicates() {
        let (dir, root) = unit_root("state");
        let locked = root.create("c1").unwrap();
        assert!(matches!(root.create("c1"), Err(Error::Exists(_))));
        let st = State {
            summary: Summary {
                id: "c1".into(),
                status: Status::Created,
                pid: 0,
                pid_start: 0,
                pid_handle: None,
                boot_id: None,
                bundle: "/b".into(),
                rootfs: "/b/rootfs".into(),
                created: crate::time::now_rfc3339(),
                owner: String::new(),
                annotations: HashMap::from([("a".into(), "b".into())]),
            },
            cgroup: CgroupRecord {
                paths: vec!["/sys/fs/cgroup/pids/x".into()],
                ..Default::default()
            },
            poststart: Vec::new(),
            poststop: Vec::new(),
            netdev: Default::default(),
        };
        locked.save(&st).unwrap();
        let back = root.load("c1").unwrap();
        assert_eq!(back.summary.id, "c1");
        assert_eq!(back.cgroup.paths, st.cgroup.paths);
        // `list` reads the summary alone from the same file.
        // A container still being made (no state file yet), a stray file and a
        // symlink to a container's directory are not listed.
        let _making = root.create("c0").unwrap();
        fs::write(dir.join("stray"), "").unwrap();
        std::os::unix::fs::symlink(dir.join("c1"), dir.join("c1-link")).unwrap();
        // The directory names the container, whatever id its file holds.
        let renamed = root.create("c3").unwrap();
        renamed.save(&st).unwrap();
        // A state file that cannot be read is reported, and the rest still listed.
        let _broken = root.create("c2").unwrap();
        fs::write(dir.join("c2").join(STATE_FILE), "{").unwrap();
        let Summaries {
            found: all,
            unreadable,
        } = root.load_summaries().unwrap();
        let ids: Vec<&str> = all.iter().map(|(s, _)| s.id.as_str()).collect();
        assert_eq!(ids, ["c1", "c3"]);
        assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        assert!(
            unreadable[0]
                .to_string()
                .contains("c2/state.json: corrupt state"),
            "{}",
            unreadable[0]
        );
        let (summary, uid) = &all[0];
        assert_eq!(summary.annotations, st.summary.annotations);
        assert_eq!(summary.bundle, st.summary.bundle);
        assert_eq!(*uid, nix::unistd::geteuid().as_raw());
        locked.remove().unwrap();
        assert!(matches!(root.load("c1"), Err(Error::NotFound(_))));
        fs::remove_dir_all(&dir).unwrap();
    }
}
