// Unit tests of the instruction decoder, the disassembler's text and the basic blocks.

use super::*;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

fn text(i: &Insn, next: Option<&Insn>) -> String {
    let mut s = String::new();
    disasm(i, next, &mut NoNames, &mut s);
    s
}

#[test]
fn decodes_little_endian_fields() {
    let bytes = [0x61, 0x21, 0x04, 0x00, 0xff, 0xff, 0xff, 0xff];
    let i = Insn::at(&bytes, 0).unwrap_or_default();
    assert_eq!(i, insn(0x61, 1, 2, 4, -1));
    assert!(Insn::at(&bytes, 1).is_none());
}

#[test]
fn prints_like_the_kernel() {
    assert_eq!(text(&insn(0xb7, 0, 0, 0, 2), None), "(b7) r0 = 2");
    assert_eq!(text(&insn(0xbf, 6, 1, 0, 0), None), "(bf) r6 = r1");
    assert_eq!(text(&insn(0xbc, 1, 2, 0, 0), None), "(bc) w1 = w2");
    assert_eq!(
        text(&insn(0x61, 2, 1, 4, 0), None),
        "(61) r2 = *(u32 *)(r1 +4)"
    );
    assert_eq!(
        text(&insn(0x7b, 10, 1, -8, 0), None),
        "(7b) *(u64 *)(r10 -8) = r1"
    );
    assert_eq!(
        text(&insn(0x62, 10, 0, -4, 7), None),
        "(62) *(u32 *)(r10 -4) = 7"
    );
    assert_eq!(
        text(&insn(0x15, 0, 0, 3, 0), None),
        "(15) if r0 == 0x0 goto pc+3"
    );
    assert_eq!(
        text(&insn(0x2d, 2, 3, -5, 0), None),
        "(2d) if r2 > r3 goto pc-5"
    );
    assert_eq!(text(&insn(0x05, 0, 0, 1, 0), None), "(05) goto pc+1");
    assert_eq!(text(&insn(0x95, 0, 0, 0, 0), None), "(95) exit");
    assert_eq!(text(&insn(0x87, 3, 0, 0, 0), None), "(87) r3 = -r3");
    assert_eq!(text(&insn(0xdc, 3, 0, 0, 16), None), "(dc) r3 = be16 r3");
    assert_eq!(
        text(&insn(0xdb, 1, 2, 0, 0), None),
        "(db) lock *(u64 *)(r1 +0) += r2"
    );
    assert_eq!(
        text(&insn(0xc3, 1, 2, 8, 1), None),
        "(c3) r2 = atomic_fetch_add((u32 *)(r1 +8), r2)"
    );
    assert_eq!(text(&insn(0x85, 0, 1, 0, 4), None), "(85) call pc+4");
    assert_eq!(
        text(&insn(0x85, 0, 0, 0, 12345), None),
        "(85) call unknown#12345"
    );
}

#[test]
fn ld_imm64_names_maps_and_values() {
    let next = insn(0, 0, 0, 0, 0);
    assert_eq!(
        text(&insn(0x18, 1, PSEUDO_MAP_FD, 0, 7), Some(&next)),
        "(18) r1 = map[id:7]"
    );
    let next = insn(0, 0, 0, 0, 16);
    assert_eq!(
        text(&insn(0x18, 1, PSEUDO_MAP_VALUE, 0, 7), Some(&next)),
        "(18) r1 = map[id:7][0]+16"
    );
    let next = insn(0, 0, 0, 0, 1);
    assert_eq!(
        text(&insn(0x18, 2, 0, 0, 2), Some(&next)),
        "(18) r2 = 0x100000002"
    );
}

#[test]
fn blocks_split_at_jumps_and_targets() {
    let p = [
        insn(0xb7, 0, 0, 0, 0),
        insn(0x15, 1, 0, 1, 0),
        insn(0xb7, 0, 0, 0, 1),
        insn(0x95, 0, 0, 0, 0),
    ];
    let b = cfg::blocks(&p, 0, 4);
    let starts: Vec<usize> = b.iter().map(|b| b.start).collect();
    assert_eq!(starts, vec![0, 2, 3]);
    let lines: Vec<String> = (0..4).map(|i| text(&p[i], None)).collect();
    let dot = cfg::dot(
        &p,
        &[cfg::Func {
            name: "f",
            start: 0,
            end: 4,
        }],
        &lines,
    );
    assert!(dot.starts_with("digraph"));
    assert!(dot.contains("fn_0_bb_1:s -> fn_0_bb_3:n"));
}
