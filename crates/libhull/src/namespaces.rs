//! Namespaces: which ones the container gets new, which it joins by path, and how.
//!
//! hull's rule, so that one parent and one child suffice:
//! - new user, pid, mount, network, ipc and uts namespaces come from `clone3` flags, the
//!   user namespace first (the kernel creates it first, and the others belong to it);
//! - namespaces joined by `path` (except user) are entered by the parent around the
//!   `clone3` call and left again right after, so the child is born inside them and the
//!   parent, which is root on the host, has the rights to enter them;
//! - a new time namespace is made by the parent with `unshare` (it applies only to
//!   children), its offsets written before the child exists, then left;
//! - a new cgroup namespace is made by the child after the parent has placed it in its
//!   cgroup, so the namespace's root is the container's cgroup;
//! - a user namespace joined by path is entered by the child, which then unshares the
//!   other new namespaces so they belong to it.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

use crate::error::{Context, Error, Result};

/// Every namespace type, in the order a process should enter them: user first, since
/// it grants the rights to enter the others.
pub const ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
];

/// The name of a namespace under `/proc/<pid>/ns/`.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// The name of a namespace type in config.json.
fn spec_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Network => "network",
        other => proc_name(other),
    }
}

fn flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as i32)
}

/// What the container does with each namespace.
pub struct Plan {
    /// Flags for `clone3`.
    pub clone_flags: u64,
    /// Namespaces the parent enters around `clone3`.
    pub parent_joins: Vec<(LinuxNamespaceType, OwnedFd)>,
    /// A user namespace the child enters first.
    pub user_join: Option<OwnedFd>,
    /// Namespaces the child unshares (after a user join; the cgroup namespace).
    pub child_unshare: CloneFlags,
    pub new_user: bool,
    pub new_time: bool,
    pub new_net: bool,
}

impl Plan {
    /// Opens every namespace to join and decides the flags; errors name the JSON path.
    pub fn from_spec(linux: &Linux) -> Result<Plan> {
        let mut plan = Plan {
            clone_flags: 0,
            parent_joins: Vec::new(),
            user_join: None,
            child_unshare: CloneFlags::empty(),
            new_user: false,
            new_time: false,
            new_net: false,
        };
        let list = linux.namespaces().as_deref().unwrap_or_default();
        let user_by_path = list
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_some());
        for (i, ns) in list.iter().enumerate() {
            let t = ns.typ();
            match ns.path() {
                Some(path) => {
                    let fd = open_ns(path, t).map_err(|e| {
                        Error::config(format!("linux.namespaces[{i}].path"), e.to_string())
                    })?;
                    if t == LinuxNamespaceType::User {
                        plan.user_join = Some(fd);
                    } else {
                        plan.parent_joins.push((t, fd));
                    }
                }
                None => match t {
                    LinuxNamespaceType::Time => plan.new_time = true,
                    LinuxNamespaceType::Cgroup => plan.child_unshare |= flag(t),
                    LinuxNamespaceType::Pid if user_by_path => {
                        return Err(Error::config(
                            format!("linux.namespaces[{i}]"),
                            "a new pid namespace together with a user namespace joined by \
                             path is not supported",
                        ))
                    }
                    _ if user_by_path => plan.child_unshare |= flag(t),
                    _ => plan.clone_flags |= t as u64,
                },
            }
            match (t, ns.path().is_none()) {
                (LinuxNamespaceType::User, true) => plan.new_user = true,
                (LinuxNamespaceType::Network, true) => plan.new_net = true,
                _ => {}
            }
        }
        // Without a mount namespace the container would change the host's mounts.
        if !list.iter().any(|n| n.typ() == LinuxNamespaceType::Mount) {
            return Err(Error::config(
                "linux.namespaces",
                "hull needs a mount namespace (type \"mount\")",
            ));
        }
        Ok(plan)
    }

    /// Enters the parent-side namespaces (joins and a new time namespace) for the
    /// duration of `clone3`; [`Restore::leave`] goes back. On failure, hull is back in
    /// its own namespaces before the error returns: the caller's clean-up works on
    /// host paths, which a joined mount namespace would hide.
    pub fn enter_for_clone(&self, linux: &Linux) -> Result<Restore> {
        let joins_mount = self
            .parent_joins
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::Mount);
        let cwd = if joins_mount {
            Some(OwnedFd::from(
                fs::File::open(".").ctx(|| "open the working directory".into())?,
            ))
        } else {
            None
        };
        // Every way back is opened before the first setns: in a joined mount namespace
        // /proc is another pid namespace's, where /proc/self does not name hull.
        let mut own = Vec::new();
        for (t, _) in &self.parent_joins {
            own.push(open_ns(
                &Path::new("/proc/self/ns").join(proc_name(*t)),
                *t,
            )?);
        }
        let own_time = if self.new_time {
            Some(open_ns(
                Path::new("/proc/self/ns/time"),
                LinuxNamespaceType::Time,
            )?)
        } else {
            None
        };
        // The offsets file too: written once the time namespace is unshared, it
        // applies to the namespace hull's children will get, whatever /proc is then.
        let offsets = match (self.new_time, linux.time_offsets()) {
            (true, Some(_)) => Some(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/proc/self/timens_offsets")
                    .ctx(|| "open /proc/self/timens_offsets".into())?,
            ),
            _ => None,
        };
        let mut restore = Restore {
            saved: Vec::new(),
            cwd,
        };
        let entered = self.enter(linux, own, own_time, offsets, &mut restore);
        if let Err(e) = entered {
            let _ = restore.leave();
            return Err(e);
        }
        Ok(restore)
    }

    /// The setns and unshare calls of [`Plan::enter_for_clone`]; each namespace left is
    /// recorded in `restore` as soon as it is.
    fn enter(
        &self,
        linux: &Linux,
        own: Vec<OwnedFd>,
        own_time: Option<OwnedFd>,
        offsets: Option<fs::File>,
        restore: &mut Restore,
    ) -> Result<()> {
        for ((t, fd), own) in self.parent_joins.iter().zip(own) {
            nix::sched::setns(fd.as_fd(), flag(*t))
                .ctx(|| format!("join the {} namespace", proc_name(*t)))?;
            restore.saved.push((*t, own));
        }
        if let Some(own) = own_time {
            nix::sched::unshare(flag(LinuxNamespaceType::Time))
                .ctx(|| "unshare the time namespace".into())?;
            restore.saved.push((LinuxNamespaceType::Time, own));
            if let Some(file) = offsets {
                write_time_offsets(linux, file)?;
            }
        }
        Ok(())
    }
}

/// The parent's own namespaces, to go back to after `clone3`.
pub struct Restore {
    saved: Vec<(LinuxNamespaceType, OwnedFd)>,
    cwd: Option<OwnedFd>,
}

impl Restore {
    /// Goes back to every saved namespace, even after one fails; returns the first
    /// failure.
    pub fn leave(self) -> Result<()> {
        let mut first_err = None;
        for (t, fd) in self.saved.iter().rev() {
            let back = nix::sched::setns(fd.as_fd(), flag(*t))
                .ctx(|| format!("return to hull's own {} namespace", proc_name(*t)));
            if let Err(e) = back {
                first_err.get_or_insert(e);
            }
        }
        if let Some(cwd) = &self.cwd {
            let back = nix::unistd::fchdir(cwd).ctx(|| "return to the working directory".into());
            if let Err(e) = back {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Opens the namespace file `path` and checks that it is a namespace of type `t`:
/// `setns` would only say EINVAL, long after the container's state and cgroups exist.
fn open_ns(path: &Path, t: LinuxNamespaceType) -> Result<OwnedFd> {
    let f = fs::File::open(path)
        .ctx(|| format!("open {} namespace {}", proc_name(t), path.display()))?;
    // A namespace file, even one bind-mounted elsewhere (`ip netns`), reads as
    // `net:[4026531840]` through its descriptor; any other file reads as its path.
    let fd_link = Path::new("/proc/self/fd").join(f.as_raw_fd().to_string());
    let what = fs::read_link(&fd_link).ctx(|| format!("readlink {}", fd_link.display()))?;
    let what = what.to_string_lossy();
    if !what.starts_with(&format!("{}:[", proc_name(t))) {
        return Err(Error::Usage(format!(
            "{} is not a {} namespace (it is {what})",
            path.display(),
            spec_name(t)
        )));
    }
    Ok(f.into())
}

/// Writes `/proc/self/timens_offsets` for the new time namespace of our children.
fn write_time_offsets(linux: &Linux, mut file: fs::File) -> Result<()> {
    use std::io::Write;
    let Some(offsets) = linux.time_offsets() else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        let id = match clock.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => {
                return Err(Error::config(
                    format!("linux.timeOffsets.{other}"),
                    "unknown clock (monotonic or boottime)",
                ))
            }
        };
        text.push_str(&format!(
            "{id} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    file.write_all(text.as_bytes())
        .ctx(|| "write /proc/self/timens_offsets".into())
}

/// The text of a `uid_map` / `gid_map` file.
pub fn id_map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes the child's uid and gid maps (from the parent, which has the rights to).
///
/// Without root, the kernel lets a user map only their own uid and gid, one id each,
/// and only after `setgroups` is denied in the namespace (else a user could drop a
/// group that restricts them); anything more goes through the setuid helpers
/// `newuidmap` / `newgidmap`, which check /etc/subuid and /etc/subgid.
pub fn write_id_maps(pid: i32, linux: &Linux) -> Result<()> {
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let own_only = |maps: &[LinuxIdMapping], id: u32| {
        maps.len() == 1 && maps[0].host_id() == id && maps[0].size() == 1
    };
    for (file, maps, own, helper) in [
        ("uid_map", linux.uid_mappings(), euid, "newuidmap"),
        ("gid_map", linux.gid_mappings(), egid, "newgidmap"),
    ] {
        let Some(maps) = maps else { continue };
        let path = format!("/proc/{pid}/{file}");
        if euid == 0 || own_only(maps, own) {
            if euid != 0 && file == "gid_map" {
                let sg = format!("/proc/{pid}/setgroups");
                fs::write(&sg, "deny").ctx(|| format!("write {sg}"))?;
            }
            fs::write(&path, id_map_text(maps)).ctx(|| format!("write {path}"))?;
            continue;
        }
        let mut cmd = std::process::Command::new(helper);
        cmd.arg(pid.to_string());
        for m in maps {
            cmd.args([m.container_id(), m.host_id(), m.size()].map(|v| v.to_string()));
        }
        let out = cmd.output().map_err(|e| {
            Error::Usage(format!(
                "{helper} (from the uidmap package) is needed for these mappings: {e}"
            ))
        })?;
        if !out.status.success() {
            return Err(Error::Usage(format!(
                "{helper}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn id_map_lines() {
        let maps = vec![
            LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(100000u32)
                .size(65536u32)
                .build()
                .unwrap(),
            LinuxIdMappingBuilder::default()
                .container_id(65536u32)
                .host_id(5u32)
                .size(1u32)
                .build()
                .unwrap(),
        ];
        assert_eq!(id_map_text(&maps), "0 100000 65536\n65536 5 1\n");
    }

    #[test]
    fn a_namespace_file_must_be_of_its_type() {
        assert!(open_ns(Path::new("/proc/self/ns/uts"), LinuxNamespaceType::Uts).is_ok());
        assert!(open_ns(
            Path::new("/proc/self/ns/pid_for_children"),
            LinuxNamespaceType::Pid
        )
        .is_ok());
        let err = open_ns(Path::new("/proc/self/ns/uts"), LinuxNamespaceType::Network)
            .expect_err("a uts namespace is not a network one")
            .to_string();
        assert!(err.contains("not a network namespace"), "{err}");
        assert!(open_ns(Path::new("/proc/self/status"), LinuxNamespaceType::Uts).is_err());
    }

    #[test]
    fn namespace_types_are_clone_flags() {
        assert_eq!(flag(LinuxNamespaceType::Network), CloneFlags::CLONE_NEWNET);
        assert_eq!(flag(LinuxNamespaceType::User), CloneFlags::CLONE_NEWUSER);
        assert_eq!(LinuxNamespaceType::Time as i32, libc::CLONE_NEWTIME);
    }
}
