// Integration tests of `prog dump xlated|jited` and of full program names (BTF func_info),
// against the live kernel and bpftool (tests/prog.rs holds the other `prog` verbs).

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const XDP: &str = "rbt_dump_long_xdp_program_name";
const TP: &str = "rbt_dump_long_tracepoint_name";

/// rbt's plain listing without its one addition to bpftool's text (`  // <map name>`).
fn without_map_names(text: &str) -> String {
    text.lines()
        .map(|l| l.split("  // ").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fixture's programs, pinned by their full names.
fn dump_fixture() -> Loaded {
    Loaded::progs("prog_dump")
}

#[test]
fn full_names_come_from_btf_like_bpftool() {
    require_kernel!("prog load");
    let loaded = dump_fixture();
    for name in [XDP, TP] {
        let pin = loaded.prog(name);
        let r = run_json(&["-j", "prog", "show", "pinned", &pin]);
        let b = bpftool_json(&["-j", "prog", "show", "pinned", &pin]);
        assert_eq!(r["name"], name);
        assert_eq!(r["name"], b["name"]);
        // The `name` handle takes the full name, as bpftool's does.
        let by_name = run_json(&["-j", "prog", "show", "name", name]);
        let ids: Vec<&Value> = match &by_name {
            Value::Array(a) => a.iter().map(|p| &p["id"]).collect(),
            one => vec![&one["id"]],
        };
        assert!(ids.contains(&&r["id"]), "{by_name}");
        let table = ok(&["prog", "show", "pinned", &pin]);
        assert!(table.contains(name), "{table}");
    }
    // A kernel name shorter than 15 characters is the name.
    let nobtf = load_without_btf();
    let shown = run_json(&["-j", "prog", "show", "pinned", &nobtf.join("prog")]);
    assert_eq!(shown["name"], "rbt_nobtf_xdp");
}

#[test]
fn xlated_plain_and_json_match_bpftool() {
    require_kernel!("prog load");
    let loaded = dump_fixture();
    let mut compared = 0;
    for name in [XDP, TP] {
        let pin = loaded.prog(name);
        for extra in [&[][..], &["opcodes"], &["linum"], &["opcodes", "linum"]] {
            let mut args = vec!["prog", "dump", "xlated", "pinned", &pin];
            args.extend_from_slice(extra);
            if extra.len() < 2 {
                // bpftool takes one option at a time.
                let (code, b, err) = bpftool(&args);
                assert_eq!(code, 0, "{err}");
                let r = ok(&args);
                assert_eq!(without_map_names(&r), without_map_names(&b), "{args:?}");
            }
            let mut jargs = vec!["-j"];
            jargs.extend_from_slice(&args);
            let r = run_json(&jargs);
            let (Some(r), Some(b)) = (
                r.as_array(),
                if extra.len() < 2 {
                    Some(bpftool_json(&jargs))
                } else {
                    None
                }
                .as_ref()
                .and_then(Value::as_array)
                .cloned(),
            ) else {
                assert!(r.as_array().is_some_and(|a| a[0]["opcodes"].is_object()));
                continue;
            };
            assert_eq!(r.len(), b.len(), "{args:?}");
            for (ri, bi) in r.iter().zip(&b) {
                compared += assert_same_fields(ri, bi, &[]);
                assert_eq!(
                    ri.as_object().map(|o| o.len()),
                    bi.as_object()
                        .map(|o| o.len() + usize::from(ri.get("map").is_some())),
                    "rbt adds only `map`: {ri} vs {bi}"
                );
            }
        }
    }
    assert!(compared > 200, "only {compared} fields compared");
}

#[test]
fn xlated_names_maps_helpers_kfuncs_and_subprograms() {
    require_kernel!("prog load");
    let loaded = dump_fixture();
    let pin = loaded.prog(XDP);
    let text = ok(&["prog", "dump", "xlated", "pinned", &pin]);
    assert!(
        text.starts_with("int rbt_dump_long_xdp_program_name(struct xdp_md * ctx):\n"),
        "{text}"
    );
    assert!(text.contains("\n; __u64 *count = bpf_map_lookup_elem(&dump_counts, &key);\n"));
    assert!(
        text.contains("call bpf_iter_num_new#"),
        "kfunc by name: {text}"
    );
    assert!(
        text.contains("_rbt_dump_subprog_add\n"),
        "subprogram: {text}"
    );
    assert!(
        text.contains("int rbt_dump_subprog_add(int a, int b):\n"),
        "{text}"
    );
    assert!(
        text.contains("] = map[id:") || text.contains(" = map[id:"),
        "{text}"
    );
    assert!(text.contains("  // dump_counts\n"), "map name: {text}");
    let json = run_json(&["-j", "prog", "dump", "xlated", "pinned", &pin]);
    let maps: Vec<&Value> = json
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("map"))
        .collect();
    assert!(maps
        .iter()
        .any(|m| m["name"] == "dump_counts" && m["id"].is_u64()));
    let tp = ok(&["prog", "dump", "xlated", "pinned", &loaded.prog(TP)]);
    assert!(
        tp.contains("call bpf_map_lookup_elem") || tp.contains("map[id:"),
        "{tp}"
    );
}

#[test]
fn xlated_file_is_the_raw_image_and_a_failure_writes_nothing() {
    require_kernel!("prog load");
    let loaded = dump_fixture();
    let pin = loaded.prog(XDP);
    let dir = tempfile::tempdir().expect("tempdir");
    let (r, b) = (dir.path().join("r.bin"), dir.path().join("b.bin"));
    let (rs, bs) = (r.display().to_string(), b.display().to_string());
    let (code, out, err) = run(&["-j", "prog", "dump", "xlated", "pinned", &pin, "file", &rs]);
    assert_eq!((code, out.as_str()), (0, "null\n"), "{err}");
    let (code, _, err) = bpftool(&["prog", "dump", "xlated", "pinned", &pin, "file", &bs]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&r).ok(), std::fs::read(&b).ok());
    let shown = run_json(&["-j", "prog", "show", "pinned", &pin]);
    assert_eq!(
        std::fs::metadata(&r).map(|m| m.len()).ok(),
        shown["bytes_xlated"].as_u64()
    );
    // Nowhere to write: exit 1, nothing left in the directory.
    let bad = dir.path().join("missing/x.bin").display().to_string();
    let (code, _, err) = run(&["prog", "dump", "xlated", "pinned", &pin, "file", &bad]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error: writing"), "{err}");
    assert_eq!(entries(dir.path()).len(), 2);
}

#[test]
fn a_vanished_program_is_an_error_and_writes_nothing() {
    require_kernel!("prog load");
    let nobtf = load_without_btf();
    let pin = nobtf.join("prog");
    let id = run_json(&["-j", "prog", "show", "pinned", &pin])["id"]
        .as_u64()
        .expect("id")
        .to_string();
    std::fs::remove_file(&pin).expect("unpin");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("x.bin").display().to_string();
    for code in ["xlated", "jited"] {
        let (rc, out, err) = run(&["prog", "dump", code, "id", &id, "file", &file]);
        assert_eq!(rc, 1, "{out}{err}");
        assert!(err.starts_with("Error: ") && err.contains(&id), "{err}");
        let (rc, out, _) = run(&["-j", "prog", "dump", code, "id", &id]);
        assert_eq!(rc, 1);
        assert!(out.starts_with("{\"error\":"), "{out}");
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_program_without_btf_dumps_without_source_lines() {
    require_kernel!("prog load");
    let nobtf = load_without_btf();
    let pin = nobtf.join("prog");
    let shown = run_json(&["-j", "prog", "show", "pinned", &pin]);
    assert!(shown.get("btf_id").is_none(), "{shown}");
    let args = ["prog", "dump", "xlated", "pinned", &pin];
    let r = ok(&args);
    assert!(!r.contains("; ") && r.contains("(95) exit"), "{r}");
    assert_eq!(r, bpftool(&args).1);
    let (code, out, err) = run(&["prog", "dump", "xlated", "pinned", &pin, "linum"]);
    assert_eq!((code, out), (0, r.clone()));
    assert!(err.contains("has no BTF"), "{err}");
    let jargs = ["-j", "prog", "dump", "xlated", "pinned", &pin];
    assert_eq!(run_json(&jargs), bpftool_json(&jargs));
    let jited = run_json(&["-j", "prog", "dump", "jited", "pinned", &pin]);
    assert!(jited[0].get("proto").is_none(), "{jited}");
    assert!(jited[0]["insns"][0].get("src").is_none(), "{jited}");
}

#[test]
fn jited_listing_splits_functions_and_matches_objdump() {
    require_kernel!("prog load");
    let loaded = dump_fixture();
    let pin = loaded.prog(XDP);
    let json = run_json(&["-j", "prog", "dump", "jited", "pinned", &pin, "opcodes"]);
    let funcs = json.as_array().expect("an array of functions");
    assert_eq!(funcs.len(), 2, "main program and one subprogram");
    assert_eq!(
        funcs[0]["proto"],
        "int rbt_dump_long_xdp_program_name(struct xdp_md * ctx)"
    );
    assert!(funcs[0]["name"].as_str().is_some_and(
        |n| n.starts_with("bpf_prog_") && n.ends_with("_rbt_dump_long_xdp_program_name")
    ));
    assert_eq!(funcs[1]["proto"], "int rbt_dump_subprog_add(int a, int b)");
    let first = &funcs[0]["insns"][0];
    assert_eq!(first["pc"], "0x0");
    assert!(
        first["src"].is_string(),
        "line info on the first insn: {first}"
    );
    for f in funcs {
        for insn in f["insns"].as_array().expect("insns") {
            assert!(
                insn["operation"].is_string() && insn["operands"].is_array(),
                "{insn}"
            );
            assert!(
                insn["opcodes"].as_array().is_some_and(|o| !o.is_empty()),
                "{insn}"
            );
        }
    }
    // The raw image is the sum of the functions; objdump finds the same instructions.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("jit.bin").display().to_string();
    ok(&["prog", "dump", "jited", "pinned", &pin, "file", &bin]);
    let shown = run_json(&["-j", "prog", "show", "pinned", &pin]);
    let image = std::fs::read(&bin).expect("image");
    assert_eq!(Some(image.len() as u64), shown["bytes_jited"].as_u64());
    let total: usize = funcs
        .iter()
        .flat_map(|f| f["insns"].as_array().into_iter().flatten())
        .map(|i| i["opcodes"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(total, image.len());
    let Some(_) = which("objdump") else {
        panic!("objdump (binutils) is needed to check the disassembly");
    };
    let out = Command::new("objdump")
        .args(["-D", "-b", "binary", "-m", "i386:x86-64", &bin])
        .output()
        .expect("objdump");
    let text = String::from_utf8_lossy(&out.stdout);
    let objdump_count = text
        .lines()
        .filter(|l| {
            l.trim_start()
                .split(':')
                .next()
                .is_some_and(|a| u64::from_str_radix(a, 16).is_ok())
        })
        .filter(|l| l.split('\t').nth(2).is_some())
        .count();
    let rbt_count: usize = funcs
        .iter()
        .map(|f| f["insns"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(rbt_count, objdump_count, "{text}");
    let plain = ok(&["prog", "dump", "jited", "pinned", &pin, "linum"]);
    assert!(
        plain.starts_with("int rbt_dump_long_xdp_program_name(struct xdp_md * ctx):\nbpf_prog_")
    );
    assert!(plain.contains("line_num:"), "{plain}");
    // Calls out of a function are named: the kfunc, and the subprogram by its JITed symbol.
    let targets: Vec<&str> = funcs
        .iter()
        .flat_map(|f| f["insns"].as_array().into_iter().flatten())
        .filter_map(|i| i["target"].as_str())
        .collect();
    assert!(targets.contains(&"bpf_iter_num_next"), "{targets:?}");
    let sub = funcs[1]["name"].as_str().expect("subprogram name");
    assert!(targets.contains(&sub), "{targets:?} lacks {sub}");
    assert!(plain.contains(&format!("  // {sub}\n")), "{plain}");
}

#[test]
fn visual_is_a_dot_graph_that_graphviz_renders() {
    require_kernel!("prog load");
    let loaded = dump_fixture();
    let pin = loaded.prog(XDP);
    let dot = ok(&["prog", "dump", "xlated", "pinned", &pin, "visual"]);
    assert!(dot.starts_with("digraph \"DOT graph for eBPF program\" {\n"));
    let (_, bdot, _) = bpftool(&["prog", "dump", "xlated", "pinned", &pin, "visual"]);
    let count = |t: &str, what: &str| t.matches(what).count();
    // The same basic blocks and edges as bpftool's graph.
    assert_eq!(count(&dot, "shape=record"), count(&bdot, "shape=record"));
    assert_eq!(count(&dot, " -> "), count(&bdot, " -> "));
    assert!(which("dot").is_some(), "graphviz (`make deps`) is needed");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("g.dot");
    std::fs::write(&file, &dot).expect("write");
    let out = Command::new("dot")
        .args(["-Tsvg"])
        .arg(&file)
        .output()
        .expect("dot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn bad_dump_words_are_usage_errors() {
    require_kernel!("prog load");
    for bad in [
        &["prog", "dump"][..],
        &["prog", "dump", "xlated"],
        &["prog", "dump", "sideways", "id", "1"],
        &["prog", "dump", "jited", "id", "1", "visual"],
        &[
            "prog", "dump", "xlated", "id", "1", "file", "/tmp/x", "opcodes",
        ],
        &["prog", "dump", "xlated", "id", "1", "bogus"],
        &["prog", "dump", "xlated", "id", "x"],
    ] {
        let (code, out, err) = run(bad);
        assert_eq!(code, 2, "{bad:?}: {out}{err}");
        assert!(
            err.starts_with("Error: ") || err.contains("error:"),
            "{err}"
        );
    }
    let (code, _, err) = run(&["prog", "dump", "xlated", "id", "4294967295"]);
    assert_eq!(code, 1);
    assert!(err.contains("4294967295"), "{err}");
}

/// The no-BTF fixture, loaded with `prog load` at <dir>/prog.
fn load_without_btf() -> PinDir {
    let dir = PinDir::new();
    let obj = fixture_without_btf("prog_nobtf").display().to_string();
    ok(&["prog", "load", &obj, &dir.join("prog")]);
    dir
}

#[test]
fn several_programs_by_name_dump_like_bpftool() {
    require_kernel!("prog load");
    // Other tests load the same fixture meanwhile: compare program by program, by id.
    let (a, b) = (dump_fixture(), dump_fixture());
    let mine = [a.prog_id(TP), b.prog_id(TP)];
    let args = ["-j", "prog", "dump", "xlated", "name", TP];
    let r = run_json(&args);
    let bt = bpftool_json(&args);
    let by_id = |v: &Value, id: u64| {
        v.as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == id)
            .cloned()
    };
    for id in mine {
        let (Some(mut rp), Some(bp)) = (by_id(&r, id), by_id(&bt, id)) else {
            panic!("program {id} missing:\nrbt: {r}\nbpftool: {bt}");
        };
        for insn in rp["insns"].as_array_mut().into_iter().flatten() {
            insn.as_object_mut().map(|o| o.remove("map"));
        }
        assert_eq!(rp, bp);
    }
    let plain = ok(&["prog", "dump", "xlated", "name", TP]);
    for id in mine {
        let head = format!("{id}: tracepoint  name {TP}  tag ");
        assert!(plain.contains(&head), "{plain}");
    }
    // A file or a graph is of one program.
    let (code, _, err) = run(&["prog", "dump", "xlated", "name", TP, "visual"]);
    assert_eq!(code, 1);
    assert!(err.contains("several programs match"), "{err}");
}

#[test]
fn completion_offers_full_names() {
    require_kernel!("prog load");
    let _loaded = dump_fixture();
    let out = rbt()
        .env("RBT_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "4")
        .env("_CLAP_IFS", "\n")
        .args(["--", "rbt", "prog", "show", "name", "rbt_dump_long_x"])
        .output()
        .expect("rbt completion");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l == XDP), "{text}");
}
