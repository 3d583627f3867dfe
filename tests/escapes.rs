//! Escapes: each scenario a published runc/crun CVE class, tried against hull, which
//! must fail safely (the container starts with everything inside its rootfs, or hull
//! refuses it clearly, and the host is untouched).

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Env;
use serde_json::json;

/// A host directory with a marker file, which no mount may ever cover.
fn host_target(env: &Env, name: &str) -> PathBuf {
    let d = env.dir().join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("marker"), "host").unwrap();
    d
}

fn host_untouched(target: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let t = target.to_str().unwrap();
    assert!(
        !mounts
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some(t)),
        "a mount landed on the host's {t}"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("marker")).unwrap(),
        "host"
    );
    assert_eq!(
        std::fs::read_dir(target).unwrap().count(),
        1,
        "something was made in the host's {t}"
    );
}

/// Runs `f` while a thread of the host keeps swapping the paths `a` and `b`
/// (`RENAME_EXCHANGE`), as a process sharing the directory could. The thread stops
/// when `f` returns or panics (a scoped thread still running would keep the test from
/// ever ending).
fn while_swapping<R>(a: &Path, b: &Path, f: impl FnOnce() -> R) -> R {
    struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (a, b) = (
        std::ffi::CString::new(a.to_str().unwrap()).unwrap(),
        std::ffi::CString::new(b.to_str().unwrap()).unwrap(),
    );
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: two NUL-terminated paths; RENAME_EXCHANGE swaps them atomically.
                unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
            }
        });
        f()
    })
}

/// CVE-2019-19921 / CVE-2019-16884 class: the image makes /proc a symlink to a host
/// path, hoping the runtime mounts procfs (and later writes through it) there.
#[test]
fn proc_as_a_symlink_to_a_host_path_stays_inside_the_rootfs() {
    let env = Env::new("escape_proc");
    let target = host_target(&env, "host-proc");
    let b = env.bundle("b");
    let proc_dir = b.rootfs().join("proc");
    std::fs::remove_dir(&proc_dir).unwrap();
    symlink(&target, &proc_dir).unwrap();
    b.set_args(&["sh", "-c", "cat /proc/self/stat >/dev/null && echo proc-ok"]);
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    // Either hull mounts procfs at the symlink's target inside the rootfs and the
    // container runs, or it refuses; never the host's directory.
    if out.status.success() {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "proc-ok");
    }
    host_untouched(&target);
}

/// The same with /dev: devices must never be made in, or mounted on, a host path.
#[test]
fn dev_as_a_symlink_to_a_host_path_stays_inside_the_rootfs() {
    let env = Env::new("escape_dev");
    let target = host_target(&env, "host-dev");
    let b = env.bundle("b");
    let dev = b.rootfs().join("dev");
    let _ = std::fs::remove_dir_all(&dev);
    symlink(&target, &dev).unwrap();
    b.set_args(&["sh", "-c", "test -c /dev/null && echo dev-ok"]);
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    if out.status.success() {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dev-ok");
    }
    host_untouched(&target);
    // The device nodes went into the rootfs, under the symlink's target.
    let inside = b.rootfs().join(target.strip_prefix("/").unwrap());
    assert!(
        !out.status.success() || inside.exists(),
        "{}",
        inside.display()
    );
}

/// A masked or read-only path that the image made a symlink out of the rootfs: the
/// mask lands inside the container, never on the host file it points at.
#[test]
fn masked_and_readonly_paths_that_are_symlinks_resolve_inside_the_rootfs() {
    let env = Env::new("escape_masked");
    let target = host_target(&env, "host-masked");
    let b = env.bundle("b");
    symlink(target.join("marker"), b.rootfs().join("etc/masked-file")).unwrap();
    symlink(&target, b.rootfs().join("etc/ro-dir")).unwrap();
    b.edit(|c| {
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/masked-file"));
        c["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/ro-dir"));
    });
    b.set_args(&["true"]);
    let _ = env.hull(&["run", "-b", b.path_str(), b.id()]);
    host_untouched(&target);
}

/// CVE-2022-29162 class: no inheritable capability unless the spec asks for one, so
/// an execve of a file with inheritable file capabilities gains nothing.
#[test]
fn no_inheritable_capabilities_unless_asked() {
    let env = Env::new("escape_inheritable");
    let b = env.bundle("b");
    b.set_args(&["grep", "CapInh", "/proc/self/status"]);
    let out = env.hull_ok(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(out.trim(), "CapInh:\t0000000000000000");
}

/// A user namespace whose mappings overlap is refused before anything is made.
#[test]
fn overlapping_id_mappings_are_refused() {
    let env = Env::new("escape_maps");
    let b = env.bundle("b");
    b.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 100}, {"containerID": 50, "hostID": 200000, "size": 10}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 100}]);
    });
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("linux.uidMappings[1]") && err.contains("overlaps"),
        "{err}"
    );
    assert!(!env.state_dir().join(b.id()).exists());
}

/// CVE-2021-30465 class: while hull builds the rootfs, a process of the host (standing
/// in for a container sharing the volume) keeps swapping a mount destination between a
/// directory and a symlink to a host path. Resolution through descriptors means the
/// mount lands where the path pointed when it was resolved, inside the rootfs, never on
/// the host.
#[test]
fn a_destination_swapped_for_a_symlink_during_set_up_never_reaches_the_host() {
    let env = Env::new("escape_swap");
    let target = host_target(&env, "host-swap");
    let b = env.bundle("b");
    let data = b.rootfs().join("data");
    let evil = b.rootfs().join("evil");
    std::fs::create_dir(&data).unwrap();
    symlink(&target, &evil).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]
        }));
        c["root"]["readonly"] = false.into();
    });
    b.set_args(&["true"]);
    while_swapping(&data, &evil, || {
        for _ in 0..30 {
            let _ = env.hull(&["run", "-b", b.path_str(), b.id()]);
            host_untouched(&target);
        }
    });
    host_untouched(&target);
}

/// Copies into the rootfs the shared libraries `binary` needs (as `ldd` lists them), at
/// the same paths: most real images carry glibc, and with it the host's runtime binary
/// can run inside the container.
fn give_rootfs_the_libraries_of(rootfs: &Path, binary: &Path) {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap();
    for lib in String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let to = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lib, &to).unwrap();
    }
}

/// A pipe whose buffer is full: a process that writes to it blocks until it is read.
fn full_pipe() -> (std::io::PipeReader, std::io::PipeWriter) {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let (r, mut w) = std::io::pipe().unwrap();
    let fd = w.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    while w.write(&[b'x'; 4096]).is_ok() {}
    // The flag belongs to the open file, which the writer's copies share: cleared.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    (r, w)
}

/// The pid of the process whose `comm` is `name` and whose pid namespace is that of
/// process `of`.
fn find_process(name: &str, of: i64) -> Option<i64> {
    let ns = common::ns_inode(of, "pid");
    std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
        let pid: i64 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let in_ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
        (comm.trim() == name && in_ns.to_string_lossy() == ns).then_some(pid)
    })
}

/// Holds what `/proc/<pid>/exe` names while the process runs, as a process of the
/// container could.
fn hold_exe(pid: i64) -> std::fs::File {
    std::fs::File::open(format!("/proc/{pid}/exe")).unwrap()
}

/// Once nothing runs it any more, what `held` names must not be writable: the exploit
/// reopens it for writing through `/proc/self/fd`.
fn cannot_be_written(held: &std::fs::File) {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let reopen = std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/self/fd/{}", held.as_raw_fd()));
    if let Ok(mut f) = reopen {
        assert!(
            f.write(b"x").is_err(),
            "the binary the container reached can be written"
        );
    }
}

/// CVE-2019-5736: the program the container asks for is a script whose interpreter is
/// `/proc/self/exe`, which the kernel resolves in hull's own process: hull's binary
/// runs inside the container, which holds `/proc/<pid>/exe` open and, once it has
/// exited, reopens it for writing. hull runs `create`, `run` and `exec` from a view of
/// its binary that cannot be written. The runtime here is a private copy of hull, which
/// nothing else executes (a running binary cannot be written anyway); a full pipe as
/// its stderr keeps it running inside the container until the test has held its exe.
#[test]
fn a_script_interpreted_by_proc_self_exe_cannot_write_the_hull_binary() {
    let env = Env::new("escape_5736");
    let copy = env.dir().join("hull-copy");
    std::fs::copy(common::hull_bin(), &copy).unwrap();
    let runtime = |args: &[&str]| {
        let mut c = std::process::Command::new(&copy);
        c.arg("--root").arg(env.state_dir()).args(args);
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        c
    };
    let evil_bundle = |name: &str| {
        let b = env.bundle(name);
        give_rootfs_the_libraries_of(&b.rootfs(), &copy);
        let evil = b.rootfs().join("evil");
        std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
        std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        b
    };
    let finish = |mut child: std::process::Child| {
        assert!(
            common::wait_for(
                || child.try_wait().unwrap().is_some(),
                Duration::from_secs(30)
            ),
            "hull hangs"
        );
        child.wait().unwrap()
    };

    // The container's own process.
    let b = evil_bundle("b");
    b.set_args(&["/evil"]);
    let (mut drain, full) = full_pipe();
    let create = runtime(&["create", "-b", b.path_str(), b.id()])
        .stderr(full.try_clone().unwrap())
        .spawn()
        .unwrap();
    assert!(finish(create).success());
    env.hull_ok(&["start", b.id()]);
    let init = env.pid(b.id());
    assert!(
        common::wait_for(
            || find_process("evil", init) == Some(init),
            Duration::from_secs(30)
        ),
        "the init never ran /evil"
    );
    let held = hold_exe(init);
    drop(full);
    std::io::copy(&mut drain, &mut std::io::sink()).unwrap();
    cannot_be_written(&held);
    env.hull_ok(&["delete", "-f", b.id()]);

    // A process `hull exec` runs in a running container.
    let r = evil_bundle("r");
    r.set_args(&["sleep", "100"]);
    env.hull_ok(&["run", "-d", "-b", r.path_str(), r.id()]);
    let init = env.pid(r.id());
    let (mut drain, full) = full_pipe();
    let exec = runtime(&["exec", r.id(), "/evil"])
        .stderr(full.try_clone().unwrap())
        .spawn()
        .unwrap();
    let mut found = None;
    assert!(
        common::wait_for(
            || {
                found = find_process("evil", init);
                found.is_some()
            },
            Duration::from_secs(30)
        ),
        "the exec never ran /evil"
    );
    let held = hold_exe(found.unwrap());
    drop(full);
    std::io::copy(&mut drain, &mut std::io::sink()).unwrap();
    finish(exec);
    cannot_be_written(&held);
    env.hull_ok(&["delete", "-f", r.id()]);
}

/// CVE-2025-31133 class: masked files are masked with a bind mount of `/dev/null`.
/// Here the container's /dev is a host directory, shared as a volume could be, and a
/// process of the host (standing in for another container) keeps swapping `null` there
/// with a symlink to a procfs file of the container's. Followed, the symlink would put
/// that file over the masked paths, writable (in the attack, the host's
/// `/proc/sys/kernel/core_pattern`; here the harmless `/proc/self/comm`), and reading
/// `/proc/kcore` would show it. hull binds only the null device, or refuses the
/// container.
#[test]
fn masked_paths_are_masked_only_with_the_null_device() {
    let env = Env::new("escape_devnull");
    let dev = env.dir().join("shared-dev");
    std::fs::create_dir_all(&dev).unwrap();
    symlink("/proc/self/comm", dev.join("evil")).unwrap();
    // A /dev bound from the host gets no device nodes from hull (as with runc): the
    // null device is the volume's own.
    let null = std::ffi::CString::new(dev.join("null").to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path; a character device 1:3.
    let made = unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(made, 0, "mknod {}", dev.join("null").display());
    let b = env.bundle("b");
    b.edit(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                *m = json!({"destination": "/dev", "type": "bind",
                            "source": dev, "options": ["rbind", "rw"]});
            }
        }
    });
    b.set_args(&["sh", "-c", "cat /proc/keys"]);
    let ran = while_swapping(&dev.join("null"), &dev.join("evil"), || {
        let mut ran = 0;
        for _ in 0..30 {
            let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
            let _ = env.hull(&["delete", "-f", b.id()]);
            if out.status.success() {
                ran += 1;
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    "",
                    "/proc/keys was masked with something other than the null device"
                );
            }
        }
        ran
    });
    assert!(ran > 0, "no run got through");
}

/// CVE-2024-21626 class: `process.cwd` is resolved inside the container's root without
/// following a magic link, so no `/proc/self/fd/N` (once, a descriptor of the host's
/// that leaked) and no `/proc/self/cwd` can be the process's working directory. The
/// running container makes its working directory such a symlink before `exec`.
#[test]
fn a_working_directory_that_is_a_magic_link_is_refused() {
    let env = Env::new("escape_cwd");
    let b = env.bundle("b");
    b.edit(|c| c["root"]["readonly"] = false.into());
    b.set_args(&[
        "sh",
        "-c",
        "ln -s /proc/self/cwd /work && touch /ready; sleep 100",
    ]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    assert!(common::wait_for(
        || b.rootfs().join("ready").exists(),
        Duration::from_secs(10)
    ));
    let out = env.hull(&["exec", "--cwd", "/work", b.id(), "pwd"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exec ran in {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("cwd /work"), "{stderr}");
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// CVE-2025-52881 class: a mount destination that resolves into /proc (the image made
/// `/etc/hostname` a symlink to a procfs file) would put the bundle's file over it,
/// here over the number hull reads to know which capabilities exist. hull refuses, as
/// runc does; the files lxcfs provides may still be covered.
#[test]
fn a_mount_destination_inside_proc_is_refused() {
    let env = Env::new("escape_procmount");
    let b = env.bundle("b");
    let host = host_target(&env, "host-procmount");
    let etc = b.rootfs().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let _ = std::fs::remove_file(etc.join("hostname"));
    symlink("/proc/sys/kernel/cap_last_cap", etc.join("hostname")).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/etc/hostname", "type": "bind",
            "source": host.join("marker"), "options": ["bind", "ro"]
        }));
    });
    b.set_args(&["cat", "/proc/sys/kernel/cap_last_cap"]);
    let out = env.hull(&["run", "-b", b.path_str(), b.id()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ran: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("inside /proc"), "{stderr}");
    assert!(!env.state_dir().join(b.id()).exists());

    // lxcfs's files are allowed.
    let r = env.bundle("r");
    r.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/proc/uptime", "type": "bind",
            "source": host.join("marker"), "options": ["bind", "ro"]
        }));
    });
    r.set_args(&["cat", "/proc/uptime"]);
    assert_eq!(env.hull_ok(&["run", "-b", r.path_str(), r.id()]), "host");
}
