// `btf` verbs on the live kernel: show and dump (raw text and JSON, C) compared with bpftool,
// a CO-RE program built against rbt's vmlinux.h loaded and run, split BTF with -B, bad input.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// bpftool 7.1 prints an unsigned 32-bit enumerator of 2^31 or more sign-extended to 64
/// bits in JSON (text says 4026531839, JSON 18446744073441116159); rbt prints the value.
fn undo_bpftool_enum_sign_extension(types: &mut Value) {
    for t in types.as_array_mut().into_iter().flatten() {
        if t["kind"] != "ENUM" || t["encoding"] != "UNSIGNED" {
            continue;
        }
        for v in t["values"].as_array_mut().into_iter().flatten() {
            if let Some(x) = v["val"].as_u64() {
                if x > u32::MAX as u64 {
                    v["val"] = Value::from(x as u32);
                }
            }
        }
    }
}

#[test]
fn btf_show_matches_bpftool() {
    require_kernel!("btf show");
    let rbt = run_json(&["-j", "btf", "show", "id", "1"]);
    let bpftool = bpftool_json(&["-j", "btf", "show", "id", "1"]);
    assert_eq!(rbt, bpftool);
    assert_eq!(rbt["name"], "vmlinux");
    assert_eq!(rbt["kernel"], true);
    // A loaded program's BTF lists the program and its maps.
    let loaded = Loaded::first_with_maps("maps");
    let prog = run_json(&["-j", "prog", "show", "id", &loaded.id().to_string()]);
    let btf_id = prog["btf_id"].as_u64().expect("btf_id").to_string();
    let rbt = run_json(&["-j", "btf", "show", "id", &btf_id]);
    let mut bpftool = bpftool_json(&["-j", "btf", "show", "id", &btf_id]);
    // bpftool lists the ids in its hash table's order (descending); rbt in increasing order.
    for key in ["prog_ids", "map_ids"] {
        if let Some(ids) = bpftool[key].as_array_mut() {
            ids.sort_by_key(|v| v.as_u64());
        }
    }
    assert_eq!(rbt, bpftool);
    assert!(rbt["prog_ids"]
        .as_array()
        .is_some_and(|p| p.contains(&prog["id"])));
    assert!(!rbt["map_ids"].as_array().is_some_and(Vec::is_empty));
    // The list holds both, in id order, each with bpftool's keys.
    let list = run_json(&["-j", "btf", "list"]);
    let list = list.as_array().expect("array");
    let ids: Vec<u64> = list.iter().filter_map(|b| b["id"].as_u64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids.contains(&1));
    assert!(ids.contains(&btf_id.parse().unwrap_or(0)));
    let table = ok(&["btf", "show"]);
    assert!(table.lines().any(|l| l.contains("vmlinux")), "{table}");
}

#[test]
fn btf_dump_raw_matches_bpftool_text_and_json() {
    require_kernel!("btf dump");
    // vmlinux, every type: text byte for byte, JSON type for type.
    let text = ok(&["btf", "dump", "file", VMLINUX]);
    let (code, want, err) = bpftool(&["btf", "dump", "file", VMLINUX]);
    assert_eq!(code, 0, "{err}");
    assert!(text == want, "raw text differs from bpftool's");
    let mut rbt = run_json(&["-j", "btf", "dump", "file", VMLINUX]);
    let mut bpftool = bpftool_json(&["-j", "btf", "dump", "file", VMLINUX]);
    undo_bpftool_enum_sign_extension(&mut bpftool["types"]);
    let (a, b) = (rbt["types"].take(), bpftool["types"].take());
    assert_eq!(a.as_array().map(Vec::len), b.as_array().map(Vec::len));
    assert!(a == b, "raw JSON differs from bpftool's");
    // The same through `id 1`, and one root type.
    let by_id = ok(&["btf", "dump", "id", "1"]);
    assert!(by_id == want);
    let task = ok(&["btf", "dump", "id", "1", "root_id", "1"]);
    assert_eq!(task.lines().next(), want.lines().next());
}

#[test]
fn btf_dump_of_a_map_and_a_program_matches_bpftool() {
    require_kernel!("btf dump map/prog");
    let loaded = Loaded::first_with_maps("maps");
    let flows = loaded.map("flows");
    let prog = loaded.pin();
    for args in [
        vec!["btf", "dump", "map", "pinned", &flows],
        vec!["btf", "dump", "map", "pinned", &flows, "key"],
        vec!["btf", "dump", "map", "pinned", &flows, "value"],
        vec!["btf", "dump", "map", "pinned", &flows, "kv"],
        vec!["btf", "dump", "map", "pinned", &flows, "all"],
        vec!["btf", "dump", "prog", "pinned", &prog],
    ] {
        let text = ok(&args);
        let (code, want, err) = bpftool(&args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(text, want, "{args:?}");
        let mut j = vec!["-j"];
        j.extend_from_slice(&args);
        let mut b = bpftool_json(&j);
        undo_bpftool_enum_sign_extension(&mut b["types"]);
        assert_eq!(run_json(&j), b, "{args:?}");
        let mut c = args.clone();
        c.extend_from_slice(&["format", "c"]);
        let (code, want, err) = bpftool(&c);
        assert_eq!(code, 0, "{err}");
        assert_eq!(ok(&c), want, "{c:?}");
    }
    let value = ok(&[
        "btf", "dump", "map", "pinned", &flows, "value", "format", "c",
    ]);
    assert!(value.contains("struct flow_val {"), "{value}");
    assert!(value.contains("\tunsigned int lo: 3;"), "{value}");
}

/// A directory under target/ for this test's files, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join(format!("test-btf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn btf_dump_format_c_of_vmlinux_is_bpftools_header() {
    require_kernel!("btf dump format c");
    let ours = ok(&["btf", "dump", "file", VMLINUX, "format", "c"]);
    let (code, want, err) = bpftool(&["btf", "dump", "file", VMLINUX, "format", "c"]);
    assert_eq!(code, 0, "{err}");
    assert!(ours.len() > 1_000_000);
    if ours != want {
        let first = ours
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "format c differs from bpftool at line {}: {:?} vs {:?}",
            first + 1,
            ours.lines().nth(first),
            want.lines().nth(first)
        );
    }
}

#[test]
fn a_core_program_built_on_rbts_vmlinux_h_loads_and_reads_task_struct() {
    require_kernel!("CO-RE tracepoint program");
    let dir = scratch("core");
    let header = ok(&["btf", "dump", "file", VMLINUX, "format", "c"]);
    std::fs::write(dir.join("vmlinux.h"), header).expect("writing vmlinux.h");
    let obj = dir.join("btf_core.bpf.o");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bpf/btf_core.bpf.c");
    // Compiles against rbt's vmlinux.h (in `dir`), or the test fails with clang's errors.
    compile_bpf(BPF_CFLAGS, &dir, &src, &obj);
    let pins = PinDir::new();
    let obj_s = obj.display().to_string();
    let progs = pins.join("p");
    let maps = pins.join("m");
    let (code, _, err) = run(&["prog", "loadall", &obj_s, &progs, "pinmaps", &maps]);
    assert_eq!(code, 0, "loading the CO-RE program: {err}");
    let prog = format!("{progs}/rbt_core_getppid");
    let link = pins.join("link");
    let (code, _, err) = run(&[
        "prog",
        "attach",
        "pinned",
        &prog,
        "tracepoint",
        "syscalls:sys_enter_getppid",
        "--pin",
        &link,
    ]);
    assert_eq!(code, 0, "attaching: {err}");
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    // getppid() from this process fires the tracepoint.
    assert_eq!(std::os::unix::process::parent_id(), parent);
    let dump = run_json(&[
        "-j",
        "map",
        "dump",
        "pinned",
        &format!("{maps}/seen_by_tgid"),
    ]);
    let entries = dump.as_array().expect("entries");
    let mine = entries
        .iter()
        .map(|e| &e["value"])
        .find(|v| v["tgid"].as_u64() == Some(me as u64))
        .unwrap_or_else(|| panic!("no entry for tgid {me}: {dump}"));
    assert_eq!(mine["ppid"].as_u64(), Some(parent as u64), "{mine}");
    assert!(mine["pid"].as_u64().is_some_and(|p| p > 0), "{mine}");
    assert!(
        mine["comm"].as_str().is_some_and(|c| !c.is_empty()),
        "{mine}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A split BTF blob on top of vmlinux: a pointer to vmlinux's `struct task_struct` and a
/// struct using it and vmlinux's `int`.
fn split_blob() -> Vec<u8> {
    let types = run_json(&["-j", "btf", "dump", "file", VMLINUX]);
    let types = types["types"].as_array().expect("types");
    let find = |kind: &str, name: &str| {
        types
            .iter()
            .find(|t| t["kind"] == kind && t["name"] == name)
            .and_then(|t| t["id"].as_u64())
            .unwrap_or_else(|| panic!("vmlinux has no {kind} {name}")) as u32
    };
    let int = find("INT", "int");
    let task = find("STRUCT", "task_struct");
    let next_id = types.len() as u32 + 1;
    let base_strings = std::fs::read(VMLINUX).expect("vmlinux BTF");
    let str_len = u32::from_le_bytes(base_strings[20..24].try_into().unwrap_or([0; 4]));
    let mut strings = b"rbt_mod_thing\0owner\0count\0".to_vec();
    strings.insert(0, 0);
    let off = |i: u32| str_len + i;
    let mut t: Vec<u32> = Vec::new();
    t.extend([0, 2 << 24, task]); // next_id: PTR -> task_struct
    t.extend([off(1), (4 << 24) | 2, 16]); // next_id + 1: struct rbt_mod_thing
    t.extend([off(15), next_id, 0]);
    t.extend([off(21), int, 64]);
    let types_bytes: Vec<u8> = t.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut raw = vec![0x9f, 0xeb, 1, 0];
    for w in [
        24u32,
        0,
        types_bytes.len() as u32,
        types_bytes.len() as u32,
        strings.len() as u32,
    ] {
        raw.extend_from_slice(&w.to_le_bytes());
    }
    raw.extend_from_slice(&types_bytes);
    raw.extend_from_slice(&strings);
    raw
}

#[test]
fn split_btf_is_read_on_its_base_with_base_btf() {
    require_kernel!("btf dump -B");
    let dir = scratch("split");
    let file = dir.join("mod.btf");
    std::fs::write(&file, split_blob()).expect("writing split BTF");
    let f = file.display().to_string();
    for args in [
        vec!["-B", VMLINUX, "btf", "dump", "file", &f],
        vec![
            "--base-btf",
            VMLINUX,
            "btf",
            "dump",
            "file",
            &f,
            "format",
            "c",
        ],
    ] {
        let ours = ok(&args);
        let (code, want, err) = bpftool(
            &args
                .iter()
                .map(|a| if *a == "--base-btf" { "-B" } else { a })
                .collect::<Vec<_>>(),
        );
        assert_eq!(code, 0, "{err}");
        assert!(ours == want, "{args:?} differs from bpftool");
    }
    let raw = ok(&["btf", "dump", "file", &f, "-B", VMLINUX]);
    assert_eq!(raw.lines().count(), 4, "{raw}");
    assert!(
        raw.contains("STRUCT 'rbt_mod_thing' size=16 vlen=2"),
        "{raw}"
    );
    // Without its base: an error that says what to do, nothing on stdout.
    let (code, out, err) = run(&["btf", "dump", "file", &f]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("Error:") && err.contains("base-btf"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_btf_input_is_a_clear_error() {
    require_kernel!("btf bad input");
    // A BTF id that is not there.
    for args in [
        vec!["btf", "dump", "id", "4000000000"],
        vec!["btf", "show", "id", "4000000000"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("no BTF object with id 4000000000"), "{err}");
    }
    let (code, out, _) = run(&["-j", "btf", "dump", "id", "4000000000"]);
    assert_eq!(code, 1);
    assert!(out.contains("\"error\""), "{out}");
    // Corrupt files: a typedef of itself, a struct holding itself, absurd counts, garbage.
    let dir = scratch("bad");
    let blob = |types: &[u32], strings: &[u8]| {
        let tb: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut raw = vec![0x9f, 0xeb, 1, 0];
        for w in [
            24u32,
            0,
            tb.len() as u32,
            tb.len() as u32,
            strings.len() as u32,
        ] {
            raw.extend_from_slice(&w.to_le_bytes());
        }
        raw.extend_from_slice(&tb);
        raw.extend_from_slice(strings);
        raw
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "self_typedef",
            blob(&[1, 8 << 24, 1], b"\0t\0"),
            "contains itself",
        ),
        (
            "self_struct",
            blob(&[1, (4 << 24) | 1, 4, 0, 1, 0], b"\0s\0"),
            "contains itself",
        ),
        (
            "ptr_loop",
            blob(&[0, 2 << 24, 2, 0, 10 << 24, 1], b"\0"),
            "loop",
        ),
        (
            "absurd_vlen",
            blob(&[1, (4 << 24) | 0xffff, 4], b"\0s\0"),
            "run past the end",
        ),
        (
            "missing_type",
            blob(&[0, 2 << 24, 77], b"\0"),
            "does not exist",
        ),
        (
            "garbage",
            b"\x9f\xeb\x01\x00\xff\xff\xff\xff".to_vec(),
            "BTF",
        ),
        (
            "not_btf",
            b"hello world, not BTF at all".to_vec(),
            "neither",
        ),
    ];
    for (name, bytes, why) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let p = path.display().to_string();
        for format in ["raw", "c"] {
            let (code, out, err) = run(&["btf", "dump", "file", &p, "format", format]);
            assert_eq!(code, 1, "{name} {format}: {err}");
            assert!(out.is_empty(), "{name}: wrote {out}");
            assert!(
                err.starts_with("Error:") && err.contains(why),
                "{name}: {err}"
            );
        }
    }
    let (code, _, err) = run(&["btf", "dump", "file", "/nonexistent/x.btf"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot open"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn btf_usage_errors_exit_2() {
    for args in [
        vec!["btf", "dump"],
        vec!["btf", "dump", "id", "1", "key"],
        vec!["btf", "dump", "id", "1", "format", "java"],
        vec!["btf", "dump", "id", "x"],
        vec!["btf", "dump", "id", "1", "file", VMLINUX],
        vec!["-j", "btf", "dump", "id", "1", "format", "c"],
        vec!["btf", "show", "name", "vmlinux"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            !out.contains("struct") && !out.contains("[1]"),
            "{args:?}: {out}"
        );
        assert!(!err.is_empty(), "{args:?}");
    }
}
