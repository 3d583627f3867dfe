//! The list index: `<root>/@index`, one line for every save of a container's state,
//! so that `list` reads one file where it would otherwise open one per container.
//!
//! Owns: the index's format, appending to it, reading it back, and building it anew
//! from the state files. Must never: be read by any command but `list`, or believed
//! for a container where it could differ from that container's `state.json`.
//!
//! Why `list` may believe it:
//! - A save appends its record *before* `state.json` is renamed into place, under a
//!   shared lock of the root held until the rename is done. The index is therefore
//!   never behind a state file, and ahead of one only by the save in flight, whose
//!   record names a transition that has already happened (the init is set up,
//!   released, frozen or thawed before its status is saved).
//! - A record names the inode of its container's directory. `list` takes it only for
//!   the directory that the root shows under that name with that inode, so the record
//!   of a deleted container never passes for a new one of the same name. A new
//!   directory is recorded (as one without a state yet) as soon as it is made, before
//!   its lock is let go: should a directory have been removed by hand, without its
//!   last record, and the file system give its inode number to the new one, the old
//!   record is no longer the latest.
//! - A directory without a usable record (made by an older hull, a create killed
//!   before its first save, an index that could not be appended to) is read from its
//!   own state file, as if there were no index.
//! - Building the index anew takes the root's exclusive lock, so that no save is half
//!   done meanwhile, and reads the state files themselves.
//!
//! Deleted containers leave a line each; the index is built anew once it is more
//! than twice the size it had when last built (and at least [`GROWN`]), so that its
//! size follows the number of containers, not the number of saves.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::state::Summary;

/// The index's name in the root: `@` is not allowed in a container id, so it can
/// never be a container's directory.
pub(crate) const INDEX: &str = "@index";
const TMP: &str = "@index.tmp";
/// The format of the first line.
const VERSION: u32 = 1;
/// Below this size the index is never rebuilt for its size.
const GROWN: u64 = 64 * 1024;

/// The first line: the format, and the size the index had when it was built.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    hull_index: u32,
    built: u64,
}

/// The latest record of a container, by id, as [`latest`] gives it.
pub(crate) struct Entry<'a> {
    /// The inode of the container's directory.
    pub dir: u64,
    /// The uid owning the directory, which `list` names as the owner.
    pub uid: u32,
    /// The [`Summary`] as JSON, parsed only when it is used; `None`: the container
    /// has no state yet, or is being deleted.
    pub summary: Option<&'a [u8]>,
}

/// The contents of the index of the root open as `root`; empty when there is none.
pub(crate) fn read(root: BorrowedFd<'_>) -> Vec<u8> {
    let Ok(fd) = crate::sys::openat2(
        root,
        Path::new(INDEX),
        libc::O_RDONLY,
        0,
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH,
    ) else {
        return Vec::new();
    };
    let mut text = Vec::new();
    // Sized by one `statx`: the index is tens of kilobytes, not worth reading by
    // doubling guesses.
    match fs::File::from(fd).read_to_end(&mut text) {
        Ok(_) => text,
        Err(_) => Vec::new(),
    }
}

/// The latest record of each id in `text`, the index of the root open as `root`:
/// empty when there is no index, or when it cannot be believed (a line that does not
/// parse, another format), which is then removed so that the next save builds it
/// anew. A last line without its newline is a save being appended right now and is
/// left out: until its `state.json` is renamed, the record before it is still true.
pub(crate) fn latest<'a>(root: BorrowedFd<'_>, text: &'a [u8]) -> HashMap<&'a str, Entry<'a>> {
    if text.is_empty() {
        return HashMap::new();
    }
    parse(text).unwrap_or_else(|| {
        // A removal that misses (for want of permission), or that removes an index
        // just built, costs only time.
        let _ = nix::unistd::unlinkat(root, INDEX, nix::unistd::UnlinkatFlags::NoRemoveDir);
        HashMap::new()
    })
}

/// [`latest`] of a whole index.
fn parse(text: &[u8]) -> Option<HashMap<&str, Entry<'_>>> {
    let mut lines = text.split_inclusive(|b| *b == b'\n');
    let header: Header = serde_json::from_slice(lines.next()?).ok()?;
    if header.hull_index != VERSION {
        return None;
    }
    let mut latest = HashMap::new();
    for line in lines {
        let Some(line) = line.strip_suffix(b"\n") else {
            break;
        };
        let (id, entry) = split(line)?;
        latest.insert(id, entry);
    }
    Some(latest)
}

/// One record as [`line`] writes it, taken apart without parsing its summary: `list`
/// parses one summary per container, not one per save.
fn split(line: &[u8]) -> Option<(&str, Entry<'_>)> {
    let rest = line.strip_prefix(b"{\"id\":\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    let id = std::str::from_utf8(&rest[..end]).ok()?;
    crate::state::validate_id(id).ok()?;
    let rest = rest[end..].strip_prefix(b"\",\"dir\":")?;
    let (dir, rest) = number(rest)?;
    let rest = rest.strip_prefix(b",\"uid\":")?;
    let (uid, rest) = number(rest)?;
    let summary = match rest {
        b"}" => None,
        _ => Some(rest.strip_prefix(b",\"summary\":")?.strip_suffix(b"}")?),
    };
    let uid = u32::try_from(uid).ok()?;
    Some((id, Entry { dir, uid, summary }))
}

/// The decimal number `text` begins with, and what follows it.
fn number(text: &[u8]) -> Option<(u64, &[u8])> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = std::str::from_utf8(&text[..digits]).ok()?.parse().ok()?;
    Some((n, &text[digits..]))
}

/// The record of container `id` (a valid id: nothing in it needs escaping) whose
/// directory has inode `dir` and owner `uid`, with its summary if it has one.
fn line(id: &str, dir: u64, uid: u32, summary: Option<&Summary>) -> Vec<u8> {
    let mut line = format!("{{\"id\":\"{id}\",\"dir\":{dir},\"uid\":{uid}").into_bytes();
    if let Some(summary) = summary {
        line.extend_from_slice(b",\"summary\":");
        // A summary always serialises: strings, numbers and a map of strings.
        let _ = serde_json::to_writer(&mut line, summary);
    }
    line.extend_from_slice(b"}\n");
    line
}

/// A save in progress: the root's lock, shared with every other save and held until
/// the save is done, and the index opened for appending.
pub(crate) struct Writer {
    /// The root directory, locked shared (exclusive while the index is built).
    root: OwnedFd,
    /// Its path, which errors name.
    path: std::path::PathBuf,
    /// The index; `None` when there is none.
    file: Option<fs::File>,
    /// The index is to be built anew when the save is done.
    rebuild: bool,
}

impl Writer {
    /// Takes the shared lock of the root `dir` and opens its index for appending.
    pub fn begin(dir: &Path) -> Result<Writer> {
        let root: OwnedFd = fs::File::open(dir)
            .ctx(|| format!("open {}", dir.display()))?
            .into();
        crate::sys::flock(root.as_fd(), libc::LOCK_SH).ctx(|| format!("lock {}", dir.display()))?;
        let file = match open_index(root.as_fd()) {
            Ok(f) => Some(f),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => None,
            Err(e) => return Err(Error::sys(format!("open {}", dir.join(INDEX).display()), e)),
        };
        Ok(Writer {
            rebuild: file.is_none(),
            root,
            path: dir.to_path_buf(),
            file,
        })
    }

    /// Appends the record of container `id` (directory inode `dir`, owned by `uid`):
    /// its summary, or `None` when it is being deleted. An index that cannot take the
    /// record can no longer be believed, and is removed.
    pub fn append(
        &mut self,
        id: &str,
        dir: u64,
        uid: u32,
        summary: Option<&Summary>,
    ) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let bytes = line(id, dir, uid, summary);
        // One write: with O_APPEND, no other save's line can land inside this one.
        match file.write(&bytes) {
            Ok(n) if n == bytes.len() => {}
            _ => return self.discard(),
        }
        let size = file.stream_position().unwrap_or(0);
        if size > GROWN && size > 2 * built_size(file).unwrap_or(0) {
            self.rebuild = true;
        }
        Ok(())
    }

    /// Removes an index that has missed a record.
    fn discard(&mut self) -> Result<()> {
        self.file = None;
        match nix::unistd::unlinkat(&self.root, INDEX, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::sys(
                format!("remove the list index {INDEX}"),
                std::io::Error::from(e),
            )),
        }
    }

    /// Ends the save: builds the index anew if there was none or it has grown. A
    /// failure to build it leaves the index as it was, true if slow: `list` then reads
    /// the state files the index lacks.
    pub fn finish(self) {
        if !self.rebuild {
            return;
        }
        // Waits for the saves in flight: each holds the shared lock until its state
        // file is in place.
        if crate::sys::flock(self.root.as_fd(), libc::LOCK_EX).is_err() {
            return;
        }
        // Another save may have built it while this one waited.
        let needed = match open_index(self.root.as_fd()) {
            Ok(f) => f
                .metadata()
                .is_ok_and(|m| m.len() > GROWN && m.len() > 2 * built_size(&f).unwrap_or(0)),
            Err(_) => true,
        };
        if needed {
            if let Err(e) = build(self.root.as_fd(), &self.path) {
                crate::log::debug(&format!("the list index was not rebuilt: {e}"));
            }
        }
    }
}

fn open_index(root: BorrowedFd<'_>) -> std::io::Result<fs::File> {
    crate::sys::openat2(
        root,
        Path::new(INDEX),
        libc::O_RDWR | libc::O_APPEND,
        0,
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH,
    )
    .map(fs::File::from)
}

/// The size the index had when it was built, from its header.
fn built_size(file: &fs::File) -> Option<u64> {
    let mut head = [0u8; 64];
    let n = file.read_at(&mut head, 0).ok()?;
    let line = head[..n].split(|b| *b == b'\n').next()?;
    serde_json::from_slice::<Header>(line).ok().map(|h| h.built)
}

/// Writes the index anew from every container's state file, under the root's
/// exclusive lock. A container whose state cannot be read gets no record: `list`
/// reads its file itself and reports what is wrong with it.
fn build(root: BorrowedFd<'_>, dir_path: &Path) -> std::io::Result<()> {
    let mut lines = Vec::new();
    for crate::state::DirEntry { id, ino, .. } in crate::state::container_dirs(root)? {
        let Some(Ok((summary, uid))) = crate::state::read_summary(root, dir_path, &id) else {
            continue;
        };
        lines.extend(line(&id, ino, uid, Some(&summary)));
    }
    let mut header = Vec::new();
    // The header's own length depends on the number it holds: count it twice.
    for _ in 0..2 {
        let built = (header.len() + lines.len()) as u64;
        header = serde_json::to_vec(&Header {
            hull_index: VERSION,
            built,
        })?;
        header.push(b'\n');
    }
    let tmp = crate::sys::openat2(
        root,
        Path::new(TMP),
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        0o600,
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH,
    )?;
    let mut tmp = fs::File::from(tmp);
    header.extend_from_slice(&lines);
    tmp.write_all(&header)?;
    nix::fcntl::renameat(root, TMP, root, INDEX).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str) -> Summary {
        Summary {
            id: id.into(),
            status: crate::state::Status::Running,
            pid: 42,
            pid_start: 7,
            pid_handle: Some("1:ab".into()),
            boot_id: None,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            owner: String::new(),
            annotations: HashMap::from([("k".into(), "v\nw".into())]),
        }
    }

    fn record(id: &str, dir: u64, s: Option<&Summary>) -> Vec<u8> {
        line(id, dir, 5, s)
    }

    fn header() -> Vec<u8> {
        b"{\"hullIndex\":1,\"built\":0}\n".to_vec()
    }

    #[test]
    fn the_last_record_of_an_id_wins() {
        let (a, b) = (summary("a"), summary("b"));
        let mut text = header();
        text.extend(record("a", 1, Some(&a)));
        text.extend(record("b", 2, Some(&b)));
        text.extend(record("a", 1, None));
        text.extend(record("a", 3, Some(&a)));
        text.extend(record("b", 2, None));
        let got = parse(&text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["a"].dir, 3);
        assert_eq!(got["a"].uid, 5);
        let s: Summary = serde_json::from_slice(got["a"].summary.unwrap()).unwrap();
        assert_eq!((s.pid, s.annotations["k"].as_str()), (42, "v\nw"));
        assert!(got["b"].summary.is_none());
    }

    /// A line being appended right now is not read; any other line that does not parse
    /// makes the whole index unbelievable, since it could be any container's latest.
    #[test]
    fn a_torn_last_line_is_skipped_and_a_torn_middle_line_voids_the_index() {
        let a = summary("a");
        let mut text = header();
        text.extend(record("a", 1, Some(&a)));
        let mut torn = record("a", 1, None);
        torn.truncate(10);
        let mut at_end = text.clone();
        at_end.extend(&torn);
        assert_eq!(parse(&at_end).unwrap()["a"].dir, 1);
        let mut inside = at_end.clone();
        inside.push(b'\n');
        inside.extend(record("b", 2, None));
        assert!(parse(&inside).is_none());
    }

    #[test]
    fn another_format_or_no_header_is_not_believed() {
        let a = summary("a");
        assert!(parse(&record("a", 1, Some(&a))).is_none());
        let mut text = b"{\"hullIndex\":2,\"built\":0}\n".to_vec();
        text.extend(record("a", 1, Some(&a)));
        assert!(parse(&text).is_none());
        assert!(parse(b"").is_none());
    }
}
