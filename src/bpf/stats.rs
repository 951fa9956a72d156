// Run-time statistics of programs (run_cnt, run_time_ns): BPF_ENABLE_STATS, held by an fd.

use std::os::fd::{FromRawFd, OwnedFd};

use super::{errno, kernel_error};

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Who keeps the kernel counting program run time while rbt runs.
#[derive(Debug)]
pub enum StatsGuard {
    /// rbt enabled them; the kernel stops counting when this fd is closed (also on a crash).
    Held { _fd: OwnedFd },
    /// The kernel.bpf_stats_enabled sysctl had them on: left alone.
    AlreadyOn,
}

/// Whether the kernel.bpf_stats_enabled sysctl is on. Another process's BPF_ENABLE_STATS fd
/// does not show there, but the kernel counts those holders, so enabling through our own fd
/// adds to theirs and closing it never turns theirs off.
pub fn enabled() -> bool {
    std::fs::read_to_string(SYSCTL).is_ok_and(|s| s.trim() != "0")
}

/// Make the kernel count program run time until the guard is dropped, unless the sysctl
/// has it on already. Needs CAP_SYS_ADMIN.
pub fn enable() -> anyhow::Result<StatsGuard> {
    if enabled() {
        return Ok(StatsGuard::AlreadyOn);
    }
    // SAFETY: a plain syscall wrapper taking an integer; it returns a new fd or -errno.
    let fd = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
    if fd < 0 {
        return Err(kernel_error(errno(fd), "enabling BPF run-time statistics"));
    }
    // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
    Ok(StatsGuard::Held {
        _fd: unsafe { OwnedFd::from_raw_fd(fd) },
    })
}
