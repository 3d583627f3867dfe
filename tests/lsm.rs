//! AppArmor: a profile in `process.apparmorProfile` (or `exec --apparmor`) confines the
//! process from its first instruction. Where the kernel has AppArmor (Debian's, in the
//! guest of vm/run-cgroup2-tests.sh) the profile is loaded and checked; where it has
//! not (this host), hull refuses the profile as runc does.

mod common;

use std::process::Command;

use common::Env;
use serde_json::json;

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
        && std::path::Path::new("/sys/kernel/security/apparmor").exists()
}

/// A complain-mode profile loaded for the test, unloaded when dropped.
struct Profile {
    name: String,
    file: std::path::PathBuf,
}

impl Profile {
    fn load(env: &Env) -> Profile {
        let name = format!("hull-test-{}", std::process::id());
        let file = env.dir().join("apparmor-profile");
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted,complain) {{\n  file,\n  capability,\n  network,\n  mount,\n  umount,\n  pivot_root,\n  signal,\n  ptrace,\n  unix,\n}}\n"
        );
        std::fs::write(&file, text).unwrap();
        let out = Command::new("apparmor_parser")
            .arg("-r")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "apparmor_parser: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Profile { name, file }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .arg("-R")
            .arg(&self.file)
            .output();
    }
}

#[test]
fn an_apparmor_profile_confines_the_process_and_exec() {
    let env = Env::new("apparmor");
    let b = env.bundle("b");
    if !apparmor_enabled() {
        // As runc: a profile the host cannot apply is an error, before anything is made.
        b.edit(|c| c["process"]["apparmorProfile"] = json!("hull-test"));
        let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("AppArmor"));
        assert!(!env.state_dir().join(b.id()).exists());
        return;
    }
    let profile = Profile::load(&env);
    b.edit(|c| c["process"]["apparmorProfile"] = json!(profile.name));
    b.set_args(&["sleep", "100000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    let label = std::fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap();
    assert_eq!(label.trim(), format!("{} (complain)", profile.name));
    // exec gets the profile it asks for; without one, it runs unconfined by hull.
    let out = env.hull_ok(&[
        "exec",
        "--apparmor",
        &profile.name,
        b.id(),
        "cat",
        "/proc/self/attr/current",
    ]);
    assert_eq!(out.trim(), format!("{} (complain)", profile.name));
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// CVE-2019-16884: the container covers /proc with a filesystem of its own, holding a
/// fake `attr/exec`. `exec` with a profile must refuse, not write the profile into the
/// fake and run the process unconfined.
#[test]
fn exec_refuses_an_lsm_attribute_that_is_not_procfs() {
    if !apparmor_enabled() {
        // Profiles are refused before anything else here (see above).
        return;
    }
    let env = Env::new("apparmor_fake_proc");
    let profile = Profile::load(&env);
    let b = env.bundle("b");
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
    });
    b.set_args(&[
        "sh",
        "-c",
        "mount -t tmpfs fake /proc && mkdir -p /proc/self/attr/apparmor && \
         touch /proc/self/attr/apparmor/exec /proc/self/attr/exec /proc/self/attr/current \
         && touch /ready; sleep 100000",
    ]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let ready = b.rootfs().join("ready");
    assert!(
        common::wait_for(|| ready.exists(), std::time::Duration::from_secs(60)),
        "the container never covered /proc"
    );
    let out = env.hull(&["exec", "--apparmor", &profile.name, b.id(), "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exec ran: {stderr}");
    assert!(stderr.contains("not on procfs"), "{stderr}");
    let fake = env.hull_ok(&["exec", b.id(), "cat", "/proc/self/attr/apparmor/exec"]);
    assert_eq!(
        fake, "",
        "the profile was written into the container's fake file"
    );
    env.hull_ok(&["delete", "-f", b.id()]);
}
