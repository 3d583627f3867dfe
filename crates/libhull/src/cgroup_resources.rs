//! `linux.resources`: turning the spec's limits into cgroup file writes, for cgroup v1
//! and v2, and applying them all-or-nothing.
//!
//! Owns: the mapping of every resource field to its file and value (a pure function,
//! unit tested), runc's v1→v2 conversions, checking that the host has the controller,
//! and writing with rollback, so a bad `update` changes nothing.
//! Must never: write outside the container's own cgroup directories.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use crate::cgroups::{dir_of, CgroupRecord};
use crate::error::{Error, Result};

/// One file to write in the container's cgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The controller whose directory holds the file (v1), or whose presence it needs.
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// The JSON path of the field it comes from, for errors.
    pub field: String,
}

fn w(
    controller: &'static str,
    file: impl Into<String>,
    value: impl ToString,
    field: &str,
) -> Write {
    Write {
        controller,
        file: file.into(),
        value: value.to_string(),
        field: field.to_string(),
    }
}

const BASE: &str = "linux.resources";

/// A byte limit: -1 is unlimited; any other negative number is a mistake.
fn limit(v: i64, field: &str, unlimited: &str) -> Result<String> {
    match v {
        -1 => Ok(unlimited.to_string()),
        v if v < 0 => Err(Error::config(
            field,
            format!("{v} is negative (only -1, unlimited, is allowed)"),
        )),
        v => Ok(v.to_string()),
    }
}

/// runc's conversion of cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// runc's conversion of blkio.weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (weight.saturating_sub(10) * 9999) / 990
}

/// Every write `res` asks for, in an order the kernel accepts.
pub fn writes(res: &LinuxResources, unified: bool) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        memory(m, unified, &mut out)?;
    }
    if let Some(c) = res.cpu() {
        cpu(c, unified, &mut out)?;
    }
    if let Some(p) = res.pids() {
        let v = if p.limit() <= 0 {
            "max".to_string()
        } else {
            p.limit().to_string()
        };
        out.push(w("pids", "pids.max", v, &format!("{BASE}.pids.limit")));
    }
    if let Some(b) = res.block_io() {
        block_io(b, unified, &mut out)?;
    }
    for (i, h) in res.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("{BASE}.hugepageLimits[{i}]");
        let size = h.page_size();
        if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::config(
                format!("{field}.pageSize"),
                format!("{size:?} is not a page size like 2MB"),
            ));
        }
        let l = limit(h.limit(), &format!("{field}.limit"), "max")?;
        if unified {
            out.push(w("hugetlb", format!("hugetlb.{size}.max"), &l, &field));
        } else {
            let v = if l == "max" { "-1".to_string() } else { l };
            out.push(w(
                "hugetlb",
                format!("hugetlb.{size}.limit_in_bytes"),
                v,
                &field,
            ));
        }
    }
    if let Some(n) = res.network() {
        if unified && (n.class_id().is_some() || n.priorities().is_some()) {
            return Err(Error::config(
                format!("{BASE}.network"),
                "net_cls and net_prio do not exist on cgroup v2",
            ));
        }
        if let Some(id) = n.class_id() {
            out.push(w(
                "net_cls",
                "net_cls.classid",
                id,
                &format!("{BASE}.network.classID"),
            ));
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            out.push(w(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
                &format!("{BASE}.network.priorities[{i}]"),
            ));
        }
    }
    for (dev, r) in res.rdma().iter().flatten() {
        let mut v = dev.clone();
        if let Some(h) = r.hca_handles() {
            v.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = r.hca_objects() {
            v.push_str(&format!(" hca_object={o}"));
        }
        out.push(w("rdma", "rdma.max", v, &format!("{BASE}.rdma.{dev}")));
    }
    if let Some(u) = res.unified() {
        if !unified {
            return Err(Error::config(
                format!("{BASE}.unified"),
                "unified resources need cgroup v2",
            ));
        }
        let mut keys: Vec<&String> = u.keys().collect();
        keys.sort();
        for k in keys {
            let field = format!("{BASE}.unified.{k}");
            let ctrl = k.split('.').next().unwrap_or_default();
            if k.contains('/')
                || !k.contains('.')
                || k.starts_with("cgroup.")
                    && k != "cgroup.max.depth"
                    && k != "cgroup.max.descendants"
            {
                return Err(Error::config(field, "not a cgroup v2 interface file"));
            }
            out.push(w(controller_name(ctrl), k.clone(), &u[k], &field));
        }
    }
    Ok(out)
}

/// The static name of a v2 controller, for the `controller` of a `unified` write.
fn controller_name(prefix: &str) -> &'static str {
    match prefix {
        "cpu" => "cpu",
        "cpuset" => "cpuset",
        "memory" => "memory",
        "io" => "io",
        "pids" => "pids",
        "hugetlb" => "hugetlb",
        "rdma" => "rdma",
        "misc" => "misc",
        _ => "",
    }
}

fn memory(m: &LinuxMemory, unified: bool, out: &mut Vec<Write>) -> Result<()> {
    let f = |name: &str| format!("{BASE}.memory.{name}");
    if unified {
        if let Some(l) = m.limit() {
            out.push(w(
                "memory",
                "memory.max",
                limit(l, &f("limit"), "max")?,
                &f("limit"),
            ));
        }
        if let Some(r) = m.reservation() {
            out.push(w(
                "memory",
                "memory.low",
                limit(r, &f("reservation"), "max")?,
                &f("reservation"),
            ));
        }
        if let Some(s) = m.swap() {
            // The spec's swap is memory+swap (v1 memsw); v2 limits swap alone: runc
            // writes swap - limit.
            let v = match (s, m.limit()) {
                (-1, _) => "max".to_string(),
                (s, Some(l)) if l > 0 && s >= l => (s - l).to_string(),
                (s, Some(l)) if l > 0 => {
                    return Err(Error::config(
                        f("swap"),
                        format!("{s} is less than memory.limit {l}"),
                    ))
                }
                (s, _) if s < -1 => limit(s, &f("swap"), "max")?,
                // As runc: swap alone cannot be split from memory+swap.
                _ => {
                    return Err(Error::config(
                        f("swap"),
                        "a swap limit needs a memory limit on cgroup v2",
                    ))
                }
            };
            out.push(w("memory", "memory.swap.max", v, &f("swap")));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(Error::config(
                f("useHierarchy"),
                "cgroup v2 is always hierarchical",
            ));
        }
        for (name, set) in [
            ("kernel", m.kernel().is_some()),
            ("kernelTCP", m.kernel_tcp().is_some()),
            ("swappiness", m.swappiness().is_some()),
            ("disableOOMKiller", m.disable_oom_killer() == Some(true)),
        ] {
            if set {
                return Err(Error::config(f(name), "not supported on cgroup v2"));
            }
        }
        return Ok(());
    }
    if let Some(h) = m.use_hierarchy() {
        out.push(w(
            "memory",
            "memory.use_hierarchy",
            u8::from(h),
            &f("useHierarchy"),
        ));
    }
    let lim = m.limit().map(|l| limit(l, &f("limit"), "-1")).transpose()?;
    let swap = m.swap().map(|s| limit(s, &f("swap"), "-1")).transpose()?;
    if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
        if s != -1 && (l == -1 || s < l) {
            return Err(Error::config(
                f("swap"),
                format!("{s} is less than memory.limit {l} (swap is memory+swap)"),
            ));
        }
    }
    // memsw must never be below the memory limit: raise memsw first when it grows.
    // Unlimited memsw first, then the limit, then the real memsw, is always accepted.
    if let Some(s) = &swap {
        out.push(w("memory", "memory.memsw.limit_in_bytes", "-1", &f("swap")));
        if let Some(l) = &lim {
            out.push(w("memory", "memory.limit_in_bytes", l, &f("limit")));
        }
        out.push(w("memory", "memory.memsw.limit_in_bytes", s, &f("swap")));
    } else if let Some(l) = &lim {
        out.push(w("memory", "memory.limit_in_bytes", l, &f("limit")));
    }
    if let Some(r) = m.reservation() {
        out.push(w(
            "memory",
            "memory.soft_limit_in_bytes",
            limit(r, &f("reservation"), "-1")?,
            &f("reservation"),
        ));
    }
    if let Some(k) = m.kernel_tcp() {
        out.push(w(
            "memory",
            "memory.kmem.tcp.limit_in_bytes",
            limit(k, &f("kernelTCP"), "-1")?,
            &f("kernelTCP"),
        ));
    }
    if let Some(k) = m.kernel() {
        out.push(w(
            "memory",
            "memory.kmem.limit_in_bytes",
            limit(k, &f("kernel"), "-1")?,
            &f("kernel"),
        ));
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::config(f("swappiness"), format!("{s} is over 100")));
        }
        out.push(w("memory", "memory.swappiness", s, &f("swappiness")));
    }
    if m.disable_oom_killer() == Some(true) {
        out.push(w(
            "memory",
            "memory.oom_control",
            "1",
            &f("disableOOMKiller"),
        ));
    }
    Ok(())
}

fn cpu(c: &LinuxCpu, unified: bool, out: &mut Vec<Write>) -> Result<()> {
    let f = |name: &str| format!("{BASE}.cpu.{name}");
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        out.push(w("cpuset", "cpuset.cpus", cpus, &f("cpus")));
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        out.push(w("cpuset", "cpuset.mems", mems, &f("mems")));
    }
    if unified {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            out.push(w("cpu", "cpu.weight", shares_to_weight(s), &f("shares")));
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
            out.push(w(
                "cpu",
                "cpu.max",
                format!("{quota} {period}"),
                &f("quota"),
            ));
        }
        if let Some(b) = c.burst() {
            out.push(w("cpu", "cpu.max.burst", b, &f("burst")));
        }
        for (name, set) in [
            ("realtimeRuntime", c.realtime_runtime().is_some()),
            ("realtimePeriod", c.realtime_period().is_some()),
        ] {
            if set {
                return Err(Error::config(
                    f(name),
                    "realtime scheduling limits do not exist on cgroup v2",
                ));
            }
        }
    } else {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            out.push(w("cpu", "cpu.shares", s, &f("shares")));
        }
        if let Some(p) = c.period().filter(|p| *p != 0) {
            out.push(w("cpu", "cpu.cfs_period_us", p, &f("period")));
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            out.push(w(
                "cpu",
                "cpu.cfs_quota_us",
                if q < 0 { -1 } else { q },
                &f("quota"),
            ));
        }
        if let Some(b) = c.burst() {
            out.push(w("cpu", "cpu.cfs_burst_us", b, &f("burst")));
        }
        // The period first: a runtime longer than the current period is refused.
        if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
            out.push(w("cpu", "cpu.rt_period_us", p, &f("realtimePeriod")));
        }
        if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
            out.push(w("cpu", "cpu.rt_runtime_us", r, &f("realtimeRuntime")));
        }
    }
    if let Some(i) = c.idle() {
        out.push(w("cpu", "cpu.idle", i, &f("idle")));
    }
    Ok(())
}

fn block_io(b: &LinuxBlockIo, unified: bool, out: &mut Vec<Write>) -> Result<()> {
    let f = |name: &str| format!("{BASE}.blockIO.{name}");
    if unified {
        if let Some(wt) = b.weight().filter(|w| *w != 0) {
            out.push(w(
                "io",
                "io.weight",
                blkio_to_io_weight(wt.into()),
                &f("weight"),
            ));
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            if let Some(wt) = d.weight() {
                out.push(w(
                    "io",
                    "io.weight",
                    format!(
                        "{}:{} {}",
                        d.major(),
                        d.minor(),
                        blkio_to_io_weight(wt.into())
                    ),
                    &f(&format!("weightDevice[{i}]")),
                ));
            }
        }
        for (list, key, name) in [
            (
                b.throttle_read_bps_device(),
                "rbps",
                "throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "wbps",
                "throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "riops",
                "throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "wiops",
                "throttleWriteIOPSDevice",
            ),
        ] {
            for (i, d) in list.iter().flatten().enumerate() {
                out.push(w(
                    "io",
                    "io.max",
                    format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                    &f(&format!("{name}[{i}]")),
                ));
            }
        }
        if b.leaf_weight().is_some() {
            return Err(Error::config(f("leafWeight"), "not supported on cgroup v2"));
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            if d.leaf_weight().is_some() {
                return Err(Error::config(
                    f(&format!("weightDevice[{i}].leafWeight")),
                    "not supported on cgroup v2",
                ));
            }
        }
        return Ok(());
    }
    if let Some(wt) = b.weight().filter(|w| *w != 0) {
        out.push(w("blkio", "blkio.weight", wt, &f("weight")));
    }
    if let Some(wt) = b.leaf_weight().filter(|w| *w != 0) {
        out.push(w("blkio", "blkio.leaf_weight", wt, &f("leafWeight")));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(wt) = d.weight() {
            out.push(w(
                "blkio",
                "blkio.weight_device",
                format!("{}:{} {wt}", d.major(), d.minor()),
                &f(&format!("weightDevice[{i}]")),
            ));
        }
        if let Some(wt) = d.leaf_weight() {
            out.push(w(
                "blkio",
                "blkio.leaf_weight_device",
                format!("{}:{} {wt}", d.major(), d.minor()),
                &f(&format!("weightDevice[{i}]")),
            ));
        }
    }
    for (list, file, name) in [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "throttleWriteIOPSDevice",
        ),
    ] {
        for (i, d) in list.iter().flatten().enumerate() {
            out.push(w(
                "blkio",
                file,
                format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                &f(&format!("{name}[{i}]")),
            ));
        }
    }
    Ok(())
}

/// For `update` on cgroup v2, whose files combine what the spec keeps apart: fills in
/// from the container's cgroup the memory limit a swap limit is relative to, and the
/// half of `cpu.max` (quota, period) that the update leaves as it is.
pub fn with_current_v2(res: &LinuxResources, rec: &CgroupRecord) -> LinuxResources {
    let mut res = res.clone();
    let Some(dir) = rec.paths.first().filter(|_| rec.unified) else {
        return res;
    };
    let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap_or_default();
    if let Some(mut m) = *res.memory() {
        if m.swap().is_some() && m.limit().is_none() {
            if let Ok(l) = read("memory.max").trim().parse::<i64>() {
                m.set_limit(Some(l));
                res.set_memory(Some(m));
            }
        }
    }
    if let Some(mut c) = res.cpu().clone() {
        let cur = read("cpu.max");
        let mut parts = cur.split_whitespace();
        let (q, p) = (
            parts.next(),
            parts.next().and_then(|p| p.parse::<u64>().ok()),
        );
        if c.quota().is_some() && c.period().is_none() {
            c.set_period(p);
        }
        if c.period().is_some() && c.quota().is_none() {
            c.set_quota(Some(q.and_then(|q| q.parse::<i64>().ok()).unwrap_or(-1)));
        }
        res.set_cpu(Some(c));
    }
    res
}

/// The controllers the v2 directory (or its nearest existing ancestor) can enable.
fn v2_controllers(dir: &Path) -> Vec<String> {
    let mut p = Some(dir);
    while let Some(d) = p {
        if let Ok(s) = fs::read_to_string(d.join("cgroup.controllers")) {
            return s.split_whitespace().map(String::from).collect();
        }
        p = d.parent();
    }
    Vec::new()
}

/// Fails, naming the field, when the host lacks a controller a write needs. Called
/// before anything is created.
pub fn check_available(rec: &CgroupRecord, writes: &[Write]) -> Result<()> {
    if rec.paths.is_empty() {
        if let Some(wr) = writes.first() {
            return Err(Error::config(
                &wr.field,
                "this container has no cgroup (no cgroup is delegated to this user)",
            ));
        }
    }
    let v2 = if rec.unified {
        rec.paths
            .first()
            .map(|d| v2_controllers(d))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for wr in writes {
        let ok = if rec.unified {
            wr.controller.is_empty() && wr.file.contains('.')
                || v2.iter().any(|c| c == wr.controller)
        } else {
            dir_of(rec, wr.controller).is_some()
        };
        if !ok {
            return Err(Error::config(
                &wr.field,
                format!(
                    "the {} cgroup controller is not available on this host",
                    if wr.controller.is_empty() {
                        &wr.file
                    } else {
                        wr.controller
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// Writes every file; on the first failure, puts back what was already written and
/// fails naming the field: all or nothing.
pub fn apply(rec: &CgroupRecord, writes: &[Write]) -> Result<()> {
    let mut done: Vec<(PathBuf, String)> = Vec::new();
    for wr in writes {
        let Some(dir) = dir_of(rec, wr.controller) else {
            rollback(&done);
            return Err(Error::config(
                &wr.field,
                format!(
                    "the {} cgroup controller is not available on this host",
                    wr.controller
                ),
            ));
        };
        let mut path = dir.join(&wr.file);
        // Hosts with the BFQ I/O scheduler have blkio.bfq.weight* instead (runc
        // writes there too).
        if wr.file.starts_with("blkio.weight") && !path.exists() {
            let bfq = dir.join(wr.file.replacen("blkio.", "blkio.bfq.", 1));
            if bfq.exists() {
                path = bfq;
            }
        }
        let old = fs::read_to_string(&path).ok();
        if let Err(e) = write_existing(&path, &wr.value) {
            rollback(&done);
            let why = match e.raw_os_error() {
                Some(libc::ENOENT) => format!("{} does not exist on this host", path.display()),
                _ => format!("write {:?} to {}: {e}", wr.value, path.display()),
            };
            return Err(Error::config(&wr.field, why));
        }
        // Kernels since 5.16 take a v1 kernel memory limit and ignore it.
        if wr.file == "memory.kmem.limit_in_bytes" {
            let now = fs::read_to_string(&path).unwrap_or_default();
            if now.trim() != wr.value {
                rollback(&done);
                return Err(Error::config(
                    &wr.field,
                    "this kernel ignores kernel memory limits",
                ));
            }
        }
        // Files that list entries (weight_device, ifpriomap) and memsw ordering writes
        // are not restored; the plain limits are.
        if let Some(old) = old.filter(|o| !o.contains('\n') || o.lines().count() == 1) {
            done.push((path, old.trim().to_string()));
        }
    }
    Ok(())
}

fn rollback(done: &[(PathBuf, String)]) {
    for (path, old) in done.iter().rev() {
        let _ = write_existing(path, old);
    }
}

/// Writes a cgroup file without creating it: cgroupfs answers a create of a file it
/// lacks with EACCES, which would hide that the file does not exist.
fn write_existing(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(value.as_bytes())
}

/// The fields of `linux.resources`, for refusing unknown ones in `update -r`: a
/// misspelt limit must not be silently ignored.
fn known_fields(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "" => &[
            "devices",
            "memory",
            "cpu",
            "pids",
            "blockIO",
            "hugepageLimits",
            "network",
            "rdma",
            "unified",
        ],
        "devices[]" => &["allow", "type", "major", "minor", "access"],
        "memory" => &[
            "limit",
            "reservation",
            "swap",
            "kernel",
            "kernelTCP",
            "swappiness",
            "disableOOMKiller",
            "useHierarchy",
            "checkBeforeUpdate",
        ],
        "cpu" => &[
            "shares",
            "quota",
            "burst",
            "period",
            "realtimeRuntime",
            "realtimePeriod",
            "cpus",
            "mems",
            "idle",
        ],
        "pids" => &["limit"],
        "blockIO" => &[
            "weight",
            "leafWeight",
            "weightDevice",
            "throttleReadBpsDevice",
            "throttleWriteBpsDevice",
            "throttleReadIOPSDevice",
            "throttleWriteIOPSDevice",
        ],
        "blockIO.weightDevice[]" => &["major", "minor", "weight", "leafWeight"],
        "blockIO.throttleReadBpsDevice[]"
        | "blockIO.throttleWriteBpsDevice[]"
        | "blockIO.throttleReadIOPSDevice[]"
        | "blockIO.throttleWriteIOPSDevice[]" => &["major", "minor", "rate"],
        "hugepageLimits[]" => &["pageSize", "limit"],
        "network" => &["classID", "priorities"],
        "network.priorities[]" => &["name", "priority"],
        "rdma.*" => &["hcaHandles", "hcaObjects"],
        _ => return None,
    })
}

fn check_fields(v: &serde_json::Value, schema: &str, path: &str) -> Result<()> {
    match v {
        serde_json::Value::Object(map) => {
            if schema == "unified" {
                return Ok(());
            }
            let known = if schema == "rdma" {
                None
            } else {
                known_fields(schema)
            };
            for (k, child) in map {
                if let Some(known) = known {
                    if !known.contains(&k.as_str()) {
                        return Err(Error::config(format!("{path}{k}"), "unknown field"));
                    }
                }
                let child_schema = match schema {
                    "" => k.clone(),
                    "rdma" => "rdma.*".to_string(),
                    s => format!("{s}.{k}"),
                };
                check_fields(child, &child_schema, &format!("{path}{k}."))?;
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{}[{i}].", path.trim_end_matches('.'));
                check_fields(item, &format!("{schema}[]"), &p)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses a resources document (`hull update -r`): unknown fields and wrong types are
/// errors naming their JSON path.
pub fn parse_resources(text: &[u8]) -> Result<LinuxResources> {
    let v: serde_json::Value = serde_json::from_slice(text).map_err(|e| Error::Config {
        file: "resources".into(),
        path: "$".into(),
        msg: e.to_string(),
    })?;
    check_fields(&v, "", "").map_err(|e| match e {
        Error::Config { path, msg, .. } => Error::Config {
            file: "resources".into(),
            path,
            msg,
        },
        other => other,
    })?;
    serde_path_to_error::deserialize(v).map_err(|e| Error::Config {
        file: "resources".into(),
        path: e.path().to_string(),
        msg: e.into_inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn files(ws: &[Write]) -> Vec<(String, String)> {
        ws.iter()
            .map(|w| (w.file.clone(), w.value.clone()))
            .collect()
    }

    #[test]
    fn update_documents_with_unknown_fields_are_refused() {
        let ok = parse_resources(br#"{"memory": {"limit": 1000}, "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}, "unified": {"memory.high": "5"}}"#);
        assert!(ok.is_ok(), "{ok:?}");
        let err = parse_resources(br#"{"memory": {"limt": 1000}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("memory.limt") && err.contains("unknown field"),
            "{err}"
        );
        let err =
            parse_resources(br#"{"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rte": 1}]}}"#)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("blockIO.throttleReadBpsDevice[0].rte"),
            "{err}"
        );
        let err = parse_resources(br#"{"pids": {"limit": "many"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pids.limit"), "{err}");
    }

    #[test]
    fn runc_conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn v1_memory_orders_memsw_around_the_limit() {
        let r = res(
            r#"{"memory": {"limit": 1048576, "swap": 2097152, "reservation": 524288, "swappiness": 10, "disableOOMKiller": true}}"#,
        );
        assert_eq!(
            files(&writes(&r, false).unwrap()),
            [
                ("memory.memsw.limit_in_bytes", "-1"),
                ("memory.limit_in_bytes", "1048576"),
                ("memory.memsw.limit_in_bytes", "2097152"),
                ("memory.soft_limit_in_bytes", "524288"),
                ("memory.swappiness", "10"),
                ("memory.oom_control", "1"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn v2_memory_and_cpu() {
        let r = res(
            r#"{"memory": {"limit": 1048576, "swap": 3145728}, "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"}, "pids": {"limit": 0}}"#,
        );
        assert_eq!(
            files(&writes(&r, true).unwrap()),
            [
                ("memory.max", "1048576"),
                ("memory.swap.max", "2097152"),
                ("cpuset.cpus", "0"),
                ("cpu.weight", "39"),
                ("cpu.max", "50000 100000"),
                ("pids.max", "max"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn negative_limits_name_their_field() {
        let err = writes(&res(r#"{"memory": {"limit": -5}}"#), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("linux.resources.memory.limit"), "{err}");
        let err = writes(
            &res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": -3}]}"#),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("hugepageLimits[0].limit"), "{err}");
    }

    #[test]
    fn swap_below_limit_is_refused() {
        let err = writes(
            &res(r#"{"memory": {"limit": 2000000, "swap": 1000000}}"#),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("memory.swap"), "{err}");
    }

    #[test]
    fn v1_blkio_and_v2_io() {
        let r = res(
            r#"{"blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}}"#,
        );
        assert_eq!(
            files(&writes(&r, false).unwrap()),
            [
                ("blkio.weight", "500"),
                ("blkio.throttle.read_bps_device", "8:0 1048576")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(
            files(&writes(&r, true).unwrap()),
            [("io.weight", "4950"), ("io.max", "8:0 rbps=1048576")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn unified_needs_v2_and_real_files() {
        let r = res(r#"{"unified": {"memory.high": "1000000"}}"#);
        assert!(writes(&r, false).is_err());
        assert_eq!(
            files(&writes(&r, true).unwrap()),
            [("memory.high".to_string(), "1000000".to_string())]
        );
        let r = res(r#"{"unified": {"../escape": "1"}}"#);
        assert!(writes(&r, true)
            .unwrap_err()
            .to_string()
            .contains("unified.../escape"));
    }
}
