use libhull::container;
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    let v = container::state(root, &a.id)?;
    // runc prints the state indented with two spaces.
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(0)
}
