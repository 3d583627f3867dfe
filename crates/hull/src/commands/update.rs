use std::io::Read;
use std::path::PathBuf;

use libhull::container;
use libhull::state::Root;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxPids, LinuxResources};

#[derive(clap::Args)]
pub struct Args {
    /// Path to a JSON file of linux.resources, or - for standard input
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (in bytes, or with a k, m or g suffix)
    #[arg(long)]
    pub memory: Option<String>,
    /// Total memory usage (memory + swap); -1 for unlimited
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// Memory reservation or soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids; 0 or -1 for unlimited
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10 to 1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Container id
    pub id: String,
}

/// A size as runc takes it: bytes, or a number with a binary k/m/g/t suffix; -1.
fn size(s: &str, flag: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let (digits, mult) = match lower.trim_end_matches('b').chars().last() {
        Some('k') => (&lower[..lower.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 40),
        _ => (lower.trim_end_matches('b'), 1),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| anyhow::anyhow!("--{flag} {s:?}: not a size"))?;
    if n == -1 {
        return Ok(-1);
    }
    if n < 0 {
        anyhow::bail!("--{flag} {s:?}: negative size");
    }
    n.checked_mul(mult)
        .ok_or_else(|| anyhow::anyhow!("--{flag} {s:?}: too large"))
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    let mut res = match &a.resources {
        Some(path) => {
            let mut text = Vec::new();
            if path.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut text)?;
            } else {
                text = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
            }
            libhull::cgroup_resources::parse_resources(&text)?
        }
        None => LinuxResources::default(),
    };
    if a.memory.is_some() || a.memory_swap.is_some() || a.memory_reservation.is_some() {
        let mut m = res.memory().unwrap_or_default();
        if let Some(v) = &a.memory {
            m.set_limit(Some(size(v, "memory")?));
        }
        if let Some(v) = &a.memory_swap {
            m.set_swap(Some(size(v, "memory-swap")?));
        }
        if let Some(v) = &a.memory_reservation {
            m.set_reservation(Some(size(v, "memory-reservation")?));
        }
        res.set_memory(Some(m));
    }
    if a.cpu_shares.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = res.cpu().clone().unwrap_or_else(LinuxCpu::default);
        if a.cpu_shares.is_some() {
            c.set_shares(a.cpu_shares);
        }
        if a.cpu_quota.is_some() {
            c.set_quota(a.cpu_quota);
        }
        if a.cpu_period.is_some() {
            c.set_period(a.cpu_period);
        }
        if a.cpuset_cpus.is_some() {
            c.set_cpus(a.cpuset_cpus.clone());
        }
        if a.cpuset_mems.is_some() {
            c.set_mems(a.cpuset_mems.clone());
        }
        res.set_cpu(Some(c));
    }
    if let Some(limit) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        res.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = res.block_io().clone().unwrap_or_else(LinuxBlockIo::default);
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    container::update(root, &a.id, &res)?;
    Ok(0)
}
