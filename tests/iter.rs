// `iter pin` and `iter read` on the live kernel: a task iterator whose pinned file `cat`
// reads, a map element iterator (or the kernel's refusal of it, named), and bad input.

#[macro_use]
mod common;

use std::process::Command;

use common::*;

/// `cat FILE`, which must succeed.
fn cat(path: &str) -> String {
    let out = Command::new("cat").arg(path).output().expect("running cat");
    assert!(
        out.status.success(),
        "cat {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a task iterator's output has a line for `pid`.
fn has_pid(text: &str, pid: u32) -> bool {
    let want = pid.to_string();
    text.lines()
        .any(|l| l.split_whitespace().next() == Some(want.as_str()))
}

#[test]
fn task_iterator_is_pinned_and_cat_reads_it() {
    require_kernel!("task iterator");
    let dir = PinDir::new();
    let obj = fixture("iter_task").display().to_string();
    let pin = dir.join("tasks");
    let (code, out, err) = run(&["iter", "pin", &obj, &pin]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let me = std::process::id();
    let text = cat(&pin);
    assert!(text.starts_with("PID COMM\n"), "{text}");
    assert!(has_pid(&text, me), "pid {me} not in:\n{text}");
    // Each read runs the iterator again: rbt's copy sees this process too.
    let read = ok(&["iter", "read", &pin]);
    assert!(has_pid(&read, me), "pid {me} not in:\n{read}");
    let (code, json, err) = run(&["-j", "iter", "read", &pin]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0], "PID COMM");
    assert!(lines.iter().any(|l| has_pid(l, me)), "{json}");
    // The pin is a link, shown as bpftool shows it.
    let r = run_json(&["-j", "link", "show", "pinned", &pin]);
    let b = bpftool_json(&["-j", "link", "show", "pinned", &pin]);
    let n = assert_same_fields(&r, &b, &["pids"]);
    assert!(n >= 3, "compared only {n} fields");
    assert_eq!(b["type"], "iter");
}

#[test]
fn map_element_iterator_or_the_kernels_refusal() {
    require_kernel!("bpf_map_elem iterator");
    let dir = PinDir::new();
    let map = dir.join("elems");
    create_map(&map, "hash", 4, 8, 8, "rbt_iter_elems");
    ok(&[
        "map", "update", &map, "key", "7", "0", "0", "0", "value", "42", "0", "0", "0", "0", "0",
        "0", "0",
    ]);
    let obj = fixture("iter_map").display().to_string();
    // bpftool first: does this kernel allow map element iterators at all?
    let probe = dir.join("bpftool_iter");
    let (b_code, _, b_err) = bpftool(&["iter", "pin", &obj, &probe, "map", "pinned", &map]);
    let pin = dir.join("elems_iter");
    let (code, out, err) = run(&["iter", "pin", &obj, &pin, "map", "pinned", &map]);
    if b_code == 0 {
        assert_eq!((code, out.as_str()), (0, ""), "{err}");
        assert_eq!(cat(&pin), "7 42\n");
        assert_eq!(ok(&["iter", "read", &pin]), "7 42\n");
        return;
    }
    // This host's kernel refuses them (EPERM): rbt says so, pins nothing, exits 1.
    assert!(
        b_err.contains("Operation not permitted"),
        "bpftool failed otherwise: {b_err}"
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with(
            "Error: the kernel refused the bpf_map_elem iterator: loading its program rbt_iter_map failed: EPERM (Operation not permitted)"
        ),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("Error:")).count(),
        1,
        "{err}"
    );
    assert_eq!(entries(&dir.path), ["elems"]);
}

#[test]
fn bad_input_pins_nothing() {
    require_kernel!("iter pin");
    let dir = PinDir::new();
    let task = fixture("iter_task").display().to_string();
    let elems = fixture("iter_map").display().to_string();
    let basic = fixture("prog_basic").display().to_string();
    let map = dir.join("m");
    create_map(&map, "array", 4, 8, 2, "rbt_iter_bad");
    let pin = dir.join("it");
    let not_bpffs = std::env::temp_dir()
        .join(format!("rbt-iter-{}", std::process::id()))
        .display()
        .to_string();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["iter", "pin", &basic, &pin], 1, "has no iterator program"),
        (&["iter", "pin", &task, &not_bpffs], 1, "is not on a bpffs"),
        (&["iter", "pin", &task, &map], 1, "already exists"),
        (
            &["iter", "pin", &task, &pin, "map", "pinned", &map],
            2,
            "the task iterator (rbt_iter_task) takes no map",
        ),
        (
            &["iter", "pin", &elems, &pin],
            2,
            "the bpf_map_elem iterator (rbt_iter_map) walks a map: give it with `map MAP`",
        ),
        (
            &["iter", "pin", &task, &pin, "map", "id", "4000000000"],
            1,
            "no map with id 4000000000",
        ),
        (&["iter", "pin", &task], 2, "expected PATH"),
        (&["iter", "read", &map], 1, "is a pinned map"),
        (&["iter", "read", &pin], 1, "no such file"),
    ];
    for (args, want, says) in cases {
        let (code, out, err) = run(args);
        assert_eq!(code, *want, "rbt {args:?}: {out}{err}");
        assert!(
            err.starts_with("Error: ") && err.contains(says),
            "rbt {args:?}: {err}"
        );
        assert_eq!(entries(&dir.path), ["m"], "rbt {args:?} left something");
    }
    assert!(!std::path::Path::new(&not_bpffs).exists());
}
