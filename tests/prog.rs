// Integration tests of the `prog` verbs and the global grammar, against the live kernel.

#[macro_use]
mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// bpftool and rbt compute loaded_at from two clock reads; allow one second apart.
fn assert_matches_bpftool(id: u64) {
    let id = id.to_string();
    let r = run_json(&["-j", "prog", "show", "id", &id]);
    let b = bpftool_json(&["-j", "prog", "show", "id", &id]);
    let n = assert_same_fields(&r, &b, &["loaded_at"]);
    assert!(n >= 12, "only {n} fields compared: {b}");
    let (rl, bl) = (
        r["loaded_at"].as_i64().unwrap(),
        b["loaded_at"].as_i64().unwrap(),
    );
    assert!((rl - bl).abs() <= 1, "loaded_at {rl} vs {bl}");
}

#[test]
fn load_pins_and_show_matches_bpftool() {
    require_kernel!("prog load");
    let loaded = Loaded::first("prog_basic");
    let pin = loaded.pin();
    let id = loaded.id();
    let shown = run_json(&["-j", "prog", "show", "pinned", &pin]);
    assert_eq!(
        shown["name"], "rbt_basic_xdp",
        "the first program is pinned"
    );
    assert_eq!(shown["type"], "xdp");
    assert_eq!(shown["metadata"], serde_json::json!({"a": "foo", "b": 1}));
    assert_matches_bpftool(id);

    // A bare /path is a pinned handle, and -f adds the pin.
    let f = run_json(&["-j", "-f", "prog", "show", &pin]);
    assert_eq!(f["pinned"], serde_json::json!([pin]));
}

#[test]
fn loadall_pins_every_program_and_maps() {
    require_kernel!("prog loadall");
    let dir = PinDir::new();
    let progs = dir.join("progs");
    let maps = dir.join("maps");
    let obj = fixture("prog_basic").display().to_string();
    let (code, out, err) = run(&["-j", "prog", "loadall", &obj, &progs, "pinmaps", &maps]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "null\n");
    for name in ["rbt_basic_xdp", "rbt_basic_tp"] {
        let p = format!("{progs}/{name}");
        let shown = run_json(&["-j", "prog", "show", &p]);
        assert_eq!(shown["name"], name);
        assert_matches_bpftool(shown["id"].as_u64().unwrap());
    }
    let tp = run_json(&["-j", "prog", "show", &format!("{progs}/rbt_basic_tp")]);
    assert_eq!(tp["type"], "tracepoint");
    // Maps are pinned by name, dots made underscores, and are the programs' maps.
    let map = bpftool_json(&["-j", "map", "show", "pinned", &format!("{maps}/basic_cnt")]);
    assert!(tp["map_ids"].as_array().unwrap().contains(&map["id"]));
    assert!(PathBuf::from(format!("{maps}/prog_bas_rodata")).exists());
}

#[test]
fn pin_and_handles_name_tag_id() {
    require_kernel!("prog pin");
    let loaded = Loaded::first("prog_basic");
    let id = loaded.id();
    let second = loaded.dir.join("second");
    let (code, _, err) = run(&["prog", "pin", "id", &id.to_string(), &second]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        run_json(&["-j", "prog", "show", "pinned", &second])["id"],
        id
    );

    let tag = run_json(&["-j", "prog", "show", "id", &id.to_string()])["tag"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_tag = run_json(&["-j", "prog", "show", "tag", &tag]);
    let ids: Vec<u64> = match &by_tag {
        Value::Array(a) => a.iter().map(|p| p["id"].as_u64().unwrap()).collect(),
        one => vec![one["id"].as_u64().unwrap()],
    };
    assert!(ids.contains(&id), "tag {tag} finds {id}: {by_tag}");

    // Load the same object again: name now matches two programs.
    let other = Loaded::first("prog_basic");
    let id2 = other.id();
    let both = run_json(&["-j", "prog", "show", "name", "rbt_basic_xdp"]);
    let ids: Vec<u64> = both
        .as_array()
        .expect("several matches print an array")
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert!(ids.contains(&id) && ids.contains(&id2), "{both}");
    // A verb that needs one program fails and lists the matches.
    let third = loaded.dir.join("third");
    let (code, _, err) = run(&["prog", "pin", "name", "rbt_basic_xdp", &third]);
    assert_eq!(code, 1);
    assert!(
        err.contains("several programs match") && err.contains(&format!("id {id2}")),
        "{err}"
    );
    assert!(!PathBuf::from(&third).exists());
}

#[test]
fn show_lists_every_program_as_table_and_json() {
    require_kernel!("prog show");
    let loaded = Loaded::first("prog_basic");
    let id = loaded.id();
    let all = run_json(&["-j", "prog", "show"]);
    let mine = all
        .as_array()
        .expect("an array")
        .iter()
        .find(|p| p["id"] == id)
        .expect("our program is listed");
    assert_eq!(mine["name"], "rbt_basic_xdp");

    // Table: a header and our row with its columns; `rbt p` (object alone, prefix) = show.
    for args in [
        &["prog", "show"][..],
        &["p"][..],
        &["p", "s"][..],
        &["prog", "list"][..],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        let header = out.lines().next().unwrap_or_default();
        assert!(
            header.starts_with("ID") && header.contains("TAG"),
            "{args:?}: {header}"
        );
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&id.to_string()))
            .expect("our row");
        assert!(
            row.contains("xdp") && row.contains("rbt_basic_xdp"),
            "{row}"
        );
    }
    // Pretty JSON: 4-space indent, one trailing newline.
    let (_, out, _) = run(&["-p", "prog", "show", "id", &id.to_string()]);
    assert!(out.starts_with("{\n    \"id\": "), "{out}");
    assert!(out.ends_with("}\n"));
    // Global flags anywhere on the line.
    let late = run_json(&["prog", "show", "id", &id.to_string(), "--json"]);
    assert_eq!(late["id"], id);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    require_kernel!("prog show colour");
    let (_, plain, _) = run(&["prog", "show"]);
    assert!(!plain.contains('\x1b'), "no colour into a pipe");
    let (_, always, _) = run(&["--color", "always", "prog", "show"]);
    assert!(
        always.contains("\x1b["),
        "--color always colours the header"
    );
    let out = rbt()
        .args(["--color", "auto", "prog", "show"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

#[test]
fn pids_holding_a_program_are_listed() {
    require_kernel!("prog show pids");
    let loaded = Loaded::first("prog_basic");
    let pin = loaded.pin();
    let id = loaded.id();
    // A process holding the program open: bash with the pin on fd 3 would not work
    // (a pin opens as a file); bpftool's `prog show` holds fds only briefly. Use a
    // short python process that opens the program by pin through the bpf() syscall.
    let script = format!(
        "import ctypes,os,time,struct\n\
         libc=ctypes.CDLL(None,use_errno=True)\n\
         path=ctypes.create_string_buffer(b'{pin}')\n\
         attr=struct.pack('QII',ctypes.addressof(path),0,0)+bytes(104)\n\
         buf=ctypes.create_string_buffer(attr,len(attr))\n\
         fd=libc.syscall(321,7,buf,len(attr))\n\
         print(fd,flush=True)\n\
         time.sleep(30)\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = [0u8; 8];
    let n = child.stdout.as_mut().unwrap().read(&mut line).unwrap();
    let fd: i64 = String::from_utf8_lossy(&line[..n])
        .trim()
        .parse()
        .unwrap_or(-1);
    let shown = run_json(&["-j", "prog", "show", "id", &id.to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(fd >= 0, "the holder opened the program");
    let pids = shown["pids"].as_array().expect("pids listed");
    assert!(
        pids.iter()
            .any(|p| p["pid"] == child.id() && p["comm"] == "python3"),
        "{shown}"
    );
}

#[test]
fn verifier_rejection_names_program_errno_and_log() {
    require_kernel!("prog load rejection");
    let dir = PinDir::new();
    let pin = dir.join("rejected");
    let log = tempfile::NamedTempFile::new().unwrap();
    let log_path = log.path().display().to_string();
    let obj = fixture("verifier_reject").display().to_string();
    let (code, out, err) = run(&["prog", "load", &obj, &pin, "--log", &log_path]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("program 'rbt_rejected' failed to load"),
        "{err}"
    );
    assert!(
        err.contains("EACCES") || err.contains("Permission denied"),
        "{err}"
    );
    assert!(
        err.contains("invalid mem access"),
        "the log's last lines: {err}"
    );
    assert!(err.contains("hint: the whole verifier log"), "{err}");
    let whole = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        whole.contains("invalid mem access") && whole.lines().count() > 5,
        "{whole}"
    );
    assert!(!PathBuf::from(&pin).exists(), "nothing pinned");
    // Nothing stays loaded.
    let (_, out, _) = run(&["-j", "prog", "show", "name", "rbt_rejected"]);
    assert!(
        out.contains("error"),
        "no program named rbt_rejected is loaded: {out}"
    );
    // JSON mode: the error is also an object on stdout.
    let (code, out, _) = run(&["-j", "prog", "load", &obj, &pin]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["error"].as_str().unwrap().contains("rbt_rejected"));
}

/// Bad input of every kind: one clear line, exit 1, nothing pinned, nothing loaded.
#[test]
fn bad_input_is_a_clear_error() {
    require_kernel!("prog bad input");
    let dir = PinDir::new();
    let tmp = tempfile::tempdir().unwrap();
    let good = fixture("prog_basic");
    let text = tmp.path().join("notes.o");
    std::fs::write(&text, "just some text\n").unwrap();
    let empty = tmp.path().join("empty.o");
    std::fs::write(&empty, "").unwrap();
    let truncated = tmp.path().join("truncated.bpf.o");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let existing = dir.join("exists");
    std::fs::create_dir(&existing).unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    let g = s(&good);
    let pin = dir.join("p");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![s(&tmp.path().join("missing.o")), pin.clone()],
            "No such file",
        ),
        (vec![s(tmp.path()), pin.clone()], "is a directory"),
        (vec![s(&empty), pin.clone()], "is empty"),
        (vec![s(&text), pin.clone()], "not an ELF file"),
        (vec![s(&truncated), pin.clone()], "not a valid BPF object"),
        (
            vec!["/bin/true".into(), pin.clone()],
            "for x86-64, not a BPF object",
        ),
        (vec![g.clone(), existing.clone()], "already exists"),
        (vec![g.clone(), dir.join("nodir/p")], "does not exist"),
        (
            vec![g.clone(), "/tmp/rbt-not-bpffs".into()],
            "not on a bpffs",
        ),
    ];
    for (args, expect) in cases {
        let mut all = vec!["prog".to_string(), "load".into()];
        all.extend(args);
        let argv: Vec<&str> = all.iter().map(String::as_str).collect();
        let (code, out, err) = run(&argv);
        assert_eq!(code, 1, "{argv:?}: {err}");
        assert!(out.is_empty(), "{argv:?}: stdout {out}");
        assert!(
            err.starts_with("Error: ") && err.contains(expect),
            "{argv:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = run(&["prog", "load", &g, &pin, "type", "no_such_type"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown program type `no_such_type`") && err.contains("xdp"),
        "{err}"
    );
    let (code, _, err) = run(&["prog", "show", "id", "999999"]);
    assert_eq!(code, 1);
    assert!(err.contains("no program with id 999999"), "{err}");
    let (code, out, err) = run(&["prog", "show", "name", "rbt_no_such_prog"]);
    assert_eq!(code, 1, "matching nothing is an error");
    assert!(
        out.is_empty() && err.contains("no program matches name rbt_no_such_prog"),
        "{err}"
    );
    let (code, _, err) = run(&["prog", "show", "bogus", "1"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&["prog", "frobnicate"]);
    assert_eq!(code, 2);
    // Nothing of the above left a pin behind (only the dir we made ourselves).
    let left: Vec<_> = std::fs::read_dir(&dir.path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("exists")]);
}

#[test]
fn missing_capabilities_are_named() {
    require_kernel!("prog without CAP_BPF");
    let bin = assert_cmd::cargo::cargo_bin("rbt");
    let dir = PinDir::new();
    let obj = fixture("prog_basic").display().to_string();
    let pin = dir.join("nocap");
    let caps = "-bpf,-sys_admin,-perfmon,-net_admin";
    for args in [vec!["prog", "show"], vec!["prog", "load", &obj, &pin]] {
        let out = Command::new("setpriv")
            .args(["--bounding-set", caps, "--inh-caps", caps])
            .arg(&bin)
            .args(&args)
            .output()
            .expect("setpriv");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("CAP_BPF") && err.contains("hint:"),
            "{args:?}: {err}"
        );
    }
    assert!(!PathBuf::from(&pin).exists());
}

#[test]
fn closed_stdout_ends_quietly() {
    require_kernel!("closed stdout");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("rbt"))
        .args(["-j", "prog", "show"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_verb_has_help_with_an_example() {
    for verb in ["show", "pin", "load", "loadall", "run"] {
        let out = rbt().args(["prog", verb, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0));
        assert!(text.contains("Example"), "prog {verb} --help: {text}");
    }
    let out = rbt().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("rbt ") && text.contains("libbpf v1."),
        "{text}"
    );
}

#[test]
fn run_matches_bpftool_and_counts_stats() {
    require_kernel!("prog run");
    let loaded = Loaded::first("prog_basic");
    let id = loaded.id().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let packet = tmp.path().join("packet.bin");
    std::fs::write(&packet, (0u8..64).collect::<Vec<u8>>()).unwrap();
    let packet = packet.display().to_string();
    let r = run_json(&[
        "-j", "prog", "run", "id", &id, "data_in", &packet, "data_out", "-", "repeat", "10",
    ]);
    let b = bpftool_json(&[
        "-j", "prog", "run", "id", &id, "data_in", &packet, "data_out", "-",
    ]);
    assert_eq!(r["retval"], 2, "XDP_PASS");
    assert_same_fields(&r, &b, &["duration"]);
    assert_eq!(r["data_out"].as_array().unwrap().len(), 64);

    // With kernel.bpf_stats_enabled on, run_time_ns and run_cnt appear and match bpftool.
    let sysctl = "/proc/sys/kernel/bpf_stats_enabled";
    let before = std::fs::read_to_string(sysctl).unwrap_or_else(|_| "0".into());
    std::fs::write(sysctl, "1").unwrap();
    run_json(&[
        "-j", "prog", "run", "id", &id, "data_in", &packet, "repeat", "5",
    ]);
    let shown = run_json(&["-j", "prog", "show", "id", &id]);
    let theirs = bpftool_json(&["-j", "prog", "show", "id", &id]);
    std::fs::write(sysctl, before.trim()).unwrap();
    assert!(shown["run_cnt"].as_u64().unwrap() >= 5, "{shown}");
    assert!(shown["run_time_ns"].as_u64().unwrap() > 0);
    assert_eq!(shown["run_cnt"], theirs["run_cnt"]);
    assert_eq!(shown["run_time_ns"], theirs["run_time_ns"]);

    // Bad input: too short a packet for XDP, a missing file, no data_in.
    std::fs::write(tmp.path().join("short"), "ab").unwrap();
    let short = tmp.path().join("short").display().to_string();
    let (code, _, err) = run(&["prog", "run", "id", &id, "data_in", &short]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Invalid argument") && err.contains("hint:"),
        "{err}"
    );
    let (code, _, err) = run(&["prog", "run", "id", &id, "data_in", "/nonexistent"]);
    assert_eq!(code, 1);
    assert!(err.contains("reading /nonexistent"), "{err}");
    // Files rbt reads are regular files (no /dev/zero filling memory, no FIFO hanging it), and
    // a symlink where it writes is refused, not followed.
    let (code, _, err) = run(&["prog", "run", "id", &id, "data_in", "/dev/zero"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a regular file (a device)"), "{err}");
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo = fifo.display().to_string();
    let (code, _, err) = run(&["prog", "run", "id", &id, "data_in", &fifo]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a regular file (a FIFO)"), "{err}");
    let (code, _, err) = run(&["net", "show", "--netns", &fifo]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a regular file (a FIFO)"), "{err}");
    let planted = tmp.path().join("planted");
    std::os::unix::fs::symlink(tmp.path().join("victim"), &planted).unwrap();
    let planted = planted.display().to_string();
    let (code, _, err) = run(&[
        "prog", "run", "id", &id, "data_in", &packet, "data_out", &planted,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!tmp.path().join("victim").exists());
    let (code, _, err) = run(&["prog", "run", "id", &id, "repeat", "3"]);
    assert_eq!(code, 2);
    assert!(err.contains("data_in"), "{err}");
}

/// In a private mount namespace without bpffs at /sys/fs/bpf: rbt mounts one before
/// pinning, and with -n refuses with a clear error instead.
#[test]
fn bpffs_is_mounted_when_missing_unless_nomount() {
    require_kernel!("bpffs mount");
    assert!(which("unshare").is_some(), "unshare (util-linux) is needed");
    let bin = assert_cmd::cargo::cargo_bin("rbt").display().to_string();
    let obj = fixture("prog_basic").display().to_string();
    let script = format!(
        "umount -l /sys/fs/bpf 2>/dev/null; \
         grep -q ' /sys/fs/bpf bpf ' /proc/mounts && exit 90; \
         {bin} -n prog load {obj} /sys/fs/bpf/rbt-nomount; echo nomount=$?; \
         {bin} prog load {obj} /sys/fs/bpf/rbt-mounted; echo mounted=$?; \
         grep -c ' /sys/fs/bpf bpf ' /proc/mounts; \
         {bin} -j prog show pinned /sys/fs/bpf/rbt-mounted"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("nomount=1"), "{stdout}{stderr}");
    assert!(stderr.contains("not on a bpffs"), "{stderr}");
    assert!(stdout.contains("mounted=0"), "{stdout}{stderr}");
    assert!(stdout.contains("\"name\":\"rbt_basic_xdp\""), "{stdout}");
}

/// On a world-writable (1777) bpffs, as a shared host may have: rbt refuses to pin into a
/// directory another user owns or can write, and leaves nothing behind; root's own sticky
/// directory is fine. In a private mount namespace with a fresh bpffs.
#[test]
fn pins_refuse_directories_other_users_control() {
    require_kernel!("bpffs mount");
    assert!(which("setpriv").is_some(), "setpriv (util-linux) is needed");
    let bin = assert_cmd::cargo::cargo_bin("rbt").display().to_string();
    let obj = fixture("prog_basic").display().to_string();
    let script = format!(
        "umount -l /sys/fs/bpf 2>/dev/null; mount -t bpf bpf /sys/fs/bpf || exit 90; \
         chmod 1777 /sys/fs/bpf; \
         setpriv --reuid=65534 --regid=65534 --clear-groups mkdir /sys/fs/bpf/evil || exit 91; \
         mkdir /sys/fs/bpf/open && chmod 0777 /sys/fs/bpf/open; \
         {bin} prog load {obj} /sys/fs/bpf/evil/p; echo owned=$?; \
         {bin} prog load {obj} /sys/fs/bpf/open/p; echo open=$?; \
         {bin} prog loadall {obj} /sys/fs/bpf/evil/all; echo loadall=$?; \
         {bin} prog load {obj} /sys/fs/bpf/mine pinmaps /sys/fs/bpf/evil/maps; echo pinmaps=$?; \
         {bin} prog load {obj} /sys/fs/bpf/ok; echo sticky=$?; \
         echo left: $(find /sys/fs/bpf -mindepth 1 ! -name '*.debug' | sort)"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for refused in ["owned=1", "open=1", "loadall=1", "pinmaps=1"] {
        assert!(stdout.contains(refused), "{refused}: {stdout}{stderr}");
    }
    assert!(stdout.contains("sticky=0"), "{stdout}{stderr}");
    assert!(
        stderr.contains("/sys/fs/bpf/evil: belongs to uid 65534"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/sys/fs/bpf/open: is writable by everyone (mode 777)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("left: /sys/fs/bpf/evil /sys/fs/bpf/ok /sys/fs/bpf/open\n"),
        "nothing pinned in the refused directories, and no /sys/fs/bpf/mine: {stdout}"
    );
}

/// rbt under `strace -f` with every bpf syscall slowed by `delay_us` microseconds, so that
/// a signal can land between two pins. Returns strace (whose stderr is rbt's) and rbt's pid.
fn slowed_rbt(args: &[&str], delay_us: u32) -> (std::process::Child, String) {
    assert!(
        which("strace").is_some(),
        "strace is needed: run `make deps`"
    );
    let child = Command::new("strace")
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            &format!("inject=bpf:delay_exit={delay_us}"),
        ])
        .arg(assert_cmd::cargo::cargo_bin("rbt"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace");
    let mut rbt_pid = String::new();
    wait_for("rbt under strace", || {
        let pids = Command::new("pgrep")
            .args(["-P", &child.id().to_string()])
            .output()
            .expect("pgrep");
        rbt_pid = String::from_utf8_lossy(&pids.stdout).trim().to_owned();
        !rbt_pid.is_empty()
    });
    (child, rbt_pid)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "waited for {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Send `sig` to rbt, wait for strace, and return rbt's exit code and stderr.
fn signal_rbt(mut child: std::process::Child, rbt_pid: &str, sig: &str) -> (Option<i32>, String) {
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), rbt_pid])
        .status()
        .expect("kill")
        .success());
    let status = child.wait().expect("wait");
    let mut err = String::new();
    child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    (status.code(), err)
}

/// The rbt temporaries (`rbt-tmp-<pid>-...`) in `dir`.
fn temporaries(dir: &str) -> Vec<String> {
    entries(std::path::Path::new(dir))
        .into_iter()
        .filter(|n| n.starts_with("rbt-tmp-"))
        .collect()
}

/// Pins in `dir` and in the temporary directories in it.
fn pins_under(dir: &str) -> usize {
    let Ok(list) = std::fs::read_dir(dir) else {
        return 0;
    };
    list.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => pins_under(&e.path().display().to_string()),
            _ => 1,
        })
        .sum()
}

/// The program names of the trace_events fixture, as `prog loadall` pins them.
const TRACE_EVENTS_PROGS: [&str; 5] = [
    "rbt_kprobe",
    "rbt_raw_enter",
    "rbt_tp_getppid",
    "rbt_uprobe",
    "rbt_uretprobe",
];

/// `prog loadall` killed with SIGTERM after it has pinned some programs: it removes what it
/// pinned and the directory it made, then exits 1. The pins are slowed with strace so the
/// signal lands in the middle.
#[test]
fn loadall_interrupted_leaves_nothing() {
    require_kernel!("prog loadall");
    let obj = fixture("trace_events").display().to_string();
    let dir = PinDir::new();
    let target = dir.join("all");
    let (child, rbt_pid) = slowed_rbt(&["prog", "loadall", &obj, &target], 300_000);
    // Wait for the first pin (in the temporary directory), then TERM rbt.
    wait_for("the first pin", || {
        pins_under(&dir.path.display().to_string()) > 0
    });
    let (code, err) = signal_rbt(child, &rbt_pid, "TERM");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(
        !std::path::Path::new(&target).exists(),
        "the programs pinned before the signal are removed, and the directory: {err}"
    );
    assert_eq!(entries(&dir.path), Vec::<String>::new(), "{err}");
}

/// SIGKILL cannot be caught: rbt pins under temporary names (a new DIR is made as a
/// temporary directory) and renames into place at the end, so a kill at any point leaves
/// DIR whole or absent; the next run removes the temporaries and says so.
#[test]
fn loadall_killed_leaves_dir_whole_or_absent_and_next_run_cleans() {
    require_kernel!("prog loadall");
    let obj = fixture("trace_events").display().to_string();
    let dir = PinDir::new();
    let parent = dir.path.display().to_string();
    // Killed after the first pin, and in the middle (3 of 5) with `pinmaps DIR` (a new one
    // is staged the same way).
    for (round, after) in [1usize, 3].into_iter().enumerate() {
        let target = dir.join(&format!("all{round}"));
        let maps = dir.join(&format!("maps{round}"));
        let mut args = vec!["prog", "loadall", obj.as_str(), target.as_str()];
        if round == 1 {
            args.extend(["pinmaps", maps.as_str()]);
        }
        let (child, rbt_pid) = slowed_rbt(&args, 100_000);
        let tmp_pins = || {
            temporaries(&parent)
                .iter()
                .map(|t| pins_under(&format!("{parent}/{t}")))
                .sum::<usize>()
        };
        wait_for("pins", || tmp_pins() >= after);
        let (code, err) = signal_rbt(child, &rbt_pid, "KILL");
        assert_eq!(code, None, "killed: {err}");
        assert!(
            !std::path::Path::new(&target).exists() && !std::path::Path::new(&maps).exists(),
            "DIR and pinmaps DIR appear only whole: {:?}",
            entries(&dir.path)
        );
        let mut tmps = vec![format!("rbt-tmp-{rbt_pid}-all{round}")];
        if round == 1 {
            tmps.push(format!("rbt-tmp-{rbt_pid}-maps{round}"));
        }
        assert_eq!(temporaries(&parent), tmps);
        assert!(tmp_pins() >= after);

        // The next load into the same DIR removes the temporaries, says so, and loads.
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        for tmp in &tmps {
            assert!(
                err.contains(&format!(
                    "removed stale temporary pin {parent}/{tmp} left by a killed rbt (pid {rbt_pid})"
                )),
                "{err}"
            );
        }
        assert_eq!(temporaries(&parent), Vec::<String>::new());
        assert_eq!(entries(std::path::Path::new(&target)), TRACE_EVENTS_PROGS);
        if round == 1 {
            assert_eq!(
                entries(std::path::Path::new(&maps)),
                [
                    "rbt_trace_cnt",
                    "rbt_trace_pa",
                    "rbt_trace_rb",
                    "trace_ev_rodata"
                ]
            );
        }
    }
}

/// Into a DIR that exists, each program is pinned beside its final name and renamed at the
/// end: a kill leaves no final name, only temporaries, which the next run removes.
#[test]
fn loadall_into_existing_dir_killed_leaves_no_final_pin() {
    require_kernel!("prog loadall");
    let obj = fixture("trace_events").display().to_string();
    let dir = PinDir::new();
    let target = dir.path.display().to_string();
    let (child, rbt_pid) = slowed_rbt(&["prog", "loadall", &obj, &target], 100_000);
    wait_for("two pins", || pins_under(&target) >= 2);
    let (code, err) = signal_rbt(child, &rbt_pid, "KILL");
    assert_eq!(code, None, "killed: {err}");
    let left = entries(&dir.path);
    assert!(left.len() >= 2, "{left:?}");
    assert_eq!(temporaries(&target), left, "only temporaries: {left:?}");

    let (code, _, err) = run(&["prog", "loadall", &obj, &target]);
    assert_eq!(code, 0, "{err}");
    for name in &left {
        assert!(
            err.contains(&format!(
                "removed stale temporary pin {target}/{name} left by a killed rbt (pid {rbt_pid})"
            )),
            "{name}: {err}"
        );
    }
    assert_eq!(entries(&dir.path), TRACE_EVENTS_PROGS);
}

/// `prog load OBJ PATH` killed after its pin: PATH does not exist; the temporary beside it
/// is removed by the next load into that directory.
#[test]
fn load_killed_leaves_no_path_and_next_run_cleans() {
    require_kernel!("prog load");
    let obj = fixture("trace_events").display().to_string();
    let dir = PinDir::new();
    let path = dir.join("one");
    let (child, rbt_pid) = slowed_rbt(&["prog", "load", &obj, &path], 1_000_000);
    wait_for("the temporary pin", || {
        pins_under(&dir.path.display().to_string()) >= 1
    });
    let (code, err) = signal_rbt(child, &rbt_pid, "KILL");
    assert_eq!(code, None, "killed: {err}");
    let tmp = format!("rbt-tmp-{rbt_pid}-one");
    assert_eq!(
        entries(&dir.path),
        std::slice::from_ref(&tmp),
        "no PATH, only the temporary"
    );

    let other = dir.join("two");
    let (code, _, err) = run(&["prog", "load", &obj, &other]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "removed stale temporary pin {}/{tmp} left by a killed rbt (pid {rbt_pid})",
            dir.path.display()
        )),
        "{err}"
    );
    assert_eq!(entries(&dir.path), ["two"]);
}

/// Only temporaries whose rbt is gone are removed: a running process's are left alone, and
/// so is any other name.
#[test]
fn temporaries_of_running_processes_are_kept() {
    require_kernel!("prog load");
    let obj = fixture("prog_basic").display().to_string();
    let dir = PinDir::new();
    let mut gone = Command::new("true").spawn().expect("true");
    gone.wait().expect("wait");
    let dead = format!("rbt-tmp-{}-x", gone.id());
    let live = format!("rbt-tmp-{}-x", std::process::id());
    for name in [&dead, &live, &"rbt-tmp-x-y".to_owned(), &"mine".to_owned()] {
        std::fs::create_dir(dir.path.join(name)).expect("mkdir");
    }
    let (code, _, err) = run(&["prog", "load", &obj, &dir.join("p")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("temporary pin {}/{dead} ", dir.path.display())),
        "{err}"
    );
    assert_eq!(err.matches("removed stale").count(), 1, "{err}");
    let mut want = vec![
        "mine".to_owned(),
        "p".to_owned(),
        "rbt-tmp-x-y".to_owned(),
        live,
    ];
    want.sort();
    assert_eq!(entries(&dir.path), want);
}

/// Removes a pin outside any PinDir when the test ends, passed or failed.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn maps_pinned_by_name_go_under_pinmaps_or_are_reported() {
    require_kernel!("prog load");
    let obj = fixture("pin_by_name").display().to_string();
    let default_pin = PathBuf::from("/sys/fs/bpf/rbt_pbn_map");
    let _cleanup = RemoveOnDrop(default_pin.clone());
    let _ = std::fs::remove_file(&default_pin);

    // With pinmaps DIR, libbpf's by-name pin goes under DIR, not /sys/fs/bpf.
    let dir = PinDir::new();
    let maps = dir.join("maps");
    let (code, _, err) = run(&["prog", "load", &obj, &dir.join("p"), "pinmaps", &maps]);
    assert_eq!(code, 0, "{err}");
    let pinned = run_json(&[
        "-j",
        "map",
        "show",
        "pinned",
        &format!("{maps}/rbt_pbn_map"),
    ]);
    assert_eq!(pinned["name"], "rbt_pbn_map");
    assert!(!default_pin.exists(), "pinned under /sys/fs/bpf too");

    // Without pinmaps, libbpf pins it under /sys/fs/bpf and rbt says where.
    let (code, _, err) = run(&["prog", "load", &obj, &dir.join("q")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "map rbt_pbn_map pinned by name (LIBBPF_PIN_BY_NAME) at /sys/fs/bpf/rbt_pbn_map"
        ),
        "{err}"
    );
    assert!(default_pin.exists());
    std::fs::remove_file(&default_pin).expect("removing the by-name pin");

    // A load that fails after libbpf pinned by name leaves neither the pin nor pinmaps DIR.
    let bad = build_dir().join(format!("pin_by_name_reject.{}.bpf.o", std::process::id()));
    let mut flags = BPF_CFLAGS.to_vec();
    flags.push("-DREJECT");
    compile_bpf(
        &flags,
        &tests_bpf(),
        &tests_bpf().join("pin_by_name.bpf.c"),
        &bad,
    );
    let bad = bad.display().to_string();
    let fresh = dir.join("fresh");
    for extra in [vec!["pinmaps", fresh.as_str()], vec![]] {
        let mut args = vec!["prog", "load", bad.as_str(), "/sys/fs/bpf/rbt-pbn-never"];
        args.extend(extra.iter().copied());
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("rbt_pbn_xdp"), "{err}");
        assert!(
            !PathBuf::from(dir.join("fresh")).exists(),
            "{args:?} left pinmaps DIR"
        );
        assert!(!default_pin.exists(), "{args:?} left the by-name pin");
        assert!(!PathBuf::from("/sys/fs/bpf/rbt-pbn-never").exists());
    }
}

#[test]
fn log_file_holds_the_verifier_log_of_a_successful_load() {
    require_kernel!("prog load");
    let dir = PinDir::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("verifier.log");
    let obj = fixture("prog_basic").display().to_string();
    let log_arg = log.display().to_string();
    let (code, _, err) = run(&["prog", "load", &obj, &dir.join("p"), "--log", &log_arg]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).expect("--log FILE written on success");
    assert!(text.contains("processed "), "{text}");
}
