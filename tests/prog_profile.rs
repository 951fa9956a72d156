//! Integration tests of `prog profile`: a clear refusal where BPF trampolines are refused (this host), run counts where they are allowed, and bad input.

#[macro_use]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const ENTER: &str = "rbt_prof_enter";
const EXIT: &str = "rbt_prof_exit";

/// Ids of loaded programs the kernel calls rbt's profiler names.
fn profiler_progs() -> Vec<u64> {
    run_json(&["-j", "prog", "show"])
        .as_array()
        .expect("prog show: an array")
        .iter()
        .filter(|p| p["name"] == ENTER || p["name"] == EXIT)
        .filter_map(|p| p["id"].as_u64())
        .collect()
}

/// Links of rbt's profiler programs.
fn profiler_links() -> usize {
    let progs = profiler_progs();
    run_json(&["-j", "link", "show"])
        .as_array()
        .expect("link show: an array")
        .iter()
        .filter(|l| l["prog_id"].as_u64().is_some_and(|id| progs.contains(&id)))
        .count()
}

/// A 64-byte zero packet for BPF_PROG_TEST_RUN of the XDP target.
fn packet() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), [0u8; 64]).expect("writing the packet");
    file
}

#[test]
fn profile_counts_runs_or_says_trampolines_are_refused() {
    require_kernel!("prog profile");
    let target = Loaded::first("profile_target");
    let id = target.id().to_string();
    let before = profiler_progs();

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("rbt"))
        .args([
            "-j",
            "prog",
            "profile",
            "id",
            &id,
            "duration",
            "3",
            "cycles",
            "instructions",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting rbt prog profile");
    // Run the target while the profile is attached (once both links exist).
    let pkt = packet();
    let pkt = pkt.path().display().to_string();
    let start = Instant::now();
    let mut runs = 0;
    while child.try_wait().expect("profile status").is_none() {
        if profiler_links() >= 2 {
            ok(&["prog", "run", "id", &id, "data_in", &pkt, "repeat", "1000"]);
            runs += 1000;
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(start.elapsed() < Duration::from_secs(60), "profile hangs");
    }
    let out = child.wait_with_output().expect("profile output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    if out.status.code() != Some(0) {
        // This host: the kernel refuses BPF trampolines.
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("Error: prog profile: "), "{stderr}");
        assert!(first.contains("refuses BPF trampolines"), "{stderr}");
        assert!(stderr.contains("hint: "), "{stderr}");
        assert_eq!(
            stderr.lines().count(),
            2,
            "one error line and a hint: {stderr}"
        );
        let json: Value = serde_json::from_str(&stdout).expect("JSON error");
        assert!(json["error"]
            .as_str()
            .is_some_and(|e| e.contains("refuses BPF trampolines")));
        assert_eq!(runs, 0, "nothing was attached, yet the test ran the target");
        // Plain mode: the same error, nothing on stdout.
        let (code, plain, err) = run(&["prog", "profile", "id", &id, "duration", "1", "cycles"]);
        assert_eq!(code, 1, "{err}");
        assert!(plain.is_empty(), "{plain}");
        assert!(err.contains("refuses BPF trampolines"), "{err}");
    } else {
        // A kernel that allows trampolines: every run between attach and detach counted.
        let json: Value = serde_json::from_str(&stdout).expect("profile JSON");
        let metrics = json.as_array().expect("an array of metrics");
        assert_eq!(metrics.len(), 2, "{json}");
        for (m, name) in metrics.iter().zip(["cycles", "instructions"]) {
            assert_eq!(m["metric"], name);
            assert_eq!(m["run_cnt"].as_u64(), Some(runs), "{json}");
            for field in ["value", "enabled", "running"] {
                assert!(m[field].is_u64(), "{field}: {json}");
            }
            match m["unavailable"].as_str() {
                Some(why) => {
                    assert!(why.contains("no hardware counter"), "{why}");
                    assert!(stderr.contains(&format!("{name}: no hardware counter")));
                }
                None => assert!(m["value"].as_u64() > Some(0) || runs == 0, "{json}"),
            }
        }
    }
    // Nothing of the profiler is left: no program, no link, and the target unpinned only
    // when the test's PinDir goes.
    assert_eq!(profiler_progs(), before, "profiler programs left loaded");
    assert_eq!(profiler_links(), 0, "profiler links left");
    assert!(std::path::Path::new(&target.pin()).exists());
}

#[test]
fn bad_input_is_refused_clearly() {
    require_kernel!("prog profile");
    let target = Loaded::first("profile_target");
    let id = target.id().to_string();
    for (args, says) in [
        (vec!["id", &id], "name at least one metric"),
        (vec!["id", &id, "duration", "1"], "name at least one metric"),
        (
            vec![
                "id",
                &id,
                "cycles",
                "instructions",
                "l1d_loads",
                "llc_misses",
                "dtlb_misses",
            ],
            "too many (5) metrics",
        ),
        (vec!["id", &id, "cycles", "bogus"], "bogus"),
        (vec!["id", &id, "duration", "soon", "cycles"], "soon"),
        (vec!["id", &id, "duration", "-1", "cycles"], "-1"),
        (vec!["cycles"], "cycles"),
    ] {
        let mut all = vec!["prog", "profile"];
        all.extend_from_slice(&args);
        let (code, out, err) = run(&all);
        assert_eq!(code, 2, "{all:?}: {err}");
        assert!(out.is_empty(), "{all:?}: {out}");
        assert!(err.starts_with("Error: "), "{all:?}: {err}");
        assert!(err.contains(says), "{all:?} should say {says:?}: {err}");
    }

    // A program that does not exist.
    let (code, _, err) = run(&["prog", "profile", "id", "4294967295", "cycles"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("4294967295"), "{err}");

    // A program without BTF: fentry cannot name its target; said before anything loads.
    let dir = PinDir::new();
    let obj = fixture_without_btf("profile_target").display().to_string();
    let pin = dir.join("nobtf");
    ok(&["prog", "load", &obj, &pin]);
    let before = profiler_progs();
    let (code, _, err) = run(&["prog", "profile", "pinned", &pin, "cycles"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("Error: prog profile: program "), "{err}");
    assert!(err.contains("has no BTF"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(profiler_progs(), before);
}

#[test]
fn help_shows_the_grammar() {
    let (code, out, err) = run(&["prog", "profile", "--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(
        "rbt prog profile PROG [duration D] [cycles] [instructions] [l1d_loads] [llc_misses] [itlb_misses] [dtlb_misses]"
    ), "{out}");
}
