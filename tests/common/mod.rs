// The live-kernel test harness: runs the built rbt, compiles BPF C fixtures with clang,
// gives each test its own pin directory (removed on drop), and compares with bpftool.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub const BPF_CFLAGS: &[&str] = &[
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-mcpu=v3",
    "-Wall",
    "-I/usr/include/x86_64-linux-gnu",
];

/// The rbt binary cargo built for these tests.
pub fn rbt() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("rbt").expect("rbt binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

/// Run rbt with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = rbt().args(args).output().expect("running rbt");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run rbt and parse its stdout as one JSON document; panics with stderr on failure.
pub fn run_json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "rbt {args:?} failed: {stderr}");
    assert!(
        stdout.ends_with('\n') && !stdout.ends_with("\n\n"),
        "one trailing newline: {stdout:?}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("rbt {args:?}: bad JSON {e}: {stdout}"))
}

/// Run bpftool with `args` (add -j yourself) and parse its JSON.
pub fn bpftool_json(args: &[&str]) -> Value {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("running bpftool");
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool JSON")
}

/// Whether the kernel features the live tests need are reachable. With
/// RBT_REQUIRE_KERNEL=1 (CI) a missing feature fails the test; otherwise the test is
/// skipped with a message saying why.
pub fn kernel_ready(feature: &str) -> bool {
    let why = if !nix_is_root() {
        Some("not running as root".to_string())
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some("no /sys/kernel/btf/vmlinux".to_string())
    } else if which("clang").is_none() {
        Some("clang is not installed (run `make deps`)".to_string())
    } else {
        None
    };
    match why {
        None => {
            ensure_bpffs();
            true
        }
        Some(why) => {
            if std::env::var("RBT_REQUIRE_KERNEL").as_deref() == Ok("1") {
                panic!("{feature}: required kernel feature unreachable: {why}");
            }
            eprintln!("SKIP {feature}: {why}");
            false
        }
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

fn ensure_bpffs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let mounted = std::fs::read_to_string("/proc/mounts")
            .map(|m| {
                m.lines().any(|l| {
                    l.split_whitespace().nth(1) == Some("/sys/fs/bpf") && l.contains(" bpf ")
                })
            })
            .unwrap_or(false);
        if !mounted {
            let _ = Command::new("mount")
                .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
                .status();
        }
    });
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Compile tests/bpf/NAME.bpf.c (once per test binary) and return the object's path.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/bpf/{name}.bpf.c"));
    let dir = target_dir().join("test-bpf");
    std::fs::create_dir_all(&dir).expect("creating target/test-bpf");
    // One file per test process, so parallel test binaries do not race on it.
    let obj = dir.join(format!("{name}.{}.bpf.o", std::process::id()));
    let out = Command::new("clang")
        .args(BPF_CFLAGS)
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bpf"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("running clang");
    assert!(
        out.status.success(),
        "clang {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    built.insert(name.to_string(), obj.clone());
    obj
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

/// Load `obj` with rbt and pin its first program at `pin`; returns the program id.
pub fn load(obj: &Path, pin: &str) -> u64 {
    let obj = obj.display().to_string();
    let (code, _, stderr) = run(&["prog", "load", &obj, pin]);
    assert_eq!(code, 0, "loading {obj}: {stderr}");
    run_json(&["-j", "prog", "show", "pinned", pin])["id"]
        .as_u64()
        .expect("program id")
}

/// Assert that every field both objects have is equal, except `skip`; returns how many
/// fields were compared.
pub fn assert_same_fields(rbt: &Value, bpftool: &Value, skip: &[&str]) -> usize {
    let (Some(r), Some(b)) = (rbt.as_object(), bpftool.as_object()) else {
        panic!("expected two objects:\nrbt: {rbt}\nbpftool: {bpftool}");
    };
    let mut compared = 0;
    for (key, bv) in b {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let rv = r.get(key).unwrap_or_else(|| {
            panic!("rbt lacks bpftool's field `{key}`:\nrbt: {rbt}\nbpftool: {bpftool}")
        });
        assert_eq!(rv, bv, "field `{key}` differs");
        compared += 1;
    }
    compared
}

/// A fixture loaded with `rbt prog loadall`: programs under <dir>/p, maps under <dir>/m,
/// all removed with the dir.
pub struct Loaded {
    pub dir: PinDir,
}

impl Loaded {
    pub fn new(fixture_name: &str) -> Loaded {
        let dir = PinDir::new();
        let obj = fixture(fixture_name).display().to_string();
        let (code, _, err) = run(&[
            "prog",
            "loadall",
            &obj,
            &dir.join("p"),
            "pinmaps",
            &dir.join("m"),
        ]);
        assert_eq!(code, 0, "loadall {fixture_name}: {err}");
        Loaded { dir }
    }

    pub fn prog(&self, name: &str) -> String {
        self.dir.join(&format!("p/{name}"))
    }

    pub fn map(&self, name: &str) -> String {
        self.dir.join(&format!("m/{name}"))
    }

    pub fn prog_id(&self, name: &str) -> u64 {
        run_json(&["-j", "prog", "show", "pinned", &self.prog(name)])["id"]
            .as_u64()
            .expect("program id")
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
        let id = run_json(&["-j", "link", "show", "pinned", &pin])["id"]
            .as_u64()
            .expect("link id");
        (pin, id)
    }
}
