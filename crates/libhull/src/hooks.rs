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
    let timeout = hook
        .timeout()
        .filter(|secs| *secs > 0)
        .map(|secs| Duration::from_secs(secs as u64));
    let status = wait_feeding(&mut child, state_json.as_bytes(), timeout)?;
    if status.success() {
        Ok(())
    } else if let Some(sig) = status.signal() {
        Err(format!("killed by signal {sig}"))
    } else {
        Err(format!("exit status {}", status.code().unwrap_or(-1)))
    }
}

/// Waits for the hook to exit while writing `input` to its stdin as it reads, and
/// kills its process group once `timeout` has passed. The writes do not block: a hook
/// that never reads a state larger than the pipe (annotations may run to hundreds of
/// KiB) must still meet its timeout.
fn wait_feeding(
    child: &mut std::process::Child,
    input: &[u8],
    timeout: Option<Duration>,
) -> std::result::Result<std::process::ExitStatus, String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = timeout.map(|t| Instant::now() + t);
    let pidfd = crate::sys::pidfd_open(child.id() as i32).map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take();
    if let Some(pipe) = &stdin {
        let fd = pipe.as_fd();
        let flags =
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| e.to_string())?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(|e| e.to_string())?;
    }
    let mut written = 0;
    loop {
        if let Some(pipe) = &mut stdin {
            match pipe.write(&input[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // A hook may exit without reading its stdin: EPIPE is not a failure.
                Err(_) => written = input.len(),
            }
            if written == input.len() {
                // Closed: the hook reads end-of-file.
                stdin = None;
            }
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            // The hook is our unreaped child, so its pid (and the group id it leads)
            // cannot have been reused.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.kill();
            let _ = child.wait();
            let secs = timeout.unwrap_or_default().as_secs();
            return Err(format!("timed out after {secs}s"));
        }
        let wait = match left {
            Some(l) => PollTimeout::try_from(l.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(pipe) = &stdin {
            fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLOUT));
        }
        let _ = poll(&mut fds, wait);
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

    /// A hook that never reads a state larger than a pipe holds still meets its
    /// timeout (the write to its stdin does not block hull).
    #[test]
    fn hook_timeout_holds_while_the_hook_does_not_read_a_large_state() {
        let h = hook(&["sh", "-c", "sleep 10"], Some(1));
        let state = format!("{{\"pad\":\"{}\"}}", "x".repeat(256 * 1024));
        let start = Instant::now();
        let err = run_all("prestart", &[h], &state).unwrap_err().to_string();
        assert!(err.contains("timed out"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        // And one that reads it all gets all of it.
        let check = format!("[ $(wc -c) -eq {} ]", state.len());
        let h = hook(&["sh", "-c", &check], Some(10));
        run_all("prestart", &[h], &state).unwrap();
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
