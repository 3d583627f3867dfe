//! libhull: the hull OCI runtime as a library.
//!
//! The binary crate `hull` is only a command-line layer over this crate: every command is
//! one call into [`container`]. The modules below `container` each own one concern of the
//! kernel (namespaces, mounts, cgroups, security, hooks) and know the spec types, not
//! each other where that can be avoided.

pub mod attributes;
pub mod cgroup_devices;
pub mod cgroup_resources;
pub mod cgroup_stats;
pub mod cgroups;
pub mod container;
pub mod error;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod idmap;
mod index;
pub mod log;
pub mod namespaces;
pub mod netdev;
pub mod process;
pub mod rootfs;
pub mod sealed;
pub mod seccomp;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sync;
pub mod sys;
pub mod terminal;
pub mod time;

pub use error::{Error, Result};
