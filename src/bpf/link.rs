// BPF links in the kernel: their info decoded per link type (bpftool's fields), their
// type and attach-type names, and detaching them.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::Result;
use libbpf_rs::query::{LinkInfo, LinkTypeInfo, PerfEventType};

use super::{errno, kernel_error, static_str};

/// What `link show` prints about one link, decoded from bpf_link_info.
#[derive(Debug, Clone, Default)]
pub struct LinkFacts {
    pub id: u32,
    pub type_name: String,
    pub prog_id: u32,
    /// Per-type fields in bpftool's order, as (name, JSON value).
    pub fields: Vec<(&'static str, serde_json::Value)>,
}

/// bpftool's name of a link type ("raw_tracepoint", "perf_event", ...), or "type N".
pub fn link_type_name(t: u32) -> String {
    // SAFETY: returns NULL or a pointer into a static table.
    let s = static_str(unsafe { libbpf_sys::libbpf_bpf_link_type_str(t) });
    if s.is_empty() {
        format!("type {t}")
    } else {
        s.to_owned()
    }
}

/// libbpf's name of an attach type ("trace_fentry", "cgroup_inet_ingress", ...).
pub fn attach_type_name(t: u32) -> String {
    // SAFETY: returns NULL or a pointer into a static table.
    let s = static_str(unsafe { libbpf_sys::libbpf_bpf_attach_type_str(t) });
    if s.is_empty() {
        t.to_string()
    } else {
        s.to_owned()
    }
}

/// An attach type by libbpf's name ("cgroup_inet_ingress", ...).
pub fn attach_type_by_name(name: &str) -> Option<u32> {
    (0..128u32).find(|t| {
        // SAFETY: returns NULL or a pointer into a static table.
        static_str(unsafe { libbpf_sys::libbpf_bpf_attach_type_str(*t) }) == name
    })
}

/// The raw link type number (what libbpf-rs reports as Unknown keeps no number).
fn raw_type(fd: BorrowedFd<'_>) -> Result<(u32, u32, u32)> {
    let mut raw = libbpf_sys::bpf_link_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_link_info>() as u32;
    // SAFETY: `raw` is a zeroed bpf_link_info of `len` bytes; its pointer fields are 0,
    // so the kernel writes nothing outside it.
    let ret = unsafe { libbpf_sys::bpf_link_get_info_by_fd(fd.as_raw_fd(), &mut raw, &mut len) };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "reading link info"));
    }
    Ok((raw.type_, raw.id, raw.prog_id))
}

fn os(s: Option<std::ffi::OsString>) -> serde_json::Value {
    s.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .into()
}

/// Read and decode one link's info.
pub fn info(fd: BorrowedFd<'_>) -> Result<LinkFacts> {
    use serde_json::json;
    let (type_, id, prog_id) = raw_type(fd)?;
    let mut facts = LinkFacts {
        id,
        type_name: link_type_name(type_),
        prog_id,
        fields: Vec::new(),
    };
    let Ok(info) = LinkInfo::from_fd(fd) else {
        return Ok(facts);
    };
    let f = &mut facts.fields;
    match info.info {
        LinkTypeInfo::RawTracepoint(i) => f.push(("tp_name", json!(i.name))),
        LinkTypeInfo::Tracing(i) => {
            f.push(("attach_type", json!(attach_type_name(i.attach_type as u32))));
            f.push(("target_obj_id", json!(i.target_obj_id)));
            f.push(("target_btf_id", json!(i.target_btf_id)));
        }
        LinkTypeInfo::Cgroup(i) => {
            f.push(("cgroup_id", json!(i.cgroup_id)));
            f.push(("attach_type", json!(attach_type_name(i.attach_type as u32))));
        }
        LinkTypeInfo::NetNs(i) => {
            f.push(("netns_ino", json!(i.ino)));
            f.push(("attach_type", json!(attach_type_name(i.attach_type as u32))));
        }
        LinkTypeInfo::Xdp(i) => {
            if let Some(name) = ifname(i.ifindex) {
                f.push(("devname", json!(name)));
            }
            f.push(("ifindex", json!(i.ifindex)));
        }
        LinkTypeInfo::Tcx(i) => {
            if let Some(name) = ifname(i.ifindex) {
                f.push(("devname", json!(name)));
            }
            f.push(("ifindex", json!(i.ifindex)));
            f.push(("attach_type", json!(attach_type_name(i.attach_type as u32))));
        }
        LinkTypeInfo::Netkit(i) => {
            if let Some(name) = ifname(i.ifindex) {
                f.push(("devname", json!(name)));
            }
            f.push(("ifindex", json!(i.ifindex)));
            f.push(("attach_type", json!(attach_type_name(i.attach_type as u32))));
        }
        LinkTypeInfo::StructOps(i) => f.push(("map_id", json!(i.map_id))),
        LinkTypeInfo::SockMap(i) => {
            f.push(("map_id", json!(i.map_id)));
            f.push(("attach_type", json!(attach_type_name(i.attach_type as u32))));
        }
        LinkTypeInfo::Netfilter(i) => {
            f.push(("pf", json!(i.protocol_family)));
            f.push(("hook", json!(i.hooknum)));
            f.push(("prio", json!(i.priority)));
            f.push(("flags", json!(i.flags)));
        }
        LinkTypeInfo::Iter(i) => {
            f.push(("target_name", json!(i.target_name.to_string_lossy())));
        }
        LinkTypeInfo::KprobeMulti(i) => {
            f.push(("func_cnt", json!(i.count)));
            f.push(("missed", json!(i.missed)));
        }
        LinkTypeInfo::UprobeMulti(i) => {
            f.push((
                "path",
                json!(i.path.map(|p| p.display().to_string()).unwrap_or_default()),
            ));
            f.push(("func_cnt", json!(i.count)));
            f.push(("pid", json!(i.pid)));
        }
        LinkTypeInfo::PerfEvent(p) => match p.event_type {
            PerfEventType::Tracepoint { name, cookie } => {
                f.push(("event_type", json!("tracepoint")));
                f.push(("tracepoint", os(name)));
                f.push(("cookie", json!(cookie)));
            }
            PerfEventType::Kprobe {
                func_name,
                is_retprobe,
                addr,
                offset,
                missed,
                cookie,
            } => {
                f.push((
                    "event_type",
                    json!(if is_retprobe { "kretprobe" } else { "kprobe" }),
                ));
                f.push(("addr", json!(addr)));
                f.push(("func", os(func_name)));
                f.push(("offset", json!(offset)));
                f.push(("missed", json!(missed)));
                f.push(("cookie", json!(cookie)));
                f.push(("retprobe", json!(is_retprobe)));
            }
            PerfEventType::Uprobe {
                file_name,
                is_retprobe,
                offset,
                cookie,
                ..
            } => {
                f.push((
                    "event_type",
                    json!(if is_retprobe { "uretprobe" } else { "uprobe" }),
                ));
                f.push(("file", os(file_name)));
                f.push(("offset", json!(offset)));
                f.push(("cookie", json!(cookie)));
                f.push(("retprobe", json!(is_retprobe)));
            }
            PerfEventType::Event {
                config,
                event_type,
                cookie,
            } => {
                f.push(("event_type", json!("event")));
                f.push(("event_config", json!(config)));
                f.push(("perf_type", json!(event_type)));
                f.push(("cookie", json!(cookie)));
            }
            PerfEventType::Unknown(_) => {}
        },
        _ => {}
    }
    Ok(facts)
}

/// The name of the network interface with `ifindex`, if it exists.
pub fn ifname(ifindex: u32) -> Option<String> {
    let mut buf = [0 as std::os::raw::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    Some(super::c_chars(&buf))
}

/// Detach a link: the attachment ends now, even while fds or pins to it remain. Many
/// link types (raw_tracepoint, tracing, perf_event) have no detach: EOPNOTSUPP.
pub fn detach(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    // SAFETY: plain syscall wrapper taking a live fd.
    let ret = unsafe { libbpf_sys::bpf_link_detach(fd.as_raw_fd()) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}
