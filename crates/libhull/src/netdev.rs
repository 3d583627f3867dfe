//! `linux.netDevices`: host network interfaces moved into the container's network
//! namespace (renamed as asked) at create, and moved back under their own names at
//! delete.
//!
//! The container's network namespace is held by a bind mount of its
//! `/proc/<pid>/ns/net` in the state directory, so the devices can be brought back
//! even after the container's processes are gone (a namespace that dies takes its
//! virtual devices with it). Netlink messages are built by hand: two message types.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use oci_spec::runtime::LinuxNetDevice;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// The devices moved into a container, recorded in its state: host name → name inside.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Moved {
    pub devices: Vec<(String, String)>,
    /// The bind mount holding the container's network namespace.
    pub netns: Option<PathBuf>,
}

const IFNAMSIZ: usize = 16;

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < IFNAMSIZ
        && n != "."
        && n != ".."
        && !n.contains(['/', ':'])
        && !n.chars().any(char::is_whitespace)
}

/// Checks the devices before anything is made: names valid, present on the host, and
/// a new network namespace to move them into.
pub fn plan(
    devices: &HashMap<String, LinuxNetDevice>,
    new_net: bool,
    state_dir: &Path,
) -> Result<Moved> {
    if devices.is_empty() {
        return Ok(Moved::default());
    }
    if !new_net {
        return Err(Error::config(
            "linux.netDevices",
            "moving devices needs a new network namespace",
        ));
    }
    let mut moved = Vec::new();
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    for host in names {
        let field = format!("linux.netDevices.{host}");
        let inside = devices[host].name().clone().unwrap_or_else(|| host.clone());
        if !valid_name(host) {
            return Err(Error::config(field, "not a valid interface name"));
        }
        if !valid_name(&inside) {
            return Err(Error::config(
                format!("{field}.name"),
                format!("{inside:?} is not a valid interface name"),
            ));
        }
        if !Path::new("/sys/class/net").join(host).exists() {
            return Err(Error::config(
                field,
                "no such network interface on the host",
            ));
        }
        moved.push((host.clone(), inside));
    }
    Ok(Moved {
        devices: moved,
        netns: Some(state_dir.join("netns")),
    })
}

/// In the parent, once the init exists: holds its network namespace and moves the
/// devices into it.
pub fn move_in(moved: &Moved, pid: i32) -> Result<()> {
    let Some(hold) = &moved.netns else {
        return Ok(());
    };
    fs::File::create(hold).ctx(|| format!("create {}", hold.display()))?;
    let ns = format!("/proc/{pid}/ns/net");
    nix::mount::mount(
        Some(ns.as_str()),
        hold,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| format!("hold the network namespace at {}", hold.display()))?;
    let target: OwnedFd = fs::File::open(hold)
        .ctx(|| format!("open {}", hold.display()))?
        .into();
    let sock = netlink()?;
    for (host, inside) in &moved.devices {
        let index = crate::sys::ifindex(host).ctx(|| format!("find interface {host}"))?;
        set_link(sock.as_fd(), index, target.as_fd(), inside)
            .ctx(|| format!("move {host} into the container as {inside}"))?;
    }
    Ok(())
}

/// At delete: moves the devices back to hull's network namespace under their host
/// names, and lets the held namespace go. Best effort per device: a device the
/// container deleted is not an error.
pub fn move_out(moved: &Moved) -> Result<()> {
    let Some(hold) = &moved.netns else {
        return Ok(());
    };
    if !hold.exists() {
        return Ok(());
    }
    let own: OwnedFd = fs::File::open("/proc/self/ns/net")
        .ctx(|| "open /proc/self/ns/net".into())?
        .into();
    let theirs: OwnedFd = fs::File::open(hold)
        .ctx(|| format!("open {}", hold.display()))?
        .into();
    // Sockets belong to the namespace they are made in: make them in the container's.
    nix::sched::setns(theirs.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .ctx(|| "enter the container's network namespace".into())?;
    let made = (|| -> io::Result<(OwnedFd, Vec<(i32, &String)>)> {
        let sock = netlink().map_err(|e| io::Error::other(e.to_string()))?;
        let mut found = Vec::new();
        for (host, inside) in &moved.devices {
            if let Ok(i) = crate::sys::ifindex(inside) {
                found.push((i, host));
            }
        }
        Ok((sock, found))
    })();
    nix::sched::setns(own.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .ctx(|| "return to hull's network namespace".into())?;
    let (sock, found) = made.ctx(|| "netlink in the container's network namespace".into())?;
    let mut first_err = None;
    for (index, host) in found {
        if let Err(e) = set_link(sock.as_fd(), index, own.as_fd(), host) {
            first_err.get_or_insert(Error::sys(format!("move {host} back to the host"), e));
        }
    }
    let _ = nix::mount::umount2(hold, nix::mount::MntFlags::MNT_DETACH);
    let _ = fs::remove_file(hold);
    first_err.map_or(Ok(()), Err)
}

fn netlink() -> Result<OwnedFd> {
    socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .ctx(|| "netlink socket".into())
}

const RTM_NEWLINK: u16 = 16;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;

fn attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// RTM_NEWLINK of interface `index`: into the namespace `netns`, named `name` there.
pub fn link_message(index: i32, netns: i32, name: &str, seq: u32) -> Vec<u8> {
    let mut body = Vec::new();
    // struct ifinfomsg: family, pad, type, index, flags, change.
    body.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    body.extend_from_slice(&index.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    attr(&mut body, IFLA_NET_NS_FD, &netns.to_ne_bytes());
    let mut cname = name.as_bytes().to_vec();
    cname.push(0);
    attr(&mut body, IFLA_IFNAME, &cname);
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

fn set_link(sock: BorrowedFd<'_>, index: i32, netns: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let msg = link_message(index, netns.as_raw_fd(), name, 1);
    // The kernel's address is the default.
    send(sock.as_raw_fd(), &msg, MsgFlags::empty())?;
    let mut buf = [0u8; 4096];
    let n = recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty())?;
    // The answer is an NLMSG_ERROR whose error is 0 (the ACK) or -errno.
    if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == libc::NLMSG_ERROR as u16 {
        let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if err != 0 {
            return Err(io::Error::from_raw_os_error(-err));
        }
        return Ok(());
    }
    Err(io::Error::other("unexpected netlink answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("eth0"));
        for bad in ["", ".", "..", "a/b", "a b", "sixteen-chars-xx"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn message_layout() {
        let m = link_message(7, 5, "eth1", 9);
        // 16 header + 16 ifinfomsg + 8 (netns fd attr) + 12 (name "eth1\0" padded)
        assert_eq!(m.len(), 52);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 52);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
        assert_eq!(&m[44..49], b"eth1\0");
    }
}
