// x86-64 machine code of a JITed program, disassembled with iced-x86 in AT&T syntax (as
// bpftool's LLVM disassembler prints it): one instruction at a time, mnemonic and operands.

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction, OpKind};

/// One decoded machine instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineInsn {
    /// Offset in the function's image.
    pub pc: usize,
    pub len: usize,
    pub mnemonic: String,
    /// The operands as one string (`%rsp, %rbp`), empty when there are none.
    pub operands: String,
    /// Where a direct call or jump goes (an address relative to `base`), for naming it.
    pub branch_target: Option<u64>,
}

/// Disassemble `code` (loaded at `base`, so relative branches show their real target
/// offsets inside the image). Undecodable bytes come out as `(bad)` of one byte, as
/// objdump does.
pub fn disassemble(code: &[u8], base: u64) -> Vec<MachineInsn> {
    let mut decoder = Decoder::with_ip(64, code, base, DecoderOptions::NONE);
    let mut fmt = GasFormatter::new();
    fmt.options_mut().set_gas_show_mnemonic_size_suffix(true);
    fmt.options_mut().set_space_after_operand_separator(true);
    fmt.options_mut().set_uppercase_hex(false);
    fmt.options_mut().set_signed_immediate_operands(true);
    let mut insn = Instruction::default();
    let mut out = Vec::new();
    while decoder.can_decode() {
        let pc = decoder.position();
        decoder.decode_out(&mut insn);
        let (mut mnemonic, mut operands) = (String::new(), String::new());
        if insn.is_invalid() {
            mnemonic.push_str("(bad)");
        } else {
            fmt.format_mnemonic(&insn, &mut mnemonic);
            fmt.format_all_operands(&insn, &mut operands);
        }
        let len = if insn.is_invalid() { 1 } else { insn.len() };
        let branch_target = (!insn.is_invalid()
            && insn.op_count() > 0
            && matches!(
                insn.op0_kind(),
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
            ))
        .then(|| insn.near_branch_target());
        if insn.is_invalid() {
            decoder.set_position(pc + 1).ok();
            decoder.set_ip(base + pc as u64 + 1);
        }
        out.push(MachineInsn {
            pc,
            len,
            mnemonic,
            operands,
            branch_target,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prologue_in_att_syntax() {
        // endbr64; push %rbp; mov %rsp,%rbp; xor %eax,%eax; leave; ret
        let code = [
            0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x31, 0xc0, 0xc9, 0xc3,
        ];
        let d = disassemble(&code, 0);
        let text: Vec<String> = d
            .iter()
            .map(|i| format!("{} {}", i.mnemonic, i.operands).trim().to_owned())
            .collect();
        assert_eq!(
            text,
            [
                "endbr64",
                "pushq %rbp",
                "movq %rsp, %rbp",
                "xorl %eax, %eax",
                "leaveq",
                "retq"
            ]
        );
        assert_eq!(d[2].pc, 5);
        assert_eq!(d[2].len, 3);
        assert_eq!(d[2].branch_target, None);
    }

    #[test]
    fn direct_calls_give_their_target() {
        // call +0x10 at 0x100: the target is 0x100 + 5 + 0x10.
        let d = disassemble(&[0xe8, 0x10, 0x00, 0x00, 0x00], 0x100);
        assert_eq!(d[0].branch_target, Some(0x115));
    }

    #[test]
    fn bad_bytes_do_not_stop_the_listing() {
        let d = disassemble(&[0x06, 0x90], 0);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].mnemonic, "(bad)");
        assert_eq!(d[1].mnemonic, "nop");
    }
}
