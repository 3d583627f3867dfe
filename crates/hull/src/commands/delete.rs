use libhull::container;
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    match container::delete(root, &a.id, a.force) {
        // runc: deleting a container that does not exist is not an error with --force.
        Err(libhull::Error::NotFound(_)) if a.force => Ok(0),
        other => other.map(|_| 0).map_err(Into::into),
    }
}
