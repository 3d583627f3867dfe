//! Seccomp: `linux.seccomp` profiles on real busybox containers. A profile as large as
//! Docker's default one, every action, argument conditions with every operator,
//! defaultErrnoRet, filter flags, exec'd processes, the SCMP_ACT_NOTIFY hand-over to an
//! agent, and a profile that forbids what hull's own set-up needs (the filter is loaded
//! last, as runc does). Bad profiles fail `create` with the JSON path, leaving nothing.

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Bundle, Env};
use serde_json::{json, Value};

/// Docker's default profile for a container without extra capabilities, in the
/// runtime-spec's form: 350-odd system calls allowed, the rest EPERM.
fn docker_profile() -> Value {
    serde_json::from_str(include_str!("fixtures/seccomp-docker-default.json"))
        .expect("the fixture is JSON")
}

/// Removes `names` from every rule of `profile`.
fn without(profile: &mut Value, names: &[&str]) {
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        rule["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| !names.contains(&n.as_str().unwrap()));
    }
}

fn add_rule(profile: &mut Value, rule: Value) {
    profile["syscalls"].as_array_mut().unwrap().push(rule);
}

/// A bundle with a writable root and `profile` as its `linux.seccomp`.
fn bundle_with(env: &Env, profile: &Value) -> Bundle {
    let b = env.bundle("b");
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["linux"]["seccomp"] = profile.clone();
    });
    b
}

/// `hull run` of `sh -c script` in the bundle, to the end.
fn run_sh(env: &Env, b: &Bundle, script: &str) -> Output {
    b.set_args(&["sh", "-c", script]);
    env.hull(&["run", "-b", b.path_str(), b.id()])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that the run succeeded; returns its stdout.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "hull run failed: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The init of a container started with `run -d`, once it has executed `comm`: `start`
/// returns when the init leaves the exec fifo, a moment before the filter is loaded.
fn started_init(env: &Env, id: &str, comm: &str) -> i32 {
    let pid = env.pid(id) as i32;
    let executed = common::wait_for(
        || std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm),
        Duration::from_secs(10),
    );
    assert!(executed, "the init of {id} did not execute {comm}");
    pid
}

fn seccomp_mode(pid: impl std::fmt::Display) -> String {
    common::read_proc_status(pid)
        .lines()
        .find(|l| l.starts_with("Seccomp:"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn docker_default_profile_runs_busybox_and_denies_what_it_blocks() {
    let env = Env::new("docker_profile");
    let mut p = docker_profile();
    without(&mut p, &["mkdir", "mkdirat", "uname"]);
    add_rule(
        &mut p,
        json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}),
    );
    add_rule(
        &mut p,
        json!({"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}),
    );
    let b = bundle_with(&env, &p);
    // Everyday work: files, pipes, children, signals, /proc.
    let out = run_sh(
        &env,
        &b,
        "grep Seccomp: /proc/self/status; echo hello > /tmp/f; cat /tmp/f | wc -c; \
         ls / | grep -c etc; ps >/dev/null && echo ps-ok; sleep 0.01 && echo sleep-ok; \
         (exit 3); echo sub=$?; kill -0 $$ && echo kill-ok; \
         mkdir /tmp/d; echo mkdir=$?; uname; echo uname=$?",
    );
    let stdout = ok(&out);
    let stderr = text(&out.stderr);
    assert!(stdout.contains("Seccomp:\t2"), "{stdout}");
    // busybox's uname ignores the failure of the call: it prints empty fields.
    for want in [
        "\n6\n",
        "\n1\n",
        "ps-ok",
        "sleep-ok",
        "sub=3",
        "kill-ok",
        "mkdir=1\n\nuname=0",
    ] {
        assert!(stdout.contains(want), "{want:?} not in {stdout:?}");
    }
    assert!(
        stderr.contains("can't create directory '/tmp/d': Permission denied"),
        "{stderr}"
    );
    assert!(!b.rootfs().join("tmp/d").exists());
    // runc's own test: personality values are alternatives on one argument.
    let out = run_sh(
        &env,
        &b,
        "linux32 uname -m >/dev/null 2>&1; linux32 true && echo linux32-ok",
    );
    assert!(ok(&out).contains("linux32-ok"));
}

#[test]
fn default_errno_ret_is_what_unlisted_system_calls_return() {
    let env = Env::new("default_errno");
    let mut p = docker_profile();
    without(&mut p, &["mkdir", "mkdirat"]);
    p["defaultErrnoRet"] = json!(libc::EXDEV);
    let b = bundle_with(&env, &p);
    let out = run_sh(&env, &b, "mkdir /tmp/d; echo mkdir=$?");
    assert!(ok(&out).contains("mkdir=1"));
    assert!(
        text(&out.stderr).contains("Invalid cross-device link"),
        "{}",
        text(&out.stderr)
    );
    // Without defaultErrnoRet: EPERM, as runc.
    p.as_object_mut().unwrap().remove("defaultErrnoRet");
    b.edit(|c| c["linux"]["seccomp"] = p.clone());
    let out = run_sh(&env, &b, "mkdir /tmp/d; echo mkdir=$?");
    assert!(ok(&out).contains("mkdir=1"));
    assert!(text(&out.stderr).contains("Operation not permitted"));
}

#[test]
fn every_operator_matches_the_argument_it_names() {
    let env = Env::new("operators");
    // busybox linux32 calls personality(PER_LINUX32 = 8), linux64 personality(0).
    let cases = [
        // (op, value, valueTwo, linux32 blocked, linux64 blocked)
        ("SCMP_CMP_EQ", 8, None, true, false),
        ("SCMP_CMP_NE", 0, None, true, false),
        ("SCMP_CMP_GT", 0, None, true, false),
        ("SCMP_CMP_GE", 8, None, true, false),
        ("SCMP_CMP_LT", 8, None, false, true),
        ("SCMP_CMP_LE", 0, None, false, true),
        ("SCMP_CMP_MASKED_EQ", 0xc, Some(8), true, false),
        ("SCMP_CMP_MASKED_EQ", 0x8, Some(0), false, true),
    ];
    let b = env.bundle("b");
    b.set_args(&[
        "sh",
        "-c",
        "linux32 true 2>/dev/null; echo linux32=$?; linux64 true 2>/dev/null; echo linux64=$?",
    ]);
    for (op, value, value_two, blocks32, blocks64) in cases {
        let mut arg = json!({"index": 0, "value": value, "op": op});
        if let Some(v2) = value_two {
            arg["valueTwo"] = json!(v2);
        }
        b.edit(|c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                              "args": [arg]}]
            })
        });
        let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
        let stdout = ok(&out);
        let want = format!(
            "linux32={}\nlinux64={}\n",
            u8::from(blocks32),
            u8::from(blocks64)
        );
        assert_eq!(stdout, want, "{op} {value} {value_two:?}");
    }
}

#[test]
fn conditions_on_two_arguments_must_both_hold() {
    let env = Env::new("two_args");
    let b = env.bundle("b");
    // EACCES for kill(pid > 1, SIGUSR1) only: both conditions must hold. The shell is
    // pid 1 of the container.
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GT"},
                                   {"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}]
        })
    });
    let out = run_sh(
        &env,
        &b,
        "trap 'echo usr1' USR1; kill -USR1 1; \
         sleep 1000 & kill -USR2 $!; echo usr2=$?; \
         sleep 1000 & kill -USR1 $!; echo blocked=$?; kill -9 $!",
    );
    let stdout = ok(&out);
    assert!(stdout.contains("usr1\n"), "{stdout}");
    assert!(stdout.contains("usr2=0"), "{stdout}");
    assert!(stdout.contains("blocked=1"), "{stdout}");
    assert!(text(&out.stderr).contains("Permission denied"));
}

#[test]
fn kill_trap_trace_and_log_actions() {
    let env = Env::new("actions");
    let b = env.bundle("b");
    b.set_args(&["uname"]);
    let profile = |action: &str| {
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["uname"], "action": action}]})
    };
    // Death by SIGSYS: hull run says 128 + 31.
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
    ] {
        b.edit(|c| c["linux"]["seccomp"] = profile(action));
        let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
        assert_eq!(
            out.status.code(),
            Some(159),
            "{action}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{action}");
    }
    // TRACE without a tracer: the call fails (ENOSYS), which busybox's uname ignores
    // and prints empty fields.
    b.edit(|c| c["linux"]["seccomp"] = profile("SCMP_ACT_TRACE"));
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(ok(&out), "\n");
    // LOG and ALLOW: the call goes through.
    for action in ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"] {
        b.edit(|c| c["linux"]["seccomp"] = profile(action));
        let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
        assert_eq!(ok(&out), "Linux\n", "{action}");
    }
}

#[test]
fn unknown_system_call_name_is_skipped_with_a_warning() {
    let env = Env::new("unknown_name");
    let b = env.bundle("b");
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["hull_no_such_call", "mkdir", "mkdirat"],
                          "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV}]
        })
    });
    let out = run_sh(&env, &b, "mkdir /tmp/d; echo mkdir=$?");
    assert!(ok(&out).contains("mkdir=1"));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Invalid cross-device link"), "{stderr}");
    let warning: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("hull_no_such_call"))
        .collect();
    assert_eq!(warning.len(), 1, "{stderr}");
    assert!(warning[0].contains("warning"), "{stderr}");
    assert!(warning[0].contains("linux.seccomp"), "{stderr}");
}

/// The filter's flags as the kernel keeps them (`PTRACE_SECCOMP_GET_METADATA`: only
/// SECCOMP_FILTER_FLAG_LOG is recorded).
fn filter_flags(pid: i32) -> u64 {
    const PTRACE_SECCOMP_GET_METADATA: libc::c_uint = 0x420d;
    // struct seccomp_metadata: filter_off, flags.
    let mut md = [0u64; 2];
    // SAFETY: ptrace with integer arguments and, for the metadata, a pointer to a
    // buffer of the size passed; the tracee is detached before returning.
    unsafe {
        assert_eq!(
            libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0),
            0,
            "seize {pid}"
        );
        assert_eq!(libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0), 0);
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, libc::__WALL), pid);
        let ret = libc::ptrace(
            PTRACE_SECCOMP_GET_METADATA,
            pid,
            std::mem::size_of_val(&md),
            md.as_mut_ptr(),
        );
        let err = std::io::Error::last_os_error();
        libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
        assert!(ret > 0, "PTRACE_SECCOMP_GET_METADATA: {err}");
    }
    md[1]
}

#[test]
fn filter_flags_are_set_and_unsupported_ones_refused() {
    let env = Env::new("flags");
    let features: Value = serde_json::from_str(&env.hull_ok(&["features"])).unwrap();
    let supported: Vec<String> =
        serde_json::from_value(features["linux"]["seccomp"]["supportedFlags"].clone()).unwrap();
    let b = env.bundle("b");
    b.set_args(&["sleep", "100000"]);
    let with_flags = |flags: &[&str]| {
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": flags,
               "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO"}]})
    };
    for (flags, log) in [
        (
            vec![
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC",
            ],
            true,
        ),
        (vec![], false),
    ] {
        b.edit(|c| c["linux"]["seccomp"] = with_flags(&flags));
        env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
        let pid = started_init(&env, b.id(), "sleep");
        assert_eq!(seccomp_mode(pid), "Seccomp: 2");
        let kept = filter_flags(pid);
        assert_eq!(
            kept & 2 != 0,
            log,
            "flags {flags:?}: kernel keeps {kept:#x}"
        );
        env.hull_ok(&["delete", "-f", b.id()]);
    }
    let wait_killable = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";
    b.edit(|c| c["linux"]["seccomp"] = with_flags(&[wait_killable]));
    if supported.iter().any(|f| f == wait_killable) {
        env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
        env.hull_ok(&["delete", "-f", b.id()]);
    } else {
        create_fails(&env, &b, &["linux.seccomp.flags[0]", wait_killable]);
    }
}

#[test]
fn exec_gets_the_containers_filter() {
    let env = Env::new("exec");
    let b = env.bundle("b");
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": libc::EXDEV}]
        })
    });
    b.set_args(&["sleep", "100000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    assert_eq!(
        seccomp_mode(started_init(&env, b.id(), "sleep")),
        "Seccomp: 2"
    );
    let out = env.hull(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/d; echo mkdir=$?",
    ]);
    let stdout = ok(&out);
    assert!(stdout.contains("Seccomp:\t2"), "{stdout}");
    assert!(stdout.contains("mkdir=1"), "{stdout}");
    assert!(text(&out.stderr).contains("Invalid cross-device link"));
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn profile_forbidding_hulls_own_set_up_still_starts_the_container() {
    let env = Env::new("setup_calls");
    // What hull's set-up does before the process runs: mounts, pivot_root, /dev,
    // hostname, keyring, namespaces, user, groups and capabilities.
    let setup = [
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "open_tree",
        "move_mount",
        "mount_setattr",
        "fsopen",
        "fsconfig",
        "fsmount",
        "sethostname",
        "setdomainname",
        "keyctl",
        "unshare",
        "setns",
        "mknod",
        "mknodat",
        "mkdir",
        "mkdirat",
        "symlink",
        "symlinkat",
        "openat2",
        "fchown",
        "fchownat",
    ];
    let privilege = ["setgroups", "setresuid", "setresgid", "capset", "prctl"];
    // With no_new_privs the filter goes in last: even the privilege changes may be
    // forbidden.
    let b = env.bundle("b");
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = true.into();
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": setup, "action": "SCMP_ACT_ERRNO",
                          "errnoRet": libc::EREMOTEIO},
                         {"names": privilege, "action": "SCMP_ACT_ERRNO",
                          "errnoRet": libc::EREMOTEIO}]
        })
    });
    let script = "grep Seccomp: /proc/self/status; hostname; mkdir /tmp/x; echo mkdir=$?";
    let out = run_sh(&env, &b, script);
    let stdout = ok(&out);
    assert!(stdout.contains("Seccomp:\t2\nhull\nmkdir=1"), "{stdout}");
    assert!(text(&out.stderr).contains("Remote I/O error"));
    // Without no_new_privs the kernel wants CAP_SYS_ADMIN to take the filter: it goes in
    // before the user and capabilities change, after everything else; the process is
    // a user without capabilities and keeps no_new_privs off.
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = false.into();
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["linux"]["seccomp"]["syscalls"]
            .as_array_mut()
            .unwrap()
            .truncate(1);
    });
    let out = run_sh(
        &env,
        &b,
        "grep -E 'Seccomp:|NoNewPrivs:|Uid:' /proc/self/status; hostname; \
         mkdir /tmp/x; echo mkdir=$?",
    );
    let stdout = ok(&out);
    for want in [
        "Seccomp:\t2",
        "NoNewPrivs:\t0",
        "Uid:\t1000",
        "hull\n",
        "mkdir=1",
    ] {
        assert!(stdout.contains(want), "{want:?} not in {stdout}");
    }
    assert!(text(&out.stderr).contains("Remote I/O error"));
}

#[test]
fn no_new_privs_off_with_docker_profile_and_a_plain_user() {
    let env = Env::new("docker_user");
    let b = bundle_with(&env, &docker_profile());
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = false.into();
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [2000]});
    });
    let out = run_sh(
        &env,
        &b,
        "grep -E 'Seccomp:|NoNewPrivs:' /proc/self/status; id",
    );
    let stdout = ok(&out);
    assert!(stdout.contains("Seccomp:\t2"), "{stdout}");
    assert!(stdout.contains("NoNewPrivs:\t0"), "{stdout}");
    assert!(stdout.contains("uid=1000"), "{stdout}");
}

/// The agent's side of one connection: the containerProcessState and the descriptor.
fn receive_state(conn: &UnixStream) -> (Value, OwnedFd) {
    let (payload, fd) = common::recv_with_fd(conn);
    let state = serde_json::from_slice(&payload).expect("the state is JSON");
    (state, fd)
}

/// Waits for one notification on `fd` and answers it with `errno`; returns the number
/// of the system call and the pid that made it.
fn answer_one(fd: &OwnedFd, errno: i32) -> (i32, u32) {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, 30_000) };
    assert_eq!(ready, 1, "no notification in 30 s");
    // SAFETY: the kernel wants a zeroed seccomp_notif to fill.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: SECCOMP_IOCTL_NOTIF_RECV fills the struct passed.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
    assert_eq!(ret, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: -errno,
        flags: 0,
    };
    // SAFETY: SECCOMP_IOCTL_NOTIF_SEND reads the struct passed.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    assert_eq!(ret, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    (req.data.nr, req.pid)
}

fn accept(listener: &UnixListener, deadline: Instant) -> UnixStream {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                return conn;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn notify_hands_the_listener_fd_and_state_to_the_agent() {
    let env = Env::new("notify");
    let sock = env.dir().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let b = env.bundle("b");
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["annotations"] = json!({"org.example/key": "value"});
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "hello agent",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        })
    });
    // The init's own mkdir is answered by the agent; the exec's too, on its own fd.
    b.set_args(&[
        "sh",
        "-c",
        "mkdir /tmp/a; echo init-mkdir=$? > /tmp/out; sleep 100000",
    ]);
    let id = b.id().to_string();
    let agent = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        for errno in [libc::EXDEV, libc::EREMOTEIO] {
            let mut conn = accept(&listener, deadline);
            let (state, fd) = receive_state(&conn);
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
            let (nr, caller) = answer_one(&fd, errno);
            // One state per connection, then the end of it.
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest)
                .expect("hull closes the connection");
            assert!(rest.is_empty());
            seen.push((state, link.to_string_lossy().into_owned(), nr, caller));
        }
        seen
    });
    env.hull_ok(&["run", "-d", "-b", b.path_str(), &id]);
    let init = env.pid(&id) as i32;
    let out = env.hull(&["exec", &id, "mkdir", "/tmp/b"]);
    let seen = agent.join().expect("the agent saw both connections");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Remote I/O error"),
        "{}",
        text(&out.stderr)
    );
    assert!(common::wait_for(
        || std::fs::read_to_string(b.rootfs().join("tmp/out")).is_ok_and(|s| s.contains('=')),
        Duration::from_secs(10)
    ));
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/out")).unwrap(),
        "init-mkdir=1\n"
    );
    assert!(!b.rootfs().join("tmp/a").exists() && !b.rootfs().join("tmp/b").exists());

    for (state, link, nr, _) in &seen {
        assert_eq!(state["fds"], json!(["seccompFd"]));
        assert_eq!(state["metadata"], "hello agent");
        assert!(state["ociVersion"].is_string());
        assert_eq!(state["state"]["id"], id.as_str());
        assert_eq!(state["state"]["pid"], init);
        assert_eq!(state["state"]["status"], "running");
        assert_eq!(state["state"]["annotations"]["org.example/key"], "value");
        assert!(link.contains("seccomp notify"), "{link}");
        assert!(
            *nr as i64 == libc::SYS_mkdir || *nr as i64 == libc::SYS_mkdirat,
            "{nr}"
        );
    }
    // The init's message names the init; the exec's names the exec'd process.
    assert_eq!(seen[0].0["pid"], init);
    assert_ne!(seen[1].0["pid"], init);
    // The init's mkdir came from a child of the shell; the exec's from the process itself.
    assert_eq!(seen[1].3 as i64, seen[1].0["pid"].as_i64().unwrap());
    env.hull_ok(&["delete", "-f", &id]);
}

/// Expects `hull create` of the bundle to fail with exit 1 and one stderr line with
/// every needle, and to leave nothing behind.
fn create_fails(env: &Env, b: &Bundle, needles: &[&str]) {
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} lacks {n:?}");
    }
    assert!(!env.state_dir().join(b.id()).exists());
    assert!(!env.hull_ok(&["list", "-q"]).lines().any(|l| l == b.id()));
}

/// What is wrong, how to make the profile so, and what stderr must say.
type BadCase = (&'static str, fn(&mut Value), &'static [&'static str]);

#[test]
fn bad_profiles_fail_create_naming_the_json_path() {
    let env = Env::new("bad_profiles");
    let b = env.bundle("b");
    let good = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GE"}]}]
    });
    let cases: &[BadCase] = &[
        (
            "unknown action",
            (|p| p["syscalls"][0]["action"] = json!("SCMP_ACT_BOGUS")),
            &["linux.seccomp.syscalls[0].action", "SCMP_ACT_BOGUS"],
        ),
        (
            "unknown default action",
            (|p| p["defaultAction"] = json!("SCMP_ACT_NOPE")),
            &["linux.seccomp.defaultAction"],
        ),
        (
            "unknown arch",
            (|p| p["architectures"][1] = json!("SCMP_ARCH_BOGUS")),
            &["linux.seccomp.architectures[1]", "SCMP_ARCH_BOGUS"],
        ),
        (
            "unknown operator",
            (|p| p["syscalls"][0]["args"][0]["op"] = json!("SCMP_CMP_BOGUS")),
            &["linux.seccomp.syscalls[0].args[0].op", "SCMP_CMP_BOGUS"],
        ),
        (
            "unknown flag",
            (|p| p["flags"] = json!(["SECCOMP_FILTER_FLAG_BOGUS"])),
            &["linux.seccomp.flags[0]"],
        ),
        (
            "argument index",
            (|p| p["syscalls"][0]["args"][0]["index"] = json!(6)),
            &["linux.seccomp.syscalls[0].args[0].index"],
        ),
        (
            "errnoRet on ALLOW",
            (|p| p["syscalls"][0]["errnoRet"] = json!(1)),
            &["linux.seccomp.syscalls[0].errnoRet"],
        ),
        (
            "no names",
            (|p| p["syscalls"][0]["names"] = json!([])),
            &["linux.seccomp.syscalls[0].names"],
        ),
        (
            "NOTIFY without listenerPath",
            (|p| {
                p["syscalls"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}))
            }),
            &["linux.seccomp.syscalls[1].action", "listenerPath"],
        ),
        (
            "NOTIFY as the default action",
            (|p| {
                p["defaultAction"] = json!("SCMP_ACT_NOTIFY");
                p["listenerPath"] = json!("/nonexistent.sock");
            }),
            &["linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY"],
        ),
        (
            "nobody listening",
            (|p| {
                p["listenerPath"] = json!("/nonexistent/agent.sock");
                p["syscalls"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}))
            }),
            &["linux.seccomp.listenerPath", "/nonexistent/agent.sock"],
        ),
    ];
    for (what, change, needles) in cases {
        let mut p = good.clone();
        change(&mut p);
        b.edit(|c| c["linux"]["seccomp"] = p);
        eprintln!("case: {what}");
        create_fails(&env, &b, needles);
    }
    // An architecture libseccomp does not know (LoongArch before libseccomp 2.6).
    let features: Value = serde_json::from_str(&env.hull_ok(&["features"])).unwrap();
    let archs = &features["linux"]["seccomp"]["archs"];
    if !archs
        .as_array()
        .unwrap()
        .contains(&json!("SCMP_ARCH_LOONGARCH64"))
    {
        let mut p = good.clone();
        p["architectures"][1] = json!("SCMP_ARCH_LOONGARCH64");
        b.edit(|c| c["linux"]["seccomp"] = p);
        create_fails(&env, &b, &["linux.seccomp.architectures[1]"]);
    }
}

#[test]
fn features_list_what_is_implemented() {
    let env = Env::new("features");
    let v: Value = serde_json::from_str(&env.hull_ok(&["features"])).unwrap();
    let s = &v["linux"]["seccomp"];
    assert_eq!(s["enabled"], true);
    assert_eq!(s["actions"].as_array().unwrap().len(), 9);
    assert_eq!(s["operators"].as_array().unwrap().len(), 7);
    assert!(s["archs"]
        .as_array()
        .unwrap()
        .contains(&json!("SCMP_ARCH_X86_64")));
    for f in s["supportedFlags"].as_array().unwrap() {
        assert!(s["knownFlags"].as_array().unwrap().contains(f), "{f}");
    }
    assert!(s["supportedFlags"]
        .as_array()
        .unwrap()
        .contains(&json!("SECCOMP_FILTER_FLAG_LOG")));
}

/// A profile made for runc, whose own last steps (closing descriptors, resetting
/// signals) come before its filter, may not allow `close_range`: hull's come before
/// the filter too, so the container runs. The same for `exec`.
#[test]
fn a_profile_without_close_range_still_runs_the_container() {
    let env = Env::new("seccomp_no_close_range");
    let mut profile = docker_profile();
    without(&mut profile, &["close_range"]);
    let b = bundle_with(&env, &profile);
    b.set_args(&["echo", "ran"]);
    assert_eq!(
        ok(&env.hull(&["run", "-b", b.path_str(), b.id()])).trim(),
        "ran"
    );
    b.set_args(&["sleep", "100"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    assert_eq!(env.hull_ok(&["exec", b.id(), "echo", "ran"]).trim(), "ran");
    env.hull_ok(&["delete", "-f", b.id()]);
}
