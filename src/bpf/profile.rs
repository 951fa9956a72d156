//! `prog profile`: rbt's embedded fentry/fexit profiler (profiler.bpf.c), its hardware counters, and its sums.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};
use libbpf_rs::{Link, MapCore, MapFlags, Object, ObjectBuilder};

use super::log;
use crate::error::hinted;

/// The profiler object, compiled by build.rs. Fuzz builds (which mount this tree without
/// build.rs) get an empty one.
#[cfg(not(fuzzing))]
const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/profiler.bpf.o"));
#[cfg(fuzzing)]
const OBJECT: &[u8] = &[];

/// Metrics one profile may count at once (RBT_MAX_METRICS in profiler.bpf.c), as bpftool.
pub const MAX_METRICS: usize = 4;

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_HW_CACHE: u32 = 3;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

const PERF_COUNT_HW_CACHE_OP_READ: u64 = 0;

/// A cache event's config: cache id, operation (read) and result (access or miss).
const fn cache(id: u64, miss: bool) -> u64 {
    id | (PERF_COUNT_HW_CACHE_OP_READ << 8) | ((miss as u64) << 16)
}

/// One of bpftool's metrics and the hardware event behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    perf_type: u32,
    config: u64,
}

/// bpftool's metric names, in bpftool's order (also the order of the output); the
/// grammar's keywords.
pub const METRIC_NAMES: &[&str] = &[
    "cycles",
    "instructions",
    "l1d_loads",
    "llc_misses",
    "itlb_misses",
    "dtlb_misses",
];

const fn metric(i: usize, perf_type: u32, config: u64) -> Metric {
    Metric {
        name: METRIC_NAMES[i],
        perf_type,
        config,
    }
}

/// bpftool's metrics and their perf events: HW_CPU_CYCLES, HW_INSTRUCTIONS, and cache
/// events L1D read accesses, LL / ITLB / DTLB read misses.
pub const METRICS: [Metric; 6] = [
    metric(0, PERF_TYPE_HARDWARE, 0),
    metric(1, PERF_TYPE_HARDWARE, 1),
    metric(2, PERF_TYPE_HW_CACHE, cache(0, false)),
    metric(3, PERF_TYPE_HW_CACHE, cache(2, true)),
    metric(4, PERF_TYPE_HW_CACHE, cache(4, true)),
    metric(5, PERF_TYPE_HW_CACHE, cache(3, true)),
];

/// A metric's counter over the profile: bpftool's value, enabled and running times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    pub counter: u64,
    pub enabled: u64,
    pub running: u64,
}

/// What a profile counted once it is stopped.
#[derive(Debug, Clone)]
pub struct Readings {
    pub run_cnt: u64,
    /// One per metric asked for, in the order asked; Err says why a metric has no counter.
    pub metrics: Vec<(Metric, std::result::Result<Reading, String>)>,
}

/// A running profile: the loaded profiler, its two links on the target and its counters.
/// Dropping it detaches and unloads everything (nothing is pinned).
pub struct Profile {
    obj: Object,
    links: Vec<Link>,
    _events: Vec<OwnedFd>,
    unavailable: Vec<Option<String>>,
    metrics: Vec<Metric>,
}

/// Why BPF trampolines are refused, with what to do: the error of a refused load or attach.
fn trampolines_refused(what: &str) -> anyhow::Error {
    hinted(
        format!(
            "prog profile: {what}: this kernel refuses BPF trampolines (fentry/fexit), which profiling needs (EPERM), e.g. under lockdown"
        ),
        "profile on a kernel that allows BPF trampolines (`make vmtest` boots one); `rbt prog top` shows run counts and run time without them",
    )
}

/// Load the profiler for `target` (whose main function is `target_func`), open `metrics`'
/// counters on every CPU and attach. Metrics without a counter on this machine are kept,
/// with the reason, and read as unavailable.
pub fn start(target: BorrowedFd<'_>, target_func: &str, metrics: &[Metric]) -> Result<Profile> {
    if OBJECT.is_empty() {
        anyhow::bail!("prog profile: this build of rbt has no profiler object");
    }
    let nr_cpus = libbpf_rs::num_possible_cpus().context("counting the possible CPUs")?;
    log::take();
    let mut open = ObjectBuilder::default()
        .name("rbt_profile")
        .context("naming the profiler object")?
        .open_memory(OBJECT)
        .context("opening rbt's profiler object")?;
    for mut map in open.maps_mut() {
        let name = map.name().to_string_lossy().into_owned();
        if name.ends_with(".rodata") {
            let cfg = map
                .initial_value_mut()
                .filter(|v| v.len() >= 8)
                .context("the profiler's .rodata has no room for its settings")?;
            cfg[0..4].copy_from_slice(&(nr_cpus as u32).to_ne_bytes());
            cfg[4..8].copy_from_slice(&(metrics.len() as u32).to_ne_bytes());
        } else if name == "counters" {
            let slots = (metrics.len() * nr_cpus).max(1) as u32;
            map.set_max_entries(slots)
                .context("sizing the profiler's counter array")?;
        }
    }
    for mut prog in open.progs_mut() {
        prog.set_attach_target(target.as_raw_fd(), Some(target_func.to_owned()))
            .with_context(|| format!("setting the profiler's target to {target_func}"))?;
    }
    let obj = match open.load() {
        Ok(obj) => obj,
        Err(e) => return Err(load_error(e, &log::take())),
    };

    let mut events = Vec::new();
    let mut unavailable = Vec::new();
    let counters = obj
        .maps()
        .find(|m| m.name() == "counters")
        .context("the profiler has no counters map")?;
    for (m, metric) in metrics.iter().enumerate() {
        let mut opened = 0;
        let mut why = None;
        for cpu in 0..nr_cpus {
            match open_counter(metric, cpu as i32) {
                Ok(fd) => {
                    let slot = ((m * nr_cpus + cpu) as u32).to_ne_bytes();
                    let value = fd.as_raw_fd().to_ne_bytes();
                    counters
                        .update(&slot, &value, MapFlags::ANY)
                        .with_context(|| {
                            format!("storing the {} counter of CPU {cpu}", metric.name)
                        })?;
                    events.push(fd);
                    opened += 1;
                }
                // An offline CPU: skipped, as bpftool does.
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
                Err(e) if no_counter(&e) => {
                    why = Some(format!(
                        "no hardware counter on this machine (perf_event_open: {})",
                        super::errno_name(e.raw_os_error().unwrap_or(0))
                    ));
                    break;
                }
                Err(e) => {
                    return Err(super::kernel_error(
                        e,
                        format!("opening the {} counter on CPU {cpu}", metric.name),
                    ))
                }
            }
        }
        if why.is_none() && opened == 0 {
            why = Some("no online CPU has this counter".to_owned());
        }
        unavailable.push(why);
    }

    let mut links = Vec::new();
    for prog in obj.progs_mut() {
        match prog.attach_trace() {
            Ok(link) => links.push(link),
            Err(e) if e.kind() == libbpf_rs::ErrorKind::PermissionDenied => {
                return Err(trampolines_refused("attaching its fentry/fexit programs"));
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "prog profile: attaching {} to {target_func}: {e}",
                    prog.name().to_string_lossy()
                ))
            }
        }
    }
    Ok(Profile {
        obj,
        links,
        _events: events,
        unavailable,
        metrics: metrics.to_vec(),
    })
}

/// The error of a failed profiler load: refused trampolines, or libbpf's last word.
fn load_error(err: libbpf_rs::Error, said: &str) -> anyhow::Error {
    let code = said
        .lines()
        .find_map(|l| l.split("failed to load: -").nth(1))
        .and_then(|n| n.trim().parse::<i32>().ok());
    if code == Some(libc::EPERM)
        || (code.is_none() && err.kind() == libbpf_rs::ErrorKind::PermissionDenied)
    {
        if let Some(hint) = super::caps::missing_hint() {
            return hinted(
                "prog profile: loading the profiler: permission denied",
                hint,
            );
        }
        return trampolines_refused("loading its fentry/fexit programs");
    }
    // The verifier's reason, without its closing statistics lines.
    let reason = log::verifier_log(said).and_then(|v| {
        v.lines()
            .map(str::trim)
            .rfind(|l| {
                !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
            })
            .map(str::to_owned)
    });
    let detail = match reason {
        Some(r) => r,
        None => said
            .lines()
            .rfind(|l| l.starts_with("libbpf: "))
            .map(|l| l.trim_start_matches("libbpf: ").to_owned())
            .unwrap_or_else(|| err.to_string()),
    };
    anyhow::anyhow!("prog profile: loading the profiler failed: {detail}")
}

/// Whether perf_event_open's error means the event does not exist here (no PMU, or a PMU
/// without this event), as opposed to a permission or resource problem.
fn no_counter(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
    )
}

/// A kernel-only counter of `metric` on `cpu`, for every process, counting from now.
fn open_counter(metric: &Metric, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: perf_event_attr is plain data (integers, unions of integers); all-zero is
    // its documented default.
    let mut attr: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
    attr.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
    attr.type_ = metric.perf_type;
    attr.config = metric.config;
    attr.set_exclude_user(1);
    // SAFETY: `attr` is a fully initialised perf_event_attr with its size set and no
    // pointers in it; pid -1 with a CPU is a valid system-wide counter request.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &mut attr as *mut libbpf_sys::perf_event_attr,
            -1,
            cpu,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl Profile {
    /// Each metric and why it has no counter (None when it has one).
    pub fn unavailable(&self) -> impl Iterator<Item = (&Metric, Option<&str>)> {
        self.metrics
            .iter()
            .zip(self.unavailable.iter().map(Option::as_deref))
    }

    /// Detach the profiler and read what it counted.
    pub fn stop(mut self) -> Result<Readings> {
        self.links.clear();
        let map = |name: &str| {
            self.obj
                .maps()
                .find(|m| m.name() == name)
                .with_context(|| format!("the profiler has no {name} map"))
        };
        let zero = 0u32.to_ne_bytes();
        let runs = map("runs")?
            .lookup_percpu(&zero, MapFlags::ANY)
            .context("reading the profiler's run counts")?
            .unwrap_or_default();
        let run_cnt = runs.iter().map(|v| u64_at(v, 0)).sum();
        let totals = map("totals")?;
        let mut metrics = Vec::new();
        for (m, metric) in self.metrics.iter().enumerate() {
            if let Some(why) = &self.unavailable[m] {
                metrics.push((*metric, Err(why.clone())));
                continue;
            }
            let key = (m as u32).to_ne_bytes();
            let per_cpu = totals
                .lookup_percpu(&key, MapFlags::ANY)
                .with_context(|| format!("reading the {} totals", metric.name))?
                .unwrap_or_default();
            let mut sum = Reading::default();
            for v in &per_cpu {
                sum.counter = sum.counter.wrapping_add(u64_at(v, 0));
                sum.enabled = sum.enabled.wrapping_add(u64_at(v, 8));
                sum.running = sum.running.wrapping_add(u64_at(v, 16));
            }
            metrics.push((*metric, Ok(sum)));
        }
        Ok(Readings { run_cnt, metrics })
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// The BTF name of `target`'s main function, which the profiler attaches to.
pub fn target_func(target: BorrowedFd<'_>) -> Option<String> {
    super::prog_image::first_func_name(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_bpftools() {
        let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                "cycles",
                "instructions",
                "l1d_loads",
                "llc_misses",
                "itlb_misses",
                "dtlb_misses"
            ]
        );
        // PERF_COUNT_HW_CACHE_LL | OP_READ << 8 | RESULT_MISS << 16
        assert_eq!(METRICS[3].config, 0x10002);
        // PERF_COUNT_HW_CACHE_L1D | OP_READ << 8 | RESULT_ACCESS << 16
        assert_eq!(METRICS[2].config, 0);
    }

    #[cfg(not(fuzzing))]
    #[test]
    fn the_profiler_object_is_embedded() {
        assert_eq!(&OBJECT[..4], b"\x7fELF");
    }
}
