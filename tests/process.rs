//! The container's process as the kernel shows it from inside: args, env, cwd, user
//! and groups, umask, rlimits, the five capability sets, no_new_privs, oom_score_adj,
//! hostname and domain name, sysctls, stdio, and the descriptors it inherits (none of
//! hull's: the class of CVE-2024-21626). Where runc settles what is right, the same
//! bundle runs under runc too.

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{runc_available, runc_run, wait_for, Bundle, Env};
use serde_json::{json, Value};

/// `hull run` of the bundle with `args`; asserts success and returns stdout.
fn run(env: &Env, b: &Bundle, args: &[&str]) -> String {
    b.set_args(args);
    env.hull_ok(&["run", "-b", b.path_str(), b.id()])
}

/// `hull run` of the bundle with `args`, whatever its outcome.
fn run_any(env: &Env, b: &Bundle, args: &[&str]) -> Output {
    b.set_args(args);
    env.hull(&["run", "-b", b.path_str(), b.id()])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The value of `field` in a `/proc/<pid>/status` text, whitespace-normalised.
fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in:\n{status}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits for `child` at most 60 s; kills it (our own child, by its handle) after that.
fn wait_child(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `hull --root <state> <args>` with each file of `fds` open on the given
/// descriptor number *without* close-on-exec, the way a careless caller would start
/// hull; stdout and stderr go to files. Returns what hull did.
fn hull_with_fds(env: &Env, args: &[&str], fds: &[(&File, RawFd)]) -> Output {
    let n = env.unique_id("out");
    let out_path = env.dir().join(format!("{n}.stdout"));
    let err_path = env.dir().join(format!("{n}.stderr"));
    let mut command = env.command(args);
    command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let pairs: Vec<(RawFd, RawFd)> = fds.iter().map(|(f, to)| (f.as_raw_fd(), *to)).collect();
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2) on
    // descriptors this process owns; nothing allocates.
    unsafe {
        command.pre_exec(move || {
            // First out of the way (a source may sit on another pair's target), then
            // into place; dup2 leaves the copy without FD_CLOEXEC.
            let mut high = [0 as RawFd; 8];
            for (i, (from, _)) in pairs.iter().enumerate() {
                high[i] = libc::fcntl(*from, libc::F_DUPFD_CLOEXEC, 100);
                if high[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, (_, to)) in pairs.iter().enumerate() {
                if libc::dup2(high[i], *to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("spawn hull");
    let status = wait_child(&mut child, &format!("hull {}", args.join(" ")));
    Output {
        status,
        stdout: fs::read(&out_path).unwrap(),
        stderr: fs::read(&err_path).unwrap(),
    }
}

fn ok_stdout(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

// ---------------------------------------------------------------------------------------
// args, env, cwd.

#[test]
fn args_reach_the_process_unchanged() {
    let env = Env::new("args");
    let b = env.bundle("b");
    let out = run(
        &env,
        &b,
        &[
            "sh",
            "-c",
            "echo \"0=$0\"; for a; do echo \"[$a]\"; done",
            "zero",
            "a b",
            "",
            "c*",
            "$HOME",
        ],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["0=zero", "[a b]", "[]", "[c*]", "[$HOME]"]
    );
    // An absolute args[0] needs no PATH.
    b.edit(|c| c["process"]["env"] = json!([]));
    assert_eq!(run(&env, &b, &["/bin/echo", "abs"]).trim(), "abs");
}

#[test]
fn env_is_process_env_plus_home_from_etc_passwd() {
    let env = Env::new("env");
    let b = env.bundle("b");
    b.edit(|c| {
        c["process"]["env"] = json!(["FOO=bar baz", "PATH=/bin:/usr/bin", "EMPTY="]);
    });
    let lines = |out: String| {
        let mut v: Vec<String> = out.lines().map(String::from).collect();
        v.sort();
        v
    };
    // `env` is exec'd directly: it prints exactly the environment hull gave it.
    assert_eq!(
        lines(run(&env, &b, &["env"])),
        ["EMPTY=", "FOO=bar baz", "HOME=/root", "PATH=/bin:/usr/bin"]
    );
    // HOME follows the user: /etc/passwd's entry, or / when there is none.
    for (uid, home) in [(1000, "/home/hulltest"), (4242, "/")] {
        b.edit(|c| c["process"]["user"] = json!({"uid": uid, "gid": uid}));
        let env_out = lines(run(&env, &b, &["env"]));
        assert!(
            env_out.contains(&format!("HOME={home}")),
            "uid {uid}: {env_out:?}"
        );
    }
    // A HOME given in process.env is kept.
    b.edit(|c| c["process"]["env"] = json!(["PATH=/bin", "HOME=/custom"]));
    let env_out = lines(run(&env, &b, &["env"]));
    assert_eq!(env_out, ["HOME=/custom", "PATH=/bin"]);
}

#[test]
fn cwd_is_process_cwd_and_is_made_when_the_rootfs_lacks_it() {
    let env = Env::new("cwd");
    let b = env.bundle("b");
    b.edit(|c| c["process"]["cwd"] = "/tmp".into());
    let out = run(&env, &b, &["sh", "-c", "pwd; readlink /proc/self/cwd"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["/tmp", "/tmp"]);

    // runc makes a missing cwd, even under a read-only root.
    assert!(!b.rootfs().join("does").exists());
    b.edit(|c| c["process"]["cwd"] = "/does/not/exist".into());
    let out = run(&env, &b, &["sh", "-c", "pwd; readlink /proc/self/cwd"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/does/not/exist", "/does/not/exist"]
    );
    assert!(b.rootfs().join("does/not/exist").is_dir());
}

// ---------------------------------------------------------------------------------------
// User, umask, rlimits, capabilities, no_new_privs, oom_score_adj.

#[test]
fn user_uid_gid_and_additional_gids_apply() {
    let env = Env::new("user");
    let b = env.bundle("b");
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000]})
    });
    let out = run(&env, &b, &["sh", "-c", "id; cat /proc/self/status"]);
    let (id, status) = out.split_once('\n').unwrap();
    assert_eq!(
        id,
        "uid=1000(hulltest) gid=1000(hulltest) groups=2000(extra),3000"
    );
    assert_eq!(status_field(status, "Uid"), "1000 1000 1000 1000");
    assert_eq!(status_field(status, "Gid"), "1000 1000 1000 1000");
    assert_eq!(status_field(status, "Groups"), "2000 3000");

    // Root with no additional groups has none (not hull's own).
    b.edit(|c| c["process"]["user"] = json!({"uid": 0, "gid": 0}));
    let status = run(&env, &b, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&status, "Uid"), "0 0 0 0");
    assert_eq!(status_field(&status, "Groups"), "");
}

#[test]
fn umask_is_the_users_or_0022() {
    let env = Env::new("umask");
    let b = env.bundle("b");
    let status = run(&env, &b, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&status, "Umask"), "0022");
    b.edit(|c| c["process"]["user"]["umask"] = 0o027.into());
    let status = run(&env, &b, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&status, "Umask"), "0027");
}

#[test]
fn rlimits_are_set_for_the_process() {
    let env = Env::new("rlimits");
    let b = env.bundle("b");
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
            {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        ])
    });
    let limits = run(&env, &b, &["cat", "/proc/self/limits"]);
    let row = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{limits}"))[name.len()..]
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row("Max open files"), "1000 2000");
    assert_eq!(row("Max core file size"), "4096 8192");
    assert_eq!(row("Max processes"), "300 400");
}

/// A capability config in the spec's words, and the bits each set should show after
/// execve under the kernel's rules (capabilities(7)).
struct CapCase {
    user: Value,
    no_new_privileges: bool,
    caps: Value,
    want: [(&'static str, u64); 5],
}

const CHOWN: u64 = 1 << 0;
const KILL: u64 = 1 << 5;
const SETUID: u64 = 1 << 7;
const NET_BIND_SERVICE: u64 = 1 << 10;
const AUDIT_WRITE: u64 = 1 << 29;

fn cap_cases() -> Vec<CapCase> {
    vec![
        // A non-root user keeps only what is ambient (permitted and effective come from
        // it after execve); inheritable and bounding are kept as set.
        CapCase {
            user: json!({"uid": 1000, "gid": 1000}),
            no_new_privileges: true,
            caps: json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID",
                             "CAP_AUDIT_WRITE"],
                "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_NET_BIND_SERVICE"],
            }),
            want: [
                ("CapInh", KILL | NET_BIND_SERVICE),
                ("CapPrm", NET_BIND_SERVICE),
                ("CapEff", NET_BIND_SERVICE),
                (
                    "CapBnd",
                    CHOWN | KILL | SETUID | NET_BIND_SERVICE | AUDIT_WRITE,
                ),
                ("CapAmb", NET_BIND_SERVICE),
            ],
        },
        // Root under no_new_privs: execve cannot raise permitted above what it was.
        CapCase {
            user: json!({"uid": 0, "gid": 0}),
            no_new_privileges: true,
            caps: json!({
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN",
                             "CAP_SETUID"],
                "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
                "effective": ["CAP_KILL"],
                "inheritable": ["CAP_KILL"],
                "ambient": ["CAP_KILL"],
            }),
            want: [
                ("CapInh", KILL),
                ("CapPrm", KILL | NET_BIND_SERVICE | CHOWN),
                ("CapEff", KILL | NET_BIND_SERVICE | CHOWN),
                (
                    "CapBnd",
                    AUDIT_WRITE | KILL | NET_BIND_SERVICE | CHOWN | SETUID,
                ),
                ("CapAmb", KILL),
            ],
        },
    ]
}

#[test]
fn all_five_capability_sets_are_set_as_the_spec_asks() {
    let env = Env::new("capabilities");
    let b = env.bundle("b");
    let args = ["grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"];
    for (i, case) in cap_cases().into_iter().enumerate() {
        b.edit(|c| {
            c["process"]["user"] = case.user.clone();
            c["process"]["noNewPrivileges"] = case.no_new_privileges.into();
            c["process"]["capabilities"] = case.caps.clone();
            c["linux"]["cgroupsPath"] = env.cgroup_path(b.id()).into();
        });
        let status = run(&env, &b, &args);
        for (field, bits) in case.want {
            assert_eq!(
                status_field(&status, field),
                format!("{bits:016x}"),
                "case {i}: {field} in\n{status}"
            );
        }
        if runc_available() {
            let runc_id = env.unique_id("runc");
            let theirs = runc_run(&env, &b, &runc_id, &args);
            assert_eq!(status, theirs, "case {i}: hull and runc differ");
        }
    }
}

#[test]
fn no_new_privileges_sets_no_new_privs() {
    let env = Env::new("no_new_privs");
    let b = env.bundle("b");
    for (nnp, want) in [(true, "1"), (false, "0")] {
        b.edit(|c| c["process"]["noNewPrivileges"] = nnp.into());
        let status = run(&env, &b, &["cat", "/proc/self/status"]);
        assert_eq!(status_field(&status, "NoNewPrivs"), want, "nnp {nnp}");
    }
}

#[test]
fn oom_score_adj_is_applied() {
    let env = Env::new("oom_score_adj");
    let b = env.bundle("b");
    b.edit(|c| c["process"]["oomScoreAdj"] = 123.into());
    assert_eq!(
        run(&env, &b, &["cat", "/proc/self/oom_score_adj"]).trim(),
        "123"
    );
}

// ---------------------------------------------------------------------------------------
// Identity and sysctls.

#[test]
fn hostname_and_domainname_are_set_in_the_uts_namespace() {
    let env = Env::new("hostname");
    let b = env.bundle("b");
    b.edit(|c| {
        c["hostname"] = "box".into();
        c["domainname"] = "example.org".into();
    });
    let out = run(
        &env,
        &b,
        &[
            "sh",
            "-c",
            "hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname",
        ],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["box", "box", "example.org"]
    );
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "box", "the host's hostname changed");
}

/// `net.ipv4.ip_forward` (network namespace) and `kernel.shm_rmid_forced` (ipc
/// namespace), set to 1 in the container and read back there.
fn check_sysctls(env: &Env, b: &Bundle) {
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"})
    });
    let out = run_any(
        env,
        b,
        &[
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/shm_rmid_forced",
        ],
    );
    assert!(
        out.status.success(),
        "hull run with linux.sysctl failed: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), ["1", "1"]);
}

#[test]
fn sysctls_reach_the_containers_namespaces_only() {
    let env = Env::new("sysctl_writable");
    let b = env.bundle("b");
    // With /proc/sys writable, so that only the sysctl mechanism is tested here.
    b.edit(|c| c["linux"]["readonlyPaths"] = json!([]));
    let host_before = fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap();
    check_sysctls(&env, &b);
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap(),
        host_before,
        "the host's value changed"
    );
}

#[test]
fn sysctls_are_written_before_proc_sys_is_made_read_only() {
    let env = Env::new("sysctl_default");
    let b = env.bundle("b");
    // The default spec lists /proc/sys in readonlyPaths; runc writes sysctls first.
    assert!(b.config()["linux"]["readonlyPaths"]
        .as_array()
        .unwrap()
        .contains(&json!("/proc/sys")));
    check_sysctls(&env, &b);
}

// ---------------------------------------------------------------------------------------
// stdio and permissions.

#[test]
fn stdio_of_hull_run_is_the_containers() {
    let env = Env::new("stdio");
    let b = env.bundle("b");
    b.set_args(&[
        "sh",
        "-c",
        "read line; echo got:$line; echo to-stderr >&2; readlink /proc/self/fd/0",
    ]);
    let out_path = env.dir().join("stdout");
    let err_path = env.dir().join("stderr");
    let mut child = env
        .command(&["run", "-b", b.path_str(), b.id()])
        .stdin(Stdio::piped())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn hull run");
    let mut stdin = child.stdin.take().unwrap();
    let pipe_inode = fs::metadata(format!("/proc/self/fd/{}", stdin.as_raw_fd()))
        .unwrap()
        .ino();
    stdin.write_all(b"ping\n").unwrap();
    drop(stdin);
    let status = wait_child(&mut child, "hull run");
    let out = fs::read_to_string(&out_path).unwrap();
    let err = fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["got:ping", &format!("pipe:[{pipe_inode}]")],
        "the container's stdin is hull's pipe, its stdout hull's file"
    );
    assert_eq!(err, "to-stderr\n");
}

#[test]
fn a_non_root_user_cannot_read_a_root_only_file() {
    let env = Env::new("root_only_file");
    let b = env.bundle("b");
    let secret = b.rootfs().join("secret");
    fs::write(&secret, "root-only\n").unwrap();
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    assert_eq!(run(&env, &b, &["cat", "/secret"]), "root-only\n");
    b.edit(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    let out = run_any(&env, &b, &["cat", "/secret"]);
    assert!(!out.status.success());
    assert!(text(&out.stdout).is_empty());
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// Descriptors (CVE-2024-21626).

fn fd_list(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.split_whitespace().map(String::from).collect();
    v.sort_by_key(|s| s.parse::<u32>().unwrap_or(u32::MAX));
    v
}

#[test]
fn no_descriptor_of_the_host_reaches_the_container() {
    let env = Env::new("fd_leak");
    let b = env.bundle("b");
    let file = File::open(env.dir().join("state")).unwrap();
    let secret = env.dir().join("secret");
    fs::write(&secret, "host file\n").unwrap();
    let secret = File::open(&secret).unwrap();
    let dir = File::open("/sys/fs/cgroup").unwrap();
    let fds = [(&secret, 7), (&dir, 8), (&file, 3)];

    // `ls` is the process itself: it shows 0, 1, 2 and its own directory descriptor.
    b.set_args(&["ls", "/proc/self/fd"]);
    let out = hull_with_fds(&env, &["run", "-b", b.path_str(), b.id()], &fds);
    assert_eq!(fd_list(&ok_stdout(&out, "hull run")), ["0", "1", "2", "3"]);
    b.set_args(&["readlink", "/proc/self/cwd"]);
    let out = hull_with_fds(&env, &["run", "-b", b.path_str(), b.id()], &fds);
    assert_eq!(ok_stdout(&out, "hull run").trim(), "/");

    // Through create and start too: the exec'd process holds only its stdio.
    b.set_args(&["sleep", "1000"]);
    let out = hull_with_fds(&env, &["create", "-b", b.path_str(), b.id()], &fds);
    ok_stdout(&out, "hull create");
    let out = hull_with_fds(&env, &["start", b.id()], &fds);
    ok_stdout(&out, "hull start");
    let pid = env.pid(b.id());
    assert!(wait_for(
        || fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep"),
        Duration::from_secs(10)
    ));
    let held: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(fd_list(&held.join(" ")), ["0", "1", "2"]);
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    assert_eq!(
        cwd,
        std::path::Path::new("/"),
        "cwd as the container sees it"
    );
    let root = fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(root, std::path::Path::new("/"));
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn a_cwd_through_an_inherited_descriptor_does_not_leave_the_container() {
    let env = Env::new("fd_cwd");
    let b = env.bundle("b");
    let host_dir = env.dir().join("host-dir");
    fs::create_dir(&host_dir).unwrap();
    fs::write(host_dir.join("host-marker"), "").unwrap();
    let dir = File::open(&host_dir).unwrap();
    // The attack of CVE-2024-21626: a cwd naming a descriptor hull inherited.
    b.edit(|c| c["process"]["cwd"] = "/proc/self/fd/7".into());
    b.set_args(&["sh", "-c", "ls -a; readlink /proc/self/cwd"]);
    let out = hull_with_fds(&env, &["run", "-b", b.path_str(), b.id()], &[(&dir, 7)]);
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("host-marker"),
        "the process's cwd is the host dir:\n{stdout}"
    );
    if out.status.success() {
        let cwd = stdout.lines().last().unwrap_or_default();
        assert!(!cwd.contains("host-dir"), "cwd {cwd}");
    }
    assert!(
        !host_dir.join("proc").exists(),
        "nothing was made in the host dir"
    );
}

#[test]
fn preserve_fds_passes_exactly_that_many_descriptors_on() {
    let env = Env::new("preserve_fds");
    let b = env.bundle("b");
    let data = env.dir().join("data");
    fs::write(&data, "passed on\n").unwrap();
    let passed = File::open(&data).unwrap();
    let kept_back = File::open(&data).unwrap();
    let fds = [(&passed, 3), (&kept_back, 5)];
    b.set_args(&["sh", "-c", "cat <&3"]);
    let args = ["run", "--preserve-fds", "1", "-b", b.path_str(), b.id()];
    let out = hull_with_fds(&env, &args, &fds);
    assert_eq!(ok_stdout(&out, "hull run --preserve-fds 1"), "passed on\n");
    // 3 is passed; 4 is ls's own directory; 5 is not passed.
    b.set_args(&["ls", "/proc/self/fd"]);
    let out = hull_with_fds(&env, &args, &fds);
    assert_eq!(
        fd_list(&ok_stdout(&out, "hull run --preserve-fds 1")),
        ["0", "1", "2", "3", "4"]
    );
    // Without the flag, nothing beyond stdio.
    let out = hull_with_fds(&env, &["run", "-b", b.path_str(), b.id()], &fds);
    assert_eq!(fd_list(&ok_stdout(&out, "hull run")), ["0", "1", "2", "3"]);
}
