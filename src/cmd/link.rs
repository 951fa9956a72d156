// `link` verbs: show, pin, detach; the link record (bpftool's fields per link type).

use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::bpf::link::{AttachType, LinkInfo, LinkTarget, PerfEvent};
use crate::bpf::pids::PidRef;
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

/// One link as `link show` prints it: the link's info (`id`, `type`, `prog_id`, the
/// per-type fields), then `pinned` (with -f) and `pids`, as bpftool orders them.
#[derive(Debug, Serialize)]
pub struct LinkRecord {
    #[serde(flatten)]
    pub info: LinkInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<PidRef>,
}

impl Tabular for LinkRecord {
    fn header() -> &'static [&'static str] {
        &["ID", "TYPE", "PROG", "ATTACHED TO", "PINNED"]
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.info.id.to_string(),
            self.info.type_name.clone(),
            self.info.prog_id.to_string(),
            attached_to(&self.info.target),
            self.pinned.as_deref().unwrap_or_default().join(","),
        ]
    }
}

/// A short human description of what the link attaches to.
fn attached_to(target: &LinkTarget) -> String {
    let attach = |t: Option<AttachType>| t.map(AttachType::name).unwrap_or_default();
    match target {
        LinkTarget::PerfEvent(PerfEvent::Tracepoint { tracepoint, .. }) => {
            format!("tracepoint {tracepoint}")
        }
        LinkTarget::RawTracepoint { tp_name } => format!("raw_tracepoint {tp_name}"),
        LinkTarget::PerfEvent(e @ PerfEvent::Kprobe { func, offset, .. }) => {
            format!("{} {func}+{offset}", e.event_type())
        }
        LinkTarget::PerfEvent(e @ PerfEvent::Uprobe { file, offset, .. }) => {
            format!("{} {file}+{offset:#x}", e.event_type())
        }
        LinkTarget::Cgroup {
            cgroup_id,
            attach_type,
        } => format!("cgroup {cgroup_id} {}", attach_type.name()),
        LinkTarget::Tracing {
            attach_type,
            target_btf_id,
            ..
        } => format!("{} btf {target_btf_id}", attach_type.name()),
        LinkTarget::Xdp { ifindex, .. }
        | LinkTarget::Tcx { ifindex, .. }
        | LinkTarget::Netkit { ifindex, .. } => {
            let dev = target
                .devname()
                .map_or_else(|| ifindex.to_string(), str::to_owned);
            format!("{dev} {}", attach(target.attach_type()))
                .trim_end()
                .to_owned()
        }
        _ => String::new(),
    }
}

/// Build the record of the link behind `fd`.
pub fn record(fd: std::os::fd::BorrowedFd<'_>, ctx: &ShowContext) -> Result<LinkRecord> {
    let info = bpf::link::info(fd)?;
    Ok(LinkRecord {
        pinned: ctx.pinned(info.id),
        pids: ctx.pids(info.id),
        info,
    })
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
    let type_name = bpf::link::head(link.fd.as_fd())
        .map(|h| bpf::link::link_type_name(h.link_type))
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
