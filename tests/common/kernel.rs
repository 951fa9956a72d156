// The kernel guard `require_kernel!`: fails under RBT_REQUIRE_KERNEL=1, else skips and counts.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use super::{target_dir, which};

/// The file under the target dir that gets one line per skipped test (`make test` counts it).
pub const SKIPS_FILE: &str = "rbt-test-skips";

/// Return from the calling test unless the kernel feature it needs is reachable. With
/// RBT_REQUIRE_KERNEL=1 (CI) an unreachable feature fails the test; otherwise the test
/// prints `SKIPPED <binary>::<test>: <feature>: <why>` on stderr (past libtest's capture),
/// appends that line to `<target dir>/rbt-test-skips`, and returns.
#[allow(unused_macros)] // tests/deploy.rs uses only require_kernel_and!
macro_rules! require_kernel {
    ($feature:expr) => {
        if !$crate::common::kernel::reachable(
            {
                fn here() {}
                let path = ::std::any::type_name_of_val(&here);
                path.strip_suffix("::here").unwrap_or(path)
            },
            $feature,
        ) {
            return;
        }
    };
}

/// `require_kernel!` and a condition of the test's own: `$why` is `Some(reason)` when what
/// the test needs (a built artifact, a tool) is missing. Fails under RBT_REQUIRE_KERNEL=1,
/// else skips and counts, as `require_kernel!`.
#[allow(unused_macros)] // only some test files have such needs
macro_rules! require_kernel_and {
    ($feature:expr, $why:expr) => {
        let test = {
            fn here() {}
            let path = ::std::any::type_name_of_val(&here);
            path.strip_suffix("::here").unwrap_or(path)
        };
        if !$crate::common::kernel::reachable(test, $feature) {
            return;
        }
        if let Some(why) = $why {
            $crate::common::kernel::unmet(test, $feature, &why);
            return;
        }
    };
}

/// A need of `test` that is not met: panics under RBT_REQUIRE_KERNEL=1, else records a skip.
pub fn unmet(test: &str, feature: &str, why: &str) {
    if std::env::var("RBT_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!("{test} needs `{feature}`, missing: {why} (RBT_REQUIRE_KERNEL=1)");
    }
    record_skip(test, feature, why);
}

/// Whether `feature`, needed by `test`, is reachable; the body of `require_kernel!`.
pub fn reachable(test: &str, feature: &str) -> bool {
    let Some(why) = unreachable_because() else {
        ensure_bpffs();
        return true;
    };
    if std::env::var("RBT_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!(
            "{test} needs kernel feature `{feature}`, unreachable: {why} (RBT_REQUIRE_KERNEL=1)"
        );
    }
    record_skip(test, feature, &why);
    false
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

/// Print the skip past the test harness's output capture and append it to the skips file.
fn record_skip(test: &str, feature: &str, why: &str) {
    let line = format!("SKIPPED {test}: {feature}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    let path = target_dir().join(SKIPS_FILE);
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = appended {
        let _ = writeln!(
            std::io::stderr(),
            "recording the skip in {}: {e}",
            path.display()
        );
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
