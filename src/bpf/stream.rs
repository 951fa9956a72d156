// Live streams from the kernel: trace_pipe, BPF ring buffers and perf event arrays; the
// signal handling and closed-stdout check that end them cleanly.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapHandle, MapType, PerfBufferBuilder, RingBufferBuilder};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
}

/// Make SIGINT and SIGTERM end a stream: they set a flag (see `stop_signal`) and, with
/// no SA_RESTART, interrupt a blocking poll so the loop sees it at once.
pub fn install_stop_handlers() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }
            .with_context(|| format!("installing a {sig} handler"))?;
    }
    Ok(())
}

/// Make SIGINT, SIGTERM and SIGHUP set the same flag instead of ending rbt, so a command
/// that changes the kernel sees it between steps (`stop_signal`) and rolls back first.
pub fn defer_interrupts() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }
            .with_context(|| format!("installing a {sig} handler"))?;
    }
    Ok(())
}

/// An error once SIGINT, SIGTERM or SIGHUP has come (after `defer_interrupts`), so the
/// caller's rollback runs before rbt exits.
pub fn interrupted() -> Result<()> {
    match stop_signal() {
        Some(sig) => Err(anyhow::anyhow!(
            "interrupted by {}",
            Signal::try_from(sig).map_or("a signal", |s| s.as_str())
        )),
        None => Ok(()),
    }
}

/// The signal that asked the stream to stop, if one came.
pub fn stop_signal() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Whether stdout is a pipe whose reader has gone (`| head -3` finished).
pub fn stdout_closed() -> bool {
    let stdout = io::stdout();
    let fd = stdout.as_fd();
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        _ => false,
    }
}

/// The kernel's trace_pipe, read without blocking.
pub struct TracePipe {
    file: File,
}

impl TracePipe {
    pub fn open(tracefs: &Path) -> Result<TracePipe> {
        let path = tracefs.join("trace_pipe");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(TracePipe { file })
    }

    /// Append what the pipe holds to `buf`; Ok(0) when it holds nothing now.
    pub fn read_some(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let mut chunk = [0u8; 16384];
        match self.file.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// One thing read from an event map.
#[derive(Debug)]
pub enum Record<'a> {
    /// A record; `cpu` is known for perf event arrays only.
    Sample { cpu: Option<u32>, data: &'a [u8] },
    /// Samples the kernel dropped on `cpu` because the buffer was full.
    Lost { cpu: u32, count: u64 },
}

/// Whether to keep reading after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Which event map types `consume` reads.
pub fn is_event_map(map: &MapHandle) -> bool {
    matches!(map.map_type(), MapType::RingBuf | MapType::PerfEventArray)
}

/// Read `map` (a ring buffer or perf event array) and hand every record to `on_record`,
/// until it returns Stop or `keep_going` (called after every burst read, and at least
/// every 100 ms) says no. Memory stays bounded: the kernel buffers are fixed and records
/// are handed over one by one.
pub fn consume<F, K>(map: &MapHandle, pages: usize, on_record: F, mut keep_going: K) -> Result<()>
where
    F: FnMut(Record<'_>) -> Flow,
    K: FnMut() -> bool,
{
    let on_record = RefCell::new(on_record);
    let stopped = std::cell::Cell::new(false);
    let tick = Duration::from_millis(100);
    match map.map_type() {
        MapType::RingBuf => {
            let mut builder = RingBufferBuilder::new();
            builder
                .add(map, |data: &[u8]| {
                    if stopped.get() {
                        return -libc::ECANCELED;
                    }
                    let flow = (on_record.borrow_mut())(Record::Sample { cpu: None, data });
                    if flow == Flow::Stop {
                        stopped.set(true);
                        // libbpf stops consuming only on a negative return.
                        -libc::ECANCELED
                    } else {
                        0
                    }
                })
                .context("setting up the ring buffer")?;
            let rb = builder.build().context("mapping the ring buffer")?;
            while !stopped.get() && keep_going() {
                let ret = rb.poll_raw(tick);
                if ret < 0 && ret != -libc::EINTR && ret != -libc::ECANCELED {
                    return Err(super::kernel_error(
                        super::errno(ret),
                        "reading the ring buffer",
                    ));
                }
            }
        }
        MapType::PerfEventArray => {
            let pb = PerfBufferBuilder::new(map)
                .pages(pages)
                .sample_cb(|cpu: i32, data: &[u8]| {
                    if stopped.get() {
                        return;
                    }
                    let flow = (on_record.borrow_mut())(Record::Sample {
                        cpu: Some(cpu as u32),
                        data,
                    });
                    if flow == Flow::Stop {
                        stopped.set(true);
                    }
                })
                .lost_cb(|cpu: i32, count: u64| {
                    if stopped.get() {
                        return;
                    }
                    let flow = (on_record.borrow_mut())(Record::Lost {
                        cpu: cpu as u32,
                        count,
                    });
                    if flow == Flow::Stop {
                        stopped.set(true);
                    }
                })
                .build()
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!(
                        "opening the perf buffers ({pages} pages per CPU; --pages must be a power of two)"
                    ))
                })?;
            while !stopped.get() && keep_going() {
                if let Err(e) = pb.poll(tick) {
                    if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                        return Err(anyhow::Error::new(e).context("reading the perf buffers"));
                    }
                }
            }
        }
        other => anyhow::bail!(
            "map is a {other:?} map; events come from a ringbuf or perf_event_array map"
        ),
    }
    Ok(())
}

/// Open a map handle for the map with `id` (the handle module resolved it).
pub fn map_handle(id: u32) -> Result<MapHandle> {
    MapHandle::from_map_id(id).with_context(|| format!("opening map id {id}"))
}

/// What the raw perf buffer callback reaches through its context pointer.
struct RawCtx<'a> {
    on_record: &'a mut dyn FnMut(Record<'_>) -> Flow,
    stopped: bool,
}

/// libbpf's per-event callback for `consume_one_cpu`: a sample's raw bytes or a lost count.
unsafe extern "C" fn raw_event(
    ctx: *mut std::os::raw::c_void,
    cpu: std::os::raw::c_int,
    event: *mut libbpf_sys::perf_event_header,
) -> libbpf_sys::bpf_perf_event_ret {
    // SAFETY: `ctx` is the `RawCtx` that `consume_one_cpu` passed to perf_buffer__new_raw;
    // it outlives the perf buffer and only this callback uses it while libbpf polls.
    let ctx = unsafe { &mut *(ctx as *mut RawCtx<'_>) };
    if ctx.stopped || event.is_null() {
        return libbpf_sys::LIBBPF_PERF_EVENT_DONE;
    }
    // SAFETY: libbpf hands over one whole record, contiguous (it copies a record that
    // wraps around the ring), `header.size` bytes long, starting with its header.
    let bytes = unsafe {
        let size = (*event).size as usize;
        std::slice::from_raw_parts(event as *const u8, size)
    };
    let head = std::mem::size_of::<libbpf_sys::perf_event_header>();
    let u32_at = |off: usize| {
        bytes
            .get(off..off + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |off: usize| {
        bytes.get(off..off + 8).map(|b| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_ne_bytes(w)
        })
    };
    let kind = u32_at(0).unwrap_or(0);
    let record = if kind == libbpf_sys::PERF_RECORD_SAMPLE {
        // PERF_SAMPLE_RAW: u32 size, then the bytes bpf_perf_event_output wrote.
        let Some(len) = u32_at(head) else {
            return libbpf_sys::LIBBPF_PERF_EVENT_CONT;
        };
        let Some(data) = bytes.get(head + 4..head + 4 + len as usize) else {
            return libbpf_sys::LIBBPF_PERF_EVENT_CONT;
        };
        Record::Sample {
            cpu: Some(cpu as u32),
            data,
        }
    } else if kind == libbpf_sys::PERF_RECORD_LOST {
        // u64 id, u64 lost.
        Record::Lost {
            cpu: cpu as u32,
            count: u64_at(head + 8).unwrap_or(0),
        }
    } else {
        return libbpf_sys::LIBBPF_PERF_EVENT_CONT;
    };
    if (ctx.on_record)(record) == Flow::Stop {
        ctx.stopped = true;
        return libbpf_sys::LIBBPF_PERF_EVENT_DONE;
    }
    libbpf_sys::LIBBPF_PERF_EVENT_CONT
}

/// Read one CPU's perf buffer of a perf event array, the one at `index` (bpftool's
/// `event_pipe MAP cpu N index M`): a buffer opened on CPU `cpu` and stored at key `index`.
pub fn consume_one_cpu<F, K>(
    map: &MapHandle,
    pages: usize,
    cpu: u32,
    index: u32,
    mut on_record: F,
    mut keep_going: K,
) -> Result<()>
where
    F: FnMut(Record<'_>) -> Flow,
    K: FnMut() -> bool,
{
    if map.map_type() != MapType::PerfEventArray {
        anyhow::bail!(
            "`cpu` and `index` apply to perf_event_array maps; this map is a {:?} map",
            map.map_type()
        );
    }
    let mut attr = libbpf_sys::perf_event_attr {
        type_: libbpf_sys::PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32,
        config: libbpf_sys::PERF_COUNT_SW_BPF_OUTPUT as u64,
        sample_type: libbpf_sys::PERF_SAMPLE_RAW as u64,
        ..Default::default()
    };
    attr.__bindgen_anon_1.sample_period = 1;
    attr.__bindgen_anon_2.wakeup_events = 1;
    let mut cpus = [cpu as std::os::raw::c_int];
    let mut keys = [index as std::os::raw::c_int];
    let opts = libbpf_sys::perf_buffer_raw_opts {
        sz: std::mem::size_of::<libbpf_sys::perf_buffer_raw_opts>() as _,
        cpu_cnt: 1,
        cpus: cpus.as_mut_ptr(),
        map_keys: keys.as_mut_ptr(),
        ..Default::default()
    };
    let ctx = Box::into_raw(Box::new(RawCtx {
        on_record: &mut on_record,
        stopped: false,
    }));
    // SAFETY: `attr`, `opts` and the arrays it points at live until the call returns
    // (libbpf copies them); `ctx` stays allocated until after perf_buffer__free below,
    // and is reached only through this pointer (by `raw_event` and by this function).
    let pb = unsafe {
        libbpf_sys::perf_buffer__new_raw(
            map.as_fd().as_raw_fd(),
            pages as _,
            &mut attr,
            Some(raw_event),
            ctx.cast(),
            &opts,
        )
    };
    let mut result = Ok(());
    if pb.is_null() {
        let err = io::Error::last_os_error();
        result = Err(super::kernel_error(
            err,
            format!(
                "opening the perf buffer of cpu {cpu} at index {index} ({pages} pages; --pages must be a power of two)"
            ),
        ));
    }
    while !pb.is_null() {
        // SAFETY: `ctx` is valid (freed below); the callback runs only inside
        // perf_buffer__poll, so nothing else touches it now.
        let stopped = unsafe { (*ctx).stopped };
        if stopped || !keep_going() {
            break;
        }
        // SAFETY: `pb` is the live perf buffer made above, freed only after this loop.
        let ret = unsafe { libbpf_sys::perf_buffer__poll(pb, 100) };
        if ret < 0 && ret != -libc::EINTR {
            result = Err(super::kernel_error(
                super::errno(ret),
                "reading the perf buffer",
            ));
            break;
        }
    }
    if !pb.is_null() {
        // SAFETY: `pb` came from perf_buffer__new_raw and is freed exactly once; it
        // deletes the map element it set and closes its perf event.
        unsafe { libbpf_sys::perf_buffer__free(pb) };
    }
    // SAFETY: `ctx` came from Box::into_raw above; no perf buffer refers to it any more.
    drop(unsafe { Box::from_raw(ctx) });
    result
}
