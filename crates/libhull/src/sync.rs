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
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags};

use crate::error::{Context, Error, Result};
use crate::sys::{self, ReceivedFd};

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
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "socketpair".into())?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        let buf = msg.encode();
        send(self.0.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL)
            .ctx(|| "send on the init channel".into())?;
        Ok(())
    }

    /// The error the other end left on the channel before it went away, if one is
    /// waiting: for when a step of ours on its pid failed because it had already exited.
    pub fn pending_error(&self) -> Option<String> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
            return None;
        }
        match self.recv() {
            Ok(Some(Msg::Error(e))) => Some(e),
            _ => None,
        }
    }

    /// The next message; `None` when the other end closed.
    pub fn recv(&self) -> Result<Option<Msg>> {
        loop {
            // A message longer than the buffer would be cut silently, and the state JSON
            // carries the annotations (Kubernetes allows 256 KiB of them): ask for the
            // length first. MSG_TRUNC makes recv return the whole length of the packet.
            // A zero-length read into no buffer.
            let len = match recv(
                self.0.as_raw_fd(),
                &mut [],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Ok(len) => len,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("receive on the init channel", e)),
            };
            let mut buf = vec![0u8; len.max(1)];
            let n = match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("receive on the init channel", e)),
            };
            if n == 0 {
                return Ok(None);
            }
            return Msg::decode(&buf[..n])
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
    match sys::recv_fd(sock).ctx(|| "receive the pty master".into())? {
        ReceivedFd::Fd(fd) => Ok(fd),
        ReceivedFd::Truncated => Err(Error::sys(
            "read control message",
            io::Error::from_raw_os_error(libc::ENOBUFS),
        )),
        ReceivedFd::Missing => Err(Error::Init(
            "no descriptor received on the console socket".into(),
        )),
    }
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
