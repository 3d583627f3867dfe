//! Per-task attributes of runtime-spec 1.3: personality, ioPriority, scheduler,
//! execCPUAffinity, memoryPolicy, and intelRdt's refusal where resctrl is missing.

mod common;

use common::Env;
use serde_json::json;

fn run_with(env: &Env, edit: impl FnOnce(&mut serde_json::Value), script: &str) -> String {
    let b = env.bundle("b");
    b.edit(edit);
    b.set_args(&["sh", "-c", script]);
    env.hull_ok(&["run", "-b", b.path_str(), b.id()])
}

#[test]
fn personality_linux32_changes_the_machine_name() {
    let env = Env::new("personality");
    let out = run_with(
        &env,
        |c| {
            c["linux"]["personality"] = json!({"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]})
        },
        "uname -m; cat /proc/self/personality",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("i686"));
    // PER_LINUX32 (0x8) | ADDR_NO_RANDOMIZE (0x40000)
    assert_eq!(lines.next(), Some("00040008"));
}

#[test]
fn io_priority_scheduler_and_cpu_affinity_reach_the_process() {
    let env = Env::new("sched");
    let out = run_with(
        &env,
        |c| {
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
            c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
            c["process"]["execCPUAffinity"] = json!({"final": "0"});
        },
        "ionice -p $$; grep -E '^policy' /proc/self/sched | tr -s ' '; cut -d' ' -f19 /proc/self/stat; grep Cpus_allowed_list /proc/self/status",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "best-effort: prio 6", "{out}");
    assert_eq!(lines[1], "policy : 3", "SCHED_BATCH is 3: {out}");
    assert_eq!(lines[2], "7", "nice: {out}");
    assert_eq!(lines[3], "Cpus_allowed_list:\t0", "{out}");
}

#[test]
fn memory_policy_binds_to_the_nodes() {
    let env = Env::new("mempolicy");
    let out = run_with(
        &env,
        |c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"}),
        "grep -c bind:0 /proc/self/numa_maps",
    );
    assert!(out.trim().parse::<u32>().unwrap() > 0, "{out}");
}

#[test]
fn bad_attributes_name_their_field_and_leave_nothing() {
    let env = Env::new("bad_attributes");
    let b = env.bundle("b");
    for (edit, needle) in [
        (
            json!({"linux": {"personality": {"domain": "LINUX64"}}}),
            "linux.personality.domain",
        ),
        (
            json!({"linux": {"personality": {"domain": "LINUX", "flags": ["NOPE"]}}}),
            "linux.personality.flags[0]",
        ),
        (
            json!({"process": {"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 12}}}),
            "process.ioPriority.priority",
        ),
        (
            json!({"process": {"execCPUAffinity": {"final": "3-1"}}}),
            "process.execCPUAffinity.final",
        ),
        (
            json!({"linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "x"}}}),
            "linux.memoryPolicy.nodes",
        ),
        (
            json!({"linux": {"intelRdt": {"closID": "c1"}}}),
            "linux.intelRdt",
        ),
    ] {
        let base = {
            let dir = env.dir().join("base.json");
            if !dir.exists() {
                std::fs::write(&dir, serde_json::to_vec(&b.config()).unwrap()).unwrap();
            }
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(&dir).unwrap()).unwrap()
        };
        let mut c = base;
        for (section, v) in edit.as_object().unwrap() {
            for (k, val) in v.as_object().unwrap() {
                c[section][k] = val.clone();
            }
        }
        b.set_config(c);
        let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{needle}: {err}");
        assert!(err.contains(needle), "{err:?} lacks {needle}");
        assert!(!env.state_dir().join(b.id()).exists());
    }
}

#[test]
fn each_container_has_a_session_keyring_of_its_own_unless_no_new_keyring() {
    let env = Env::new("keyring");
    let b = env.bundle("b");
    // /proc/keys is masked by default; unmask it to look.
    b.edit(|c| c["linux"]["maskedPaths"] = json!([]));
    let count = |id: &str| format!("grep -c ' _ses.{id}: ' /proc/keys || true");
    b.set_args(&["sh", "-c", &count(b.id())]);
    let out = env.hull_ok(&["run", "-b", b.path_str(), b.id()]);
    assert_eq!(out.trim(), "1", "the container's own session keyring");
    let id2 = env.unique_id("nk");
    b.edit(|c| c["linux"]["cgroupsPath"] = env.cgroup_path(&id2).into());
    b.set_args(&["sh", "-c", &count(&id2)]);
    let out = env.hull_ok(&["run", "--no-new-keyring", "-b", b.path_str(), &id2]);
    assert_eq!(out.trim(), "0", "--no-new-keyring makes none");
}
