// `net show [dev IF]`: what is attached to the interfaces of a namespace (XDP, tc clsact,
// tcx, flow dissector, netfilter), in bpftool's JSON shape or as a table.

use std::os::fd::AsFd;

use anyhow::Result;
use serde::Serialize;

use super::words::{self, XdpMode};
use crate::bpf::net::{self as kn, Direction, TcSlot};
use crate::bpf::net_netlink;
use crate::bpf::net_ns::NetnsGuard;
use crate::bpf::{self, Kind};
use crate::output::{Output, Tabular};

#[derive(Debug, Serialize)]
pub struct XdpRecord {
    pub devname: String,
    pub ifindex: u32,
    pub mode: String,
    pub id: u32,
}

#[derive(Debug, Serialize)]
pub struct TcRecord {
    pub devname: String,
    pub ifindex: u32,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// clsact filters (bpftool: `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// tcx programs (bpftool: `prog_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prog_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<u32>,
    #[serde(skip)]
    pub slot: Option<TcSlot>,
}

/// The namespace's flow dissector program (bpftool: `{"id": N}`).
#[derive(Debug, Serialize)]
pub struct FlowDissectorRecord {
    pub id: u32,
}

/// A netfilter link, in bpftool's field order.
#[derive(Debug, Serialize)]
pub struct NetfilterRecord {
    pub pf: u32,
    pub hook: u32,
    pub prio: i32,
    pub flags: u32,
    /// The program's id.
    pub id: u32,
}

#[derive(Debug, Serialize)]
pub struct NetDoc {
    pub xdp: Vec<XdpRecord>,
    pub tc: Vec<TcRecord>,
    pub flow_dissector: Vec<FlowDissectorRecord>,
    pub netfilter: Vec<NetfilterRecord>,
}

/// One row of the `net show` table.
#[derive(Debug, Serialize)]
pub struct NetRow {
    dev: String,
    attach: String,
    prog_id: u32,
    name: String,
    detail: String,
}

impl Tabular for NetRow {
    fn header() -> &'static [&'static str] {
        &["DEV", "ATTACH", "PROG", "NAME", "DETAIL"]
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.dev.clone(),
            self.attach.clone(),
            self.prog_id.to_string(),
            self.name.clone(),
            self.detail.clone(),
        ]
    }
}

fn prog_name(id: u32) -> String {
    bpf::fd_by_id(Kind::Prog, id)
        .and_then(|fd| bpf::prog::info(fd.as_fd()))
        .map(|i| i.name)
        .unwrap_or_default()
}

pub fn collect(dev: Option<&str>) -> Result<NetDoc> {
    let ifaces = match dev {
        Some(d) => vec![(kn::ifindex(d)?, d.to_string())],
        None => kn::interfaces()?,
    };
    let mut doc = NetDoc {
        xdp: Vec::new(),
        tc: Vec::new(),
        flow_dissector: Vec::new(),
        netfilter: Vec::new(),
    };
    for (ifindex, name) in &ifaces {
        let state = kn::xdp_query(*ifindex)?;
        for (id, mode) in [
            (state.skb, XdpMode::Generic),
            (state.drv, XdpMode::Driver),
            (state.hw, XdpMode::Offload),
        ] {
            if id != 0 {
                doc.xdp.push(XdpRecord {
                    devname: name.clone(),
                    ifindex: *ifindex,
                    mode: mode.word().into(),
                    id,
                });
            }
        }
        for dir in [Direction::Ingress, Direction::Egress] {
            for e in kn::tcx_query(*ifindex, dir)? {
                doc.tc.push(TcRecord {
                    devname: name.clone(),
                    ifindex: *ifindex,
                    kind: format!("tcx/{}", dir.word()),
                    name: Some(prog_name(e.prog_id)),
                    id: None,
                    prog_id: Some(e.prog_id),
                    link_id: (e.link_id != 0).then_some(e.link_id),
                    slot: None,
                });
            }
        }
        for dir in [Direction::Ingress, Direction::Egress] {
            for f in net_netlink::tc_filters(*ifindex, dir)? {
                doc.tc.push(TcRecord {
                    devname: name.clone(),
                    ifindex: *ifindex,
                    kind: format!("clsact/{}", dir.word()),
                    name: f.name.clone(),
                    id: Some(f.prog_id),
                    prog_id: None,
                    link_id: None,
                    slot: Some(TcSlot {
                        priority: f.priority,
                        handle: f.handle,
                    }),
                });
            }
        }
    }
    if let Some(id) = kn::flow_dissector_id()? {
        doc.flow_dissector.push(FlowDissectorRecord { id });
    }
    doc.netfilter = netfilter_links();
    Ok(doc)
}

/// Netfilter links, as bpftool lists them: sorted by pf, hook, prio.
fn netfilter_links() -> Vec<NetfilterRecord> {
    let mut found = Vec::new();
    for id in bpf::ids(Kind::Link).unwrap_or_default() {
        let Ok(fd) = bpf::fd_by_id(Kind::Link, id) else {
            continue;
        };
        if let Ok(bpf::link::LinkInfo {
            target:
                bpf::link::LinkTarget::Netfilter {
                    pf,
                    hook,
                    prio,
                    flags,
                },
            prog_id,
            ..
        }) = bpf::link::info(fd.as_fd())
        {
            found.push(NetfilterRecord {
                pf,
                hook,
                prio,
                flags,
                id: prog_id,
            });
        }
    }
    found.sort_by_key(|n| (n.pf, n.hook, n.prio));
    found
}

fn rows(doc: &NetDoc) -> Vec<NetRow> {
    let mut rows = Vec::new();
    for x in &doc.xdp {
        rows.push(NetRow {
            dev: format!("{}({})", x.devname, x.ifindex),
            attach: format!("xdp/{}", x.mode),
            prog_id: x.id,
            name: prog_name(x.id),
            detail: String::new(),
        });
    }
    for t in &doc.tc {
        let id = t.id.or(t.prog_id).unwrap_or(0);
        let detail = match (t.slot, t.link_id) {
            (Some(s), _) => format!("prio {} handle {:#x}", s.priority, s.handle),
            (None, Some(l)) => format!("link id {l}"),
            _ => String::new(),
        };
        rows.push(NetRow {
            dev: format!("{}({})", t.devname, t.ifindex),
            attach: t.kind.clone(),
            prog_id: id,
            name: prog_name(id),
            detail,
        });
    }
    for f in &doc.flow_dissector {
        rows.push(NetRow {
            dev: "-".into(),
            attach: "flow_dissector".into(),
            prog_id: f.id,
            name: prog_name(f.id),
            detail: String::new(),
        });
    }
    for n in &doc.netfilter {
        rows.push(NetRow {
            dev: "-".into(),
            attach: "netfilter".into(),
            prog_id: n.id,
            name: prog_name(n.id),
            detail: format!("pf {} hook {} prio {}", n.pf, n.hook, n.prio),
        });
    }
    rows
}

pub fn show(words: &[String], netns: Option<&str>, out: &mut Output) -> Result<()> {
    let dev = words::show(words)?;
    let doc = {
        let _ns = match netns {
            Some(n) => Some(NetnsGuard::enter(n)?),
            None => None,
        };
        collect(dev.as_deref())?
    };
    if out.is_json() {
        out.json(&[doc])?;
    } else {
        out.list(&rows(&doc))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_records_keep_bpftool_json() {
        let doc = NetDoc {
            xdp: Vec::new(),
            tc: Vec::new(),
            flow_dissector: vec![FlowDissectorRecord { id: 3 }],
            netfilter: vec![NetfilterRecord {
                pf: 2,
                hook: 1,
                prio: -128,
                flags: 0,
                id: 9,
            }],
        };
        assert_eq!(
            serde_json::to_string(&doc).unwrap_or_default(),
            r#"{"xdp":[],"tc":[],"flow_dissector":[{"id":3}],"netfilter":[{"pf":2,"hook":1,"prio":-128,"flags":0,"id":9}]}"#
        );
    }
}
