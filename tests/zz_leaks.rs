//! The last integration test: the machine is as clean as before the suite ran.
//!
//! Each `Env` checks its own scope when it is dropped; this catches what escapes that
//! check: an `Env` that was never dropped (a test binary that aborted or was killed),
//! or a leak the runtime made outside any one test's scope. cargo runs a package's test
//! binaries one at a time in name order, so this file, named `zz_`, comes last.
//!
//! What belongs to a test binary that is still running (a second `cargo test` in
//! another terminal) is left alone: the owner's pid is part of every name the harness
//! makes (`hull-test-<pid>-<n>`).

mod common;

use std::fs;
use std::path::Path;

/// True for `hull-test-<pid>-…` names whose test process `<pid>` is gone.
fn left_by_a_finished_test(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(common::PREFIX) else {
        return false;
    };
    let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn no_test_leaves_processes_mounts_cgroups_or_directories_behind() {
    // Processes, mounts and cgroups: the same sweep that each Env runs on drop; here
    // even a cgroup parent counts, since each Env removes its own.
    let mut leaks = common::sweep(&left_by_a_finished_test, true);

    let tmp = std::env::temp_dir();
    let entries = fs::read_dir(&tmp).unwrap_or_else(|e| panic!("read {}: {e}", tmp.display()));
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(left_by_a_finished_test) {
            let path = entry.path();
            leaks.push(format!("directory {}", path.display()));
            if let Err(e) = fs::remove_dir_all(&path) {
                leaks.push(format!("remove {}: {e}", path.display()));
            }
        }
    }

    assert!(
        leaks.is_empty(),
        "hull's tests left things behind (all now removed, so a second run starts clean):\n  - {}",
        leaks.join("\n  - ")
    );
}
