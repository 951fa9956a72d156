// Network attachments in the kernel: XDP through netlink (bpf_xdp_attach with mode flags and
// XDP_FLAGS_REPLACE), classic TC on clsact (bpf_tc_*), tcx (bpf_prog_attach_opts), and
// bpf_links for XDP and tcx; plus the interface name <-> index lookups they need.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};

use super::{errno, kernel_error};

pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = libbpf_sys::XDP_FLAGS_UPDATE_IF_NOEXIST;
pub const XDP_FLAGS_SKB_MODE: u32 = libbpf_sys::XDP_FLAGS_SKB_MODE;
pub const XDP_FLAGS_DRV_MODE: u32 = libbpf_sys::XDP_FLAGS_DRV_MODE;
pub const XDP_FLAGS_HW_MODE: u32 = libbpf_sys::XDP_FLAGS_HW_MODE;
pub const XDP_FLAGS_REPLACE: u32 = libbpf_sys::XDP_FLAGS_REPLACE;
pub const BPF_F_BEFORE: u32 = libbpf_sys::BPF_F_BEFORE;
pub const BPF_F_AFTER: u32 = libbpf_sys::BPF_F_AFTER;

/// The interface index of `name` in the current network namespace.
pub fn ifindex(name: &str) -> Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(|e| {
        if e == nix::errno::Errno::ENODEV {
            anyhow::anyhow!("no interface named `{name}` in this network namespace")
        } else {
            anyhow::anyhow!("looking up interface `{name}`: {e}")
        }
    })
}

/// Every interface of the current network namespace as (ifindex, name), by ifindex.
pub fn interfaces() -> Result<Vec<(u32, String)>> {
    let list = nix::net::if_::if_nameindex().context("listing network interfaces")?;
    let mut all: Vec<(u32, String)> = list
        .iter()
        .map(|i| (i.index(), i.name().to_string_lossy().into_owned()))
        .collect();
    all.sort();
    Ok(all)
}

/// The XDP programs attached to one interface, by mode (0 = none).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct XdpState {
    pub skb: u32,
    pub drv: u32,
    pub hw: u32,
}

/// Which XDP programs an interface has (netlink query, as bpftool does).
pub fn xdp_query(ifindex: u32) -> Result<XdpState> {
    let mut opts = libbpf_sys::bpf_xdp_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_query_opts>() as _,
        ..Default::default()
    };
    // SAFETY: `opts` is a valid, sized bpf_xdp_query_opts that outlives the call.
    let ret = unsafe { libbpf_sys::bpf_xdp_query(ifindex as i32, 0, &mut opts) };
    if ret != 0 {
        return Err(kernel_error(
            errno(ret),
            format!("querying XDP on ifindex {ifindex}"),
        ));
    }
    Ok(XdpState {
        skb: opts.skb_prog_id,
        drv: opts.drv_prog_id,
        hw: opts.hw_prog_id,
    })
}

/// The attach options and flags for an XDP change: with `old`, the kernel checks (under
/// XDP_FLAGS_REPLACE) that `old` is still the attached program.
fn replace_opts(flags: u32, old: Option<BorrowedFd<'_>>) -> (libbpf_sys::bpf_xdp_attach_opts, u32) {
    let opts = libbpf_sys::bpf_xdp_attach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_attach_opts>() as _,
        old_prog_fd: old.map_or(-1, |f| f.as_raw_fd()),
        ..Default::default()
    };
    match old {
        Some(_) => (opts, flags | XDP_FLAGS_REPLACE),
        None => (opts, flags),
    }
}

/// Attach `prog` to `ifindex` with XDP `flags`; with `old`, the kernel checks (under
/// XDP_FLAGS_REPLACE) that `old` is the program it replaces. Returns the raw errno on failure
/// so the caller can explain it.
pub fn xdp_attach(
    ifindex: u32,
    prog: BorrowedFd<'_>,
    flags: u32,
    old: Option<BorrowedFd<'_>>,
) -> std::result::Result<(), std::io::Error> {
    let (opts, flags) = replace_opts(flags, old);
    // SAFETY: `opts` is a valid, sized bpf_xdp_attach_opts; the fds are live.
    let ret = unsafe { libbpf_sys::bpf_xdp_attach(ifindex as i32, prog.as_raw_fd(), flags, &opts) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// Detach the XDP program of mode `flags` from `ifindex`; with `old`, only if it is still
/// the attached one (XDP_FLAGS_REPLACE).
pub fn xdp_detach(
    ifindex: u32,
    flags: u32,
    old: Option<BorrowedFd<'_>>,
) -> std::result::Result<(), std::io::Error> {
    let (opts, flags) = replace_opts(flags, old);
    // SAFETY: `opts` is a valid, sized bpf_xdp_attach_opts; the fd is live.
    let ret = unsafe { libbpf_sys::bpf_xdp_detach(ifindex as i32, flags, &opts) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// Which side of the interface a TC or tcx program sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn word(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    fn tc_point(self) -> libbpf_sys::bpf_tc_attach_point {
        match self {
            Direction::Ingress => libbpf_sys::BPF_TC_INGRESS,
            Direction::Egress => libbpf_sys::BPF_TC_EGRESS,
        }
    }

    fn tcx_type(self) -> libbpf_sys::bpf_attach_type {
        match self {
            Direction::Ingress => libbpf_sys::BPF_TCX_INGRESS,
            Direction::Egress => libbpf_sys::BPF_TCX_EGRESS,
        }
    }
}

fn tc_hook(ifindex: u32, point: libbpf_sys::bpf_tc_attach_point) -> libbpf_sys::bpf_tc_hook {
    libbpf_sys::bpf_tc_hook {
        sz: std::mem::size_of::<libbpf_sys::bpf_tc_hook>() as _,
        ifindex: ifindex as i32,
        attach_point: point,
        parent: 0,
        handle: 0,
        qdisc: std::ptr::null(),
    }
}

/// Create the clsact qdisc on `ifindex`. Returns true when rbt created it, false when it
/// was there already.
pub fn clsact_create(ifindex: u32) -> Result<bool> {
    let mut hook = tc_hook(ifindex, libbpf_sys::BPF_TC_INGRESS);
    // SAFETY: `hook` is a valid, sized bpf_tc_hook that outlives the call.
    let ret = unsafe { libbpf_sys::bpf_tc_hook_create(&mut hook) };
    match ret {
        0 => Ok(true),
        r if r == -libc::EEXIST => Ok(false),
        r => Err(kernel_error(
            errno(r),
            format!("creating the clsact qdisc on ifindex {ifindex}"),
        )),
    }
}

/// Remove the clsact qdisc (and every filter on it) from `ifindex`.
pub fn clsact_destroy(ifindex: u32) -> Result<()> {
    let mut hook = tc_hook(
        ifindex,
        libbpf_sys::BPF_TC_INGRESS | libbpf_sys::BPF_TC_EGRESS,
    );
    // SAFETY: `hook` is a valid, sized bpf_tc_hook that outlives the call.
    let ret = unsafe { libbpf_sys::bpf_tc_hook_destroy(&mut hook) };
    if ret != 0 && ret != -libc::ENOENT {
        return Err(kernel_error(
            errno(ret),
            format!("removing the clsact qdisc from ifindex {ifindex}"),
        ));
    }
    Ok(())
}

/// Where a classic TC filter sits: its priority and handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcSlot {
    pub priority: u32,
    pub handle: u32,
}

fn tc_opts(prog_fd: i32, slot: TcSlot, flags: u32) -> libbpf_sys::bpf_tc_opts {
    libbpf_sys::bpf_tc_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_tc_opts>() as _,
        prog_fd,
        flags,
        prog_id: 0,
        handle: slot.handle,
        priority: slot.priority,
        ..Default::default()
    }
}

/// Attach a direct-action bpf filter; priority/handle 0 let the kernel choose. `replace`
/// replaces the filter in the same slot. Returns the slot used.
pub fn tc_attach(
    ifindex: u32,
    dir: Direction,
    prog: BorrowedFd<'_>,
    slot: TcSlot,
    replace: bool,
) -> std::result::Result<TcSlot, std::io::Error> {
    let hook = tc_hook(ifindex, dir.tc_point());
    let flags = if replace {
        libbpf_sys::BPF_TC_F_REPLACE
    } else {
        0
    };
    let mut opts = tc_opts(prog.as_raw_fd(), slot, flags);
    // SAFETY: `hook` and `opts` are valid, sized structs that outlive the call.
    let ret = unsafe { libbpf_sys::bpf_tc_attach(&hook, &mut opts) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(TcSlot {
        priority: opts.priority,
        handle: opts.handle,
    })
}

/// Remove the filter in `slot`.
pub fn tc_detach(
    ifindex: u32,
    dir: Direction,
    slot: TcSlot,
) -> std::result::Result<(), std::io::Error> {
    let hook = tc_hook(ifindex, dir.tc_point());
    let opts = tc_opts(0, slot, 0);
    // SAFETY: `hook` and `opts` are valid, sized structs that outlive the call.
    let ret = unsafe { libbpf_sys::bpf_tc_detach(&hook, &opts) };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// One program in a tcx chain: its id, and the link holding it (0 when attached directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcxEntry {
    pub prog_id: u32,
    pub link_id: u32,
}

/// The tcx chain of one direction of `ifindex`, first to last. An interface without tcx
/// support gives an empty chain.
pub fn tcx_query(ifindex: u32, dir: Direction) -> Result<Vec<TcxEntry>> {
    let mut prog_ids = vec![0u32; 64];
    let mut link_ids = vec![0u32; 64];
    let mut opts = libbpf_sys::bpf_prog_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_query_opts>() as _,
        prog_ids: prog_ids.as_mut_ptr(),
        link_ids: link_ids.as_mut_ptr(),
        ..Default::default()
    };
    opts.__bindgen_anon_1.count = prog_ids.len() as u32;
    // SAFETY: the id arrays hold `count` u32s each and outlive the call.
    let ret = unsafe { libbpf_sys::bpf_prog_query_opts(ifindex as i32, dir.tcx_type(), &mut opts) };
    if ret != 0 {
        let err = errno(ret);
        if matches!(
            err.raw_os_error(),
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)
        ) {
            return Ok(Vec::new());
        }
        return Err(kernel_error(
            err,
            format!("querying tcx/{} on ifindex {ifindex}", dir.word()),
        ));
    }
    // SAFETY: the kernel wrote the count into the union's u32.
    let count = unsafe { opts.__bindgen_anon_1.count } as usize;
    Ok((0..count.min(prog_ids.len()))
        .map(|i| TcxEntry {
            prog_id: prog_ids[i],
            link_id: link_ids[i],
        })
        .collect())
}

/// Attach `prog` to the tcx chain; `flags` is 0, BPF_F_BEFORE or BPF_F_AFTER, `relative` the
/// program it is placed against (none with BPF_F_BEFORE = first in the chain).
pub fn tcx_attach(
    ifindex: u32,
    dir: Direction,
    prog: BorrowedFd<'_>,
    flags: u32,
    relative: Option<BorrowedFd<'_>>,
) -> std::result::Result<(), std::io::Error> {
    let opts = libbpf_sys::bpf_prog_attach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_attach_opts>() as _,
        flags,
        relative_fd: relative.map_or(0, |f| f.as_raw_fd()),
        ..Default::default()
    };
    // SAFETY: `opts` is a valid, sized bpf_prog_attach_opts; the fds are live.
    let ret = unsafe {
        libbpf_sys::bpf_prog_attach_opts(prog.as_raw_fd(), ifindex as i32, dir.tcx_type(), &opts)
    };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// Remove `prog` from the tcx chain.
pub fn tcx_detach(
    ifindex: u32,
    dir: Direction,
    prog: BorrowedFd<'_>,
) -> std::result::Result<(), std::io::Error> {
    let opts = libbpf_sys::bpf_prog_detach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_detach_opts>() as _,
        ..Default::default()
    };
    // SAFETY: `opts` is a valid, sized bpf_prog_detach_opts; the fd is live.
    let ret = unsafe {
        libbpf_sys::bpf_prog_detach_opts(prog.as_raw_fd(), ifindex as i32, dir.tcx_type(), &opts)
    };
    if ret != 0 {
        return Err(errno(ret));
    }
    Ok(())
}

/// What a bpf_link attaches to, for the link kinds `net` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkTarget {
    /// XDP with the mode flags (0, SKB, DRV or HW).
    Xdp(u32),
    /// tcx with BPF_F_BEFORE/BPF_F_AFTER flags.
    Tcx(Direction, u32),
}

/// Create a bpf_link attaching `prog` to `ifindex`.
pub fn link_create(
    ifindex: u32,
    prog: BorrowedFd<'_>,
    target: LinkTarget,
    relative: Option<BorrowedFd<'_>>,
) -> std::result::Result<OwnedFd, std::io::Error> {
    let mut opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    let attach_type = match target {
        LinkTarget::Xdp(mode) => {
            opts.flags = mode;
            libbpf_sys::BPF_XDP
        }
        LinkTarget::Tcx(dir, flags) => {
            opts.flags = flags;
            opts.__bindgen_anon_1.tcx =
                libbpf_sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_6 {
                    relative_fd: relative.map_or(0, |f| f.as_raw_fd() as u32),
                    ..Default::default()
                };
            dir.tcx_type()
        }
    };
    // SAFETY: `opts` is a valid, sized bpf_link_create_opts; the fds are live.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), ifindex as i32, attach_type, &opts)
    };
    if fd < 0 {
        return Err(errno(fd));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Detach a bpf_link from its hook (the link object lives on while fds or pins hold it).
pub fn link_detach(link: BorrowedFd<'_>) -> Result<()> {
    super::link::detach(link).map_err(|e| kernel_error(e, "detaching the link"))
}

pub use super::link::LINK_TYPE_XDP;

/// The flow dissector program of the current network namespace, if one is attached.
pub fn flow_dissector_id() -> Result<Option<u32>> {
    let ns = std::fs::File::open("/proc/thread-self/ns/net")
        .context("opening the current network namespace")?;
    let mut ids = [0u32; 4];
    let mut opts = libbpf_sys::bpf_prog_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_query_opts>() as _,
        prog_ids: ids.as_mut_ptr(),
        ..Default::default()
    };
    opts.__bindgen_anon_1.count = ids.len() as u32;
    // SAFETY: `ids` holds `count` u32s and outlives the call; the ns fd is live.
    let ret = unsafe {
        libbpf_sys::bpf_prog_query_opts(ns.as_raw_fd(), libbpf_sys::BPF_FLOW_DISSECTOR, &mut opts)
    };
    if ret != 0 {
        return Err(kernel_error(errno(ret), "querying the flow dissector"));
    }
    // SAFETY: the kernel wrote the count into the union's u32.
    let count = unsafe { opts.__bindgen_anon_1.count };
    Ok((count > 0).then_some(ids[0]))
}
