//! The container lifecycle from outside: spec, run, create → start → state → kill →
//! delete, list, and the same steps compared with runc on the same bundle.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{cgroup_v1_dirs, runc_available, wait_for, Bundle, Env};
use serde_json::Value;

#[test]
fn run_shows_isolated_hostname_and_pid_1() {
    let env = Env::new("run_hostname");
    let b = env.bundle("b");
    b.set_args(&["sh", "-c", "echo host=$(hostname) pid=$$"]);
    let out = env.hull_ok(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(out.trim(), "host=hull pid=1");
    // A foreground run deletes the container when it exits.
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn run_returns_exit_status_and_128_plus_signal() {
    let env = Env::new("run_exit");
    let b = env.bundle("b");
    b.set_args(&["sh", "-c", "exit 7"]);
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(out.status.code(), Some(7));
    b.set_args(&["sh", "-c", "kill -TERM $$; sleep 5"]);
    // pid 1 ignores signals it has no handler for: use a child of it instead.
    b.set_args(&["sh", "-c", "sh -c 'kill -KILL $$'; exit $?"]);
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "sh reports 128+9 for its killed child"
    );
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let env = Env::new("run_keep");
    let b = env.bundle("b");
    b.set_args(&["true"]);
    env.hull_ok(&["run", "--keep", "-b", b.path_str(), b.id()]);
    let st = env.state(b.id());
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    env.hull_ok(&["delete", b.id()]);
    assert!(env.hull(&["state", b.id()]).status.code() == Some(1));
}

#[test]
fn create_start_kill_delete() {
    let env = Env::new("lifecycle");
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    let pid_file = env.dir().join("pid");
    env.hull_ok(&[
        "create",
        "-b",
        b.path_str(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        b.id(),
    ]);
    let st = env.state(b.id());
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], b.id());
    assert_eq!(st["bundle"], b.path_str());
    let pid = st["pid"].as_i64().expect("pid");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // The init is waiting on the exec fifo: still hull, not yet sleep.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "hull");
    // It is in its cgroup in every v1 hierarchy (or the v2 one).
    let cg = env.cgroup_path(b.id());
    let dirs = cgroup_v1_dirs(&cg);
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{} lacks {pid}",
            d.display()
        );
    }

    env.hull_ok(&["start", b.id()]);
    assert!(wait_for(
        || std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep"),
        Duration::from_secs(5)
    ));
    assert_eq!(env.status(b.id()), "running");
    let again = env.hull(&["start", b.id()]);
    assert_eq!(again.status.code(), Some(1));

    // Not stopped: delete without --force refuses and changes nothing.
    let refused = env.hull(&["delete", b.id()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not stopped"));
    assert_eq!(env.status(b.id()), "running");

    env.hull_ok(&["kill", b.id(), "KILL"]);
    assert!(wait_for(
        || env.status(b.id()) == "stopped",
        Duration::from_secs(5)
    ));
    env.hull_ok(&["delete", b.id()]);
    assert!(!env.state_dir().join(b.id()).exists());
    for d in &dirs {
        assert!(!d.exists(), "{} not removed", d.display());
    }
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || status_is_zombie(pid));
}

fn status_is_zombie(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn delete_force_kills_a_running_container() {
    let env = Env::new("delete_force");
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let pid = env.state(b.id())["pid"].as_i64().unwrap();
    env.hull_ok(&["delete", "--force", b.id()]);
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || status_is_zombie(pid));
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn delete_of_a_created_container_kills_its_init() {
    let env = Env::new("delete_created");
    let b = env.bundle("b");
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    env.hull_ok(&["delete", b.id()]);
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn kill_sends_named_and_numbered_signals_and_all() {
    let env = Env::new("kill");
    let b = env.bundle("b");
    // The shell traps USR1 and writes a mark; pid 1 only gets signals it handles.
    b.set_args(&[
        "sh",
        "-c",
        "trap 'echo usr1 > /tmp/got' USR1; trap 'echo rt > /tmp/rt' 37; touch /tmp/ready; \
         while true; do sleep 0.1; done",
    ]);
    b.edit(|c| c["root"]["readonly"] = false.into());
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let ready = b.rootfs().join("tmp/ready");
    assert!(wait_for(|| ready.exists(), Duration::from_secs(5)));
    env.hull_ok(&["kill", b.id(), "SIGUSR1"]);
    let mark = b.rootfs().join("tmp/got");
    assert!(wait_for(|| mark.exists(), Duration::from_secs(5)));
    std::fs::remove_file(&mark).unwrap();
    env.hull_ok(&["kill", b.id(), &libc::SIGUSR1.to_string()]);
    assert!(wait_for(|| mark.exists(), Duration::from_secs(5)));
    let bad = env.hull(&["kill", b.id(), "SIGNOPE"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SIGNOPE"));
    // A real-time signal to every process (nix's Signal type has none of them).
    env.hull_ok(&["kill", "--all", b.id(), "RTMIN+3"]);
    let rt = b.rootfs().join("tmp/rt");
    assert!(
        wait_for(|| rt.exists(), Duration::from_secs(5)),
        "RTMIN+3 never arrived"
    );
    env.hull_ok(&["kill", "--all", b.id(), "KILL"]);
    assert!(wait_for(
        || env.status(b.id()) == "stopped",
        Duration::from_secs(5)
    ));
    let late = env.hull(&["kill", b.id(), "TERM"]);
    assert_eq!(late.status.code(), Some(1), "runc: container not running");
    // runc: --all signals whatever is left in the cgroup, here nothing.
    env.hull_ok(&["kill", "--all", b.id(), "TERM"]);
    env.hull_ok(&["delete", b.id()]);
}

#[test]
fn list_shows_every_container_in_table_and_json() {
    let env = Env::new("list");
    assert_eq!(env.hull_ok(&["list", "--format", "json"]).trim(), "null");
    let b = env.bundle("b");
    let ids = [env.unique_id("l"), env.unique_id("l")];
    for id in &ids {
        b.edit(|c| c["linux"]["cgroupsPath"] = env.cgroup_path(id).into());
        env.hull_ok(&["create", "-b", b.path_str(), id]);
    }
    let table = env.hull_ok(&["list"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    for id in &ids {
        // runc names the owner of the state directory: root here.
        assert!(table
            .lines()
            .any(|l| l.starts_with(id.as_str()) && l.ends_with("root")));
        assert!(table
            .lines()
            .any(|l| l.starts_with(id.as_str()) && l.contains("created")));
    }
    let json: Value = serde_json::from_str(&env.hull_ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["status"], "created");
    let quiet = env.hull_ok(&["list", "-q"]);
    assert_eq!(
        quiet.lines().collect::<Vec<_>>(),
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for id in &ids {
        env.hull_ok(&["delete", id]);
    }
}

/// `list` reads the root's index (`@index`): whatever saves, deletes and re-creates
/// run at once, and whatever happens to the index file, it says what `state` says.
#[test]
fn list_agrees_with_state_through_concurrent_saves_and_a_lost_index() {
    let env = Env::new("list_index");
    let bundles: Vec<Bundle> = (0..6).map(|i| env.bundle(&format!("b{i}"))).collect();
    for b in &bundles {
        b.set_args(&["sleep", "1000"]);
        env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    }
    let agree = || {
        let listed: Value =
            serde_json::from_str(&env.hull_ok(&["list", "--format", "json"])).unwrap();
        let listed = listed.as_array().cloned().unwrap_or_default();
        let got: Vec<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
        let mut want: Vec<&str> = bundles.iter().map(Bundle::id).collect();
        want.sort();
        assert_eq!(got, want);
        for c in &listed {
            let id = c["id"].as_str().unwrap();
            let st: Value = serde_json::from_str(&env.hull_ok(&["state", id])).unwrap();
            for field in ["status", "pid", "bundle", "created"] {
                assert_eq!(c[field], st[field], "{field} of {id}");
            }
        }
    };
    // Three threads each start one container, delete another and make it again,
    // while a fourth lists.
    std::thread::scope(|s| {
        for pair in bundles.chunks(2) {
            let env = &env;
            s.spawn(move || {
                env.hull_ok(&["start", pair[0].id()]);
                env.hull_ok(&["delete", "-f", pair[1].id()]);
                env.hull_ok(&["create", "-b", pair[1].path_str(), pair[1].id()]);
            });
        }
        s.spawn(|| {
            for _ in 0..10 {
                let out = env.hull(&["list", "--format", "json"]);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success() && stderr.is_empty(), "{stderr}");
            }
        });
    });
    agree();
    // Spoilt, the index is not believed: `list` reads the state files, and removes it
    // so that the next save builds it anew.
    let index = env.state_dir().join("@index");
    let mut text = std::fs::read(&index).unwrap();
    text.extend(b"{\"id\":\"\n{}\n");
    std::fs::write(&index, text).unwrap();
    agree();
    assert!(!index.exists());
    env.hull_ok(&["start", bundles[1].id()]);
    assert!(index.exists(), "built anew by the save of `start`");
    agree();
    // An init that dies is seen to have, whatever its record says.
    env.hull_ok(&["kill", bundles[0].id(), "KILL"]);
    assert!(wait_for(
        || env.status(bundles[0].id()) == "stopped",
        Duration::from_secs(5)
    ));
    agree();
    for b in &bundles {
        env.hull_ok(&["delete", "-f", b.id()]);
    }
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn concurrent_commands_never_see_a_torn_state() {
    let env = Env::new("concurrent");
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..20 {
                        let out = env.hull(&["state", b.id()]);
                        assert!(
                            out.status.success(),
                            "{}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        let v: Value = serde_json::from_slice(&out.stdout).expect("whole JSON");
                        assert!(v["status"] == "created" || v["status"] == "running");
                    }
                })
            })
            .collect();
        env.hull_ok(&["start", b.id()]);
        for r in readers {
            r.join().unwrap();
        }
    });
    // Two deletes at once: one wins, the other finds nothing; no error leaks.
    std::thread::scope(|s| {
        let a = s.spawn(|| env.hull(&["delete", "-f", b.id()]));
        let c = s.spawn(|| env.hull(&["delete", "-f", b.id()]));
        assert!(a.join().unwrap().status.success());
        assert!(c.join().unwrap().status.success());
    });
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn spec_writes_runcs_default_config() {
    let env = Env::new("spec");
    for rootless in [false, true] {
        let dir = env.dir().join(format!("spec-{rootless}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec!["spec", "--bundle", dir.to_str().unwrap()];
        if rootless {
            args.push("--rootless");
        }
        env.hull_ok(&args);
        let ours: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(ours["hostname"], "hull");
        assert_eq!(ours["process"]["args"][0], "sh");
        // Existing config.json is not overwritten.
        assert_eq!(env.hull(&args).status.code(), Some(1));
        if !runc_available() {
            continue;
        }
        let rdir = env.dir().join(format!("runc-spec-{rootless}"));
        std::fs::create_dir_all(&rdir).unwrap();
        let mut cmd = std::process::Command::new("runc");
        cmd.arg("spec").arg("--bundle").arg(&rdir);
        if rootless {
            cmd.arg("--rootless");
        }
        assert!(cmd.status().unwrap().success());
        let mut theirs: Value =
            serde_json::from_slice(&std::fs::read(rdir.join("config.json")).unwrap()).unwrap();
        theirs["hostname"] = "hull".into();
        assert_eq!(
            ours, theirs,
            "hull spec differs from runc spec (rootless={rootless})"
        );
    }
}

#[test]
fn state_matches_runc_on_the_same_bundle() {
    if !runc_available() {
        eprintln!("runc not installed: skipped");
        return;
    }
    let env = Env::new("state_vs_runc");
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    let runc_root = env.dir().join("runc-root");
    let runc_id = format!("{}-runc", b.id());
    // runc's container inherits stdio: give create files, not pipes that would stay open.
    let runc = |args: &[&str]| {
        let out = env.dir().join("runc.out");
        let err = env.dir().join("runc.err");
        let status = std::process::Command::new("runc")
            .arg("--root")
            .arg(&runc_root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        std::process::Output {
            status,
            stdout: std::fs::read(&out).unwrap(),
            stderr: std::fs::read(&err).unwrap(),
        }
    };
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    b.edit(|c| c["linux"]["cgroupsPath"] = env.cgroup_path(&runc_id).into());
    let out = runc(&["create", "-b", b.path_str(), &runc_id]);
    assert!(
        out.status.success(),
        "runc create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_slice(&runc(&["state", &runc_id]).stdout).unwrap();
    let ours = env.state(b.id());
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&ours), keys(&theirs));
    for field in ["status", "bundle", "rootfs", "owner"] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    // Both inits sit in the same place: pid 1 of a new pid namespace, blocked.
    let (hp, rp) = (
        ours["pid"].as_i64().unwrap(),
        theirs["pid"].as_i64().unwrap(),
    );
    let nspid = |p: i64| {
        common::read_proc_status(p)
            .lines()
            .find(|l| l.starts_with("NSpid"))
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(nspid(hp), "1");
    assert_eq!(nspid(rp), "1");
    assert!(runc(&["delete", "-f", &runc_id]).status.success());
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn features_describe_hull() {
    let env = Env::new("features");
    let v: Value = serde_json::from_str(&env.hull_ok(&["features"])).unwrap();
    assert_eq!(v["ociVersionMax"], "1.3.0");
    assert!(v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "time"));
    assert!(v["hooks"].as_array().unwrap().len() == 6);
}

#[test]
fn log_format_json_writes_runc_style_lines() {
    let env = Env::new("log_json");
    let log = env.dir().join("log.json");
    let out = env.hull(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("nope"));
    assert!(line["time"].is_string());
}

#[test]
fn foreground_run_forwards_signals_to_the_container() {
    let env = Env::new("run_signals");
    let b = env.bundle("b");
    b.edit(|c| c["root"]["readonly"] = false.into());
    b.set_args(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; touch /tmp/ready; while true; do sleep 0.1; done",
    ]);
    let mut child = env
        .command(&["run", "-b", b.path_str(), b.id()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = b.rootfs().join("tmp/ready");
    assert!(wait_for(|| ready.exists(), Duration::from_secs(10)));
    // Our own child, by pid: the foreground hull passes SIGTERM on to the container.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn debug_logs_the_time_of_each_phase() {
    let env = Env::new("debug_phases");
    let b = env.bundle("b");
    b.set_args(&["true"]);
    let log = env.dir().join("debug.log");
    let l = log.to_str().unwrap();
    env.hull_ok(&[
        "--debug",
        "--log",
        l,
        "--log-format",
        "json",
        "run",
        "-b",
        b.path_str(),
        b.id(),
    ]);
    let text = std::fs::read_to_string(&log).unwrap();
    let msgs: Vec<String> = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("json log line");
            assert_eq!(v["level"], "debug");
            v["msg"].as_str().unwrap().to_string()
        })
        .collect();
    for phase in [
        "create: parse config.json",
        "create: clone3",
        "create: id maps, cgroup v2 join",
        "run: start",
        "run: delete",
    ] {
        assert!(
            msgs.iter()
                .any(|m| m.starts_with(phase) && m.contains(" ms")),
            "{phase} missing in {msgs:?}"
        );
    }
    // Without --debug, nothing is logged.
    let b2 = env.bundle("b2");
    b2.set_args(&["true"]);
    let quiet = env.dir().join("quiet.log");
    env.hull_ok(&[
        "--log",
        quiet.to_str().unwrap(),
        "run",
        "-b",
        b2.path_str(),
        b2.id(),
    ]);
    assert!(!quiet.exists() || std::fs::read_to_string(&quiet).unwrap().is_empty());
}
