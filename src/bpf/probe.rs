// Feature probes as bpftool makes them: does the bpf() syscall exist, does this kernel load
// each program type, create each map type, let each program type call each helper (libbpf's
// libbpf_probe_bpf_* calls), the same against an offload device, and the misc ISA probes.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

pub use super::helper_names::HELPER_NAMES;
use super::static_str;

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`: opcode, the two
/// registers (dst in the low nibble), offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

// The opcodes the probes use (linux/bpf.h, linux/bpf_common.h).
const ALU64_MOV_K: u8 = 0x07 | 0xb0;
const ALU64_SUB_K: u8 = 0x07 | 0x10;
const JMP_CALL: u8 = 0x05 | 0x80;
const JMP_EXIT: u8 = 0x05 | 0x90;
const JMP: u8 = 0x05;
const JMP32: u8 = 0x06;
const JNE_K: u8 = 0x50;
const JLT_K: u8 = 0xa0;

impl Insn {
    /// Any instruction: opcode, registers (dst | src << 4), offset, immediate.
    pub const fn raw(code: u8, regs: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }
    /// `dst = imm` (64-bit).
    pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn {
            code: ALU64_MOV_K,
            regs: dst,
            off: 0,
            imm,
        }
    }
    /// `dst -= imm` (64-bit).
    pub const fn sub64_imm(dst: u8, imm: i32) -> Insn {
        Insn {
            code: ALU64_SUB_K,
            regs: dst,
            off: 0,
            imm,
        }
    }
    /// `if dst OP imm goto +off`, 64-bit (`jmp32` false) or 32-bit compare.
    pub const fn jmp_imm(op: u8, jmp32: bool, dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: if jmp32 { JMP32 } else { JMP } | op,
            regs: dst,
            off,
            imm,
        }
    }
    /// Call helper `id`.
    pub const fn call(id: i32) -> Insn {
        Insn {
            code: JMP_CALL,
            regs: 0,
            off: 0,
            imm: id,
        }
    }
    pub const fn exit() -> Insn {
        Insn {
            code: JMP_EXIT,
            regs: 0,
            off: 0,
            imm: 0,
        }
    }
}

/// `r0 = 0; exit`: the smallest program every type accepts.
pub const RETURN_0: [Insn; 2] = [Insn::mov64_imm(0, 0), Insn::exit()];

/// How to load a probe program.
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    /// The program's name (rbt's live probes are `rbt_probe`); None for bpftool's probes.
    pub name: Option<&'static std::ffi::CStr>,
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub attach_btf_id: u32,
    pub prog_ifindex: u32,
    pub prog_flags: u32,
}

/// Load `insns` as `how` says, with a GPL license; the verifier log goes to `log` when given.
pub fn load(how: Load, insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: how.expected_attach_type,
        attach_btf_id: how.attach_btf_id,
        prog_ifindex: how.prog_ifindex,
        prog_flags: how.prog_flags,
        ..Default::default()
    };
    if let Some(buf) = log {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        opts.log_buf = buf.as_mut_ptr().cast();
        opts.log_size = buf.len().min(u32::MAX as usize) as u32;
        opts.log_level = 1;
    }
    // SAFETY: `Insn` has the layout of `struct bpf_insn` (8 bytes, repr(C)); `insns` and
    // the license and name strings outlive the call; `opts` is initialised with its size and its
    // log buffer, if any, is `log_size` writable bytes that outlive the call.
    let fd = unsafe {
        libbpf_sys::bpf_prog_load(
            how.prog_type,
            how.name.map_or(std::ptr::null(), |n| n.as_ptr()),
            c"GPL".as_ptr(),
            insns.as_ptr().cast(),
            insns.len() as _,
            &mut opts,
        )
    };
    owned_fd(fd)
}

/// A libbpf return value as an owned fd, or the error it carries.
pub fn owned_fd(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(super::errno(fd));
    }
    // SAFETY: libbpf returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Create a map of `map_type` with 4-byte keys and values and one entry, on `ifindex`
/// (0: the host).
pub fn create_map(map_type: u32, key: u32, value: u32, entries: u32) -> io::Result<OwnedFd> {
    create_map_on(map_type, key, value, entries, 0)
}

fn create_map_on(
    map_type: u32,
    key: u32,
    value: u32,
    entries: u32,
    ifindex: u32,
) -> io::Result<OwnedFd> {
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        map_ifindex: ifindex,
        ..Default::default()
    };
    // SAFETY: `opts` is initialised with its size; a NULL name is allowed.
    let fd = unsafe {
        libbpf_sys::bpf_map_create(map_type, std::ptr::null(), key, value, entries, &opts)
    };
    owned_fd(fd)
}

/// Whether the bpf() syscall exists (any answer but ENOSYS to an empty load).
pub fn bpf_syscall() -> bool {
    match load(Load::default(), &[], None) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() != Some(libc::ENOSYS),
    }
}

/// A probe's answer, and whether the kernel said EPERM on the way (an unprivileged probe
/// counts that as "no", as bpftool does).
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub yes: bool,
    pub eperm: bool,
}

fn answer(ret: i32) -> Answer {
    let eperm = io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    Answer {
        yes: ret > 0,
        eperm,
    }
}

fn clear_errno() {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = 0 };
}

/// libbpf_probe_bpf_prog_type: does this kernel load a program of `prog_type`?
pub fn prog_type(prog_type: u32) -> Answer {
    clear_errno();
    // SAFETY: a plain call; NULL opts are required.
    answer(unsafe { libbpf_sys::libbpf_probe_bpf_prog_type(prog_type, std::ptr::null()) })
}

/// libbpf_probe_bpf_map_type: does this kernel create a map of `map_type`?
pub fn map_type(map_type: u32) -> bool {
    // SAFETY: a plain call; NULL opts are required.
    unsafe { libbpf_sys::libbpf_probe_bpf_map_type(map_type, std::ptr::null()) > 0 }
}

/// libbpf_probe_bpf_helper: may a program of `prog_type` call helper `id`?
pub fn helper(prog_type: u32, id: u32) -> Answer {
    clear_errno();
    // SAFETY: a plain call; NULL opts are required.
    answer(unsafe { libbpf_sys::libbpf_probe_bpf_helper(prog_type, id, std::ptr::null()) })
}

/// Whether device `ifindex` takes an offloaded program of `prog_type` (bpftool's probe:
/// `r0 = 2; exit`, as the nfp driver refuses `exit(0)` for TC).
pub fn prog_type_offload(prog_type: u32, ifindex: u32) -> bool {
    let insns = [Insn::mov64_imm(0, 2), Insn::exit()];
    let how = Load {
        prog_type,
        prog_ifindex: ifindex,
        ..Load::default()
    };
    load(how, &insns, None).is_ok()
}

/// Whether device `ifindex` creates an offloaded map of `map_type`.
pub fn map_type_offload(map_type: u32, ifindex: u32) -> bool {
    create_map_on(map_type, 4, 4, 1, ifindex).is_ok()
}

/// Whether an offloaded program of `prog_type` on `ifindex` may call helper `id` (the
/// verifier log names no "invalid func" or "unknown func").
pub fn helper_offload(prog_type: u32, id: u32, ifindex: u32) -> bool {
    let insns = [Insn::call(id as i32), Insn::exit()];
    let how = Load {
        prog_type,
        prog_ifindex: ifindex,
        ..Load::default()
    };
    let mut log = vec![0u8; 4096];
    let _ = load(how, &insns, Some(&mut log));
    let text =
        String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned();
    !text.contains("invalid func ") && !text.contains("unknown func ")
}

/// bpftool's misc probes, each a socket filter that only loads on kernels with the feature.
#[derive(Debug, Clone, Copy)]
pub enum Misc {
    /// More than 4096 instructions (5.2).
    LargeInsnLimit,
    /// Bounded loops (5.3).
    BoundedLoops,
    /// BPF_JLT and friends (4.14).
    V2Isa,
    /// JMP32 (5.1).
    V3Isa,
}

/// Whether the misc feature loads (on `ifindex`, 0 for the host).
pub fn misc(feature: Misc, ifindex: u32) -> bool {
    let insns: Vec<Insn> = match feature {
        Misc::LargeInsnLimit => {
            let mut v = vec![Insn::mov64_imm(0, 1); 4096];
            v.push(Insn::exit());
            v
        }
        Misc::BoundedLoops => vec![
            Insn::mov64_imm(0, 10),
            Insn::sub64_imm(0, 1),
            Insn::jmp_imm(JNE_K, false, 0, 0, -2),
            Insn::exit(),
        ],
        Misc::V2Isa | Misc::V3Isa => vec![
            Insn::mov64_imm(0, 0),
            Insn::jmp_imm(JLT_K, matches!(feature, Misc::V3Isa), 0, 0, 1),
            Insn::mov64_imm(0, 1),
            Insn::exit(),
        ],
    };
    let how = Load {
        prog_type: libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER,
        prog_ifindex: ifindex,
        ..Load::default()
    };
    clear_errno();
    match load(how, &insns, None) {
        Ok(_) => true,
        // bpftool counts a failure that leaves errno 0 as success.
        Err(e) => e.raw_os_error() == Some(0),
    }
}

/// libbpf's names, from type 1 up to the first one it does not know.
fn names(lookup: impl Fn(u32) -> *const std::os::raw::c_char) -> Vec<(u32, &'static str)> {
    (1..512u32)
        .map(|t| (t, static_str(lookup(t))))
        .take_while(|(_, s)| !s.is_empty())
        .collect()
}

/// Program types libbpf knows, with their numbers ("socket_filter" is 1).
pub fn prog_types() -> Vec<(u32, &'static str)> {
    // SAFETY: returns NULL or a pointer into a static table.
    names(|t| unsafe { libbpf_sys::libbpf_bpf_prog_type_str(t) })
}

/// Map types libbpf knows, with their numbers.
pub fn map_types() -> Vec<(u32, &'static str)> {
    // SAFETY: returns NULL or a pointer into a static table.
    names(|t| unsafe { libbpf_sys::libbpf_bpf_map_type_str(t) })
}

/// Attach types libbpf knows, with their numbers (from 0: cgroup_inet_ingress).
pub fn attach_types() -> Vec<(u32, &'static str)> {
    // SAFETY: returns NULL or a pointer into a static table.
    let first = static_str(unsafe { libbpf_sys::libbpf_bpf_attach_type_str(0) });
    let mut all = vec![(0, first)];
    // SAFETY: as above.
    all.extend(names(|t| unsafe {
        libbpf_sys::libbpf_bpf_attach_type_str(t)
    }));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insns_have_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        let i = Insn::jmp_imm(JLT_K, true, 0, 0, 1);
        assert_eq!((i.code, i.off), (0xa6, 1));
        assert_eq!(Insn::mov64_imm(0, 2).code, 0xb7);
        assert_eq!(Insn::exit().code, 0x95);
        assert_eq!(Insn::call(1).code, 0x85);
    }

    #[test]
    fn helper_names_follow_the_uapi_ids() {
        assert_eq!(HELPER_NAMES[1], "bpf_map_lookup_elem");
        assert_eq!(HELPER_NAMES[6], "bpf_trace_printk");
        assert_eq!(HELPER_NAMES[211], "bpf_cgrp_storage_delete");
    }
}
