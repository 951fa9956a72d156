// `feature probe` and `version` on the live kernel, compared with bpftool, plus bad input
// and the one-line answer for bpftool objects rbt does not have yet.

#[macro_use]
#[allow(unused_imports)] // this file uses no fixture
mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

/// Held by the test that checks rbt leaves no probe program behind, so that no other
/// `feature probe` of this file runs meanwhile.
static PROBING: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn probing() -> std::sync::RwLockReadGuard<'static, ()> {
    PROBING.read().unwrap_or_else(|e| e.into_inner())
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Keys rbt has beyond bpftool's in a type section: only types that bpftool's older
/// libbpf does not know (rbt's libbpf names more), never a renamed one.
fn assert_superset(section: &str, rbt: &Value, bpftool: &Value) {
    let (r, b) = (keys(rbt), keys(bpftool));
    let missing: Vec<_> = b.difference(&r).collect();
    assert!(missing.is_empty(), "{section}: rbt lacks {missing:?}");
    let extra: Vec<_> = r.difference(&b).collect();
    assert!(extra.len() <= 4, "{section}: unexpected keys {extra:?}");
}

#[test]
fn probe_json_has_bpftool_keys_and_values() {
    require_kernel!("feature probe");
    let _probing = probing();
    let rbt = run_json(&["-j", "feature", "probe"]);
    let bt = bpftool_json(&["-j", "feature", "probe"]);
    let top: Vec<String> = keys(&rbt).into_iter().collect();
    let mut want: Vec<String> = keys(&bt).into_iter().collect();
    want.extend(["attach_types", "link_types", "live_probes"].map(String::from));
    want.sort();
    assert_eq!(top, want);
    // bpftool's sections come first, in bpftool's order.
    let order: Vec<&String> = rbt.as_object().unwrap().keys().take(6).collect();
    let bt_order: Vec<&String> = bt.as_object().unwrap().keys().collect();
    assert_eq!(order, bt_order);
    for section in ["system_config", "syscall_config", "misc"] {
        assert_eq!(rbt[section], bt[section], "{section}");
    }
    for section in ["program_types", "map_types"] {
        assert_superset(section, &rbt[section], &bt[section]);
        for (key, value) in bt[section].as_object().unwrap() {
            assert_eq!(&rbt[section][key], value, "{section}.{key}");
        }
    }
    assert_superset("helpers", &rbt["helpers"], &bt["helpers"]);
    let (_, names, _) = bpftool(&["feature", "list_builtins", "helpers"]);
    let known: BTreeSet<&str> = names.lines().collect();
    for (ptype, list) in rbt["helpers"].as_object().unwrap() {
        for helper in list.as_array().unwrap() {
            let h = helper.as_str().unwrap();
            assert!(
                known.contains(h) || h.starts_with("bpf_cgrp_storage"),
                "{ptype}: unknown helper {h}"
            );
        }
    }
    // Without `full`, bpftool's three helpers that write to the kernel log are not probed.
    let kprobe = rbt["helpers"]["kprobe_available_helpers"]
        .as_array()
        .unwrap();
    assert!(!kprobe.iter().any(|h| h == "bpf_trace_printk"));
    assert!(kprobe.iter().any(|h| h == "bpf_map_lookup_elem"));
}

#[test]
fn full_probes_the_noisy_helpers_too() {
    require_kernel!("feature probe full");
    let _probing = probing();
    let rbt = run_json(&["-j", "feature", "probe", "full"]);
    let kprobe = rbt["helpers"]["kprobe_available_helpers"]
        .as_array()
        .unwrap();
    assert!(kprobe.iter().any(|h| h == "bpf_trace_printk"), "{kprobe:?}");
}

#[test]
fn live_probes_are_real_and_agree_with_the_type_probes() {
    require_kernel!("feature probe live");
    let _alone = PROBING.write().unwrap_or_else(|e| e.into_inner());
    let rbt = run_json(&["-j", "feature", "probe", "kernel"]);
    // Nothing is left behind: every program the live probes loaded (named rbt_probe) is
    // gone once rbt has exited (links and maps went with their fds).
    let left = || -> Vec<Value> {
        let progs = bpftool_json(&["-j", "prog", "show"]);
        let list = progs.as_array().cloned().unwrap_or_default();
        list.into_iter()
            .filter(|p| p["name"] == "rbt_probe")
            .collect()
    };
    let mut remaining = left();
    for _ in 0..50 {
        if remaining.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        remaining = left();
    }
    assert!(remaining.is_empty(), "left behind: {remaining:?}");
    let live = &rbt["live_probes"];
    for name in [
        "kprobes",
        "bpf_trampoline",
        "tcx",
        "netkit",
        "uprobe_multi",
        "ringbuf",
        "batch_ops",
    ] {
        let check = &live[name];
        assert!(check["available"].is_boolean(), "{name}: {check}");
        assert!(!check["detail"].as_str().unwrap_or("").is_empty(), "{name}");
    }
    assert_eq!(
        live["ringbuf"]["available"],
        rbt["map_types"]["have_ringbuf_map_type"]
    );
    let kprobe_pmu = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    assert_eq!(live["kprobes"]["available"], Value::Bool(kprobe_pmu));
    // Every kernel that has tcx links has batch lookups; both are here on 6.6+.
    assert_eq!(
        live["tcx"]["available"],
        rbt["link_types"]["have_tcx_link_type"]
    );
    assert_eq!(
        live["bpf_trampoline"]["available"],
        rbt["link_types"]["have_tracing_link_type"]
    );
    assert!(rbt["attach_types"]["have_cgroup_inet_ingress_attach_type"].is_boolean());
}

#[test]
fn unprivileged_matches_bpftool() {
    require_kernel!("feature probe unprivileged");
    let _probing = probing();
    let rbt = run_json(&["-j", "feature", "probe", "unprivileged"]);
    let bt = bpftool_json(&["-j", "feature", "probe", "unprivileged"]);
    for section in ["system_config", "syscall_config", "misc"] {
        assert_eq!(rbt[section], bt[section], "{section}");
    }
    for section in ["program_types", "map_types", "helpers"] {
        for (key, value) in bt[section].as_object().unwrap() {
            assert_eq!(&rbt[section][key], value, "{section}.{key}");
        }
    }
    // Without the capabilities, nothing attaches.
    let live = rbt["live_probes"].as_object().unwrap();
    assert!(live.values().all(|c| c["available"] == false), "{live:?}");
}

#[test]
fn macros_are_bpftool_lines() {
    require_kernel!("feature probe macros");
    let _probing = probing();
    let rbt = ok(&["feature", "probe", "macros"]);
    let (code, bt, err) = bpftool(&["feature", "probe", "macros"]);
    assert_eq!(code, 0, "{err}");
    // Every bpftool line outside the helper table is in rbt's, in the same order; rbt's
    // extra lines only name types bpftool's older libbpf does not know.
    let rbt_lines: Vec<&str> = rbt
        .lines()
        .filter(|l| !l.contains("__HELPER_bpf"))
        .collect();
    let bt_lines: Vec<&str> = bt.lines().filter(|l| !l.contains("__HELPER_bpf")).collect();
    let mut at = 0;
    for line in &bt_lines {
        let found = rbt_lines[at..].iter().position(|l| l == line);
        let Some(i) = found else {
            panic!("bpftool line missing or out of order in rbt's macros: {line}")
        };
        at += i + 1;
    }
    assert!(rbt_lines.len() - bt_lines.len() <= 4);
    // The helper table has a line for every (program type, helper) bpftool has.
    let names = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter(|l| l.contains("__HELPER_bpf"))
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .collect()
    };
    let (r, b) = (names(&rbt), names(&bt));
    assert!(
        b.is_subset(&r),
        "{:?}",
        b.difference(&r).take(5).collect::<Vec<_>>()
    );
    let prefixed = ok(&["feature", "probe", "macros", "prefix", "RBT_"]);
    assert!(prefixed
        .lines()
        .filter(|l| l.starts_with("#define"))
        .all(|l| l.starts_with("#define RBT_")));
    // -j wins over macros, as in bpftool.
    let doc = run_json(&["-j", "feature", "probe", "macros"]);
    assert!(doc["program_types"].is_object());
}

#[test]
fn dev_matches_bpftool_and_a_missing_device_is_an_error() {
    require_kernel!("feature probe dev");
    let _probing = probing();
    let rbt = run_json(&["-j", "feature", "probe", "dev", "lo"]);
    let bt = bpftool_json(&["-j", "feature", "probe", "dev", "lo"]);
    assert_eq!(rbt, bt);
    let (code, out, err) = run(&["feature", "probe", "dev", "rbtnosuch0"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with("Error: unrecognized netdevice 'rbtnosuch0'"),
        "{err}"
    );
    let (code, out, _) = run(&["-j", "feature", "probe", "dev", "rbtnosuch0"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(doc["error"].as_str().unwrap().contains("rbtnosuch0"));
}

#[test]
fn table_view_lists_every_section() {
    require_kernel!("feature probe table");
    let _probing = probing();
    let out = ok(&["feature", "probe"]);
    for section in [
        "system",
        "config",
        "syscall",
        "prog_type",
        "map_type",
        "helpers",
        "misc",
        "link_type",
        "attach_type",
        "live",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{section} "))),
            "no {section} rows"
        );
    }
}

#[test]
fn bad_words_are_usage_errors() {
    for (words, what) in [
        (
            vec!["prefix", "X"],
            "`prefix` can only be used after `macros`",
        ),
        (vec!["kernel", "dev", "lo"], "one COMPONENT only"),
        (vec!["bogus"], "found `bogus`"),
        (vec!["dev"], "expected IF"),
        (vec!["macros", "prefix"], "PREFIX"),
    ] {
        let mut args = vec!["feature", "probe"];
        args.extend(words.iter().copied());
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(what), "{args:?}: {err}");
    }
}

#[test]
fn version_has_bpftool_fields() {
    let rbt = run_json(&["-j", "version"]);
    let bt = bpftool_json(&["-j", "version"]);
    assert_eq!(keys(&rbt), keys(&bt));
    assert!(keys(&bt["features"]).is_subset(&keys(&rbt["features"])));
    assert_eq!(rbt["version"], env!("CARGO_PKG_VERSION"));
    let libbpf = rbt["libbpf_version"].as_str().unwrap();
    assert_eq!(libbpf.split('.').count(), 2, "{libbpf}");
    let text = ok(&["version"]);
    assert!(text.starts_with(&format!(
        "rbt v{}\nusing libbpf v{libbpf}\n",
        env!("CARGO_PKG_VERSION")
    )));
    let (code, _, err) = run(&["version", "extra"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn objects_rbt_lacks_say_so_in_one_line() {
    for object in ["gen"] {
        for args in [vec![object], vec!["-j", object, "show"]] {
            let (code, out, err) = run(&args);
            assert_eq!(code, 2, "{args:?}");
            if args[0] == "-j" {
                // -j: the error as JSON on stdout too, as every other error.
                let v: serde_json::Value = serde_json::from_str(&out).expect("JSON error");
                assert!(v["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not in rbt yet")));
            } else {
                assert!(out.is_empty(), "{args:?}: {out}");
            }
            assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.contains(&format!("`rbt {object}` is not in rbt yet")),
                "{err}"
            );
        }
    }
    // A word that is only a handle's value is not an object.
    let (code, _, err) = run(&["prog", "show", "name", "gen"]);
    assert_ne!(code, 2, "{err}");
}

/// Run `prog args` as user nobody with no capabilities; (exit code, stdout, stderr).
fn as_nobody(prog: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(prog)
        .args(args)
        .output()
        .expect("running setpriv (util-linux)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_capabilities_only_unprivileged_probes_run() {
    require_kernel!("feature probe as nobody");
    let _probing = probing();
    let rbt = assert_cmd::cargo::cargo_bin("rbt");
    let (code, out, err) = as_nobody(&rbt, &["feature", "probe"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("or use `unprivileged`"), "{err}");
    let (code, out, err) = as_nobody(&rbt, &["-j", "feature", "probe", "unprivileged"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let bpftool = which("bpftool").expect("bpftool");
    let (_, bt, _) = as_nobody(&bpftool, &["-j", "feature", "probe", "unprivileged"]);
    let bt: Value = serde_json::from_str(&bt).unwrap();
    for section in ["system_config", "syscall_config", "misc"] {
        assert_eq!(doc[section], bt[section], "{section}");
    }
    for section in ["program_types", "map_types", "helpers"] {
        for (key, value) in bt[section].as_object().unwrap() {
            assert_eq!(&doc[section][key], value, "{section}.{key}");
        }
    }
}

#[test]
fn words_complete_from_the_grammar() {
    let complete = |words: &[&str]| -> String {
        let out = rbt()
            .env("RBT_COMPLETE", "fish")
            .arg("--")
            .arg("rbt")
            .args(words)
            .output()
            .expect("running rbt");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let after_probe = complete(&["feature", "probe", ""]);
    for word in ["kernel", "dev", "full", "unprivileged", "macros", "prefix"] {
        assert!(after_probe.lines().any(|l| l == word), "{after_probe}");
    }
    let after_dev = complete(&["feature", "probe", "dev", ""]);
    assert!(after_dev.lines().any(|l| l == "lo"), "{after_dev}");
    assert!(complete(&["vers"]).starts_with("version"));
}
