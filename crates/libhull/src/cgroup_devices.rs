//! Device access rules of the container's cgroup: `devices.allow`/`devices.deny` on
//! cgroup v1, an eBPF program of type CGROUP_DEVICE attached to the cgroup on v2
//! (default deny with the allow list, as runc and crun do).
//!
//! Owns: the effective rule list (the spec's rules, then the devices every container
//! needs, then those of `linux.devices`), the v1 lines and the v2 program.

use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, Spec};

use crate::error::{Error, Result};
use crate::sys;

/// One rule: allow or deny `access` (r, w, m) to devices of `kind` (`a`, `c`, `b`)
/// and major:minor (`None` is any).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl Rule {
    fn v1_line(&self) -> String {
        let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
        if self.kind == 'a' {
            return "a".into();
        }
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// runc's devices every container may use (libcontainer/specconv AllowedDevices).
const DEFAULT_ALLOWED: &[(char, Option<i64>, Option<i64>, &str)] = &[
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(1), Some(3), "rwm"),
    ('c', Some(1), Some(8), "rwm"),
    ('c', Some(1), Some(7), "rwm"),
    ('c', Some(5), Some(0), "rwm"),
    ('c', Some(1), Some(5), "rwm"),
    ('c', Some(1), Some(9), "rwm"),
    ('c', Some(5), Some(1), "rwm"),
    ('c', Some(136), None, "rwm"),
    ('c', Some(5), Some(2), "rwm"),
    ('c', Some(10), Some(200), "rwm"),
];

/// The rules for the container, in order (a later rule overrides an earlier one).
/// Empty when the spec has no device rules: then access is left as the host has it.
pub fn rules(spec: &Spec) -> Result<Vec<Rule>> {
    let linux = spec.linux().as_ref();
    let list: &[LinuxDeviceCgroup] = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_deref())
        .unwrap_or_default();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (i, d) in list.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        out.push(rule_of(d, &field)?);
    }
    for (kind, major, minor, access) in DEFAULT_ALLOWED {
        out.push(Rule {
            allow: true,
            kind: *kind,
            major: *major,
            minor: *minor,
            access: access.to_string(),
        });
    }
    for d in linux
        .and_then(|l| l.devices().as_deref())
        .unwrap_or_default()
    {
        let kind = match d.typ() {
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => continue,
            _ => 'c',
        };
        out.push(Rule {
            allow: true,
            kind,
            major: Some(d.major()),
            minor: Some(d.minor()),
            access: "rwm".into(),
        });
    }
    Ok(out)
}

fn rule_of(d: &LinuxDeviceCgroup, field: &str) -> Result<Rule> {
    let kind = match d.typ() {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => {
            return Err(Error::config(
                format!("{field}.type"),
                "p is not a device cgroup type (a, c or b)",
            ))
        }
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(Error::config(
            format!("{field}.access"),
            format!("{access:?} is not a combination of r, w and m"),
        ));
    }
    let id = |v: Option<i64>| v.filter(|v| *v >= 0);
    // A rule for every device of every type is `a`, whatever its numbers say.
    let all = kind == 'a';
    Ok(Rule {
        allow: d.allow(),
        kind,
        major: if all { None } else { id(d.major()) },
        minor: if all { None } else { id(d.minor()) },
        access,
    })
}

/// Applies the rules to the container's cgroup, v1 or v2.
pub fn apply(rec: &crate::cgroups::CgroupRecord, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    if rec.paths.is_empty() {
        return Err(Error::config(
            "linux.resources.devices",
            "this container has no cgroup (no cgroup is delegated to this user)",
        ));
    }
    match crate::cgroups::dir_of(rec, "devices") {
        Some(dir) if rec.unified => apply_v2(dir, rules),
        Some(dir) => apply_v1(dir, rules),
        None => Err(Error::config(
            "linux.resources.devices",
            "the devices cgroup controller is not available on this host",
        )),
    }
}

/// cgroup v1: write the rules to devices.deny / devices.allow in order.
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        let file = dir.join(if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        });
        std::fs::write(&file, r.v1_line()).map_err(|e| {
            Error::sys(
                format!(
                    "device rule #{i} {:?}: write {}",
                    r.v1_line(),
                    file.display()
                ),
                e,
            )
        })?;
    }
    Ok(())
}

// eBPF, as <linux/bpf.h> defines it.
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;
const BPF_DEVCG_ACC_MKNOD: i32 = 1;
const BPF_DEVCG_ACC_READ: i32 = 2;
const BPF_DEVCG_ACC_WRITE: i32 = 4;

/// One eBPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// Opcodes used below.
const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const MOV64_X: u8 = 0xbf; // r_dst = r_src
const MOV64_K: u8 = 0xb7; // r_dst = imm
const AND32_K: u8 = 0x54; // w_dst &= imm
const RSH32_K: u8 = 0x74; // w_dst >>= imm
const JNE_K: u8 = 0x55; // if r_dst != imm goto +off
const JSET_K: u8 = 0x45; // if r_dst & imm goto +off
const EXIT: u8 = 0x95;

fn access_bits(access: &str) -> i32 {
    let mut b = 0;
    for c in access.chars() {
        b |= match c {
            'r' => BPF_DEVCG_ACC_READ,
            'w' => BPF_DEVCG_ACC_WRITE,
            'm' => BPF_DEVCG_ACC_MKNOD,
            _ => 0,
        };
    }
    b
}

/// The program: the request's type in r2, access in r3, major in r4, minor in r5;
/// the rules are tried from the last to the first and the first that matches decides
/// (a later rule overrides an earlier one); no match denies.
///
/// An allow rule matches when the request asks only for access the rule grants; a
/// deny rule when the request asks for any access the rule forbids.
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV64_X, 3, 2, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        // A rule for every device and every access always matches: the rules before
        // it, and the default, can never be reached, and the verifier refuses
        // unreachable instructions.
        let matches_all = r.kind == 'a' && access_bits(&r.access) == 7;
        if matches_all {
            p.push(insn(MOV64_K, 0, 0, 0, i32::from(r.allow)));
            p.push(insn(EXIT, 0, 0, 0, 0));
            return p;
        }
        let mut block = Vec::new();
        // Each check jumps to the end of this block ("next rule") when it fails; the
        // offsets are filled in once the block's length is known.
        if r.kind != 'a' {
            let t = if r.kind == 'b' {
                BPF_DEVCG_DEV_BLOCK
            } else {
                BPF_DEVCG_DEV_CHAR
            };
            block.push(insn(JNE_K, 2, 0, 0, t));
        }
        let bits = access_bits(&r.access);
        if r.allow {
            // Any requested bit outside the rule's: not this rule.
            if bits != 7 {
                block.push(insn(JSET_K, 3, 0, 0, !bits & 7));
            }
        } else if bits != 7 {
            // No requested bit inside the rule's: not this rule. (r3 & bits) == 0
            // is "JSET to the verdict, else skip": use a copy and an AND.
            block.push(insn(MOV64_X, 6, 3, 0, 0));
            block.push(insn(AND32_K, 6, 0, 0, bits));
            block.push(insn(JNE_K, 6, 0, 1, 0));
            block.push(insn(0x05, 0, 0, 0, 0)); // goto next (patched below)
        }
        if let Some(m) = r.major {
            block.push(insn(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            block.push(insn(JNE_K, 5, 0, 0, m as i32));
        }
        block.push(insn(MOV64_K, 0, 0, 0, i32::from(r.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            let is_skip =
                (ins.code == JNE_K && ins.off == 0) || ins.code == JSET_K || ins.code == 0x05;
            if is_skip && i + 2 < len {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// cgroup v2: load the program and attach it to the container's cgroup directory.
pub fn apply_v2(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = program(rules);
    let mut log = vec![0u8; 64 * 1024];
    let prog_fd = match sys::bpf_prog_load(
        BPF_PROG_TYPE_CGROUP_DEVICE,
        BPF_CGROUP_DEVICE,
        &prog,
        c"Apache",
        *b"hull_devices\0\0\0\0",
        &mut log,
    ) {
        Ok(fd) => fd,
        Err(e) => {
            let verifier =
                String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)])
                    .into_owned();
            return Err(Error::sys(
                format!(
                    "load the device eBPF program ({})",
                    verifier.lines().last().unwrap_or("")
                ),
                e,
            ));
        }
    };
    let cg =
        std::fs::File::open(dir).map_err(|e| Error::sys(format!("open {}", dir.display()), e))?;
    sys::bpf_prog_attach(
        cg.as_fd(),
        prog_fd.as_fd(),
        BPF_CGROUP_DEVICE,
        BPF_F_ALLOW_MULTI,
    )
    .map_err(|e| {
        Error::sys(
            format!("attach the device eBPF program to {}", dir.display()),
            e,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on a request, as the kernel would (a tiny interpreter of the
    /// few opcodes `program` emits), so the rule logic is tested without root.
    fn run(p: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize] as u64,
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = i.imm as u64,
                AND32_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                RSH32_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                JNE_K => {
                    if r[dst] != i.imm as u64 {
                        pc += i.off as usize
                    }
                }
                JSET_K => {
                    if r[dst] & i.imm as u64 != 0 {
                        pc += i.off as usize
                    }
                }
                0x05 => pc += i.off as usize,
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    fn rule(allow: bool, kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    const C: i32 = BPF_DEVCG_DEV_CHAR;
    const B: i32 = BPF_DEVCG_DEV_BLOCK;
    const R: i32 = BPF_DEVCG_ACC_READ;
    const W: i32 = BPF_DEVCG_ACC_WRITE;
    const M: i32 = BPF_DEVCG_ACC_MKNOD;

    #[test]
    fn default_deny_with_allow_list() {
        let rules = vec![
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', None, None, "m"),
            rule(true, 'c', Some(136), None, "rw"),
        ];
        let p = program(&rules);
        assert_eq!(run(&p, C, R | W, 1, 3), 1, "/dev/null");
        assert_eq!(run(&p, C, R, 1, 5), 0, "/dev/zero not listed");
        assert_eq!(run(&p, C, M, 4, 4), 1, "mknod of any char device");
        assert_eq!(run(&p, B, M, 8, 0), 0, "not of block devices");
        assert_eq!(run(&p, C, R | W, 136, 7), 1, "any pty");
        assert_eq!(run(&p, C, M, 136, 7), 1, "mknod via the c *:* m rule");
        assert_eq!(run(&p, B, R, 8, 0), 0, "block device read");
    }

    #[test]
    fn later_deny_overrides_earlier_allow() {
        let rules = vec![
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'c', Some(1), Some(3), "w"),
        ];
        let p = program(&rules);
        assert_eq!(run(&p, C, R, 1, 3), 1, "read is still allowed");
        assert_eq!(run(&p, C, W, 1, 3), 0, "write is denied");
        assert_eq!(
            run(&p, C, R | W, 1, 3),
            0,
            "read+write asks for a denied bit"
        );
        assert_eq!(run(&p, B, W, 8, 0), 1, "other devices untouched");
    }

    #[test]
    fn nothing_follows_a_rule_that_matches_everything() {
        // The verifier refuses unreachable code: the catch-all must end the program.
        let p = program(&[
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
        ]);
        let last_exit = p.iter().rposition(|i| i.code == EXIT).unwrap();
        assert_eq!(last_exit, p.len() - 1);
        let exits = p.iter().filter(|i| i.code == EXIT).count();
        assert_eq!(
            exits, 2,
            "the allow rule and the catch-all deny, no default tail"
        );
        assert_eq!(run(&p, C, R, 1, 3), 1);
        assert_eq!(run(&p, C, R, 1, 5), 0);
        let p = program(&[rule(true, 'a', None, None, "rwm")]);
        assert_eq!(p.len(), 8);
        assert_eq!(run(&p, B, W, 8, 0), 1);
    }

    #[test]
    fn v1_lines() {
        assert_eq!(rule(false, 'a', None, None, "rwm").v1_line(), "a");
        assert_eq!(
            rule(true, 'c', Some(136), None, "rwm").v1_line(),
            "c 136:* rwm"
        );
        assert_eq!(rule(true, 'b', Some(8), Some(0), "r").v1_line(), "b 8:0 r");
    }
}
