// `batch file` on the live kernel: bpftool's syntax (comments, quotes, continuations), a
// map pinned by one line and updated by later ones, -j JSON lines, a failing line, a
// syntax error that runs nothing, --keep-going, stdin, and the same results as bpftool's.

#[macro_use]
mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Write `text` as a batch file in `dir` (a plain directory, not the pin dir).
fn batch_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("rbt-batch-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("writing the batch file");
    path.display().to_string()
}

/// A runbook in every form bpftool's batch syntax allows: it creates and pins a map,
/// then updates it through its pinned path on later lines.
fn runbook(map: &str) -> String {
    format!(
        "# a runbook: comments, blank lines, quotes, continuations\n\
         \n\
         map create {map} type hash key 4 value 8 \\\n\
         \x20   entries 64 name rbt_batch   # a comment after the words\n\
         map update pinned {map} key 1 0 0 0 value 7 0 0 0 0 0 0 0\n\
         map update \"pinned\" '{map}' key 2 0 0 0 \\\n\
         \x20   value hex 0a 00 00 00 00 00 00 00\n\
         \tmap update pinned {map} key 0x3 0 0 0 value 3 0 0 0 0 0 0 0 noexist\n\
         map update pinned {map} key 1 0 0 0 value 8 0 0 0 0 0 0 0 exist\n\
         map delete pinned {map} key 2 0 0 0\n"
    )
}

/// The elements of a pinned map as bpftool dumps them (key and value byte arrays), sorted.
fn bpftool_dump(map: &str) -> Vec<Value> {
    let mut v = bpftool_json(&["-j", "map", "dump", "pinned", map])
        .as_array()
        .expect("bpftool dump")
        .clone();
    v.sort_by_key(|e| e.to_string());
    v
}

#[test]
fn runbook_gives_what_bpftool_gives() {
    require_kernel!("batch file");
    let dir = PinDir::new();
    let map = dir.join("m");
    let file = batch_file("runbook", &runbook(&map));
    let out = ok(&["batch", "file", &file]);
    assert_eq!(out, "processed 6 commands\n");
    let by_rbt = bpftool_dump(&map);
    assert_eq!(by_rbt.len(), 2, "{by_rbt:?}");
    std::fs::remove_file(&map).expect("unpinning");
    let (code, b_out, b_err) = bpftool(&["batch", "file", &file]);
    assert_eq!(code, 0, "{b_err}");
    assert_eq!(out, b_out);
    assert_eq!(by_rbt, bpftool_dump(&map));
    // rbt's typed view of the same elements.
    assert_eq!(
        run_json(&["-j", "map", "lookup", &map, "key", "1", "0", "0", "0"])["value"],
        8
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn json_gives_one_document_per_command() {
    require_kernel!("batch file -j");
    let dir = PinDir::new();
    let map = dir.join("m");
    let file = batch_file("json", &runbook(&map));
    let (code, out, err) = run(&["-j", "batch", "file", &file]);
    assert_eq!(code, 0, "{err}");
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let lines: Vec<u64> = docs.iter().map(|d| d["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 5, 6, 8, 9, 10]);
    std::fs::remove_file(&map).expect("unpinning");
    // bpftool's -j batch: one array of {"command", "output"}; the same commands and outputs.
    let b = bpftool_json(&["-j", "batch", "file", &file]);
    let b = b.as_array().expect("bpftool array");
    assert_eq!(b.len(), docs.len());
    for (r, b) in docs.iter().zip(b) {
        assert_eq!(r["command"], b["command"]);
        assert_eq!(r["output"], b["output"]);
    }
    assert_eq!(docs[1]["command"][3], Value::from(map.clone()));
    // A command with output: its document holds it.
    let lookup = batch_file(
        "json-lookup",
        &format!("map lookup {map} key 1 0 0 0\nmap show pinned {map}\n"),
    );
    let (code, out, err) = run(&["-j", "batch", "file", &lookup]);
    assert_eq!(code, 0, "{err}");
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{out}");
    assert_eq!(docs[0]["output"]["value"], 8);
    assert_eq!(docs[1]["output"]["name"], "rbt_batch");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&lookup);
}

/// Five lines on `map` (created beforehand): line 3 fails (a 3-byte key).
fn failing(map: &str) -> String {
    format!(
        "map update {map} key 1 0 0 0 value 1 0 0 0 0 0 0 0\n\
         map update {map} key 2 0 0 0 value 2 0 0 0 0 0 0 0\n\
         map update {map} key 3 0 0 value 3 0 0 0 0 0 0 0\n\
         map update {map} key 4 0 0 0 value 4 0 0 0 0 0 0 0\n\
         map lookup {map} key 4 0 0 0\n"
    )
}

fn created(dir: &PinDir) -> String {
    let map = dir.join("m");
    create_map(&map, "hash", 4, 8, 16, "rbt_batch_f");
    map
}

fn keys(map: &str) -> Vec<u64> {
    let mut k: Vec<u64> = run_json(&["-j", "map", "dump", map])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_u64().unwrap())
        .collect();
    k.sort();
    k
}

#[test]
fn a_failing_line_stops_the_batch() {
    require_kernel!("batch file");
    let dir = PinDir::new();
    let map = created(&dir);
    let file = batch_file("failing", &failing(&map));
    let (code, out, err) = run(&["batch", "file", &file]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err.lines().next().unwrap_or_default(),
        "Error: line 3: key expected 4 bytes got 3; 2 commands ran before it (lines 1-2), none after it"
    );
    assert_eq!(out, "");
    assert_eq!(keys(&map), [1, 2], "lines after line 3 ran");
    // -j: the documents of the lines that ran, the failing line's, then the error.
    ok(&["map", "delete", &map, "--all"]);
    let (code, out, _) = run(&["-j", "batch", "file", &file]);
    assert_eq!(code, 1);
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4, "{out}");
    assert_eq!(docs[2]["line"], 3);
    assert_eq!(docs[2]["error"], "key expected 4 bytes got 3");
    assert!(docs[3]["error"].as_str().unwrap().starts_with("line 3: "));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_kernel_error_in_a_batched_run_names_its_line() {
    require_kernel!("batch file");
    let dir = PinDir::new();
    let map = dir.join("small");
    create_map(&map, "hash", 4, 4, 4, "rbt_batch_s");
    // Six new keys into a 4-entry hash: the fifth (line 6) does not fit.
    let mut text = String::from("# fill\n");
    for k in 1..=6 {
        text.push_str(&format!("map update {map} key {k} 0 0 0 value {k} 0 0 0\n"));
    }
    let file = batch_file("full", &text);
    let (code, _, err) = run(&["batch", "file", &file]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("Error: line 6: updating the map: the map is full"),
        "{err}"
    );
    assert!(
        err.contains("4 commands ran before it (lines 2-5)"),
        "{err}"
    );
    assert_eq!(keys(&map), [1, 2, 3, 4]);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn keep_going_runs_every_line_and_sums_up() {
    require_kernel!("batch file --keep-going");
    let dir = PinDir::new();
    let map = created(&dir);
    let file = batch_file("keep", &failing(&map));
    let (code, out, err) = run(&["batch", "file", &file, "--keep-going"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.ends_with("processed 5 commands, 1 failed (line 3)\n"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["4", "4"]),
        "the lookup of line 5 ran: {out}"
    );
    assert!(
        err.contains("Error: line 3: key expected 4 bytes got 3\n"),
        "{err}"
    );
    assert!(
        err.contains("Error: 1 of 5 commands failed (line 3)"),
        "{err}"
    );
    assert_eq!(keys(&map), [1, 2, 4]);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn stdin_is_dash() {
    require_kernel!("batch file -");
    let dir = PinDir::new();
    let map = created(&dir);
    let text = format!(
        "map update {map} key 9 0 0 0 value 9 0 0 0 0 0 0 0\nmap lookup {map} key 9 0 0 0\n"
    );
    let (code, out, err) = run_stdin(&["-j", "batch", "file", "-"], &text);
    assert_eq!(code, 0, "{err}");
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["output"], serde_json::json!({"key": 9, "value": 9}));
}

#[test]
fn a_syntax_error_runs_nothing() {
    require_kernel!("batch file");
    let dir = PinDir::new();
    let map = created(&dir);
    let good = |k: usize| format!("map update {map} key {k} 0 0 0 value 1 0 0 0 0 0 0 0\n");
    let bad_lines = [
        "map update 'unterminated key 1\n".to_string(),
        "map frobnicate\n".to_string(),
        format!("map update {map} key 1 0 0 0 valu 1\n"),
        format!("batch file {map}\n"),
    ];
    for bad in bad_lines {
        let mut text: String = (1..40).map(good).collect();
        text.push_str(&bad);
        text.push_str(&good(41));
        let file = batch_file("syntax", &text);
        let (code, out, err) = run(&["batch", "file", &file]);
        assert_eq!(code, 1, "{bad}: {out}{err}");
        assert!(err.starts_with("Error: line 40: "), "{bad}: {err}");
        assert!(err.contains("nothing ran"), "{err}");
        assert_eq!(keys(&map), Vec::<u64>::new(), "{bad}: lines ran");
        let _ = std::fs::remove_file(&file);
    }
    let (code, _, err) = run(&["batch", "file", "/nonexistent/runbook"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(&["batch", "file"]);
    assert_eq!(code, 2, "{err}");
    assert!(Path::new(&map).exists());
}

#[test]
fn ten_thousand_updates_all_land() {
    require_kernel!("batch file");
    let dir = PinDir::new();
    let map = dir.join("big");
    create_map(&map, "hash", 4, 8, 20000, "rbt_batch_big");
    let mut text = String::new();
    for i in 0u32..10_000 {
        let k = i.to_le_bytes();
        let v = (i * 3).to_le_bytes();
        text.push_str(&format!(
            "map update pinned {map} key {} {} {} {} value {} {} {} {} 0 0 0 0\n",
            k[0], k[1], k[2], k[3], v[0], v[1], v[2], v[3]
        ));
    }
    let file = batch_file("big", &text);
    assert_eq!(ok(&["batch", "file", &file]), "processed 10000 commands\n");
    let dump = run_json(&["-j", "map", "dump", &map]);
    let dump = dump.as_array().unwrap();
    assert_eq!(dump.len(), 10_000);
    assert!(dump
        .iter()
        .all(|e| e["value"].as_u64() == e["key"].as_u64().map(|k| k * 3)));
    let _ = std::fs::remove_file(&file);
}
