//! Statistics of the container's cgroup in runc's `events` format, and its OOM count.
//!
//! Owns: reading the accounting files of v1 and v2 into one shape. A file the host
//! does not have leaves its part of the statistics out.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::cgroups::{dir_of, CgroupRecord};

fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> Option<u64> {
    let s = read(dir, file)?;
    let s = s.trim();
    if s == "max" {
        return Some(0);
    }
    s.parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, memory.events).
fn kv(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// The container's statistics, runc's `Stats` as JSON.
pub fn stats(rec: &CgroupRecord) -> Value {
    if rec.unified {
        v2(rec)
    } else {
        v1(rec)
    }
}

fn usage(dir: &Path, prefix: &str) -> Value {
    json!({
        "usage": num(dir, &format!("{prefix}usage_in_bytes")).unwrap_or(0),
        "max": num(dir, &format!("{prefix}max_usage_in_bytes")).unwrap_or(0),
        "failcnt": num(dir, &format!("{prefix}failcnt")).unwrap_or(0),
        "limit": num(dir, &format!("{prefix}limit_in_bytes")).unwrap_or(0),
    })
}

/// USER_HZ ticks of cpuacct.stat to nanoseconds, as runc does.
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

fn v1(rec: &CgroupRecord) -> Value {
    let mut data = Map::new();
    let mut cpu = json!({"usage": {}, "throttling": {}});
    if let Some(d) = dir_of(rec, "cpuacct") {
        let percpu: Vec<u64> = read(d, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let st = kv(d, "cpuacct.stat");
        cpu["usage"] = json!({
            "total": num(d, "cpuacct.usage").unwrap_or(0),
            "percpu": percpu,
            "kernel": st.get("system").copied().unwrap_or(0) * NANOS_PER_TICK,
            "user": st.get("user").copied().unwrap_or(0) * NANOS_PER_TICK,
        });
    }
    if let Some(d) = dir_of(rec, "cpu") {
        let st = kv(d, "cpu.stat");
        cpu["throttling"] = json!({
            "periods": st.get("nr_periods").copied().unwrap_or(0),
            "throttled_periods": st.get("nr_throttled").copied().unwrap_or(0),
            "throttled_time": st.get("throttled_time").copied().unwrap_or(0),
        });
    }
    data.insert("cpu".into(), cpu);
    if let Some(d) = dir_of(rec, "memory") {
        let raw = kv(d, "memory.stat");
        data.insert(
            "memory".into(),
            json!({
                "cache": raw.get("cache").copied().unwrap_or(0),
                "usage": usage(d, "memory."),
                "swap": usage(d, "memory.memsw."),
                "kernel": usage(d, "memory.kmem."),
                "kernelTCP": usage(d, "memory.kmem.tcp."),
                "raw": raw,
            }),
        );
    }
    if let Some(d) = dir_of(rec, "pids") {
        data.insert("pids".into(), json!({"current": num(d, "pids.current").unwrap_or(0), "limit": num(d, "pids.max").unwrap_or(0)}));
    }
    if let Some(d) = dir_of(rec, "blkio") {
        let entries = |file: &str| -> Vec<Value> {
            read(d, file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let (maj, min) = f.first()?.split_once(':')?;
                    Some(json!({"major": maj.parse::<u64>().ok()?, "minor": min.parse::<u64>().ok()?, "op": f.get(1)?, "value": f.get(2)?.parse::<u64>().ok()?}))
                })
                .collect()
        };
        data.insert(
            "blkio".into(),
            json!({
                "ioServiceBytesRecursive": entries("blkio.throttle.io_service_bytes_recursive"),
                "ioServicedRecursive": entries("blkio.throttle.io_serviced_recursive"),
            }),
        );
    }
    if let Some(d) = dir_of(rec, "hugetlb") {
        let mut h = Map::new();
        for size in hugetlb_sizes(d, ".limit_in_bytes") {
            h.insert(
                size.clone(),
                json!({
                    "usage": num(d, &format!("hugetlb.{size}.usage_in_bytes")).unwrap_or(0),
                    "max": num(d, &format!("hugetlb.{size}.max_usage_in_bytes")).unwrap_or(0),
                    "failcnt": num(d, &format!("hugetlb.{size}.failcnt")).unwrap_or(0),
                }),
            );
        }
        data.insert("hugetlb".into(), Value::Object(h));
    }
    Value::Object(data)
}

fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut sizes: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| {
            n.strip_prefix("hugetlb.")?
                .strip_suffix(suffix)
                .map(String::from)
        })
        .filter(|s| !s.contains('.'))
        .collect();
    sizes.sort();
    sizes
}

fn v2(rec: &CgroupRecord) -> Value {
    let Some(d) = rec.paths.first() else {
        return json!({});
    };
    let cpu = kv(d, "cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    let raw = kv(d, "memory.stat");
    let events = kv(d, "memory.events");
    let io: Vec<Value> =
        read(d, "io.stat")
            .unwrap_or_default()
            .lines()
            .flat_map(|l| {
                let mut f = l.split_whitespace();
                let dev = f.next().unwrap_or_default().to_string();
                let (maj, min) = dev
                    .split_once(':')
                    .map(|(a, b)| (a.parse::<u64>().unwrap_or(0), b.parse::<u64>().unwrap_or(0)))
                    .unwrap_or((0, 0));
                f.filter_map(move |kv| {
                let (k, v) = kv.split_once('=')?;
                let op = match k { "rbytes" => "Read", "wbytes" => "Write", _ => return None };
                Some(json!({"major": maj, "minor": min, "op": op, "value": v.parse::<u64>().ok()?}))
            })
            .collect::<Vec<_>>()
            })
            .collect();
    let mut h = Map::new();
    for size in hugetlb_sizes(d, ".max") {
        h.insert(size.clone(), json!({
            "usage": num(d, &format!("hugetlb.{size}.current")).unwrap_or(0),
            "max": num(d, &format!("hugetlb.{size}.max")).unwrap_or(0),
            "failcnt": kv(d, &format!("hugetlb.{size}.events")).get("max").copied().unwrap_or(0),
        }));
    }
    json!({
        "cpu": {
            "usage": {"total": us("usage_usec"), "kernel": us("system_usec"), "user": us("user_usec"), "percpu": []},
            "throttling": {"periods": cpu.get("nr_periods").copied().unwrap_or(0), "throttled_periods": cpu.get("nr_throttled").copied().unwrap_or(0), "throttled_time": us("throttled_usec")},
        },
        "memory": {
            "cache": raw.get("file").copied().unwrap_or(0),
            "usage": {"usage": num(d, "memory.current").unwrap_or(0), "max": num(d, "memory.peak").unwrap_or(0), "limit": num(d, "memory.max").unwrap_or(0), "failcnt": events.get("max").copied().unwrap_or(0)},
            "swap": {"usage": num(d, "memory.swap.current").unwrap_or(0), "limit": num(d, "memory.swap.max").unwrap_or(0)},
            "raw": raw,
        },
        "pids": {"current": num(d, "pids.current").unwrap_or(0), "limit": num(d, "pids.max").unwrap_or(0)},
        "blkio": {"ioServiceBytesRecursive": io},
        "hugetlb": h,
    })
}

/// How many processes the kernel has OOM-killed in the container's cgroup.
pub fn oom_kills(rec: &CgroupRecord) -> u64 {
    if rec.unified {
        return rec
            .paths
            .first()
            .map(|d| kv(d, "memory.events").get("oom_kill").copied().unwrap_or(0))
            .unwrap_or(0);
    }
    dir_of(rec, "memory")
        .map(|d| {
            kv(d, "memory.oom_control")
                .get("oom_kill")
                .copied()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}
