//! Per-task attributes of the container's process that the kernel keeps across
//! execve: personality, I/O priority, scheduler, CPU affinity, memory policy.
//!
//! Owns: checking them (JSON-path errors before anything is created) and applying them
//! from inside the init or exec child, before privileges are dropped (a real-time
//! policy needs CAP_SYS_NICE).

use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::personality::Persona;
use nix::unistd::Pid;
use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process,
    Spec,
};

use crate::error::{Context, Error, Result};
use crate::sys;

/// Personality flags by name (`<linux/personality.h>`).
const PERSONALITY_FLAGS: &[(&str, u64)] = &[
    ("UNAME26", 0x0020000),
    ("ADDR_NO_RANDOMIZE", 0x0040000),
    ("FDPIC_FUNCPTRS", 0x0080000),
    ("MMAP_PAGE_ZERO", 0x0100000),
    ("ADDR_COMPAT_LAYOUT", 0x0200000),
    ("READ_IMPLIES_EXEC", 0x0400000),
    ("ADDR_LIMIT_32BIT", 0x0800000),
    ("SHORT_INODE", 0x1000000),
    ("WHOLE_SECONDS", 0x2000000),
    ("STICKY_TIMEOUTS", 0x4000000),
    ("ADDR_LIMIT_3GB", 0x8000000),
];

fn personality(p: &LinuxPersonality) -> Result<u64> {
    let mut v: u64 = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    for (i, f) in p.flags().iter().flatten().enumerate() {
        let bit = PERSONALITY_FLAGS
            .iter()
            .find(|(n, _)| n == f)
            .ok_or_else(|| {
                Error::config(
                    format!("linux.personality.flags[{i}]"),
                    format!("unknown personality flag {f:?}"),
                )
            })?;
        v |= bit.1;
    }
    Ok(v)
}

/// Parses a cpu or node list such as `0-3,7` into a bit set of `words` u64 words.
pub fn parse_list(s: &str, field: &str, words: usize) -> Result<Vec<u64>> {
    let mut set = vec![0u64; words];
    let bad = || Error::config(field, format!("{s:?} is not a list like 0-3,7"));
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.parse::<usize>().map_err(|_| bad())?,
                b.parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a > b || b >= words * 64 {
            return Err(bad());
        }
        for n in a..=b {
            set[n / 64] |= 1 << (n % 64);
        }
    }
    if set.iter().all(|w| *w == 0) {
        return Err(bad());
    }
    Ok(set)
}

const CPU_WORDS: usize = 1024 / 64;
const NODE_WORDS: usize = 1024 / 64;

fn ioprio(class: IOPriorityClass, prio: i64) -> Result<i32> {
    if !(0..=7).contains(&prio) {
        return Err(Error::config(
            "process.ioPriority.priority",
            format!("{prio} is not in 0..7"),
        ));
    }
    let c = match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    Ok((c << 13) | prio as i32)
}

fn mempolicy_mode(m: &LinuxMemoryPolicy) -> i32 {
    let mut mode = match m.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    for f in m.flags().iter().flatten() {
        mode |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        };
    }
    mode
}

/// Checks every attribute of the spec before anything is created.
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(linux) = spec.linux() {
        if let Some(p) = linux.personality() {
            personality(p)?;
        }
        if let Some(m) = linux.memory_policy() {
            if let Some(nodes) = m.nodes().as_deref().filter(|n| !n.is_empty()) {
                parse_list(nodes, "linux.memoryPolicy.nodes", NODE_WORDS)?;
            }
        }
        if linux.intel_rdt().is_some() && !std::path::Path::new("/sys/fs/resctrl/info").exists() {
            return Err(Error::config(
                "linux.intelRdt",
                "resctrl is not mounted at /sys/fs/resctrl on this host",
            ));
        }
    }
    if let Some(p) = spec.process() {
        validate_process(p)?;
    }
    Ok(())
}

/// Checks the process-level attributes (also of an `exec`'d process).
pub fn validate_process(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        ioprio(io.class(), io.priority())?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        for (name, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
            if let Some(list) = v.as_deref() {
                parse_list(list, &format!("process.execCPUAffinity.{name}"), CPU_WORDS)?;
            }
        }
    }
    if let Some(s) = p.scheduler() {
        if let Some(n) = *s.nice() {
            if !(-20..=19).contains(&n) {
                return Err(Error::config(
                    "process.scheduler.nice",
                    format!("{n} is not in -20..19"),
                ));
            }
        }
    }
    Ok(())
}

/// The container-wide ones, in the init: personality and memory policy.
pub fn apply_linux(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if let Some(p) = linux.personality() {
        let v = personality(p)?;
        nix::sys::personality::set(Persona::from_bits_retain(v as libc::c_int))
            .ctx(|| "personality".into())?;
    }
    if let Some(m) = linux.memory_policy() {
        let mask = match m.nodes().as_deref().filter(|n| !n.is_empty()) {
            Some(n) => parse_list(n, "linux.memoryPolicy.nodes", NODE_WORDS)?,
            None => vec![0u64; NODE_WORDS],
        };
        let has_nodes = mask.iter().any(|w| *w != 0);
        sys::set_mempolicy(mempolicy_mode(m), has_nodes.then_some(&mask[..]))
            .ctx(|| "set_mempolicy".into())?;
    }
    Ok(())
}

/// The process ones, in the init and in exec children: I/O priority, scheduler, CPU
/// affinity (the final one: the process runs there from its first instruction).
pub fn apply_process(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        let v = ioprio(io.class(), io.priority())?;
        sys::ioprio_set(v).ctx(|| "ioprio_set".into())?;
    }
    if let Some(s) = p.scheduler() {
        let policy = match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => 4,
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
        let mut flags = 0u64;
        for f in s.flags().iter().flatten() {
            flags |= match f {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            };
        }
        let attr = sys::SchedParams {
            policy,
            flags,
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
        };
        sys::sched_setattr(&attr).ctx(|| "sched_setattr".into())?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        if let Some(list) = a.cpu_affinity_final().as_deref().or(a.initial().as_deref()) {
            let set = parse_list(list, "process.execCPUAffinity", CPU_WORDS)?;
            // CPU_WORDS words are the 1024 bits of a cpu_set_t.
            let mut cpus = CpuSet::new();
            for cpu in (0..set.len() * 64).filter(|n| set[n / 64] & (1 << (n % 64)) != 0) {
                cpus.set(cpu).ctx(|| "sched_setaffinity".into())?;
            }
            sched_setaffinity(Pid::from_raw(0), &cpus).ctx(|| "sched_setaffinity".into())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,7", "f", 1).unwrap(), vec![0b1000_1111]);
        assert_eq!(parse_list("65", "f", 2).unwrap(), vec![0, 2]);
        for bad in ["", "3-1", "x", "0-", "64"] {
            assert!(parse_list(bad, "f", 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn personality_flags() {
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]}"#)
                .unwrap();
        assert_eq!(personality(&p).unwrap(), 0x0040008);
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain": "LINUX", "flags": ["BOGUS"]}"#).unwrap();
        assert!(personality(&p)
            .unwrap_err()
            .to_string()
            .contains("linux.personality.flags[0]"));
    }

    #[test]
    fn io_priority() {
        assert_eq!(
            ioprio(IOPriorityClass::IoprioClassBe, 4).unwrap(),
            (2 << 13) | 4
        );
        assert!(ioprio(IOPriorityClass::IoprioClassRt, 9).is_err());
    }
}
