// `prog dump jited`: the JIT image split into its functions (jited_ksyms, jited_func_lens),
// each disassembled (x86-64) with its signature, symbol and source lines, in bpftool's shape.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;

use super::dump::{DumpNames, DumpOptions, SourceLine};
use crate::bpf::prog_image::{LineInfo, ProgImage};
use crate::btf::Btf;
use crate::insn::x86;
use crate::output::Listing;

/// One JITed function: bpftool's `{"proto", "name", "insns"}`.
#[derive(Debug, Serialize)]
pub struct JitedFunc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    pub name: String,
    pub insns: Vec<JitedInsn>,
}

/// One machine instruction: bpftool's `{"pc", "operation", "operands", "opcodes"}`, with
/// the source line first when one starts here.
#[derive(Debug, Serialize)]
pub struct JitedInsn {
    #[serde(flatten)]
    pub line: Option<SourceLine>,
    pub pc: String,
    pub operation: String,
    /// Split on spaces, commas and parentheses as bpftool does; `[null]` when none.
    pub operands: Vec<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opcodes: Option<Vec<String>>,
    /// rbt's addition: the kernel symbol a call or jump out of the function goes to
    /// (a helper, a kfunc, another function of the program, the return thunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub text: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl Listing for JitedFunc {
    fn text(&self, out: &mut String) {
        if let Some(proto) = &self.proto {
            let _ = writeln!(out, "{proto}:");
        }
        let _ = writeln!(out, "{}:", self.name);
        for insn in &self.insns {
            if let Some(line) = &insn.line {
                line.text(out);
            }
            let _ = write!(out, "{:4x}:\t{}", insn.offset, insn.text);
            if let Some(target) = &insn.target {
                let _ = write!(out, "  // {target}");
            }
            if insn.opcodes.is_some() {
                out.push_str("\n\t");
                for b in &insn.bytes {
                    let _ = write!(out, "{b:02x} ");
                }
            }
            out.push('\n');
        }
        out.push('\n');
    }
}

/// The line_info records of function `f`: those whose JITed address falls inside it.
fn func_lines(image: &ProgImage, start: u64, len: u64) -> (Vec<&LineInfo>, Vec<u64>) {
    image
        .line_info
        .iter()
        .zip(&image.jited_line_info)
        .filter(|(_, &a)| a >= start && a < start + len)
        .map(|(l, &a)| (l, a))
        .unzip()
}

/// bpftool's bpf_prog_linfo__lfind_addr_func over one function's records.
fn lfind_addr(addrs: &[u64], addr: u64, nr_skip: usize) -> Option<usize> {
    let rest = addrs.get(nr_skip..)?;
    if rest.first().is_none_or(|&a| addr < a) {
        return None;
    }
    let n = rest.iter().take_while(|&&a| addr >= a).count();
    Some(nr_skip + n - 1)
}

pub fn listing(image: &ProgImage, btf: Option<&Btf>, o: &DumpOptions) -> Result<Vec<JitedFunc>> {
    let mut names = DumpNames::new(&image.jited_ksyms);
    let lens: Vec<u32> = if image.jited_func_lens.is_empty() {
        vec![image.code.len() as u32]
    } else {
        image.jited_func_lens.clone()
    };
    let mut funcs = Vec::with_capacity(lens.len());
    let mut offset = 0usize;
    for (i, &len) in lens.iter().enumerate() {
        let len = len as usize;
        let Some(code) = image.code.get(offset..offset + len) else {
            anyhow::bail!(
                "program {}: JIT image of {} bytes is shorter than its functions",
                image.id,
                image.code.len()
            );
        };
        offset += len;
        let ksym = image.jited_ksyms.get(i).copied();
        let name = match ksym {
            Some(a) => names
                .kallsyms()
                .name(a)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("0x{a:016x}")),
            None => "unknown".to_owned(),
        };
        let proto = match (btf, image.func_info.get(i)) {
            (Some(b), Some(f)) => b.func_signature(f.type_id).filter(|s| !s.is_empty()),
            _ => None,
        };
        let base = ksym.unwrap_or(0);
        let (lines, addrs) = func_lines(image, base, len as u64);
        let mut nr_skip = 0;
        let mut insns = Vec::new();
        for m in x86::disassemble(code, 0) {
            let line = match (btf, ksym) {
                (Some(b), Some(k)) => lfind_addr(&addrs, k + m.pc as u64, nr_skip).map(|j| {
                    nr_skip += 1;
                    SourceLine::new(b, lines[j], o.linum)
                }),
                _ => None,
            };
            let bytes = code[m.pc..m.pc + m.len].to_vec();
            // Disassembled at 0, so a target is an offset from the function's start; one
            // outside the function is named from kallsyms at its real address.
            let target = match (m.branch_target, ksym) {
                (Some(t), Some(k)) if t >= len as u64 => {
                    names.kallsyms().name(k.wrapping_add(t)).map(str::to_owned)
                }
                _ => None,
            };
            let mut operands: Vec<Option<String>> = m
                .operands
                .split([' ', '\t', ',', '(', ')'])
                .filter(|s| !s.is_empty())
                .map(|s| Some(s.to_owned()))
                .collect();
            if operands.is_empty() {
                operands.push(None);
            }
            let text = if m.operands.is_empty() {
                m.mnemonic.clone()
            } else {
                format!("{}\t{}", m.mnemonic, m.operands)
            };
            insns.push(JitedInsn {
                line,
                pc: format!("{:#x}", m.pc),
                operation: m.mnemonic,
                operands,
                opcodes: o
                    .opcodes
                    .then(|| bytes.iter().map(|b| format!("{b:#04x}")).collect()),
                target,
                offset: m.pc,
                text,
                bytes,
            });
        }
        funcs.push(JitedFunc { proto, name, insns });
    }
    Ok(funcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfind_addr_follows_bpftool() {
        let addrs = [100, 110, 130];
        assert_eq!(lfind_addr(&addrs, 100, 0), Some(0));
        assert_eq!(lfind_addr(&addrs, 105, 1), None);
        assert_eq!(lfind_addr(&addrs, 120, 1), Some(1));
        assert_eq!(lfind_addr(&addrs, 200, 2), Some(2));
        assert_eq!(lfind_addr(&addrs, 200, 3), None);
    }
}
