// cgroup verbs against the live kernel: a test cgroup under the v2 mount with a process
// moved into it, connects and packets counted, show/tree compared with bpftool, classic
// and link attachments, detach, and bad input that leaves nothing attached.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// A cgroup v2 directory of this test (and its children), removed on drop: processes are
/// moved back to the parent and the directories removed deepest first, also on failure.
struct TestCgroup {
    path: PathBuf,
}

impl TestCgroup {
    fn new(tag: &str) -> TestCgroup {
        let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
        let root = mounts
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some("cgroup2"))
            .and_then(|l| l.split_whitespace().nth(1))
            .expect("a cgroup v2 mount")
            .to_owned();
        let path = Path::new(&root).join(format!("rbt-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("creating the test cgroup");
        TestCgroup { path }
    }

    fn child(&self, name: &str) -> String {
        let p = self.path.join(name);
        std::fs::create_dir_all(&p).expect("creating a child cgroup");
        p.display().to_string()
    }

    fn s(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let parent = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut dirs = vec![self.path.clone()];
        let mut i = 0;
        while i < dirs.len() {
            if let Ok(rd) = std::fs::read_dir(&dirs[i]) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        dirs.push(e.path());
                    }
                }
            }
            i += 1;
        }
        for dir in dirs.iter().rev() {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines() {
                let _ = std::fs::write(parent.join("cgroup.procs"), pid);
            }
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// The peer program: a TCP connect on 127.0.0.1 and `n` messages, run inside `cgroup`
/// (the shell moves itself there, then execs the peer). Returns the bytes received.
fn peer_in(cgroup: &str, n: u32) -> u64 {
    let peer = target_program("sockmap_peer", &["-O1"], "")
        .display()
        .to_string();
    let script = format!("echo $$ > {cgroup}/cgroup.procs && exec {peer} - {n}");
    number_printed_by(Command::new("sh").args(["-c", &script]))
}

fn count(loaded: &Loaded, key: u32) -> u64 {
    map_number(&loaded.map("cg_counts"), key)
}

/// rbt's and bpftool's lists of programs agree field by field (rbt may add fields).
fn same_list(rbt: &Value, bpftool: &Value) {
    let (r, b) = (
        rbt.as_array().expect("rbt array"),
        bpftool.as_array().expect("bpftool array"),
    );
    assert_eq!(r.len(), b.len(), "rbt: {rbt}\nbpftool: {bpftool}");
    for (r, b) in r.iter().zip(b) {
        assert!(assert_same_fields(r, b, &[]) >= 6, "rbt: {r}\nbpftool: {b}");
    }
}

fn show(cg: &str, effective: bool) -> (Value, Value) {
    let mut args = vec!["-j", "cgroup", "show", cg];
    if effective {
        args.push("effective");
    }
    (run_json(&args), bpftool_list(&args))
}

/// bpftool's JSON; bpftool 7.1 prints an empty line, not `[]`, for a cgroup without
/// programs (rbt prints `[]`).
fn bpftool_list(args: &[&str]) -> Value {
    let (code, out, err) = bpftool(args);
    assert_eq!(code, 0, "bpftool {args:?}: {err}");
    if out.trim().is_empty() {
        return Value::Array(vec![]);
    }
    serde_json::from_str(&out).expect("bpftool JSON")
}

#[test]
fn attach_count_show_tree_detach() {
    require_kernel!("cgroup bpf");
    let cg = TestCgroup::new("count");
    let sub = cg.child("sub");
    let root = cg.s();
    let loaded = Loaded::new("cgroup_count");
    let connect4 = loaded.prog("rbt_cg_connect4");
    let egress = loaded.prog("rbt_cg_egress");

    // bpftool's old word and libbpf's name both work
    let out = ok(&[
        "cgroup", "attach", &root, "connect4", "pinned", &connect4, "multi",
    ]);
    assert!(out.contains("attached program rbt_cg_connect4"), "{out}");
    ok(&[
        "cgroup",
        "attach",
        &root,
        "cgroup_inet_egress",
        "pinned",
        &egress,
    ]);

    let (r, b) = show(&root, false);
    same_list(&r, &b);
    assert_eq!(r[0]["attach_type"], "cgroup_inet_egress");
    assert_eq!(r[0]["attach_flags"], "");
    assert_eq!(r[1]["attach_type"], "cgroup_inet4_connect");
    assert_eq!(r[1]["attach_flags"], "multi");
    assert!(r
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["attach_mode"] == "prog_attach"));
    // effective in the child: inherited, no attach_flags (as bpftool)
    let (r, b) = show(&sub, true);
    same_list(&r, &b);
    assert_eq!(r.as_array().map(Vec::len), Some(2));
    assert!(r[0].get("attach_flags").is_none());
    let (r, _) = show(&sub, false);
    assert_eq!(r, Value::Array(vec![]));

    // tree: the cgroups with programs, as bpftool lists them
    for effective in [false, true] {
        let mut args = vec!["-j", "cgroup", "tree", &root];
        if effective {
            args.push("effective");
        }
        let (r, b) = (run_json(&args), bpftool_list(&args));
        let (ra, ba) = (r.as_array().unwrap(), b.as_array().unwrap());
        assert_eq!(ra.len(), ba.len(), "rbt: {r}\nbpftool: {b}");
        assert_eq!(ra.len(), if effective { 2 } else { 1 });
        for (x, y) in ra.iter().zip(ba) {
            assert_eq!(x["cgroup"], y["cgroup"]);
            same_list(&x["programs"], &y["programs"]);
        }
    }
    let table = ok(&["cgroup", "tree", &root]);
    assert!(
        table.contains(&root) && table.contains("rbt_cg_egress"),
        "{table}"
    );

    // a process moved into the child connects and sends: both programs count it
    assert_eq!(peer_in(&sub, 3), 12);
    assert!(count(&loaded, 0) >= 1, "connects counted");
    assert!(count(&loaded, 1) >= 3, "egress packets counted");

    let out = ok(&["cgroup", "detach", &root, "egress", "pinned", &egress]);
    assert!(out.contains("detached program rbt_cg_egress"), "{out}");
    ok(&[
        "cgroup",
        "detach",
        &root,
        "cgroup_inet4_connect",
        "pinned",
        &connect4,
    ]);
    let (r, b) = show(&root, false);
    assert_eq!(r, Value::Array(vec![]));
    assert_eq!(b, Value::Array(vec![]));
    let before = (count(&loaded, 0), count(&loaded, 1));
    peer_in(&sub, 1);
    assert_eq!(
        (count(&loaded, 0), count(&loaded, 1)),
        before,
        "nothing counts after detach"
    );
}

#[test]
fn link_attachments_and_replace() {
    require_kernel!("cgroup bpf");
    let cg = TestCgroup::new("link");
    let root = cg.s();
    let loaded = Loaded::new("cgroup_count");
    let egress = loaded.prog("rbt_cg_egress");
    let egress2 = loaded.prog("rbt_cg_egress2");
    let connect4 = loaded.prog("rbt_cg_connect4");
    let pin = loaded.dir.join("cg_link");

    // a link and a classic attachment side by side, told apart
    let out = ok(&[
        "cgroup", "attach", &root, "connect4", "pinned", &connect4, "--link", "--pin", &pin,
    ]);
    assert!(out.contains("pinned at"), "{out}");
    let link_id = run_json(&["-j", "link", "show", "pinned", &pin])["id"]
        .as_u64()
        .unwrap();
    ok(&[
        "cgroup", "attach", &root, "egress", "pinned", &egress, "multi",
    ]);
    let (r, b) = show(&root, false);
    same_list(&r, &b);
    let egress_rec = &r[0];
    let link_rec = &r[1];
    assert_eq!(egress_rec["attach_mode"], "prog_attach");
    assert!(egress_rec.get("link_id").is_none());
    assert_eq!(link_rec["attach_mode"], "link");
    assert_eq!(link_rec["link_id"].as_u64(), Some(link_id));
    assert_eq!(link_rec["attach_flags"], "multi", "links share the hook");

    // replace swaps one program for another in place
    let old_id = loaded.prog_id("rbt_cg_egress");
    let new_id = loaded.prog_id("rbt_cg_egress2");
    ok(&[
        "cgroup",
        "attach",
        &root,
        "egress",
        "pinned",
        &egress2,
        "replace",
        "id",
        &old_id.to_string(),
    ]);
    let (r, b) = show(&root, false);
    same_list(&r, &b);
    assert_eq!(r[0]["id"].as_u64(), Some(new_id));
    assert_eq!(r.as_array().map(Vec::len), Some(2));

    // detach through the cgroup detaches the link and removes its pin
    let out = ok(&["cgroup", "detach", &root, "connect4", "pinned", &connect4]);
    assert!(out.contains(&format!("link id {link_id}")), "{out}");
    assert!(!Path::new(&pin).exists());
    ok(&["cgroup", "detach", &root, "egress", "pinned", &egress2]);
    assert_eq!(show(&root, false).0, Value::Array(vec![]));
}

#[test]
fn bad_input_is_clear_and_leaves_nothing_attached() {
    require_kernel!("cgroup bpf");
    let cg = TestCgroup::new("bad");
    let root = cg.s();
    let loaded = Loaded::new("cgroup_count");
    let egress = loaded.prog("rbt_cg_egress");
    let egress2 = loaded.prog("rbt_cg_egress2");

    // a program of the wrong type: the message names the type it needs
    let (code, _, err) = run(&["cgroup", "attach", &root, "connect4", "pinned", &egress]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("type cgroup_skb") && err.contains("cgroup_sock_addr"),
        "{err}"
    );
    // a path that is not on cgroup v2
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    let is_v1 = nix_statfs_is_v1(v1);
    for (path, says) in [
        ("/tmp", "not a cgroup v2 directory"),
        ("/nonexistent-cg", "no such directory"),
    ]
    .into_iter()
    .chain(is_v1.then_some(("/sys/fs/cgroup/cpu", "cgroup v1")))
    {
        let (code, out, err) = run(&["-j", "cgroup", "attach", path, "egress", "pinned", &egress]);
        assert_eq!(code, 1, "{path}: {err}");
        assert!(err.contains(says), "{path}: {err}");
        assert!(serde_json::from_str::<Value>(&out).is_ok_and(|v| v["error"].is_string()));
        let (code, _, err) = run(&["cgroup", "show", path]);
        assert_eq!(code, 1);
        assert!(err.contains(says), "{err}");
    }
    // unknown words are usage errors
    let (code, _, err) = run(&["cgroup", "attach", &root, "ingres", "pinned", &egress]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ATTACH_TYPE"), "{err}");
    let (code, _, _) = run(&[
        "cgroup", "attach", &root, "egress", "pinned", &egress, "multi", "override",
    ]);
    assert_eq!(code, 2);
    let (code, _, err) = run(&[
        "cgroup", "attach", &root, "egress", "pinned", &egress, "multi", "--link",
    ]);
    assert_eq!(code, 2, "{err}");
    // detach of something not attached
    let (code, _, err) = run(&["cgroup", "detach", &root, "egress", "pinned", &egress]);
    assert_eq!(code, 1);
    assert!(err.contains("not attached"), "{err}");
    // an exclusive hook refuses a second program, and keeps the first
    ok(&["cgroup", "attach", &root, "egress", "pinned", &egress]);
    let (code, _, err) = run(&[
        "cgroup", "attach", &root, "egress", "pinned", &egress2, "multi",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("refused") && err.contains("hint:"), "{err}");
    let (r, _) = show(&root, false);
    assert_eq!(r.as_array().map(Vec::len), Some(1));
    // --link to a pin path that exists already: no link is left behind
    let pin = egress.clone();
    let links_before = links_of(loaded.prog_id("rbt_cg_egress2")).len();
    let (code, _, _) = run(&[
        "cgroup", "attach", &root, "egress", "pinned", &egress2, "--link", "--pin", &pin,
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        links_of(loaded.prog_id("rbt_cg_egress2")).len(),
        links_before
    );
    ok(&["cgroup", "detach", &root, "egress", "pinned", &egress]);
    assert_eq!(show(&root, false).0, Value::Array(vec![]));
}

/// Whether `path` is a cgroup v1 hierarchy (its cgroup.procs exists and it is not cgroup2
/// in /proc/mounts).
fn nix_statfs_is_v1(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 2 && f[1] == path.to_string_lossy() && f[2] == "cgroup"
    })
}

#[test]
fn show_defaults_to_the_v2_mount() {
    require_kernel!("cgroup bpf");
    let (code, out, err) = run(&["-j", "cgroup", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(serde_json::from_str::<Value>(&out).is_ok_and(|v| v.is_array()));
    let (code, out, _) = run(&["-j", "cgroup"]);
    assert_eq!(code, 0);
    assert!(out.starts_with('['));
}
