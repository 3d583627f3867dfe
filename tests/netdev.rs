//! `linux.netDevices`: a host interface (one end of a veth pair: this kernel has no
//! dummy link type) moved into the container's network namespace under a new name, and
//! back on the host under its own name when the container is deleted.

mod common;

use std::process::Command;

use common::Env;
use serde_json::json;

/// A veth pair on the host, deleted when dropped (deleting one end deletes both).
struct Veth {
    name: String,
}

impl Veth {
    fn new(tag: &str) -> Veth {
        let name = format!("hv{}{tag}", std::process::id() % 100_000);
        let peer = format!("{name}p");
        let ok = Command::new("ip")
            .args(["link", "add", &name, "type", "veth", "peer", "name", &peer])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip link add {name}");
        Veth { name }
    }

    fn on_host(&self) -> bool {
        std::path::Path::new("/sys/class/net")
            .join(&self.name)
            .exists()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .status();
    }
}

#[test]
fn a_device_moves_in_renamed_and_back_at_delete() {
    let env = Env::new("netdev");
    let veth = Veth::new("a");
    let b = env.bundle("b");
    b.edit(|c| c["linux"]["netDevices"] = json!({ veth.name.clone(): {"name": "eth7"} }));
    b.set_args(&["sleep", "100000"]);
    env.hull_ok(&["run", "-d", "-b", b.path_str(), b.id()]);
    assert!(!veth.on_host(), "still on the host");
    let inside = env.hull_ok(&["exec", b.id(), "ls", "/sys/class/net"]);
    let names: Vec<&str> = inside.split_whitespace().collect();
    assert!(names.contains(&"eth7"), "{inside}");
    env.hull_ok(&["delete", "-f", b.id()]);
    assert!(veth.on_host(), "not back on the host under its own name");
}

#[test]
fn a_device_comes_back_after_a_foreground_run() {
    let env = Env::new("netdev_run");
    let veth = Veth::new("b");
    let b = env.bundle("b");
    b.edit(|c| c["linux"]["netDevices"] = json!({ veth.name.clone(): {} }));
    let script = format!("test -e /sys/class/net/{} && echo moved", veth.name);
    b.set_args(&["sh", "-c", &script]);
    // The container's processes are gone before delete: the namespace is held.
    assert_eq!(
        env.hull_ok(&["run", "-b", b.path_str(), b.id()]).trim(),
        "moved"
    );
    assert!(veth.on_host());
}

#[test]
fn bad_net_devices_are_refused_before_anything_is_made() {
    let env = Env::new("netdev_bad");
    let b = env.bundle("b");
    b.edit(|c| c["linux"]["netDevices"] = json!({"hull-nope0": {}}));
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("linux.netDevices.hull-nope0"), "{err}");
    let veth = Veth::new("c");
    b.edit(|c| {
        c["linux"]["netDevices"] = json!({ veth.name.clone(): {"name": "bad/name"} });
    });
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(".name"));
    b.edit(|c| {
        c["linux"]["netDevices"] = json!({ veth.name.clone(): {} });
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "network");
    });
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("network namespace"));
    assert!(veth.on_host());
    assert!(!env.state_dir().join(b.id()).exists());
}
