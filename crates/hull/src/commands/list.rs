use std::io::Write;

use libhull::container;
use libhull::state::{Root, Status, Summaries};

#[derive(clap::Args)]
pub struct Args {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Print only the container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    if a.format != "table" && a.format != "json" {
        anyhow::bail!("invalid format option {:?}: table or json", a.format);
    }
    // One write at the end, not one per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.quiet {
        // The ids alone: no need to ask the kernel whether each init still runs.
        let Summaries { found, unreadable } = root.load_summaries()?;
        warn(unreadable);
        for (st, _) in &found {
            writeln!(out, "{}", st.id)?;
        }
        return Ok(0);
    }
    let container::Listing {
        containers: list,
        unreadable,
    } = container::list(root)?;
    warn(unreadable);
    if a.format == "json" {
        let v: Vec<_> = list
            .iter()
            .map(|(st, status)| st.to_oci_json(*status))
            .collect();
        // runc prints `null` for no containers.
        if v.is_empty() {
            writeln!(out, "null")?;
        } else {
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        }
        return Ok(0);
    }
    let rows: Vec<Row> = list
        .iter()
        .map(|(st, status)| Row {
            id: &st.id,
            pid: if *status == Status::Stopped {
                0
            } else {
                st.pid
            },
            status: status.as_str(),
            bundle: st.bundle.to_string_lossy(),
            created: &st.created,
            owner: &st.owner,
        })
        .collect();
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let mut w = header.map(str::len);
    for r in &rows {
        let cells = [
            r.id.len(),
            digits(r.pid),
            r.status.len(),
            r.bundle.len(),
            r.created.len(),
        ];
        for (w, c) in w.iter_mut().zip(cells) {
            *w = (*w).max(c);
        }
    }
    // runc's tabwriter: each column but the last padded to its widest cell plus 3.
    let w = w.map(|w| w + 3);
    let [id, pid, status, bundle, created, owner] = header;
    writeln!(
        out,
        "{id:<0$}{pid:<1$}{status:<2$}{bundle:<3$}{created:<4$}{owner}",
        w[0], w[1], w[2], w[3], w[4]
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<6$}{:<7$}{:<8$}{:<9$}{:<10$}{}",
            r.id, r.pid, r.status, r.bundle, r.created, r.owner, w[0], w[1], w[2], w[3], w[4]
        )?;
    }
    Ok(0)
}

/// One line of the table, borrowed from the listing.
struct Row<'a> {
    id: &'a str,
    pid: i32,
    status: &'a str,
    bundle: std::borrow::Cow<'a, str>,
    created: &'a str,
    owner: &'a str,
}

/// runc warns of a container it cannot load and lists the others.
fn warn(unreadable: Vec<libhull::Error>) {
    for e in unreadable {
        eprintln!("hull: list: {e}");
    }
}

/// The width of `n` written in decimal.
fn digits(n: i32) -> usize {
    let sign = usize::from(n < 0);
    sign + n
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1)
}
