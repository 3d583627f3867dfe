//! Namespaces as the kernel shows them: each type created new, namespaces joined by
//! path, user namespaces with their id maps, time namespaces with their offsets, and
//! the container's place in the cgroup hierarchies (with and without a cgroup
//! namespace). Every check reads `/proc/<pid>/…` of the real container init.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{cgroup_mounts, cgroup_v1_dirs, ns_inode, read_proc_status, wait_for, Bundle, Env};
use serde_json::{json, Value};

/// Every namespace type of the runtime-spec, with its name under `/proc/<pid>/ns/`.
const TYPES: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("mount", "mnt"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("cgroup", "cgroup"),
    ("user", "user"),
    ("time", "time"),
];

/// The host uid and gid that a user-namespaced container's root maps to.
const MAPPED_ROOT: u32 = 100_000;

/// A container `name` running `sleep` with the default config, and its init's pid: the
/// one whose namespaces the tests join.
fn running_sleeper(env: &Env, name: &str) -> (Bundle, i64) {
    let b = env.bundle(name);
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    (b, pid)
}

/// Sets `linux.namespaces` to `list` (a JSON array of `{type, path?}`).
fn set_namespaces(b: &Bundle, list: Value) {
    b.edit(|c| c["linux"]["namespaces"] = list);
}

/// Adds a new namespace of type `t` to the bundle's list, unless the default spec
/// has it already (on a cgroup v2 host it has a cgroup namespace, as runc's).
fn add_namespace(b: &Bundle, t: &str) {
    b.edit(|c| {
        let list = c["linux"]["namespaces"]
            .as_array_mut()
            .expect("linux.namespaces is a list");
        if !list.iter().any(|n| n["type"] == t) {
            list.push(json!({ "type": t }))
        }
    });
}

/// Gives the bundle a new user namespace mapping `maps` (container, host, size) for both
/// uids and gids, and hands its rootfs to the mapped root, without which root in the
/// namespace could not use its own rootfs.
fn use_user_namespace(b: &Bundle, maps: &[(u32, u32, u32)]) {
    let list: Vec<Value> = maps
        .iter()
        .map(|&(c, h, s)| json!({"containerID": c, "hostID": h, "size": s}))
        .collect();
    add_namespace(b, "user");
    b.edit(|c| {
        c["linux"]["uidMappings"] = Value::Array(list.clone());
        c["linux"]["gidMappings"] = Value::Array(list);
    });
    chown_to_mapped_root(b);
}

/// Hands the bundle's rootfs to [`MAPPED_ROOT`].
fn chown_to_mapped_root(b: &Bundle) {
    let owner = format!("{MAPPED_ROOT}:{MAPPED_ROOT}");
    let status = Command::new("chown")
        .args(["-R", "-h", &owner])
        .arg(b.rootfs())
        .status()
        .expect("run chown");
    assert!(
        status.success(),
        "chown -R {owner} {}",
        b.rootfs().display()
    );
}

/// Runs the bundle in the foreground and returns its stdout.
fn run_output(env: &Env, b: &Bundle, args: &[&str]) -> String {
    b.set_args(args);
    env.hull_ok(&["run", "-b", b.path_str(), b.id()])
}

/// An id map file (`uid_map`, `gid_map`) as (inside, outside, count) triples.
fn parse_id_map(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .map(|l| {
            let n: Vec<u32> = l
                .split_whitespace()
                .map(|f| f.parse().unwrap_or_else(|e| panic!("{l:?}: {e}")))
                .collect();
            assert_eq!(n.len(), 3, "id map line {l:?}");
            (n[0], n[1], n[2])
        })
        .collect()
}

/// The `Uid:`/`Gid:` line of a status file: real, effective, saved, fs.
fn status_ids(status: &str, key: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in status"))
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect()
}

/// `/proc/uptime`'s first field, in seconds.
fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("bad /proc/uptime {text:?}"))
}

#[test]
fn each_namespace_type_is_new_only_when_asked() {
    let env = Env::new("ns_each_new");
    let plain = env.bundle("plain");
    // Each type alone with the mount namespace (hull needs one), so that every other
    // type is shown to stay the host's. The user namespace: `all_namespace_types_…`.
    let cases: [&[&str]; 7] = [
        &["mount"],
        &["mount", "pid"],
        &["mount", "network"],
        &["mount", "ipc"],
        &["mount", "uts"],
        &["mount", "cgroup"],
        &["mount", "time"],
    ];
    for new in cases {
        let b = &plain;
        let id = env.unique_id(new.last().unwrap());
        b.set_args(&["sleep", "1000"]);
        b.edit(|c| {
            c["linux"]["namespaces"] = new.iter().map(|t| json!({ "type": t })).collect();
            c["linux"]["cgroupsPath"] = env.cgroup_path(&id).into();
            // Without a uts namespace of its own, the hostname would be the host's.
            if !new.contains(&"uts") {
                c.as_object_mut().unwrap().remove("hostname");
            }
        });
        env.hull_ok(&["create", "-b", b.path_str(), &id]);
        let pid = env.pid(&id);
        for (t, proc_name) in TYPES {
            let (host, ours) = (ns_inode("self", proc_name), ns_inode(pid, proc_name));
            if new.contains(&t) {
                assert_ne!(host, ours, "{t} namespace with new {new:?}");
            } else {
                assert_eq!(host, ours, "{t} namespace with new {new:?}");
            }
        }
        // A new time namespace is also the one the init's children are born in.
        assert_eq!(
            ns_inode(pid, "time_for_children"),
            ns_inode(pid, "time"),
            "time_for_children with new {new:?}"
        );
        env.hull_ok(&["delete", "-f", &id]);
    }
}

#[test]
fn all_namespace_types_new_at_once() {
    let env = Env::new("ns_all_new");
    let b = env.bundle("b");
    for t in ["cgroup", "time"] {
        add_namespace(&b, t);
    }
    use_user_namespace(&b, &[(0, MAPPED_ROOT, 65536)]);
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    assert!(wait_for(
        || fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep"),
        Duration::from_secs(5)
    ));
    for (t, proc_name) in TYPES {
        assert_ne!(
            ns_inode("self", proc_name),
            ns_inode(pid, proc_name),
            "{t} namespace"
        );
    }
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn joined_namespaces_are_shared_and_hull_returns_to_its_own() {
    let env = Env::new("ns_join");
    let (a, a_pid) = running_sleeper(&env, "a");

    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    let joined = ["network", "ipc", "uts", "pid"];
    let mut list = vec![json!({"type": "mount"})];
    for (t, proc_name) in TYPES {
        if joined.contains(&t) {
            list.push(json!({"type": t, "path": format!("/proc/{a_pid}/ns/{proc_name}")}));
        }
    }
    // And a new time namespace, which hull makes for its children and leaves again.
    list.push(json!({"type": "time"}));
    set_namespaces(&b, Value::Array(list));
    // A createRuntime hook runs in hull's create process after clone3: it shows the
    // namespaces hull itself is in (and its children are born in) at that moment.
    let seen = env.dir().join("hook-ns");
    let hook = env.dir().join("ns-hook.sh");
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\nfor n in net ipc uts pid mnt cgroup time pid_for_children; do \
             echo $n $(readlink /proc/self/ns/$n); done > {}\n",
            seen.display()
        ),
    )
    .unwrap();
    make_executable(&hook);
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": hook, "env": ["PATH=/usr/bin:/bin"]}]})
    });

    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let b_pid = env.pid(b.id());
    for (t, proc_name) in TYPES {
        let (ours, theirs) = (ns_inode(b_pid, proc_name), ns_inode(a_pid, proc_name));
        if joined.contains(&t) {
            assert_eq!(ours, theirs, "{t} namespace joined by path");
        } else if t == "mount" || t == "time" {
            assert_ne!(ours, theirs, "{t} namespace");
            assert_ne!(ours, ns_inode("self", proc_name), "{t} namespace");
        }
    }
    // B's init is a process of A's pid namespace: pid 2 there (A's sleep is 1).
    let nspid = read_proc_status(b_pid)
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:").map(str::to_owned))
        .expect("NSpid");
    let levels: Vec<&str> = nspid.split_whitespace().collect();
    assert_eq!(levels.len(), 2, "NSpid {nspid}");
    assert_ne!(levels[1], "1", "B's init is not A's pid 1");

    let hook_saw = fs::read_to_string(&seen).expect("the createRuntime hook ran");
    for line in hook_saw.lines() {
        let (name, link) = line.split_once(' ').unwrap();
        let own = if name == "pid_for_children" {
            ns_inode("self", "pid")
        } else {
            ns_inode("self", name)
        };
        assert_eq!(
            link, own,
            "hull is still in a joined {name} namespace after clone3"
        );
    }

    env.hull_ok(&["start", b.id()]);
    assert_eq!(env.status(b.id()), "running");
    env.hull_ok(&["delete", "-f", b.id()]);
    env.hull_ok(&["delete", "-f", a.id()]);
}

/// `hull create` failed and made nothing: no state directory, no cgroup.
fn assert_create_failed_cleanly(env: &Env, b: &Bundle, wanted_error: &[&str]) {
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    for want in wanted_error {
        assert!(stderr.contains(want), "error lacks {want:?}: {stderr}");
    }
    assert!(
        !env.state_dir().join(b.id()).exists(),
        "state directory left: {stderr}"
    );
    let dirs = cgroup_v1_dirs(&env.cgroup_path(b.id()));
    assert!(dirs.is_empty(), "cgroups left: {dirs:?}");
}

#[test]
fn namespace_path_of_the_wrong_type_is_refused_before_anything_is_made() {
    let env = Env::new("ns_join_wrong_type");
    let (a, a_pid) = running_sleeper(&env, "a");
    let b = env.bundle("b");
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
    });
    // A mount namespace first: joined before the bad one, it would hide the host's
    // state dir and cgroups from hull's clean-up.
    set_namespaces(
        &b,
        json!([
            {"type": "mount", "path": format!("/proc/{a_pid}/ns/mnt")},
            {"type": "network", "path": format!("/proc/{a_pid}/ns/uts")},
        ]),
    );
    assert_create_failed_cleanly(
        &env,
        &b,
        &["linux.namespaces[1].path", "not a network namespace"],
    );
    assert_eq!(env.status(a.id()), "running");
    env.hull_ok(&["delete", "-f", a.id()]);
}

#[test]
fn failed_create_in_a_joined_mount_namespace_leaves_nothing() {
    let env = Env::new("ns_join_mount");
    let (a, a_pid) = running_sleeper(&env, "a");
    let b = env.bundle("b");
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
    });
    // A's mount namespace has A's rootfs as its root, where B's bundle does not exist:
    // the init cannot build B's rootfs there, and hull must clean up on the host.
    let list: Vec<Value> = ["ipc", "mount", "network"]
        .iter()
        .map(|t| {
            let proc_name = TYPES.iter().find(|(n, _)| n == t).unwrap().1;
            json!({"type": t, "path": format!("/proc/{a_pid}/ns/{proc_name}")})
        })
        .collect();
    set_namespaces(&b, Value::Array(list));
    assert_create_failed_cleanly(&env, &b, &["rootfs"]);
    assert_eq!(env.status(a.id()), "running");
    env.hull_ok(&["delete", "-f", a.id()]);
}

/// A new time namespace with offsets beside a joined mount namespace: hull writes the
/// offsets through a file it opened before joining, since the joined namespace's /proc
/// belongs to another pid namespace, where /proc/self does not name hull. (The create
/// fails later, at B's rootfs, which A's mount namespace does not hold: that failure,
/// not one about the offsets, is what hull must report.)
#[test]
fn time_offsets_are_written_beside_a_joined_mount_namespace() {
    let env = Env::new("ns_join_mount_time");
    let (a, a_pid) = running_sleeper(&env, "a");
    let b = env.bundle("b");
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 60, "nanosecs": 0}});
    });
    set_namespaces(
        &b,
        json!([
            {"type": "mount", "path": format!("/proc/{a_pid}/ns/mnt")},
            {"type": "time"},
        ]),
    );
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("timens_offsets"), "{stderr}");
    assert!(stderr.contains("rootfs"), "{stderr}");
    assert_eq!(env.status(a.id()), "running");
    env.hull_ok(&["delete", "-f", a.id()]);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn user_namespace_maps_one_range() {
    let env = Env::new("userns_one");
    let b = env.bundle("b");
    use_user_namespace(&b, &[(0, MAPPED_ROOT, 65536)]);
    b.edit(|c| c["root"]["readonly"] = false.into());
    b.set_args(&[
        "sh",
        "-c",
        "echo $(id -u):$(id -g) > /tmp/id; touch /dev/made-inside; \
         touch /tmp/ready; sleep 1000",
    ]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    for file in ["uid_map", "gid_map"] {
        let text = fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
        assert_eq!(parse_id_map(&text), [(0, MAPPED_ROOT, 65536)], "{file}");
    }
    env.hull_ok(&["start", b.id()]);
    let ready = b.rootfs().join("tmp/ready");
    assert!(wait_for(|| ready.exists(), Duration::from_secs(5)));
    assert_eq!(
        fs::read_to_string(b.rootfs().join("tmp/id"))
            .unwrap()
            .trim(),
        "0:0",
        "id inside the container"
    );
    // Root of the container is MAPPED_ROOT on the host, in every id of the process.
    let status = read_proc_status(pid);
    assert_eq!(status_ids(&status, "Uid:"), [MAPPED_ROOT; 4]);
    assert_eq!(status_ids(&status, "Gid:"), [MAPPED_ROOT; 4]);
    // The container's /dev lives in its mount namespace: look through its root.
    let dev = PathBuf::from(format!("/proc/{pid}/root/dev"));
    for path in [dev.join("made-inside"), dev.join("fd"), dev.clone()] {
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(
            (meta.uid(), meta.gid()),
            (MAPPED_ROOT, MAPPED_ROOT),
            "owner of {}",
            path.display()
        );
    }
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn user_namespace_maps_several_ranges() {
    let env = Env::new("userns_several");
    let b = env.bundle("b");
    // Root and the first 999 users map to one range, 1000 and up to another, and one
    // odd id to a third.
    let maps = [
        (0, MAPPED_ROOT, 1000),
        (1000, MAPPED_ROOT + 10_000, 1000),
        (65534, MAPPED_ROOT + 65_534, 1),
    ];
    use_user_namespace(&b, &maps);
    let out = run_output(
        &env,
        &b,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u; id -g",
        ],
    );
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts.len(), 3, "output {out:?}");
    // Seen from inside, the maps read the same as written (the parent user namespace
    // is the host's).
    assert_eq!(parse_id_map(parts[0]), maps, "uid_map inside");
    assert_eq!(parse_id_map(parts[1]), maps, "gid_map inside");
    assert_eq!(parts[2].split_whitespace().collect::<Vec<_>>(), ["0", "0"]);

    // And from the host, on a created container.
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    for file in ["uid_map", "gid_map"] {
        let text = fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
        assert_eq!(parse_id_map(&text), maps, "{file}");
    }
    env.hull_ok(&["delete", b.id()]);
}

#[test]
fn time_namespace_applies_the_offsets() {
    let env = Env::new("timens");
    let b = env.bundle("b");
    add_namespace(&b, "time");
    const DAY: i64 = 86_400;
    b.edit(|c| {
        c["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": 3600, "nanosecs": 0},
            "boottime": {"secs": DAY, "nanosecs": 500_000_000},
        })
    });
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    let offsets = fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    let mut lines: Vec<Vec<&str>> = offsets
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            vec!["boottime", "86400", "500000000"],
            vec!["monotonic", "3600", "0"]
        ],
        "timens_offsets {offsets:?}"
    );
    env.hull_ok(&["delete", b.id()]);

    // /proc/uptime follows CLOCK_BOOTTIME of the reader's time namespace.
    let host_before = uptime_secs(&fs::read_to_string("/proc/uptime").unwrap());
    let inside = uptime_secs(&run_output(&env, &b, &["cat", "/proc/uptime"]));
    let host_after = uptime_secs(&fs::read_to_string("/proc/uptime").unwrap());
    let day = DAY as f64 + 0.5;
    assert!(
        inside >= host_before + day - 0.1 && inside <= host_after + day + 0.1,
        "uptime inside {inside}, host {host_before}..{host_after}"
    );
}

/// `/proc/<pid>/cgroup` as (hierarchy id, controllers, path) triples.
fn proc_cgroup(pid: impl std::fmt::Display) -> Vec<(String, String, String)> {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"))
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, ':');
            let mut next = || f.next().unwrap_or_default().to_string();
            (next(), next(), next())
        })
        .collect()
}

/// The v1 hierarchies of `/proc/<pid>/cgroup`, without the v2 line (`0::`).
fn v1_lines(pid: impl std::fmt::Display) -> Vec<(String, String)> {
    proc_cgroup(pid)
        .into_iter()
        .filter(|(id, _, _)| id != "0")
        .map(|(_, controllers, path)| (controllers, path))
        .collect()
}

#[test]
fn init_is_in_its_cgroup_in_every_hierarchy() {
    let env = Env::new("cgroup_placement");
    if common::is_cgroup2_unified() {
        eprintln!("pure cgroup v2 host: v1 placement not tested");
        return;
    }
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    let cg = env.cgroup_path(b.id());
    let lines = v1_lines(pid);
    assert!(!lines.is_empty());
    for (controllers, path) in &lines {
        assert_eq!(path, &cg, "{controllers} hierarchy");
    }
    // A hybrid host's cgroup2 (cloned into it with CLONE_INTO_CGROUP) too.
    if cgroup_mounts().iter().any(|m| m.v2) {
        let unified: Vec<String> = proc_cgroup(pid)
            .into_iter()
            .filter(|(id, _, _)| id == "0")
            .map(|(_, _, path)| path)
            .collect();
        assert_eq!(unified, vec![cg.clone()], "the cgroup2 line");
    }
    let dirs = cgroup_v1_dirs(&cg);
    assert_eq!(
        dirs.len(),
        cgroup_mounts().iter().filter(|m| !m.v2).count(),
        "one directory per v1 hierarchy: {dirs:?}"
    );
    // Without a cgroup namespace the container sees the host's paths.
    assert_eq!(ns_inode(pid, "cgroup"), ns_inode("self", "cgroup"));
    env.hull_ok(&["delete", b.id()]);
    for d in &dirs {
        assert!(!d.exists(), "{} not removed at delete", d.display());
    }
}

#[test]
fn cgroup_namespace_makes_the_containers_cgroup_its_root() {
    let env = Env::new("cgroupns");
    let b = env.bundle("b");
    add_namespace(&b, "cgroup");
    let out = run_output(&env, &b, &["cat", "/proc/self/cgroup"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(!lines.is_empty(), "no /proc/self/cgroup output");
    for line in lines {
        assert!(
            line.ends_with(":/"),
            "inside a cgroup namespace every path is /: {line:?}"
        );
    }
    // From the host, the init still sits at cgroupsPath.
    b.set_args(&["sleep", "1000"]);
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    assert_ne!(ns_inode(pid, "cgroup"), ns_inode("self", "cgroup"));
    for (controllers, path) in v1_lines(pid) {
        assert_eq!(path, env.cgroup_path(b.id()), "{controllers}");
    }
    env.hull_ok(&["delete", b.id()]);
}

#[test]
fn relative_cgroups_path_is_below_hulls_own_cgroup() {
    let env = Env::new("cgroup_relative");
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    // The env's own name first, so that the harness would find a leak in the hierarchies
    // where hull's cgroup is the root.
    let relative = env.cgroup_path(b.id()).trim_start_matches('/').to_string();
    b.edit(|c| c["linux"]["cgroupsPath"] = relative.clone().into());
    env.hull_ok(&["create", "-b", b.path_str(), b.id()]);
    let pid = env.pid(b.id());
    // hull inherits our cgroups, so "relative to hull's" is relative to ours.
    let own: Vec<(String, String)> = v1_lines("self");
    let theirs = v1_lines(pid);
    assert_eq!(own.len(), theirs.len());
    let mut dirs = Vec::new();
    for ((controllers, own_path), (_, path)) in own.iter().zip(&theirs) {
        let want = Path::new(own_path).join(&relative);
        assert_eq!(Path::new(path), want, "{controllers} hierarchy");
        let name = controllers.strip_prefix("name=").unwrap_or(controllers);
        dirs.push(
            Path::new("/sys/fs/cgroup")
                .join(name)
                .join(want.strip_prefix("/").unwrap()),
        );
    }
    for d in &dirs {
        assert!(d.is_dir(), "{} missing", d.display());
    }
    env.hull_ok(&["delete", b.id()]);
    for d in &dirs {
        assert!(!d.exists(), "{} not removed at delete", d.display());
        // The parent hull made below a non-root cgroup of ours: the harness only sweeps
        // top-level names, so remove it here.
        if let Some(parent) = d.parent() {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// Deletes a container whose cgroup the harness cannot see (outside the env's cgroup
/// parent), and removes its cgroup directories, even when the test fails.
struct OutsideScope<'a> {
    env: &'a Env,
    id: String,
    dirs: Vec<PathBuf>,
}

impl Drop for OutsideScope<'_> {
    fn drop(&mut self) {
        let _ = self.env.hull(&["delete", "-f", &self.id]);
        for d in &self.dirs {
            let _ = fs::remove_dir(d);
        }
    }
}

#[test]
fn default_cgroups_path_is_hull_slash_id() {
    let env = Env::new("cgroup_default");
    if common::is_cgroup2_unified() {
        eprintln!("pure cgroup v2 host: v1 placement not tested");
        return;
    }
    let b = env.bundle("b");
    b.set_args(&["sleep", "1000"]);
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    });
    // The id alone names the cgroup: make it unique across concurrent test runs.
    let id = format!("{}{}-{}", common::PREFIX, std::process::id(), b.id());
    let cg = format!("/hull/{id}");
    let guard = OutsideScope {
        env: &env,
        id: id.clone(),
        dirs: cgroup_mounts()
            .iter()
            .map(|m| m.mount_point.join(cg.trim_start_matches('/')))
            .collect(),
    };
    env.hull_ok(&["create", "-b", b.path_str(), &id]);
    let pid = env.pid(&id);
    for (controllers, path) in v1_lines(pid) {
        assert_eq!(path, cg, "{controllers} hierarchy");
    }
    let dirs = cgroup_v1_dirs(&cg);
    assert!(!dirs.is_empty());
    env.hull_ok(&["delete", &id]);
    for d in &dirs {
        assert!(!d.exists(), "{} not removed at delete", d.display());
    }
    drop(guard);
}
