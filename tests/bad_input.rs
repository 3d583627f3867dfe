//! Bad input: each mistake gives exit status 1, one line on stderr naming the problem
//! (for config errors, the JSON path of the field), and leaves nothing behind.

mod common;

use common::{cgroup_v1_dirs, Env};
use serde_json::json;

/// Runs hull, expects exit 1 and exactly one stderr line containing every `needle`.
fn fails_with(env: &Env, args: &[&str], needles: &[&str]) -> String {
    let out = env.hull(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "`hull {}`: {stderr}",
        args.join(" ")
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} lacks {n:?}");
    }
    stderr
}

/// Nothing of container `id` exists: no state dir, no cgroup dir, not listed.
fn nothing_left(env: &Env, id: &str) {
    assert!(!env.state_dir().join(id).exists(), "state dir of {id} left");
    assert!(
        cgroup_v1_dirs(&env.cgroup_path(id)).is_empty(),
        "cgroup of {id} left"
    );
    assert!(!env.hull_ok(&["list", "-q"]).lines().any(|l| l == id));
}

fn create_fails(env: &Env, b: &common::Bundle, needles: &[&str]) {
    fails_with(env, &["create", "-b", b.path_str(), b.id()], needles);
    nothing_left(env, b.id());
}

#[test]
fn missing_config_json() {
    let env = Env::new("missing_config");
    let b = env.bundle("b");
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    create_fails(&env, &b, &["config.json", "No such file"]);
}

#[test]
fn malformed_config_json() {
    let env = Env::new("malformed_config");
    let b = env.bundle("b");
    std::fs::write(
        b.path().join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": {",
    )
    .unwrap();
    create_fails(&env, &b, &["config.json", "EOF"]);
}

#[test]
fn field_of_the_wrong_type_names_its_json_path() {
    let env = Env::new("wrong_type");
    let b = env.bundle("b");
    b.edit(|c| c["process"]["user"]["uid"] = json!("root"));
    create_fails(&env, &b, &["process.user.uid"]);
    b.edit(|c| {
        c["process"]["user"]["uid"] = json!(0);
        c["mounts"][2]["options"] = json!("nosuid");
    });
    create_fails(&env, &b, &["mounts[2].options"]);
}

#[test]
fn unknown_namespace_type() {
    let env = Env::new("unknown_ns");
    let b = env.bundle("b");
    b.edit(|c| c["linux"]["namespaces"][3]["type"] = json!("galaxy"));
    create_fails(&env, &b, &["linux.namespaces[3].type", "galaxy"]);
}

#[test]
fn namespace_path_that_does_not_exist() {
    let env = Env::new("ns_path");
    let b = env.bundle("b");
    b.edit(|c| c["linux"]["namespaces"][1]["path"] = json!("/proc/999999999/ns/net"));
    create_fails(&env, &b, &["linux.namespaces[1].path"]);
}

#[test]
fn missing_rootfs() {
    let env = Env::new("missing_rootfs");
    let b = env.bundle("b");
    b.edit(|c| c["root"]["path"] = json!("no-such-rootfs"));
    create_fails(&env, &b, &["root.path", "no-such-rootfs"]);
}

#[test]
fn empty_args() {
    let env = Env::new("empty_args");
    let b = env.bundle("b");
    b.edit(|c| c["process"]["args"] = json!([]));
    create_fails(&env, &b, &["process.args"]);
}

#[test]
fn executable_not_found_fails_create_and_leaves_nothing() {
    let env = Env::new("no_exe");
    let b = env.bundle("b");
    b.set_args(&["no-such-program"]);
    create_fails(&env, &b, &["no-such-program", "not found"]);
}

#[test]
fn bind_source_that_does_not_exist_leaves_nothing() {
    let env = Env::new("bad_bind");
    let b = env.bundle("b");
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": "/nonexistent-hull-src",
            "options": ["rbind"]
        }))
    });
    create_fails(&env, &b, &["mounts[7]", "/nonexistent-hull-src"]);
}

#[test]
fn duplicate_id_is_refused_and_the_first_container_untouched() {
    let env = Env::new("duplicate");
    let b = env.bundle("b");
    b.set_args(&["sleep", "100"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let before = env.hull_ok(&["state", b.id()]);
    fails_with(
        &env,
        &["create", "-b", b.path_str(), b.id()],
        &[b.id(), "already exists"],
    );
    assert_eq!(env.hull_ok(&["state", b.id()]), before);
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn container_that_does_not_exist() {
    let env = Env::new("no_container");
    for cmd in [
        &["state", "ghost"][..],
        &["start", "ghost"],
        &["kill", "ghost"],
        &["delete", "ghost"],
    ] {
        fails_with(&env, cmd, &["ghost", "does not exist"]);
    }
    // runc: delete --force of a missing container succeeds.
    env.hull_ok(&["delete", "--force", "ghost"]);
}

#[test]
fn a_corrupt_state_file_is_named_and_the_other_containers_still_listed() {
    let env = Env::new("corrupt_state");
    let b = env.bundle("b");
    b.set_args(&["sleep", "100"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let broken = env.state_dir().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("state.json"), "{").unwrap();
    // runc warns of a container it cannot load and lists the others.
    let out = env.hull(&["list", "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), b.id());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("broken/state.json: corrupt state"),
        "{stderr:?}"
    );
    fails_with(
        &env,
        &["state", "broken"],
        &["broken/state.json", "corrupt state"],
    );
    std::fs::remove_dir_all(&broken).unwrap();
    env.hull_ok(&["delete", "-f", b.id()]);
}

/// A sysctl key is a path under /proc/sys: one that would name a file outside it
/// (a leading or doubled separator, `..`) is refused before anything is made.
#[test]
fn a_sysctl_key_that_leaves_proc_sys_is_refused() {
    let env = Env::new("sysctl_escape");
    let b = env.bundle("b");
    b.edit(|c| c["linux"]["sysctl"] = json!({"..proc.sys.kernel.hostname": "x"}));
    create_fails(&env, &b, &["linux.sysctl.", "not a valid sysctl name"]);
}

#[test]
fn invalid_container_ids() {
    let env = Env::new("bad_ids");
    let b = env.bundle("b");
    for id in ["../escape", "a/b", ".."] {
        fails_with(
            &env,
            &["create", "-b", b.path_str(), id],
            &["invalid container id"],
        );
    }
    assert_eq!(std::fs::read_dir(env.state_dir()).unwrap().count(), 0);
}

#[test]
fn signal_that_does_not_exist() {
    let env = Env::new("bad_signal");
    let b = env.bundle("b");
    b.set_args(&["sleep", "100"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    for sig in ["SIGBOGUS", "0", "99"] {
        fails_with(&env, &["kill", b.id(), sig], &[sig]);
    }
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn unknown_flag_and_missing_id() {
    let env = Env::new("bad_flags");
    let out = env.hull(&["create", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let out = env.hull(&["start"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn lsm_profile_or_label_the_host_cannot_apply() {
    let env = Env::new("bad_lsm");
    let b = env.bundle("b");
    if !std::path::Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        b.edit(|c| c["process"]["apparmorProfile"] = json!("hull-test"));
        create_fails(&env, &b, &["process.apparmorProfile", "AppArmor"]);
        b.edit(|c| c["process"]["apparmorProfile"] = json!(""));
    }
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        b.edit(|c| c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0"));
        create_fails(&env, &b, &["process.selinuxLabel", "SELinux"]);
    }
}
