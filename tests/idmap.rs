//! ID-mapped mounts: a bind mount whose files appear to the container's user namespace
//! with their owners shifted (mount `uidMappings`/`gidMappings`, options `idmap`).

mod common;

use std::os::unix::fs::MetadataExt;

use common::Env;
use serde_json::json;

const MAPPED_ROOT: u32 = 100_000;

/// A container in a user namespace (0 → 100000), with `data` bound at /data.
fn bundle_with_data(
    env: &Env,
    name: &str,
    mount: serde_json::Value,
    script: &str,
) -> common::Bundle {
    let b = env.bundle(name);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": MAPPED_ROOT, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        c["mounts"].as_array_mut().unwrap().push(mount);
    });
    let ok = std::process::Command::new("chown")
        .args(["-R", "-h", &format!("{MAPPED_ROOT}:{MAPPED_ROOT}")])
        .arg(b.rootfs())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    b.set_args(&["sh", "-c", script]);
    b
}

fn data_dir(env: &Env) -> std::path::PathBuf {
    let d = env.dir().join("data");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("file"), "owned by host root").unwrap();
    d
}

#[test]
fn files_of_host_root_are_root_inside_through_an_idmapped_mount() {
    let env = Env::new("idmap");
    let data = data_dir(&env);
    let script = "stat -c '%u %g' /data/file; touch /data/made-inside";
    // Without idmap: host root's files belong to nobody inside.
    let plain =
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind"]});
    let b = bundle_with_data(&env, "plain", plain, "stat -c '%u %g' /data/file");
    let out = env.hull_ok(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(out.trim(), "65534 65534");
    // With idmap and the container's mappings: they are root's inside, and what root
    // makes inside belongs to host root on disk.
    let idmapped = json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "idmap"]});
    let b2 = bundle_with_data(&env, "idmapped", idmapped, script);
    let out = env.hull_ok(&["run", "-b", b2.path_str(), b2.id()]);
    assert_eq!(out.trim(), "0 0");
    let made = std::fs::metadata(data.join("made-inside")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
}

#[test]
fn a_mount_with_its_own_mappings() {
    let env = Env::new("idmap_own");
    let data = data_dir(&env);
    // On disk 0 shows as host 100005, which is 5 in the container.
    let mount = json!({
        "destination": "/data", "type": "bind", "source": data, "options": ["bind", "ro"],
        "uidMappings": [{"containerID": 0, "hostID": MAPPED_ROOT + 5, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": MAPPED_ROOT + 7, "size": 1}]
    });
    let b = bundle_with_data(
        &env,
        "b",
        mount,
        "stat -c '%u %g' /data/file; touch /data/x 2>&1 | grep -c Read-only",
    );
    let out = env.hull_ok(&["run", "-b", b.path_str(), b.id()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "5 7");
    assert_eq!(lines[1], "1", "ro applies to the ID-mapped mount: {out}");
}

#[test]
fn idmap_on_a_mount_that_is_not_a_bind_is_refused() {
    let env = Env::new("idmap_bad");
    let b = bundle_with_data(
        &env,
        "b",
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
        "true",
    );
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("mounts[7]") && err.contains("bind"), "{err}");
    assert!(!env.state_dir().join(b.id()).exists());
}
