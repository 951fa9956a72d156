// `link` verbs on the live kernel: show (compared with bpftool), pin, detach, and bad input.

#[macro_use]
mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Load the trace_events fixture and attach its raw tracepoint program with rbt; returns
/// (the loaded fixture, program pin, link pin, link id).
fn attached() -> (Loaded, String, String, u64) {
    let loaded = Loaded::progs("trace_events");
    let prog = loaded.prog("rbt_raw_enter");
    let (code, out, err) = run(&[
        "prog",
        "attach",
        "pinned",
        &prog,
        "raw_tracepoint",
        "sys_enter",
    ]);
    assert_eq!(code, 0, "{err}");
    // default pin: beside the program's pin
    let link = format!("{prog}_link");
    assert!(out.contains(&link), "{out}");
    let id = run_json(&["-j", "link", "show", "pinned", &link])["id"]
        .as_u64()
        .unwrap();
    (loaded, prog, link, id)
}

#[test]
fn link_show_matches_bpftool() {
    require_kernel!("link show");
    let (_loaded, prog, link, id) = attached();
    let prog_id = run_json(&["-j", "prog", "show", "pinned", &prog])["id"]
        .as_u64()
        .unwrap();
    let r = run_json(&["-j", "link", "show", "id", &id.to_string()]);
    let b = bpftool_json(&["-j", "link", "show", "id", &id.to_string()]);
    let n = assert_same_fields(&r, &b, &[]);
    assert!(n >= 4, "compared {n} fields: {r} / {b}");
    assert_eq!(r["id"].as_u64(), Some(id));
    assert_eq!(r["type"], "raw_tracepoint");
    assert_eq!(r["prog_id"].as_u64(), Some(prog_id));
    assert_eq!(r["tp_name"], "sys_enter");
    // the same record by pin, and in the full list
    assert_eq!(run_json(&["-j", "link", "show", "pinned", &link]), r);
    let all = run_json(&["-j", "link", "list"]);
    assert!(all.as_array().unwrap().iter().any(|l| l == &r));
    let all_b = bpftool_json(&["-j", "link", "show"]);
    let b2 = all_b
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"].as_u64() == Some(id))
        .unwrap();
    assert_same_fields(&r, b2, &[]);
    // -f adds the pins
    let f = run_json(&["-j", "-f", "link", "show", "id", &id.to_string()]);
    assert_eq!(f["pinned"], serde_json::json!([link]));
    // table mode has a header and the link's row
    let (code, out, _) = run(&["link", "show", "id", &id.to_string()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ID"), "{out}");
    assert!(out.contains("raw_tracepoint sys_enter"), "{out}");
}

#[test]
fn link_pin_then_detach_removes_every_pin() {
    require_kernel!("link pin/detach");
    let (loaded, _prog, link, id) = attached();
    let second = loaded.dir.join("second_pin");
    let (code, out, err) = run(&["-j", "link", "pin", "id", &id.to_string(), &second]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "null\n");
    assert_eq!(
        run_json(&["-j", "link", "show", "pinned", &second])["id"].as_u64(),
        Some(id)
    );
    let f = run_json(&["-j", "-f", "link", "show", "id", &id.to_string()]);
    let mut pins: Vec<String> = f["pinned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    pins.sort();
    let mut want = vec![link.clone(), second.clone()];
    want.sort();
    assert_eq!(pins, want);

    let (code, out, err) = run(&["-j", "link", "detach", "pinned", &link]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "null\n");
    assert!(!Path::new(&link).exists() && !Path::new(&second).exists());
    let (code, _, err) = run(&["link", "show", "id", &id.to_string()]);
    assert_eq!(code, 1, "the link is gone after detach");
    assert!(err.contains(&format!("no link with id {id}")), "{err}");
}

#[test]
fn link_bad_input_is_refused() {
    require_kernel!("link errors");
    for (args, code, needle) in [
        (
            vec!["link", "show", "name", "x"],
            2,
            "expected LINK (id N | pinned FILE), found `name`",
        ),
        (vec!["link", "show", "id", "zz"], 2, "invalid link id"),
        (
            vec!["link", "show", "id", "4294967295"],
            1,
            "no link with id",
        ),
        (
            vec!["link", "detach", "id", "4294967295"],
            1,
            "no link with id",
        ),
        (
            vec!["link", "show", "pinned", "/sys/fs/bpf/rbt-no-such-link"],
            1,
            "no such pinned object",
        ),
    ] {
        let (got, _, err) = run(&args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // a pinned program is not a link
    let (loaded, prog, _link, id) = attached();
    let (code, _, err) = run(&["link", "show", "pinned", &prog]);
    assert_eq!(code, 1);
    assert!(err.contains("is a pinned program, not a link"), "{err}");
    // pin: an existing path or a non-bpffs path is refused and nothing is pinned
    let (code, _, err) = run(&["link", "pin", "id", &id.to_string(), &prog]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = run(&[
        "link",
        "pin",
        "id",
        &id.to_string(),
        "/tmp/rbt-link-not-bpffs",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not on a bpffs"), "{err}");
    assert!(!Path::new("/tmp/rbt-link-not-bpffs").exists());
    let (code, _, _) = run(&["link", "pin", "id", &id.to_string()]);
    assert_eq!(code, 2);
    let f: Value = run_json(&["-j", "-f", "link", "show", "id", &id.to_string()]);
    assert_eq!(f["pinned"].as_array().unwrap().len(), 1);
    drop(loaded);
}

/// An empty cgroup v2 directory of this test, removed on drop.
struct TestCgroup(std::path::PathBuf);

impl TestCgroup {
    fn new() -> Option<TestCgroup> {
        let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
        let root = mounts
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some("cgroup2"))?
            .split_whitespace()
            .nth(1)?
            .to_owned();
        let dir = Path::new(&root).join(format!("rbt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        Some(TestCgroup(dir))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn cgroup_attach_show_and_detach() {
    require_kernel!("cgroup link");
    let cg = TestCgroup::new().expect("a cgroup v2 mount");
    let loaded = Loaded::first("trace_cgroup");
    let prog = loaded.pin();
    let link = loaded.dir.join("cg_link");
    let cgpath = cg.0.display().to_string();
    // a cgroup v1 or plain directory is refused
    let (code, _, err) = run(&[
        "prog", "attach", "pinned", &prog, "cgroup", "/tmp", "ingress", "--pin", &link,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not a cgroup v2 directory"), "{err}");
    let (code, _, err) = run(&[
        "prog",
        "attach",
        "pinned",
        &prog,
        "cgroup",
        &cgpath,
        "bogus_type",
        "--pin",
        &link,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(!Path::new(&link).exists());

    let (code, _, err) = run(&[
        "prog", "attach", "pinned", &prog, "cgroup", &cgpath, "ingress", "--pin", &link,
    ]);
    assert_eq!(code, 0, "{err}");
    let r = run_json(&["-j", "link", "show", "pinned", &link]);
    let id = r["id"].as_u64().unwrap();
    let b = bpftool_json(&["-j", "link", "show", "id", &id.to_string()]);
    assert!(assert_same_fields(&r, &b, &[]) >= 5);
    assert_eq!(r["type"], "cgroup");
    assert_eq!(r["attach_type"], "cgroup_inet_ingress");
    assert!(r["cgroup_id"].as_u64().is_some_and(|c| c > 0));
    // cgroup links have a kernel detach
    let (code, out, err) = run(&["link", "detach", "id", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("detached link id {id}")), "{out}");
    assert!(!Path::new(&link).exists());
    let (code, _, _) = run(&["link", "show", "id", &id.to_string()]);
    assert_eq!(code, 1);
}
