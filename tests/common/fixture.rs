// BPF fixtures and user-space targets, built once; each test's PinDir; `Loaded`, the one loader.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{run, run_json, target_dir};

pub const BPF_CFLAGS: &[&str] = &[
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-mcpu=v3",
    "-Wall",
    "-I/usr/include/x86_64-linux-gnu",
];

/// Run `build` (a compiler, returning what it wrote) once per test process and `key`.
fn built_once(key: String, build: impl FnOnce() -> PathBuf) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(&key) {
        return p.clone();
    }
    let path = build();
    built.insert(key, path.clone());
    path
}

/// target/test-bpf, where fixtures and targets are built.
pub fn build_dir() -> PathBuf {
    let dir = target_dir().join("test-bpf");
    std::fs::create_dir_all(&dir).expect("creating target/test-bpf");
    dir
}

pub fn tests_bpf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bpf")
}

/// Compile tests/bpf/NAME.bpf.c (once per test binary) and return the object's path.
pub fn fixture(name: &str) -> PathBuf {
    built_once(format!("bpf {name}"), || {
        let src = tests_bpf().join(format!("{name}.bpf.c"));
        // One file per test process, so parallel test binaries do not race on it.
        let obj = build_dir().join(format!("{name}.{}.bpf.o", std::process::id()));
        compile_bpf(BPF_CFLAGS, &tests_bpf(), &src, &obj);
        obj
    })
}

/// `clang FLAGS -I INCLUDE -c SRC -o OBJ`, which must succeed.
pub fn compile_bpf(flags: &[&str], include: &Path, src: &Path, obj: &Path) {
    let out = Command::new("clang")
        .args(flags)
        .arg("-I")
        .arg(include)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(obj)
        .output()
        .expect("running clang");
    assert!(
        out.status.success(),
        "clang {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compile tests/bpf/NAME.bpf.c without `-g` (no BTF, no func_info, no line_info).
pub fn fixture_without_btf(name: &str) -> PathBuf {
    built_once(format!("bpf {name} nobtf"), || {
        let src = tests_bpf().join(format!("{name}.bpf.c"));
        let obj = build_dir().join(format!("{name}.nobtf.{}.bpf.o", std::process::id()));
        let flags: Vec<&str> = BPF_CFLAGS.iter().copied().filter(|f| *f != "-g").collect();
        compile_bpf(&flags, &tests_bpf(), &src, &obj);
        obj
    })
}

/// Build the user-space program tests/bpf/NAME.c with `gcc FLAGS -o OUT` (once per test
/// process) and return its path; `hint` is added to the failure message.
pub fn target_program(name: &str, flags: &[&str], hint: &str) -> PathBuf {
    built_once(format!("gcc {name} {flags:?}"), || {
        let src = tests_bpf().join(format!("{name}.c"));
        let out = build_dir().join(format!("{name}{}.{}", flags.join(""), std::process::id()));
        let st = Command::new("gcc")
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .expect("running gcc");
        assert!(st.success(), "gcc {name}.c failed{hint}");
        out
    })
}

/// A test's own directory under /sys/fs/bpf, removed with everything in it on drop.
pub struct PinDir {
    pub path: PathBuf,
}

impl PinDir {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!("/sys/fs/bpf/rbt-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("creating the test pin dir");
        PinDir { path }
    }

    /// A path inside the dir, as a String for argument lists.
    pub fn join(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }
}

impl Default for PinDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A fixture loaded by rbt into its own PinDir; everything is unpinned when it drops.
/// `new` and `progs` use `prog loadall` (programs pinned by name under <dir>/p), `first`
/// and `first_with_maps` use `prog load` (the first program pinned at <dir>/prog).
pub struct Loaded {
    pub dir: PinDir,
    maps: String,
    /// (kernel name, pin, id) of every pinned program, read on first use.
    programs: OnceLock<Vec<(String, String, u64)>>,
}

impl Loaded {
    /// `rbt prog loadall OBJ <dir>/p pinmaps <dir>/m`.
    pub fn new(fixture_name: &str) -> Loaded {
        Loaded::load(fixture_name, "loadall", "p", Some("m"))
    }

    /// `rbt prog loadall OBJ <dir>/p`: programs only, maps unpinned.
    pub fn progs(fixture_name: &str) -> Loaded {
        Loaded::load(fixture_name, "loadall", "p", None)
    }

    /// `rbt prog load OBJ <dir>/prog`: the first program only.
    pub fn first(fixture_name: &str) -> Loaded {
        Loaded::load(fixture_name, "load", "prog", None)
    }

    /// `rbt prog load OBJ <dir>/prog pinmaps <dir>`: the first program, maps beside it.
    pub fn first_with_maps(fixture_name: &str) -> Loaded {
        Loaded::load(fixture_name, "load", "prog", Some("."))
    }

    fn load(fixture_name: &str, verb: &str, progs: &str, maps: Option<&str>) -> Loaded {
        let dir = PinDir::new();
        let obj = fixture(fixture_name).display().to_string();
        let target = dir.join(progs);
        let mut args = vec!["prog", verb, &obj, &target];
        // "." is the pin dir itself.
        let map_dir = maps.map(|m| match m {
            "." => dir.path.display().to_string(),
            sub => dir.join(sub),
        });
        if let Some(m) = &map_dir {
            args.extend_from_slice(&["pinmaps", m]);
        }
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{verb} {fixture_name}: {err}");
        Loaded {
            maps: map_dir.unwrap_or_default(),
            dir,
            programs: OnceLock::new(),
        }
    }

    /// The pin of program `name` (loaded with `new` or `progs`).
    pub fn prog(&self, name: &str) -> String {
        self.dir.join(&format!("p/{name}"))
    }

    pub fn prog_id(&self, name: &str) -> u64 {
        shown_id("prog", &self.prog(name))
    }

    /// The pin of the one program (loaded with `first` or `first_with_maps`).
    pub fn pin(&self) -> String {
        self.dir.join("prog")
    }

    /// The id of the one program (loaded with `first` or `first_with_maps`).
    pub fn id(&self) -> u64 {
        shown_id("prog", &self.pin())
    }

    /// The pin of map `name` (loaded with `new` or `first_with_maps`).
    pub fn map(&self, name: &str) -> String {
        assert!(
            !self.maps.is_empty(),
            "this fixture was loaded without pinmaps"
        );
        format!("{}/{name}", self.maps)
    }

    /// The pin and id of the program the kernel calls `name` (pins are named by the object,
    /// the kernel truncates names), among those loaded with `new` or `progs`.
    pub fn find(&self, name: &str) -> (&str, u64) {
        let p = self
            .programs()
            .iter()
            .find(|p| p.0 == name)
            .unwrap_or_else(|| panic!("no {name}"));
        (p.1.as_str(), p.2)
    }

    fn programs(&self) -> &[(String, String, u64)] {
        self.programs.get_or_init(|| {
            let dir = self.dir.join("p");
            let mut progs = Vec::new();
            for entry in std::fs::read_dir(&dir).expect("pin dir") {
                let path = entry.expect("entry").path().display().to_string();
                let show = run_json(&["-j", "prog", "show", "pinned", &path]);
                progs.push((
                    show["name"].as_str().unwrap_or_default().to_string(),
                    path,
                    show["id"].as_u64().expect("id"),
                ));
            }
            progs
        })
    }

    /// Attach a program with `rbt prog attach`; returns (link pin, link id).
    pub fn attach(&self, prog: &str, hook: &[&str]) -> (String, u64) {
        let pin = self.dir.join(&format!("{prog}_{}", hook[0]));
        let p = self.prog(prog);
        let mut args = vec!["prog", "attach", "pinned", &p];
        args.extend_from_slice(hook);
        args.extend_from_slice(&["--pin", &pin]);
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "attach {prog} {hook:?}: {err}");
        let id = shown_id("link", &pin);
        (pin, id)
    }
}

/// The id of the program or link (`object`) pinned at `pin`, as `rbt OBJECT show` gives it.
fn shown_id(object: &str, pin: &str) -> u64 {
    run_json(&["-j", object, "show", "pinned", pin])["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{object} id"))
}
