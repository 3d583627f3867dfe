use libhull::container;
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    /// Send the signal to every process in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name or number (default SIGTERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    let sig = libhull::signal::parse(&a.signal)?;
    container::kill(root, &a.id, sig, a.all)?;
    Ok(0)
}
