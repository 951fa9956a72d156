// BPF instructions: decoding 8-byte instructions and printing each one the way the kernel's
// and bpftool's disassembler (kernel/bpf/disasm.c) does, with calls and 64-bit immediates
// named through a `Names` callback. `cfg` builds the control-flow graph for `visual`;
// `x86` disassembles the x86-64 image the JIT made of them.

pub mod cfg;
#[cfg(test)]
mod tests;
pub mod x86;

use std::fmt::Write;

pub const INSN_SIZE: usize = 8;

// Instruction classes and fields (include/uapi/linux/bpf_common.h, bpf.h).
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;
const BPF_X: u8 = 0x08;
const BPF_IMM: u8 = 0x00;
const BPF_ABS: u8 = 0x20;
const BPF_IND: u8 = 0x40;
const BPF_MEM: u8 = 0x60;
const BPF_MEMSX: u8 = 0x80;
const BPF_ATOMIC: u8 = 0xc0;
const BPF_DW: u8 = 0x18;
pub const BPF_JA: u8 = 0x00;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
const BPF_JCOND: u8 = 0xe0;
const BPF_NEG: u8 = 0x80;
const BPF_END: u8 = 0xd0;
const BPF_MOV: u8 = 0xb0;
const BPF_DIV: u8 = 0x30;
const BPF_MOD: u8 = 0x90;
const BPF_FETCH: i32 = 0x01;
const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;
/// The opcode of the first half of a 64-bit immediate load.
pub const LD_IMM64: u8 = BPF_LD | BPF_IMM | BPF_DW;

pub const PSEUDO_MAP_FD: u8 = 1;
pub const PSEUDO_MAP_VALUE: u8 = 2;
const PSEUDO_MAP_IDX_VALUE: u8 = 6;
const PSEUDO_FUNC: u8 = 4;
pub const PSEUDO_CALL: u8 = 1;

/// One decoded instruction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// Decode the instruction at byte `at` of `code` (little-endian, as on x86 and arm64).
    pub fn at(code: &[u8], index: usize) -> Option<Insn> {
        let b = code.get(index * INSN_SIZE..(index + 1) * INSN_SIZE)?;
        Some(Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    pub fn class(&self) -> u8 {
        self.code & 0x07
    }
    pub fn op(&self) -> u8 {
        self.code & 0xf0
    }
    fn size_name(&self) -> &'static str {
        ["u32", "u16", "u8", "u64"][((self.code >> 3) & 3) as usize]
    }
    fn mode(&self) -> u8 {
        self.code & 0xe0
    }
    pub fn is_ld_imm64(&self) -> bool {
        self.code == LD_IMM64
    }
    pub fn is_jmp_class(&self) -> bool {
        matches!(self.class(), BPF_JMP | BPF_JMP32)
    }
}

/// Names for what an instruction refers to: helper and kfunc calls, subprogram calls,
/// and the map or value behind a 64-bit immediate. None falls back to numbers.
pub trait Names {
    /// The target of a call instruction (helper, kfunc or `pc`-relative subprogram).
    fn call(&mut self, insn: &Insn) -> Option<String>;
    /// The text of a 64-bit immediate load (`map[id:4]`, `0x2a`).
    fn imm64(&mut self, insn: &Insn, next: &Insn, full: u64) -> String;
}

/// Names nothing: helpers by number, immediates in hex.
#[cfg(test)]
pub struct NoNames;

#[cfg(test)]
impl Names for NoNames {
    fn call(&mut self, _: &Insn) -> Option<String> {
        None
    }
    fn imm64(&mut self, insn: &Insn, next: &Insn, full: u64) -> String {
        default_imm64(insn, next, full)
    }
}

/// bpftool's text for a 64-bit immediate (its print_imm).
pub fn default_imm64(insn: &Insn, next: &Insn, full: u64) -> String {
    match insn.src {
        PSEUDO_MAP_FD => format!("map[id:{}]", insn.imm as u32),
        PSEUDO_MAP_VALUE => format!("map[id:{}][0]+{}", insn.imm as u32, next.imm as u32),
        PSEUDO_MAP_IDX_VALUE => format!("map[idx:{}]+{}", insn.imm as u32, next.imm as u32),
        PSEUDO_FUNC => format!("subprog[{:+}]", insn.imm),
        _ => format!("{full:#x}"),
    }
}

const ALU_OPS: [&str; 16] = [
    "+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian",
    "BUG", "BUG",
];
const JMP_OPS: [&str; 16] = [
    "jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<=", "BUG",
    "BUG",
];
const ATOMIC_OPS: [&str; 16] = [
    "add", "BUG", "BUG", "BUG", "or", "and", "BUG", "BUG", "BUG", "BUG", "xor", "BUG", "BUG",
    "BUG", "BUG", "BUG",
];
const CLASS_NAMES: [&str; 8] = ["ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"];

/// The disassembly of `insn` (and `next`, the second half of a 64-bit load), without the
/// instruction index: `(b7) r0 = 2`.
pub fn disasm(insn: &Insn, next: Option<&Insn>, names: &mut dyn Names, out: &mut String) {
    let c = insn.code;
    let _ = match insn.class() {
        BPF_ALU | BPF_ALU64 => alu(insn, out),
        BPF_STX => stx(insn, out),
        BPF_ST => match insn.mode() {
            BPF_MEM => write!(
                out,
                "({c:02x}) *({} *)(r{} {:+}) = {}",
                insn.size_name(),
                insn.dst,
                insn.off,
                insn.imm
            ),
            0xc0 => write!(out, "({c:02x}) nospec"),
            _ => write!(out, "BUG_st_{c:02x}"),
        },
        BPF_LDX => match insn.mode() {
            BPF_MEM => write!(
                out,
                "({c:02x}) r{} = *({} *)(r{} {:+})",
                insn.dst,
                insn.size_name(),
                insn.src,
                insn.off
            ),
            BPF_MEMSX => write!(
                out,
                "({c:02x}) r{} = *(s{} *)(r{} {:+})",
                insn.dst,
                &insn.size_name()[1..],
                insn.src,
                insn.off
            ),
            _ => write!(out, "BUG_ldx_{c:02x}"),
        },
        BPF_LD => match insn.mode() {
            BPF_ABS => write!(
                out,
                "({c:02x}) r0 = *({} *)skb[{}]",
                insn.size_name(),
                insn.imm
            ),
            BPF_IND => write!(
                out,
                "({c:02x}) r0 = *({} *)skb[r{} + {}]",
                insn.size_name(),
                insn.src,
                insn.imm
            ),
            BPF_IMM if insn.is_ld_imm64() => {
                let second = next.copied().unwrap_or_default();
                let full = ((second.imm as u32 as u64) << 32) | insn.imm as u32 as u64;
                let text = names.imm64(insn, &second, full);
                write!(out, "({c:02x}) r{} = {text}", insn.dst)
            }
            _ => write!(out, "BUG_ld_{c:02x}"),
        },
        _ => jmp(insn, names, out),
    };
}

fn reg(class: u8) -> char {
    if class == BPF_ALU {
        'w'
    } else {
        'r'
    }
}

fn alu(insn: &Insn, out: &mut String) -> std::fmt::Result {
    let (c, class, r) = (insn.code, insn.class(), reg(insn.class()));
    let op = insn.op();
    if op == BPF_END {
        let order = if c & BPF_X != 0 { "be" } else { "le" };
        if class == BPF_ALU64 {
            return write!(
                out,
                "({c:02x}) r{} = bswap{} r{}",
                insn.dst, insn.imm, insn.dst
            );
        }
        return write!(
            out,
            "({c:02x}) r{} = {order}{} r{}",
            insn.dst, insn.imm, insn.dst
        );
    }
    if op == BPF_NEG {
        return write!(out, "({c:02x}) {r}{} = -{r}{}", insn.dst, insn.dst);
    }
    let signed = insn.off == 1 && (op == BPF_DIV || op == BPF_MOD);
    let sym = match (signed, op) {
        (true, BPF_DIV) => "s/=",
        (true, _) => "s%=",
        _ => ALU_OPS[(op >> 4) as usize],
    };
    if c & BPF_X != 0 {
        if op == BPF_MOV && matches!(insn.off, 8 | 16 | 32) {
            return write!(
                out,
                "({c:02x}) {r}{} = (s{}){r}{}",
                insn.dst, insn.off, insn.src
            );
        }
        write!(out, "({c:02x}) {r}{} {sym} {r}{}", insn.dst, insn.src)
    } else {
        write!(out, "({c:02x}) {r}{} {sym} {}", insn.dst, insn.imm)
    }
}

fn stx(insn: &Insn, out: &mut String) -> std::fmt::Result {
    let c = insn.code;
    let (size, dst, off, src) = (insn.size_name(), insn.dst, insn.off, insn.src);
    let width = if (c & 0x18) == BPF_DW { "64" } else { "" };
    match insn.mode() {
        BPF_MEM => write!(out, "({c:02x}) *({size} *)(r{dst} {off:+}) = r{src}"),
        BPF_ATOMIC => match insn.imm {
            0x00 | 0x40 | 0x50 | 0xa0 => write!(
                out,
                "({c:02x}) lock *({size} *)(r{dst} {off:+}) {} r{src}",
                ALU_OPS[((insn.imm as u8) >> 4) as usize]
            ),
            0x01 | 0x41 | 0x51 | 0xa1 => write!(
                out,
                "({c:02x}) r{src} = atomic{width}_fetch_{}(({size} *)(r{dst} {off:+}), r{src})",
                ATOMIC_OPS[((insn.imm as u8) >> 4) as usize]
            ),
            BPF_CMPXCHG => write!(
                out,
                "({c:02x}) r0 = atomic{width}_cmpxchg(({size} *)(r{dst} {off:+}), r0, r{src})"
            ),
            BPF_XCHG => write!(
                out,
                "({c:02x}) r{src} = atomic{width}_xchg(({size} *)(r{dst} {off:+}), r{src})"
            ),
            _ => write!(out, "BUG_{c:02x}"),
        },
        _ => write!(out, "BUG_{c:02x}"),
    }
}

fn jmp(insn: &Insn, names: &mut dyn Names, out: &mut String) -> std::fmt::Result {
    let (c, class) = (insn.code, insn.class());
    if class != BPF_JMP && class != BPF_JMP32 {
        return write!(out, "({c:02x}) {}", CLASS_NAMES[class as usize]);
    }
    let op = insn.op();
    let r = if class == BPF_JMP32 { 'w' } else { 'r' };
    match op {
        BPF_CALL => {
            if insn.src == PSEUDO_CALL {
                let target = names
                    .call(insn)
                    .unwrap_or_else(|| format!("{:+}", insn.imm));
                write!(out, "({c:02x}) call pc{target}")
            } else {
                let target = names.call(insn).unwrap_or_else(|| {
                    if insn.src == 2 {
                        "kernel-function".to_owned()
                    } else {
                        "unknown".to_owned()
                    }
                });
                write!(out, "({c:02x}) call {target}#{}", insn.imm)
            }
        }
        BPF_JA if class == BPF_JMP => write!(out, "({c:02x}) goto pc{:+}", insn.off),
        BPF_JA => write!(out, "({c:02x}) gotol pc{:+}", insn.imm),
        BPF_EXIT if class == BPF_JMP => write!(out, "({c:02x}) exit"),
        BPF_JCOND => write!(out, "({c:02x}) may_goto pc{:+}", insn.off),
        _ if c & BPF_X != 0 => write!(
            out,
            "({c:02x}) if {r}{} {} {r}{} goto pc{:+}",
            insn.dst,
            JMP_OPS[(op >> 4) as usize],
            insn.src,
            insn.off
        ),
        _ => write!(
            out,
            "({c:02x}) if {r}{} {} {:#x} goto pc{:+}",
            insn.dst,
            JMP_OPS[(op >> 4) as usize],
            insn.imm as u32,
            insn.off
        ),
    }
}

/// Where a jump goes (instruction index), for jumps that have a target in this program.
pub fn jump_target(index: usize, insn: &Insn) -> Option<usize> {
    if !insn.is_jmp_class() {
        return None;
    }
    let rel = match insn.op() {
        BPF_CALL | BPF_EXIT => return None,
        BPF_JA if insn.class() == BPF_JMP32 => insn.imm as i64,
        _ => insn.off as i64,
    };
    usize::try_from(index as i64 + 1 + rel).ok()
}
