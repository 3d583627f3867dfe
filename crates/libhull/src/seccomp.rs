//! Seccomp: the system-call filter of `linux.seccomp`, built with libseccomp and loaded
//! by the container's process as late as the kernel allows before `execve`.
//!
//! Owns: turning the profile into a libseccomp filter (default action and errno,
//! architectures, flags, rules and their argument conditions), refusing a bad profile
//! with the JSON path of the bad field before anything is created, and the
//! `SCMP_ACT_NOTIFY` hand-over of the listener descriptor to the agent at
//! `listenerPath` (runtime-spec "containerProcessState").
//! Must never: load a filter before hull's own set-up is done (a profile may forbid
//! mount, pivot_root, sethostname… that hull needs, and runc loads it last too), or
//! warn from inside the container (its stderr belongs to the container: warnings are
//! given once, by `create`, before the init exists).

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use libseccomp::error::SeccompError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
    LinuxSyscall, Spec,
};
use serde_json::{json, Value};

use crate::error::{Context, Error, Result};

/// A system call has at most six arguments.
const MAX_ARGS: usize = 6;
/// What SCMP_ACT_ERRNO and SCMP_ACT_TRACE return without errnoRet (runc's default).
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;
/// The filter keeps 16 bits of an errno (`SCMP_ACT_ERRNO(x)`).
const MAX_ERRNO: u32 = u16::MAX as u32;
const CAP_SYS_ADMIN: u32 = 21;
/// libseccomp API levels: 3 brings the LOG flag and KILL_PROCESS, 4 SPEC_ALLOW, 7 the
/// wait-killable flag (libseccomp 2.6).
const API_LOG: u32 = 3;
const API_SPEC_ALLOW: u32 = 4;
const API_WAIT_KILLABLE: u32 = 7;

/// What [`prepare`] made in `create`, which the init inherits with the rest of hull's
/// memory across `clone3`: the filter, built once per container, and the connection to
/// the agent at `listenerPath` (once the init has pivoted into the rootfs it cannot
/// reach a path of the host, and the notify descriptor exists only after the load).
struct Prepared {
    /// The address of the profile it was built from, so that it is never taken for
    /// another one.
    profile: usize,
    ctx: ScmpFilterContext,
    conn: Option<UnixStream>,
}

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

/// Every action of the runtime-spec, as `features` lists them.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Every argument operator of the runtime-spec.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Every filter flag of the runtime-spec; [`supported_flags`] says which this host has.
pub const KNOWN_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Every architecture of the runtime-spec but "native"; [`supported_archs`] says which
/// the libseccomp hull runs with knows.
const ARCHS: &[Arch] = &[
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

/// The spec's seccomp profile, if it has one.
pub fn config(spec: &Spec) -> Option<&LinuxSeccomp> {
    spec.linux().as_ref()?.seccomp().as_ref()
}

/// Checks `linux.seccomp` by building its filter once (nothing is loaded); warns of
/// each system call name libseccomp does not know, which is skipped as runc does.
pub fn validate(spec: &Spec) -> Result<()> {
    if let Some(cfg) = config(spec) {
        build(cfg, true)?;
    }
    Ok(())
}

/// `create`'s seccomp step, before anything exists: builds the filter as [`validate`]
/// does and, for a profile with SCMP_ACT_NOTIFY, connects to `listenerPath` (a
/// listener that is not there fails `create` here); both are kept for the init.
pub fn prepare(spec: &Spec) -> Result<()> {
    let prepared = match config(spec) {
        None => None,
        Some(cfg) => Some(Prepared {
            profile: std::ptr::from_ref(cfg) as usize,
            ctx: build(cfg, true)?,
            conn: uses_notify(cfg).then(|| connect(cfg)).transpose()?,
        }),
    };
    PREPARED.with(|p| *p.borrow_mut() = prepared);
    Ok(())
}

/// A filter built and ready to load, and where its notify descriptor goes.
pub struct Filter {
    ctx: ScmpFilterContext,
    notify: Option<Notify>,
}

/// The agent's connection and the containerProcessState sent on it with the descriptor.
struct Notify {
    conn: UnixStream,
    message: String,
}

impl Filter {
    /// The init's filter: the one [`prepare`] built before `clone3` (built anew if it
    /// was not called), with the listener connection it made. `state` is the state
    /// JSON the parent gave the init for its hooks (its `pid` is the init's in hull's
    /// pid namespace).
    pub fn for_init(spec: &Spec, state: &str) -> Result<Option<Filter>> {
        let Some(cfg) = config(spec) else {
            return Ok(None);
        };
        let prepared = PREPARED
            .with(|p| p.borrow_mut().take())
            .filter(|p| p.profile == std::ptr::from_ref(cfg) as usize);
        let (ctx, conn) = match prepared {
            Some(p) => (p.ctx, p.conn),
            None => (build(cfg, false)?, None),
        };
        let notify = if uses_notify(cfg) {
            let conn = conn.ok_or_else(|| {
                Error::Init("seccomp: no connection to linux.seccomp.listenerPath".into())
            })?;
            let mut state: Value = serde_json::from_str(state)
                .map_err(|e| Error::Init(format!("seccomp: container state: {e}")))?;
            // The process runs from now on: `hull start` has consumed the exec fifo.
            state["status"] = "running".into();
            let pid = state["pid"].as_i64().unwrap_or(0);
            Some(Notify {
                conn,
                message: process_state(cfg, pid, state),
            })
        } else {
            None
        };
        Ok(Some(Filter { ctx, notify }))
    }

    /// The filter of a process `exec` starts: the container's. Called in the exec child
    /// right after `clone3`, while it still sees hull's mounts: `listenerPath` is a path
    /// of the host, and `/proc/self` names the child as hull sees it. `state` is the
    /// container's state (its `pid` the init's), as runc sends it for exec.
    pub fn for_exec(cfg: Option<&LinuxSeccomp>, state: Value) -> Result<Option<Filter>> {
        let Some(cfg) = cfg else {
            return Ok(None);
        };
        let ctx = build(cfg, false)?;
        let notify = if uses_notify(cfg) {
            let pid: i64 = std::fs::read_link("/proc/self")
                .ctx(|| "readlink /proc/self".into())?
                .to_string_lossy()
                .parse()
                .map_err(|_| Error::Init("seccomp: /proc/self is not a pid".into()))?;
            Some(Notify {
                conn: connect(cfg)?,
                message: process_state(cfg, pid, state),
            })
        } else {
            None
        };
        Ok(Some(Filter { ctx, notify }))
    }

    /// Whether loading needs CAP_SYS_ADMIN, so the filter must go in before the process
    /// drops its privileges: the kernel accepts a filter from a process that has
    /// no_new_privs or CAP_SYS_ADMIN, and hull leaves no_new_privs to the spec (runc and
    /// crun load early in this case too). `effective` is the process's final set.
    pub fn needs_privilege(&self, no_new_privs: bool, effective: u64) -> bool {
        !no_new_privs && effective & (1 << CAP_SYS_ADMIN) == 0
    }

    /// Loads the filter into the calling process (every system call from here on goes
    /// through it) and hands a notify descriptor to the agent, then closes both.
    pub fn load(self) -> Result<()> {
        self.ctx
            .load()
            .map_err(|e| libseccomp_error("load the seccomp filter", e))?;
        if let Some(n) = self.notify {
            let fd = crate::sys::seccomp_notify_fd(&self.ctx)
                .map_err(|e| libseccomp_error("get the seccomp notify descriptor", e))?;
            send_with_fd(n.conn.as_fd(), n.message.as_bytes(), fd.as_fd())?;
            // The agent sees the end of the connection even where another process
            // still holds a copy of it (a foreground `run`'s parent).
            let _ = n.conn.shutdown(Shutdown::Both);
        }
        Ok(())
    }
}

/// Builds the filter of a profile. `warn`: say which system call names are skipped.
fn build(cfg: &LinuxSeccomp, warn: bool) -> Result<ScmpFilterContext> {
    const P: &str = "linux.seccomp";
    let default = action(
        cfg.default_action(),
        cfg.default_errno_ret(),
        &format!("{P}.defaultErrnoRet"),
    )?;
    if default == ScmpAction::Notify {
        // Every system call of hull's between the load and execve would wait for an
        // agent that has not got the descriptor yet (runc refuses it too).
        return Err(Error::config(
            format!("{P}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    let mut ctx = ScmpFilterContext::new(default)
        .map_err(|e| Error::config(format!("{P}.defaultAction"), e.to_string()))?;
    // no_new_privs is the spec's `process.noNewPrivileges`, not libseccomp's to set;
    // and a failed load should carry the kernel's errno.
    ctx.set_ctl_nnp(false)
        .and_then(|c| c.set_api_sysrawrc(true))
        .map_err(|e| Error::Init(format!("seccomp: {e}")))?;

    for (i, &arch) in cfg.architectures().iter().flatten().enumerate() {
        let path = format!("{P}.architectures[{i}]");
        let a = scmp_arch(arch);
        // The native architecture is in every new filter already.
        if ctx.is_arch_present(a).unwrap_or(false) {
            continue;
        }
        ctx.add_arch(a).map_err(|e| {
            Error::config(
                path,
                format!(
                    "{}: not supported by libseccomp {}: {e}",
                    name_of(&arch),
                    version()
                ),
            )
        })?;
    }

    for (i, flag) in cfg.flags().iter().flatten().enumerate() {
        let path = format!("{P}.flags[{i}]");
        let unsupported = |e: SeccompError| {
            Error::config(
                path.clone(),
                format!("{} is not supported here: {e}", name_of(flag)),
            )
        };
        match flag {
            // hull is single-threaded: every thread already gets the filter (runc too
            // takes the flag and does nothing).
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {}
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => {
                ctx.set_ctl_log(true).map_err(unsupported)?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                ctx.set_ctl_ssb(true).map_err(unsupported)?;
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                ctx.set_ctl_waitkill(true).map_err(unsupported)?;
            }
        }
    }

    let notify_without_listener = cfg
        .listener_path()
        .as_ref()
        .is_none_or(|p| p.as_os_str().is_empty());
    let mut unknown = Vec::new();
    for (i, call) in cfg.syscalls().iter().flatten().enumerate() {
        let path = format!("{P}.syscalls[{i}]");
        add_rules(
            &mut ctx,
            call,
            &path,
            default,
            notify_without_listener,
            &mut unknown,
        )?;
    }
    if warn && !unknown.is_empty() {
        crate::log::warn(&format!(
            "{P}: system calls unknown to libseccomp {} skipped: {}",
            version(),
            unknown.join(", ")
        ));
    }
    Ok(ctx)
}

/// The rules of one entry of `syscalls`, one per name libseccomp knows; the others go
/// to `unknown`.
fn add_rules(
    ctx: &mut ScmpFilterContext,
    call: &LinuxSyscall,
    path: &str,
    default: ScmpAction,
    notify_without_listener: bool,
    unknown: &mut Vec<String>,
) -> Result<()> {
    let act = action(call.action(), call.errno_ret(), &format!("{path}.errnoRet"))?;
    if call.names().is_empty() {
        return Err(Error::config(
            format!("{path}.names"),
            "must have at least one entry",
        ));
    }
    if act == ScmpAction::Notify {
        if notify_without_listener {
            return Err(Error::config(
                format!("{path}.action"),
                "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
            ));
        }
        // hull sends the descriptor with sendmsg after the load: it would wait forever
        // for the agent that is to receive it.
        if call.names().iter().any(|n| n == "sendmsg") {
            return Err(Error::config(
                format!("{path}.action"),
                "SCMP_ACT_NOTIFY cannot be used for sendmsg (hull sends the notify descriptor with it)",
            ));
        }
    }
    let mut conds = Vec::new();
    for (j, arg) in call.args().iter().flatten().enumerate() {
        if arg.index() >= MAX_ARGS {
            return Err(Error::config(
                format!("{path}.args[{j}].index"),
                format!("{} is not an argument index (0 to 5)", arg.index()),
            ));
        }
        let op = match arg.op() {
            LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
            LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
            LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
            LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
            LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
            LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
            // (arg & value) == valueTwo, as runc and libseccomp read it.
            LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
        };
        let datum = match op {
            ScmpCompareOp::MaskedEqual(_) => arg.value_two().unwrap_or(0),
            _ => arg.value(),
        };
        conds.push(ScmpArgCompare::new(arg.index() as u32, op, datum));
    }
    if act == default {
        // The rule would change nothing, and libseccomp refuses it (runc skips it too).
        return Ok(());
    }
    // Conditions on different arguments must all hold; several on one argument are
    // alternatives, each a rule of its own, as runc does (Docker's profile allows
    // `personality` for a list of values this way).
    let mut seen = [0usize; MAX_ARGS];
    for c in call.args().iter().flatten() {
        seen[c.index()] += 1;
    }
    let alternatives = seen.iter().any(|&n| n > 1);
    for name in call.names() {
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            if !unknown.contains(name) {
                unknown.push(name.clone());
            }
            continue;
        };
        let added = if alternatives {
            conds
                .iter()
                .try_for_each(|c| ctx.add_rule_conditional(act, nr, &[*c]).map(|_| ()))
        } else {
            ctx.add_rule_conditional(act, nr, &conds).map(|_| ())
        };
        added.map_err(|e| Error::config(path, format!("rule for {name:?}: {e}")))?;
    }
    Ok(())
}

/// The libseccomp action of a spec action; `errno` only for ERRNO and TRACE, as the
/// runtime-spec requires, EPERM when absent (runc).
fn action(a: LinuxSeccompAction, errno: Option<u32>, errno_path: &str) -> Result<ScmpAction> {
    let ret = || -> Result<u32> {
        let e = errno.unwrap_or(DEFAULT_ERRNO);
        if e > MAX_ERRNO {
            return Err(Error::config(
                errno_path,
                format!("{e} does not fit in a seccomp filter (at most {MAX_ERRNO})"),
            ));
        }
        Ok(e)
    };
    let act = match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret()? as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret()? as u16),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    };
    let takes_errno = matches!(
        a,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    );
    if errno.is_some() && !takes_errno {
        return Err(Error::config(
            errno_path,
            format!(
                "{} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)",
                name_of(&a)
            ),
        ));
    }
    Ok(act)
}

fn scmp_arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The JSON name of a spec enum value (`SCMP_ACT_KILL`, `SCMP_ARCH_X86`, …).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => "?".into(),
    }
}

fn version() -> String {
    libseccomp::ScmpVersion::current()
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn uses_notify(cfg: &LinuxSeccomp) -> bool {
    cfg.syscalls()
        .iter()
        .flatten()
        .any(|c| c.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Connects to the agent's socket (SOCK_STREAM, as the runtime-spec requires).
fn connect(cfg: &LinuxSeccomp) -> Result<UnixStream> {
    let path = cfg.listener_path().as_deref().unwrap_or(Path::new(""));
    UnixStream::connect(path).map_err(|e| {
        Error::config(
            "linux.seccomp.listenerPath",
            format!("connect to {}: {e}", path.display()),
        )
    })
}

/// The runtime-spec's containerProcessState: what the agent receives with the fd.
fn process_state(cfg: &LinuxSeccomp, pid: i64, state: Value) -> String {
    let mut v = json!({
        "ociVersion": crate::spec::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = cfg.listener_metadata().as_deref().filter(|m| !m.is_empty()) {
        v["metadata"] = m.into();
    }
    v.to_string()
}

/// Sends `payload` with `fd` attached (SCM_RIGHTS) in one message, then the rest of
/// the payload if the stream took only part of it.
fn send_with_fd(sock: BorrowedFd<'_>, payload: &[u8], fd: BorrowedFd<'_>) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let what = || "send the seccomp notify descriptor to linux.seccomp.listenerPath".to_string();
    let mut sent = sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(payload)],
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .ctx(what)?;
    while sent < payload.len() {
        sent += nix::sys::socket::send(sock.as_raw_fd(), &payload[sent..], MsgFlags::MSG_NOSIGNAL)
            .ctx(what)?;
    }
    Ok(())
}

fn libseccomp_error(what: &str, e: SeccompError) -> Error {
    match e.sysrawrc() {
        Some(rc) if rc < 0 => Error::sys(what, io::Error::from_raw_os_error(-rc)),
        _ => Error::Init(format!("{what}: {e}")),
    }
}

/// The flags this host can apply: TSYNC always (a no-op for hull), the others where
/// the kernel and the libseccomp hull runs with support them.
pub fn supported_flags() -> Vec<&'static str> {
    let api = libseccomp::get_api();
    let mut flags = vec!["SECCOMP_FILTER_FLAG_TSYNC"];
    if api >= API_SPEC_ALLOW {
        flags.push("SECCOMP_FILTER_FLAG_SPEC_ALLOW");
    }
    if api >= API_LOG {
        flags.push("SECCOMP_FILTER_FLAG_LOG");
    }
    if api >= API_WAIT_KILLABLE {
        flags.push("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    }
    flags
}

/// The architectures the libseccomp hull runs with knows. Each is tried in a filter
/// of its own: one filter cannot mix byte orders.
pub fn supported_archs() -> Vec<String> {
    let known = |a: ScmpArch| -> bool {
        let Ok(mut ctx) = ScmpFilterContext::new(ScmpAction::Allow) else {
            return false;
        };
        ctx.is_arch_present(a).unwrap_or(false)
            || ctx
                .remove_arch(ScmpArch::Native)
                .and_then(|c| c.add_arch(a))
                .is_ok()
    };
    ARCHS
        .iter()
        .filter(|&&a| known(scmp_arch(a)))
        .map(name_of)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: Value) -> String {
        match build(&profile(v), false) {
            Ok(_) => panic!("built"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_action_and_operator_builds() {
        let mut syscalls = Vec::new();
        for (i, a) in ACTIONS.iter().enumerate() {
            let names = [
                ["getpid"],
                ["getppid"],
                ["getuid"],
                ["getgid"],
                ["geteuid"],
                ["getegid"],
                ["gettid"],
                ["getpgrp"],
                ["getsid"],
            ];
            let mut s = json!({"names": names[i], "action": a});
            if *a == "SCMP_ACT_ERRNO" || *a == "SCMP_ACT_TRACE" {
                s["errnoRet"] = json!(13);
            }
            syscalls.push(s);
        }
        for (i, op) in OPERATORS.iter().enumerate() {
            syscalls.push(json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 0xff, "valueTwo": i, "op": op}]}));
        }
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_TSYNC"],
            "listenerPath": "/run/agent.sock",
            "syscalls": syscalls,
        }));
        build(&p, false).unwrap();
    }

    #[test]
    fn bad_profiles_name_their_json_path() {
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert!(e.contains("linux.seccomp.syscalls[1].action"), "{e}");
        assert!(e.contains("listenerPath"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(e.contains("linux.seccomp.syscalls[0].args[0].index"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": [], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(e.contains("linux.seccomp.syscalls[0].names"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}));
        assert!(e.contains("linux.seccomp.syscalls[0].errnoRet"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}));
        assert!(e.contains("linux.seccomp.defaultErrnoRet"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}));
        assert!(e.contains("linux.seccomp.defaultAction"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
        assert!(e.contains("linux.seccomp.defaultErrnoRet"), "{e}");
    }

    #[test]
    fn unknown_names_are_skipped_and_same_as_default_rules_ignored() {
        build(
            &profile(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["no_such_syscall", "getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})),
            false,
        )
        .unwrap();
    }

    #[test]
    fn docker_default_profile_builds() {
        let p: LinuxSeccomp = serde_json::from_str(include_str!(
            "../../../tests/fixtures/seccomp-docker-default.json"
        ))
        .unwrap();
        build(&p, false).unwrap();
    }

    #[test]
    fn state_for_the_agent_has_the_spec_fields() {
        let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/x", "listenerMetadata": "meta"}));
        let v: Value =
            serde_json::from_str(&process_state(&p, 42, json!({"id": "c", "pid": 42}))).unwrap();
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "meta");
        assert_eq!(v["state"]["id"], "c");
    }

    #[test]
    fn features_lists_are_consistent() {
        for f in supported_flags() {
            assert!(KNOWN_FLAGS.contains(&f), "{f}");
        }
        let archs = supported_archs();
        assert!(archs.contains(&"SCMP_ARCH_X86_64".to_string()), "{archs:?}");
        for a in ACTIONS {
            let _: LinuxSeccompAction = serde_json::from_value(json!(a)).unwrap();
        }
        for o in OPERATORS {
            let _: LinuxSeccompOperator = serde_json::from_value(json!(o)).unwrap();
        }
    }
}
