use std::path::PathBuf;

use libhull::exec::{self, ExecOptions, ProcessFlags};
use libhull::state::Root;

#[derive(clap::Args)]
pub struct Args {
    /// Path to a process.json describing the process to run
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Path to an AF_UNIX socket that will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective and permitted sets
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Set the AppArmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set the SELinux label for the process
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Detach from the process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Pass N additional descriptors (3..3+N) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in a sub-cgroup of the container's cgroup
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Allow exec into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(root: &Root, a: Args) -> anyhow::Result<u8> {
    let process = match &a.process {
        Some(path) => exec::load_process(path)?,
        None => {
            let base = root
                .load_exec(&a.id)?
                .process
                .ok_or_else(|| anyhow::anyhow!("container {} has no process spec", a.id))?;
            let flags = ProcessFlags {
                args: a.command,
                tty: a.tty,
                cwd: a.cwd,
                env: a.env,
                user: a.user,
                additional_gids: a.additional_gids,
                caps: a.cap,
                no_new_privs: a.no_new_privs,
                apparmor: a.apparmor,
                process_label: a.process_label,
            };
            exec::process_from_flags(&base, &flags)?
        }
    };
    let opts = ExecOptions {
        id: a.id,
        console_socket: a.console_socket,
        pid_file: a.pid_file,
        detach: a.detach,
        preserve_fds: a.preserve_fds,
        sub_cgroup: a.cgroup,
        ignore_paused: a.ignore_paused,
    };
    let code = exec::exec(root, &opts, &process)?;
    Ok(code.clamp(0, 255) as u8)
}
