//! Terminals: `process.terminal` with a console socket (the pty master arrives over a
//! unix socket with SCM_RIGHTS, runc's protocol), the refusal of a terminal that nobody
//! would hold, and `hull run` in the foreground on a real terminal, the way a user
//! types `runc run` in a shell.

mod common;

use std::ffi::CStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{cgroup_v1_dirs, wait_for, Env};
use serde_json::json;

/// Receives one message with one descriptor (SCM_RIGHTS): (payload, descriptor).
fn recv_fd(sock: &impl AsRawFd) -> (String, OwnedFd) {
    let (payload, fd) = common::recv_with_fd(sock);
    (String::from_utf8_lossy(&payload).into_owned(), fd)
}

/// Reads from `fd` until `done` holds for all that was read, or `timeout` passes.
fn read_until(fd: &impl AsFd, timeout: Duration, mut done: impl FnMut(&str) -> bool) -> String {
    let deadline = Instant::now() + timeout;
    let mut all = Vec::new();
    while !done(&String::from_utf8_lossy(&all)) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) };
        if ready <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::read(pfd.fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            // EIO: every slave descriptor is closed.
            break;
        }
        all.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// A new pty pair from /dev/ptmx: (master, slave path).
fn open_pty() -> (OwnedFd, String) {
    // SAFETY: posix_openpt returns a new descriptor or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(
        master >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: master is the new descriptor, owned from here on.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: valid pty master; name is valid for its length.
    unsafe {
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0, "grantpt");
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0, "unlockpt");
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
    }
    // SAFETY: ptsname_r wrote a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    (master, name)
}

fn set_window_size(fd: &impl AsRawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: ws is a valid winsize.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
        0
    );
}

fn termios(fd: &impl AsRawFd) -> libc::termios {
    // SAFETY: zeroed termios is valid; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and termios.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) }, 0);
    t
}

/// The controlling terminal of `pid` (field 7 of stat, `tty_nr`); 0 for none.
fn tty_nr(pid: i64) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    // After the comm: state ppid pgrp session tty_nr.
    rest.split_whitespace().nth(4).unwrap().parse().unwrap()
}

/// A container created with `--console-socket`, its pty master received and started.
struct Console {
    master: File,
    name: String,
    pid: i64,
}

fn create_with_console(env: &Env, b: &common::Bundle) -> Console {
    let sock_path = env.dir().join(format!("console-{}.sock", b.id()));
    let listener = UnixListener::bind(&sock_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    env.hull_ok(&[
        "create",
        "--console-socket",
        sock_path.to_str().unwrap(),
        "-b",
        b.path_str(),
        b.id(),
    ]);
    // create connected and sent the master before it returned: it waits in the backlog.
    let (stream, _) = listener
        .accept()
        .expect("hull connected to the console socket");
    stream.set_nonblocking(false).unwrap();
    let (name, master) = recv_fd(&stream);
    let pid = env.state(b.id())["pid"].as_i64().unwrap();
    Console {
        master: File::from(master),
        name,
        pid,
    }
}

#[test]
fn console_socket_receives_the_pty_master() {
    let env = Env::new("console_socket");
    let b = env.bundle("b");
    b.set_args(&["sh"]);
    b.edit(|c| {
        c["process"]["terminal"] = true.into();
        c["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    });
    let Console {
        mut master,
        name,
        pid,
    } = create_with_console(&env, &b);
    assert_eq!(
        name, "/dev/pts/0",
        "the payload is the pty's name in the container"
    );
    // SAFETY: isatty only inspects the descriptor.
    assert_eq!(unsafe { libc::isatty(master.as_raw_fd()) }, 1);
    assert_ne!(tty_nr(pid), 0, "the pty is the init's controlling terminal");

    env.hull_ok(&["start", b.id()]);
    master.write_all(b"tty; echo pid=$$; stty size\n").unwrap();
    let out = read_until(&master, Duration::from_secs(10), |s| {
        s.contains("/dev/pts/0") && s.contains("pid=1") && s.contains("30 100")
    });
    assert!(out.contains("/dev/pts/0"), "tty output: {out:?}");
    assert!(out.contains("pid=1"), "the shell is the init: {out:?}");
    assert!(out.contains("30 100"), "consoleSize: {out:?}");

    master.write_all(b"exit 0\n").unwrap();
    assert!(wait_for(
        || env.state(b.id())["status"] == "stopped",
        Duration::from_secs(5)
    ));
    env.hull_ok(&["delete", b.id()]);
}

#[test]
fn terminal_belongs_to_the_process_user() {
    let env = Env::new("console_user");
    let b = env.bundle("b");
    b.set_args(&[
        "sh",
        "-c",
        "stat -c owner=%u:%g $(tty); echo reopened > $(tty); sleep 1000",
    ]);
    b.edit(|c| {
        c["process"]["terminal"] = true.into();
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let console = create_with_console(&env, &b);
    env.hull_ok(&["start", b.id()]);
    let out = read_until(&console.master, Duration::from_secs(10), |s| {
        s.contains("reopened") || s.contains("denied")
    });
    assert!(out.contains("owner=1000:1000"), "{out:?}");
    assert!(out.contains("reopened"), "{out:?}");
    env.hull_ok(&["delete", "-f", b.id()]);
}

#[test]
fn create_with_terminal_and_no_console_socket_fails_clearly() {
    let env = Env::new("terminal_no_socket");
    let b = env.bundle("b");
    b.edit(|c| c["process"]["terminal"] = true.into());
    let out = env.hull(&["create", "-b", b.path_str(), b.id()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("console socket"), "{stderr}");
    assert!(!env.state_dir().join(b.id()).exists());
    assert!(cgroup_v1_dirs(&env.cgroup_path(b.id())).is_empty());
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

/// A command running with a new pty as its stdin, stdout, stderr and controlling
/// terminal, as in a terminal emulator; the test holds the master.
struct OnPty {
    master: OwnedFd,
    /// Kept open, so the pty and its modes outlive the command.
    slave: File,
    child: Child,
    out: String,
}

impl OnPty {
    fn spawn(mut cmd: std::process::Command, rows: u16, cols: u16) -> OnPty {
        let (master, slave_name) = open_pty();
        set_window_size(&master, rows, cols);
        let slave = File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&slave_name)
            .unwrap();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: between fork and exec only async-signal-safe calls: setsid and ioctl.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        OnPty {
            master,
            slave,
            child,
            out: String::new(),
        }
    }

    fn type_in(&self, text: &str) {
        File::from(self.master.try_clone().unwrap())
            .write_all(text.as_bytes())
            .unwrap();
    }

    /// Reads until `what` has appeared in all the output so far, or `timeout` passes.
    fn wait_for_output(&mut self, what: &str, timeout: Duration) -> bool {
        let so_far = self.out.clone();
        let more = read_until(&self.master, timeout, |s| {
            format!("{so_far}{s}").contains(what)
        });
        self.out += &more;
        self.out.contains(what)
    }

    /// Reads until the command exits (None after `timeout`: then it is killed).
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            self.out += &read_until(&self.master, Duration::from_millis(100), |_| false);
            if let Some(status) = self.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                // Our own child: kill it by its handle.
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
        };
        // Whatever it wrote before it exited.
        self.out += &read_until(&self.master, Duration::from_millis(200), |_| false);
        status
    }
}

#[test]
fn foreground_run_on_a_terminal_is_interactive() {
    let env = Env::new("run_tty");
    let b = env.bundle("b");
    b.set_args(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let mut run = OnPty::spawn(env.command(&["run", "-b", b.path_str(), b.id()]), 40, 120);
    let before = termios(&run.slave);
    run.type_in("stty size; echo hello-$((1+1))\nexit 3\n");
    let status = run.wait(Duration::from_secs(30));
    let out = &run.out;
    let status = status.unwrap_or_else(|| panic!("hull run did not exit; output {out:?}"));
    assert!(out.contains("hello-2"), "output {out:?}");
    assert!(
        out.contains("40 120"),
        "the container's pty has hull's size: {out:?}"
    );
    assert_eq!(status.code(), Some(3), "output {out:?}");

    // hull put its terminal in raw mode and must have put it back.
    let after = termios(&run.slave);
    assert_eq!(
        (after.c_lflag, after.c_iflag, after.c_oflag),
        (before.c_lflag, before.c_iflag, before.c_oflag),
        "terminal modes restored"
    );
    assert_eq!(env.hull_ok(&["list", "-q"]).trim(), "");
}

#[test]
fn window_size_changes_reach_the_container() {
    let env = Env::new("run_tty_winch");
    let b = env.bundle("b");
    b.set_args(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let mut run = OnPty::spawn(env.command(&["run", "-b", b.path_str(), b.id()]), 40, 120);
    run.type_in("stty size\n");
    assert!(
        run.wait_for_output("40 120", Duration::from_secs(10)),
        "output {:?}",
        run.out
    );
    // The kernel sends SIGWINCH to hull, the foreground process of this terminal, and
    // hull passes the size on when it handles the signal: ask until it has.
    set_window_size(&run.master, 50, 150);
    let resized = (0..20).any(|_| {
        run.type_in("stty size\n");
        run.wait_for_output("50 150", Duration::from_millis(500))
    });
    run.type_in("exit 0\n");
    let status = run.wait(Duration::from_secs(30));
    let out = run.out.clone();
    assert!(resized, "the new size inside: {out:?}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "output {out:?}");
}

#[test]
fn ctrl_c_reaches_the_containers_foreground_process() {
    let env = Env::new("run_tty_ctrl_c");
    let b = env.bundle("b");
    b.set_args(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let mut run = OnPty::spawn(env.command(&["run", "-b", b.path_str(), b.id()]), 24, 80);
    // A child of the shell in the foreground: a signal forwarded to the init (the
    // shell) would not stop it; only the terminal's ^C does.
    run.type_in("sed s/^/got-/\n");
    // What is typed before sed runs may be flushed when the shell hands it the terminal.
    let sed_runs = (0..20).any(|_| {
        run.type_in("x\n");
        run.wait_for_output("got-x", Duration::from_millis(500))
    });
    assert!(sed_runs, "output {:?}", run.out);
    // In raw mode ^C is a byte for the container's terminal, which interrupts sed; on
    // hull's own terminal it would be a SIGINT for hull, and sed would go on.
    run.type_in("\x03");
    // The interrupt flushes what was typed after it: type until the shell answers.
    let interrupted = (0..20).any(|_| {
        run.type_in("echo after-$((2+3))\n");
        run.wait_for_output("after-5", Duration::from_millis(500))
    });
    run.type_in("exit 0\n");
    let status = run.wait(Duration::from_secs(30));
    let out = run.out.clone();
    assert!(interrupted, "^C did not stop sed: {out:?}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "output {out:?}");
}

#[test]
fn foreground_run_on_a_terminal_with_a_long_id() {
    let env = Env::new("run_tty_long_id");
    let b = env.bundle("b");
    let id = "0123456789abcdef".repeat(4);
    b.set_args(&["sh", "-c", "echo long-id-ok"]);
    b.edit(|c| {
        c["process"]["terminal"] = true.into();
        c["linux"]["cgroupsPath"] = env.cgroup_path(&id).into();
    });
    let mut run = OnPty::spawn(env.command(&["run", "-b", b.path_str(), &id]), 24, 80);
    let status = run.wait(Duration::from_secs(30));
    let out = run.out.clone();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "output {out:?}");
    assert!(out.contains("long-id-ok"), "output {out:?}");
}

use std::os::unix::fs::OpenOptionsExt;
