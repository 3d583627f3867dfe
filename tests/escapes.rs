//! Escapes: each scenario a published runc/crun CVE class, tried against hull, which
//! must fail safely (the container starts with everything inside its rootfs, or hull
//! refuses it clearly, and the host is untouched).

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

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
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let (a, e) = (
                std::ffi::CString::new(data.to_str().unwrap()).unwrap(),
                std::ffi::CString::new(evil.to_str().unwrap()).unwrap(),
            );
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: two NUL-terminated paths; RENAME_EXCHANGE swaps them atomically.
                unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        e.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
            }
        });
        for _ in 0..30 {
            let _ = env.hull(&["run", "-b", b.path_str(), b.id()]);
            host_untouched(&target);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    host_untouched(&target);
}
