//! Every field of `linux.resources`, and every flag of `hull update`, one table row
//! each: the JSON that sets it, and what the container's cgroup file then holds on
//! cgroup v1 (this host) and on cgroup v2 (the guest of vm/run-cgroup2-tests.sh).
//!
//! The rule the rows check (the cgroups issue): a value is either applied, and reads
//! back from the cgroup file, or refused: `create` (or `update`) exits 1 with one line
//! on stderr that names the field's JSON path, and leaves nothing behind. Never a
//! silent skip. Where the host lacks the controller or the file a row reads, the row
//! expects the refusal instead; which one it saw goes to stderr, one line a row.
//!
//! The tests at the end pin the rows where hull once did wrong (a silent skip, a
//! misnamed field, an update that lost half of `cpu.max`).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{Bundle, Env};
use serde_json::{json, Value};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

fn v2() -> bool {
    common::is_cgroup2_unified()
}

/// What one cgroup version should make of a row.
#[derive(Clone, Debug)]
enum Want {
    /// Applied: `file` reads `value` (the whole file, or one of its lines).
    Reads {
        file: String,
        value: String,
        whole: bool,
        /// The kernel may not take the value on every host (a device without the
        /// policy): a clean refusal is right too.
        or_refused: bool,
    },
    /// Applied, with no file to read back (v2 is always hierarchical).
    Accepted,
    /// Refused, for this reason.
    Refused(String),
    /// Refused because the host has no such file: the error must say so.
    Missing(String),
}

fn is(file: &str, value: &str) -> Want {
    Want::Reads {
        file: file.into(),
        value: value.into(),
        whole: true,
        or_refused: false,
    }
}

fn line(file: &str, value: &str) -> Want {
    Want::Reads {
        file: file.into(),
        value: value.into(),
        whole: false,
        or_refused: false,
    }
}

fn refused(why: &str) -> Want {
    Want::Refused(why.into())
}

impl Want {
    fn or_refused(mut self) -> Want {
        if let Want::Reads { or_refused, .. } = &mut self {
            *or_refused = true;
        }
        self
    }
}

/// One cgroup version's side of a row: the controller whose directory holds the file.
#[derive(Clone, Debug)]
struct Side {
    controller: &'static str,
    want: Want,
}

fn side(controller: &'static str, want: Want) -> Side {
    Side { controller, want }
}

#[derive(Clone, Debug)]
enum Set {
    /// `linux.resources` of a `run -d`.
    Create(Value),
    /// `run -d` with these resources, then `hull update <args>`.
    Update(Value, Vec<&'static str>),
}

#[derive(Clone, Debug)]
struct Row {
    name: &'static str,
    /// What a refusal must name: the JSON path (for `update`, within the resources).
    field: String,
    set: Set,
    v1: Side,
    v2: Side,
    /// The container's cgroup is right below the root: a new v1 parent has no
    /// realtime budget to give (runc fails the same way on a nested path).
    top_level: bool,
}

fn row(name: &'static str, field: &str, set: Set, v1: Side, v2: Side) -> Row {
    Row {
        name,
        field: field.to_string(),
        set,
        v1,
        v2,
        top_level: false,
    }
}

fn create(resources: Value) -> Set {
    Set::Create(resources)
}

fn update(initial: Value, args: &[&'static str]) -> Set {
    Set::Update(initial, args.to_vec())
}

const NOT_V2: &str = "cgroup v2 has no such file";

/// A block device to throttle: a real disk (`/sys/block/*/dev`) if there is one.
fn block_device() -> Option<(u32, u32)> {
    let mut disks: Vec<(String, String)> = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            e.path().join("queue").is_dir().then_some((name, dev))
        })
        .collect();
    let virtual_disk = |n: &str| {
        ["loop", "ram", "zram", "nbd"]
            .iter()
            .any(|p| n.starts_with(p))
    };
    disks.sort_by_key(|(name, _)| (virtual_disk(name), name.clone()));
    let (_, dev) = disks.into_iter().next()?;
    let (major, minor) = dev.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Every row. The blockIO rows use a real block device, or, on a host without one,
/// a made-up one that every per-device value must be refused for.
fn rows() -> Vec<Row> {
    let real = block_device();
    // Major 240 is for local use: no module claims it. (A loop device, major 7, would
    // not do: the kernel loads the loop module and makes the device on first use.)
    let (maj, min) = real.unwrap_or((240, 1_048_575));
    assert!(
        real.is_some() || !Path::new(&format!("/sys/dev/block/{maj}:{min}")).exists(),
        "the made-up block device {maj}:{min} exists"
    );
    let dev = format!("{maj}:{min}");
    // No block device at all (the guest): every per-device value is refused.
    let per_device = |want: Want| match real {
        Some(_) => want,
        None => refused("the host has no block device"),
    };
    let d = |extra: Value| {
        let mut o = json!({"major": maj, "minor": min});
        o.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!([o])
    };
    let rdma_device = Path::new("/sys/class/infiniband/mlx5_0").exists();
    let rdma = |want: Want| {
        if rdma_device {
            want
        } else {
            refused("the host has no RDMA device mlx5_0")
        }
    };
    let io_max = |key: &str, v: u64| {
        let mut all = ["rbps=max", "wbps=max", "riops=max", "wiops=max"].map(String::from);
        for kv in all.iter_mut() {
            if kv.starts_with(key) {
                *kv = format!("{key}={v}");
            }
        }
        format!("{dev} {}", all.join(" "))
    };
    let throttle = |name: &'static str, v1_file: &'static str, key: &'static str, v: u64| {
        row(
            name,
            &format!("linux.resources.{name}[0]"),
            create(json!({"blockIO": {name.rsplit('.').next().unwrap(): d(json!({"rate": v}))}})),
            side("blkio", per_device(line(v1_file, &format!("{dev} {v}")))),
            side("io", per_device(line("io.max", &io_max(key, v)))),
        )
    };

    let mut rows = vec![
        // memory
        row(
            "memory.limit",
            "linux.resources.memory.limit",
            create(json!({"memory": {"limit": 33554432}})),
            side("memory", is("memory.limit_in_bytes", "33554432")),
            side("memory", is("memory.max", "33554432")),
        ),
        row(
            "memory.reservation",
            "linux.resources.memory.reservation",
            create(json!({"memory": {"reservation": 16777216}})),
            side("memory", is("memory.soft_limit_in_bytes", "16777216")),
            side("memory", is("memory.low", "16777216")),
        ),
        // The spec's swap is memory+swap (v1 memsw); v2 limits swap alone.
        row(
            "memory.swap",
            "linux.resources.memory.swap",
            create(json!({"memory": {"limit": 33554432, "swap": 67108864}})),
            side("memory", is("memory.memsw.limit_in_bytes", "67108864")),
            side("memory", is("memory.swap.max", "33554432")),
        ),
        row(
            "memory.swap without a limit",
            "linux.resources.memory.swap",
            create(json!({"memory": {"swap": 67108864}})),
            side(
                "memory",
                refused("the kernel refuses memsw below the (unlimited) memory limit"),
            ),
            side(
                "memory",
                refused("memory+swap cannot become swap.max without a memory limit"),
            ),
        ),
        row(
            "memory.kernel",
            "linux.resources.memory.kernel",
            create(json!({"memory": {"kernel": 33554432}})),
            side(
                "memory",
                is("memory.kmem.limit_in_bytes", "33554432").or_refused(),
            ),
            side("memory", refused(NOT_V2)),
        ),
        row(
            "memory.kernelTCP",
            "linux.resources.memory.kernelTCP",
            create(json!({"memory": {"kernelTCP": 16777216}})),
            side("memory", is("memory.kmem.tcp.limit_in_bytes", "16777216")),
            side("memory", refused(NOT_V2)),
        ),
        row(
            "memory.swappiness",
            "linux.resources.memory.swappiness",
            create(json!({"memory": {"swappiness": 10}})),
            side("memory", is("memory.swappiness", "10")),
            side("memory", refused(NOT_V2)),
        ),
        row(
            "memory.disableOOMKiller",
            "linux.resources.memory.disableOOMKiller",
            create(json!({"memory": {"disableOOMKiller": true}})),
            side("memory", line("memory.oom_control", "oom_kill_disable 1")),
            side("memory", refused(NOT_V2)),
        ),
        row(
            "memory.useHierarchy",
            "linux.resources.memory.useHierarchy",
            create(json!({"memory": {"useHierarchy": true}})),
            side("memory", is("memory.use_hierarchy", "1")),
            side("memory", Want::Accepted),
        ),
        row(
            "memory.useHierarchy false",
            "linux.resources.memory.useHierarchy",
            create(json!({"memory": {"useHierarchy": false}})),
            side(
                "memory",
                refused("the kernel keeps use_hierarchy on (writing 0 is EINVAL)"),
            ),
            side("memory", refused("cgroup v2 is always hierarchical")),
        ),
        // cpu
        row(
            "cpu.shares",
            "linux.resources.cpu.shares",
            create(json!({"cpu": {"shares": 512}})),
            side("cpu", is("cpu.shares", "512")),
            // runc: 1 + (512 - 2) * 9999 / 262142
            side("cpu", is("cpu.weight", "20")),
        ),
        row(
            "cpu.quota",
            "linux.resources.cpu.quota",
            create(json!({"cpu": {"quota": 20000}})),
            side("cpu", is("cpu.cfs_quota_us", "20000")),
            side("cpu", is("cpu.max", "20000 100000")),
        ),
        row(
            "cpu.period",
            "linux.resources.cpu.period",
            create(json!({"cpu": {"period": 50000}})),
            side("cpu", is("cpu.cfs_period_us", "50000")),
            side("cpu", is("cpu.max", "max 50000")),
        ),
        row(
            "cpu.burst",
            "linux.resources.cpu.burst",
            create(json!({"cpu": {"quota": 20000, "period": 100000, "burst": 10000}})),
            side("cpu", is("cpu.cfs_burst_us", "10000")),
            side("cpu", is("cpu.max.burst", "10000")),
        ),
        row(
            "cpu.realtimePeriod",
            "linux.resources.cpu.realtimePeriod",
            create(json!({"cpu": {"realtimePeriod": 500000}})),
            side("cpu", is("cpu.rt_period_us", "500000")),
            side("cpu", refused(NOT_V2)),
        ),
        Row {
            top_level: true,
            ..row(
                "cpu.realtimeRuntime",
                "linux.resources.cpu.realtimeRuntime",
                create(json!({"cpu": {"realtimeRuntime": 10000}})),
                side("cpu", is("cpu.rt_runtime_us", "10000")),
                side("cpu", refused(NOT_V2)),
            )
        },
        row(
            "cpu.realtimeRuntime nested",
            "linux.resources.cpu.realtimeRuntime",
            create(json!({"cpu": {"realtimeRuntime": 10000}})),
            side(
                "cpu",
                refused("the new parent cgroup has no realtime runtime to give"),
            ),
            side("cpu", refused(NOT_V2)),
        ),
        row(
            "cpu.cpus",
            "linux.resources.cpu.cpus",
            create(json!({"cpu": {"cpus": "0"}})),
            side("cpuset", is("cpuset.cpus", "0")),
            side("cpuset", is("cpuset.cpus", "0")),
        ),
        row(
            "cpu.mems",
            "linux.resources.cpu.mems",
            create(json!({"cpu": {"mems": "0"}})),
            side("cpuset", is("cpuset.mems", "0")),
            side("cpuset", is("cpuset.mems", "0")),
        ),
        row(
            "cpu.idle",
            "linux.resources.cpu.idle",
            create(json!({"cpu": {"idle": 1}})),
            side("cpu", is("cpu.idle", "1")),
            side("cpu", is("cpu.idle", "1")),
        ),
        // pids
        row(
            "pids.limit",
            "linux.resources.pids.limit",
            create(json!({"pids": {"limit": 42}})),
            side("pids", is("pids.max", "42")),
            side("pids", is("pids.max", "42")),
        ),
        // blockIO
        row(
            "blockIO.weight",
            "linux.resources.blockIO.weight",
            create(json!({"blockIO": {"weight": 500}})),
            side("blkio", is("blkio.weight", "500")),
            // runc: 1 + (500 - 10) * 9999 / 990
            side("io", is("io.weight", "default 4950")),
        ),
        row(
            "blockIO.leafWeight",
            "linux.resources.blockIO.leafWeight",
            create(json!({"blockIO": {"leafWeight": 300}})),
            side("blkio", is("blkio.leaf_weight", "300")),
            side("io", refused(NOT_V2)),
        ),
        row(
            "blockIO.weightDevice",
            "linux.resources.blockIO.weightDevice[0]",
            create(json!({"blockIO": {"weightDevice": d(json!({"weight": 500}))}})),
            side(
                "blkio",
                per_device(line("blkio.weight_device", &format!("{dev} 500"))),
            ),
            // io.weight per device needs the iocost policy on the device.
            side(
                "io",
                per_device(line("io.weight", &format!("{dev} 4950")).or_refused()),
            ),
        ),
        row(
            "blockIO.weightDevice leafWeight",
            "linux.resources.blockIO.weightDevice[0]",
            create(json!({"blockIO": {"weightDevice": d(json!({"leafWeight": 300}))}})),
            side(
                "blkio",
                per_device(line("blkio.leaf_weight_device", &format!("{dev} 300"))),
            ),
            side("io", refused(NOT_V2)),
        ),
        throttle(
            "blockIO.throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            "rbps",
            1048576,
        ),
        throttle(
            "blockIO.throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            "wbps",
            2097152,
        ),
        throttle(
            "blockIO.throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            "riops",
            100,
        ),
        throttle(
            "blockIO.throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            "wiops",
            200,
        ),
        // hugetlb, net_cls, net_prio, rdma, unified
        row(
            "hugepageLimits",
            "linux.resources.hugepageLimits[0]",
            create(json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})),
            side("hugetlb", is("hugetlb.2MB.limit_in_bytes", "4194304")),
            side("hugetlb", is("hugetlb.2MB.max", "4194304")),
        ),
        row(
            "network.classID",
            "linux.resources.network",
            create(json!({"network": {"classID": 1048577}})),
            side("net_cls", is("net_cls.classid", "1048577")),
            side("", refused(NOT_V2)),
        ),
        row(
            "network.priorities",
            "linux.resources.network",
            create(json!({"network": {"priorities": [{"name": "lo", "priority": 5}]}})),
            side("net_prio", line("net_prio.ifpriomap", "lo 5")),
            side("", refused(NOT_V2)),
        ),
        row(
            "rdma",
            "linux.resources.rdma.mlx5_0",
            create(json!({"rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000}}})),
            side(
                "rdma",
                rdma(line("rdma.max", "mlx5_0 hca_handle=3 hca_object=10000")),
            ),
            side(
                "rdma",
                rdma(line("rdma.max", "mlx5_0 hca_handle=3 hca_object=10000")),
            ),
        ),
        row(
            "unified",
            "linux.resources.unified",
            create(json!({"unified": {"memory.high": "52428800"}})),
            side("", refused("unified needs cgroup v2")),
            side("memory", is("memory.high", "52428800")),
        ),
        row(
            "unified with a file the host lacks",
            "linux.resources.unified",
            create(json!({"unified": {"memory.nosuchfile": "1"}})),
            side("", refused("unified needs cgroup v2")),
            side("memory", Want::Missing("memory.nosuchfile".into())),
        ),
        // hull update: errors name the field within the resources document.
        row(
            "update --memory",
            "memory.limit",
            update(json!({}), &["--memory", "64m"]),
            side("memory", is("memory.limit_in_bytes", "67108864")),
            side("memory", is("memory.max", "67108864")),
        ),
        row(
            "update --memory-swap",
            "memory.swap",
            update(
                json!({"memory": {"limit": 67108864}}),
                &["--memory-swap", "128m"],
            ),
            side("memory", is("memory.memsw.limit_in_bytes", "134217728")),
            // runc: memory+swap 128m - the container's memory limit 64m
            side("memory", is("memory.swap.max", "67108864")),
        ),
        row(
            "update --memory-reservation",
            "memory.reservation",
            update(json!({}), &["--memory-reservation", "16m"]),
            side("memory", is("memory.soft_limit_in_bytes", "16777216")),
            side("memory", is("memory.low", "16777216")),
        ),
        row(
            "update --cpu-shares",
            "cpu.shares",
            update(json!({}), &["--cpu-shares", "256"]),
            side("cpu", is("cpu.shares", "256")),
            // runc: 1 + (256 - 2) * 9999 / 262142
            side("cpu", is("cpu.weight", "10")),
        ),
        row(
            "update --cpu-quota",
            "cpu.quota",
            update(json!({}), &["--cpu-quota", "30000"]),
            side("cpu", is("cpu.cfs_quota_us", "30000")),
            side("cpu", is("cpu.max", "30000 100000")),
        ),
        row(
            "update --cpu-quota keeps the period",
            "cpu.quota",
            update(json!({"cpu": {"period": 50000}}), &["--cpu-quota", "30000"]),
            side("cpu", is("cpu.cfs_period_us", "50000")),
            side("cpu", is("cpu.max", "30000 50000")),
        ),
        row(
            "update --cpu-period keeps the quota",
            "cpu.period",
            update(
                json!({"cpu": {"quota": 20000, "period": 100000}}),
                &["--cpu-period", "50000"],
            ),
            side("cpu", is("cpu.cfs_quota_us", "20000")),
            side("cpu", is("cpu.max", "20000 50000")),
        ),
        row(
            "update --cpu-period",
            "cpu.period",
            update(json!({}), &["--cpu-period", "50000"]),
            side("cpu", is("cpu.cfs_period_us", "50000")),
            side("cpu", is("cpu.max", "max 50000")),
        ),
        row(
            "update --cpuset-cpus",
            "cpu.cpus",
            update(json!({}), &["--cpuset-cpus", "0"]),
            side("cpuset", is("cpuset.cpus", "0")),
            side("cpuset", is("cpuset.cpus", "0")),
        ),
        row(
            "update --cpuset-mems",
            "cpu.mems",
            update(json!({}), &["--cpuset-mems", "0"]),
            side("cpuset", is("cpuset.mems", "0")),
            side("cpuset", is("cpuset.mems", "0")),
        ),
        row(
            "update --pids-limit",
            "pids.limit",
            update(json!({}), &["--pids-limit", "50"]),
            side("pids", is("pids.max", "50")),
            side("pids", is("pids.max", "50")),
        ),
        row(
            "update --blkio-weight",
            "blockIO.weight",
            update(json!({}), &["--blkio-weight", "500"]),
            side("blkio", is("blkio.weight", "500")),
            side("io", is("io.weight", "default 4950")),
        ),
    ];
    rows.sort_by_key(|r| r.name);
    rows
}

/// The files of a new cgroup of `controller`, or None when the host lacks it. A
/// directory made and removed again at once, under a probe env's name.
fn host_files(controller: &str) -> Option<HashSet<String>> {
    static FILES: OnceLock<HashMap<String, Option<HashSet<String>>>> = OnceLock::new();
    let all = FILES.get_or_init(|| {
        let env = Env::new("cgf_probe");
        let name = env.cgroup_parent().trim_start_matches('/').to_string();
        let list = |dir: &Path| -> HashSet<String> {
            std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            let files = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            std::fs::remove_dir(dir).unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display()));
            files
        };
        let mut all = HashMap::new();
        if v2() {
            let controllers =
                std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers"))
                    .unwrap_or_default();
            let files = list(&Path::new(CGROUP_ROOT).join(&name));
            for c in controllers.split_whitespace() {
                all.insert(c.to_string(), Some(files.clone()));
            }
        } else {
            for m in common::cgroup_mounts().into_iter().filter(|m| !m.v2) {
                let hierarchy = m
                    .mount_point
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let files = list(&m.mount_point.join(&name));
                for c in hierarchy.split(',') {
                    all.insert(c.to_string(), Some(files.clone()));
                }
            }
        }
        all
    });
    all.get(controller).cloned().flatten()
}

/// The container's cgroup directory holding `controller`'s files.
fn cgroup_dir(controller: &str, cgroups_path: &str) -> PathBuf {
    let rel = cgroups_path.trim_start_matches('/');
    if v2() {
        return Path::new(CGROUP_ROOT).join(rel);
    }
    common::cgroup_mounts()
        .into_iter()
        .filter(|m| !m.v2)
        .map(|m| m.mount_point)
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().split(',').any(|c| c == controller))
        })
        .unwrap_or_else(|| panic!("no v1 hierarchy of {controller}"))
        .join(rel)
}

/// What this host should make of the row: a value read back where the host lacks the
/// controller or the file becomes a refusal (and the reason for a refusal names the
/// controller the host lacks).
fn expected(side: &Side) -> Want {
    let c = side.controller;
    match &side.want {
        Want::Refused(_) if !c.is_empty() && host_files(c).is_none() => {
            Want::Refused(format!("the host has no {c} controller"))
        }
        Want::Reads {
            file, value, whole, ..
        } => match host_files(side.controller) {
            None => Want::Refused(format!("the host has no {} controller", side.controller)),
            // With the BFQ scheduler the weights are blkio.bfq.weight*, where hull
            // writes them as runc does; a device not on BFQ may refuse.
            Some(files)
                if !files.contains(file)
                    && file.starts_with("blkio.weight")
                    && files.contains(&file.replacen("blkio.", "blkio.bfq.", 1)) =>
            {
                Want::Reads {
                    file: file.replacen("blkio.", "blkio.bfq.", 1),
                    value: value.clone(),
                    whole: *whole,
                    or_refused: true,
                }
            }
            Some(files) if !files.contains(file) => Want::Missing(file.clone()),
            Some(_) => side.want.clone(),
        },
        other => other.clone(),
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim_end().to_string()
}

/// A refusal as the rule has it: exit 1, one line naming the field; for a file the
/// host lacks, one that says the file does not exist.
fn check_refusal(out: &std::process::Output, field: &str, want: &Want) -> Result<String, String> {
    let err = stderr_of(out);
    if out.status.code() != Some(1) {
        return Err(format!("exit {:?}, not 1: {err:?}", out.status.code()));
    }
    if err.lines().count() != 1 {
        return Err(format!("stderr is not one line: {err:?}"));
    }
    if !err.contains(field) {
        return Err(format!("the error does not name {field}: {err:?}"));
    }
    if let Want::Missing(file) = want {
        let lower = err.to_lowercase();
        if !lower.contains("does not exist") && !lower.contains("no such file") {
            return Err(format!(
                "the error does not say that {file} does not exist: {err:?}"
            ));
        }
    }
    Ok(err)
}

/// A refused `create` leaves no state dir and no cgroup directory in any hierarchy.
fn check_nothing_left(env: &Env, id: &str, cgroups_path: &str) -> Result<(), String> {
    if env.state_dir().join(id).exists() {
        return Err("the state dir of the container is left".into());
    }
    let rel = cgroups_path.trim_start_matches('/');
    let left: Vec<String> = common::cgroup_mounts()
        .into_iter()
        .map(|m| m.mount_point.join(rel))
        .filter(|d| d.exists())
        .map(|d| d.display().to_string())
        .collect();
    if !left.is_empty() {
        return Err(format!("cgroup directories left: {left:?}"));
    }
    Ok(())
}

/// Reads the wanted file of a running container and compares.
fn check_reads(
    controller: &str,
    cgroups_path: &str,
    file: &str,
    value: &str,
    whole: bool,
) -> Result<String, String> {
    let path = cgroup_dir(controller, cgroups_path).join(file);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let ok = if whole {
        text.trim() == value
    } else {
        text.lines().any(|l| l.trim() == value)
    };
    if ok {
        Ok(format!("{file} = {value:?}"))
    } else {
        Err(format!("{file} holds {:?}, not {value:?}", text.trim()))
    }
}

fn status(env: &Env, id: &str) -> String {
    let out = env.hull(&["state", id]);
    serde_json::from_slice::<Value>(&out.stdout)
        .map(|s| s["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

fn bundle(env: &Env, row: &Row, resources: &Value) -> (Bundle, String) {
    let b = env.bundle("b");
    let cgroups_path = if row.top_level {
        env.cgroup_parent().to_string()
    } else {
        env.cgroup_path(b.id())
    };
    b.edit(|c| {
        let devices = c["linux"]["resources"]["devices"].clone();
        c["linux"]["resources"] = resources.clone();
        c["linux"]["resources"]["devices"] = devices;
        c["linux"]["cgroupsPath"] = cgroups_path.clone().into();
    });
    b.set_args(&["sleep", "100000"]);
    (b, cgroups_path)
}

impl Want {
    /// Why the value must be refused, if it must.
    fn refusal(&self) -> Option<String> {
        match self {
            Want::Refused(why) => Some(why.clone()),
            Want::Missing(file) => Some(format!("the host has no {file}")),
            _ => None,
        }
    }

    fn may_be_refused(&self) -> bool {
        matches!(
            self,
            Want::Refused(_)
                | Want::Missing(_)
                | Want::Reads {
                    or_refused: true,
                    ..
                }
        )
    }
}

/// Runs one row on this host: Ok(what it saw) when hull did what the row wants.
fn check(row: &Row) -> Result<String, String> {
    let side = if v2() { &row.v2 } else { &row.v1 };
    let want = expected(side);
    let env = Env::new(&format!("cgf_{}", row.name));
    let (initial, update_args) = match &row.set {
        Set::Create(r) => (r.clone(), None),
        Set::Update(r, a) => (r.clone(), Some(a.clone())),
    };
    let (b, cgroups_path) = bundle(&env, row, &initial);
    let id = b.id().to_string();
    let applied = |what: &str| -> Result<String, String> {
        match (&want, want.refusal()) {
            (_, Some(why)) => Err(format!("{what} succeeded; it should be refused: {why}")),
            (
                Want::Reads {
                    file, value, whole, ..
                },
                None,
            ) => check_reads(side.controller, &cgroups_path, file, value, *whole),
            _ => Ok("accepted".into()),
        }
    };
    let result = match update_args {
        None => {
            // A value to refuse is given to `create`, as the rule says; one to apply,
            // to `run -d`.
            let out = if want.refusal().is_some() {
                env.hull(&["create", "-b", b.path_str(), &id])
            } else {
                env.hull(&["run", "-d", "-b", b.path_str(), &id])
            };
            if out.status.success() {
                let r = applied("create");
                env.hull_ok(&["delete", "-f", &id]);
                r
            } else if want.may_be_refused() {
                check_refusal(&out, &row.field, &want).and_then(|err| {
                    check_nothing_left(&env, &id, &cgroups_path)?;
                    let why = want.refusal().unwrap_or_else(|| "by the kernel".into());
                    Ok(format!("refused ({why}): {err}"))
                })
            } else {
                Err(format!("run -d failed: {}", stderr_of(&out)))
            }
        }
        Some(args) => {
            env.hull_ok(&["run", "-d", "-b", b.path_str(), &id]);
            let mut argv = vec!["update"];
            argv.extend(args.iter().copied());
            argv.push(&id);
            let out = env.hull(&argv);
            let r = if out.status.success() {
                applied("update")
            } else if want.may_be_refused() {
                check_refusal(&out, &row.field, &want).and_then(|err| {
                    match status(&env, &id).as_str() {
                        "running" => Ok(format!("refused: {err}")),
                        s => Err(format!("the container is {s:?} after a refused update")),
                    }
                })
            } else {
                Err(format!("update failed: {}", stderr_of(&out)))
            };
            env.hull_ok(&["delete", "-f", &id]);
            r
        }
    };
    drop(env);
    result
}

/// One line to the real stderr, which the test harness does not capture: the table's
/// results show in the output of the cgroup v2 guest too.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Checks the rows whose name starts with one of `prefixes`; fails listing every row
/// that went wrong.
fn table(prefixes: &[&str]) {
    let version = if v2() { "v2" } else { "v1" };
    let mut failures = Vec::new();
    for row in rows()
        .iter()
        .filter(|r| prefixes.iter().any(|p| r.name.starts_with(p)))
    {
        let result = check(row);
        let line = match &result {
            Ok(saw) => format!("ok        {version} {}: {saw}", row.name),
            Err(e) => {
                failures.push(format!("{}: {e}", row.name));
                format!("FAILED    {version} {}: {e}", row.name)
            }
        };
        report(&format!("cgroup_fields: {line}"));
    }
    assert!(failures.is_empty(), "rows failed:\n{}", failures.join("\n"));
}

/// The row names each table test takes, by prefix: the tests run in parallel.
const TABLES: [&[&str]; 5] = [
    &["memory."],
    &["cpu."],
    &["pids.", "blockIO."],
    &["hugepageLimits", "network.", "rdma", "unified"],
    &["update "],
];

#[test]
fn memory_fields() {
    table(TABLES[0]);
}

#[test]
fn cpu_fields() {
    table(TABLES[1]);
}

#[test]
fn pids_and_block_io_fields() {
    table(TABLES[2]);
}

#[test]
fn hugetlb_network_rdma_and_unified_fields() {
    table(TABLES[3]);
}

#[test]
fn update_flags() {
    table(TABLES[4]);
}

#[test]
fn every_row_is_in_exactly_one_table_test() {
    for r in rows() {
        let tables = TABLES
            .iter()
            .filter(|t| t.iter().any(|p| r.name.starts_with(p)))
            .count();
        assert_eq!(tables, 1, "{} is in {tables} table tests", r.name);
    }
}

/// The row named `name`, asserted to do what it should, on a host of cgroup `version`
/// ("v1" or "v2"), where hull once did wrong; elsewhere the tables cover it.
fn assert_row(version: &str, name: &str) {
    if (version == "v2") != v2() {
        report(&format!(
            "cgroup_fields: {name}: a {version} case, not checked here"
        ));
        return;
    }
    let row = rows()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}"));
    if let Err(e) = check(&row) {
        panic!("{name}: {e}");
    }
}

#[test]
fn memory_kernel_the_kernel_ignores_is_refused_on_v1() {
    assert_row("v1", "memory.kernel");
}

#[test]
fn memory_swap_without_a_limit_is_refused_on_v2() {
    assert_row("v2", "memory.swap without a limit");
}

#[test]
fn memory_use_hierarchy_false_is_refused_on_v2() {
    assert_row("v2", "memory.useHierarchy false");
}

#[test]
fn cpu_realtime_period_refusal_names_its_field_on_v2() {
    assert_row("v2", "cpu.realtimePeriod");
}

#[test]
fn block_io_weight_device_leaf_weight_is_refused_on_v2() {
    assert_row("v2", "blockIO.weightDevice leafWeight");
}

#[test]
fn update_memory_swap_is_relative_to_the_limit_on_v2() {
    assert_row("v2", "update --memory-swap");
}

#[test]
fn update_cpu_quota_keeps_the_period_on_v2() {
    assert_row("v2", "update --cpu-quota keeps the period");
}

#[test]
fn update_cpu_period_keeps_the_quota_on_v2() {
    assert_row("v2", "update --cpu-period keeps the quota");
}

#[test]
fn a_missing_cgroup_file_is_reported_as_missing() {
    let missing: Vec<Row> = rows()
        .into_iter()
        .filter(|r| {
            let side = if v2() { &r.v2 } else { &r.v1 };
            matches!(expected(side), Want::Missing(_))
        })
        .collect();
    let failures: Vec<String> = missing
        .iter()
        .filter_map(|r| check(r).err().map(|e| format!("{}: {e}", r.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
