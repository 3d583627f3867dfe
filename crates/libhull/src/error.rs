//! The error type every public libhull call returns.
//!
//! Each variant carries a sentence a user can act on: what was being done and, for a
//! system call, the errno. The CLI prints `Display` as the one line on stderr.

use std::io;

/// Result of a libhull call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json is missing, malformed or invalid; `path` is the JSON path.
    #[error("{file}: {path}: {msg}")]
    Config {
        file: String,
        path: String,
        msg: String,
    },
    /// Something the user asked for on the command line is not valid.
    #[error("{0}")]
    Usage(String),
    /// A container id that does not exist under the state root.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A container id already in use under the state root.
    #[error("container {0} already exists")]
    Exists(String),
    /// An operation not allowed in the container's current status.
    #[error("{0}")]
    Status(String),
    /// A system call failed while doing `what`.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The container's init reported an error during set-up.
    #[error("{0}")]
    Init(String),
    /// A hook failed.
    #[error("{0}")]
    Hook(String),
}

impl Error {
    /// An error from the kernel, with the sentence that says what was being done.
    pub fn sys(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Sys {
            what: what.into(),
            source: source.into(),
        }
    }

    /// A config error at a JSON path of config.json.
    pub fn config(path: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config {
            file: "config.json".into(),
            path: path.into(),
            msg: msg.into(),
        }
    }
}

/// Attach a sentence to an `io::Result` / `nix::Result`.
pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, io::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), e))
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), io::Error::from_raw_os_error(e as i32)))
    }
}
