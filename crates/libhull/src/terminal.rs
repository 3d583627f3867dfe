//! Terminals: the container's pty and the console socket.
//!
//! With `process.terminal`, the init opens a pty from the container's own devpts,
//! makes its slave side the process's stdio and controlling terminal, and sends the
//! master over the console socket with SCM_RIGHTS (runc's protocol). `hull run` in the
//! foreground plays the other end of that socket itself and copies between its own
//! terminal and the master.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::{Context, Result};
use crate::sys;

/// In the init, after pivot_root: opens the pty, sends the master, takes the slave as
/// stdio and controlling terminal.
pub fn setup_console(socket: BorrowedFd<'_>, size: Option<(u16, u16)>) -> Result<()> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx".into())?;
    nix::pty::grantpt(&master).ctx(|| "grantpt".into())?;
    nix::pty::unlockpt(&master).ctx(|| "unlockpt".into())?;
    let name = nix::pty::ptsname_r(&master).ctx(|| "ptsname".into())?;
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(Path::new(&name))
        .ctx(|| format!("open {name}"))?
        .into();
    if let Some((rows, cols)) = size {
        set_size(slave.as_fd(), rows, cols)?;
    }
    crate::sync::send_fd(socket, &name, master.as_fd())?;
    drop(master);
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    sys::set_controlling_terminal(slave.as_fd())
        .ctx(|| "make the pty the controlling terminal".into())?;
    // No Rust object owns 0-2 here.
    nix::unistd::dup2_stdin(&slave).ctx(|| "dup2 the pty to fd 0".into())?;
    nix::unistd::dup2_stdout(&slave).ctx(|| "dup2 the pty to fd 1".into())?;
    nix::unistd::dup2_stderr(&slave).ctx(|| "dup2 the pty to fd 2".into())?;
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;

/// The console socket a container or exec process gets: the one at `socket`, or, when
/// hull itself plays the other end (a foreground `run -t` / `exec -t`), one end of a
/// socketpair, the other returned to hull. A pair has no path, so no length limit.
pub fn console_ends(
    own_end: bool,
    socket: Option<&Path>,
) -> Result<(Option<std::os::unix::net::UnixStream>, Option<OwnedFd>)> {
    if own_end {
        let (ours, theirs) =
            std::os::unix::net::UnixStream::pair().ctx(|| "socketpair for the console".into())?;
        return Ok((Some(ours), Some(theirs.into())));
    }
    let theirs = match socket {
        Some(path) => Some(
            std::os::unix::net::UnixStream::connect(path)
                .ctx(|| format!("connect to console socket {}", path.display()))?
                .into(),
        ),
        None => None,
    };
    Ok((None, theirs))
}

/// Sets a terminal's window size.
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    sys::set_winsize(fd, rows, cols).ctx(|| "set the terminal size".into())
}

/// The window size of a terminal, if `fd` is one.
pub fn get_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    sys::winsize(fd).ok()
}

/// Puts hull's own terminal in raw mode for the length of a foreground `run -t`;
/// dropping it restores the old mode.
pub struct RawMode<'fd> {
    fd: BorrowedFd<'fd>,
    old: nix::sys::termios::Termios,
}

impl<'fd> RawMode<'fd> {
    pub fn enter(fd: BorrowedFd<'fd>) -> Option<RawMode<'fd>> {
        let old = nix::sys::termios::tcgetattr(fd).ok()?;
        let mut raw = old.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, old })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ =
            nix::sys::termios::tcsetattr(self.fd, nix::sys::termios::SetArg::TCSANOW, &self.old);
    }
}

/// Copies what is readable from `from` to `to`; false at end of file.
pub fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return false,
                }
            }
            true
        }
    }
}
