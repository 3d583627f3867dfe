//! The container's root file system as the kernel shows it from inside: the mounts of
//! the default spec and their options, bind mounts and their flags, recursive
//! attributes, propagation, a read-only root, `--no-pivot`, /dev and its devices,
//! masked and read-only paths, and mount destinations that try to leave the rootfs.
//! Where runc settles what is right, the same bundle runs under runc too.

mod common;

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{runc_available, runc_run, wait_for, Bundle, Env};
use serde_json::{json, Value};

/// One line of `/proc/<pid>/mountinfo`, every field the tests look at.
#[derive(Debug, Clone)]
struct MountLine {
    majmin: String,
    root: String,
    mount_point: String,
    /// Per-mount options (`ro`, `nosuid`, ...).
    options: Vec<String>,
    /// Optional fields: `shared:N`, `master:N`, `unbindable`, ...
    optional: Vec<String>,
    fs_type: String,
    /// Per-superblock options (`mode=755`, `size=65536k`, ...).
    super_options: Vec<String>,
}

impl MountLine {
    fn has(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    fn super_has(&self, option: &str) -> bool {
        self.super_options.iter().any(|o| o == option)
    }

    fn peer_group(&self, kind: &str) -> Option<String> {
        self.optional
            .iter()
            .find_map(|f| f.strip_prefix(&format!("{kind}:")).map(String::from))
    }
}

fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|&f| f == "-")?;
            if sep < 6 || fields.len() < sep + 4 {
                return None;
            }
            Some(MountLine {
                majmin: fields[2].to_string(),
                root: unescape(fields[3]),
                mount_point: unescape(fields[4]),
                options: fields[5].split(',').map(String::from).collect(),
                optional: fields[6..sep].iter().map(|s| s.to_string()).collect(),
                fs_type: fields[sep + 1].to_string(),
                super_options: fields[sep + 3].split(',').map(String::from).collect(),
            })
        })
        .collect()
}

/// The mount that is visible at `point`: the last one mounted there.
fn top<'a>(mounts: &'a [MountLine], point: &str) -> &'a MountLine {
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == point)
        .unwrap_or_else(|| panic!("no mount at {point} in:\n{mounts:#?}"))
}

fn has_mount(mounts: &[MountLine], point: &str) -> bool {
    mounts.iter().any(|m| m.mount_point == point)
}

/// `hull run` of the bundle with `args`; asserts success and returns stdout.
fn run(env: &Env, b: &Bundle, args: &[&str]) -> String {
    b.set_args(args);
    env.hull_ok(&["run", "-b", b.path_str(), b.id()])
}

/// `hull run` of `sh -c script`; returns the whole output (stdout, then stderr) and
/// whether it succeeded, for scripts whose commands are meant to fail.
fn run_script(env: &Env, b: &Bundle, script: &str) -> (bool, String) {
    b.set_args(&["sh", "-c", script]);
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The mounts as the container's process sees them.
fn container_mounts(env: &Env, b: &Bundle) -> Vec<MountLine> {
    parse_mountinfo(&run(env, b, &["cat", "/proc/self/mountinfo"]))
}

/// Starts the bundle detached with `sleep 1000` and returns the container's pid.
fn run_detached(env: &Env, b: &Bundle, id: &str) -> i64 {
    b.edit(|c| {
        c["process"]["args"] = json!(["sleep", "1000"]);
        c["linux"]["cgroupsPath"] = env.cgroup_path(id).into();
    });
    env.hull_ok(&["run", "-d", "-b", b.path_str(), id]);
    let pid = env.pid(id);
    // Until the init has exec'd, /proc/<pid>/mountinfo may still be the set-up's.
    assert!(
        wait_for(
            || fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep"),
            Duration::from_secs(10)
        ),
        "container {id} never ran sleep"
    );
    pid
}

fn host_mounts() -> Vec<MountLine> {
    parse_mountinfo(&common::mountinfo("self"))
}

/// Mounts the test makes on the host, unmounted (last first) when dropped, also when
/// the test fails. Declare it after the `Env`, so it is dropped before the env's sweep.
#[derive(Default)]
struct HostMounts(Vec<PathBuf>);

fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL in test paths")
}

impl HostMounts {
    fn mount(&mut self, source: &str, target: &Path, fstype: &str, flags: libc::c_ulong) {
        let src = cstring(source);
        let dst = cstring(target.to_str().unwrap());
        let typ = cstring(fstype);
        // SAFETY: NUL-terminated strings that outlive the call; no data argument.
        let ret = unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                typ.as_ptr(),
                flags,
                std::ptr::null(),
            )
        };
        assert_eq!(
            ret,
            0,
            "mount {source} on {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        );
        self.0.push(target.to_owned());
    }

    /// A tmpfs at `target`.
    fn tmpfs(&mut self, target: &Path) {
        self.mount("tmpfs", target, "tmpfs", 0);
    }

    /// `target` bind-mounted on itself and made shared: a peer group of its own.
    fn shared_bind(&mut self, target: &Path) {
        let path = target.to_str().unwrap();
        self.mount(path, target, "", libc::MS_BIND);
        let dst = cstring(path);
        // SAFETY: as above; a propagation change takes no source, type or data.
        let ret = unsafe {
            libc::mount(
                std::ptr::null(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_SHARED,
                std::ptr::null(),
            )
        };
        assert_eq!(ret, 0, "make {path} shared");
    }
}

impl Drop for HostMounts {
    fn drop(&mut self) {
        for target in self.0.drain(..).rev() {
            let dst = cstring(target.to_str().unwrap());
            // SAFETY: a NUL-terminated path that outlives the call.
            let ret = unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) };
            if ret != 0 && !std::thread::panicking() {
                panic!(
                    "umount {}: {}",
                    target.display(),
                    std::io::Error::last_os_error()
                );
            }
        }
    }
}

fn add_mounts(b: &Bundle, mounts: Value) {
    b.edit(|c| {
        let list = c["mounts"].as_array_mut().expect("mounts array");
        list.extend(mounts.as_array().expect("mounts to add").iter().cloned());
    });
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

// ---------------------------------------------------------------------------------------
// The default spec.

#[test]
fn default_spec_mounts_each_filesystem_with_its_options() {
    let env = Env::new("default_mounts");
    let b = env.bundle("b");
    let mounts = container_mounts(&env, &b);

    let root = top(&mounts, "/");
    assert!(root.has("ro"), "root.readonly: / is ro: {root:?}");

    let proc_ = top(&mounts, "/proc");
    assert_eq!(proc_.fs_type, "proc");

    let dev = top(&mounts, "/dev");
    assert_eq!(dev.fs_type, "tmpfs");
    assert!(dev.has("nosuid") && dev.has("rw"), "{dev:?}");
    // strictatime: neither relatime nor noatime.
    assert!(!dev.has("relatime") && !dev.has("noatime"), "{dev:?}");
    assert!(
        dev.super_has("mode=755") && dev.super_has("size=65536k"),
        "{dev:?}"
    );

    let pts = top(&mounts, "/dev/pts");
    assert_eq!(pts.fs_type, "devpts");
    assert!(pts.has("nosuid") && pts.has("noexec"), "{pts:?}");
    for o in ["ptmxmode=666", "mode=620", "gid=5"] {
        assert!(pts.super_has(o), "devpts lacks {o}: {pts:?}");
    }
    // newinstance: a devpts of its own, not one of the host's.
    for host in host_mounts().iter().filter(|m| m.fs_type == "devpts") {
        assert_ne!(
            host.majmin, pts.majmin,
            "the container's devpts is the host's {}",
            host.mount_point
        );
    }

    let shm = top(&mounts, "/dev/shm");
    assert_eq!(shm.fs_type, "tmpfs");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(shm.has(o), "/dev/shm lacks {o}: {shm:?}");
    }
    assert!(shm.super_has("size=65536k"), "{shm:?}");

    let mq = top(&mounts, "/dev/mqueue");
    assert_eq!(mq.fs_type, "mqueue");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(mq.has(o), "/dev/mqueue lacks {o}: {mq:?}");
    }

    let sys = top(&mounts, "/sys");
    assert_eq!(sys.fs_type, "sysfs");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(sys.has(o), "/sys lacks {o}: {sys:?}");
    }

    let cgroup = top(&mounts, "/sys/fs/cgroup");
    let cgroup_mounts: Vec<&MountLine> = mounts
        .iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .collect();
    if common::is_cgroup2_unified() {
        assert_eq!(cgroup.fs_type, "cgroup2", "{cgroup:?}");
    } else {
        assert_eq!(cgroup.fs_type, "tmpfs", "v1: a tmpfs of hierarchies");
        assert!(cgroup.has("ro"), "{cgroup:?}");
        // One mount per v1 hierarchy of the host.
        for host in common::cgroup_mounts().iter().filter(|m| !m.v2) {
            let name = host.mount_point.file_name().unwrap().to_str().unwrap();
            let point = format!("/sys/fs/cgroup/{name}");
            assert!(
                cgroup_mounts.iter().any(|m| m.mount_point == point),
                "no cgroup mount at {point}"
            );
        }
    }
    assert!(!cgroup_mounts.is_empty());
    for m in cgroup_mounts {
        for o in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(m.has(o), "{} lacks {o}: {m:?}", m.mount_point);
        }
    }

    // The modes the options ask for, as stat sees them.
    let modes = run(&env, &b, &["stat", "-c", "%n %a", "/dev", "/dev/shm"]);
    assert_eq!(
        modes.lines().collect::<Vec<_>>(),
        ["/dev 755", "/dev/shm 1777"]
    );
}

/// A mount line without what differs from one run to the next (ids, device numbers,
/// the container's own cgroup path).
fn comparable(m: &MountLine) -> String {
    let mut options = m.options.clone();
    options.sort();
    let mut super_options = m.super_options.clone();
    super_options.sort();
    format!(
        "{} {} {} {}",
        m.mount_point,
        m.fs_type,
        options.join(","),
        super_options.join(",")
    )
}

#[test]
fn default_spec_mounts_and_devices_match_runc() {
    if !runc_available() {
        eprintln!("runc not installed: skipped");
        return;
    }
    let env = Env::new("default_vs_runc");
    let b = env.bundle("b");
    let ours = container_mounts(&env, &b);
    let runc_id = env.unique_id("runc");
    let theirs = parse_mountinfo(&runc_run(
        &env,
        &b,
        &runc_id,
        &["cat", "/proc/self/mountinfo"],
    ));
    let list = |mounts: &[MountLine]| {
        let mut v: Vec<String> = mounts
            .iter()
            // runc 1.1 leaves the v1 cgroup tmpfs itself rw although the spec asks for
            // ro; hull follows the spec (checked in the test above).
            .filter(|m| !(m.mount_point == "/sys/fs/cgroup" && m.fs_type == "tmpfs"))
            .map(comparable)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        list(&ours),
        list(&theirs),
        "hull's mounts differ from runc's"
    );

    let script = "stat -c '%n %F %t:%T %a %u:%g %N' /dev/* /dev/pts/*";
    b.edit(|c| c["linux"]["cgroupsPath"] = env.cgroup_path(b.id()).into());
    let (ok, ours) = run_script(&env, &b, script);
    assert!(ok, "{ours}");
    let runc_id = env.unique_id("runc");
    let theirs = runc_run(&env, &b, &runc_id, &["sh", "-c", script]);
    assert_eq!(ours, theirs, "hull's /dev differs from runc's");
}

// ---------------------------------------------------------------------------------------
// Bind mounts.

#[test]
fn bind_mounts_of_a_dir_and_a_file_apply_ro_nosuid_nodev_noexec() {
    let env = Env::new("bind_flags");
    let b = env.bundle("b");
    let dir = env.dir().join("host-dir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("data"), "dir-data\n").unwrap();
    fs::write(dir.join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    fs::set_permissions(dir.join("run.sh"), mode).unwrap();
    let file = env.dir().join("host-file");
    fs::write(&file, "file-data\n").unwrap();
    // A source relative to the bundle directory.
    let rel = b.path().join("rel-src");
    fs::create_dir(&rel).unwrap();
    fs::write(rel.join("data"), "rel-data\n").unwrap();

    let dir_s = path_str(&dir);
    add_mounts(
        &b,
        json!([
            {"destination": "/mnt/ro", "type": "bind", "source": dir_s, "options": ["bind", "ro"]},
            {"destination": "/mnt/noexec", "type": "bind", "source": dir_s,
             "options": ["rbind", "nosuid", "nodev", "noexec"]},
            {"destination": "/mnt/rw", "type": "bind", "source": dir_s, "options": ["bind"]},
            {"destination": "/mnt/file", "type": "bind", "source": path_str(&file),
             "options": ["bind", "ro", "nosuid", "nodev", "noexec"]},
            {"destination": "/mnt/rel", "type": "bind", "source": "rel-src", "options": ["rbind", "ro"]},
        ]),
    );
    let mounts = container_mounts(&env, &b);
    let ro = top(&mounts, "/mnt/ro");
    assert!(
        ro.has("ro") && !ro.has("nosuid") && !ro.has("noexec"),
        "{ro:?}"
    );
    assert!(ro.root.ends_with("/host-dir"), "{ro:?}");
    let nx = top(&mounts, "/mnt/noexec");
    for o in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(nx.has(o), "/mnt/noexec lacks {o}: {nx:?}");
    }
    let rw = top(&mounts, "/mnt/rw");
    assert!(rw.has("rw") && !rw.has("noexec"), "{rw:?}");
    let f = top(&mounts, "/mnt/file");
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(f.has(o), "/mnt/file lacks {o}: {f:?}");
    }
    assert!(f.root.ends_with("/host-file"), "a bind of the file: {f:?}");
    let r = top(&mounts, "/mnt/rel");
    assert!(r.has("ro"), "{r:?}");
    assert!(
        r.root.ends_with("/rel-src"),
        "relative to the bundle: {r:?}"
    );

    // What the flags do.
    let (_, out) = run_script(
        &env,
        &b,
        "cat /mnt/ro/data /mnt/file /mnt/rel/data; \
         touch /mnt/ro/new || echo ro-refused; \
         echo x >> /mnt/file || echo file-refused; \
         /mnt/noexec/run.sh || echo noexec-refused; \
         /mnt/rw/run.sh && touch /mnt/rw/made-inside",
    );
    for want in [
        "dir-data",
        "file-data",
        "rel-data",
        "Read-only file system",
        "ro-refused",
        "file-refused",
        "Permission denied",
        "noexec-refused",
        "ran",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
    assert!(!dir.join("new").exists());
    assert_eq!(fs::read_to_string(&file).unwrap(), "file-data\n");
    assert!(
        dir.join("made-inside").exists(),
        "a rw bind writes the host dir"
    );
}

#[test]
fn rro_makes_every_submount_of_an_rbind_read_only() {
    let env = Env::new("rro");
    let mut host = HostMounts::default();
    let b = env.bundle("b");
    let src = env.dir().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    host.tmpfs(&src.join("sub"));
    fs::write(src.join("sub/data"), "sub-data\n").unwrap();
    let src_s = path_str(&src);
    add_mounts(
        &b,
        json!([
            {"destination": "/rro", "type": "bind", "source": src_s, "options": ["rbind", "rro"]},
            // Plain ro is for the top mount only (runc's semantics too).
            {"destination": "/ro", "type": "bind", "source": src_s, "options": ["rbind", "ro"]},
            {"destination": "/rnx", "type": "bind", "source": src_s,
             "options": ["rbind", "rnosuid", "rnodev", "rnoexec"]},
        ]),
    );
    let mounts = container_mounts(&env, &b);
    assert!(top(&mounts, "/rro").has("ro"));
    let sub = top(&mounts, "/rro/sub");
    assert_eq!(sub.fs_type, "tmpfs");
    assert!(sub.has("ro"), "rro reaches the submount: {sub:?}");
    assert!(top(&mounts, "/ro").has("ro"));
    assert!(
        top(&mounts, "/ro/sub").has("rw"),
        "ro alone leaves submounts alone"
    );
    for point in ["/rnx", "/rnx/sub"] {
        let m = top(&mounts, point);
        for o in ["nosuid", "nodev", "noexec"] {
            assert!(m.has(o), "{point} lacks {o}: {m:?}");
        }
    }

    let (_, out) = run_script(
        &env,
        &b,
        "cat /rro/sub/data; touch /rro/sub/x || echo rro-refused; touch /ro/sub/y && echo ro-sub-ok",
    );
    assert!(out.contains("sub-data"), "{out}");
    assert!(out.contains("rro-refused"), "{out}");
    assert!(out.contains("ro-sub-ok"), "{out}");
    assert!(!src.join("sub/x").exists());
    assert!(src.join("sub/y").exists());
}

#[test]
fn bind_propagation_options_show_in_mountinfo_and_decide_what_reaches_the_container() {
    let env = Env::new("bind_propagation");
    let mut host = HostMounts::default();
    let b = env.bundle("b");
    let shared = env.dir().join("shared");
    fs::create_dir_all(shared.join("late")).unwrap();
    host.shared_bind(&shared);
    let host_group = host_mounts()
        .iter()
        .rev()
        .find(|m| Path::new(&m.mount_point) == shared)
        .and_then(|m| m.peer_group("shared"))
        .expect("the host mount is shared");
    let s = path_str(&shared);
    add_mounts(
        &b,
        json!([
            {"destination": "/p/private", "type": "bind", "source": s, "options": ["rbind", "rprivate"]},
            {"destination": "/p/slave", "type": "bind", "source": s, "options": ["rbind", "rslave"]},
            {"destination": "/p/shared", "type": "bind", "source": s, "options": ["rbind", "rshared"]},
            {"destination": "/p/unbindable", "type": "bind", "source": s, "options": ["rbind", "runbindable"]},
        ]),
    );
    let id = b.id().to_string();
    let pid = run_detached(&env, &b, &id);
    let mounts = parse_mountinfo(&common::mountinfo(pid));
    let private = top(&mounts, "/p/private");
    assert!(private.optional.is_empty(), "{private:?}");
    let slave = top(&mounts, "/p/slave");
    assert_eq!(
        slave.optional,
        [format!("master:{host_group}")],
        "{slave:?}"
    );
    let shared_m = top(&mounts, "/p/shared");
    let group = shared_m.peer_group("shared");
    assert!(
        group.is_some() && group.as_ref() != Some(&host_group),
        "rshared: a peer group of the container's own: {shared_m:?}"
    );
    // As with runc: the mount stays a slave of the host's group too.
    assert_eq!(
        shared_m.peer_group("master").as_ref(),
        Some(&host_group),
        "{shared_m:?}"
    );
    let unbindable = top(&mounts, "/p/unbindable");
    assert_eq!(unbindable.optional, ["unbindable"], "{unbindable:?}");

    // A mount made on the host afterwards reaches the slave and the shared mount only.
    host.tmpfs(&shared.join("late"));
    let mounts = parse_mountinfo(&common::mountinfo(pid));
    assert!(has_mount(&mounts, "/p/slave/late"), "rslave receives");
    assert!(has_mount(&mounts, "/p/shared/late"), "rshared receives");
    assert!(!has_mount(&mounts, "/p/private/late"), "rprivate does not");
    assert!(
        !has_mount(&mounts, "/p/unbindable/late"),
        "runbindable does not"
    );
    env.hull_ok(&["delete", "-f", &id]);
}

#[test]
fn rootfs_propagation_decides_what_the_root_shares_with_the_host() {
    let env = Env::new("rootfs_propagation");
    let mut host = HostMounts::default();
    let b = env.bundle("b");
    let rootfs = b.rootfs();
    fs::create_dir_all(rootfs.join("mnt/late")).unwrap();
    host.shared_bind(&rootfs);
    let host_group = host_mounts()
        .iter()
        .rev()
        .find(|m| Path::new(&m.mount_point) == rootfs)
        .and_then(|m| m.peer_group("shared"))
        .expect("the rootfs is a shared mount on the host");

    let mut pids = Vec::new();
    for propagation in ["rprivate", "rslave", "rshared"] {
        b.edit(|c| c["linux"]["rootfsPropagation"] = propagation.into());
        let id = env.unique_id(propagation);
        let pid = run_detached(&env, &b, &id);
        pids.push((propagation, id, pid));
    }
    for (propagation, _, pid) in &pids {
        let mounts = parse_mountinfo(&common::mountinfo(pid));
        let root = top(&mounts, "/");
        match *propagation {
            "rprivate" => assert!(root.optional.is_empty(), "{propagation}: {root:?}"),
            "rslave" => assert_eq!(
                root.optional,
                [format!("master:{host_group}")],
                "{propagation}: {root:?}"
            ),
            _ => assert!(
                root.peer_group("shared").is_some(),
                "{propagation}: {root:?}"
            ),
        }
    }
    // Nothing the containers mounted (proc, dev, sys, ...) propagated to the host.
    let leaked: Vec<String> = host_mounts()
        .iter()
        .filter(|m| Path::new(&m.mount_point).starts_with(&rootfs))
        .filter(|m| Path::new(&m.mount_point) != rootfs)
        .map(|m| m.mount_point.clone())
        .collect();
    assert!(
        leaked.is_empty(),
        "container mounts on the host: {leaked:?}"
    );

    // A host mount under the rootfs reaches the slave and shared roots, not the private.
    host.tmpfs(&rootfs.join("mnt/late"));
    for (propagation, _, pid) in &pids {
        let mounts = parse_mountinfo(&common::mountinfo(pid));
        assert_eq!(
            has_mount(&mounts, "/mnt/late"),
            *propagation != "rprivate",
            "{propagation}: host mount seen in the container"
        );
    }
    for (_, id, _) in &pids {
        env.hull_ok(&["delete", "-f", id]);
    }
}

// ---------------------------------------------------------------------------------------
// The root.

#[test]
fn readonly_root_refuses_writes_and_a_writable_root_takes_them() {
    let env = Env::new("readonly_root");
    let b = env.bundle("b");
    let script = "awk '$5 == \"/\"' /proc/self/mountinfo; touch /made && echo made; \
                  touch /dev/shm/x && echo shm-ok";
    let (_, out) = run_script(&env, &b, script);
    assert!(
        out.contains(" / ro,"),
        "root.readonly true: / is ro:\n{out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(!out.contains("made\n"), "{out}");
    assert!(out.contains("shm-ok"), "tmpfs mounts stay writable:\n{out}");
    assert!(!b.rootfs().join("made").exists());

    b.edit(|c| c["root"]["readonly"] = false.into());
    let (ok, out) = run_script(&env, &b, script);
    assert!(ok, "{out}");
    assert!(
        out.contains(" / rw,"),
        "root.readonly false: / is rw:\n{out}"
    );
    assert!(out.contains("made\n"), "{out}");
    assert!(b.rootfs().join("made").exists(), "written to the rootfs");
}

#[test]
fn no_pivot_runs_the_process_in_its_rootfs_with_the_same_mounts() {
    let env = Env::new("no_pivot");
    let b = env.bundle("b");
    fs::write(b.rootfs().join("etc/marker"), "in-the-rootfs\n").unwrap();
    let pivoted = container_mounts(&env, &b);
    b.set_args(&["sh", "-c", "cat /etc/marker; cat /proc/self/mountinfo"]);
    let out = env.hull_ok(&["run", "--no-pivot", "-b", b.path_str(), b.id()]);
    let (marker, info) = out.split_once('\n').unwrap();
    assert_eq!(marker, "in-the-rootfs");
    let chrooted = parse_mountinfo(info);
    let root = top(&chrooted, "/");
    assert_eq!(
        Path::new(&root.root),
        fs::canonicalize(b.rootfs()).unwrap(),
        "/ is the rootfs: {root:?}"
    );
    assert!(root.has("ro"), "root.readonly applies with --no-pivot too");
    let points = |m: &[MountLine]| {
        let mut v: Vec<String> = m.iter().map(|l| l.mount_point.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(points(&chrooted), points(&pivoted));
}

// ---------------------------------------------------------------------------------------
// /dev.

#[test]
fn default_devices_are_char_devices_of_mode_0666_and_dev_has_its_links() {
    let env = Env::new("default_devices");
    let b = env.bundle("b");
    let out = run(
        &env,
        &b,
        &[
            "stat",
            "-c",
            "%n %F %t:%T %a %u:%g",
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
            "/dev/tty",
            "/dev/pts/ptmx",
        ],
    );
    // stat prints major:minor in hex.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "/dev/null character special file 1:3 666 0:0",
            "/dev/zero character special file 1:5 666 0:0",
            "/dev/full character special file 1:7 666 0:0",
            "/dev/random character special file 1:8 666 0:0",
            "/dev/urandom character special file 1:9 666 0:0",
            "/dev/tty character special file 5:0 666 0:0",
            "/dev/pts/ptmx character special file 5:2 666 0:0",
        ]
    );
    let links = run(
        &env,
        &b,
        &[
            "sh",
            "-c",
            "for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done",
        ],
    );
    assert_eq!(
        links.lines().collect::<Vec<_>>(),
        [
            "pts/ptmx",
            "/proc/self/fd",
            "/proc/self/fd/0",
            "/proc/self/fd/1",
            "/proc/self/fd/2"
        ]
    );
    // They work: null swallows, zero and urandom give bytes, full refuses.
    let (_, out) = run_script(
        &env,
        &b,
        "echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1; \
         head -c 8 /dev/urandom | wc -c; echo x > /dev/full || echo full-refused; \
         echo via-stdout >> /dev/stdout",
    );
    for want in [
        "null-ok",
        "00 00 00 00",
        "8",
        "full-refused",
        "No space left on device",
        "via-stdout",
    ] {
        assert!(out.contains(want), "no {want:?} in:\n{out}");
    }
}

#[test]
fn linux_devices_adds_nodes_with_their_type_mode_and_owner() {
    let env = Env::new("linux_devices");
    let b = env.bundle("b");
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 432,
             "uid": 1000, "gid": 2000},
            {"path": "/dev/sub/myblk", "type": "b", "major": 7, "minor": 0, "fileMode": 384,
             "uid": 0, "gid": 0},
            {"path": "/dev/myfifo", "type": "p", "fileMode": 420},
        ])
    });
    let out = run(
        &env,
        &b,
        &[
            "stat",
            "-c",
            "%n %F %t:%T %a %u:%g",
            "/dev/mydev",
            "/dev/sub/myblk",
            "/dev/myfifo",
        ],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "/dev/mydev character special file 1:3 660 1000:2000",
            "/dev/sub/myblk block special file 7:0 600 0:0",
            "/dev/myfifo fifo 0:0 644 0:0",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Masked and read-only paths.

#[test]
fn masked_paths_read_empty_and_readonly_paths_refuse_writes() {
    let env = Env::new("masked_readonly");
    let b = env.bundle("b");
    let rootfs = b.rootfs();
    fs::create_dir_all(rootfs.join("srv/secret-dir")).unwrap();
    fs::write(rootfs.join("srv/secret-dir/key"), "hidden\n").unwrap();
    fs::write(rootfs.join("etc/secret-file"), "hidden\n").unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.extend([
            json!("/srv/secret-dir"),
            json!("/etc/secret-file"),
            json!("/does/not/exist"),
        ]);
        let ro = c["linux"]["readonlyPaths"].as_array_mut().unwrap();
        ro.extend([json!("/var"), json!("/does/not/exist/either")]);
    });
    let script = "echo files:; cat /etc/secret-file /proc/keys; \
         test -e /proc/kcore && wc -c < /proc/kcore; \
         echo dirs:; ls -A /srv/secret-dir /sys/firmware; echo writes:; \
         echo 1 > /proc/sys/kernel/shm_rmid_forced || echo proc-sys-refused; \
         touch /var/x || echo var-refused; touch /x && echo root-ok; \
         grep -E ' /proc/sys | /var ' /proc/self/mountinfo";
    let (_, out) = run_script(&env, &b, script);
    let section = |name: &str, next: &str| -> String {
        let start = out.find(name).unwrap_or_else(|| panic!("{name} in {out}")) + name.len();
        let end = out[start..].find(next).map_or(out.len(), |i| start + i);
        out[start..end].to_string()
    };
    // Masked files read empty (/dev/null); /proc/kcore only where the kernel has it.
    let files = section("files:", "dirs:");
    let kcore_lines = if Path::new("/proc/kcore").exists() {
        vec!["0"]
    } else {
        vec![]
    };
    assert_eq!(
        files.split_whitespace().collect::<Vec<_>>(),
        kcore_lines,
        "masked files are not empty:\n{out}"
    );
    assert!(!out.contains("hidden"), "{out}");
    // Masked directories are empty (a tmpfs).
    let dirs = section("dirs:", "writes:");
    let names: Vec<&str> = dirs
        .split_whitespace()
        .filter(|w| !w.ends_with(':'))
        .collect();
    assert!(names.is_empty(), "masked dirs list {names:?}:\n{out}");
    if fs::read_dir("/sys/firmware").is_ok_and(|mut d| d.next().is_some()) {
        assert!(dirs.contains("/sys/firmware:"), "{out}");
    }
    assert!(out.contains("proc-sys-refused"), "{out}");
    assert!(out.contains("var-refused"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(
        out.contains("root-ok"),
        "only the listed paths are ro:\n{out}"
    );
    let mounts = parse_mountinfo(&out);
    assert!(top(&mounts, "/proc/sys").has("ro"));
    assert!(top(&mounts, "/var").has("ro"));
    assert!(!b.rootfs().join("var/x").exists());
}

#[test]
fn readonly_paths_keep_the_nosuid_nodev_noexec_of_their_mount() {
    let env = Env::new("readonly_keeps_flags");
    let b = env.bundle("b");
    b.edit(|c| c["mounts"][0]["options"] = json!(["nosuid", "noexec", "nodev"]));
    assert_eq!(b.config()["mounts"][0]["destination"], "/proc");
    let mounts = container_mounts(&env, &b);
    for point in ["/proc", "/proc/sys", "/proc/bus", "/proc/irq"] {
        let m = top(&mounts, point);
        for o in ["nosuid", "nodev", "noexec"] {
            assert!(m.has(o), "{point} lacks {o}: {m:?}");
        }
    }
    assert!(top(&mounts, "/proc/sys").has("ro"));
}

// ---------------------------------------------------------------------------------------
// Destinations that try to leave the rootfs (the class of CVE-2021-30465).

/// A host directory with one file, and a check that it still holds only that file.
fn host_target(env: &Env) -> PathBuf {
    let dir = env.dir().join("host-target");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("mark"), "host\n").unwrap();
    dir
}

fn assert_untouched(target: &Path) {
    let names: Vec<String> = fs::read_dir(target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["mark"], "the host dir {} changed", target.display());
    assert_eq!(fs::read_to_string(target.join("mark")).unwrap(), "host\n");
    let on_host: Vec<String> = host_mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| Path::new(p).starts_with(target))
        .collect();
    assert!(on_host.is_empty(), "mounts on the host: {on_host:?}");
}

#[test]
fn a_symlink_mount_destination_lands_inside_the_rootfs() {
    let env = Env::new("symlink_destination");
    let b = env.bundle("b");
    let target = host_target(&env);
    let src = env.dir().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("payload"), "payload\n").unwrap();
    let rootfs = b.rootfs();
    // Absolute symlinks to the host dir, and a relative one that climbs out.
    std::os::unix::fs::symlink(&target, rootfs.join("evil")).unwrap();
    std::os::unix::fs::symlink(target.join("file-link"), rootfs.join("evil-file")).unwrap();
    let climb = format!("../../../../../../../..{}", target.display());
    std::os::unix::fs::symlink(&climb, rootfs.join("evil-rel")).unwrap();
    let src_s = path_str(&src);
    let payload = src.join("payload");
    add_mounts(
        &b,
        json!([
            {"destination": "/evil/sub/t", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/evil/bound", "type": "bind", "source": src_s, "options": ["bind"]},
            {"destination": "/evil/file", "type": "bind", "source": path_str(&payload), "options": ["bind"]},
            {"destination": "/evil-file", "type": "bind", "source": path_str(&payload), "options": ["bind"]},
            {"destination": "/evil-rel/rel", "type": "bind", "source": src_s, "options": ["bind"]},
        ]),
    );
    // The container follows its own symlinks to the mounts.
    let (ok, out) = run_script(
        &env,
        &b,
        "cat /evil/bound/payload /evil/file /evil-file /evil-rel/rel/payload",
    );
    assert!(ok, "{out}");
    assert_eq!(out, "payload\n".repeat(4));
    assert_untouched(&target);

    // While it runs, the mounts sit where the symlinks lead inside its root, and
    // nowhere on the host.
    let id = b.id().to_string();
    let pid = run_detached(&env, &b, &id);
    assert_untouched(&target);
    let t = target.display().to_string();
    let mounts = parse_mountinfo(&common::mountinfo(pid));
    for point in ["sub/t", "bound", "file", "file-link", "rel"] {
        let p = format!("{t}/{point}");
        assert!(has_mount(&mounts, &p), "no mount at {p} in the container");
    }
    let inside = rootfs.join(target.strip_prefix("/").unwrap());
    assert!(inside.join("sub/t").is_dir(), "made inside the rootfs");
    // Through /proc/<pid>/root without symlinks: those would resolve on the host.
    let container_root = format!("/proc/{pid}/root{t}");
    for via in ["bound/payload", "file", "file-link", "rel/payload"] {
        let path = format!("{container_root}/{via}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "payload\n", "{path}");
    }
    env.hull_ok(&["delete", "-f", &id]);
    assert_untouched(&target);
}

#[test]
fn a_dotdot_mount_destination_lands_inside_the_rootfs() {
    let env = Env::new("dotdot_destination");
    let b = env.bundle("b");
    let target = host_target(&env);
    let src = env.dir().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("payload"), "payload\n").unwrap();
    let up = "/..".repeat(12);
    let t = target.display().to_string();
    add_mounts(
        &b,
        json!([
            {"destination": format!("{up}{t}/dd"), "type": "bind", "source": path_str(&src),
             "options": ["bind"]},
            {"destination": format!("/tmp/../..{t}/t"), "type": "tmpfs", "source": "tmpfs"},
        ]),
    );
    let id = b.id().to_string();
    let pid = run_detached(&env, &b, &id);
    assert_untouched(&target);
    let mounts = parse_mountinfo(&common::mountinfo(pid));
    assert!(has_mount(&mounts, &format!("{t}/dd")));
    assert!(has_mount(&mounts, &format!("{t}/t")));
    let inside = PathBuf::from(format!("/proc/{pid}/root{t}/dd/payload"));
    assert_eq!(fs::read_to_string(inside).unwrap(), "payload\n");
    env.hull_ok(&["delete", "-f", &id]);
    assert_untouched(&target);
}
