// `link` verbs: show, pin, detach; the link record (bpftool's fields per link type).

use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::bpf::{self, bpffs, Kind};
use crate::cli::{Globals, LinkVerb};
use crate::cmd::object_verbs::{self, ShowContext};
use crate::grammar;
use crate::handle::{self, Handle};
use crate::output::{Output, Tabular};

pub fn run(verb: Option<LinkVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(LinkVerb::Show { words: Vec::new() }) {
        LinkVerb::Show { words } => object_verbs::show(Kind::Link, &words, g, out, record),
        LinkVerb::Pin { words } => object_verbs::pin(Kind::Link, &words, g, out),
        LinkVerb::Detach { words } => detach(&words, g, out),
    }
}

/// One link as `link show` prints it: `id`, `type`, `prog_id`, the per-type fields,
/// then `pinned` (with -f) and `pids`, as bpftool orders them.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct LinkRecord(pub Map<String, Value>);

impl LinkRecord {
    fn str_field(&self, key: &str) -> String {
        match self.0.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }
}

impl Tabular for LinkRecord {
    fn header() -> &'static [&'static str] {
        &["ID", "TYPE", "PROG", "ATTACHED TO", "PINNED"]
    }

    fn row(&self) -> Vec<String> {
        let target = attached_to(&self.0);
        let pinned = match self.0.get("pinned") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        };
        vec![
            self.str_field("id"),
            self.str_field("type"),
            self.str_field("prog_id"),
            target,
            pinned,
        ]
    }
}

/// A short human description of what the link attaches to.
fn attached_to(m: &Map<String, Value>) -> String {
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let n = |k: &str| m.get(k).map(Value::to_string).unwrap_or_default();
    if m.contains_key("tracepoint") {
        return format!("tracepoint {}", s("tracepoint"));
    }
    if m.contains_key("tp_name") {
        return format!("raw_tracepoint {}", s("tp_name"));
    }
    if m.contains_key("func") {
        return format!("{} {}+{}", s("event_type"), s("func"), n("offset"));
    }
    if m.contains_key("file") {
        return format!(
            "{} {}+{:#x}",
            s("event_type"),
            s("file"),
            m.get("offset").and_then(Value::as_u64).unwrap_or(0)
        );
    }
    if m.contains_key("cgroup_id") {
        return format!("cgroup {} {}", n("cgroup_id"), s("attach_type"));
    }
    if m.contains_key("target_btf_id") {
        return format!("{} btf {}", s("attach_type"), n("target_btf_id"));
    }
    if m.contains_key("ifindex") {
        let dev = s("devname");
        return format!(
            "{} {}",
            if dev.is_empty() { n("ifindex") } else { dev },
            s("attach_type")
        )
        .trim_end()
        .to_owned();
    }
    String::new()
}

/// Build the record of the link behind `fd`.
pub fn record(fd: std::os::fd::BorrowedFd<'_>, ctx: &ShowContext) -> Result<LinkRecord> {
    let facts = bpf::link::info(fd)?;
    let mut m = Map::new();
    m.insert("id".into(), json!(facts.id));
    m.insert("type".into(), json!(facts.type_name));
    m.insert("prog_id".into(), json!(facts.prog_id));
    for (k, v) in facts.fields {
        m.insert(k.into(), v);
    }
    if let Some(pinned) = ctx.pinned(facts.id) {
        m.insert("pinned".into(), json!(pinned));
    }
    let pids = ctx.pids(facts.id);
    if !pids.is_empty() {
        m.insert("pids".into(), json!(pids));
    }
    Ok(LinkRecord(m))
}

/// Detach the link and remove its pins under the bpffs root (a detached link pinned is
/// only a dead name). Link types the kernel cannot detach (raw_tracepoint, tracing,
/// perf_event) end when their last holder goes: rbt removes the pins, closes its fd, and
/// fails naming the processes that still hold the link, if any.
fn detach(words: &[String], g: &Globals, out: &mut Output) -> Result<()> {
    let handle = grammar::parse("link", "detach", words)?
        .handle("LINK")?
        .ok_or_else(|| crate::error::usage("expected LINK"))?;
    bpffs::ensure_mounted(g.nomount)?;
    let link = handle::resolve_one(Kind::Link, &handle)?;
    let id = link.id;
    match bpf::link::detach(link.fd.as_fd()) {
        Ok(()) => {
            remove_pins(id, &handle);
            out.done(Some(&format!("detached link id {id}")))?;
            return Ok(());
        }
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {}
        Err(e) => return Err(bpf::kernel_error(e, format!("detaching link id {id}"))),
    }
    let type_name = bpf::link::info(link.fd.as_fd())
        .map(|f| f.type_name)
        .unwrap_or_default();
    remove_pins(id, &handle);
    drop(link);
    // Closing the last fd frees the link at once; allow the kernel a moment anyway.
    for _ in 0..20 {
        if bpf::fd_by_id(Kind::Link, id).is_err() {
            out.done(Some(&format!(
                "released link id {id} (a {type_name} link has no kernel detach: removing its pins ended it)"
            )))?;
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let holders: Vec<String> = bpf::pids::holders(Kind::Link)
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .map(|p| format!("{}({})", p.comm, p.pid))
        .collect();
    Err(crate::error::hinted(
        format!(
            "link id {id}: the kernel cannot detach a {type_name} link; its pins are removed, \
but it stays attached while {} hold it",
            if holders.is_empty() {
                "other fds".to_owned()
            } else {
                holders.join(", ")
            }
        ),
        "it ends when those processes close it (or exit)",
    ))
}

/// Remove every pin of link `id` under the bpffs root, and the handle's own pin.
pub fn remove_pins(id: u32, handle: &Handle) {
    if let Handle::Pinned(p) = handle {
        let _ = std::fs::remove_file(p);
    }
    for (path, kind, pinned_id) in bpffs::walk_pins(Path::new(bpffs::DEFAULT_ROOT)) {
        if kind == Kind::Link && pinned_id == id {
            let _ = std::fs::remove_file(path);
        }
    }
}
