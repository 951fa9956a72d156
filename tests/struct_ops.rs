// `struct_ops` verbs on the live kernel with a BPF TCP congestion control built for the
// test: register (with and without LINK_DIR), the name in tcp_available_congestion_control,
// a socket using it, show/dump compared with bpftool field by field, unregister, bad input.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::Value;

const AVAILABLE: &str = "/proc/sys/net/ipv4/tcp_available_congestion_control";

/// tests/bpf/struct_ops_cc.bpf.c built with `defines` (once per test process and tag).
fn cc_object(tag: &str, defines: &[&str]) -> PathBuf {
    let dir = target_dir().join("test-bpf");
    std::fs::create_dir_all(&dir).expect("target/test-bpf");
    let obj = dir.join(format!("struct_ops_cc.{tag}.{}.bpf.o", std::process::id()));
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bpf");
    let mut flags: Vec<&str> = BPF_CFLAGS.to_vec();
    flags.extend_from_slice(defines);
    compile_bpf(&flags, &src, &src.join("struct_ops_cc.bpf.c"), &obj);
    obj
}

/// A congestion control named `name` (also its map's name), in .struct_ops, or in
/// .struct_ops.link with `link`.
fn cc(name: &str, link: bool) -> String {
    let var = format!("-DCC_VAR={name}");
    let cc_name = format!("-DCC_NAME=\"{name}\"");
    let mut defines = vec![var.as_str(), cc_name.as_str()];
    if link {
        defines.push("-DCC_LINK");
    }
    cc_object(name, &defines).display().to_string()
}

fn available() -> Vec<String> {
    std::fs::read_to_string(AVAILABLE)
        .expect("reading tcp_available_congestion_control")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn registered(name: &str) -> bool {
    available().iter().any(|n| n == name)
}

/// Unregisters the named struct_ops maps when dropped, whatever happened in the test
/// (with rbt, then bpftool for what is left).
struct Unregister(Vec<String>);

impl Drop for Unregister {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = run(&["struct_ops", "unregister", "name", name]);
            if registered(name) {
                let _ = bpftool(&["struct_ops", "unregister", "name", name]);
            }
        }
    }
}

/// The congestion control a TCP connection on 127.0.0.1 uses after selecting `name`.
fn socket_uses(name: &str) -> String {
    let peer = target_program("tcp_cc_peer", &[], "");
    let out = Command::new(&peer)
        .arg(name)
        .output()
        .expect("running tcp_cc_peer");
    assert!(
        out.status.success(),
        "tcp_cc_peer {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// bpftool 7.1 prints `struct_ops dump id N` as two objects separated by a comma (no
/// brackets); as a list otherwise.
fn bpftool_dump(args: &[&str]) -> Value {
    let (code, out, err) = bpftool(args);
    assert_eq!(code, 0, "bpftool {args:?}: {err}");
    let text = out.trim();
    let text = if text.starts_with('[') {
        text.to_owned()
    } else {
        format!("[{text}]")
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bpftool dump JSON {e}: {text}"))
}

/// Compare rbt's dump of one map with bpftool's, object by object and field by field.
fn assert_dump_matches(id: &str) -> Value {
    let rbt = run_json(&["-j", "struct_ops", "dump", "id", id]);
    let bpf = bpftool_dump(&["-j", "struct_ops", "dump", "id", id]);
    let (r, b) = (
        rbt.as_array().expect("array"),
        bpf.as_array().expect("array"),
    );
    assert_eq!(r.len(), 2, "{rbt}");
    assert_eq!(r.len(), b.len());
    let mut compared = 0;
    for (ro, bo) in r.iter().zip(b) {
        let (Some(rm), Some(bm)) = (ro.as_object(), bo.as_object()) else {
            panic!("objects expected: {ro} {bo}");
        };
        assert_eq!(rm.keys().collect::<Vec<_>>(), bm.keys().collect::<Vec<_>>());
        for (k, bv) in bm {
            compared += assert_same_fields(&rm[k], bv, &[]);
            // The kernel struct's members one by one (function pointers included).
            if bv.get("data").is_some() {
                compared += assert_same_fields(&rm[k]["data"], &bv["data"], &[]);
            }
        }
    }
    assert!(compared > 30, "only {compared} fields compared");
    rbt
}

#[test]
fn register_plain_show_dump_socket_unregister() {
    require_kernel!("struct_ops tcp_congestion_ops");
    let name = "rbt_so_plain";
    let obj = cc(name, false);
    let _guard = Unregister(vec![name.into()]);
    let regs = run_json(&["-j", "struct_ops", "register", &obj]);
    let reg = &regs[0];
    assert_eq!(reg["name"], name);
    assert_eq!(reg["kernel_struct_ops"], "tcp_congestion_ops");
    assert!(reg.get("link_id").is_none(), "{reg}");
    let id = reg["id"].as_u64().expect("id").to_string();
    // rbt has exited: the registration stays.
    assert!(registered(name), "{:?}", available());
    assert_eq!(socket_uses(name), name);
    // show: by id an object, as bpftool; the list holds it.
    let shown = run_json(&["-j", "struct_ops", "show", "id", &id]);
    assert_eq!(
        shown,
        bpftool_json(&["-j", "struct_ops", "show", "id", &id])
    );
    assert_eq!(shown["name"], name);
    let list = run_json(&["-j", "struct_ops", "list"]);
    assert!(
        list.as_array().is_some_and(|l| l.contains(&shown)),
        "{list}"
    );
    let by_name = run_json(&["-j", "struct_ops", "show", "name", name]);
    assert_eq!(by_name, Value::Array(vec![shown.clone()]));
    let table = ok(&["struct_ops", "show"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{id} ")) && l.contains("tcp_congestion_ops")),
        "{table}"
    );
    // dump: bpftool's JSON, function pointers as programs.
    let dump = assert_dump_matches(&id);
    let data = &dump[1]["bpf_struct_ops_tcp_congestion_ops"]["data"];
    assert_eq!(data["name"], name);
    let ssthresh = data["ssthresh"].as_str().expect("ssthresh");
    assert!(
        ssthresh.starts_with("u32 (struct sock *) rbt_ssthresh/prog_id:"),
        "{ssthresh}"
    );
    assert_eq!(data["set_state"], "void (struct sock *, u8) 0");
    let text = ok(&["struct_ops", "dump", "id", &id]);
    assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(dump));
    // unregister: gone from the kernel's list, the map freed.
    let out = ok(&["struct_ops", "unregister", "id", &id]);
    assert!(out.starts_with(&format!("Unregistered tcp_congestion_ops {name} id {id}")));
    assert!(!registered(name), "{:?}", available());
    let (code, _, err) = run(&["struct_ops", "show", "name", name]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn register_link_pins_in_link_dir_and_unregister_removes_the_pin() {
    require_kernel!("struct_ops link");
    let name = "rbt_so_link";
    let obj = cc(name, true);
    let pins = PinDir::new();
    let _guard = Unregister(vec![name.into()]);
    // LINK_DIR does not exist yet: rbt creates it.
    let dir = pins.join("links");
    let text = ok(&["struct_ops", "register", &obj, &dir]);
    let pin = format!("{dir}/{name}");
    assert!(
        text.starts_with(&format!("Registered tcp_congestion_ops {name} map id ")),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(&format!("pinned {pin}")),
        "{text}"
    );
    assert!(std::path::Path::new(&pin).exists());
    assert!(registered(name));
    assert_eq!(socket_uses(name), name);
    let link = run_json(&["-j", "link", "show", "pinned", &pin]);
    assert_eq!(link["type"], "struct_ops");
    let shown = run_json(&["-j", "struct_ops", "show", "name", name]);
    let id = shown[0]["id"].as_u64().expect("id").to_string();
    assert_eq!(
        link["map_id"].as_u64().map(|m| m.to_string()),
        Some(id.clone())
    );
    assert_dump_matches(&id);
    // bpftool sees the same registration.
    let (code, out, _) = bpftool(&["struct_ops", "show", "id", &id]);
    assert_eq!(code, 0);
    assert!(out.contains(name), "{out}");
    ok(&["struct_ops", "unregister", "name", name]);
    assert!(!registered(name));
    assert_eq!(entries(&pins.path.join("links")), Vec::<String>::new());
}

#[test]
fn register_link_without_link_dir_pins_under_rbts_default() {
    require_kernel!("struct_ops link");
    let name = "rbt_so_deflink";
    let obj = cc(name, true);
    let _guard = Unregister(vec![name.into()]);
    let regs = run_json(&["-j", "struct_ops", "register", &obj]);
    let pin = format!("/sys/fs/bpf/rbt/struct_ops/{name}");
    assert_eq!(regs[0]["pinned"], pin.as_str());
    assert!(regs[0]["link_id"].as_u64().is_some_and(|l| l > 0));
    assert!(registered(name));
    ok(&["struct_ops", "unregister", "name", name]);
    assert!(!registered(name));
    assert!(!std::path::Path::new(&pin).exists());
}

#[test]
fn bad_input_is_a_clear_error_and_registers_nothing() {
    require_kernel!("struct_ops");
    // An object without a struct_ops section.
    let plain = fixture("prog_basic").display().to_string();
    let (code, _, err) = run(&["struct_ops", "register", &plain]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("Error: ") && err.contains("has no struct_ops map"),
        "{err}"
    );
    // A map that is not a struct_ops map; an id nobody has.
    let loaded = Loaded::first_with_maps("maps");
    let map = run_json(&["-j", "prog", "show", "id", &loaded.id().to_string()])["map_ids"][0]
        .as_u64()
        .expect("a map id")
        .to_string();
    for verb in ["unregister", "show", "dump"] {
        let (code, _, err) = run(&["struct_ops", verb, "id", &map]);
        assert_eq!(code, 1, "{verb}: {err}");
        assert!(err.contains("is not a struct_ops map"), "{verb}: {err}");
    }
    let (code, _, err) = run(&["struct_ops", "unregister", "id", "4000000000"]);
    assert_eq!(code, 1);
    assert!(err.contains("no map with id 4000000000"), "{err}");
    let (code, _, err) = run(&["struct_ops", "unregister"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["struct_ops", "register"]);
    assert_eq!(code, 2, "{err}");
    // LINK_DIR not on a bpffs, existing or not: nothing registered, nothing created.
    let name = "rbt_so_bad";
    let obj = cc(name, true);
    let _guard = Unregister(vec![name.into()]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("links");
    for dir in [tmp.path().to_path_buf(), missing.clone()] {
        let (code, _, err) = run(&["struct_ops", "register", &obj, &dir.display().to_string()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("is not on a bpffs"), "{err}");
        assert!(!registered(name));
    }
    assert!(!missing.exists());
    // A pin of that name already in LINK_DIR.
    let pins = PinDir::new();
    std::fs::create_dir(pins.path.join(name)).expect("mkdir");
    let (code, _, err) = run(&["struct_ops", "register", &obj, &pins.join("")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(!registered(name));
    // Not registered: unregister says so.
    let plain_name = "rbt_so_twice";
    let obj = cc(plain_name, false);
    let _guard2 = Unregister(vec![plain_name.into()]);
    let id = run_json(&["-j", "struct_ops", "register", &obj])[0]["id"]
        .as_u64()
        .expect("id")
        .to_string();
    let (code, _, err) = run(&["struct_ops", "register", &obj]);
    assert_eq!(code, 1, "registering the same name twice: {err}");
    assert!(err.contains("File exists"), "{err}");
    ok(&["struct_ops", "unregister", "id", &id]);
}

#[test]
fn a_failure_midway_rolls_back_what_was_registered() {
    require_kernel!("struct_ops");
    // The second map's name clashes with the built-in cubic: the first must not stay.
    let name = "rbt_so_first";
    let obj = cc_object(
        "two",
        &[
            "-DCC_TWO",
            "-DCC_VAR=rbt_so_first",
            "-DCC_NAME=\"rbt_so_first\"",
            "-DCC_VAR2=rbt_so_clash",
            "-DCC_NAME2=\"cubic\"",
        ],
    )
    .display()
    .to_string();
    let _guard = Unregister(vec![name.into()]);
    let pins = PinDir::new();
    let dir = pins.join("made/by/rbt");
    let (code, _, err) = run(&["struct_ops", "register", &obj, &dir]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("rbt_so_clash") && err.contains("nothing registered"),
        "{err}"
    );
    assert!(!registered(name), "{:?}", available());
    let (code, _, _) = run(&["struct_ops", "show", "name", name]);
    assert_eq!(code, 1);
    assert_eq!(entries(&pins.path), Vec::<String>::new());
}

#[test]
fn use_loader_is_accepted_and_refused_by_verbs_that_load() {
    require_kernel!("struct_ops");
    let msg = "Error: rbt does not support --use-loader (light skeleton loader); load without it\n";
    let name = "rbt_so_loader";
    let obj = cc(name, false);
    let _guard = Unregister(vec![name.into()]);
    let pins = PinDir::new();
    let prog = fixture("prog_basic").display().to_string();
    let pin = pins.join("p");
    for args in [
        vec!["-L", "struct_ops", "register", obj.as_str()],
        vec!["--use-loader", "prog", "load", prog.as_str(), pin.as_str()],
        vec!["-L", "prog", "loadall", prog.as_str(), pin.as_str()],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err, msg, "{args:?}");
        assert!(out.is_empty());
    }
    let (code, out, _) = run(&["-j", "-L", "struct_ops", "register", &obj]);
    assert_eq!(code, 2);
    assert!(out.contains("--use-loader"), "{out}");
    assert!(!registered(name));
    assert_eq!(entries(&pins.path), Vec::<String>::new());
    // Elsewhere it is accepted and changes nothing, as in bpftool.
    let (code, _, err) = run(&["-L", "struct_ops", "show"]);
    assert_eq!(code, 0, "{err}");
}
