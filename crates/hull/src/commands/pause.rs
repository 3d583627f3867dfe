use libhull::container;
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    container::pause(root, &a.id)?;
    Ok(0)
}
