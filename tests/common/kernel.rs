// The kernel guard: whether a test can reach the kernel it needs (root, BTF, clang, bpffs).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use super::which;

/// Whether the kernel features the live tests need are reachable. With
/// RBT_REQUIRE_KERNEL=1 (CI) a missing feature fails the test; otherwise the test is
/// skipped with a message saying why.
pub fn kernel_ready(feature: &str) -> bool {
    match unreachable_because() {
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

/// Why the live tests cannot run here, or None when they can.
fn unreachable_because() -> Option<String> {
    if !is_root() {
        Some("not running as root".to_string())
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some("no /sys/kernel/btf/vmlinux".to_string())
    } else if which("clang").is_none() {
        Some("clang is not installed (run `make deps`)".to_string())
    } else {
        None
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
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
