//! hull: a runc-compatible OCI container runtime. This binary only parses the command
//! line (runc's flags) and calls libhull; one file per command under `commands/`.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "hull",
    version,
    about = "hull: an OCI container runtime (runc-compatible)"
)]
struct Cli {
    /// Root directory for storage of container state (default /run/hull, or
    /// $XDG_RUNTIME_DIR/hull when not root)
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Log file (default: stderr)
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Enable debug logging
    #[arg(long, global = true)]
    debug: bool,
    /// Use the systemd cgroup driver (not supported yet)
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    rootless: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

// One value per process: the size difference between commands costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Create a new specification file (config.json)
    Spec(commands::spec::Args),
    /// Create a container
    Create(commands::create::Args),
    /// Start a created container
    Start(commands::start::Args),
    /// Create and start a container, and wait for it unless detached
    Run(commands::run::Args),
    /// Output the state of a container
    State(commands::state::Args),
    /// List containers
    List(commands::list::Args),
    /// Send a signal to a container's init process
    Kill(commands::kill::Args),
    /// Delete a container and the resources it holds
    Delete(commands::delete::Args),
    /// Execute a new process inside a container
    Exec(commands::exec::Args),
    /// Show the processes running inside a container
    Ps(commands::ps::Args),
    /// Suspend every process of a container
    Pause(commands::pause::Args),
    /// Resume a paused container
    Resume(commands::resume::Args),
    /// Update a container's resource limits
    Update(commands::update::Args),
    /// Show a container's resource usage, once (--stats) or every --interval
    Events(commands::events::Args),
    /// Show the features this runtime supports
    Features(commands::features::Args),
}

/// runc's default state root: /run/hull for root; for anyone else their runtime
/// directory, which they own.
fn default_root() -> PathBuf {
    let euid = libhull::sys::euid();
    if euid == 0 {
        return PathBuf::from("/run/hull");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("hull"),
        _ => PathBuf::from(format!("/tmp/hull-{euid}")),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The tools that start hull may leave descriptors open: none of them may reach a
    // container. Only the ones passed on purpose (--preserve-fds) stay inheritable.
    let preserve = match &cli.command {
        Command::Create(a) => a.common.preserve_fds,
        Command::Run(a) => a.create.preserve_fds,
        Command::Exec(a) => a.preserve_fds,
        _ => 0,
    };
    let _ = libhull::sys::cloexec_from(3 + preserve);
    // The commands that make a process in a container run from a sealed copy of hull,
    // which the container cannot write (CVE-2019-5736); this may re-execute hull.
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    ) {
        if let Err(e) = libhull::sealed::ensure() {
            eprintln!("hull: {e}");
            return ExitCode::from(1);
        }
    }
    let format = match cli.log_format {
        LogFormat::Text => libhull::log::Format::Text,
        LogFormat::Json => libhull::log::Format::Json,
    };
    libhull::log::init(cli.log.clone(), format, cli.debug);
    let root = libhull::state::Root::new(&cli.root.clone().unwrap_or_else(default_root));
    if cli.systemd_cgroup && matches!(cli.command, Command::Create(_) | Command::Run(_)) {
        eprintln!("hull: --systemd-cgroup: the systemd cgroup driver is not supported yet");
        return ExitCode::from(1);
    }
    let result = match cli.command {
        Command::Spec(a) => commands::spec::run(a, cli.rootless.as_deref()),
        Command::Create(a) => commands::create::run(&root, a),
        Command::Start(a) => commands::start::run(&root, a),
        Command::Run(a) => commands::run::run(&root, a),
        Command::State(a) => commands::state::run(&root, a),
        Command::List(a) => commands::list::run(&root, a),
        Command::Kill(a) => commands::kill::run(&root, a),
        Command::Delete(a) => commands::delete::run(&root, a),
        Command::Exec(a) => commands::exec::run(&root, a),
        Command::Ps(a) => commands::ps::run(&root, a),
        Command::Pause(a) => commands::pause::run(&root, a),
        Command::Resume(a) => commands::resume::run(&root, a),
        Command::Update(a) => commands::update::run(&root, a),
        Command::Events(a) => commands::events::run(&root, a),
        Command::Features(a) => commands::features::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = e.to_string();
            if cli.log.is_some() {
                libhull::log::error(&msg);
            }
            eprintln!("hull: {msg}");
            ExitCode::from(1)
        }
    }
}
