// Live-kernel tests of objects whose maps are in a legacy `maps` section (struct bpf_map_def
// 20 bytes, Aya's 28 bytes, iproute2's bpf_elf_map 36 bytes): bpftool refuses them, rbt
// loads them, the programs count packets (BPF_PROG_TEST_RUN), and the counters read the same
// with rbt and bpftool; bad definitions are refused naming the map, leaving nothing pinned.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// (fixture, counter map, key the program counts a 100-byte packet under).
const FIXTURES: [(&str, &str, u32); 3] = [
    ("legacy_def20", "def20_cnt", 0),
    ("legacy_def28", "COUNTER", 0),
    ("legacy_elf36", "elf36_cnt", 1),
];

/// A 100-byte packet: an Ethernet header and zeros (IPv4 ethertype, so tc takes it).
fn packet() -> PathBuf {
    let path = build_dir().join(format!("legacy-pkt.{}", std::process::id()));
    let mut bytes = vec![0u8; 100];
    bytes[12] = 0x08;
    std::fs::write(&path, bytes).expect("writing the test packet");
    path
}

/// The sum of a counter in rbt's typed dump (per-CPU maps: over every CPU).
fn counted(dump: &Value, key: u32) -> u64 {
    let elems = dump.as_array().expect("dump array");
    let e = elems
        .iter()
        .find(|e| e["key"].as_u64() == Some(u64::from(key)))
        .unwrap_or_else(|| panic!("no key {key} in {dump}"));
    match e.get("values") {
        Some(values) => values
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v["value"].as_u64().expect("per-CPU value"))
            .sum(),
        None => e["value"].as_u64().expect("value"),
    }
}

fn run_prog(pin: &str, pkt: &Path, repeat: u32) {
    let pkt = pkt.display().to_string();
    let repeat = repeat.to_string();
    let (code, _, err) = run(&[
        "prog", "run", "pinned", pin, "data_in", &pkt, "repeat", &repeat,
    ]);
    assert_eq!(code, 0, "prog run {pin}: {err}");
}

#[test]
fn bpftool_refuses_the_fixtures() {
    // Proof that the fixtures really are legacy objects: libbpf 1.x (bpftool 7.1) refuses them.
    require_kernel!("legacy fixtures refused by bpftool");
    let dir = PinDir::new();
    for (name, _, _) in FIXTURES {
        for obj in [fixture(name), fixture_without_btf(name)] {
            let target = dir.join(name);
            let (code, _, err) = bpftool(&["prog", "load", &obj.display().to_string(), &target]);
            assert_ne!(code, 0, "bpftool loaded {name}");
            assert!(err.contains("legacy map definitions"), "{name}: {err}");
        }
    }
    assert!(entries(&dir.path).is_empty());
}

#[test]
fn each_layout_loads_counts_and_dumps_as_bpftool() {
    require_kernel!("legacy maps: load and count");
    for (name, map, key) in FIXTURES {
        for btf in [true, false] {
            let loaded = if btf {
                Loaded::first_with_maps(name)
            } else {
                let dir = PinDir::new();
                let obj = fixture_without_btf(name).display().to_string();
                let prog = dir.join("prog");
                let dirs = dir.path.display().to_string();
                ok(&["prog", "load", &obj, &prog, "pinmaps", &dirs]);
                run_prog(&prog, &packet(), 5);
                let dump = run_json(&["-j", "map", "dump", "pinned", &dir.join(map)]);
                assert_eq!(counted(&dump, key), 5, "{name} (no BTF): {dump}");
                continue;
            };
            let pin = loaded.pin();
            let pkt = packet();
            run_prog(&pin, &pkt, 7);
            run_prog(&pin, &pkt, 3);
            let counter = loaded.map(map);
            let dump = run_json(&["-j", "map", "dump", "pinned", &counter]);
            assert_eq!(counted(&dump, key), 10, "{name}: {dump}");
            // Byte for byte what bpftool reads from the same map.
            let raw = run_json(&["-j", "map", "dump", "pinned", &counter, "--raw"]);
            let theirs = bpftool_json(&["-j", "map", "dump", "pinned", &counter]);
            assert_eq!(raw, theirs, "{name}: rbt --raw vs bpftool");
            // The map is what the legacy definition says.
            let show = run_json(&["-j", "map", "show", "pinned", &counter]);
            let bshow = bpftool_json(&["-j", "map", "show", "pinned", &counter]);
            assert_eq!(show["name"], map, "{name}: {show}");
            assert_same_fields(&show, &bshow, &[]);
            // The program keeps the object's BTF.
            let prog = run_json(&["-j", "prog", "show", "pinned", &pin]);
            assert!(prog["btf_id"].as_u64().is_some(), "{name}: {prog}");
        }
    }
}

#[test]
fn loadall_and_map_reuse_work_on_legacy_objects() {
    require_kernel!("legacy maps: loadall, map reuse");
    let first = Loaded::new("legacy_def20");
    let cnt = first.map("def20_cnt");
    assert_eq!(
        entries(&first.dir.path.join("m")),
        ["def20_cnt", "def20_seen"]
    );
    let pkt = packet();
    run_prog(&first.prog("legacy_def20"), &pkt, 4);

    // A second load of the object that shares the first one's counter.
    let dir = PinDir::new();
    let obj = fixture("legacy_def20").display().to_string();
    let prog = dir.join("prog");
    let (code, _, err) = run(&[
        "prog",
        "load",
        &obj,
        &prog,
        "map",
        "name",
        "def20_cnt",
        "pinned",
        &cnt,
    ]);
    assert_eq!(code, 0, "{err}");
    run_prog(&prog, &pkt, 6);
    let dump = run_json(&["-j", "map", "dump", "pinned", &cnt]);
    assert_eq!(counted(&dump, 0), 10, "{dump}");
    let used = run_json(&["-j", "prog", "show", "pinned", &prog]);
    let cnt_id = run_json(&["-j", "map", "show", "pinned", &cnt])["id"].clone();
    assert!(
        used["map_ids"]
            .as_array()
            .is_some_and(|ids| ids.contains(&cnt_id)),
        "{used}"
    );
}

/// (header offset of the section's sh_size, file offset of its data, its size) of `maps`.
fn maps_section(elf: &[u8]) -> (usize, usize, usize) {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let strtab = u64_at(shoff + shstrndx * shentsize + 24);
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let name = strtab + u32_at(h);
        if elf[name..].starts_with(b"maps\0") {
            return (h + 32, u64_at(h + 24), u64_at(h + 32));
        }
    }
    panic!("no maps section");
}

/// A copy of the def20 fixture with `patch` applied to its bytes.
fn patched(
    dir: &PinDir,
    what: &str,
    patch: impl Fn(&mut Vec<u8>, (usize, usize, usize)),
) -> String {
    let mut bytes = std::fs::read(fixture("legacy_def20")).expect("fixture");
    let sec = maps_section(&bytes);
    assert_eq!(sec.2, 40, "two 20-byte definitions");
    patch(&mut bytes, sec);
    let _ = dir;
    let path = build_dir().join(format!("legacy-{what}.{}.bpf.o", std::process::id()));
    std::fs::write(&path, bytes).expect("writing the patched object");
    path.display().to_string()
}

/// Which of the two definitions is def20_cnt's (the symbol order is clang's).
fn cnt_offset(obj: &str) -> usize {
    let out = std::process::Command::new("llvm-readelf")
        .args(["-s", obj])
        .output()
        .expect("running llvm-readelf");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with(" def20_cnt"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| usize::from_str_radix(v, 16).ok())
        .expect("def20_cnt's symbol")
}

fn refused(obj: &str, dir: &PinDir, wanted: &[&str]) {
    let prog = dir.join("prog");
    let maps = dir.join("maps");
    for args in [
        vec!["prog", "load", obj, &prog, "pinmaps", &maps],
        vec!["prog", "loadall", obj, &prog, "pinmaps", &maps],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {out} {err}");
        let line = err.trim_end();
        assert!(line.starts_with("Error: ") && !line.contains('\n'), "{err}");
        for w in wanted {
            assert!(line.contains(w), "`{w}` not in: {line}");
        }
        assert!(
            entries(&dir.path).is_empty(),
            "left behind: {:?}",
            entries(&dir.path)
        );
    }
}

#[test]
fn bad_legacy_definitions_are_refused_naming_the_map() {
    require_kernel!("legacy maps: bad input");
    let dir = PinDir::new();
    let cnt = cnt_offset(&fixture("legacy_def20").display().to_string());

    let obj = patched(&dir, "max0", |b, (_, data, _)| {
        b[data + cnt + 12..data + cnt + 16].copy_from_slice(&0u32.to_le_bytes());
    });
    refused(&obj, &dir, &["def20_cnt", "max_entries is 0"]);

    let obj = patched(&dir, "type", |b, (_, data, _)| {
        b[data + cnt..data + cnt + 4].copy_from_slice(&999u32.to_le_bytes());
    });
    refused(&obj, &dir, &["def20_cnt", "unknown map type 999"]);

    // 48 bytes for two maps: 24 each, no legacy layout.
    let obj = patched(&dir, "size", |b, (size_at, _, _)| {
        b[size_at..size_at + 8].copy_from_slice(&48u64.to_le_bytes());
    });
    refused(&obj, &dir, &["48 bytes", "24 bytes each", "20", "28", "36"]);

    // 44 bytes for two maps: no whole size per map.
    let obj = patched(&dir, "odd", |b, (size_at, _, _)| {
        b[size_at..size_at + 8].copy_from_slice(&44u64.to_le_bytes());
    });
    refused(&obj, &dir, &["44 bytes for 2 map symbols"]);

    for what in ["max0", "type", "size", "odd"] {
        let _ = std::fs::remove_file(
            build_dir().join(format!("legacy-{what}.{}.bpf.o", std::process::id())),
        );
    }
}

/// Removes the PIN_GLOBAL_NS pin (and tc/globals, tc when this test made them) on drop.
struct GlobalPin {
    pin: PathBuf,
    made: Vec<PathBuf>,
}

impl GlobalPin {
    fn new(name: &str) -> GlobalPin {
        let pin = Path::new("/sys/fs/bpf/tc/globals").join(name);
        let _ = std::fs::remove_file(&pin);
        let made = ["/sys/fs/bpf/tc", "/sys/fs/bpf/tc/globals"]
            .iter()
            .map(PathBuf::from)
            .filter(|d| !d.exists())
            .collect();
        GlobalPin { pin, made }
    }
}

impl Drop for GlobalPin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pin);
        for d in self.made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn bpf_elf_map_in_map_and_global_pinning() {
    require_kernel!("legacy maps: bpf_elf_map map-in-map, PIN_GLOBAL_NS");
    let global = GlobalPin::new("rbt_legacy_glob");
    let glob = global.pin.display().to_string();
    let obj = fixture("legacy_elf36_mim").display().to_string();
    let (code, _, err) = bpftool(&["prog", "load", &obj, "/sys/fs/bpf/rbt-legacy-never"]);
    assert!(code != 0 && err.contains("legacy map definitions"), "{err}");

    let dir = PinDir::new();
    let first = dir.join("first");
    let (code, _, err) = run(&["prog", "load", &obj, &first]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "map rbt_legacy_glob pinned by name (LIBBPF_PIN_BY_NAME) at {glob}"
        )),
        "{err}"
    );
    let pkt = packet();
    run_prog(&first, &pkt, 3);
    // The inner map went into slot 0 (inner_idx) of the outer map and counts.
    let prog = run_json(&["-j", "prog", "show", "pinned", &first]);
    let outer = run_json(&["-j", "map", "show", "name", "mim_outer"]);
    let outer_id = outer["id"].as_u64().expect("outer id").to_string();
    assert_eq!(outer["type"], "array_of_maps", "{outer}");
    let slots = run_json(&["-j", "map", "dump", "id", &outer_id]);
    let inner_id = slots[0]["value"].as_u64().expect("slot 0 holds a map");
    let inner = run_json(&["-j", "map", "dump", "id", &inner_id.to_string()]);
    assert_eq!(counted(&inner, 0), 3, "{inner}");
    assert!(
        prog["map_ids"].as_array().is_some_and(|ids| ids.len() == 2),
        "{prog}"
    );
    // A second load reuses the map pinned at iproute2's path: both count into it.
    let second = dir.join("second");
    let (code, _, err) = run(&["prog", "load", &obj, &second]);
    assert_eq!(code, 0, "{err}");
    run_prog(&second, &pkt, 2);
    let dump = run_json(&["-j", "map", "dump", "pinned", &glob]);
    assert_eq!(counted(&dump, 0), 5, "{dump}");
    let raw = run_json(&["-j", "map", "dump", "pinned", &glob, "--raw"]);
    assert_eq!(raw, bpftool_json(&["-j", "map", "dump", "pinned", &glob]));
    drop(global);
}

#[test]
fn rewrite_to_writes_an_object_bpftool_loads() {
    require_kernel!("legacy maps: --rewrite-to");
    let dir = PinDir::new();
    let obj = fixture("legacy_def28").display().to_string();
    let out = build_dir().join(format!("legacy-rw.{}.bpf.o", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let rw = out.display().to_string();
    let prog = dir.join("prog");
    let (code, _, err) = run(&["prog", "load", &obj, &prog, "--rewrite-to", &rw]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Aya's bpf_map_def (28 bytes)"), "{err}");
    // bpftool (libbpf 1.x) loads the rewritten object, and finds the map named as before.
    let theirs = dir.join("bpftool");
    let maps = dir.join("bpftool_maps");
    let (code, _, err) = bpftool(&["prog", "load", &rw, &theirs, "pinmaps", &maps]);
    assert_eq!(code, 0, "bpftool on the rewritten object: {err}");
    let show = bpftool_json(&["-j", "map", "show", "pinned", &format!("{maps}/COUNTER")]);
    assert_eq!(show["type"], "percpu_array", "{show}");
    // An existing file is not overwritten, and nothing is loaded or pinned then.
    let again = dir.join("again");
    let (code, _, err) = run(&["prog", "load", &obj, &again, "--rewrite-to", &rw]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("Error: ") && err.contains("exists already"),
        "{err}"
    );
    assert!(!Path::new(&again).exists());
    // An object without a legacy `maps` section has nothing to rewrite.
    let _ = std::fs::remove_file(&out);
    let plain = fixture("prog_basic").display().to_string();
    let (code, _, err) = run(&["prog", "load", &plain, &again, "--rewrite-to", &rw]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no legacy `maps` section"), "{err}");
    assert!(!out.exists() && !Path::new(&again).exists());
}

#[test]
fn legacy_and_btf_defined_maps_load_together() {
    require_kernel!("legacy maps beside .maps");
    let loaded = Loaded::first_with_maps("legacy_mixed");
    assert_eq!(
        entries(&loaded.dir.path),
        ["mixed_new", "mixed_old", "prog"]
    );
    run_prog(&loaded.pin(), &packet(), 4);
    let old = run_json(&["-j", "map", "dump", "pinned", &loaded.map("mixed_old")]);
    let new = run_json(&["-j", "map", "dump", "pinned", &loaded.map("mixed_new")]);
    assert_eq!((counted(&old, 0), counted(&new, 0)), (4, 8), "{old} {new}");
}

#[test]
fn map_symbol_outside_the_section_is_refused() {
    require_kernel!("legacy maps: symbol outside the section");
    let dir = PinDir::new();
    // def20_cnt's symbol moved to offset 40, past the two definitions.
    let obj = patched(&dir, "outside", |b, _| {
        let at = symbol_value_at(b, "def20_cnt");
        b[at..at + 8].copy_from_slice(&40u64.to_le_bytes());
    });
    refused(&obj, &dir, &["def20_cnt", "outside the `maps` section"]);
    let _ = std::fs::remove_file(&obj);
}

/// File offset of the st_value of symbol `name` in `.symtab`.
fn symbol_value_at(elf: &[u8], name: &str) -> usize {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
    let header = |i: usize| shoff + i * shentsize;
    let symtab = (0..shnum)
        .map(header)
        .find(|h| u32_at(h + 4) == 2)
        .expect("a .symtab");
    let strtab = u64_at(header(u32_at(symtab + 40)) + 24);
    let (off, size) = (u64_at(symtab + 24), u64_at(symtab + 32));
    let mut wanted = name.as_bytes().to_vec();
    wanted.push(0);
    (off..off + size)
        .step_by(24)
        .find(|s| elf[strtab + u32_at(*s)..].starts_with(&wanted))
        .map(|s| s + 8)
        .expect("the symbol")
}

#[test]
fn autoattach_attaches_a_legacy_objects_tracepoint() {
    require_kernel!("legacy maps: autoattach");
    let dir = PinDir::new();
    let obj = fixture("legacy_mixed").display().to_string();
    let progs = dir.join("p");
    let maps = dir.join("m");
    let (code, _, err) = run(&[
        "prog",
        "loadall",
        &obj,
        &progs,
        "pinmaps",
        &maps,
        "autoattach",
    ]);
    assert_eq!(code, 0, "{err}");
    let names = entries(Path::new(&progs));
    assert!(
        names.contains(&"legacy_mixed_tp_link".to_string()),
        "{names:?}"
    );
    // std::process::id() is getpid(2) (glibc does not cache it): it fires the tracepoint.
    for _ in 0..3 {
        std::hint::black_box(std::process::id());
    }
    let dump = run_json(&["-j", "map", "dump", "pinned", &format!("{maps}/mixed_old")]);
    assert!(counted(&dump, 1) >= 3, "{dump}");
}
