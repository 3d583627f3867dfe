use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write config.json to
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

pub fn run(a: Args, global_rootless: Option<&str>) -> anyhow::Result<u8> {
    // `--rootless` is the global flag (runc: `runc spec --rootless`).
    let rootless = global_rootless == Some("true");
    let path = a.bundle.join("config.json");
    // runc refuses to overwrite an existing config.json.
    if path.exists() {
        anyhow::bail!("File {} exists. Remove it first", path.display());
    }
    let text = libhull::spec::default_spec_json(rootless)?;
    std::fs::write(&path, text).map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    Ok(0)
}
