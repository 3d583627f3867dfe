//! Loading and validating a bundle's `config.json`.
//!
//! Owns: turning the file into `oci_spec::runtime::Spec` with errors that name the JSON
//! path of the bad field, and every check that can be made before the system is touched.
//! Must never: create, mount or write anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// The runtime-spec version hull implements.
pub const OCI_VERSION: &str = "1.3.0";

/// runc's default `config.json` (from `runc spec`), with hull's hostname.
const DEFAULT_SPEC: &str = include_str!("spec_default.json");

/// A validated bundle: the spec and the absolute paths it refers to.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// Reads `<dir>/config.json` and validates it.
pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| Error::Usage(format!("bundle {}: {e}", dir.display())))?;
    let file = dir.join("config.json");
    let text = std::fs::read(&file).map_err(|e| Error::Config {
        file: file.display().to_string(),
        path: "$".into(),
        msg: e.to_string(),
    })?;
    let spec = parse(&text)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::config("root", "missing: the spec requires root.path"))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| Error::config("root.path", format!("rootfs {}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(Error::config(
            "root.path",
            format!("rootfs {} is not a directory", rootfs.display()),
        ));
    }
    validate(&spec)?;
    Ok(Bundle { dir, rootfs, spec })
}

/// Parses config.json text; a type error names the JSON path of the field.
pub fn parse(text: &[u8]) -> Result<Spec> {
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Error::config(
            if path == "." { "$".into() } else { path },
            inner.to_string(),
        )
    })
}

/// The checks that do not need the file system.
pub fn validate(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config("process", "missing: hull needs a process to run"))?;
    match process.args() {
        Some(args) if !args.is_empty() => {}
        _ => {
            return Err(Error::config(
                "process.args",
                "must have at least one entry",
            ))
        }
    }
    if !process.cwd().is_absolute() {
        return Err(Error::config(
            "process.cwd",
            format!("{} is not an absolute path", process.cwd().display()),
        ));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(Error::config(
                format!("mounts[{i}].destination"),
                format!("{} is not an absolute path", m.destination().display()),
            ));
        }
    }
    if let Some(linux) = spec.linux() {
        let mut seen = HashSet::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if !seen.insert(ns.typ()) {
                return Err(Error::config(
                    format!("linux.namespaces[{i}].type"),
                    format!("namespace {} given twice", ns.typ()),
                ));
            }
            if let Some(p) = ns.path() {
                if !p.is_absolute() {
                    return Err(Error::config(
                        format!("linux.namespaces[{i}].path"),
                        format!("{} is not an absolute path", p.display()),
                    ));
                }
            }
        }
        let has = |t| seen.contains(&t);
        let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        let user_new = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
        if user_new && !maps {
            return Err(Error::config(
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
        for (field, maps) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            let list: &[oci_spec::runtime::LinuxIdMapping] = maps.as_deref().unwrap_or_default();
            for (i, m) in list.iter().enumerate() {
                if m.size() == 0 {
                    return Err(Error::config(format!("{field}[{i}].size"), "must not be 0"));
                }
                // The kernel refuses overlapping ranges, on either side of the map.
                let end = |start: u32| u64::from(start) + u64::from(m.size());
                for (j, o) in list[..i].iter().enumerate() {
                    let o_end = |start: u32| u64::from(start) + u64::from(o.size());
                    let overlap = |a: u32, b: u32| u64::from(a) < o_end(b) && u64::from(b) < end(a);
                    if overlap(m.container_id(), o.container_id())
                        || overlap(m.host_id(), o.host_id())
                    {
                        return Err(Error::config(
                            format!("{field}[{i}]"),
                            format!("overlaps {field}[{j}]"),
                        ));
                    }
                }
            }
        }
        if (spec.hostname().is_some() || spec.domainname().is_some())
            && !has(LinuxNamespaceType::Uts)
        {
            return Err(Error::config(
                "hostname",
                "setting the hostname needs a new uts namespace",
            ));
        }
        if linux.time_offsets().is_some() && !has(LinuxNamespaceType::Time) {
            return Err(Error::config(
                "linux.timeOffsets",
                "time offsets need a time namespace",
            ));
        }
        if let Some(sysctl) = linux.sysctl() {
            for key in sysctl.keys() {
                // As a path under /proc/sys (dots are separators): no empty, `.` or
                // `..` component, so nothing names a file outside it.
                let rel = key.replace('.', "/");
                let bad = rel
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == "..");
                if bad || key.contains('\0') {
                    return Err(Error::config(
                        format!("linux.sysctl.{key}"),
                        "not a valid sysctl name",
                    ));
                }
            }
        }
    } else {
        return Err(Error::config(
            "linux",
            "missing: hull runs Linux containers",
        ));
    }
    Ok(())
}

/// runc's default spec as hull writes it for `hull spec`.
pub fn default_spec_json(rootless: bool) -> Result<String> {
    let mut v: serde_json::Value =
        serde_json::from_str(DEFAULT_SPEC).map_err(|e| Error::Usage(e.to_string()))?;
    // runc gives containers a cgroup namespace by default on a pure cgroup v2 host.
    if crate::cgroups::layout() == crate::cgroups::Layout::Unified {
        if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
            ns.push(serde_json::json!({"type": "cgroup"}));
        }
    }
    if rootless {
        make_rootless(&mut v);
    }
    // runc indents with tabs.
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&v, &mut ser).map_err(|e| Error::Usage(e.to_string()))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The changes `runc spec --rootless` makes to the default spec.
fn make_rootless(v: &mut serde_json::Value) {
    use serde_json::json;
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    if let Some(mounts) = v["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            match m["destination"].as_str() {
                Some("/dev/pts") => {
                    if let Some(opts) = m["options"].as_array_mut() {
                        opts.retain(|o| o != "gid=5");
                    }
                }
                Some("/sys") => {
                    *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
                }
                _ => {}
            }
        }
    }
    let linux = &mut v["linux"];
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
        obj.insert(
            "uidMappings".into(),
            json!([{"containerID": 0, "hostID": uid, "size": 1}]),
        );
        obj.insert(
            "gidMappings".into(),
            json!([{"containerID": 0, "hostID": gid, "size": 1}]),
        );
    }
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        for rootless in [false, true] {
            let text = default_spec_json(rootless).unwrap();
            let spec = parse(text.as_bytes()).unwrap();
            validate(&spec).unwrap();
        }
    }

    #[test]
    fn type_error_names_json_path() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        v["linux"]["namespaces"][1]["type"] = "bogus".into();
        let err = parse(v.to_string().as_bytes()).unwrap_err().to_string();
        assert!(err.contains("linux.namespaces[1].type"), "{err}");
        v = serde_json::from_str(DEFAULT_SPEC).unwrap();
        v["process"]["user"]["uid"] = "root".into();
        let err = parse(v.to_string().as_bytes()).unwrap_err().to_string();
        assert!(err.contains("process.user.uid"), "{err}");
    }

    #[test]
    fn duplicate_namespace_is_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "pid"}));
        let spec = parse(v.to_string().as_bytes()).unwrap();
        let err = validate(&spec).unwrap_err().to_string();
        assert!(err.contains("linux.namespaces[5].type"), "{err}");
    }

    #[test]
    fn user_namespace_without_mappings_is_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        let spec = parse(v.to_string().as_bytes()).unwrap();
        assert!(validate(&spec)
            .unwrap_err()
            .to_string()
            .contains("uidMappings"));
    }

    #[test]
    fn overlapping_id_mappings_are_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
        v["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 10},
            {"containerID": 10, "hostID": 1005, "size": 10}
        ]);
        let spec = parse(v.to_string().as_bytes()).unwrap();
        let err = validate(&spec).unwrap_err().to_string();
        assert!(
            err.contains("linux.uidMappings[1]") && err.contains("overlaps"),
            "{err}"
        );
        v["linux"]["uidMappings"][1]["hostID"] = 2000.into();
        validate(&parse(v.to_string().as_bytes()).unwrap()).unwrap();
    }

    #[test]
    fn empty_args_are_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        v["process"]["args"] = serde_json::json!([]);
        let spec = parse(v.to_string().as_bytes()).unwrap();
        assert!(validate(&spec)
            .unwrap_err()
            .to_string()
            .contains("process.args"));
    }
}
