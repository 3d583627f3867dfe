//! `hull exec` and `hull ps` against a running busybox container: every flag, tty and
//! non-tty, detached and foreground, and the attacks of the CVE classes exec must hold.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{cgroup_v1_dirs, wait_for, Bundle, Env};
use serde_json::json;

/// A running container (`sleep`), writable root, ready for exec.
fn running(env: &Env) -> Bundle {
    let b = env.bundle("b");
    b.edit(|c| c["root"]["readonly"] = false.into());
    b.set_args(&["sleep", "100000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    b
}

fn exec_out(env: &Env, id: &str, args: &[&str]) -> String {
    let mut all = vec!["exec"];
    all.extend_from_slice(&args[..args.len() - 1]);
    all.push(id);
    all.push("sh");
    all.push("-c");
    all.push(args[args.len() - 1]);
    env.hull_ok(&all)
}

#[test]
fn exec_joins_every_namespace_of_the_init() {
    let env = Env::new("exec_ns");
    let b = running(&env);
    let pid = env.pid(b.id());
    let inside = exec_out(
        &env,
        b.id(),
        &["for n in pid mnt net uts ipc; do readlink /proc/self/ns/$n; done; echo $$"],
    );
    let mut lines = inside.lines();
    for n in ["pid", "mnt", "net", "uts", "ipc"] {
        assert_eq!(lines.next().unwrap(), common::ns_inode(pid, n), "{n}");
    }
    // Born in the pid namespace: not pid 1, but a pid of that namespace.
    let own: i64 = lines.next().unwrap().parse().unwrap();
    assert!(own > 1);
    // And in the container's cgroup, as the host sees it (inside, a cgroup namespace
    // may show it as /).
    let p = env.dir().join("exec.pid");
    let pf = p.to_str().unwrap();
    env.hull_ok(&["exec", "-d", "--pid-file", pf, b.id(), "sleep", "100"]);
    let exec_pid = std::fs::read_to_string(&p).unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{exec_pid}/cgroup")).unwrap();
    assert!(cg.contains(&env.cgroup_path(b.id())), "{cg}");
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// The container's cgroup directories: v1 hierarchies, or the one v2 directory.
fn cgroup_dirs(env: &Env, id: &str) -> Vec<PathBuf> {
    if common::is_cgroup2_unified() {
        let d = PathBuf::from("/sys/fs/cgroup").join(env.cgroup_path(id).trim_start_matches('/'));
        return if d.is_dir() { vec![d] } else { vec![] };
    }
    cgroup_v1_dirs(&env.cgroup_path(id))
}

#[test]
fn exit_status_is_hulls() {
    let env = Env::new("exec_status");
    let b = running(&env);
    let out = env.hull(&["exec", b.id(), "sh", "-c", "exit 9"]);
    assert_eq!(out.status.code(), Some(9));
    let out = env.hull(&["exec", b.id(), "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(137));
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn flags_set_cwd_env_user_groups_caps_and_no_new_privs() {
    let env = Env::new("exec_flags");
    let b = running(&env);
    let out = exec_out(
        &env,
        b.id(),
        &[
            "--cwd",
            "/tmp",
            "-e",
            "FOO=bar",
            "-e",
            "PATH=/bin",
            "pwd; echo $FOO; echo $PATH",
        ],
    );
    assert_eq!(out, "/tmp\nbar\n/bin\n");
    let out = exec_out(
        &env,
        b.id(),
        &[
            "-u",
            "1000:1000",
            "-g",
            "2000",
            "-g",
            "5",
            "id -u; id -g; id -G",
        ],
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1000"));
    assert_eq!(lines.next(), Some("1000"));
    let mut groups: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["1000", "2000", "5"], "primary and additional gids");
    let out = exec_out(&env, b.id(), &["-u", "hulltest", "id -un"]);
    assert_eq!(out.trim(), "hulltest");
    // --cap adds to bounding, effective and permitted: CAP_SYS_ADMIN is bit 21.
    let out = exec_out(
        &env,
        b.id(),
        &["--cap", "CAP_SYS_ADMIN", "grep CapEff /proc/self/status"],
    );
    let eff = u64::from_str_radix(out.split_whitespace().last().unwrap(), 16).unwrap();
    assert!(eff & (1 << 21) != 0, "{out}");
    let out = exec_out(&env, b.id(), &["grep CapEff /proc/self/status"]);
    let eff = u64::from_str_radix(out.split_whitespace().last().unwrap(), 16).unwrap();
    assert!(eff & (1 << 21) == 0, "without --cap: {out}");
    // The default spec already sets noNewPrivileges; turn it off to see the flag work.
    b.edit(|c| c["process"]["noNewPrivileges"] = false.into());
    env.hull_ok(&["delete", "-f", b.id()]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let out = exec_out(&env, b.id(), &["grep NoNewPrivs /proc/self/status"]);
    assert!(out.ends_with("0\n"), "{out}");
    let out = exec_out(
        &env,
        b.id(),
        &["--no-new-privs", "grep NoNewPrivs /proc/self/status"],
    );
    assert!(out.ends_with("1\n"), "{out}");
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn process_json_describes_the_process() {
    let env = Env::new("exec_process_json");
    let b = running(&env);
    let p = env.dir().join("process.json");
    std::fs::write(
        &p,
        json!({
            "args": ["sh", "-c", "echo $A; pwd; id -u; grep NoNewPrivs /proc/self/status"],
            "env": ["A=from-json", "PATH=/bin"],
            "cwd": "/etc",
            "user": {"uid": 65534, "gid": 65534},
            "noNewPrivileges": true
        })
        .to_string(),
    )
    .unwrap();
    let out = env.hull_ok(&["exec", "--process", p.to_str().unwrap(), b.id()]);
    assert_eq!(out, "from-json\n/etc\n65534\nNoNewPrivs:\t1\n");
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn detached_exec_writes_its_pid_file() {
    let env = Env::new("exec_detach");
    let b = running(&env);
    let pid_file = env.dir().join("exec.pid");
    env.hull_ok(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        b.id(),
        "sleep",
        "1000",
    ]);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let listed: Vec<i32> =
        serde_json::from_str(&env.hull_ok(&["ps", "--format", "json", b.id()])).unwrap();
    assert!(listed.contains(&pid) && listed.contains(&(env.pid(b.id()) as i32)));
    let table = env.hull_ok(&["ps", b.id()]);
    assert!(table.lines().next().unwrap().contains("PID"));
    assert!(table.lines().any(|l| l.contains("sleep 1000")), "{table}");
    env.hull_ok(&["delete", "-f", b.id()]);
    assert!(wait_for(
        || !std::path::Path::new(&format!("/proc/{pid}/comm")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        Duration::from_secs(5)
    ));
}

#[test]
fn sub_cgroup_flag() {
    let env = Env::new("exec_cgroup");
    let b = running(&env);
    // Not in cpuset: a new v1 cpuset cgroup has no cpus until someone gives it some.
    for d in cgroup_dirs(&env, b.id()) {
        if !d.starts_with("/sys/fs/cgroup/cpuset") {
            std::fs::create_dir(d.join("sub")).unwrap();
        }
    }
    let p = env.dir().join("exec.pid");
    let pf = p.to_str().unwrap();
    env.hull_ok(&[
        "exec",
        "-d",
        "--cgroup",
        "sub",
        "--pid-file",
        pf,
        b.id(),
        "sleep",
        "100",
    ]);
    let exec_pid = std::fs::read_to_string(&p).unwrap();
    let out = std::fs::read_to_string(format!("/proc/{exec_pid}/cgroup")).unwrap();
    assert!(
        out.contains(&format!("{}/sub", env.cgroup_path(b.id()))),
        "{out}"
    );
    let bad = env.hull(&["exec", "--cgroup", "nope", b.id(), "true"]);
    assert_eq!(bad.status.code(), Some(1));
    // delete removes the sub-cgroups with the container's own.
    env.hull_ok(&["delete", "-f", b.id()]);
    assert!(cgroup_dirs(&env, b.id()).is_empty());
}

#[test]
fn preserve_fds_passes_fd_3_and_no_other_host_fd_leaks() {
    let env = Env::new("exec_fds");
    let b = running(&env);
    let secret = env.dir().join("secret");
    std::fs::write(&secret, "host-secret").unwrap();
    let file = std::fs::File::open(&secret).unwrap();
    let raw = file.as_raw_fd();
    let run = |preserve: bool| {
        let mut args = vec!["exec"];
        if preserve {
            args.extend(["--preserve-fds", "1"]);
        }
        args.extend([
            b.id(),
            "sh",
            "-c",
            "ls /proc/self/fd; readlink /proc/self/cwd; cat <&3 2>/dev/null || echo no-fd-3",
        ]);
        let mut cmd = env.command(&args);
        // The tool that starts hull leaves fd 3 and fd 9 open and inheritable.
        unsafe {
            cmd.pre_exec(move || {
                for target in [3, 9] {
                    // dup2 onto itself would keep O_CLOEXEC: clear it instead.
                    let ok = if raw == target {
                        libc::fcntl(raw, libc::F_SETFD, 0) == 0
                    } else {
                        libc::dup2(raw, target) == target
                    };
                    if !ok {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(false);
    let fds: Vec<&str> = out
        .lines()
        .take_while(|l| l.parse::<u32>().is_ok())
        .collect();
    // 0 1 2 and the directory ls itself reads.
    assert_eq!(fds, ["0", "1", "2", "3"], "{out}");
    assert!(
        out.contains("\n/\n"),
        "cwd must be the container's /: {out}"
    );
    assert!(
        out.ends_with("no-fd-3\n"),
        "fd 3 was the directory ls opened: {out}"
    );
    let out = run(true);
    assert!(out.ends_with("host-secret"), "with --preserve-fds 1: {out}");
    drop(file);
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn bad_input_leaves_the_container_running() {
    let env = Env::new("exec_bad");
    let b = running(&env);
    let pid = env.pid(b.id());
    let one_line = |args: &[&str], needle: &str| {
        let out = env.hull(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    };
    one_line(&["exec", "ghost", "true"], "does not exist");
    one_line(
        &["exec", "--cwd", "/no/such/dir", b.id(), "true"],
        "/no/such/dir",
    );
    one_line(&["exec", "-u", "nosuchuser", b.id(), "true"], "nosuchuser");
    one_line(&["exec", b.id(), "no-such-binary"], "no-such-binary");
    // Without the LSM on the host, a profile or label is refused, as runc does.
    if !std::path::Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        one_line(&["exec", "--apparmor", "x", b.id(), "true"], "--apparmor");
    }
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        one_line(
            &[
                "exec",
                "--process-label",
                "system_u:system_r:container_t:s0",
                b.id(),
                "true",
            ],
            "--process-label",
        );
    }
    let p = env.dir().join("bad.json");
    std::fs::write(
        &p,
        r#"{"args": ["true"], "cwd": "/", "user": {"uid": "root"}}"#,
    )
    .unwrap();
    one_line(
        &["exec", "--process", p.to_str().unwrap(), b.id()],
        "user.uid",
    );
    assert_eq!(env.pid(b.id()), pid);
    assert_eq!(env.status(b.id()), "running");
    let procs: Vec<i32> =
        serde_json::from_str(&env.hull_ok(&["ps", "--format", "json", b.id()])).unwrap();
    assert_eq!(procs, vec![pid as i32], "a failed exec left a process");
    env.hull_ok(&["delete", "-f", b.id()]);
    one_line(&["exec", b.id(), "true"], "does not exist");
}

#[test]
fn exec_into_a_stopped_or_paused_container_fails() {
    let env = Env::new("exec_paused");
    let b = running(&env);
    let freezer: Vec<PathBuf> = cgroup_v1_dirs(&env.cgroup_path(b.id()))
        .into_iter()
        .filter(|d| d.starts_with("/sys/fs/cgroup/freezer"))
        .collect();
    if let Some(f) = freezer.first() {
        std::fs::write(f.join("freezer.state"), "FROZEN").unwrap();
        let out = env.hull(&["exec", b.id(), "true"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("paused"));
        // With --ignore-paused the process joins the frozen cgroup and freezes before
        // execve; hull waits for the execve, so it finishes once the cgroup thaws.
        let pid_file = env.dir().join("p");
        let p = pid_file.to_str().unwrap();
        let mut child = env
            .command(&[
                "exec",
                "-d",
                "--ignore-paused",
                "--pid-file",
                p,
                b.id(),
                "sleep",
                "100",
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "exec finished in a frozen cgroup"
        );
        std::fs::write(f.join("freezer.state"), "THAWED").unwrap();
        assert!(child.wait().unwrap().success());
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim(), "sleep");
    }
    env.hull_ok(&["kill", b.id(), "KILL"]);
    assert!(wait_for(
        || env.hull_ok(&["state", b.id()]).contains("stopped"),
        Duration::from_secs(5)
    ));
    let out = env.hull(&["exec", b.id(), "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"));
    env.hull_ok(&["delete", b.id()]);
}

/// Receives the pty master that hull sends over a console socket.
fn recv_master(listener: &std::os::unix::net::UnixListener) -> OwnedFd {
    let (stream, _) = listener.accept().unwrap();
    common::recv_with_fd(&stream).1
}

fn read_until(fd: &OwnedFd, needle: &str, timeout: Duration) -> String {
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = String::new();
    while std::time::Instant::now() < deadline && !seen.contains(needle) {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 1024];
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n as usize]));
    }
    seen
}

#[test]
fn tty_exec_with_console_socket() {
    let env = Env::new("exec_tty");
    let b = running(&env);
    let sock = env.dir().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let pid_file = env.dir().join("p");
    let mut child = env
        .command(&[
            "exec",
            "-t",
            "-d",
            "--console-socket",
            sock.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            b.id(),
            "sh",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let master = recv_master(&listener);
    assert!(child.wait().unwrap().success());
    let cmd = b"tty; echo marker-$((6*7))\n";
    assert_eq!(
        unsafe { libc::write(master.as_raw_fd(), cmd.as_ptr().cast(), cmd.len()) },
        cmd.len() as isize
    );
    let seen = read_until(&master, "marker-42", Duration::from_secs(10));
    assert!(seen.contains("/dev/pts/"), "{seen}");
    assert!(seen.contains("marker-42"), "{seen}");
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn foreground_tty_exec_under_a_terminal() {
    let env = Env::new("exec_fg_tty");
    let b = running(&env);
    // hull's own stdio is a pty that the test holds the master of.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    assert!(master >= 0);
    unsafe {
        libc::grantpt(master);
        libc::unlockpt(master);
    }
    let name = unsafe { std::ffi::CStr::from_ptr(libc::ptsname(master)) }
        .to_str()
        .unwrap()
        .to_string();
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .unwrap();
    let mut child = env
        .command(&["exec", "-t", b.id(), "sh"])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let cmd = b"echo hello-$((1+1)); exit 3\n";
    unsafe { libc::write(master.as_raw_fd(), cmd.as_ptr().cast(), cmd.len()) };
    let seen = read_until(&master, "hello-2", Duration::from_secs(10));
    assert!(seen.contains("hello-2"), "{seen}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// CVE-2019-5736 and ptrace: while a `hull exec` child sits in the container's pid
/// namespace (held frozen before execve in a sub-cgroup), a root process in the
/// container tries to reach hull through /proc/<pid>/exe, fd, environ and mem.
#[test]
fn container_cannot_reach_a_joining_hull_process() {
    let env = Env::new("exec_attack");
    let b = running(&env);
    let dirs = cgroup_v1_dirs(&env.cgroup_path(b.id()));
    let Some(freezer) = dirs
        .iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/freezer"))
        .cloned()
    else {
        eprintln!("no v1 freezer: skipped");
        env.hull_ok(&["delete", "-f", b.id()]);
        return;
    };
    for d in dirs
        .iter()
        .filter(|d| !d.starts_with("/sys/fs/cgroup/cpuset"))
    {
        std::fs::create_dir(d.join("victim")).unwrap();
    }
    std::fs::write(freezer.join("victim/freezer.state"), "FROZEN").unwrap();
    let hull_sum = std::fs::read(common::hull_bin()).unwrap();
    // Our own child: the exec that freezes before execve.
    let mut victim = env
        .command(&["exec", "-d", "--cgroup", "victim", b.id(), "true"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let frozen = freezer.join("victim/cgroup.procs");
    assert!(wait_for(
        || std::fs::read_to_string(&frozen).is_ok_and(|s| !s.trim().is_empty()),
        Duration::from_secs(10)
    ));
    let attack = r#"
        found=0
        for p in /proc/[0-9]*; do
            [ "$(cat $p/comm 2>/dev/null)" = hull ] || continue
            found=1
            readlink $p/exe >/dev/null 2>&1 && echo LEAK-exe
            # Listing fd numbers is allowed to root; following them is not.
            for f in $p/fd/*; do
                readlink $f >/dev/null 2>&1 && echo LEAK-fd-link
                head -c1 $f >/dev/null 2>&1 && echo LEAK-fd-open
            done
            readlink $p/cwd >/dev/null 2>&1 && echo LEAK-cwd
            readlink $p/root >/dev/null 2>&1 && echo LEAK-root
            cat $p/environ >/dev/null 2>&1 && echo LEAK-environ
            dd if=$p/mem bs=1 count=1 skip=4194304 >/dev/null 2>&1 && echo LEAK-mem
            echo x >> $p/exe 2>/dev/null && echo LEAK-write
        done
        echo found=$found
    "#;
    let out = env.hull_ok(&[
        "exec",
        "--cap",
        "CAP_DAC_OVERRIDE",
        b.id(),
        "sh",
        "-c",
        attack,
    ]);
    std::fs::write(freezer.join("victim/freezer.state"), "THAWED").unwrap();
    assert!(victim.wait().unwrap().success());
    assert!(
        out.contains("found=1"),
        "the joining hull process was not visible: {out}"
    );
    assert!(!out.contains("LEAK"), "{out}");
    assert_eq!(std::fs::read(common::hull_bin()).unwrap(), hull_sum);
    env.hull_ok(&["delete", "-f", b.id()]);
}

fn host_mount_count() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn two_hundred_execs_leave_nothing_behind() {
    let env = Env::new("exec_200");
    let b = running(&env);
    let pid = env.pid(b.id());
    let fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    let procs = || {
        serde_json::from_str::<Vec<i32>>(&env.hull_ok(&["ps", "--format", "json", b.id()]))
            .unwrap()
            .len()
    };
    let container_mounts = || {
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .unwrap()
            .lines()
            .count()
    };
    let before = (fds(), procs(), container_mounts(), host_mount_count());
    for i in 0..200 {
        let out = env.hull(&["exec", b.id(), "true"]);
        assert!(
            out.status.success(),
            "exec #{i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let after = (fds(), procs(), container_mounts(), host_mount_count());
    assert_eq!(
        before, after,
        "(init fds, processes, container mounts, host mounts)"
    );
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// A container with every namespace type new, a user namespace among them.
fn running_in_every_namespace(env: &Env) -> Bundle {
    let b = env.bundle("b");
    b.edit(|c| {
        let list = c["linux"]["namespaces"].as_array_mut().unwrap();
        for t in ["user", "cgroup", "time"] {
            if !list.iter().any(|n| n["type"] == t) {
                list.push(json!({ "type": t }));
            }
        }
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    });
    // Root of the user namespace must own its rootfs.
    let ok = std::process::Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(b.rootfs())
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown the rootfs");
    b.set_args(&["sleep", "100000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    b
}

#[test]
fn exec_joins_a_user_namespace_first_and_every_other_one() {
    let env = Env::new("exec_userns");
    let b = running_in_every_namespace(&env);
    let pid = env.pid(b.id());
    let names = ["user", "cgroup", "time", "pid", "mnt", "net", "uts", "ipc"];
    let script = "for n in user cgroup time pid mnt net uts ipc; do readlink /proc/self/ns/$n; done; id -u; cat /proc/self/uid_map";
    let out = exec_out(&env, b.id(), &[script]);
    let mut lines = out.lines();
    for n in names {
        assert_eq!(lines.next().unwrap(), common::ns_inode(pid, n), "{n}");
    }
    assert_eq!(lines.next(), Some("0"), "root inside the user namespace");
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    // As the host sees it, the exec'd process runs as the mapped uid.
    let p = env.dir().join("exec.pid");
    env.hull_ok(&[
        "exec",
        "-d",
        "--pid-file",
        p.to_str().unwrap(),
        b.id(),
        "sleep",
        "100",
    ]);
    let exec_pid = std::fs::read_to_string(&p).unwrap();
    let status = common::read_proc_status(&exec_pid);
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t100000\t")),
        "{status}"
    );
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn foreground_exec_forwards_signals_to_its_process() {
    let env = Env::new("exec_signals");
    let b = running(&env);
    let script = "trap 'exit 42' TERM; touch /tmp/exec-ready; while true; do sleep 0.1; done";
    let mut child = env
        .command(&["exec", b.id(), "sh", "-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = b.rootfs().join("tmp/exec-ready");
    assert!(wait_for(|| ready.exists(), Duration::from_secs(10)));
    // Our own child, by pid: the foreground hull passes SIGTERM on to the process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(42));
    // The container itself is untouched.
    assert_eq!(env.status(b.id()), "running");
    env.hull_ok(&["delete", "-f", b.id()]);
}
