// Tracing on the live kernel: prog attach (tracepoint, raw_tracepoint, uprobe, uretprobe),
// autoattach, perf show against bpftool, trace_pipe / ring buffer / perf array streams and
// how they end, and the attach errors (no kprobes here, wrong type, missing targets).

#[macro_use]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The user-space target (tests/bpf/trace_target.c), built once with gcc.
fn target_bin() -> PathBuf {
    target_program("trace_target", &["-O1", "-g"], "")
}

/// Run the target: N calls of the uprobed function and N getppid syscalls; returns its pid.
fn run_target(n: u32) -> u32 {
    let child = Command::new(target_bin())
        .args(["call", &n.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("running the target");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    pid
}

/// A running `rbt` stream with its stdout piped.
fn spawn_rbt(args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("rbt"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning rbt")
}

/// Read a child's stdout and stderr in threads (so a full pipe never blocks it); join the
/// handles for (stdout, stderr) once it has ended.
fn drain(
    child: &mut Child,
) -> (
    std::thread::JoinHandle<String>,
    std::thread::JoinHandle<String>,
) {
    use std::io::Read;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    )
}

/// Wait for a child with a timeout; returns its exit code.
fn wait_for(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("rbt did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Decode the fixture's `struct event` from a hex `data` string: (pid, kind, seq).
fn decode(hex: &str) -> (u32, u32, u64) {
    let b: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    (
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        u32::from_le_bytes(b[4..8].try_into().unwrap()),
        u64::from_le_bytes(b[8..16].try_into().unwrap()),
    )
}

/// Run a stream for `secs`, triggering the target `n` times meanwhile; returns the JSON
/// lines it printed and the target's pid.
fn stream_during_target(args: &[&str], n: u32) -> (Vec<Value>, u32) {
    let mut child = spawn_rbt(args);
    let (out, err) = drain(&mut child);
    std::thread::sleep(Duration::from_millis(700));
    let pid = run_target(n);
    let code = wait_for(&mut child, Duration::from_secs(20));
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(code, 0, "rbt {args:?}: {err}");
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect();
    (lines, pid)
}

/// Records of the fixture's event with `pid` and `kind` among stream lines.
fn records_of(lines: &[Value], pid: u32, kind: u32) -> Vec<(Option<u64>, u64)> {
    lines
        .iter()
        .filter_map(|l| {
            let (p, k, seq) = decode(l["data"].as_str()?);
            (p == pid && k == kind).then(|| (l["cpu"].as_u64(), seq))
        })
        .collect()
}

#[test]
fn tracepoint_events_reach_ringbuf_and_perf_array() {
    require_kernel!("tracepoint attach");
    let l = Loaded::new("trace_events");
    let (pin, id) = l.attach(
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_getppid"],
    );
    let link = run_json(&["-j", "link", "show", "pinned", &pin]);
    assert_eq!(link["type"], "perf_event");
    assert_eq!(link["tracepoint"], "sys_enter_getppid");
    assert_eq!(link["prog_id"].as_u64(), Some(l.prog_id("rbt_tp_getppid")));

    let rb = l.map("rbt_trace_rb");
    let (lines, pid) = stream_during_target(
        &["-j", "perf", "events", "pinned", &rb, "--duration", "3s"],
        5,
    );
    let got = records_of(&lines, pid, 1);
    assert_eq!(got.len(), 5, "ring buffer records of pid {pid}: {lines:?}");
    assert!(
        got.iter().all(|(cpu, _)| cpu.is_none()),
        "ringbuf has no cpu"
    );
    assert!(lines
        .iter()
        .all(|l| l["timestamp"].as_u64().is_some() && l["size"] == 32));

    let pa = l.map("rbt_trace_pa");
    // bpftool's spelling: map event_pipe
    let (lines, pid) = stream_during_target(
        &["-j", "map", "event_pipe", "pinned", &pa, "--duration", "3s"],
        4,
    );
    let got = records_of(&lines, pid, 1);
    assert_eq!(got.len(), 4, "perf array records of pid {pid}: {lines:?}");
    assert!(
        got.iter().all(|(cpu, _)| cpu.is_some()),
        "perf arrays carry the cpu"
    );
    // seq numbers are consecutive per kind
    let seqs: Vec<u64> = got.iter().map(|(_, s)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");

    // detach: the link and its pin go away
    let (code, _, err) = run(&["link", "detach", "id", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(!Path::new(&pin).exists());
    assert!(!links_of(l.prog_id("rbt_tp_getppid")).contains(&id));
}

static TRACE_PIPE: Mutex<()> = Mutex::new(());

#[test]
fn tracelog_streams_bpf_printk_as_json_lines() {
    require_kernel!("trace_pipe");
    let _only_reader = TRACE_PIPE.lock().unwrap_or_else(|e| e.into_inner());
    let l = Loaded::new("trace_events");
    l.attach(
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_getppid"],
    );
    for verb in [["perf", "tracelog"], ["prog", "tracelog"]] {
        let (lines, pid) = stream_during_target(&["-j", verb[0], verb[1], "--duration", "3s"], 3);
        let mine: Vec<&Value> = lines
            .iter()
            .filter(|l| l["message"] == format!("rbt-trace getppid pid={pid}"))
            .collect();
        // Other tests running now attach their own copy of the program: 3 lines or more.
        assert!(mine.len() >= 3, "{verb:?}: lines for pid {pid}: {lines:?}");
        for m in mine {
            assert_eq!(m["pid"].as_u64(), Some(pid as u64));
            assert!(m["task"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(m["cpu"].as_u64().is_some());
            assert!(m["timestamp"].as_f64().is_some_and(|t| t > 0.0));
            assert!(m["flags"].is_string());
        }
    }
}

#[test]
fn uprobe_and_uretprobe_fire_on_the_test_binary() {
    require_kernel!("uprobe attach");
    let l = Loaded::new("trace_events");
    let bin = target_bin().display().to_string();
    let target = format!("{bin}:rbt_uprobe_target");
    let (up_pin, _) = l.attach("rbt_uprobe", &["uprobe", &target]);
    let (ret_pin, _) = l.attach("rbt_uretprobe", &["uretprobe", &target]);
    let up = run_json(&["-j", "link", "show", "pinned", &up_pin]);
    assert_eq!(up["file"], bin.as_str());
    assert_eq!(up["retprobe"], false);
    assert!(up["offset"].as_u64().is_some_and(|o| o > 0));
    let ret = run_json(&["-j", "link", "show", "pinned", &ret_pin]);
    assert_eq!(ret["retprobe"], true);
    assert_eq!(ret["offset"], up["offset"]);

    let rb = l.map("rbt_trace_rb");
    let (lines, pid) = stream_during_target(
        &["-j", "perf", "events", "pinned", &rb, "--duration", "3s"],
        3,
    );
    assert_eq!(
        records_of(&lines, pid, 2).len(),
        3,
        "uprobe records: {lines:?}"
    );
    assert_eq!(
        records_of(&lines, pid, 3).len(),
        3,
        "uretprobe records: {lines:?}"
    );
}

#[test]
fn autoattach_pins_a_link_per_attachable_program() {
    require_kernel!("autoattach");
    let dir = PinDir::new();
    let obj = fixture("trace_events").display().to_string();
    let progs = dir.join("p");
    let (code, _, err) = run(&["prog", "loadall", &obj, &progs, "autoattach"]);
    assert_eq!(code, 0, "{err}");
    let names = entries(Path::new(&progs));
    assert!(
        names.contains(&"rbt_tp_getppid_link".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"rbt_raw_enter_link".to_string()),
        "{names:?}"
    );
    // bare uprobe/kprobe sections say nothing about where to attach
    assert!(!names.contains(&"rbt_uprobe_link".to_string()), "{names:?}");
    let raw = run_json(&[
        "-j",
        "link",
        "show",
        "pinned",
        &format!("{progs}/rbt_raw_enter_link"),
    ]);
    assert_eq!(raw["type"], "raw_tracepoint");
    assert_eq!(raw["tp_name"], "sys_enter");
    // prog load: the first program, its link at PATH_link
    let one = dir.join("one");
    let (code, _, err) = run(&["prog", "load", &obj, &one, "autoattach"]);
    assert_eq!(code, 0, "{err}");
    let tp = run_json(&["-j", "link", "show", "pinned", &format!("{one}_link")]);
    assert_eq!(tp["type"], "perf_event");
    let prog_id = run_json(&["-j", "prog", "show", "pinned", &one])["id"].clone();
    assert_eq!(tp["prog_id"], prog_id);
    // a bad option is a usage error and loads nothing
    let (code, _, err) = run(&[
        "prog",
        "load",
        &obj,
        &dir.join("two"),
        "autoattach",
        "bogus",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(!Path::new(&dir.join("two")).exists());
}

#[test]
fn perf_show_matches_bpftool_and_adds_link_held_attachments() {
    require_kernel!("perf show");
    let l = Loaded::new("trace_events");
    let (raw_pin, raw_id) = l.attach("rbt_raw_enter", &["raw_tracepoint", "sys_enter"]);
    let (_, tp_id) = l.attach(
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_getppid"],
    );
    // A process holding the raw tracepoint link: bpftool sees it through /proc.
    let mut holder = Command::new(target_bin())
        .args(["hold", &raw_pin])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fd: u64 = line.trim().parse().unwrap();
    let pid = holder.id() as u64;

    let rbt = run_json(&["-j", "perf", "show"]);
    let bpftool = bpftool_json(&["-j", "perf", "show"]);
    // link show names the process holding the link
    let link = run_json(&["-j", "link", "show", "id", &raw_id.to_string()]);
    // A raw_tracepoint link has no kernel detach: rbt removes the pin and names the holder.
    let (code, _, err) = run(&["link", "detach", "id", &raw_id.to_string()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("({pid})")) && err.contains("stays attached"),
        "{err}"
    );
    assert!(!Path::new(&raw_pin).exists());
    let _ = holder.kill();
    let _ = holder.wait();
    let holders = link["pids"].as_array().expect("pids of the held link");
    assert!(
        holders.iter().any(|p| p["pid"].as_u64() == Some(pid)
            && p["comm"]
                .as_str()
                .is_some_and(|c| c.starts_with("trace_target"))),
        "{link}"
    );
    let find = |v: &Value| -> Option<Value> {
        v.as_array()?
            .iter()
            .find(|e| e["pid"].as_u64() == Some(pid) && e["fd"].as_u64() == Some(fd))
            .cloned()
    };
    let r = find(&rbt).expect("rbt perf show lists the holder's fd");
    let b = find(&bpftool).expect("bpftool perf show lists the holder's fd");
    let n = assert_same_fields(&r, &b, &[]);
    assert!(n >= 5, "compared {n} fields: {r} {b}");
    assert_eq!(r["fd_type"], "raw_tracepoint");
    assert_eq!(r["tracepoint"], "sys_enter");
    assert_eq!(r["link_id"].as_u64(), Some(raw_id));
    // The tracepoint link is held by its pin only: rbt shows it, bpftool cannot.
    let by_link = rbt
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["link_id"].as_u64() == Some(tp_id))
        .expect("rbt lists the pinned tracepoint link");
    assert_eq!(by_link["fd_type"], "tracepoint");
    assert_eq!(by_link["tracepoint"], "sys_enter_getppid");
    assert_eq!(
        by_link["prog_id"].as_u64(),
        Some(l.prog_id("rbt_tp_getppid"))
    );
    assert!(by_link.get("pid").is_none());
}

/// Run a failing attach and check its exit code, message, and that nothing was left.
fn attach_fails(l: &Loaded, prog: &str, hook: &[&str], code: i32, needle: &str) {
    let before = entries(&l.dir.path);
    let pin = l.dir.join("should_not_exist");
    let p = l.prog(prog);
    let mut args = vec!["prog", "attach", "pinned", &p];
    args.extend_from_slice(hook);
    args.extend_from_slice(&["--pin", &pin]);
    let (got, _, err) = run(&args);
    assert_eq!(got, code, "{hook:?}: {err}");
    assert!(
        err.contains(needle),
        "{hook:?}: expected `{needle}` in: {err}"
    );
    assert_eq!(entries(&l.dir.path), before, "{hook:?} left a pin");
    assert!(links_of(l.prog_id(prog)).is_empty(), "{hook:?} left a link");
}

#[test]
fn attach_errors_say_what_is_missing_and_leave_nothing() {
    require_kernel!("attach errors");
    let l = Loaded::new("trace_events");
    attach_fails(
        &l,
        "rbt_kprobe",
        &["kprobe", "do_nanosleep"],
        1,
        "no kprobe support",
    );
    attach_fails(
        &l,
        "rbt_kprobe",
        &["kretprobe", "do_nanosleep"],
        1,
        "no kprobe support",
    );
    attach_fails(
        &l,
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_no_such_call"],
        1,
        "no tracepoint syscalls:sys_enter_no_such_call",
    );
    attach_fails(
        &l,
        "rbt_tp_getppid",
        &["tracepoint", "nosuchcategory:x"],
        1,
        "no tracepoint category nosuchcategory",
    );
    attach_fails(
        &l,
        "rbt_raw_enter",
        &["raw_tracepoint", "no_such_tp_rbt"],
        1,
        "no raw tracepoint no_such_tp_rbt",
    );
    attach_fails(
        &l,
        "rbt_uprobe",
        &["uprobe", "/no/such/binary:main"],
        1,
        "no such file",
    );
    let bin = target_bin().display().to_string();
    attach_fails(
        &l,
        "rbt_uprobe",
        &["uprobe", &format!("{bin}:no_such_symbol")],
        1,
        "no symbol no_such_symbol",
    );
    attach_fails(
        &l,
        "rbt_uprobe",
        &[
            "uprobe",
            &format!("{bin}:rbt_uprobe_target"),
            "pid",
            "999999999",
        ],
        1,
        "no process 999999999",
    );
    attach_fails(
        &l,
        "rbt_tp_getppid",
        &["raw_tracepoint", "sys_enter"],
        1,
        "is of type tracepoint, which cannot attach to a raw_tracepoint hook",
    );
    attach_fails(
        &l,
        "rbt_uprobe",
        &["fentry"],
        1,
        "cannot attach to a fentry hook",
    );
    attach_fails(
        &l,
        "rbt_tp_getppid",
        &["tracepoint", "nocolon"],
        2,
        "expected CAT:NAME",
    );
    attach_fails(
        &l,
        "rbt_tp_getppid",
        &["bogus", "x"],
        2,
        "expected HOOK (tracepoint | raw_tracepoint | kprobe",
    );
    // An existing --pin path is refused before anything is attached.
    let taken = l.dir.join("taken");
    std::fs::create_dir(&taken).unwrap();
    let p = l.prog("rbt_raw_enter");
    let (code, _, err) = run(&[
        "prog",
        "attach",
        "pinned",
        &p,
        "raw_tracepoint",
        "sys_enter",
        "--pin",
        &taken,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    assert!(links_of(l.prog_id("rbt_raw_enter")).is_empty());
    // JSON mode: {"error": ..} on stdout
    let kp = l.prog("rbt_kprobe");
    let (code, out, _) = run(&["-j", "prog", "attach", "pinned", &kp, "kprobe", "x"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["error"].as_str().unwrap().contains("no kprobe support"));
}

#[test]
fn streams_end_cleanly_on_signals_and_closed_stdout() {
    require_kernel!("stream ends");
    let l = Loaded::new("trace_events");
    l.attach(
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_getppid"],
    );
    let rb = l.map("rbt_trace_rb");
    let pa = l.map("rbt_trace_pa");
    for (sig, map) in [("TERM", &rb), ("INT", &pa), ("TERM", &pa), ("INT", &rb)] {
        let mut child = spawn_rbt(&["-j", "perf", "events", "pinned", map]);
        std::thread::sleep(Duration::from_millis(500));
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let code = wait_for(&mut child, Duration::from_secs(5));
        assert_eq!(code, 0, "SIG{sig} on {map}");
    }
    // `| head -3`: rbt ends once the reader is gone, without being sent anything more.
    for map in [&rb, &pa] {
        let mut child = spawn_rbt(&["-j", "perf", "events", "pinned", map]);
        std::thread::sleep(Duration::from_millis(500));
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let pid = run_target(10);
        let mut got = 0;
        let mut line = String::new();
        while got < 3 && reader.read_line(&mut line).unwrap() > 0 {
            got += 1;
            line.clear();
        }
        assert_eq!(got, 3);
        drop(reader);
        let code = wait_for(&mut child, Duration::from_secs(5));
        assert_eq!(code, 0, "closed stdout on {map} (target {pid})");
    }
    // --count ends it too; a stream attaches nothing, so no link is left behind.
    let before = links_of(l.prog_id("rbt_tp_getppid"));
    let mut child = spawn_rbt(&["-j", "perf", "events", "pinned", &rb, "--count", "2"]);
    std::thread::sleep(Duration::from_millis(500));
    run_target(3);
    assert_eq!(wait_for(&mut child, Duration::from_secs(5)), 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 records, 0 lost"));
    assert_eq!(links_of(l.prog_id("rbt_tp_getppid")), before);
    // tracelog on SIGTERM
    let _only_reader = TRACE_PIPE.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = spawn_rbt(&["perf", "tracelog"]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(wait_for(&mut child, Duration::from_secs(5)), 0);
}

#[test]
fn events_refuses_maps_that_carry_no_events() {
    require_kernel!("events errors");
    let l = Loaded::new("trace_events");
    let cnt = l.map("rbt_trace_cnt");
    let (code, _, err) = run(&["perf", "events", "pinned", &cnt, "--count", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("ringbuf or perf_event_array"), "{err}");
    let (code, _, err) = run(&["perf", "events", "id", "x"]);
    assert_eq!(code, 2, "{err}");
    let pa = l.map("rbt_trace_pa");
    let (code, _, err) = run(&[
        "perf", "events", "pinned", &pa, "--pages", "3", "--count", "1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("power of two"), "{err}");
    let (code, _, err) = run(&["perf", "events", "pinned", &pa, "--duration", "soon"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn events_are_typed_with_btf() {
    require_kernel!("typed events");
    let l = Loaded::new("trace_events");
    l.attach(
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_getppid"],
    );
    let obj = fixture("trace_events").display().to_string();
    for (map, extra) in [
        ("rbt_trace_rb", vec![]),
        ("rbt_trace_pa", vec!["--btf", obj.as_str()]),
    ] {
        let m = l.map(map);
        let mut args = vec![
            "-j",
            "perf",
            "events",
            "pinned",
            &m,
            "--type",
            "struct event",
            "--duration",
            "3s",
        ];
        args.extend(extra);
        let (lines, pid) = stream_during_target(&args, 2);
        let mine: Vec<&Value> = lines
            .iter()
            .filter(|l| l["data"]["pid"].as_u64() == Some(pid as u64))
            .collect();
        assert_eq!(mine.len(), 2, "{map}: {lines:?}");
        for r in mine {
            assert_eq!(r["data"]["kind"], 1);
            assert!(r["data"]["seq"].as_u64().is_some());
            assert!(
                r["data"]["comm"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("trace_target")),
                "{r}"
            );
        }
    }
    let rb = l.map("rbt_trace_rb");
    // A scalar --type reads the record's first bytes: the pid, in both byte orders.
    for (t, pid_of) in [
        ("u32", (|p: u32| p) as fn(u32) -> u32),
        ("be32", u32::swap_bytes),
    ] {
        let (lines, pid) = stream_during_target(
            &[
                "-j",
                "perf",
                "events",
                "pinned",
                &rb,
                "--type",
                t,
                "--duration",
                "3s",
            ],
            2,
        );
        let mine = lines
            .iter()
            .filter(|l| l["data"].as_u64() == Some(u64::from(pid_of(pid))))
            .count();
        assert_eq!(mine, 2, "--type {t}: {lines:?}");
    }
    let (code, _, err) = run(&[
        "perf",
        "events",
        "pinned",
        &rb,
        "--type",
        "struct no_such_type",
        "--count",
        "1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no type `no_such_type`"), "{err}");
}

#[test]
fn fentry_is_attached_or_the_refusal_is_explained() {
    require_kernel!("fentry");
    let dir = PinDir::new();
    let obj = fixture("trace_vm").display().to_string();
    let progs = dir.join("p");
    let (code, _, err) = run(&["prog", "loadall", &obj, &progs]);
    if code != 0 {
        // This host: BPF trampolines are refused (EPERM) when the program is loaded.
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("refuses BPF trampolines"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert!(
            !Path::new(&progs).exists(),
            "a failed load leaves nothing pinned"
        );
        return;
    }
    // A kernel that allows trampolines (as under `make vmtest`).
    let p = format!("{progs}/vm_fentry");
    let link = dir.join("fentry_link");
    let (code, _, err) = run(&["prog", "attach", "pinned", &p, "fentry", "--pin", &link]);
    assert_eq!(code, 0, "{err}");
    let l = run_json(&["-j", "link", "show", "pinned", &link]);
    assert_eq!(l["attach_type"], "trace_fentry");
}

#[test]
fn perf_show_matches_bpftool_for_an_ioctl_attached_tracepoint() {
    require_kernel!("perf show ioctl");
    let l = Loaded::new("trace_events");
    if !Path::new("/sys/kernel/tracing/events").is_dir() {
        // rbt mounts tracefs when it needs it
        let (code, _, err) = run(&["perf", "tracelog", "--duration", "0s"]);
        assert_eq!(code, 0, "{err}");
    }
    let id = std::fs::read_to_string("/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id")
        .unwrap()
        .trim()
        .to_owned();
    let mut holder = Command::new(target_bin())
        .args(["tpattach", &l.prog("rbt_tp_getppid"), &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fd: u64 = line.trim().parse().expect("the holder's perf event fd");
    let pid = holder.id() as u64;
    let rbt = run_json(&["-j", "perf", "show"]);
    let bpftool = bpftool_json(&["-j", "perf", "show"]);
    let _ = holder.kill();
    let _ = holder.wait();
    let find = |v: &Value| -> Option<Value> {
        v.as_array()?
            .iter()
            .find(|e| e["pid"].as_u64() == Some(pid) && e["fd"].as_u64() == Some(fd))
            .cloned()
    };
    let r = find(&rbt).expect("rbt perf show lists the perf event fd");
    let b = find(&bpftool).expect("bpftool perf show lists the perf event fd");
    assert_eq!(assert_same_fields(&r, &b, &[]), 5, "{r} / {b}");
    assert_eq!(r["fd_type"], "tracepoint");
    assert_eq!(r["tracepoint"], "sys_enter_getppid");
    assert_eq!(r["prog_id"].as_u64(), Some(l.prog_id("rbt_tp_getppid")));
    assert!(r.get("link_id").is_none());
}

#[test]
fn lost_samples_are_reported_as_lines_and_on_stderr() {
    require_kernel!("lost samples");
    let l = Loaded::new("trace_bench");
    let pa = l.map("rbt_bench_pa");
    // One page per CPU: a burst of 200000 events cannot fit.
    let mut child = spawn_rbt(&[
        "-j",
        "perf",
        "events",
        "pinned",
        &pa,
        "--pages",
        "1",
        "--duration",
        "4s",
    ]);
    let (out, err) = drain(&mut child);
    std::thread::sleep(Duration::from_millis(700));
    let pkt = format!("/tmp/rbt-test-pkt-{}", std::process::id());
    std::fs::write(&pkt, [0u8; 64]).unwrap();
    let st = Command::new("bpftool")
        .args([
            "prog",
            "run",
            "pinned",
            &l.prog("rbt_bench_pa_x"),
            "data_in",
            &pkt,
            "repeat",
            "200000",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let _ = std::fs::remove_file(&pkt);
    assert!(st.success());
    assert_eq!(wait_for(&mut child, Duration::from_secs(20)), 0);
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let records = lines.iter().filter(|l| l.get("data").is_some()).count() as u64;
    let lost: u64 = lines
        .iter()
        .filter_map(|l| l.get("lost"))
        .map(|l| {
            assert!(l["cpu"].as_u64().is_some());
            l["count"].as_u64().unwrap()
        })
        .sum();
    assert!(records > 0 && lost > 0, "records {records}, lost {lost}");
    assert!(records + lost <= 200000, "records {records} + lost {lost}");
    assert!(
        stderr.contains(&format!("rbt: {records} records, {lost} lost")),
        "{stderr}"
    );
}

/// Run the target pinned to CPU `cpu` (taskset execs it: the pid is the target's).
fn run_target_on(cpu: &str, n: u32) -> u32 {
    let child = Command::new("taskset")
        .args(["-c", cpu])
        .arg(target_bin())
        .args(["call", &n.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("running taskset");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "taskset -c {cpu} target");
    pid
}

#[test]
fn map_event_pipe_cpu_index_reads_only_that_cpus_buffer() {
    require_kernel!("tracepoint attach");
    let ncpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let l = Loaded::new("trace_events");
    l.attach(
        "rbt_tp_getppid",
        &["tracepoint", "syscalls:sys_enter_getppid"],
    );
    let pa = l.map("rbt_trace_pa");
    // The program writes at BPF_F_CURRENT_CPU: the buffer of CPU N at index N gets what
    // runs on CPU N, nothing else.
    let cpu = (ncpus - 1).to_string();
    let args = [
        "-j",
        "map",
        "event_pipe",
        "pinned",
        &pa,
        "cpu",
        &cpu,
        "index",
        &cpu,
        "--duration",
        "3s",
    ];
    let mut child = spawn_rbt(&args);
    let (out, err) = drain(&mut child);
    std::thread::sleep(Duration::from_millis(700));
    let on = run_target_on(&cpu, 3);
    let elsewhere = (ncpus > 1).then(|| run_target_on("0", 2));
    let code = wait_for(&mut child, Duration::from_secs(20));
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(code, 0, "rbt {args:?}: {err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect();
    let got = records_of(&lines, on, 1);
    assert_eq!(got.len(), 3, "records of pid {on} on cpu {cpu}: {lines:?}");
    let want_cpu = cpu.parse::<u64>().ok();
    assert!(got.iter().all(|(c, _)| *c == want_cpu), "{got:?}");
    if let Some(pid) = elsewhere {
        assert!(records_of(&lines, pid, 1).is_empty(), "cpu 0: {lines:?}");
    }
}

#[test]
fn map_event_pipe_cpu_index_bad_input() {
    require_kernel!("events errors");
    let l = Loaded::new("trace_events");
    let pa = l.map("rbt_trace_pa");
    let rb = l.map("rbt_trace_rb");
    // One without the other, a CPU the machine lacks: usage errors.
    for args in [
        vec!["map", "event_pipe", "pinned", &pa, "cpu", "0"],
        vec!["map", "event_pipe", "pinned", &pa, "index", "0"],
        vec![
            "map",
            "event_pipe",
            "pinned",
            &pa,
            "cpu",
            "4096",
            "index",
            "0",
        ],
        vec!["map", "event_pipe", "pinned", &pa, "cpu", "x", "index", "0"],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.starts_with("Error: ") && err.lines().count() <= 2,
            "{err}"
        );
    }
    // A ring buffer has no per-CPU buffers.
    let (code, _, err) = run(&[
        "map",
        "event_pipe",
        "pinned",
        &rb,
        "cpu",
        "0",
        "index",
        "0",
        "--count",
        "1",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("perf_event_array"), "{err}");
}
