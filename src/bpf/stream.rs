// Live streams from the kernel: trace_pipe, BPF ring buffers and perf event arrays; the
// signal handling and closed-stdout check that end them cleanly.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
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
