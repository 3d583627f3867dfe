//! Cgroups: placing the container in its cgroup and removing what hull made.
//!
//! Owns: finding the host's hierarchies (v1, hybrid, or pure v2), turning `cgroupsPath`
//! into directories, making them, joining them, listing their processes, the freezer
//! state, and removing exactly the directories hull created. Resource limits are a
//! separate concern layered on [`CgroupRecord::paths`].
//! Must never: touch a cgroup directory hull did not create, or unmount a hierarchy.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The directories of one container's cgroup, recorded in its state before they are
/// made, so `delete --force` can remove them after a crash at any point.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CgroupRecord {
    /// The container's cgroup directory in every hierarchy it joins.
    pub paths: Vec<PathBuf>,
    /// The directories hull made, parents before children.
    pub created: Vec<PathBuf>,
    /// True on a pure cgroup v2 host.
    #[serde(default)]
    pub unified: bool,
}

/// The layout of the host's cgroup file systems.
#[derive(Debug, PartialEq)]
pub enum Layout {
    /// Pure cgroup v2 at /sys/fs/cgroup.
    Unified,
    /// cgroup v1 controllers (hybrid hosts also have a cgroup2 at .../unified).
    Legacy,
}

pub fn layout() -> Layout {
    match nix::sys::statfs::statfs(CGROUP_ROOT) {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Layout::Unified,
        _ => Layout::Legacy,
    }
}

/// One hierarchy: where it is mounted and hull's own cgroup in it.
#[derive(Debug, PartialEq)]
struct Hierarchy {
    mount: PathBuf,
    own: PathBuf,
}

/// Parses `/proc/self/cgroup` into hierarchies, given the host layout.
fn hierarchies(proc_cgroup: &str, layout: &Layout) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let own = PathBuf::from(path);
        match (layout, id) {
            (Layout::Unified, "0") => out.push(Hierarchy {
                mount: CGROUP_ROOT.into(),
                own,
            }),
            (Layout::Unified, _) => {}
            (Layout::Legacy, "0") => {
                let mount = Path::new(CGROUP_ROOT).join("unified");
                if is_cgroup2(&mount) {
                    out.push(Hierarchy { mount, own });
                }
            }
            (Layout::Legacy, _) => {
                let name = controllers.strip_prefix("name=").unwrap_or(controllers);
                if name.is_empty() {
                    continue;
                }
                out.push(Hierarchy {
                    mount: Path::new(CGROUP_ROOT).join(name),
                    own,
                });
            }
        }
    }
    out
}

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The cgroup path of a container: `cgroupsPath` or hull's default `/hull/<id>`.
/// A relative path is relative to hull's own cgroup, as runc's cgroupfs driver does.
pub fn plan(cgroups_path: Option<&Path>, id: &str) -> Result<CgroupRecord> {
    let wanted = cgroups_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new("/hull").join(id));
    if wanted
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!("{} must not contain ..", wanted.display()),
        ));
    }
    let layout = layout();
    let own = fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())?;
    let mut rec = CgroupRecord {
        unified: layout == Layout::Unified,
        ..Default::default()
    };
    for h in hierarchies(&own, &layout) {
        if !h.mount.is_dir() {
            continue;
        }
        let inner = if wanted.is_absolute() {
            wanted.strip_prefix("/").unwrap_or(&wanted).to_path_buf()
        } else {
            h.own.strip_prefix("/").unwrap_or(&h.own).join(&wanted)
        };
        let dir = h.mount.join(&inner);
        // Record every missing directory on the way down, parents first.
        let mut missing = Vec::new();
        let mut p = dir.as_path();
        while p != h.mount && !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        rec.created.extend(missing.into_iter().rev());
        rec.paths.push(dir);
    }
    Ok(rec)
}

/// Without root, hull can use only cgroups delegated to the user. When a directory of
/// the plan cannot be made or joined, the container goes without cgroups (runc's
/// rootless mode does the same when no limit is asked for).
pub fn without_root_if_not_delegated(rec: CgroupRecord) -> CgroupRecord {
    if nix::unistd::geteuid().is_root() {
        return rec;
    }
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    let ok = rec.paths.iter().all(|dir| {
        let mut p = dir.as_path();
        while !p.exists() {
            match p.parent() {
                Some(parent) => p = parent,
                None => return false,
            }
        }
        if p == dir {
            // The file the container's processes join through.
            writable(&dir.join(if is_v2_path(&rec, dir) {
                "cgroup.procs"
            } else {
                "tasks"
            }))
        } else {
            writable(p)
        }
    });
    if ok {
        rec
    } else {
        crate::log::debug("no delegated cgroup for this user: the container has none");
        CgroupRecord {
            unified: rec.unified,
            ..Default::default()
        }
    }
}

/// Makes the directories the plan recorded as missing. On v2, each directory hull
/// makes above the container's own passes every controller it has down to its
/// children (`cgroup.subtree_control`), so the container's cgroup can be limited.
pub fn create(rec: &CgroupRecord) -> Result<()> {
    for dir in &rec.created {
        if rec.unified {
            if let Some(parent) = dir.parent().filter(|p| rec.created.iter().any(|c| c == p)) {
                enable_controllers(parent)?;
            }
        }
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::sys(format!("create cgroup {}", dir.display()), e)),
        }
        // A new v1 cpuset cgroup starts with no cpus and no memory nodes, and no process
        // can join it until they are copied down from the parent.
        if dir.starts_with(Path::new(CGROUP_ROOT).join("cpuset")) && !rec.unified {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if let Some(parent) = dir.parent() {
                    let value = fs::read_to_string(parent.join(file))
                        .ctx(|| format!("read {}", parent.join(file).display()))?;
                    write(&dir.join(file), value.trim())?;
                }
            }
        }
    }
    Ok(())
}

fn enable_controllers(dir: &Path) -> Result<()> {
    let available = fs::read_to_string(dir.join("cgroup.controllers"))
        .ctx(|| format!("read {}", dir.join("cgroup.controllers").display()))?;
    let enable: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if enable.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &enable.join(" "))
}

/// The container's cgroup2 directory, if it has one: the only one on a pure v2 host,
/// the one under `/sys/fs/cgroup/unified` on a hybrid host.
fn v2_dir(rec: &CgroupRecord) -> Option<&PathBuf> {
    rec.paths.iter().find(|p| is_v2_path(rec, p))
}

fn is_v2_path(rec: &CgroupRecord, dir: &Path) -> bool {
    rec.unified || dir.starts_with(Path::new(CGROUP_ROOT).join("unified"))
}

/// The container's cgroup2 directory for [`clone3_into`], opened before hull enters
/// any namespace the container joins: a joined mount namespace shows another
/// `/sys/fs/cgroup`. `None` where there is no cgroup2 directory.
pub fn open_v2(rec: &CgroupRecord) -> Option<std::io::Result<fs::File>> {
    v2_dir(rec).map(fs::File::open)
}

/// `clone3` straight into the container's cgroup2 directory (`CLONE_INTO_CGROUP`),
/// opened by [`open_v2`]: no window in which the child runs outside its limits, and no
/// write to `cgroup.procs` afterwards. Falls back to a plain `clone3` where the kernel
/// cannot; returns whether the child is in its cgroup2 directory (or has none), and if
/// not the parent moves it with [`join_v2`]. The v1 hierarchies the child joins itself,
/// with [`SelfJoin`].
pub fn clone3_into(
    dir: Option<&std::io::Result<fs::File>>,
    flags: u64,
) -> std::io::Result<(crate::sys::Fork, bool)> {
    use std::os::fd::AsFd;
    let dir = match dir {
        None => return crate::sys::clone3(flags, None).map(|f| (f, true)),
        // A directory that could not be opened: [`join_v2`] then says why.
        Some(Err(_)) => return crate::sys::clone3(flags, None).map(|f| (f, false)),
        Some(Ok(dir)) => dir,
    };
    match crate::sys::clone3(flags, Some(dir.as_fd())) {
        Ok(f) => Ok((f, true)),
        // Kernels before 5.7, or a cgroup that cannot take processes directly.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::EBUSY)
            ) =>
        {
            crate::sys::clone3(flags, None).map(|f| (f, false))
        }
        Err(e) => Err(e),
    }
}

/// Moves `pid` into the container's cgroup2 directory, for when [`clone3_into`] could
/// not clone it there.
pub fn join_v2(rec: &CgroupRecord, pid: i32) -> Result<()> {
    match v2_dir(rec) {
        Some(dir) => write(&dir.join("cgroup.procs"), &pid.to_string()),
        None => Ok(()),
    }
}

/// The v1 `tasks` files of the container's cgroup, opened by hull before it clones a
/// child, which then moves itself in with [`SelfJoin::join`].
///
/// Writing a pid to a v1 `cgroup.procs` takes the kernel's global threadgroup rwsem
/// for writing, which waits for an RCU grace period unless another writer held it
/// moments before: 7–15 ms on the machines here, each time the system was quiet. A
/// thread that moves itself (`0` written to `tasks`) takes no such lock. hull's
/// children are single-threaded: their one thread is the whole process.
pub struct SelfJoin(Vec<(std::os::fd::OwnedFd, PathBuf)>);

impl SelfJoin {
    pub fn open(rec: &CgroupRecord) -> Result<SelfJoin> {
        let mut files = Vec::new();
        for dir in rec.paths.iter().filter(|p| !is_v2_path(rec, p)) {
            let path = dir.join("tasks");
            let file = fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .ctx(|| format!("open {}", path.display()))?;
            files.push((file.into(), path));
        }
        Ok(SelfJoin(files))
    }

    /// In the freshly cloned child, before it does anything else. Closes the files.
    pub fn join(&mut self) -> Result<()> {
        for (fd, path) in self.0.drain(..) {
            nix::unistd::write(&fd, b"0").ctx(|| format!("write {}", path.display()))?;
        }
        Ok(())
    }
}

/// The directory of `controller` among the container's cgroup directories: on v1 the
/// hierarchy whose name lists it (`cpu,cpuacct` holds cpu), on v2 the one directory.
pub fn dir_of<'a>(rec: &'a CgroupRecord, controller: &str) -> Option<&'a PathBuf> {
    if rec.unified {
        return rec.paths.first();
    }

    rec.paths.iter().find(|p| {
        p.strip_prefix(CGROUP_ROOT)
            .ok()
            .and_then(|rest| rest.components().next())
            .and_then(|c| c.as_os_str().to_str())
            .is_some_and(|h| h.split(',').any(|c| c == controller))
    })
}

/// The pids in the container's cgroup and its sub-cgroups.
pub fn procs(rec: &CgroupRecord) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    if let Some(dir) = pick(rec) {
        collect_procs(dir, &mut pids)?;
    }
    Ok(pids)
}

fn collect_procs(dir: &Path, pids: &mut Vec<i32>) -> Result<()> {
    let file = dir.join("cgroup.procs");
    match fs::read_to_string(&file) {
        Ok(text) => pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::sys(format!("read {}", file.display()), e)),
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_procs(&entry.path(), pids)?;
            }
        }
    }
    Ok(())
}

/// The hierarchy to read the process list from: pids on v1 (always present with runc's
/// layout), the one directory on v2.
fn pick(rec: &CgroupRecord) -> Option<&PathBuf> {
    dir_of(rec, "pids").or_else(|| rec.paths.first())
}

/// True when the container's cgroup is frozen (paused).
pub fn is_frozen(rec: &CgroupRecord) -> bool {
    let (file, frozen): (&str, &[u8]) = if rec.unified {
        ("cgroup.freeze", b"1")
    } else {
        ("freezer.state", b"FROZEN")
    };
    dir_of(rec, "freezer").is_some_and(|d| {
        crate::sys::read_small(&d.join(file)).is_ok_and(|s| s.trim_ascii() == frozen)
    })
}

/// Freezes (`true`) or thaws the container's cgroup and waits until the kernel says it
/// is done: v1 `freezer.state`, v2 `cgroup.freeze` / `cgroup.events`.
pub fn set_frozen(rec: &CgroupRecord, frozen: bool) -> Result<()> {
    // (file to write, value, file to watch, the line that says it is done)
    let (file, value, watch, done) = match (rec.unified, frozen) {
        (true, true) => ("cgroup.freeze", "1", "cgroup.events", "frozen 1"),
        (true, false) => ("cgroup.freeze", "0", "cgroup.events", "frozen 0"),
        (false, true) => ("freezer.state", "FROZEN", "freezer.state", "FROZEN"),
        (false, false) => ("freezer.state", "THAWED", "freezer.state", "THAWED"),
    };
    let dir = dir_of(rec, "freezer").ok_or_else(|| {
        Error::Status("the freezer cgroup controller is not available on this host".into())
    })?;
    for _ in 0..2000 {
        write(&dir.join(file), value)?;
        let now = fs::read_to_string(dir.join(watch))
            .ctx(|| format!("read {}", dir.join(watch).display()))?;
        if now.lines().any(|l| l.trim() == done) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(Error::Status(format!(
        "the cgroup {} did not {} in time",
        dir.display(),
        if frozen { "freeze" } else { "thaw" }
    )))
}

/// Removes the container's cgroups and every sub-cgroup made inside them (`exec
/// --cgroup`, or the container's own nesting: all of it belongs to the container, as
/// runc removes it), then the parents hull made. The processes must be gone; an
/// exiting process can keep a cgroup busy for a moment, so EBUSY is retried.
pub fn remove(rec: &CgroupRecord) -> Result<()> {
    for dir in &rec.paths {
        if rec.created.contains(dir) {
            remove_tree(dir)?;
        }
    }
    for dir in rec.created.iter().rev() {
        match fs::remove_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // A parent shared with another container stays.
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && !rec.paths.contains(dir) => {}
            Err(e) => return Err(Error::sys(format!("remove cgroup {}", dir.display()), e)),
        }
    }
    Ok(())
}

/// Removes a cgroup directory and its sub-cgroups, deepest first.
fn remove_tree(dir: &Path) -> Result<()> {
    // Most containers have no sub-cgroup: try the directory alone before listing it.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::sys(format!("read cgroup {}", dir.display()), e)),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(Error::sys(format!("remove cgroup {}", dir.display()), e)),
        }
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).ctx(|| format!("write {value:?} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "9:name=systemd:/\n8:pids:/user.slice\n4:memory:/x\n0::/\n";

    #[test]
    fn legacy_hierarchies_come_from_proc_self_cgroup() {
        let h = hierarchies(HYBRID, &Layout::Legacy);
        assert_eq!(h[0].mount, Path::new("/sys/fs/cgroup/systemd"));
        assert_eq!(h[1].mount, Path::new("/sys/fs/cgroup/pids"));
        assert_eq!(h[1].own, Path::new("/user.slice"));
        assert_eq!(h[2].mount, Path::new("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn unified_layout_uses_only_the_v2_line() {
        let h = hierarchies("0::/user.slice/session-1.scope\n", &Layout::Unified);
        assert_eq!(
            h,
            vec![Hierarchy {
                mount: "/sys/fs/cgroup".into(),
                own: "/user.slice/session-1.scope".into()
            }]
        );
        assert!(hierarchies(HYBRID, &Layout::Unified).len() == 1);
    }

    #[test]
    fn parent_dir_in_cgroups_path_is_refused() {
        let err = plan(Some(Path::new("/a/../../etc")), "x").unwrap_err();
        assert!(err.to_string().contains("linux.cgroupsPath"), "{err}");
    }

    #[test]
    fn v1_dir_of_a_comounted_controller() {
        let rec = CgroupRecord {
            paths: vec![
                "/sys/fs/cgroup/cpu,cpuacct/hull/x".into(),
                "/sys/fs/cgroup/memory/hull/x".into(),
            ],
            created: vec![],
            unified: false,
        };
        assert_eq!(
            dir_of(&rec, "cpuacct").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/hull/x")
        );
        assert!(dir_of(&rec, "pids").is_none());
    }
}
