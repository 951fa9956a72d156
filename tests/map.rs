// Live-kernel tests of the `map` verbs: every map type a BPF object can define, typed (BTF)
// dumps compared with bpftool's `formatted`, typed and byte input, bulk updates, bad input.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

/// bpftool prints bitfields as hex strings ("0x6"); rbt prints numbers. Convert bpftool's
/// for comparison (only strings that are hex numbers, only under `fields`).
fn numbers_for_hex(v: &mut Value, fields: &[&str]) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if fields.contains(&k.as_str()) {
                    if let Some(s) = x.as_str().and_then(|s| s.strip_prefix("0x")) {
                        *x = json!(u64::from_str_radix(s, 16).expect("hex bitfield"));
                        continue;
                    }
                }
                numbers_for_hex(x, fields);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| numbers_for_hex(x, fields)),
        _ => {}
    }
}

/// bpftool's `formatted` of each element, keyed and sorted like rbt's typed dump.
fn bpftool_formatted(path: &str) -> Vec<Value> {
    let mut all = bpftool_json(&["-j", "map", "dump", "pinned", path]);
    numbers_for_hex(&mut all, &["lo", "mid", "hi"]);
    let mut v: Vec<Value> = all
        .as_array()
        .expect("bpftool dump array")
        .iter()
        .map(|e| e["formatted"].clone())
        .collect();
    v.sort_by_cached_key(|e| e.to_string());
    v
}

fn rbt_dump_sorted(path: &str) -> Vec<Value> {
    let mut v: Vec<Value> = run_json(&["-j", "map", "dump", path])
        .as_array()
        .expect("rbt dump array")
        .clone();
    v.sort_by_cached_key(|e| e.to_string());
    v
}

const FLOW_KEY: &str =
    r#"{"saddr":16777226,"daddr":33554442,"sport":20480,"dport":47873,"proto":"PROTO_TCP"}"#;
const FLOW_VAL: &str = r#"{"packets":5,"bytes":1500,"ifname":"eth0","in":{"delta":-3,"flags":[1,2,3]},"lo":5,"mid":17,"hi":1000000,"u":{"as_bytes":[1,2,3,4]},"seen":true,"delta64":-9}"#;

#[test]
fn show_matches_bpftool() {
    require_kernel!("map show");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    for name in ["flows", "progs", "pc_arr", "lpm", "queue"] {
        let path = dir.join(name);
        let r = run_json(&["-j", "map", "show", "pinned", &path]);
        let b = bpftool_json(&["-j", "map", "show", "pinned", &path]);
        let n = common::assert_same_fields(&r, &b, &["pids"]);
        assert!(n >= 9, "{name}: compared only {n} fields");
        assert_eq!(r["name"], json!(name));
    }
    let r = run_json(&["-j", "-f", "map", "show", "pinned", &dir.join("lpm")]);
    assert_eq!(r["pinned"], json!([dir.join("lpm")]));
    assert_eq!(r["flags"], json!(1));
    let table = ok(&["map", "show", "pinned", &dir.join("lpm")]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("lpm_trie") && table.contains("no_prealloc"),
        "{table}"
    );
    let all = run_json(&["-j", "map", "list"]);
    assert!(all
        .as_array()
        .is_some_and(|a| a.iter().any(|m| m["id"] == r["id"])));
    let (code, out, err) = run(&["-j", "map", "show", "pinned", &dir.join("nope")]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("\"error\""), "{out}");
}

#[test]
fn typed_dumps_match_bpftool_formatted() {
    require_kernel!("map dump");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    let flows = dir.join("flows");
    ok(&["map", "update", &flows, "key", FLOW_KEY, "value", FLOW_VAL]);
    ok(&[
        "map",
        "update",
        &flows,
        "key",
        r#"{"saddr":1,"proto":"PROTO_UDP"}"#,
        "value",
        r#"{"packets":1}"#,
    ]);
    let arr = dir.join("arr");
    ok(&["map", "update", &arr, "key", "2", "value", FLOW_VAL]);
    ok(&[
        "map",
        "update",
        &dir.join("pc_hash"),
        "key",
        "7",
        "value",
        "99",
    ]);
    ok(&[
        "map",
        "update",
        &dir.join("pc_arr"),
        "key",
        "1",
        "value",
        r#"[{"cpu":0,"value":{"delta":-1,"flags":[9,9,9]}}]"#,
    ]);
    ok(&[
        "map",
        "update",
        &dir.join("lru"),
        "key",
        FLOW_KEY,
        "value",
        "12345678901234",
    ]);
    ok(&[
        "map",
        "update",
        &dir.join("lru_pc"),
        "key",
        "3",
        "value",
        "4",
    ]);
    ok(&[
        "map",
        "update",
        &dir.join("lpm"),
        "key",
        r#"{"prefixlen":24,"addr":[10,0,0,0]}"#,
        "value",
        "1",
    ]);
    for name in ["flows", "arr", "pc_hash", "pc_arr", "lru", "lru_pc", "lpm"] {
        let path = dir.join(name);
        let r = rbt_dump_sorted(&path);
        let b = bpftool_formatted(&path);
        assert!(!r.is_empty(), "{name}: empty dump");
        assert_eq!(
            r, b,
            "{name}: rbt's typed dump differs from bpftool's formatted"
        );
    }
    // The values as typed, not just "equal to bpftool".
    let one = run_json(&["-j", "map", "lookup", &flows, "key", FLOW_KEY]);
    assert_eq!(one["value"]["ifname"], json!("eth0"));
    assert_eq!(one["value"]["in"]["delta"], json!(-3));
    assert_eq!(one["value"]["hi"], json!(1000000));
    assert_eq!(one["value"]["delta64"], json!(-9));
    assert_eq!(one["value"]["u"]["as_u32"], json!(0x04030201));
    assert_eq!(one["key"]["proto"], json!("PROTO_TCP"));
    let pc = run_json(&["-j", "map", "dump", &dir.join("pc_hash")]);
    assert_eq!(pc[0]["values"][0], json!({"cpu":0,"value":99}));
    let table = ok(&["map", "dump", &dir.join("pc_hash")]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["KEY", "CPU", "VALUE"]
    );
    assert_eq!(
        rows[1].split_whitespace().collect::<Vec<_>>(),
        ["7", "0", "99"]
    );
    assert_eq!(rows[2].split_whitespace().collect::<Vec<_>>(), ["1", "99"]);
    // --raw is bpftool's exact shape.
    let raw = run_json(&["-j", "map", "dump", &flows, "--raw"]);
    let mut braw = bpftool_json(&["-j", "map", "dump", "pinned", &flows]);
    numbers_for_hex(&mut braw, &["lo", "mid", "hi"]);
    let sort = |v: &Value| {
        let mut a = v.as_array().cloned().unwrap_or_default();
        a.sort_by_cached_key(|e| e.to_string());
        a
    };
    assert_eq!(sort(&raw), sort(&braw));
    // Pretty JSON is the same document.
    assert_eq!(
        run_json(&["-p", "map", "dump", &flows]),
        run_json(&["-j", "map", "dump", &flows])
    );
    let (_, pretty, _) = run(&["-p", "map", "dump", &flows]);
    assert!(
        pretty.starts_with("[\n    {\n        \"key\": {"),
        "{pretty}"
    );
    // Table mode: a header and one row per element (per-CPU: one per CPU).
    let table = ok(&["map", "dump", &flows]);
    assert!(
        table.starts_with("KEY") && table.contains("PROTO_UDP") && table.contains("\"eth0\""),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[test]
fn map_in_map_and_prog_array_values_are_ids() {
    require_kernel!("map prog_array");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    let prog_id = run_json(&["-j", "prog", "show", "pinned", &maps.pin()])["id"].clone();
    let inner_id = run_json(&["-j", "map", "show", "pinned", &dir.join("inner1")])["id"].clone();
    let progs = dir.join("progs");
    ok(&[
        "map",
        "update",
        &progs,
        "key",
        "0",
        "0",
        "0",
        "0",
        "value",
        "pinned",
        &maps.pin(),
    ]);
    assert_eq!(
        run_json(&["-j", "map", "dump", &progs]),
        json!([{"key":0,"value":prog_id}])
    );
    let aom = dir.join("aom");
    assert_eq!(
        run_json(&["-j", "map", "dump", &aom]),
        json!([{"key":0,"value":inner_id}])
    );
    let hom = dir.join("hom");
    ok(&[
        "map",
        "update",
        &hom,
        "key",
        "5",
        "value",
        "id",
        &inner_id.to_string(),
    ]);
    assert_eq!(
        run_json(&["-j", "map", "lookup", &hom, "key", "5"]),
        json!({"key":5,"value":inner_id})
    );
    let b = bpftool_json(&[
        "-j", "map", "lookup", "pinned", &hom, "key", "5", "0", "0", "0",
    ]);
    let raw = run_json(&["-j", "map", "dump", &hom, "--raw"]);
    assert_eq!(raw[0]["value"], b["value"]);
    // A value that is not a handle is refused.
    let (code, _, err) = run(&[
        "map", "update", &progs, "key", "1", "value", "1", "0", "0", "0",
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn undumpable_types_name_the_verb_that_reads_them() {
    require_kernel!("map dump errors");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    for (name, verb) in [
        ("rb", "perf events"),
        ("perf", "perf events"),
        ("queue", "map pop"),
        ("stack", "map peek"),
    ] {
        let (code, out, err) = run(&["map", "dump", &dir.join(name)]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            err.contains("cannot be dumped") && err.contains(verb),
            "{name}: {err}"
        );
    }
}

#[test]
fn lookup_update_delete_getnext() {
    require_kernel!("map elements");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    let pc = dir.join("pc_hash");
    // bpftool's byte syntax, decimal, hex and the `hex` keyword.
    ok(&[
        "map", "update", &pc, "key", "1", "0", "0", "0", "value", "0x2a", "0", "0", "0", "0", "0",
        "0", "0",
    ]);
    ok(&[
        "map", "update", &pc, "key", "hex", "02", "00", "00", "00", "value", "hex", "ff", "00",
        "00", "00", "00", "00", "00", "00",
    ]);
    let b = bpftool_json(&[
        "-j", "map", "lookup", "pinned", &pc, "key", "2", "0", "0", "0",
    ]);
    assert_eq!(b["formatted"]["values"][1]["value"], json!(255));
    assert_eq!(
        run_json(&["-j", "map", "lookup", &pc, "key", "1"])["values"][1]["value"],
        json!(42)
    );
    // noexist on an existing key fails and leaves the value.
    let (code, _, err) = run(&["map", "update", &pc, "key", "1", "value", "7", "noexist"]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    assert_eq!(
        run_json(&["-j", "map", "lookup", &pc, "key", "1"])["values"][0]["value"],
        json!(42)
    );
    // Lookup of a missing key: exit 1, `null` in JSON, "key not found" on stderr.
    let (code, out, err) = run(&["-j", "map", "lookup", &pc, "key", "9"]);
    assert_eq!((code, out.as_str()), (1, "null\n"));
    assert!(err.contains("key not found"), "{err}");
    // getnext from the start and after a key.
    let first = run_json(&["-j", "map", "getnext", &pc]);
    assert!(first["key"].is_null());
    let k = first["next_key"].as_u64().expect("next key");
    let next = run_json(&["-j", "map", "getnext", &pc, "key", &k.to_string()]);
    assert_eq!(next["key"], json!(k));
    assert!(
        next["next_key"] == json!(1) || next["next_key"] == json!(2),
        "{next}"
    );
    let bn = bpftool_json(&["-j", "map", "getnext", "pinned", &pc]);
    assert_eq!(bn["next_key"][0], json!(format!("0x{k:02x}")));
    // delete, then the key is gone; deleting it again is "key not found".
    ok(&["map", "delete", &pc, "key", "1", "0", "0", "0"]);
    let (code, _, err) = run(&["map", "delete", &pc, "key", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("key not found"), "{err}");
    assert_eq!(rbt_dump_sorted(&pc).len(), 1);
    // --key-type / --value-type.
    let lpm = dir.join("lru");
    let typed = run_json(&[
        "-j",
        "map",
        "dump",
        &dir.join("pc_hash"),
        "--key-type",
        "be32",
        "--value-type",
        "hex",
    ]);
    assert_eq!(typed[0]["key"], json!(0x0200_0000));
    assert_eq!(typed[0]["values"][0]["value"], json!("0xff00000000000000"));
    let (code, _, err) = run(&["map", "dump", &lpm, "--key-type", "u32"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("16 bytes"), "{err}");
}

#[test]
fn bad_input_fails_cleanly_and_changes_nothing() {
    require_kernel!("map bad input");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    let flows = dir.join("flows");
    ok(&["map", "update", &flows, "key", FLOW_KEY, "value", FLOW_VAL]);
    let before = rbt_dump_sorted(&flows);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["key", "1", "2", "3", "value", "1"],
            "key expected 16 bytes got 3",
        ),
        (
            vec![
                "key", "1", "256", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
                "0", "value", "{}",
            ],
            "byte 256",
        ),
        (vec!["key", r#"{"saddr":"#, "value", "{}"], "malformed JSON"),
        (
            vec!["key", r#"{"saddr":1,"bogus":2}"#, "value", "{}"],
            "valid members: saddr, daddr, sport, dport, proto",
        ),
        (
            vec!["key", r#"{"sport":70000}"#, "value", "{}"],
            "out of range",
        ),
        (
            vec!["key", r#"{"proto":"PROTO_SCTP"}"#, "value", "{}"],
            "PROTO_TCP, PROTO_UDP",
        ),
        (
            vec![
                "key",
                FLOW_KEY,
                "value",
                r#"{"ifname":"much-too-long-name"}"#,
            ],
            "too long",
        ),
    ];
    for (args, msg) in cases {
        let mut full = vec!["map", "update", flows.as_str()];
        full.extend(args.iter());
        let (code, _, err) = run(&full);
        assert_eq!(code, 1, "{full:?}: {err}");
        assert!(err.contains(msg), "{full:?}: expected `{msg}` in {err}");
    }
    assert_eq!(rbt_dump_sorted(&flows), before);
    // A missing map.
    let (code, _, err) = run(&["map", "dump", "name", "rbt_no_such_map_x"]);
    assert_eq!(code, 1);
    assert!(err.contains("no map matches"), "{err}");
    // A full map: the 17th element of a 16-entry LRU-less hash (pc_hash).
    let pc = dir.join("pc_hash");
    let lines: String = (0..16)
        .map(|i| format!("{{\"key\":{i},\"value\":{i}}}\n"))
        .collect();
    let (code, _, err) = run_stdin(&["map", "update", &pc, "--from", "-"], &lines);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["map", "update", &pc, "key", "100", "value", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("full"), "{err}");
    assert_eq!(rbt_dump_sorted(&pc).len(), 16);
    // A frozen map refuses updates from user space.
    let arr = dir.join("arr");
    ok(&[
        "map",
        "update",
        &arr,
        "key",
        "1",
        "value",
        r#"{"packets":3}"#,
    ]);
    ok(&["map", "freeze", &arr]);
    assert_eq!(run_json(&["-j", "map", "show", &arr])["frozen"], json!(1));
    let (code, _, err) = run(&[
        "map",
        "update",
        &arr,
        "key",
        "1",
        "value",
        r#"{"packets":4}"#,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("frozen"), "{err}");
    assert_eq!(
        run_json(&["-j", "map", "lookup", &arr, "key", "1"])["value"]["packets"],
        json!(3)
    );
}

#[test]
fn update_from_reports_bad_lines_and_round_trips() {
    require_kernel!("map update --from");
    let a = Loaded::first_with_maps("maps");
    let b = Loaded::first_with_maps("maps");
    let fa = a.map("flows");
    let fb = b.map("flows");
    for i in 0..40u32 {
        let key = format!(r#"{{"saddr":{i},"sport":{},"proto":"PROTO_UDP"}}"#, i * 7);
        let val = format!(
            r#"{{"packets":{},"ifname":"if{i}","in":{{"delta":-{i}}},"mid":{},"u":{{"as_u32":{}}},"seen":true}}"#,
            i * 1000,
            i % 32,
            i * 3
        );
        ok(&["map", "update", &fa, "key", &key, "value", &val]);
    }
    // dump -> update --from -> dump is identical.
    let dump = ok(&["-j", "map", "dump", &fa]);
    let (code, _, err) = run_stdin(&["map", "update", &fb, "--from", "-"], &dump);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rbt_dump_sorted(&fb), rbt_dump_sorted(&fa));
    assert_eq!(rbt_dump_sorted(&fb).len(), 40);
    // The same through bpftool's --raw shape, into an emptied map.
    ok(&["map", "delete", &fb, "--all"]);
    assert!(rbt_dump_sorted(&fb).is_empty());
    let raw = bpftool(&["-j", "map", "dump", "pinned", &fa]).1;
    let raw_lines: String = serde_json::from_str::<Value>(&raw)
        .expect("bpftool JSON")
        .as_array()
        .expect("array")
        .iter()
        .map(|e| json!({"key": e["key"], "value": e["value"]}).to_string() + "\n")
        .collect();
    let (code, _, err) = run_stdin(&["map", "update", &fb, "--from", "-"], &raw_lines);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rbt_dump_sorted(&fb), rbt_dump_sorted(&fa));
    // bpftool's own output as it is (the whole array on one line), and rbt's pretty dump.
    for input in [raw.clone(), ok(&["-p", "map", "dump", &fa])] {
        ok(&["map", "delete", &fb, "--all"]);
        let (code, _, err) = run_stdin(&["map", "update", &fb, "--from", "-"], &input);
        assert_eq!(code, 0, "{err}");
        assert_eq!(rbt_dump_sorted(&fb), rbt_dump_sorted(&fa));
    }
    // A bad line: reported with its number; lines before it applied, none after.
    let pc = a.map("pc_hash");
    let input = "{\"key\":1,\"value\":10}\n{\"key\":2,\"value\":20}\n{\"key\":3,\"valu\":30}\n{\"key\":4,\"value\":40}\n";
    let (code, _, err) = run_stdin(&["map", "update", &pc, "--from", "-"], input);
    assert_eq!(code, 1);
    assert!(err.contains("line 3"), "{err}");
    let keys: Vec<Value> = rbt_dump_sorted(&pc)
        .iter()
        .map(|e| e["key"].clone())
        .collect();
    assert_eq!(keys, vec![json!(1), json!(2)]);
    // --keep-going applies the rest and still exits 1.
    let (code, _, err) = run_stdin(
        &["map", "update", &pc, "--from", "-", "--keep-going"],
        input,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("line 3") && err.contains("1 bad lines skipped"),
        "{err}"
    );
    assert_eq!(rbt_dump_sorted(&pc).len(), 3);
    // A file that does not exist.
    let (code, _, err) = run(&["map", "update", &pc, "--from", "/nonexistent/rbt.jsonl"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/rbt.jsonl"), "{err}");
}

#[test]
fn hundred_thousand_entries_match_bpftool_entry_for_entry() {
    require_kernel!("map dump 100k");
    let maps = Loaded::first_with_maps("maps_big");
    let dir = &maps.dir;
    let big = dir.join("big");
    let input: String = (0..100_000u32)
        .map(|i| {
            let kind = if i % 3 == 0 {
                "\"KIND_A\"".to_string()
            } else {
                (i % 5).to_string()
            };
            format!(
                "{{\"key\":{i},\"value\":{{\"packets\":{},\"kind\":{kind},\"tag\":\"t{}\"}}}}\n",
                u64::from(i) * 1_000_003,
                i % 100
            )
        })
        .collect();
    let (code, _, err) = run_stdin(&["map", "update", &big, "--from", "-"], &input);
    assert_eq!(code, 0, "{err}");
    let rbt: Vec<Value> = run_json(&["-j", "map", "dump", &big, "--raw"])
        .as_array()
        .expect("array")
        .clone();
    let bpf: Vec<Value> = bpftool_json(&["-j", "map", "dump", "pinned", &big])
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(rbt.len(), 100_000);
    assert_eq!(bpf.len(), 100_000);
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_cached_key(|e| e.to_string());
        v
    };
    let (rbt, bpf) = (sorted(rbt), sorted(bpf));
    for (r, b) in rbt.iter().zip(bpf.iter()) {
        assert_eq!(r, b);
    }
    let k = run_json(&["-j", "map", "lookup", &big, "key", "99998"]);
    assert_eq!(
        k["value"],
        json!({"packets": 99_998u64 * 1_000_003, "kind": 3, "tag": "t98"})
    );
    let k = run_json(&["-j", "map", "lookup", &big, "key", "3"]);
    assert_eq!(k["value"]["kind"], json!("KIND_A"));
    // A reader that goes away (`| head -1`) is not an error.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-j", "map", "dump", &big])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning rbt");
    let mut first = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("first line");
    }
    let out = child.wait_with_output().expect("waiting for rbt");
    assert!(first.starts_with("[{\"key\":"), "{first}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&["map", "delete", &big, "--all"]);
    assert_eq!(run_json(&["-j", "map", "dump", &big]), json!([]));
}

#[test]
fn create_pin_freeze_and_queues() {
    require_kernel!("map create");
    let dir = PinDir::new();
    let h = dir.join("h");
    ok(&[
        "map",
        "create",
        &h,
        "type",
        "hash",
        "key",
        "4",
        "value",
        "8",
        "entries",
        "16",
        "name",
        "rbt_c_h",
        "flags",
        "no_prealloc,rdonly_prog",
    ]);
    let s = run_json(&["-j", "map", "show", &h]);
    assert_eq!(s["type"], json!("hash"));
    assert_eq!(s["flags"], json!(129));
    assert_eq!(s["max_entries"], json!(16));
    ok(&["map", "update", &h, "key", "1", "value", "2"]);
    assert_eq!(
        run_json(&["-j", "map", "dump", &h]),
        json!([{"key":1,"value":2}])
    );
    let b = bpftool_json(&["-j", "map", "dump", "pinned", &h]);
    assert_eq!(
        b[0]["value"],
        json!(["0x02", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00"])
    );
    // pin under a second name.
    let h2 = dir.join("h2");
    ok(&["map", "pin", &h, &h2]);
    assert_eq!(run_json(&["-j", "map", "show", &h2])["id"], s["id"]);
    // map-in-map with an inner map.
    let outer = dir.join("outer");
    ok(&[
        "map",
        "create",
        &outer,
        "type",
        "array_of_maps",
        "key",
        "4",
        "value",
        "4",
        "entries",
        "2",
        "name",
        "rbt_c_o",
        "inner_map",
        "pinned",
        &h,
    ]);
    ok(&["map", "update", &outer, "key", "0", "value", "pinned", &h]);
    assert_eq!(
        run_json(&["-j", "map", "lookup", &outer, "key", "0"])["value"],
        s["id"]
    );
    // Bad create: unknown type / flag is a usage error, nothing pinned.
    let bad = dir.join("bad");
    let (code, _, err) = run(&[
        "map", "create", &bad, "type", "hashy", "key", "4", "value", "4", "entries", "1", "name",
        "x",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown map type"), "{err}");
    let (code, _, err) = run(&[
        "map", "create", &bad, "type", "hash", "key", "4", "value", "4", "entries", "1", "name",
        "x", "flags", "bogus",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no_prealloc"), "{err}");
    let (code, _, _) = run(&[
        "map", "create", &bad, "type", "hash", "key", "0", "value", "4", "entries", "1", "name",
        "x",
    ]);
    assert_eq!(code, 1);
    assert!(!std::path::Path::new(&bad).exists());
    // queue and stack.
    let q = dir.join("q");
    ok(&[
        "map", "create", &q, "type", "queue", "key", "0", "value", "4", "entries", "2", "name",
        "rbt_c_q",
    ]);
    ok(&["map", "push", &q, "value", "5"]);
    ok(&["map", "enqueue", &q, "value", "6", "0", "0", "0"]);
    let (code, _, err) = run(&["map", "push", &q, "value", "7"]);
    assert_eq!(code, 1, "a full queue");
    assert!(err.contains("full"), "{err}");
    assert_eq!(run_json(&["-j", "map", "peek", &q]), json!({"value":5}));
    assert_eq!(run_json(&["-j", "map", "pop", &q]), json!({"value":5}));
    assert_eq!(run_json(&["-j", "map", "dequeue", &q]), json!({"value":6}));
    let (code, out, _) = run(&["-j", "map", "pop", &q]);
    assert_eq!((code, out.as_str()), (1, "null\n"));
    let st = dir.join("st");
    ok(&[
        "map", "create", &st, "type", "stack", "key", "0", "value", "8", "entries", "4", "name",
        "rbt_c_s",
    ]);
    ok(&["map", "push", &st, "value", "1"]);
    ok(&["map", "push", &st, "value", "2"]);
    assert_eq!(run_json(&["-j", "map", "pop", &st]), json!({"value":2}));
    let bp = bpftool_json(&["-j", "map", "peek", "pinned", &st]);
    assert_eq!(bp["value"][0], json!("0x01"));
    let (code, _, err) = run(&["map", "peek", &h]);
    assert_eq!(code, 1);
    assert!(err.contains("queue, stack"), "{err}");
}

#[test]
fn a_name_matching_several_maps_dumps_each_like_bpftool() {
    require_kernel!("map dump several");
    let dir = PinDir::new();
    let name = format!("rbtd{}", std::process::id() % 1_000_000);
    for f in ["a", "b"] {
        ok(&[
            "map",
            "create",
            &dir.join(f),
            "type",
            "hash",
            "key",
            "4",
            "value",
            "4",
            "entries",
            "4",
            "name",
            &name,
        ]);
    }
    ok(&["map", "update", &dir.join("a"), "key", "1", "value", "2"]);
    let r = run_json(&["-j", "map", "dump", "name", &name]);
    let b = bpftool_json(&["-j", "map", "dump", "name", &name]);
    let (r, b) = (r.as_array().expect("array"), b.as_array().expect("array"));
    assert_eq!(r.len(), 2);
    assert_eq!(b.len(), 2);
    for (x, y) in r.iter().zip(b.iter()) {
        for field in ["id", "type", "name", "flags"] {
            assert_eq!(x[field], y[field], "{field}");
        }
        assert_eq!(
            x["elements"].as_array().map(Vec::len),
            y["elements"].as_array().map(Vec::len)
        );
    }
    let a_id = run_json(&["-j", "map", "show", &dir.join("a")])["id"].clone();
    let a = r.iter().find(|m| m["id"] == a_id).expect("map a");
    assert_eq!(a["elements"], json!([{"key":1,"value":2}]));
    // -p pretty-prints the per-map heads too: the same document, indented throughout.
    let (_, pretty, _) = run(&["-p", "map", "dump", "name", &name]);
    let parsed: Value = serde_json::from_str(&pretty).expect("pretty JSON");
    assert_eq!(&parsed, &run_json(&["-j", "map", "dump", "name", &name]));
    assert!(
        pretty.starts_with("[\n    {\n        \"id\": ")
            && pretty.contains("\n        \"elements\": ["),
        "{pretty}"
    );
    // A verb that needs one map says which ones match.
    let (code, _, err) = run(&["map", "lookup", "name", &name, "key", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("several maps match"), "{err}");
}

#[test]
fn every_verb_rejects_bad_input() {
    require_kernel!("map verbs bad input");
    let maps = Loaded::first_with_maps("maps");
    let dir = &maps.dir;
    let arr = dir.join("arr");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "lookup".into(),
                arr.clone(),
                "key".into(),
                "1".into(),
                "256".into(),
                "0".into(),
                "0".into(),
            ],
            1,
            "byte 256",
        ),
        (vec!["lookup".into(), arr.clone()], 2, "key DATA"),
        (
            vec![
                "getnext".into(),
                arr.clone(),
                "key".into(),
                "1".into(),
                "0".into(),
            ],
            1,
            "key expected 4 bytes got 2",
        ),
        (
            vec!["delete".into(), arr.clone(), "key".into(), "1".into()],
            1,
            "update them to zero",
        ),
        (
            vec!["pin".into(), arr.clone(), "/tmp/rbt-not-bpffs".into()],
            1,
            "not on a bpffs",
        ),
        (
            vec!["pin".into(), arr.clone(), dir.join("flows")],
            1,
            "already exists",
        ),
        (
            vec!["freeze".into(), "name".into(), "rbt_no_such_map_y".into()],
            1,
            "no map matches",
        ),
        (
            vec!["push".into(), arr.clone(), "value".into(), "1".into()],
            1,
            "queue, stack",
        ),
        (
            vec!["pop".into(), dir.join("queue"), "extra".into()],
            2,
            "expected the end of the line, found `extra`",
        ),
        (
            vec!["update".into(), arr.clone(), "key".into(), "1".into()],
            2,
            "value VALUE",
        ),
        (
            vec!["dump".into(), "tag".into(), "00".into()],
            2,
            "expected MAP (id N | pinned FILE | name NAME), found `tag`",
        ),
        (
            vec!["create".into(), dir.join("x"), "type".into(), "hash".into()],
            2,
            "expected `key KEY_SIZE`",
        ),
    ];
    for (args, want, msg) in cases {
        let mut full = vec!["map"];
        full.extend(args.iter().map(String::as_str));
        let (code, _, err) = run(&full);
        assert_eq!(code, want, "{full:?}: {err}");
        assert!(err.contains(msg), "{full:?}: expected `{msg}` in {err}");
    }
    assert!(!std::path::Path::new("/tmp/rbt-not-bpffs").exists());
    assert!(!std::path::Path::new(&dir.join("x")).exists());
    // JSON mode: the error as a JSON object on stdout too.
    let (code, out, _) = run(&["-j", "map", "freeze", "name", "rbt_no_such_map_y"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).expect("JSON error");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("no map matches")),
        "{out}"
    );
}
