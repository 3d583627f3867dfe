use libhull::container;
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Common,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// Container id
    pub id: String,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    let code = container::run(root, &a.create.options(a.id), a.detach, a.keep)?;
    Ok(code.clamp(0, 255) as u8)
}
