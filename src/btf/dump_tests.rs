// Unit tests of BTF reading on corrupt input (loops, self-reference, absurd counts: errors,
// never a hang or a stack overflow), split BTF, and the raw and C dumpers on small blobs.

use super::testing::Builder;
use super::{c_dump, raw_dump, Btf, Type};

fn err_of(raw: &[u8]) -> String {
    match Btf::from_raw(raw) {
        Ok(_) => panic!("corrupt BTF was accepted"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_typedef_naming_itself_is_an_error() {
    let mut b = Builder::new();
    let id = b.next_id;
    b.typedef("loop_t", id);
    assert!(err_of(&b.raw()).contains("contains itself"));
}

#[test]
fn a_struct_holding_itself_by_value_is_an_error() {
    let mut b = Builder::new();
    let int = b.int("int", 4, 1);
    let id = b.next_id;
    b.composite(false, "s", 8, &[("a", int, 0, 0), ("me", id, 32, 0)]);
    assert!(err_of(&b.raw()).contains("contains itself"));
}

#[test]
fn a_loop_through_an_array_and_modifiers_is_an_error() {
    let mut b = Builder::new();
    let int = b.int("int", 4, 1);
    // 2: const -> 3: array of 2
    let c = b.konst(3);
    b.array(c, int, 4);
    assert!(err_of(&b.raw()).contains("contains itself"));
}

#[test]
fn a_pointer_loop_without_a_struct_is_an_error() {
    let mut b = Builder::new();
    // 1: ptr -> 2: const -> 1
    b.ptr(2);
    b.konst(1);
    assert!(err_of(&b.raw()).contains("loop of pointers"));
}

#[test]
fn a_list_head_pointing_at_itself_is_fine() {
    let mut b = Builder::new();
    let p = b.ptr(2);
    let s = b.composite(
        false,
        "list_head",
        16,
        &[("next", p, 0, 0), ("prev", p, 64, 0)],
    );
    let btf = b.build();
    assert_eq!(btf.size_of(s).ok(), Some(16));
    let h = c_dump::header(&btf, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        h.contains("struct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};"),
        "{h}"
    );
}

#[test]
fn a_reference_past_the_last_type_is_an_error() {
    let mut b = Builder::new();
    b.ptr(99);
    assert!(err_of(&b.raw()).contains("does not exist"));
}

#[test]
fn absurd_counts_and_lengths_are_errors() {
    // A struct claiming 65535 members with none there.
    let mut b = Builder::new();
    b.raw_type(&[0, (4 << 24) | 0xffff, 8]);
    assert!(err_of(&b.raw()).contains("run past the end"));
    // A type section length far past the end of the blob.
    let mut raw = Builder::new().raw();
    raw[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err_of(&raw).contains("out of bounds"));
    // A header length past the end.
    let mut raw = Builder::new().raw();
    raw[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(err_of(&raw).contains("out of bounds"));
    // An unknown kind, a truncated type.
    let mut b = Builder::new();
    b.raw_type(&[0, 31 << 24, 0]);
    assert!(err_of(&b.raw()).contains("unknown BTF kind"));
    let mut b = Builder::new();
    b.raw_type(&[0, 1 << 24]);
    assert!(err_of(&b.raw()).contains("truncated"));
    // An array whose size overflows.
    let mut b = Builder::new();
    let int = b.int("long", 8, 1);
    let a = b.array(int, int, u32::MAX);
    let a2 = b.array(a, int, u32::MAX);
    let btf = b.build();
    assert!(btf.size_of(a2).is_err());
}

#[test]
fn a_very_long_modifier_chain_is_an_error_not_a_stack_overflow() {
    let mut b = Builder::new();
    let mut id = b.int("int", 4, 1);
    for _ in 0..200_000 {
        id = b.konst(id);
    }
    let t = b.typedef("deep_t", id);
    let btf = b.build();
    assert!(btf.size_of(t).is_err());
    assert!(!btf.type_name(t).is_empty());
    let e = c_dump::header(&btf, &[]).err().map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("deeper than")));
}

#[test]
fn garbage_never_panics() {
    // Every prefix of a valid blob, and every single-byte corruption of it, reads or errors.
    let mut b = Builder::new();
    let int = b.int("int", 4, 1);
    let p = b.ptr(3);
    b.composite(false, "s", 16, &[("a", int, 0, 0), ("next", p, 64, 0)]);
    let proto = b.func_proto(int, &[("x", int), ("", 0)]);
    b.func("f", proto, 1);
    let raw = b.raw();
    for n in 0..raw.len() {
        let _ = Btf::from_raw(&raw[..n]);
    }
    for i in 0..raw.len() {
        for v in [0u8, 0x7f, 0xff] {
            let mut bad = raw.clone();
            bad[i] = v;
            if let Ok(btf) = Btf::from_raw(&bad) {
                let _ = c_dump::header(&btf, &[]);
                let _ = raw_dump::text(&btf, &raw_dump::ids(&btf, &[]));
            }
        }
    }
}

#[test]
fn split_btf_continues_its_base() {
    let mut b = Builder::new();
    let int = b.int("int", 4, 1);
    let base = b.build();
    let mut s = Builder::split(&base);
    let p = s.ptr(int);
    let st = s.composite(
        false,
        "mod_thing",
        16,
        &[("count", int, 0, 0), ("ptr", p, 64, 0)],
    );
    let split = Btf::from_raw_split(&s.raw(), &base).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(split.start_id(), 2);
    assert_eq!(split.name_of(st), "mod_thing");
    assert_eq!(split.name_of(int), "int");
    let text = raw_dump::text(&split, &raw_dump::ids(&split, &[]));
    assert_eq!(
        text,
        "[2] PTR '(anon)' type_id=1\n[3] STRUCT 'mod_thing' size=16 vlen=2\n\t'count' type_id=1 bits_offset=0\n\t'ptr' type_id=2 bits_offset=64\n"
    );
    // Without its base the split blob's type ids point at the wrong types.
    assert!(Btf::from_raw(&s.raw()).is_err());
}

#[test]
fn raw_text_and_json_have_bpftools_shape() {
    let mut b = Builder::new();
    let int = b.int("int", 4, 1);
    let e = b.enum32("e", 4, false, &[("A", -1), ("B", 2)]);
    let e64 = b.enum64("big", 8, true, &[("M", u64::MAX)]);
    let fwd = b.fwd("later", true);
    let proto = b.func_proto(int, &[("x", int), ("", 0)]);
    let f = b.func("f", proto, 1);
    let tag = b.decl_tag("k", f, -1);
    let btf = b.build();
    let text = raw_dump::text(&btf, &[e, e64, fwd, f, tag]);
    assert_eq!(
        text,
        "[2] ENUM 'e' encoding=UNSIGNED size=4 vlen=2\n\t'A' val=4294967295\n\t'B' val=2\n\
         [3] ENUM64 'big' encoding=SIGNED size=8 vlen=1\n\t'M' val=-1LL\n\
         [4] FWD 'later' fwd_kind=union\n\
         [6] FUNC 'f' type_id=5 linkage=global\n\
         [7] DECL_TAG 'k' type_id=6 component_idx=-1\n"
    );
    let json = serde_json::to_value(raw_dump::RawJson {
        btf: &btf,
        ids: &[int, proto],
    })
    .unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({"types": [
            {"id": 1, "kind": "INT", "name": "int", "size": 4, "bits_offset": 0, "nr_bits": 32, "encoding": "SIGNED"},
            {"id": 5, "kind": "FUNC_PROTO", "name": "(anon)", "ret_type_id": 1, "vlen": 2,
             "params": [{"name": "x", "type_id": 1}, {"name": "(anon)", "type_id": 0}]}
        ]})
    );
}

#[test]
fn c_header_declares_layout_exactly() {
    let mut b = Builder::new();
    let int = b.int("int", 4, 1);
    let ch = b.int("char", 1, 2);
    let cc = b.konst(ch);
    let pcc = b.ptr(cc);
    let arr = b.array(ch, int, 3);
    // int (*cb)(int, ...)
    let proto = b.func_proto(int, &[("x", int), ("", 0)]);
    let pf = b.ptr(proto);
    let anon_enum = b.enum32("", 4, false, &[("ONE", 1)]);
    // struct odd { char c[3]; int n: 4; (pad) const char *name; int (*cb)(int, ...); } size 32
    let odd = b.composite(
        false,
        "odd",
        32,
        &[
            ("c", arr, 0, 0),
            ("n", int, 24, 4),
            ("name", pcc, 64, 0),
            ("cb", pf, 128, 0),
        ],
    );
    let td = b.typedef("odd_t", odd);
    let btf = b.build();
    assert!(matches!(btf.get(td), Ok(Type::Typedef { .. })));
    let _ = anon_enum;
    let h = c_dump::header(&btf, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let want = "struct odd {\n\tchar c[3];\n\tint n: 4;\n\tconst char *name;\n\tint (*cb)(int x, ...);\n\tlong: 64;\n};\n\ntypedef struct odd odd_t;\n\n";
    assert!(h.contains(want), "{h}");
    assert!(h.contains("enum {\n\tONE = 1,\n};"), "{h}");
    assert!(h.starts_with("#ifndef __VMLINUX_H__\n"));
    assert!(h.ends_with("#endif /* __VMLINUX_H__ */\n"));
}
