//! Rootless hull: an unprivileged user runs `hull spec --rootless` and `hull run` with
//! no root at all: a user namespace mapping only their own uid, state under
//! $XDG_RUNTIME_DIR/hull, no cgroup where none is delegated, /sys bound when a new
//! sysfs is not allowed. The test runs hull as a real unprivileged uid.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{hull_bin, wait_for, Env};
use serde_json::{json, Value};

/// A uid and gid with no account and no privilege on this machine.
const USER: u32 = 60_123;

struct Rootless<'a> {
    env: &'a Env,
    /// The hull binary run as the user.
    bin: PathBuf,
    bundle: PathBuf,
    xdg: PathBuf,
    uid: u32,
    gid: u32,
}

impl<'a> Rootless<'a> {
    /// A bundle owned by [`USER`], its config written by `hull spec --rootless` run as
    /// that user, and a runtime directory of theirs.
    fn new(env: &'a Env, edit: impl FnOnce(&mut Value)) -> Rootless<'a> {
        Rootless::new_as(env, USER, USER, edit)
    }

    /// As [`Rootless::new`], for the user `uid`:`gid`.
    fn new_as(env: &'a Env, uid: u32, gid: u32, edit: impl FnOnce(&mut Value)) -> Rootless<'a> {
        let top = env.dir().join("rootless");
        let bundle = top.join("bundle");
        std::fs::create_dir_all(&bundle).unwrap();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(common::rootfs_template())
            .arg(bundle.join("rootfs"))
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let xdg = top.join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        let ok = Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&top)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        // The env's own directory must let the user reach the bundle.
        std::fs::set_permissions(
            env.dir(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let r = Rootless {
            env,
            bin: hull_bin().to_path_buf(),
            bundle,
            xdg,
            uid,
            gid,
        };
        let out = r.hull(&["spec", "--rootless", "--bundle", r.bundle_str()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = r.bundle.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = false.into();
        edit(&mut config);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        r
    }

    fn bundle_str(&self) -> &str {
        self.bundle.to_str().unwrap()
    }

    /// Runs hull as [`USER`], with no --root: the state goes to $XDG_RUNTIME_DIR/hull.
    fn hull(&self, args: &[&str]) -> Output {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let out_path = self.env.dir().join(format!(".rl-out-{n}"));
        let err_path = self.env.dir().join(format!(".rl-err-{n}"));
        let status = Command::new(&self.bin)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .uid(self.uid)
            .gid(self.gid)
            .stdin(Stdio::null())
            // Files, not pipes: a detached container keeps its stdio.
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        let out = Output {
            status,
            stdout: std::fs::read(&out_path).unwrap(),
            stderr: std::fs::read(&err_path).unwrap(),
        };
        let _ = std::fs::remove_file(&out_path);
        let _ = std::fs::remove_file(&err_path);
        out
    }

    fn hull_ok(&self, args: &[&str]) -> String {
        let out = self.hull(args);
        assert!(
            out.status.success(),
            "hull {args:?} as uid {USER}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn state_root(&self) -> PathBuf {
        self.xdg.join("hull")
    }
}

fn uid_of(pid: i64) -> String {
    let status = common::read_proc_status(pid);
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn an_unprivileged_user_runs_a_container() {
    let env = Env::new("rootless_run");
    let r = Rootless::new(&env, |c| {
        c["process"]["args"] = json!(["sh", "-c", "id -u; hostname; echo $$; cat /proc/self/uid_map; ls /sys/kernel >/dev/null && echo sys-ok"]);
    });
    let id = env.unique_id("rl");
    let out = r.hull_ok(&["run", "-b", r.bundle_str(), &id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "root in the container: {out}");
    assert_eq!(lines[1], "hull");
    assert_eq!(lines[2], "1", "pid 1");
    let map: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(
        map,
        ["0", &USER.to_string(), "1"],
        "only the user's own uid is mapped"
    );
    assert_eq!(lines[4], "sys-ok", "/sys is there (bound from the host)");
    // The foreground run deleted the container; the state root is the user's, and
    // holds only the list index.
    assert!(r.state_root().is_dir());
    let left: Vec<_> = std::fs::read_dir(r.state_root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["@index"]);
}

/// A hull binary the user owns could be written by the user's containers: without the
/// right to make a read-only mount of it, rootless hull runs from a sealed memfd copy
/// (CVE-2019-5736), and containers run as before.
#[test]
fn a_hull_binary_the_user_owns_runs_from_a_sealed_copy() {
    let env = Env::new("rootless_own_binary");
    let mut r = Rootless::new(&env, |c| c["process"]["args"] = json!(["echo", "ran"]));
    let copy = env.dir().join("rootless").join("hull");
    std::fs::copy(hull_bin(), &copy).unwrap();
    std::os::unix::fs::chown(&copy, Some(USER), Some(USER)).unwrap();
    r.bin = copy;
    let id = env.unique_id("rl");
    assert_eq!(r.hull_ok(&["run", "-b", r.bundle_str(), &id]).trim(), "ran");
}

#[test]
fn lifecycle_without_root_and_without_cgroups() {
    let env = Env::new("rootless_lifecycle");
    let r = Rootless::new(&env, |c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = env.unique_id("rl");
    r.hull_ok(&["create", "-b", r.bundle_str(), &id]);
    assert!(
        r.state_root().join(&id).join("state.json").exists(),
        "state under $XDG_RUNTIME_DIR/hull"
    );
    r.hull_ok(&["start", &id]);
    let st: Value = serde_json::from_str(&r.hull_ok(&["state", &id])).unwrap();
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap();
    // On the host the container runs as the user, in no cgroup of hull's making.
    assert_eq!(uid_of(pid), USER.to_string());
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(!cg.contains(&id), "{cg}");
    assert!(r.hull_ok(&["list", "-q"]).lines().any(|l| l == id));
    // root's state root knows nothing of it.
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
    r.hull_ok(&["kill", &id, "KILL"]);
    assert!(wait_for(
        || r.hull_ok(&["state", &id]).contains("stopped"),
        std::time::Duration::from_secs(5)
    ));
    r.hull_ok(&["delete", &id]);
    // Gone, or a zombie waiting for the host's init to reap it.
    let gone =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "));
    assert!(gone, "the init outlived delete");
    assert!(!r.state_root().join(&id).exists());
}

#[test]
fn a_new_sysfs_falls_back_to_binding_the_hosts() {
    let env = Env::new("rootless_sysfs");
    let r = Rootless::new(&env, |c| {
        // Without a network namespace of its own, a user namespace may not mount
        // sysfs: hull binds the host's /sys instead, as runc does.
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]});
            }
        }
        c["process"]["args"] = json!(["sh", "-c", "ls /sys/kernel >/dev/null && echo sys-ok"]);
    });
    let id = env.unique_id("rl");
    assert_eq!(
        r.hull_ok(&["run", "-b", r.bundle_str(), &id]).trim(),
        "sys-ok"
    );
}

#[test]
fn limits_without_a_delegated_cgroup_are_refused_clearly() {
    let env = Env::new("rootless_limits");
    let r = Rootless::new(&env, |c| {
        c["linux"]["resources"] = json!({"pids": {"limit": 10}})
    });
    let id = env.unique_id("rl");
    let out = r.hull(&["create", "-b", r.bundle_str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("linux.resources.pids.limit") && err.contains("no cgroup"),
        "{err}"
    );
    assert!(!r.state_root().join(&id).exists());
}

/// The account scripts/setup.sh makes for this, with ranges in /etc/subuid and
/// /etc/subgid: newuidmap and newgidmap want a user name.
fn hull_rootless_account() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "hull-rootless"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "no hull-rootless account: run scripts/setup.sh"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

#[test]
fn several_ranges_go_through_newuidmap_and_newgidmap() {
    let env = Env::new("rootless_subids");
    let (uid, gid) = hull_rootless_account();
    let r = Rootless::new_as(&env, uid, gid, |c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": 300000, "size": 1000}
        ]);
        c["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": gid, "size": 1},
            {"containerID": 1, "hostID": 300000, "size": 1000}
        ]);
        c["process"]["args"] = json!(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]);
    });
    let id = env.unique_id("rl");
    let out = r.hull_ok(&["run", "-b", r.bundle_str(), &id]);
    let rows: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let want = [
        format!("0 {uid} 1"),
        "1 300000 1000".to_string(),
        format!("0 {gid} 1"),
        "1 300000 1000".to_string(),
    ];
    assert_eq!(rows, want, "{out}");
    // A range the user was not given is refused by newuidmap, and said so.
    let path = r.bundle.join("config.json");
    let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    c["linux"]["uidMappings"][1]["hostID"] = json!(900000);
    std::fs::write(&path, serde_json::to_vec(&c).unwrap()).unwrap();
    let out = r.hull(&["create", "-b", r.bundle_str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("newuidmap"), "{err}");
    assert!(!r.state_root().join(&id).exists());
}
