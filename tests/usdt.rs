// USDT on the live kernel: `prog attach PROG usdt PATH:PROVIDER:NAME` on a gcc-built binary
// with a <sys/sdt.h> probe; the BPF side must see the probe's argument values (register and
// memory operands), nothing fires after detach, and bad input fails leaving nothing behind.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// tests/bpf/usdt_target.c built with gcc at `opt` (-O1 passes the arguments in registers,
/// -O0 as stack slots `N@-OFF(%rbp)`), once per test process.
fn target(opt: &str) -> PathBuf {
    target_program(
        "usdt_target",
        &[opt],
        " (<sys/sdt.h> comes from systemtap-sdt-dev: make deps)",
    )
}

/// Run a target: `n` hits of rbt_test:hit with a = 7 + i, b = -1000000007 * i.
fn fire(bin: &Path, n: u32) {
    let st = Command::new(bin).arg(n.to_string()).status().unwrap();
    assert!(st.success());
}

/// What the program recorded: a -> b.
fn seen(map: &str) -> BTreeMap<i64, i64> {
    run_json(&["-j", "map", "dump", "pinned", map])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["key"].as_i64().unwrap(), e["value"].as_i64().unwrap()))
        .collect()
}

fn expected(n: i64) -> BTreeMap<i64, i64> {
    (0..n).map(|i| (7 + i, -1_000_000_007 * i)).collect()
}

/// arg_cnt of every slot of the spec map that is not empty.
fn used_spec_slots(map: &str) -> Vec<(u64, i64)> {
    run_json(&["-j", "map", "dump", "pinned", map])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["value"]["arg_cnt"].as_i64() != Some(0))
        .map(|e| {
            (
                e["key"].as_u64().unwrap(),
                e["value"]["arg_cnt"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn usdt_arguments_reach_the_program_until_detach() {
    require_kernel!("usdt attach");
    let l = Loaded::new("trace_usdt");
    let specs = l.map("__bpf_usdt_specs");
    assert!(used_spec_slots(&specs).is_empty());

    // rbt_usdt_hit is SEC("usdt"): libbpf loaded it for a uprobe_multi link.
    let o1 = target("-O1");
    let pin = l.dir.join("hit_link");
    let hit = l.prog("rbt_usdt_hit");
    let probe = format!("{}:rbt_test:hit", o1.display());
    let (code, out, err) = run(&[
        "prog", "attach", "pinned", &hit, "usdt", &probe, "--pin", &pin,
    ]);
    assert_eq!(code, 0, "attach: {err}");
    assert!(out.contains("usdt rbt_test:hit (1 site)"), "{out}");
    let link = run_json(&["-j", "link", "show", "pinned", &pin]);
    assert_eq!(link["type"], "uprobe_multi", "{link}");
    assert_eq!(link["prog_id"].as_u64(), Some(l.prog_id("rbt_usdt_hit")));
    assert_eq!(link["path"], o1.display().to_string().as_str());
    let bt = bpftool_json(&["-j", "link", "show", "pinned", &pin]);
    assert!(assert_same_fields(&link, &bt, &["type"]) >= 2);
    // the spec rbt wrote: two arguments
    assert_eq!(used_spec_slots(&specs), vec![(0, 2)]);

    // rbt_usdt_perf is a plain SEC("uprobe") program: one perf link per site, the spec id
    // as its BPF cookie; its target passes the arguments as stack slots.
    let o0 = target("-O0");
    let pin2 = l.dir.join("perf_link");
    let perf = l.prog("rbt_usdt_perf");
    let probe0 = format!("{}:rbt_test:hit", o0.display());
    let (code, _, err) = run(&[
        "prog", "attach", "pinned", &perf, "usdt", &probe0, "--pin", &pin2,
    ]);
    assert_eq!(code, 0, "attach perf: {err}");
    let link2 = run_json(&["-j", "link", "show", "pinned", &pin2]);
    assert_eq!(link2["type"], "perf_event", "{link2}");
    assert_eq!(link2["event_type"], "uprobe");
    assert_eq!(
        link2["cookie"].as_u64(),
        Some(1),
        "second spec slot: {link2}"
    );
    let bt2 = bpftool_json(&["-j", "link", "show", "pinned", &pin2]);
    assert!(assert_same_fields(&link2, &bt2, &[]) >= 3);
    assert_eq!(used_spec_slots(&specs), vec![(0, 2), (1, 2)]);

    fire(&o1, 3);
    fire(&o0, 5);
    assert_eq!(seen(&l.map("rbt_usdt_seen")), expected(3));
    assert_eq!(seen(&l.map("rbt_usdt_seen2")), expected(5));

    for p in [&pin, &pin2] {
        let (code, _, err) = run(&["link", "detach", "pinned", p]);
        assert_eq!(code, 0, "detach: {err}");
        assert!(!Path::new(p).exists());
    }
    assert!(links_of(l.prog_id("rbt_usdt_hit")).is_empty());
    assert!(links_of(l.prog_id("rbt_usdt_perf")).is_empty());
    fire(&o1, 8);
    fire(&o0, 8);
    assert_eq!(
        seen(&l.map("rbt_usdt_seen")),
        expected(3),
        "fired after detach"
    );
    assert_eq!(
        seen(&l.map("rbt_usdt_seen2")),
        expected(5),
        "fired after detach"
    );
}

#[test]
fn usdt_semaphore_is_raised_by_the_kernel_while_attached() {
    require_kernel!("usdt attach");
    let l = Loaded::new("trace_usdt");
    let o1 = target("-O1");
    let probe = format!("{}:rbt_test:sem", o1.display());
    let map = l.map("rbt_usdt_seen");
    // rbt_test:sem only fires while its semaphore is non-zero: not before the attach...
    fire(&o1, 2);
    assert!(seen(&map).keys().all(|k| *k < 100), "{:?}", seen(&map));
    let pin = l.dir.join("sem_link");
    let hit = l.prog("rbt_usdt_hit");
    let (code, _, err) = run(&[
        "prog", "attach", "pinned", &hit, "usdt", &probe, "--pin", &pin,
    ]);
    assert_eq!(code, 0, "attach: {err}");
    // ...but during it (a = 100 + i; its one argument leaves b at 0)...
    fire(&o1, 3);
    let got: BTreeMap<i64, i64> = seen(&map).into_iter().filter(|(k, _)| *k >= 100).collect();
    assert_eq!(got, (100..103).map(|k| (k, 0)).collect());
    // ...and not after it.
    let (code, _, err) = run(&["link", "detach", "pinned", &pin]);
    assert_eq!(code, 0, "detach: {err}");
    fire(&o1, 6);
    assert!(!seen(&map).contains_key(&103), "fired after detach");
}

#[test]
fn usdt_bad_input_fails_and_leaves_nothing() {
    require_kernel!("usdt attach");
    let l = Loaded::new("trace_usdt");
    let specs = l.map("__bpf_usdt_specs");
    let o1 = target("-O1").display().to_string();
    let cases: Vec<(&str, String, Vec<&str>, i32, &str)> = vec![
        (
            "rbt_usdt_hit",
            "/no/such/binary:rbt_test:hit".into(),
            vec![],
            1,
            "no such file",
        ),
        (
            "rbt_usdt_hit",
            format!("{o1}:rbt_test:nope"),
            vec![],
            1,
            "its probes: rbt_test:hit",
        ),
        (
            "rbt_usdt_hit",
            "/bin/sh:rbt_test:hit".into(),
            vec![],
            1,
            "no USDT probe rbt_test:hit",
        ),
        (
            "rbt_usdt_plain",
            format!("{o1}:rbt_test:hit"),
            vec![],
            1,
            "is not a USDT program",
        ),
        // fails after the spec is written: the slot must be cleared again
        (
            "rbt_usdt_hit",
            format!("{o1}:rbt_test:hit"),
            vec!["pid", "999999999"],
            1,
            "no process 999999999",
        ),
        (
            "rbt_usdt_hit",
            format!("{o1}:hit"),
            vec![],
            2,
            "expected PATH:PROVIDER:NAME",
        ),
    ];
    for (prog, target, extra, want, needle) in cases {
        let before = entries(&l.dir.path);
        let pin = l.dir.join("should_not_exist");
        let p = l.prog(prog);
        let mut args = vec!["prog", "attach", "pinned", &p, "usdt", &target];
        args.extend_from_slice(&extra);
        args.extend_from_slice(&["--pin", &pin]);
        let (code, _, err) = run(&args);
        assert_eq!(code, want, "{target}: {err}");
        assert!(
            err.contains(needle),
            "{target}: expected `{needle}` in: {err}"
        );
        assert_eq!(entries(&l.dir.path), before, "{target} left a pin");
        assert!(links_of(l.prog_id(prog)).is_empty(), "{target} left a link");
        assert!(used_spec_slots(&specs).is_empty(), "{target} left a spec");
    }
}
