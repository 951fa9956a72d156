// Test harness core: runs rbt and bpftool, compares their JSON, lists what a test left behind.
#![allow(dead_code)]

#[macro_use]
pub mod kernel;
pub mod fixture;
pub mod netns;

pub use fixture::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The rbt binary cargo built for these tests.
pub fn rbt() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("rbt").expect("rbt binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

/// (exit code, stdout, stderr) of a finished process.
fn code_out_err(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run rbt with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    code_out_err(rbt().args(args).output().expect("running rbt"))
}

/// Run rbt with `input` on stdin; returns (exit code, stdout, stderr).
pub fn run_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    code_out_err(
        rbt()
            .args(args)
            .write_stdin(input.to_string())
            .output()
            .expect("running rbt"),
    )
}

/// Run rbt, assert that it succeeded, and return its stdout.
pub fn ok(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "rbt {args:?}: {err}");
    out
}

/// `rbt map create PATH type TYPE key K value V entries N name NAME`, which must succeed.
#[allow(dead_code)]
pub fn create_map(path: &str, map_type: &str, key: u32, value: u32, entries: u32, name: &str) {
    let (key, value, entries) = (key.to_string(), value.to_string(), entries.to_string());
    ok(&[
        "map", "create", path, "type", map_type, "key", &key, "value", &value, "entries", &entries,
        "name", name,
    ]);
}

/// Run rbt and parse its stdout as one JSON document; panics with stderr on failure.
pub fn run_json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "rbt {args:?} failed: {stderr}");
    assert!(
        stdout.ends_with('\n') && !stdout.ends_with("\n\n"),
        "one trailing newline: {stdout:?}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("rbt {args:?}: bad JSON {e}: {stdout}"))
}

fn bpftool_output(args: &[&str]) -> Output {
    Command::new("bpftool")
        .args(args)
        .output()
        .expect("running bpftool")
}

/// Run bpftool with `args`; returns (exit code, stdout, stderr).
pub fn bpftool(args: &[&str]) -> (i32, String, String) {
    code_out_err(bpftool_output(args))
}

/// Run bpftool with `args` (add -j yourself) and parse its JSON.
pub fn bpftool_json(args: &[&str]) -> Value {
    let out = bpftool_output(args);
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool JSON")
}

/// Assert that a finished process succeeded and wrote nothing to stderr; returns stdout.
pub fn quiet_success(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{what} wrote to stderr: {stderr}");
    stdout
}

/// Assert that every field both objects have is equal, except `skip`; returns how many
/// fields were compared.
pub fn assert_same_fields(rbt: &Value, bpftool: &Value, skip: &[&str]) -> usize {
    let (Some(r), Some(b)) = (rbt.as_object(), bpftool.as_object()) else {
        panic!("expected two objects:\nrbt: {rbt}\nbpftool: {bpftool}");
    };
    let mut compared = 0;
    for (key, bv) in b {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let rv = r.get(key).unwrap_or_else(|| {
            panic!("rbt lacks bpftool's field `{key}`:\nrbt: {rbt}\nbpftool: {bpftool}")
        });
        assert_eq!(rv, bv, "field `{key}` differs");
        compared += 1;
    }
    compared
}

/// Link ids of every link that runs program `prog_id`.
pub fn links_of(prog_id: u64) -> Vec<u64> {
    run_json(&["-j", "link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["prog_id"].as_u64() == Some(prog_id))
        .map(|l| l["id"].as_u64().unwrap())
        .collect()
}

/// The sorted names in a directory that must exist (to check that nothing was left pinned).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// Cargo's target directory (where fixtures are built and skips are counted).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The numeric value at `key` (a u32) of a pinned map, read with `rbt -j map lookup`; 0 when
/// there is none.
#[allow(dead_code)]
pub fn map_number(map_pin: &str, key: u32) -> u64 {
    let key = key.to_string();
    run_json(&["-j", "map", "lookup", "pinned", map_pin, "key", &key])["value"]
        .as_u64()
        .unwrap_or(0)
}

/// Run a helper program that must succeed and prints one number (0 when it prints none).
#[allow(dead_code)]
pub fn number_printed_by(cmd: &mut Command) -> u64 {
    let out = cmd.output().expect("running the helper program");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}
