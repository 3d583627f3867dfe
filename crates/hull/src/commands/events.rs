use std::io::Write;
use std::time::Duration;

use libhull::container;
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

fn duration(s: &str) -> anyhow::Result<Duration> {
    let bad = || anyhow::anyhow!("--interval {s:?}: a duration like 5s or 500ms");
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .ok_or_else(bad)?;
    let n: f64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    if a.stats {
        println!(
            "{}",
            serde_json::to_string(&container::stats(root, &a.id)?)?
        );
        return Ok(0);
    }
    let interval = duration(&a.interval)?;
    let mut out = std::io::stdout();
    container::events(root, &a.id, interval, |v| {
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    })?;
    Ok(0)
}
