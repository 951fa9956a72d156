// Attaching a loaded program (by fd) to kernel hooks through BPF links: perf events
// (tracepoint, kprobe, uprobe), raw tracepoints, tracing (fentry/fexit) and cgroups; the
// tracefs and PMU lookups they need, and uprobe symbol -> file offset resolution.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};

use super::errno;

const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const TRACEFS_MAGIC: i64 = 0x7472_6163;

/// The tracefs directory (/sys/kernel/tracing), mounting tracefs there when it is not
/// mounted anywhere and `nomount` is not set.
pub fn tracefs_root(nomount: bool) -> Result<PathBuf> {
    let main = Path::new("/sys/kernel/tracing");
    if is_tracefs(main) {
        return Ok(main.to_path_buf());
    }
    let debug = Path::new("/sys/kernel/debug/tracing");
    if is_tracefs(debug) {
        return Ok(debug.to_path_buf());
    }
    if nomount {
        anyhow::bail!("tracefs is not mounted at /sys/kernel/tracing (and -n forbids mounting it)");
    }
    mount(
        Some("tracefs"),
        main,
        Some("tracefs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| {
        crate::error::hinted(
            format!("tracefs is not mounted and mounting it at /sys/kernel/tracing failed: {e}"),
            "mount it yourself: mount -t tracefs tracefs /sys/kernel/tracing",
        )
    })?;
    Ok(main.to_path_buf())
}

fn is_tracefs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 == TRACEFS_MAGIC)
}

/// The id of tracepoint CAT:NAME, from tracefs `events/CAT/NAME/id`.
pub fn tracepoint_id(tracefs: &Path, category: &str, name: &str) -> Result<u64> {
    let path = tracefs.join("events").join(category).join(name).join("id");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let why = if tracefs.join("events").join(category).is_dir() {
                format!("category {category} has no event {name}")
            } else {
                format!("there is no tracepoint category {category}")
            };
            return Err(crate::error::hinted(
                format!("no tracepoint {category}:{name}: {why}"),
                format!("list them with: ls {}/events/{category}", tracefs.display()),
            ));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    text.trim()
        .parse()
        .with_context(|| format!("{}: not a tracepoint id", path.display()))
}

/// The perf PMU type number of `pmu` ("kprobe", "uprobe"), if the kernel has that PMU.
pub fn pmu_type(pmu: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/bus/event_source/devices/{pmu}/type"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The config bit that makes a kprobe/uprobe PMU event a return probe ("config:0").
fn retprobe_bit(pmu: &str) -> u32 {
    std::fs::read_to_string(format!(
        "/sys/bus/event_source/devices/{pmu}/format/retprobe"
    ))
    .ok()
    .and_then(|t| t.trim().strip_prefix("config:")?.parse().ok())
    .unwrap_or(0)
}

/// Whether this kernel can create kprobes at all (CONFIG_KPROBES / KPROBE_EVENTS).
pub fn kprobes_supported(tracefs: Option<&Path>) -> bool {
    pmu_type("kprobe").is_some() || tracefs.is_some_and(|t| t.join("kprobe_events").exists())
}

fn perf_event_open(attr: &mut libbpf_sys::perf_event_attr, pid: i32) -> io::Result<OwnedFd> {
    attr.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
    let cpu = if pid < 0 { 0 } else { -1 };
    // SAFETY: `attr` is a fully initialised perf_event_attr whose size field is set, and
    // any pointers in it (config1) point at C strings the caller keeps alive.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *mut libbpf_sys::perf_event_attr,
            pid,
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

fn zeroed_attr() -> libbpf_sys::perf_event_attr {
    // SAFETY: perf_event_attr is plain data (integers, unions of integers); all-zero is
    // its documented default.
    unsafe { std::mem::zeroed() }
}

/// A perf event on tracepoint `id` (all CPUs, all processes).
pub fn open_tracepoint(id: u64) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    attr.type_ = PERF_TYPE_TRACEPOINT;
    attr.config = id;
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    perf_event_open(&mut attr, -1)
}

/// A kprobe (or kretprobe) perf event on `func`+`offset` through the kprobe PMU.
pub fn open_kprobe(func: &str, offset: u64, retprobe: bool) -> io::Result<OwnedFd> {
    let pmu = pmu_type("kprobe").ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    let name = CString::new(func).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut attr = zeroed_attr();
    attr.type_ = pmu;
    if retprobe {
        attr.config |= 1 << retprobe_bit("kprobe");
    }
    attr.__bindgen_anon_3.kprobe_func = name.as_ptr() as u64;
    attr.__bindgen_anon_4.probe_offset = offset;
    perf_event_open(&mut attr, -1)
}

/// A uprobe (or uretprobe) perf event on `path` at file offset `offset`, for process
/// `pid` (or every process when None); a non-zero `ref_ctr` is the file offset of a USDT
/// semaphore the kernel increments while the probe is attached.
pub fn open_uprobe(
    path: &Path,
    offset: u64,
    retprobe: bool,
    pid: Option<i32>,
    ref_ctr: u64,
) -> io::Result<OwnedFd> {
    let pmu = pmu_type("uprobe").ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
    let cpath = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut attr = zeroed_attr();
    attr.type_ = pmu;
    if retprobe {
        attr.config |= 1 << retprobe_bit("uprobe");
    }
    attr.__bindgen_anon_3.uprobe_path = cpath.as_ptr() as u64;
    attr.__bindgen_anon_4.probe_offset = offset;
    // The uprobe PMU's ref_ctr_offset field is config:32-63.
    attr.config |= ref_ctr << 32;
    perf_event_open(&mut attr, pid.unwrap_or(-1))
}

fn owned(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(errno(fd));
    }
    // SAFETY: libbpf returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A BPF link running `prog` on the perf event `event` (BPF_PERF_EVENT).
pub fn perf_link(prog: BorrowedFd<'_>, event: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: both fds are live; NULL opts are allowed.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            event.as_raw_fd(),
            libbpf_sys::BPF_PERF_EVENT,
            std::ptr::null(),
        )
    };
    owned(fd)
}

/// A BPF link of `prog` on `target` (a cgroup fd, or 0 for tracing programs).
pub fn link_create(prog: BorrowedFd<'_>, target: i32, attach_type: u32) -> io::Result<OwnedFd> {
    // SAFETY: `prog` is live; `target` is a live fd or 0; NULL opts are allowed.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), target, attach_type, std::ptr::null())
    };
    owned(fd)
}

/// A raw tracepoint link (`name`), or with None the tracing (fentry/fexit/fmod_ret)
/// attachment the program was loaded for.
pub fn raw_tracepoint(prog: BorrowedFd<'_>, name: Option<&str>) -> io::Result<OwnedFd> {
    let cname = match name {
        Some(n) => Some(CString::new(n).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?),
        None => None,
    };
    let mut opts = libbpf_sys::bpf_raw_tp_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_raw_tp_opts>() as _,
        tp_name: cname.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        cookie: 0,
    };
    // SAFETY: `opts` is initialised with its size; tp_name is NULL or a C string alive
    // for the call.
    let fd = unsafe { libbpf_sys::bpf_raw_tracepoint_open_opts(prog.as_raw_fd(), &mut opts) };
    owned(fd)
}

/// The file offset of `symbol` in the ELF file at `path` (for uprobes): the symbol's
/// address mapped through the program header of the segment that holds it.
pub fn uprobe_offset(path: &Path, symbol: &str) -> Result<u64> {
    use object::{Object, ObjectSegment, ObjectSymbol};
    let data = crate::input::read_file(path, crate::input::MAX_ELF, "binary")?;
    let file = object::File::parse(&*data)
        .map_err(|e| anyhow::anyhow!("{}: not an ELF file: {e}", path.display()))?;
    let sym = file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.name() == Ok(symbol) && s.address() != 0 && !s.is_undefined())
        .ok_or_else(|| {
            crate::error::hinted(
                format!("{}: no symbol {symbol}", path.display()),
                format!(
                    "list the functions with: nm -D --defined-only {} (or nm for a non-stripped binary)",
                    path.display()
                ),
            )
        })?;
    let addr = sym.address();
    for seg in file.segments() {
        let (file_off, _) = seg.file_range();
        if addr >= seg.address() && addr < seg.address() + seg.size() {
            return Ok(addr - seg.address() + file_off);
        }
    }
    anyhow::bail!(
        "{}: symbol {symbol} at {addr:#x} lies in no loadable segment",
        path.display()
    )
}
