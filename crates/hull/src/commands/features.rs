#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> anyhow::Result<u8> {
    println!(
        "{}",
        serde_json::to_string_pretty(&libhull::features::features())?
    );
    Ok(0)
}
