// `perf` verbs: show (perf-event attachments, also link-held ones), tracelog (trace_pipe)
// and events (ring buffer / perf event array streams).

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::MapCore;
use serde::Serialize;
use serde_json::{json, Value};

use crate::bpf::link::{LinkInfo, LinkTarget, PerfEvent};
use crate::bpf::{self, stream, Kind};
use crate::cli::{EventsArgs, Globals, PerfVerb, StreamLimits, TracelogArgs};
use crate::grammar;
use crate::handle;
use crate::hex;
use crate::output::{Output, Tabular};

pub fn run(verb: Option<PerfVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(PerfVerb::Show) {
        PerfVerb::Show => show(out),
        PerfVerb::Tracelog(args) => tracelog(&args, g, out),
        PerfVerb::Events(args) => events(&args, g, out),
    }
}

/// One perf-event attachment as `perf show` prints it; field names are bpftool's.
/// Attachments held only by a BPF link (no process has the fd) have `link_id` and no
/// `pid`/`fd`: bpftool does not show those.
#[derive(Debug, Serialize, Default)]
pub struct PerfRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<u32>,
    pub prog_id: u32,
    pub fd_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracepoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub func: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u32>,
}

impl Tabular for PerfRecord {
    fn header() -> &'static [&'static str] {
        &["PID", "FD", "LINK", "PROG", "TYPE", "TARGET"]
    }

    fn row(&self) -> Vec<String> {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        let target = match (&self.tracepoint, &self.func, &self.filename) {
            (Some(t), _, _) => t.clone(),
            (_, Some(f), _) => format!("{f}+{}", self.offset.unwrap_or(0)),
            (_, _, Some(f)) => format!("{f}+{:#x}", self.offset.unwrap_or(0)),
            _ => self.addr.map(|a| format!("{a:#x}")).unwrap_or_default(),
        };
        vec![
            opt(self.pid),
            opt(self.fd),
            opt(self.link_id),
            self.prog_id.to_string(),
            self.fd_type.clone(),
            target,
        ]
    }
}

fn task_record(t: bpf::perf::TaskFd) -> PerfRecord {
    let mut r = PerfRecord {
        pid: Some(t.pid),
        fd: Some(t.fd),
        prog_id: t.prog_id,
        fd_type: t.fd_type.to_owned(),
        link_id: t.link_id,
        ..Default::default()
    };
    match t.fd_type {
        "raw_tracepoint" | "tracepoint" => r.tracepoint = Some(t.name),
        "kprobe" | "kretprobe" => {
            if t.name.is_empty() {
                r.addr = Some(t.probe_addr);
            } else {
                r.func = Some(t.name);
                r.offset = Some(t.probe_offset);
            }
        }
        "uprobe" | "uretprobe" => {
            r.filename = Some(t.name);
            r.offset = Some(t.probe_offset);
        }
        _ => {}
    }
    r
}

/// A perf_event or raw_tracepoint link as a `perf show` record, if it is one.
fn link_record(info: LinkInfo) -> Option<PerfRecord> {
    let mut r = PerfRecord {
        prog_id: info.prog_id,
        link_id: Some(info.id),
        ..Default::default()
    };
    match info.target {
        LinkTarget::RawTracepoint { tp_name } => {
            r.fd_type = "raw_tracepoint".into();
            r.tracepoint = Some(tp_name);
        }
        LinkTarget::PerfEvent(event) => {
            r.fd_type = event.event_type().into();
            match event {
                PerfEvent::Tracepoint { tracepoint, .. } => r.tracepoint = Some(tracepoint),
                PerfEvent::Kprobe {
                    func, offset, addr, ..
                } => {
                    r.func = Some(func);
                    r.offset = Some(offset.into());
                    r.addr = Some(addr);
                }
                PerfEvent::Uprobe { file, offset, .. } => {
                    r.filename = Some(file);
                    r.offset = Some(offset.into());
                }
                PerfEvent::Event { .. } => {}
            }
        }
        // Kernels before 6.6 do not say what a perf_event link is attached to.
        _ if info.link_type == bpf::link::LINK_TYPE_PERF_EVENT => {
            r.fd_type = "perf_event".into();
        }
        _ if info.link_type == bpf::link::LINK_TYPE_RAW_TRACEPOINT => {
            r.fd_type = "raw_tracepoint".into();
        }
        _ => return None,
    }
    Some(r)
}

fn show(out: &mut Output) -> Result<()> {
    let mut records: Vec<PerfRecord> = bpf::perf::attached_task_fds()
        .into_iter()
        .map(task_record)
        .collect();
    let seen: BTreeSet<u32> = records.iter().filter_map(|r| r.link_id).collect();
    for id in bpf::ids(Kind::Link)? {
        if seen.contains(&id) {
            continue;
        }
        let Ok(fd) = bpf::fd_by_id(Kind::Link, id) else {
            continue;
        };
        if let Some(r) = bpf::link::info(fd.as_fd()).ok().and_then(link_record) {
            records.push(r);
        }
    }
    out.list(&records)?;
    Ok(())
}

/// When a stream stops: a signal, a closed stdout, --count or --duration.
struct Limits {
    count: Option<u64>,
    deadline: Option<Instant>,
    seen: u64,
}

impl Limits {
    fn new(l: &StreamLimits) -> Result<Limits> {
        stream::install_stop_handlers()?;
        Ok(Limits {
            count: l.count,
            deadline: l.duration.map(|d| Instant::now() + d),
            seen: 0,
        })
    }

    /// Whether the stream should go on (no signal, stdout open, time left).
    fn keep_going(&self) -> bool {
        stream::stop_signal().is_none()
            && self.deadline.is_none_or(|d| Instant::now() < d)
            && !stream::stdout_closed()
            && self.count.is_none_or(|c| self.seen < c)
    }

    /// Count one record; whether the count is reached.
    fn counted(&mut self) -> bool {
        self.seen += 1;
        self.count.is_some_and(|c| self.seen >= c)
    }
}

/// One parsed trace_pipe line.
#[derive(Debug, Serialize, PartialEq)]
pub struct TraceLine {
    pub task: String,
    pub pid: u32,
    pub cpu: u32,
    pub flags: String,
    pub timestamp: f64,
    pub message: String,
}

/// Parse `  task-1234  [001] d..31  1234.567890: bpf_trace_printk: hello`.
pub fn parse_trace_line(line: &str) -> Option<TraceLine> {
    let open = line.find(" [")?;
    let close = open + line[open..].find(']')?;
    let (task, pid) = line[..open].trim().rsplit_once('-')?;
    let cpu = line[open + 2..close].trim().parse().ok()?;
    let rest = line[close + 1..].trim_start();
    let (first, after) = rest.split_once(' ')?;
    let (flags, ts, after) = match first.strip_suffix(':') {
        Some(ts) if ts.parse::<f64>().is_ok() => (String::new(), ts, after),
        _ => {
            let after = after.trim_start();
            let (ts, after) = after.split_once(' ').unwrap_or((after, ""));
            (first.to_owned(), ts.strip_suffix(':')?, after)
        }
    };
    let message = after.trim_start();
    let message = message
        .strip_prefix("bpf_trace_printk: ")
        .unwrap_or(message);
    Some(TraceLine {
        task: task.trim().to_owned(),
        pid: pid.parse().ok()?,
        cpu,
        flags,
        timestamp: ts.parse().ok()?,
        message: message.to_owned(),
    })
}

pub fn tracelog(args: &TracelogArgs, g: &Globals, out: &mut Output) -> Result<()> {
    let tracefs = bpf::attach::tracefs_root(g.nomount)?;
    let mut pipe = stream::TracePipe::open(&tracefs)?;
    let mut limits = Limits::new(&args.limits)?;
    let mut buf = Vec::new();
    while limits.keep_going() {
        let n = pipe.read_some(&mut buf).context("reading trace_pipe")?;
        if n == 0 {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if text.trim().is_empty() {
                continue;
            }
            match parse_trace_line(&text) {
                Some(parsed) => out.stream_line(&parsed, &text)?,
                None => out.stream_line(&json!({ "message": text }), &text)?,
            }
            if limits.counted() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn now_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

pub fn events(args: &EventsArgs, _g: &Globals, out: &mut Output) -> Result<()> {
    let words = grammar::parse("perf", "events", &args.words)?;
    let handle = words
        .handle("MAP")?
        .ok_or_else(|| crate::error::usage("expected MAP"))?;
    let one_cpu = match (words.number::<u32>("cpu")?, words.number::<u32>("index")?) {
        (Some(cpu), Some(index)) => Some((cpu, index)),
        (None, None) => None,
        _ => {
            return Err(crate::error::usage(
                "`cpu N` and `index M` go together: the perf buffer opened on CPU N, stored at index M of the map",
            ))
        }
    };
    let resolved = handle::resolve_one(Kind::Map, &handle)?;
    let map = stream::map_handle(resolved.id)?;
    if !stream::is_event_map(&map) {
        return Err(crate::error::hinted(
            format!(
                "map {handle} is of type {:?}; events come from a ringbuf or perf_event_array map",
                map.map_type()
            ),
            "dump other maps with `rbt map dump`",
        ));
    }
    let typed = typed_formatter(args, resolved.id)?;
    let mut limits = Limits::new(&args.limits)?;
    let mut lost_total = 0u64;
    let mut received = 0u64;
    let json = out.is_json();
    let shared = std::cell::RefCell::new((&mut limits, out, None::<anyhow::Error>));
    if let Some((cpu, _)) = one_cpu {
        let ncpus = libbpf_rs::num_possible_cpus().unwrap_or(0) as u32;
        if ncpus > 0 && cpu >= ncpus {
            return Err(crate::error::usage(format!(
                "cpu {cpu}: this machine has CPUs 0 to {}",
                ncpus - 1
            )));
        }
    }
    let on_record = |record: stream::Record<'_>| {
        let mut guard = shared.borrow_mut();
        let (limits, out, failure) = &mut *guard;
        let result = match record {
            stream::Record::Sample { cpu, data } => {
                received += 1;
                let timestamp = now_ns();
                match &typed {
                    Some(f) => match f(data) {
                        Ok(value) => {
                            let text = if json {
                                String::new()
                            } else {
                                format!("{timestamp} {value}")
                            };
                            let line = EventLine {
                                timestamp,
                                cpu,
                                size: data.len(),
                                data: &value,
                            };
                            out.stream_line_deferred(&line, &text)
                                .map_err(anyhow::Error::from)
                        }
                        // A record the type does not fit is reported, and the stream
                        // goes on.
                        Err(e) => {
                            let mut line = json!({
                                "timestamp": timestamp,
                                "size": data.len(),
                                "error": format!("{e:#}"),
                            });
                            if let Some(c) = cpu {
                                line["cpu"] = json!(c);
                            }
                            out.stream_line_deferred(&line, &format!("{timestamp}: error: {e:#}"))
                                .map_err(anyhow::Error::from)
                        }
                    },
                    None => {
                        let text = match (json, cpu) {
                            (true, _) => String::new(),
                            (false, Some(c)) => {
                                format!("{timestamp} cpu {c}: {}", hex::spaced(data))
                            }
                            (false, None) => format!("{timestamp}: {}", hex::spaced(data)),
                        };
                        let line = EventLine {
                            timestamp,
                            cpu,
                            size: data.len(),
                            data: &hex::HexStr(data),
                        };
                        out.stream_line_deferred(&line, &text)
                            .map_err(anyhow::Error::from)
                    }
                }
            }
            stream::Record::Lost { cpu, count } => {
                lost_total += count;
                out.stream_line_deferred(
                    &json!({ "lost": { "cpu": cpu, "count": count } }),
                    &format!("lost {count} samples on cpu {cpu}"),
                )
                .map_err(anyhow::Error::from)
            }
        };
        match result {
            Ok(()) if limits.counted() => stream::Flow::Stop,
            Ok(()) => stream::Flow::Continue,
            Err(e) => {
                *failure = Some(e);
                stream::Flow::Stop
            }
        }
    };
    let keep_going = || {
        let mut guard = shared.borrow_mut();
        let (limits, out, failure) = &mut *guard;
        // One flush per burst read: every line is out before rbt waits again.
        if let Err(e) = out.flush() {
            failure.get_or_insert(e.into());
            return false;
        }
        limits.keep_going()
    };
    match one_cpu {
        Some((cpu, index)) => {
            stream::consume_one_cpu(&map, args.pages, cpu, index, on_record, keep_going)?
        }
        None => stream::consume(&map, args.pages, on_record, keep_going)?,
    }
    let (_, out, failure) = shared.into_inner();
    let flushed = out.flush();
    if let Some(e) = failure {
        if crate::error::is_broken_pipe(&e) {
            return Ok(());
        }
        return Err(e);
    }
    if let Err(e) = flushed {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(e.into());
    }
    out.status(&format!("rbt: {received} records, {lost_total} lost"));
    Ok(())
}

/// One record of `perf events` in JSON: receipt time (CLOCK_MONOTONIC ns, the clock of
/// bpf_ktime_get_ns), the CPU for perf event arrays, the size and the data.
#[derive(Serialize)]
struct EventLine<'a, D: Serialize> {
    timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<u32>,
    size: usize,
    data: &'a D,
}

type Formatter = Box<dyn Fn(&[u8]) -> Result<Value>>;

/// `struct event` -> `event`: BTF names carry no kind keyword.
fn bare_type_name(t: &str) -> &str {
    let t = t.trim();
    ["struct ", "union ", "enum "]
        .iter()
        .find_map(|k| t.strip_prefix(k))
        .unwrap_or(t)
        .trim()
}

/// The BTF objects `--type` is looked up in, in order: --btf FILE; else the map's BTF,
/// the BTF of the programs that use the map, and vmlinux. Each with where it came from.
fn btf_sources(args: &EventsArgs, map_id: u32) -> Result<Vec<(String, crate::btf::Btf)>> {
    use crate::btf::Btf;
    if let Some(file) = &args.btf {
        let btf = Btf::from_elf(file).with_context(|| format!("--btf {}", file.display()))?;
        return Ok(vec![(file.display().to_string(), btf)]);
    }
    let mut found = Vec::new();
    let mut ids = Vec::new();
    let map_btf = bpf::fd_by_id(Kind::Map, map_id)
        .and_then(|fd| bpf::map::info(fd.as_fd()))
        .map(|i| i.btf_id);
    if let Ok(id) = map_btf {
        if id != 0 {
            ids.push((format!("the map's BTF (id {id})"), id));
        }
    }
    for prog_id in bpf::ids(Kind::Prog)? {
        let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog_id) else {
            continue;
        };
        let Ok(info) = bpf::prog::info(fd.as_fd()) else {
            continue;
        };
        if info.btf_id != 0
            && info.map_ids.contains(&map_id)
            && !ids.iter().any(|(_, b)| *b == info.btf_id)
        {
            ids.push((
                format!("the BTF of program {} (id {prog_id})", info.name),
                info.btf_id,
            ));
        }
    }
    for (what, id) in ids {
        if let Ok(btf) = Btf::from_kernel_id(id) {
            found.push((what, btf));
        }
    }
    let vmlinux = std::path::Path::new("/sys/kernel/btf/vmlinux");
    if vmlinux.exists() {
        if let Ok(btf) = Btf::from_elf(vmlinux) {
            found.push(("vmlinux".to_owned(), btf));
        }
    }
    Ok(found)
}

/// The `--type` decoder, if asked for: a record shorter than the type is an error, a
/// longer one (perf arrays pad records to 8 bytes) is decoded from its start.
fn typed_formatter(args: &EventsArgs, map_id: u32) -> Result<Option<Formatter>> {
    let Some(t) = &args.type_name else {
        return Ok(None);
    };
    let name = bare_type_name(t);
    let sources = btf_sources(args, map_id)?;
    let searched: Vec<String> = sources.iter().map(|(w, _)| w.clone()).collect();
    for (_, btf) in sources {
        if let Some(id) = btf.find_by_name(name) {
            btf.size_of(id)
                .with_context(|| format!("--type {t}: has no size"))?;
            return Ok(Some(Box::new(move |bytes: &[u8]| {
                crate::btf::format::to_json(&btf, id, bytes)
            })));
        }
    }
    if let Ok(simple) = crate::btf::codec::Simple::by_name(name) {
        // A scalar type reads the record's first bytes.
        let size = simple.size();
        let name = name.to_owned();
        let codec = crate::btf::codec::Codec::Simple(simple);
        return Ok(Some(Box::new(move |bytes: &[u8]| {
            let bytes = match size {
                Some(n) if bytes.len() < n => anyhow::bail!(
                    "a {}-byte record is shorter than --type {name} ({n} bytes)",
                    bytes.len()
                ),
                Some(n) => &bytes[..n],
                None => bytes,
            };
            Ok(serde_json::to_value(codec.view(bytes))?)
        })));
    }
    Err(crate::error::hinted(
        format!(
            "--type {t}: no type `{name}` in {}",
            if searched.is_empty() {
                "any BTF (the map has none, no program using it has any, no vmlinux BTF)".to_owned()
            } else {
                searched.join(", ")
            }
        ),
        "name the object file that defines it with --btf FILE",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_parse() {
        let l = parse_trace_line(
            "           <...>-12345   [003] d..31  4567.123456: bpf_trace_printk: hello world",
        );
        assert_eq!(
            l,
            Some(TraceLine {
                task: "<...>".into(),
                pid: 12345,
                cpu: 3,
                flags: "d..31".into(),
                timestamp: 4567.123456,
                message: "hello world".into(),
            })
        );
        let l = parse_trace_line("  my-task-name-7 [000] 12.5: sys_enter: x")
            .map(|l| (l.task, l.pid, l.flags, l.message));
        assert_eq!(
            l,
            Some((
                "my-task-name".into(),
                7,
                String::new(),
                "sys_enter: x".into()
            ))
        );
        assert!(parse_trace_line("# tracer: nop").is_none());
    }
}
