// Run-time statistics of programs: BPF_ENABLE_STATS held by an fd (so that a crash turns
// them off too), the kernel.bpf_stats_enabled sysctl, and a cheap per-program stats read.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::Result;

use super::{c_chars, errno, fd_by_id, ids, prog::prog_type_name, Kind};

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Who turned run-time statistics on for the duration of this process.
#[derive(Debug)]
pub enum StatsSource {
    /// rbt holds a BPF_ENABLE_STATS fd; the kernel turns statistics off when it closes
    /// (never read: holding it is the point).
    Held(#[allow(dead_code)] OwnedFd),
    /// The sysctl had them on already: left alone.
    AlreadyOn,
}

impl StatsSource {
    pub fn describe(&self) -> &'static str {
        match self {
            StatsSource::Held(_) => "enabled by rbt while it runs",
            StatsSource::AlreadyOn => "already enabled (kernel.bpf_stats_enabled=1)",
        }
    }
}

/// Whether kernel.bpf_stats_enabled reads 1. It shows the sysctl's own setting only: fds
/// that other processes hold are invisible here, but the kernel counts its holders, so
/// taking one more and closing it never turns theirs off.
pub fn stats_enabled() -> Option<bool> {
    let text = std::fs::read_to_string(SYSCTL).ok()?;
    Some(text.trim() == "1")
}

/// Turn run-time statistics on while the returned value lives, unless the sysctl has them
/// on already (then nothing is changed).
pub fn enable_run_time_stats() -> Result<StatsSource> {
    if stats_enabled() == Some(true) {
        return Ok(StatsSource::AlreadyOn);
    }
    // SAFETY: plain syscall wrapper taking an integer; returns a new fd or a negative errno.
    let fd = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
    if fd < 0 {
        let err = errno(fd);
        if err.raw_os_error() == Some(libc::EPERM) {
            return Err(crate::error::hinted(
                format!("enabling BPF run-time statistics (BPF_ENABLE_STATS): {err}"),
                "it needs CAP_SYS_ADMIN: run rbt as root, or set `sysctl kernel.bpf_stats_enabled=1` beforehand",
            ));
        }
        return Err(super::kernel_error(
            err,
            "enabling BPF run-time statistics (BPF_ENABLE_STATS, Linux 5.8+)",
        ));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(StatsSource::Held(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// One program's counters at one moment.
#[derive(Debug, Clone)]
pub struct ProgStats {
    pub id: u32,
    pub type_name: String,
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

/// Reads the counters of every loaded program, keeping each program's fd open between
/// reads so that a refresh costs one info call per program plus the id walk.
#[derive(Default)]
pub struct StatsReader {
    fds: HashMap<u32, OwnedFd>,
}

impl StatsReader {
    /// The counters of every program now loaded (programs that vanish are dropped).
    pub fn read(&mut self) -> Result<Vec<ProgStats>> {
        let ids = ids(Kind::Prog)?;
        self.fds.retain(|id, _| ids.binary_search(id).is_ok());
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let fd = match self.fds.entry(id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => match fd_by_id(Kind::Prog, id) {
                    Ok(fd) => e.insert(fd),
                    // Unloaded between the walk and the open.
                    Err(_) => continue,
                },
            };
            if let Some(s) = read_one(fd) {
                out.push(s);
            }
        }
        Ok(out)
    }
}

/// One program's stats, without its map ids (one syscall).
fn read_one(fd: &OwnedFd) -> Option<ProgStats> {
    let mut raw = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `raw` is a zeroed bpf_prog_info of `len` bytes, valid for writes; no array
    // pointers are set, so the kernel writes nothing else.
    let ret = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut raw, &mut len) };
    if ret != 0 {
        return None;
    }
    Some(ProgStats {
        id: raw.id,
        type_name: prog_type_name(raw.type_),
        name: c_chars(&raw.name),
        run_cnt: raw.run_cnt,
        run_time_ns: raw.run_time_ns,
    })
}

/// CPUs online, for the host-wide share of CPU time.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
}
