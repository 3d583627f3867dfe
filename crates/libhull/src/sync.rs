//! The one channel between hull and the container's init: a `SOCK_SEQPACKET`
//! socketpair, so each message arrives whole or not at all.
//!
//! The conversation of a `create` (parent ⇄ init):
//! 0. init                 joins its v1 cgroups itself (`cgroups::SelfJoin`)
//! 1. parent → `Go`        uid/gid maps written, cgroup v2 joined (if `clone3`
//!    could not), rlimits set
//! 2. init → `MountsDone`  rootfs built, before pivot_root
//! 3. parent → `Hooks(state)`  prestart and createRuntime hooks ran; the state JSON for
//!    the createContainer hooks the init runs next
//! 4. init → `Ready`       about to block on the exec fifo
//!
//! At any step the init may send `Error(text)` instead and exit.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{Context, Error, Result};

#[derive(Debug, PartialEq)]
pub enum Msg {
    Go,
    MountsDone,
    Hooks(String),
    Ready,
    Error(String),
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        let (tag, body): (u8, &str) = match self {
            Msg::Go => (b'G', ""),
            Msg::MountsDone => (b'M', ""),
            Msg::Hooks(s) => (b'H', s),
            Msg::Ready => (b'R', ""),
            Msg::Error(s) => (b'E', s),
        };
        let mut v = Vec::with_capacity(1 + body.len());
        v.push(tag);
        v.extend_from_slice(body.as_bytes());
        v
    }

    fn decode(buf: &[u8]) -> Option<Msg> {
        let body = || String::from_utf8_lossy(&buf[1..]).into_owned();
        Some(match *buf.first()? {
            b'G' => Msg::Go,
            b'M' => Msg::MountsDone,
            b'H' => Msg::Hooks(body()),
            b'R' => Msg::Ready,
            b'E' => Msg::Error(body()),
            _ => return None,
        })
    }
}

/// One end of the channel.
pub struct Channel(OwnedFd);

impl Channel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> Result<(Channel, Channel)> {
        let mut fds = [0; 2];
        // SAFETY: fds is a two-element array as socketpair(2) requires.
        let ret = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if ret < 0 {
            return Err(Error::sys("socketpair", io::Error::last_os_error()));
        }
        // SAFETY: socketpair returned two new descriptors that we now own.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Channel(a), Channel(b)))
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        let buf = msg.encode();
        // SAFETY: buf is valid for its length.
        let n = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(Error::sys(
                "send on the init channel",
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// The next message; `None` when the other end closed.
    pub fn recv(&self) -> Result<Option<Msg>> {
        loop {
            // A message longer than the buffer would be cut silently, and the state JSON
            // carries the annotations (Kubernetes allows 256 KiB of them): ask for the
            // length first. MSG_TRUNC makes recv return the whole length of the packet.
            // SAFETY: a zero-length read into no buffer.
            let len = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            if len < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::sys("receive on the init channel", e));
            }
            let mut buf = vec![0u8; (len as usize).max(1)];
            // SAFETY: buf is valid for its length.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::sys("receive on the init channel", e));
            }
            if n == 0 {
                return Ok(None);
            }
            return Msg::decode(&buf[..n as usize])
                .map(Some)
                .ok_or_else(|| Error::Init("garbled message on the init channel".into()));
        }
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Sends `fd` over the unix socket `sock` with SCM_RIGHTS (the console socket protocol
/// of runc: the payload is the name of the pty).
pub fn send_fd(sock: BorrowedFd<'_>, name: &str, fd: BorrowedFd<'_>) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [io::IoSlice::new(name.as_bytes())];
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .ctx(|| "send the pty master over the console socket".into())?;
    Ok(())
}

/// Receives one descriptor sent with SCM_RIGHTS.
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ctx(|| "receive the pty master".into())?;
    for c in msg.cmsgs().ctx(|| "read control message".into())? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::Init(
        "no descriptor received on the console socket".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Msg::Go,
            Msg::MountsDone,
            Msg::Hooks("{\"id\":\"x\"}".into()),
            Msg::Ready,
            Msg::Error("mount /proc: EPERM".into()),
        ] {
            assert_eq!(Msg::decode(&m.encode()), Some(m));
        }
        assert_eq!(Msg::decode(b""), None);
        assert_eq!(Msg::decode(b"Z"), None);
    }

    #[test]
    fn long_messages_arrive_whole() {
        let (a, b) = Channel::pair().unwrap();
        let state = format!("{{\"big\":\"{}\"}}", "x".repeat(100_000));
        a.send(&Msg::Hooks(state.clone())).unwrap();
        a.send(&Msg::Ready).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Hooks(state)));
        assert_eq!(b.recv().unwrap(), Some(Msg::Ready));
    }

    #[test]
    fn channel_carries_messages_and_reports_close() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Msg::Hooks("state".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Hooks("state".into())));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
