use std::io::Write;

use libhull::container;
use libhull::state::Root;

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
    let container::Listing {
        containers: list,
        unreadable,
    } = container::list(root)?;
    // runc warns of a container it cannot load and lists the others.
    for e in unreadable {
        eprintln!("hull: list: {e}");
    }
    // One write at the end, not one per line.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.quiet {
        for (st, _) in &list {
            writeln!(out, "{}", st.id)?;
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "json" => {
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
        }
        "table" => {
            let rows: Vec<[String; 6]> = list
                .iter()
                .map(|(st, status)| {
                    let pid = if *status == libhull::state::Status::Stopped {
                        0
                    } else {
                        st.pid
                    };
                    [
                        st.id.clone(),
                        pid.to_string(),
                        status.to_string(),
                        st.bundle.display().to_string(),
                        st.created.clone(),
                        st.owner.clone(),
                    ]
                })
                .collect();
            let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.len());
                }
            }
            // runc's tabwriter: columns padded to the widest cell plus 3 spaces.
            for r in std::iter::once(&header).chain(&rows) {
                let mut line = String::new();
                for (i, c) in r.iter().enumerate() {
                    if i + 1 == r.len() {
                        line.push_str(c);
                    } else {
                        line.push_str(&format!("{c:<w$}", w = widths[i] + 3));
                    }
                }
                writeln!(out, "{line}")?;
            }
        }
        other => anyhow::bail!("invalid format option {other:?}: table or json"),
    }
    Ok(0)
}
