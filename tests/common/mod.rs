//! The harness shared by hull's integration tests (`mod common;` in each `tests/*.rs`).
//!
//! Every test works inside an [`Env`]: a temporary directory of its own under /tmp that
//! holds the state directory (passed to hull as `--root`) and the bundles, plus a cgroup
//! parent of its own. Tests drive the real `hull` binary from outside, the way runc's
//! bats tests drive runc.
//!
//! Dropping an `Env` is the leak check: it force-deletes what the test left, then looks
//! for what the runtime should have cleaned up itself (processes, mounts, cgroup
//! directories) and removes it, and fails the test if it found any. The sweep only
//! ever touches things whose path carries this `Env`'s own unique name; it never kills a
//! process by name.
//!
//! The integration tests need root: they create namespaces, mounts and cgroups.
#![allow(dead_code)] // each test binary uses its own part of the harness

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The prefix of every name the harness makes: temp dirs `/tmp/hull-test-<pid>-<n>-<name>`
/// and cgroup parents `/hull-test-<pid>-<n>`. `zz_leaks.rs` looks for it.
pub const PREFIX: &str = "hull-test-";

/// How long one hull command may take before the harness kills it and fails the test.
/// Override with `HULL_TEST_TIMEOUT_SECS`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Numbers envs and container ids, so that parallel tests in one binary never collide.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn next_number() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// The `hull` binary that cargo built for this test run.
pub fn hull_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hull"))
}

/// The workspace root (`CARGO_MANIFEST_DIR` is `crates/hull`).
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        fs::canonicalize(&dir).unwrap_or_else(|e| panic!("canonicalize {}: {e}", dir.display()))
    })
}

/// The busybox rootfs that bundles copy: `$HULL_TEST_ROOTFS`, else
/// `<workspace>/.test-rootfs`. Made with `scripts/make-rootfs.sh` if missing.
///
/// Test binaries run one after the other but the tests in one binary run in parallel,
/// and a developer may run two binaries at once: a `OnceLock` serialises the threads,
/// a lock on the parent directory serialises the processes, and the rootfs is built
/// aside and renamed into place so that nobody ever copies half of one.
pub fn rootfs_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = match std::env::var_os("HULL_TEST_ROOTFS") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => workspace_root().join(".test-rootfs"),
        };
        let is_ready = |p: &Path| p.join("bin/busybox").is_file();
        if is_ready(&path) {
            return path;
        }
        let parent = path
            .parent()
            .unwrap_or_else(|| panic!("test rootfs path {} has no parent", path.display()));
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        let lock = File::open(parent).unwrap_or_else(|e| panic!("open {}: {e}", parent.display()));
        lock.lock()
            .unwrap_or_else(|e| panic!("lock {}: {e}", parent.display()));
        if !is_ready(&path) {
            let mut partial = path.clone().into_os_string();
            partial.push(format!(".partial-{}", std::process::id()));
            let partial = PathBuf::from(partial);
            let _ = fs::remove_dir_all(&partial);
            let script = workspace_root().join("scripts/make-rootfs.sh");
            let status = Command::new("bash")
                .arg(&script)
                .arg(&partial)
                .stdin(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
            assert!(
                status.success(),
                "{} {} failed: {status}",
                script.display(),
                partial.display()
            );
            // A stale, incomplete rootfs from an interrupted run is in the way of rename.
            let _ = fs::remove_dir_all(&path);
            fs::rename(&partial, &path).unwrap_or_else(|e| {
                panic!("rename {} to {}: {e}", partial.display(), path.display())
            });
        }
        path
    })
}

/// One test's private world: a temp dir with the state dir and bundles, and a cgroup
/// parent. Dropping it cleans up and fails the test if the runtime leaked anything.
pub struct Env {
    name: String,
    dir: PathBuf,
    state: PathBuf,
    cgroup_parent: String,
}

impl Env {
    /// Makes `/tmp/hull-test-<pid>-<n>-<name>/state` and picks the cgroup parent
    /// `/hull-test-<pid>-<n>`. `name` is only there to help a human: use the test's.
    pub fn new(name: &str) -> Env {
        assert_root();
        let tag = format!("{PREFIX}{}-{}", std::process::id(), next_number());
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(48)
            .collect();
        let dir = std::env::temp_dir().join(format!("{tag}-{name}"));
        // Only a crashed run with the same pid could have left this behind.
        let _ = fs::remove_dir_all(&dir);
        let state = dir.join("state");
        fs::create_dir_all(&state).unwrap_or_else(|e| panic!("create {}: {e}", state.display()));
        Env {
            name,
            dir,
            state,
            cgroup_parent: format!("/{tag}"),
        }
    }

    /// The env's temp dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state dir, passed to every hull command as `--root`.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// The cgroup parent of this env's containers, e.g. `/hull-test-123-4`.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// The `linux.cgroupsPath` for a container `id` of this env: `<parent>/<id>`.
    pub fn cgroup_path(&self, id: &str) -> String {
        format!("{}/{id}", self.cgroup_parent)
    }

    /// A container id that no other container of this test run has: `<prefix>-<n>`.
    pub fn unique_id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", next_number())
    }

    /// Makes the bundle `<dir>/<name>`: a copy of the rootfs template and the config of
    /// `hull spec`, with `process.terminal` false and `linux.cgroupsPath` set to
    /// [`Env::cgroup_path`] of the bundle's [`Bundle::id`].
    pub fn bundle(&self, name: &str) -> Bundle {
        let dir = self.dir.join(name);
        assert!(!dir.exists(), "bundle {name} already exists in this env");
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let rootfs = dir.join("rootfs");
        run_checked(
            Command::new("cp")
                .arg("-a")
                .arg(rootfs_template())
                .arg(&rootfs),
        );
        run_checked(Command::new(hull_bin()).arg("spec").current_dir(&dir));

        let bundle = Bundle {
            dir,
            id: self.unique_id(name),
        };
        let cgroups_path = self.cgroup_path(&bundle.id);
        bundle.edit(|config| {
            config["process"]["terminal"] = Value::Bool(false);
            if !config["linux"].is_object() {
                config["linux"] = Value::Object(Default::default());
            }
            config["linux"]["cgroupsPath"] = Value::String(cgroups_path);
        });
        bundle
    }

    /// A `hull --root <state> <args>` command, for tests that need to spawn hull and
    /// hold on to it (a foreground `run`, a console socket, their own stdio).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(hull_bin());
        command.arg("--root").arg(&self.state).args(args);
        command
    }

    /// Runs `hull --root <state> <args>` to the end and returns what it did.
    ///
    /// stdout and stderr go to files, not pipes: a container made by `create` or
    /// `run -d` inherits them and would keep a pipe open long after hull has exited.
    /// Panics if hull runs longer than the timeout (`HULL_TEST_TIMEOUT_SECS`, 60 s).
    pub fn hull(&self, args: &[&str]) -> Output {
        self.try_hull(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `hull state <id>`, which must succeed, as JSON.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.hull_ok(&["state", id])).expect("state is JSON")
    }

    /// The init's pid, from `hull state`.
    pub fn pid(&self, id: &str) -> i64 {
        let st = self.state(id);
        st["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("no pid in {st}"))
    }

    /// The status word, from `hull state`.
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs hull like [`Env::hull`], asserts that it succeeded, and returns its stdout.
    pub fn hull_ok(&self, args: &[&str]) -> String {
        let output = self.hull(args);
        assert!(
            output.status.success(),
            "`hull {}` failed: {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn try_hull(&self, args: &[&str]) -> Result<Output, String> {
        let what = format!("`hull {}`", args.join(" "));
        let n = next_number();
        let mut stdout = capture_file(&self.dir.join(format!(".stdout-{n}")))?;
        let mut stderr = capture_file(&self.dir.join(format!(".stderr-{n}")))?;
        let mut command = self.command(args);
        command
            .stdin(Stdio::null())
            .stdout(
                stdout
                    .try_clone()
                    .map_err(|e| format!("{what}: dup stdout: {e}"))?,
            )
            .stderr(
                stderr
                    .try_clone()
                    .map_err(|e| format!("{what}: dup stderr: {e}"))?,
            );
        let mut child = command.spawn().map_err(|e| format!("{what}: spawn: {e}"))?;

        let deadline = Instant::now() + timeout();
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Ok(None) => {
                    // Our own child: safe to kill by its handle.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{what} did not finish in {:?}", timeout()));
                }
                Err(e) => return Err(format!("{what}: wait: {e}")),
            }
        };
        Ok(Output {
            status,
            stdout: read_all(&mut stdout)?,
            stderr: read_all(&mut stderr)?,
        })
    }

    /// The ids hull lists in this env's state dir.
    fn listed_containers(&self) -> Result<Vec<String>, String> {
        let output = self.try_hull(&["list", "-q"])?;
        if !output.status.success() {
            return Err(format!(
                "`hull list -q` failed: {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Everything the test or the runtime left behind, removed; one line per thing.
    fn clean_up(&self) -> Vec<String> {
        let mut leaks = Vec::new();

        // A test must delete its containers; then the runtime must have removed the rest.
        match self.listed_containers() {
            Ok(ids) => {
                for id in ids {
                    leaks.push(format!("container {id} was not deleted by the test"));
                    match self.try_hull(&["delete", "--force", &id]) {
                        Ok(out) if out.status.success() => {}
                        Ok(out) => leaks.push(format!(
                            "`hull delete --force {id}` failed: {}: {}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr).trim()
                        )),
                        Err(e) => leaks.push(e),
                    }
                }
            }
            Err(e) => leaks.push(e),
        }
        // `delete` must remove the container's directory in the state dir.
        if let Ok(entries) = fs::read_dir(&self.state) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    leaks.push(format!("state dir entry {} left", entry.path().display()));
                }
            }
        }

        let dir_name = self
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("env dir name is UTF-8")
            .to_owned();
        let cgroup_name = self.cgroup_parent.trim_start_matches('/').to_owned();
        let ours = move |component: &str| component == dir_name || component == cgroup_name;
        leaks.extend(sweep(&ours, false));

        if let Err(e) = fs::remove_dir_all(&self.dir) {
            leaks.push(format!("remove {}: {e}", self.dir.display()));
        }
        leaks
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let leaks = self.clean_up();
        if !leaks.is_empty() && !thread::panicking() {
            panic!(
                "env {} left things behind (all now removed):\n  - {}",
                self.name,
                leaks.join("\n  - ")
            );
        }
    }
}

/// A bundle directory: `config.json` and `rootfs/`.
pub struct Bundle {
    dir: PathBuf,
    id: String,
}

impl Bundle {
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path as `&str`, for hull's arguments (`-b`).
    pub fn path_str(&self) -> &str {
        self.dir.to_str().expect("bundle path is UTF-8")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The container id that the bundle's `linux.cgroupsPath` was made for. Use it, or
    /// set `cgroupsPath` again with [`Env::cgroup_path`] when running several containers
    /// from one bundle.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn config(&self) -> Value {
        let path = self.dir.join("config.json");
        let text = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
    }

    pub fn set_config(&self, config: Value) {
        let path = self.dir.join("config.json");
        let text = serde_json::to_vec_pretty(&config).expect("a Value always serialises");
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Reads `config.json`, lets `f` change it, writes it back.
    pub fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut config = self.config();
        f(&mut config);
        self.set_config(config);
    }

    /// Sets `process.args`.
    pub fn set_args(&self, args: &[&str]) {
        self.edit(|config| config["process"]["args"] = args.iter().copied().collect());
    }
}

/// `/proc/<pid>/status`.
pub fn read_proc_status(pid: impl std::fmt::Display) -> String {
    let path = format!("/proc/{pid}/status");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The namespace `ns` ("net", "pid", "mnt", …) of `pid`, as its link reads:
/// `net:[4026531840]`. Two processes share a namespace when these are equal.
pub fn ns_inode(pid: impl std::fmt::Display, ns: &str) -> String {
    let path = format!("/proc/{pid}/ns/{ns}");
    let link = fs::read_link(&path).unwrap_or_else(|e| panic!("readlink {path}: {e}"));
    link.to_string_lossy().into_owned()
}

/// `/proc/<pid>/mountinfo`: the mounts as `pid` sees them.
pub fn mountinfo(pid: impl std::fmt::Display) -> String {
    let path = format!("/proc/{pid}/mountinfo");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The directories `<v1 controller mount>/<path>` that exist, one per v1 hierarchy
/// (including the named `name=systemd` one). `path` is a cgroups path like
/// `/hull-test-1-2/ctr`.
pub fn cgroup_v1_dirs(path: &str) -> Vec<PathBuf> {
    let relative = path.trim_start_matches('/');
    cgroup_mounts()
        .into_iter()
        .filter(|m| !m.v2)
        .map(|m| m.mount_point.join(relative))
        .filter(|dir| dir.is_dir())
        .collect()
}

/// True on a pure cgroup v2 host (`/sys/fs/cgroup` is the unified hierarchy).
pub fn is_cgroup2_unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false).
pub fn wait_for(mut condition: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// True when `runc` is on PATH, for tests that compare hull with it.
pub fn runc_available() -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join("runc");
            fs::metadata(&candidate).is_ok_and(|m| m.is_file())
        })
    })
}

/// Finds, removes and describes what belongs to a scope: every process, mount and cgroup
/// directory whose path has a component for which `ours` is true.
///
/// `Env` uses it with its own two names; `zz_leaks.rs` with every `hull-test-` name whose
/// test process is gone. With `parent_is_leak` false, a top-level cgroup directory of the
/// scope (the cgroup parent) is removed without being reported: runtimes create the
/// parents of `cgroupsPath` but delete only the container's own directory, as runc does.
pub fn sweep(ours: &dyn Fn(&str) -> bool, parent_is_leak: bool) -> Vec<String> {
    let mut leaks = Vec::new();
    let cgroup_dirs = scope_cgroup_dirs(ours);

    // A frozen process does not die of SIGKILL until it is thawed.
    for dir in &cgroup_dirs {
        let _ = fs::write(dir.join("freezer.state"), "THAWED");
        let _ = fs::write(dir.join("cgroup.freeze"), "0");
    }

    leaks.extend(kill_processes(ours));

    let mut mounts: Vec<PathBuf> = read_mountinfo("self")
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| has_component(p, ours))
        .collect();
    // Deepest first, so nothing is unmounted from under another mount of the scope.
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    for mount_point in mounts {
        leaks.push(format!("mount {}", mount_point.display()));
        if let Err(e) = umount_detach(&mount_point) {
            leaks.push(format!("umount {}: {e}", mount_point.display()));
        }
    }

    // Children before parents.
    let hierarchies: Vec<PathBuf> = cgroup_mounts().into_iter().map(|m| m.mount_point).collect();
    let mut cgroup_dirs = cgroup_dirs;
    cgroup_dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for dir in cgroup_dirs {
        let is_parent = dir
            .parent()
            .is_some_and(|p| hierarchies.iter().any(|h| h == p));
        if parent_is_leak || !is_parent {
            leaks.push(format!("cgroup {}", dir.display()));
        }
        // Killed processes leave their cgroup a moment after they are reaped.
        let removed = wait_for(
            || fs::remove_dir(&dir).is_ok() || !dir.exists(),
            Duration::from_secs(5),
        );
        if !removed {
            leaks.push(format!("rmdir {}: still busy", dir.display()));
        }
    }
    leaks
}

/// SIGKILLs the processes of the scope and waits until they are gone; describes them.
///
/// A process is in the scope when its root, its cgroup, the root mount of its own mount
/// namespace, or (for hull itself and a container init that has not exec'd yet) its
/// command line is. `/proc/<pid>/root` alone is not enough: after pivot_root in a new
/// mount namespace it reads `/`.
fn kill_processes(ours: &dyn Fn(&str) -> bool) -> Vec<String> {
    let own_pid = std::process::id();
    let own_mnt_ns = fs::read_link("/proc/self/ns/mnt").ok();
    let mut leaks = Vec::new();
    let mut killed = Vec::new();
    for pid in all_pids() {
        // A zombie is dead already; reaping it is its parent's business (and, for an
        // orphaned container init, pid 1's, which may be slow about it).
        if pid == own_pid || is_gone(pid) {
            continue;
        }
        let Some(reason) = why_ours(pid, ours, own_mnt_ns.as_deref()) else {
            continue;
        };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        leaks.push(format!("process {pid} ({}): {reason}", comm.trim()));
        let Ok(raw_pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: kill(2) takes no pointers; `raw_pid` is a positive pid read from /proc.
        if unsafe { libc::kill(raw_pid, libc::SIGKILL) } == 0 {
            killed.push(pid);
        }
    }
    for pid in killed {
        let gone = wait_for(|| is_gone(pid), Duration::from_secs(10));
        if !gone {
            leaks.push(format!("process {pid} survived SIGKILL"));
        }
    }
    leaks
}

/// Why `pid` belongs to the scope, or None.
fn why_ours(pid: u32, ours: &dyn Fn(&str) -> bool, own_mnt_ns: Option<&Path>) -> Option<String> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if let Ok(root) = fs::read_link(proc_dir.join("root")) {
        if has_component(&root, ours) {
            return Some(format!("root {}", root.display()));
        }
    }
    if let Ok(cgroups) = fs::read_to_string(proc_dir.join("cgroup")) {
        // Lines are `<id>:<controllers>:<path>`.
        for line in cgroups.lines() {
            if let Some(path) = line.splitn(3, ':').nth(2) {
                if has_component(Path::new(path), ours) {
                    return Some(format!("cgroup {path}"));
                }
            }
        }
    }
    let mnt_ns = fs::read_link(proc_dir.join("ns/mnt")).ok();
    if mnt_ns.is_some() && mnt_ns.as_deref() != own_mnt_ns {
        let mounts = fs::read_to_string(proc_dir.join("mountinfo")).unwrap_or_default();
        if let Some(root) = parse_mountinfo(&mounts)
            .into_iter()
            .find(|m| m.mount_point == Path::new("/"))
            .map(|m| m.root)
        {
            if has_component(&root, ours) {
                return Some(format!("its mount namespace's root is {}", root.display()));
            }
        }
    }
    let exe = fs::read_link(proc_dir.join("exe")).ok();
    if exe.is_some() && exe == fs::canonicalize(hull_bin()).ok() {
        let cmdline = fs::read(proc_dir.join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| has_component(Path::new(a), ours)) {
            return Some(format!("hull process `{}`", args.join(" ").trim()));
        }
    }
    None
}

/// True when `pid` has exited (gone, or a zombie waiting for its parent to reap it).
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised comm.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The cgroup directories of the scope in every hierarchy: each top-level directory
/// whose name is ours, and everything below it.
fn scope_cgroup_dirs(ours: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for mount in cgroup_mounts() {
        let Ok(entries) = fs::read_dir(&mount.mount_point) else {
            continue;
        };
        for entry in entries.flatten() {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && entry.file_name().to_str().is_some_and(ours) {
                collect_dirs(&entry.path(), &mut dirs);
            }
        }
    }
    dirs
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_owned());
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&entry.path(), out);
            }
        }
    }
}

/// A cgroup hierarchy mounted in our mount namespace.
pub struct CgroupMount {
    pub mount_point: PathBuf,
    pub v2: bool,
}

/// Every cgroup v1 and v2 hierarchy that is mounted (`/sys/fs/cgroup/<controller>`,
/// `/sys/fs/cgroup/unified`, or `/sys/fs/cgroup` itself on a pure v2 host), each once.
pub fn cgroup_mounts() -> Vec<CgroupMount> {
    let mut mounts: Vec<CgroupMount> = Vec::new();
    for m in read_mountinfo("self") {
        let v2 = match m.fs_type.as_str() {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        if !mounts.iter().any(|c| c.mount_point == m.mount_point) {
            mounts.push(CgroupMount {
                mount_point: m.mount_point,
                v2,
            });
        }
    }
    mounts
}

/// The fields of one line of mountinfo that the harness needs.
pub struct MountInfo {
    /// The directory of the mounted filesystem that is mounted (field 4).
    pub root: PathBuf,
    /// Where it is mounted (field 5).
    pub mount_point: PathBuf,
    pub fs_type: String,
}

/// The mounts that `pid` ("self" for us) sees; empty if it is gone.
pub fn read_mountinfo(pid: &str) -> Vec<MountInfo> {
    parse_mountinfo(&fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default())
}

/// Parses mountinfo: `id parent major:minor root mount-point options [optional…] - type
/// source super-options`, with spaces and such in paths escaped as `\ooo`.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let separator = fields.iter().position(|&f| f == "-")?;
            Some(MountInfo {
                root: PathBuf::from(unescape_octal(fields.get(3)?)),
                mount_point: PathBuf::from(unescape_octal(fields.get(4)?)),
                fs_type: fields.get(separator + 1)?.to_string(),
            })
        })
        .collect()
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_component(path: &Path, ours: &dyn Fn(&str) -> bool) -> bool {
    path.components().any(|c| match c {
        Component::Normal(name) => name.to_str().is_some_and(ours),
        _ => false,
    })
}

/// umount2(MNT_DETACH): the mount goes at once even if something still uses it.
fn umount_detach(mount_point: &Path) -> std::io::Result<()> {
    let path = CString::new(mount_point.as_os_str().as_encoded_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn assert_root() {
    let status = read_proc_status("self");
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    assert_eq!(
        euid,
        Some("0"),
        "hull's integration tests create namespaces, mounts and cgroups: run them as root \
         (sudo ./scripts/test.sh)"
    );
}

fn timeout() -> Duration {
    std::env::var("HULL_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// A file for a child's output that we can read back; unlinked at once, so it vanishes
/// when the last holder (possibly a container that inherited it) closes it.
fn capture_file(path: &Path) -> Result<File, String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    fs::remove_file(path).map_err(|e| format!("remove {}: {e}", path.display()))?;
    Ok(file)
}

fn read_all(file: &mut File) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| format!("read captured output: {e}"))?;
    Ok(bytes)
}

fn run_checked(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Receives one message with one descriptor (SCM_RIGHTS), as a console socket or a
/// seccomp agent gets them from hull: (payload, descriptor).
pub fn recv_with_fd(sock: &impl std::os::fd::AsRawFd) -> (Vec<u8>, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut buf = vec![0u8; 65536];
    // Room for one cmsghdr carrying one int.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid value before the fields are set.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg points at buffers that live until the call returns.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    assert_eq!(
        msg.msg_flags & libc::MSG_CTRUNC,
        0,
        "control message truncated"
    );
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR only reads its control fields.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(
        !cmsg.is_null(),
        "no control message: no descriptor was sent"
    );
    // SAFETY: cmsg points into `control`, filled by the kernel.
    let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
    assert_eq!((level, kind), (libc::SOL_SOCKET, libc::SCM_RIGHTS));
    // SAFETY: an SCM_RIGHTS message carries ints; read_unaligned for the data alignment.
    let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>()) };
    buf.truncate(n as usize);
    // SAFETY: the kernel installed this descriptor for us.
    (buf, unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Runs bundle `b` under runc (`runc run`, foreground; stdio on files, since runc's
/// container inherits them) as container `id` with `args`; returns stdout.
pub fn runc_run(env: &Env, b: &Bundle, id: &str, args: &[&str]) -> String {
    b.edit(|c| {
        c["process"]["args"] = args.iter().copied().collect();
        c["linux"]["cgroupsPath"] = env.cgroup_path(id).into();
    });
    let out_path = env.dir().join(format!("runc-{id}.out"));
    let err_path = env.dir().join(format!("runc-{id}.err"));
    let status = Command::new("runc")
        .arg("--root")
        .arg(env.dir().join("runc-root"))
        .args(["run", "-b", b.path_str(), id])
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .status()
        .expect("spawn runc");
    assert!(
        status.success(),
        "runc run {id}: {}",
        fs::read_to_string(&err_path).unwrap_or_default()
    );
    fs::read_to_string(&out_path).unwrap()
}
