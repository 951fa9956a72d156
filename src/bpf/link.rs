// BPF links in the kernel: the one reader of bpf_link_info, decoding it into a typed
// record per link kind (bpftool's field names), link type and attach-type names, and
// detaching links.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::Result;
use libbpf_rs::query::{self, LinkTypeInfo, PerfEventType};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::{errno, kernel_error, static_str};

pub const LINK_TYPE_RAW_TRACEPOINT: u32 = libbpf_sys::BPF_LINK_TYPE_RAW_TRACEPOINT;
pub const LINK_TYPE_PERF_EVENT: u32 = libbpf_sys::BPF_LINK_TYPE_PERF_EVENT;
pub const LINK_TYPE_XDP: u32 = libbpf_sys::BPF_LINK_TYPE_XDP;

/// The fields every link has: its id, its link type number and the program it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkHead {
    pub id: u32,
    pub link_type: u32,
    pub prog_id: u32,
}

/// One link as `link show` prints it: `id`, `type`, `prog_id`, then the fields of its
/// kind in bpftool's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkInfo {
    pub id: u32,
    /// bpftool's name of the link type ("perf_event", "tcx", ...).
    #[serde(rename = "type")]
    pub type_name: String,
    pub prog_id: u32,
    /// The kernel's link type number (BPF_LINK_TYPE_*).
    #[serde(skip)]
    pub link_type: u32,
    #[serde(flatten)]
    pub target: LinkTarget,
}

/// An attach type (BPF_*), shown by libbpf's name ("cgroup_inet_ingress", "tcx_ingress").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachType(pub u32);

impl AttachType {
    pub fn name(self) -> String {
        attach_type_name(self.0)
    }
}

impl Serialize for AttachType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// What a link is attached to, one variant per link kind, with bpftool's field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LinkTarget {
    RawTracepoint {
        tp_name: String,
    },
    Tracing {
        attach_type: AttachType,
        target_obj_id: u32,
        target_btf_id: u32,
    },
    Cgroup {
        cgroup_id: u64,
        attach_type: AttachType,
    },
    NetNs {
        netns_ino: u32,
        attach_type: AttachType,
    },
    Xdp {
        #[serde(skip_serializing_if = "Option::is_none")]
        devname: Option<String>,
        ifindex: u32,
    },
    Tcx {
        #[serde(skip_serializing_if = "Option::is_none")]
        devname: Option<String>,
        ifindex: u32,
        attach_type: AttachType,
    },
    Netkit {
        #[serde(skip_serializing_if = "Option::is_none")]
        devname: Option<String>,
        ifindex: u32,
        attach_type: AttachType,
    },
    StructOps {
        map_id: u32,
    },
    SockMap {
        map_id: u32,
        attach_type: AttachType,
    },
    Netfilter {
        pf: u32,
        hook: u32,
        prio: i32,
        flags: u32,
    },
    Iter {
        target_name: String,
    },
    KprobeMulti {
        func_cnt: u32,
        missed: u64,
    },
    UprobeMulti {
        path: String,
        func_cnt: u32,
        pid: u32,
    },
    PerfEvent(PerfEvent),
    /// A link type rbt does not decode, or a kernel that says nothing more (perf_event
    /// links before 6.6): no further fields.
    Unknown,
}

impl LinkTarget {
    /// The interface of an XDP, tcx or netkit link.
    pub fn ifindex(&self) -> Option<u32> {
        match self {
            LinkTarget::Xdp { ifindex, .. }
            | LinkTarget::Tcx { ifindex, .. }
            | LinkTarget::Netkit { ifindex, .. } => Some(*ifindex),
            _ => None,
        }
    }

    /// The interface name of an XDP, tcx or netkit link, if the interface still exists.
    pub fn devname(&self) -> Option<&str> {
        match self {
            LinkTarget::Xdp { devname, .. }
            | LinkTarget::Tcx { devname, .. }
            | LinkTarget::Netkit { devname, .. } => devname.as_deref(),
            _ => None,
        }
    }

    /// The attach type, for the link kinds that report one.
    pub fn attach_type(&self) -> Option<AttachType> {
        match self {
            LinkTarget::Tracing { attach_type, .. }
            | LinkTarget::Cgroup { attach_type, .. }
            | LinkTarget::NetNs { attach_type, .. }
            | LinkTarget::Tcx { attach_type, .. }
            | LinkTarget::Netkit { attach_type, .. }
            | LinkTarget::SockMap { attach_type, .. } => Some(*attach_type),
            _ => None,
        }
    }
}

/// What a perf_event link is attached to (kernels from 6.6 say).
#[derive(Debug, Clone, PartialEq)]
pub enum PerfEvent {
    Tracepoint {
        tracepoint: String,
        cookie: u64,
    },
    Kprobe {
        retprobe: bool,
        addr: u64,
        func: String,
        offset: u32,
        missed: u64,
        cookie: u64,
    },
    Uprobe {
        retprobe: bool,
        file: String,
        offset: u32,
        cookie: u64,
    },
    /// A hardware or software perf event.
    Event {
        event_config: u64,
        perf_type: u32,
        cookie: u64,
    },
}

impl PerfEvent {
    /// bpftool's `event_type`: tracepoint, kprobe, kretprobe, uprobe, uretprobe or event.
    pub fn event_type(&self) -> &'static str {
        match self {
            PerfEvent::Tracepoint { .. } => "tracepoint",
            PerfEvent::Kprobe {
                retprobe: false, ..
            } => "kprobe",
            PerfEvent::Kprobe { retprobe: true, .. } => "kretprobe",
            PerfEvent::Uprobe {
                retprobe: false, ..
            } => "uprobe",
            PerfEvent::Uprobe { retprobe: true, .. } => "uretprobe",
            PerfEvent::Event { .. } => "event",
        }
    }
}

/// bpftool's fields and order: `event_type` first, then the event's own fields.
impl Serialize for PerfEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("event_type", self.event_type())?;
        match self {
            PerfEvent::Tracepoint { tracepoint, cookie } => {
                m.serialize_entry("tracepoint", tracepoint)?;
                m.serialize_entry("cookie", cookie)?;
            }
            PerfEvent::Kprobe {
                retprobe,
                addr,
                func,
                offset,
                missed,
                cookie,
            } => {
                m.serialize_entry("addr", addr)?;
                m.serialize_entry("func", func)?;
                m.serialize_entry("offset", offset)?;
                m.serialize_entry("missed", missed)?;
                m.serialize_entry("cookie", cookie)?;
                m.serialize_entry("retprobe", retprobe)?;
            }
            PerfEvent::Uprobe {
                retprobe,
                file,
                offset,
                cookie,
            } => {
                m.serialize_entry("file", file)?;
                m.serialize_entry("offset", offset)?;
                m.serialize_entry("cookie", cookie)?;
                m.serialize_entry("retprobe", retprobe)?;
            }
            PerfEvent::Event {
                event_config,
                perf_type,
                cookie,
            } => {
                m.serialize_entry("event_config", event_config)?;
                m.serialize_entry("perf_type", perf_type)?;
                m.serialize_entry("cookie", cookie)?;
            }
        }
        m.end()
    }
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

/// A link's id, type number and program: one cheap query, no per-type decoding (the
/// raw type number is also what libbpf-rs leaves out for types it does not know).
pub fn head(fd: BorrowedFd<'_>) -> Result<LinkHead> {
    let mut raw = libbpf_sys::bpf_link_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_link_info>() as u32;
    // SAFETY: `raw` is a zeroed bpf_link_info of `len` bytes; its pointer fields are 0,
    // so the kernel writes nothing outside it.
    let ret = unsafe { libbpf_sys::bpf_link_get_info_by_fd(fd.as_raw_fd(), &mut raw, &mut len) };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "reading link info"));
    }
    Ok(LinkHead {
        id: raw.id,
        link_type: raw.type_,
        prog_id: raw.prog_id,
    })
}

/// Read and decode one link's info.
pub fn info(fd: BorrowedFd<'_>) -> Result<LinkInfo> {
    let head = head(fd)?;
    let target = query::LinkInfo::from_fd(fd)
        .map(|i| target(i.info))
        .unwrap_or(LinkTarget::Unknown);
    Ok(LinkInfo {
        id: head.id,
        type_name: link_type_name(head.link_type),
        prog_id: head.prog_id,
        link_type: head.link_type,
        target,
    })
}

fn lossy(s: Option<std::ffi::OsString>) -> String {
    s.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// libbpf-rs's decoding of a link, as rbt's target record.
fn target(info: LinkTypeInfo) -> LinkTarget {
    let at = |t: libbpf_rs::ProgramAttachType| AttachType(t as u32);
    match info {
        LinkTypeInfo::RawTracepoint(i) => LinkTarget::RawTracepoint { tp_name: i.name },
        LinkTypeInfo::Tracing(i) => LinkTarget::Tracing {
            attach_type: at(i.attach_type),
            target_obj_id: i.target_obj_id,
            target_btf_id: i.target_btf_id,
        },
        LinkTypeInfo::Cgroup(i) => LinkTarget::Cgroup {
            cgroup_id: i.cgroup_id,
            attach_type: at(i.attach_type),
        },
        LinkTypeInfo::NetNs(i) => LinkTarget::NetNs {
            netns_ino: i.ino,
            attach_type: at(i.attach_type),
        },
        LinkTypeInfo::Xdp(i) => LinkTarget::Xdp {
            devname: ifname(i.ifindex),
            ifindex: i.ifindex,
        },
        LinkTypeInfo::Tcx(i) => LinkTarget::Tcx {
            devname: ifname(i.ifindex),
            ifindex: i.ifindex,
            attach_type: at(i.attach_type),
        },
        LinkTypeInfo::Netkit(i) => LinkTarget::Netkit {
            devname: ifname(i.ifindex),
            ifindex: i.ifindex,
            attach_type: at(i.attach_type),
        },
        LinkTypeInfo::StructOps(i) => LinkTarget::StructOps { map_id: i.map_id },
        LinkTypeInfo::SockMap(i) => LinkTarget::SockMap {
            map_id: i.map_id,
            attach_type: at(i.attach_type),
        },
        LinkTypeInfo::Netfilter(i) => LinkTarget::Netfilter {
            pf: i.protocol_family,
            hook: i.hooknum,
            prio: i.priority,
            flags: i.flags,
        },
        LinkTypeInfo::Iter(i) => LinkTarget::Iter {
            target_name: i.target_name.to_string_lossy().into_owned(),
        },
        LinkTypeInfo::KprobeMulti(i) => LinkTarget::KprobeMulti {
            func_cnt: i.count,
            missed: i.missed,
        },
        LinkTypeInfo::UprobeMulti(i) => LinkTarget::UprobeMulti {
            path: i.path.map(|p| p.display().to_string()).unwrap_or_default(),
            func_cnt: i.count,
            pid: i.pid,
        },
        LinkTypeInfo::PerfEvent(p) => match p.event_type {
            PerfEventType::Tracepoint { name, cookie } => {
                LinkTarget::PerfEvent(PerfEvent::Tracepoint {
                    tracepoint: lossy(name),
                    cookie,
                })
            }
            PerfEventType::Kprobe {
                func_name,
                is_retprobe,
                addr,
                offset,
                missed,
                cookie,
            } => LinkTarget::PerfEvent(PerfEvent::Kprobe {
                retprobe: is_retprobe,
                addr,
                func: lossy(func_name),
                offset,
                missed,
                cookie,
            }),
            PerfEventType::Uprobe {
                file_name,
                is_retprobe,
                offset,
                cookie,
                ..
            } => LinkTarget::PerfEvent(PerfEvent::Uprobe {
                retprobe: is_retprobe,
                file: lossy(file_name),
                offset,
                cookie,
            }),
            PerfEventType::Event {
                config,
                event_type,
                cookie,
            } => LinkTarget::PerfEvent(PerfEvent::Event {
                event_config: config,
                perf_type: event_type,
                cookie,
            }),
            PerfEventType::Unknown(_) => LinkTarget::Unknown,
        },
        _ => LinkTarget::Unknown,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn json(target: LinkTarget) -> String {
        serde_json::to_string(&LinkInfo {
            id: 7,
            type_name: "t".into(),
            prog_id: 3,
            link_type: 0,
            target,
        })
        .unwrap_or_default()
    }

    #[test]
    fn fields_follow_bpftool_order() {
        assert_eq!(
            json(LinkTarget::Unknown),
            r#"{"id":7,"type":"t","prog_id":3}"#
        );
        assert_eq!(
            json(LinkTarget::Netfilter {
                pf: 2,
                hook: 1,
                prio: -100,
                flags: 0
            }),
            r#"{"id":7,"type":"t","prog_id":3,"pf":2,"hook":1,"prio":-100,"flags":0}"#
        );
        assert_eq!(
            json(LinkTarget::Xdp {
                devname: None,
                ifindex: 4
            }),
            r#"{"id":7,"type":"t","prog_id":3,"ifindex":4}"#
        );
        assert_eq!(
            json(LinkTarget::NetNs {
                netns_ino: 9,
                attach_type: AttachType(libbpf_sys::BPF_SK_LOOKUP)
            }),
            r#"{"id":7,"type":"t","prog_id":3,"netns_ino":9,"attach_type":"sk_lookup"}"#
        );
        assert_eq!(
            json(LinkTarget::PerfEvent(PerfEvent::Kprobe {
                retprobe: true,
                addr: 1,
                func: "f".into(),
                offset: 2,
                missed: 0,
                cookie: 5
            })),
            r#"{"id":7,"type":"t","prog_id":3,"event_type":"kretprobe","addr":1,"func":"f","offset":2,"missed":0,"cookie":5,"retprobe":true}"#
        );
        assert_eq!(
            json(LinkTarget::PerfEvent(PerfEvent::Event {
                event_config: 1,
                perf_type: 2,
                cookie: 0
            })),
            r#"{"id":7,"type":"t","prog_id":3,"event_type":"event","event_config":1,"perf_type":2,"cookie":0}"#
        );
    }

    #[test]
    fn helpers_read_the_target() {
        let tcx = LinkTarget::Tcx {
            devname: Some("lo".into()),
            ifindex: 1,
            attach_type: AttachType(libbpf_sys::BPF_TCX_INGRESS),
        };
        assert_eq!(tcx.ifindex(), Some(1));
        assert_eq!(tcx.devname(), Some("lo"));
        assert_eq!(
            tcx.attach_type().map(AttachType::name).as_deref(),
            Some("tcx_ingress")
        );
        assert_eq!(LinkTarget::Unknown.ifindex(), None);
    }
}
