//! The six OCI hook points: each hook is a program run with the container's state JSON
//! on its stdin, its own `args` and `env`, and an optional `timeout` in seconds.
//!
//! Owns: running one list of hooks and turning a failure into an error that names the
//! hook. Where a hook runs (which namespaces) is decided by its caller.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

/// Runs `hooks` in order. For most kinds the first failure stops the list and is
/// returned; poststart and poststop hooks all run, and their failures come back
/// together, for the caller to log as a warning.
pub fn run_all(kind: &str, hooks: &[Hook], state_json: &str) -> Result<()> {
    // runtime-spec (config.md, poststart and poststop): "If a hook fails, the runtime
    // MUST log a warning, but the remaining hooks and lifecycle continue as if the hook
    // had succeeded."
    let keep_going = matches!(kind, "poststart" | "poststop");
    let mut failures = Vec::new();
    for (i, hook) in hooks.iter().enumerate() {
        if let Err(e) = run(hook, state_json) {
            failures.push(format!("{kind} hook #{i} ({}): {e}", hook.path().display()));
            if !keep_going {
                break;
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Hook(failures.join("; ")))
    }
}

fn run(hook: &Hook, state_json: &str) -> std::result::Result<(), String> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // A group of its own, so that a timeout kills what the hook started too (a
        // script's `sleep`), not only the hook.
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin: EPIPE is not a failure.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let status = match hook.timeout() {
        Some(secs) if secs > 0 => wait_timeout(&mut child, Duration::from_secs(secs as u64))?,
        _ => child.wait().map_err(|e| e.to_string())?,
    };
    if status.success() {
        Ok(())
    } else if let Some(sig) = status.signal() {
        Err(format!("killed by signal {sig}"))
    } else {
        Err(format!("exit status {}", status.code().unwrap_or(-1)))
    }
}

fn wait_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::result::Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    let pidfd = crate::sys::pidfd_open(child.id() as i32).map_err(|e| e.to_string())?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // The hook is our unreaped child, so its pid (and the group id it leads)
            // cannot have been reused.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", timeout.as_secs()));
        }
        let mut fds = [nix::poll::PollFd::new(
            pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let _ = nix::poll::poll(
            &mut fds,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        );
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    fn hook(args: &[&str], timeout: Option<i64>) -> Hook {
        let mut b = HookBuilder::default()
            .path("/bin/sh")
            .args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .env(vec!["FOO=bar".to_string()]);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        b.build().unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_and_env() {
        let h = hook(
            &[
                "sh",
                "-c",
                "read s; [ \"$s\" = '{\"id\":\"x\"}' ] && [ \"$FOO\" = bar ]",
            ],
            None,
        );
        run_all("prestart", &[h], "{\"id\":\"x\"}\n").unwrap();
    }

    #[test]
    fn failing_hook_is_named() {
        let h = hook(&["sh", "-c", "exit 3"], None);
        let err = run_all("poststart", &[h], "{}").unwrap_err().to_string();
        assert!(err.contains("poststart hook #0"), "{err}");
        assert!(err.contains("exit status 3"), "{err}");
    }

    #[test]
    fn after_a_failing_poststart_hook_the_next_one_runs() {
        let dir = std::env::temp_dir().join(format!("hull-hooks-unit-{}", std::process::id()));
        let mark = dir.join("ran");
        std::fs::create_dir_all(&dir).unwrap();
        let second = format!("touch {}", mark.display());
        for kind in ["poststart", "poststop", "createRuntime"] {
            let _ = std::fs::remove_file(&mark);
            let hooks = [
                hook(&["sh", "-c", "exit 3"], None),
                hook(&["sh", "-c", &second], None),
            ];
            let err = run_all(kind, &hooks, "{}").unwrap_err().to_string();
            assert!(err.contains(&format!("{kind} hook #0")), "{err}");
            assert_eq!(mark.exists(), kind != "createRuntime", "{kind}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hook_timeout_kills_it() {
        let h = hook(&["sh", "-c", "sleep 10"], Some(1));
        let start = Instant::now();
        let err = run_all("createRuntime", &[h], "{}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
