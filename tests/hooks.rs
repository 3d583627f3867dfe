//! The six OCI hook points, run by real containers: each hook is a shell script that
//! records what it was given (the state on stdin, its args and env) and which mount and
//! uts namespaces it ran in, and appends its name to a shared `order` file.
//!
//! Where the runtime-spec puts them: prestart, createRuntime, poststart and poststop
//! run in the runtime's namespaces; createContainer in the container's, before
//! pivot_root (its path is the host's); startContainer in the container's, after
//! pivot_root (its path is inside the rootfs).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{cgroup_v1_dirs, ns_inode, wait_for, Bundle, Env};
use serde_json::{json, Value};

/// The hook points in the order a container meets them.
const POINTS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Where the startContainer hook finds the script and the output directory, inside the
/// container.
const IN_CONTAINER_SCRIPT: &str = "/hook.sh";
const IN_CONTAINER_OUT: &str = "/hookout";

/// The recording hook: `hook.sh <point> <out dir>`; exits `$HOOK_EXIT` (0 if unset).
const SCRIPT: &str = r#"#!/bin/sh
point=$1
out=$2
cat > "$out/$point.state"
echo "$@" > "$out/$point.args"
env | sort > "$out/$point.env"
readlink /proc/self/ns/mnt > "$out/$point.mnt"
readlink /proc/self/ns/uts > "$out/$point.uts"
echo "$point" >> "$out/order"
exit ${HOOK_EXIT:-0}
"#;

fn write_script(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A bundle whose every hook point runs the recording script into `<env>/out`, which
/// the container sees at [`IN_CONTAINER_OUT`].
struct Hooked {
    bundle: Bundle,
    out: PathBuf,
}

impl Hooked {
    fn new(env: &Env, name: &str) -> Hooked {
        let bundle = env.bundle(name);
        let out = env.dir().join(format!("{name}-out"));
        fs::create_dir_all(&out).unwrap();
        let host_script = env.dir().join(format!("{name}-hook.sh"));
        write_script(&host_script, SCRIPT);
        write_script(
            &bundle
                .rootfs()
                .join(IN_CONTAINER_SCRIPT.trim_start_matches('/')),
            SCRIPT,
        );
        fs::create_dir_all(
            bundle
                .rootfs()
                .join(IN_CONTAINER_OUT.trim_start_matches('/')),
        )
        .unwrap();
        let hook = |point: &str| {
            let (path, out) = if point == "startContainer" {
                (
                    PathBuf::from(IN_CONTAINER_SCRIPT),
                    PathBuf::from(IN_CONTAINER_OUT),
                )
            } else {
                (host_script.clone(), out.clone())
            };
            json!({
                "path": path,
                "args": ["hook.sh", point, out],
                "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", format!("HOOK_POINT={point}")],
            })
        };
        let hooks: serde_json::Map<String, Value> = POINTS
            .iter()
            .map(|p| (p.to_string(), json!([hook(p)])))
            .collect();
        bundle.edit(|c| {
            c["hooks"] = Value::Object(hooks);
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": IN_CONTAINER_OUT,
                "type": "bind",
                "source": out,
                "options": ["rbind", "rw"],
            }));
        });
        Hooked { bundle, out }
    }

    fn order(&self) -> Vec<String> {
        fs::read_to_string(self.out.join("order"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn ran(&self, point: &str) -> bool {
        self.out.join(format!("{point}.uts")).exists()
    }

    fn read(&self, point: &str, what: &str) -> String {
        let path = self.out.join(format!("{point}.{what}"));
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{point} hook: {}: {e}", path.display()))
    }

    fn state(&self, point: &str) -> Value {
        let text = self.read(point, "state");
        serde_json::from_str(&text).unwrap_or_else(|e| {
            let start = text.len().saturating_sub(200);
            let tail = text.get(start..).unwrap_or_default();
            panic!(
                "{point} state of {} bytes, ending {tail:?}: {e}",
                text.len()
            )
        })
    }
}

/// Checks what one hook recorded: its state, args, env and namespaces.
/// `status` None: not checked (see `start_container_hook_is_given_the_created_state`).
fn check_hook(h: &Hooked, point: &str, status: Option<&str>, pid: i64, ns_pid: &str) {
    let b = &h.bundle;
    let st = h.state(point);
    assert_eq!(st["id"], b.id(), "{point} state id");
    if let Some(status) = status {
        assert_eq!(st["status"], status, "{point} state status: {st}");
    }
    assert_eq!(st["bundle"], b.path_str(), "{point} state bundle");
    assert_eq!(st["ociVersion"], "1.3.0", "{point} state ociVersion");
    if status != Some("stopped") {
        assert_eq!(
            st["pid"], pid,
            "{point} state pid (the init, as the host sees it)"
        );
    }
    let out = if point == "startContainer" {
        IN_CONTAINER_OUT.to_string()
    } else {
        h.out.display().to_string()
    };
    assert_eq!(
        h.read(point, "args").trim(),
        format!("{point} {out}"),
        "{point} args"
    );
    // The environment is the hook's `env` and nothing of hull's; the shell adds PWD.
    let env: BTreeSet<String> = h
        .read(point, "env")
        .lines()
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL="))
        .map(String::from)
        .collect();
    let want: BTreeSet<String> = [
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        format!("HOOK_POINT={point}"),
    ]
    .into();
    assert_eq!(env, want, "{point} env");
    for ns in ["mnt", "uts"] {
        assert_eq!(
            h.read(point, ns).trim(),
            ns_inode(ns_pid, ns),
            "{point} hook's {ns} namespace"
        );
    }
}

#[test]
fn every_hook_point_runs_at_its_moment_in_its_namespace() {
    let env = Env::new("hooks_all");
    let h = Hooked::new(&env, "b");
    let b = &h.bundle;
    b.set_args(&["sleep", "1000"]);

    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    assert_eq!(h.order(), ["prestart", "createRuntime", "createContainer"]);
    let pid = env.state(b.id())["pid"].as_i64().unwrap();
    let init = pid.to_string();
    // The init's mount namespace is the container's, and not the host's.
    assert_ne!(ns_inode(pid, "mnt"), ns_inode("self", "mnt"));
    check_hook(&h, "prestart", Some("creating"), pid, "self");
    check_hook(&h, "createRuntime", Some("creating"), pid, "self");
    check_hook(&h, "createContainer", Some("creating"), pid, &init);

    env.hull_ok(&["start", b.id()]);
    // poststart runs before `start` returns; startContainer just before the execve,
    // which may come a moment later (runc has the same race).
    assert!(h.ran("poststart"), "poststart ran before start returned");
    assert!(wait_for(|| h.ran("startContainer"), Duration::from_secs(5)));
    assert!(wait_for(
        || fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep"),
        Duration::from_secs(5)
    ));
    let order = h.order();
    assert_eq!(order[..3], ["prestart", "createRuntime", "createContainer"]);
    assert_eq!(
        order[3..].iter().cloned().collect::<BTreeSet<_>>(),
        ["poststart".to_string(), "startContainer".to_string()].into(),
        "order {order:?}"
    );
    check_hook(&h, "startContainer", None, pid, &init);
    check_hook(&h, "poststart", Some("running"), pid, "self");
    assert!(!h.ran("poststop"));

    env.hull_ok(&["kill", b.id(), "KILL"]);
    assert!(wait_for(
        || env.state(b.id())["status"] == "stopped",
        Duration::from_secs(5)
    ));
    assert!(!h.ran("poststop"), "poststop runs at delete, not at exit");
    env.hull_ok(&["delete", b.id()]);
    assert_eq!(h.order().last().map(String::as_str), Some("poststop"));
    assert_eq!(h.order().len(), 6);
    check_hook(&h, "poststop", Some("stopped"), pid, "self");
}

#[test]
fn start_container_hook_is_given_the_created_state() {
    let env = Env::new("hooks_start_state");
    let h = Hooked::new(&env, "b");
    let b = &h.bundle;
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    assert!(wait_for(|| h.ran("startContainer"), Duration::from_secs(5)));
    let st = h.state("startContainer");
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["pid"], env.state(b.id())["pid"], "{st}");
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// A hook script that records the pid of the state it is given into `<out>/pid`, then
/// runs `body`.
fn recording_hook(env: &Env, name: &str, body: &str) -> (PathBuf, PathBuf) {
    let out = env.dir().join(format!("{name}-out"));
    fs::create_dir_all(&out).unwrap();
    let script = env.dir().join(format!("{name}.sh"));
    write_script(
        &script,
        &format!(
            "#!/bin/sh\nout={}\ncat > $out/state\n\
             sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/' $out/state > $out/pid\n{body}\n",
            out.display()
        ),
    );
    (script, out)
}

/// The create failed and left nothing: no state, no cgroup, no init process.
fn assert_nothing_left(env: &Env, b: &Bundle, out: &Path) {
    assert!(
        !env.state_dir().join(b.id()).exists(),
        "state directory left"
    );
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
    let dirs = cgroup_v1_dirs(&env.cgroup_path(b.id()));
    assert!(dirs.is_empty(), "cgroups left: {dirs:?}");
    let pid = fs::read_to_string(out.join("pid")).expect("the hook recorded the init's pid");
    let pid = pid.trim();
    assert!(pid.parse::<u32>().is_ok_and(|p| p > 0), "pid {pid:?}");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the init {pid} is still there"
    );
}

fn gone(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
    })
}

#[test]
fn failing_create_time_hook_fails_create_and_leaves_nothing() {
    let env = Env::new("hooks_create_fails");
    for point in ["prestart", "createRuntime", "createContainer"] {
        let b = env.bundle(point);
        let (script, out) = recording_hook(&env, point, "exit 7");
        b.edit(|c| c["hooks"] = json!({ point: [{"path": script}] }));
        let res = env.hull(&["create", "-b", b.path_str(), b.id()]);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(1), "{point}: stderr: {stderr}");
        assert!(
            stderr.contains(&format!("{point} hook")) && stderr.contains("exit status 7"),
            "the error names the hook and its status: {stderr}"
        );
        assert_nothing_left(&env, &b, &out);
    }
}

#[test]
fn hook_running_past_its_timeout_is_killed_and_fails_create() {
    let env = Env::new("hooks_timeout");
    let b = env.bundle("b");
    // The hook's own child must not outlive it either.
    let (script, out) = recording_hook(
        &env,
        "slow",
        "echo $$ > $out/hook\nsleep 60 &\necho $! > $out/child\nwait",
    );
    b.edit(|c| c["hooks"] = json!({"createRuntime": [{"path": script, "timeout": 1}]}));
    let started = Instant::now();
    let res = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(took < Duration::from_secs(10), "create took {took:?}");
    assert_nothing_left(&env, &b, &out);
    for who in ["hook", "child"] {
        let pid = fs::read_to_string(out.join(who)).unwrap();
        let pid = pid.trim();
        assert!(
            wait_for(|| gone(pid), Duration::from_secs(2)),
            "the timed-out hook's {who} process {pid} is still running"
        );
    }
}

#[test]
fn failing_poststart_hook_only_warns_and_the_next_one_still_runs() {
    let env = Env::new("hooks_poststart_fails");
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    let (failing, _) = recording_hook(&env, "fail", "exit 3");
    let (next, next_out) = recording_hook(&env, "next", "true");
    b.edit(|c| c["hooks"] = json!({"poststart": [{"path": failing}, {"path": next}]}));
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let res = env.hull(&["start", b.id()]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "start failed: {stderr}");
    assert!(
        stderr.contains("poststart") && stderr.contains("exit status 3"),
        "a warning names the hook: {stderr}"
    );
    assert_eq!(env.state(b.id())["status"], "running");
    assert!(
        next_out.join("state").exists(),
        "runtime-spec: the remaining poststart hooks run after a failure"
    );
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn poststop_hooks_run_when_a_foreground_run_deletes_its_container() {
    let env = Env::new("hooks_poststop");
    let b = env.bundle("b");
    b.set_args(&["sh", "-c", "exit 4"]);
    let (failing, _) = recording_hook(&env, "fail", "exit 5");
    let (next, next_out) = recording_hook(&env, "next", "true");
    b.edit(|c| c["hooks"] = json!({"poststop": [{"path": failing}, {"path": next}]}));
    let res = env.hull(&["run", "-b", b.path_str(), b.id()]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    // The container's status, not the hook's.
    assert_eq!(res.status.code(), Some(4), "stderr: {stderr}");
    assert!(
        stderr.contains("poststop"),
        "a warning names the hook: {stderr}"
    );
    let st: Value = serde_json::from_str(&fs::read_to_string(next_out.join("state")).unwrap())
        .expect("the second poststop hook ran");
    assert_eq!(st["id"], b.id());
    assert_eq!(st["status"], "stopped");
    assert!(!env.state_dir().join(b.id()).exists());
}

#[test]
fn hooks_get_the_whole_state_even_with_large_annotations() {
    let env = Env::new("hooks_big_state");
    let h = Hooked::new(&env, "b");
    let b = &h.bundle;
    // Kubernetes allows 256 KiB of annotations; the state carries them all.
    let big = "x".repeat(100_000);
    b.edit(|c| c["annotations"] = json!({ "big": big }));
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    for point in ["createRuntime", "createContainer"] {
        let st = h.state(point);
        assert_eq!(
            st["annotations"]["big"].as_str().map(str::len),
            Some(big.len()),
            "{point}"
        );
    }
    env.hull_ok(&["delete", b.id()]);
}
