// The probes bpftool does not make, each a real load, attach or map operation (never a
// version number): kprobes, BPF trampolines, tcx, netkit, uprobe_multi, ringbuf, batch map
// operations, a few more link types, and the attach types a program load checks.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use super::attach;
use super::map::{Batch, MapFd};
use super::probe::{self, Insn, Load, RETURN_0};
use crate::grammar::words::UpdateFlag;

/// The name of every program the live probes load (to tell them apart in `prog show`).
pub const PROBE_NAME: &std::ffi::CStr = c"rbt_probe";

/// What one live probe found: whether it worked, and what it did or why it failed.
#[derive(Debug, Clone)]
pub struct Check {
    pub available: bool,
    pub detail: String,
}

fn works(detail: impl Into<String>) -> Check {
    Check {
        available: true,
        detail: detail.into(),
    }
}

fn fails(step: &str, err: impl std::fmt::Display) -> Check {
    Check {
        available: false,
        detail: format!("{step}: {err}"),
    }
}

fn errno_text(e: &io::Error) -> String {
    let code = e.raw_os_error().unwrap_or(0);
    format!("{} ({e})", super::errno_name(code))
}

fn load_as(prog_type: u32, expected_attach_type: u32) -> io::Result<OwnedFd> {
    let how = Load {
        name: Some(PROBE_NAME),
        prog_type,
        expected_attach_type,
        ..Load::default()
    };
    probe::load(how, &RETURN_0, None)
}

/// Kernel functions a probe attaches to, the first that exists is used.
const TARGET_FUNCS: &[&str] = &["vfs_read", "ksys_read", "do_sys_openat2"];

/// kprobe: load a kprobe program and attach it to a kernel function through the kprobe PMU.
pub fn kprobes() -> Check {
    let prog = match load_as(libbpf_sys::BPF_PROG_TYPE_KPROBE, 0) {
        Ok(p) => p,
        Err(e) => return fails("loading a kprobe program", errno_text(&e)),
    };
    if attach::pmu_type("kprobe").is_none() {
        return fails(
            "opening a kprobe",
            "no kprobe PMU (/sys/bus/event_source/devices/kprobe): CONFIG_KPROBE_EVENTS is off",
        );
    }
    let mut last = String::new();
    for func in TARGET_FUNCS {
        match attach::open_kprobe(func, 0, false) {
            Ok(event) => {
                return match attach::perf_link(prog.as_fd(), event.as_fd()) {
                    Ok(_) => works(format!("attached a kprobe program to {func}")),
                    Err(e) => fails(&format!("attaching to kprobe {func}"), errno_text(&e)),
                }
            }
            Err(e) => last = format!("opening kprobe {func}: {}", errno_text(&e)),
        }
    }
    fails("kprobe", last)
}

/// fentry: load a tracing program for a kernel function's BTF id and attach it, which
/// needs a BPF trampoline.
pub fn trampoline() -> Check {
    for func in TARGET_FUNCS {
        let name = CString::new(*func).unwrap_or_default();
        // SAFETY: `name` is a C string alive for the call.
        let id = unsafe {
            libbpf_sys::libbpf_find_vmlinux_btf_id(name.as_ptr(), libbpf_sys::BPF_TRACE_FENTRY)
        };
        if id <= 0 {
            continue;
        }
        let how = Load {
            name: Some(PROBE_NAME),
            prog_type: libbpf_sys::BPF_PROG_TYPE_TRACING,
            expected_attach_type: libbpf_sys::BPF_TRACE_FENTRY,
            attach_btf_id: id as u32,
            ..Load::default()
        };
        // A refused load is about fentry, not the function: one is enough.
        let prog = match probe::load(how, &RETURN_0, None) {
            Ok(p) => p,
            Err(e) => return fails(&format!("loading fentry/{func}"), errno_text(&e)),
        };
        return match attach::raw_tracepoint(prog.as_fd(), None) {
            Ok(_) => works(format!("attached fentry/{func}")),
            Err(e) => fails(&format!("attaching fentry/{func}"), errno_text(&e)),
        };
    }
    fails("fentry", "no target function in vmlinux BTF")
}

/// uprobe_multi: a uprobe_multi link on this process's own entry point, for this process.
pub fn uprobe_multi() -> Check {
    let prog = match load_as(
        libbpf_sys::BPF_PROG_TYPE_KPROBE,
        libbpf_sys::BPF_TRACE_UPROBE_MULTI,
    ) {
        Ok(p) => p,
        Err(e) => return fails("loading a uprobe_multi program", errno_text(&e)),
    };
    let exe = Path::new("/proc/self/exe");
    let offset = match entry_offset(exe) {
        Some(o) => o,
        None => return fails("uprobe_multi", "cannot find this program's entry point"),
    };
    let pid = std::process::id() as i32;
    match super::usdt::uprobe_multi_link(prog.as_fd(), exe, &[(offset, 0, 0)], Some(pid)) {
        Ok(_) => works("attached a uprobe_multi link to rbt's own entry point"),
        Err(e) => fails("creating a uprobe_multi link", errno_text(&e)),
    }
}

/// The file offset of a 64-bit little-endian ELF file's entry point, from its header and
/// program headers only (the first 64 KiB).
fn entry_offset(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 << 10);
    std::fs::File::open(path)
        .ok()?
        .take(64 << 10)
        .read_to_end(&mut head)
        .ok()?;
    let u16_at = |o: usize| Some(u16::from_le_bytes(head.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(head.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(head.get(o..o + 8)?.try_into().ok()?));
    if head.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let entry = u64_at(0x18)?;
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let (phentsize, phnum) = (usize::from(u16_at(0x36)?), usize::from(u16_at(0x38)?));
    (0..phnum).find_map(|i| {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        const PT_LOAD: u32 = 1;
        if u32_at(ph)? != PT_LOAD {
            return None;
        }
        let (offset, vaddr, filesz) = (u64_at(ph + 8)?, u64_at(ph + 16)?, u64_at(ph + 32)?);
        (entry >= vaddr && entry - vaddr < filesz).then(|| entry - vaddr + offset)
    })
}

/// ringbuf: create a BPF ring buffer and load a program that writes to it.
pub fn ringbuf() -> Check {
    let page = 4096;
    let map = match probe::create_map(libbpf_sys::BPF_MAP_TYPE_RINGBUF, 0, 0, page) {
        Ok(m) => m,
        Err(e) => return fails("creating a ringbuf map", errno_text(&e)),
    };
    // r1 = map (ld_imm64 pseudo map fd); r2 = r10 - 8 after *(u64 *)(r10 - 8) = 0;
    // r3 = 8; r4 = 0; call bpf_ringbuf_output; exit.
    let fd = map.as_raw_fd();
    let insns = [
        Insn::raw(0x7a, 0xa, -8, 0), // *(u64 *)(r10 - 8) = 0
        Insn::raw(0x18, 0x1 | (1 << 4), 0, fd),
        Insn::raw(0, 0, 0, 0),
        Insn::raw(0xbf, 0x2 | (0xa << 4), 0, 0), // r2 = r10
        Insn::raw(0x07, 0x2, 0, -8),             // r2 += -8
        Insn::mov64_imm(3, 8),
        Insn::mov64_imm(4, 0),
        Insn::call(libbpf_sys::BPF_FUNC_ringbuf_output as i32),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    let how = Load {
        name: Some(PROBE_NAME),
        prog_type: libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER,
        ..Load::default()
    };
    match probe::load(how, &insns, None) {
        Ok(_) => works("created a ringbuf map and loaded a program that outputs to it"),
        Err(e) => fails("loading a program using bpf_ringbuf_output", errno_text(&e)),
    }
}

/// Batch operations: a hash map with one element read back with BPF_MAP_LOOKUP_BATCH.
pub fn batch_ops() -> Check {
    let fd = match probe::create_map(libbpf_sys::BPF_MAP_TYPE_HASH, 4, 4, 4) {
        Ok(m) => m,
        Err(e) => return fails("creating a hash map", errno_text(&e)),
    };
    let map = match MapFd::new(fd) {
        Ok(m) => m,
        Err(e) => return fails("reading the map's info", format!("{e:#}")),
    };
    if let Err(e) = map.update(Some(&[1, 0, 0, 0]), &[2, 0, 0, 0], UpdateFlag::Any) {
        return fails("updating the map", format!("{e:#}"));
    }
    let (mut token, mut keys, mut values) = ([0u8; 4], [0u8; 16], [0u8; 16]);
    match map.lookup_batch(None, &mut token, &mut keys, &mut values, 4) {
        Ok(Batch::End(1) | Batch::More(1)) => works("BPF_MAP_LOOKUP_BATCH read a hash map"),
        Ok(Batch::Unsupported) => fails("BPF_MAP_LOOKUP_BATCH", "EINVAL (not supported)"),
        Ok(other) => fails(
            "BPF_MAP_LOOKUP_BATCH",
            format!("unexpected answer {other:?}"),
        ),
        Err(e) => fails("BPF_MAP_LOOKUP_BATCH", format!("{e:#}")),
    }
}

/// raw_tracepoint: a raw tracepoint link on sys_enter.
pub fn raw_tracepoint_link() -> Check {
    let prog = match load_as(libbpf_sys::BPF_PROG_TYPE_RAW_TRACEPOINT, 0) {
        Ok(p) => p,
        Err(e) => return fails("loading a raw_tracepoint program", errno_text(&e)),
    };
    match attach::raw_tracepoint(prog.as_fd(), Some("sys_enter")) {
        Ok(_) => works("attached raw_tracepoint/sys_enter"),
        Err(e) => fails("attaching raw_tracepoint/sys_enter", errno_text(&e)),
    }
}

/// kprobe_multi: a kprobe_multi link on a kernel function.
pub fn kprobe_multi_link() -> Check {
    let prog = match load_as(
        libbpf_sys::BPF_PROG_TYPE_KPROBE,
        libbpf_sys::BPF_TRACE_KPROBE_MULTI,
    ) {
        Ok(p) => p,
        Err(e) => return fails("loading a kprobe_multi program", errno_text(&e)),
    };
    let name = CString::new(TARGET_FUNCS[0]).unwrap_or_default();
    let mut syms = [name.as_ptr()];
    // SAFETY: bpf_link_create_opts is plain data; all-zero is its default.
    let mut opts: libbpf_sys::bpf_link_create_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _;
    opts.__bindgen_anon_1.kprobe_multi =
        libbpf_sys::bpf_link_create_opts__bindgen_ty_1__bindgen_ty_2 {
            flags: 0,
            cnt: 1,
            syms: syms.as_mut_ptr(),
            addrs: std::ptr::null(),
            cookies: std::ptr::null(),
        };
    // SAFETY: `prog` is live; `opts` is initialised with its size and its one symbol
    // pointer points at a C string; both outlive the call.
    let fd = unsafe {
        libbpf_sys::bpf_link_create(
            prog.as_raw_fd(),
            0,
            libbpf_sys::BPF_TRACE_KPROBE_MULTI,
            &opts,
        )
    };
    match probe::owned_fd(fd) {
        Ok(_) => works(format!("attached kprobe_multi to {}", TARGET_FUNCS[0])),
        Err(e) => fails("creating a kprobe_multi link", errno_text(&e)),
    }
}

/// Run `probe` on the loopback device of a private network namespace, made on a thread
/// of its own (unshare acts per thread) and gone when that thread ends.
fn in_private_netns(probe: fn(i32) -> Check) -> Check {
    let run = move || match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        Ok(()) => probe(1), // the loopback device of a new namespace is ifindex 1
        Err(e) => fails("creating a private network namespace", e),
    };
    std::thread::scope(|s| s.spawn(run).join())
        .unwrap_or_else(|_| fails("network probe", "the probe thread panicked"))
}

/// tcx: a tcx_ingress link on lo in a private network namespace.
pub fn tcx() -> Check {
    in_private_netns(|lo| sched_cls_link(lo, libbpf_sys::BPF_TCX_INGRESS, "tcx_ingress"))
}

/// netkit: a netkit pair in a private network namespace, and a netkit link on it.
pub fn netkit() -> Check {
    in_private_netns(netkit_on)
}

/// xdp: an XDP link on lo in a private network namespace.
pub fn xdp() -> Check {
    in_private_netns(xdp_link)
}

fn sched_cls_link(ifindex: i32, attach_type: u32, what: &str) -> Check {
    let prog = match load_as(libbpf_sys::BPF_PROG_TYPE_SCHED_CLS, attach_type) {
        Ok(p) => p,
        Err(e) => return fails(&format!("loading a {what} program"), errno_text(&e)),
    };
    match attach::link_create(prog.as_fd(), ifindex, attach_type) {
        Ok(_) => works(format!(
            "attached a {what} link to lo in a private network namespace"
        )),
        Err(e) => fails(&format!("creating a {what} link"), errno_text(&e)),
    }
}

/// netkit: create a netkit pair (rtnetlink RTM_NEWLINK, kind "netkit") and attach a
/// program to its primary device with a netkit link.
fn netkit_on(_lo: i32) -> Check {
    const NAME: &str = "rbtnk0";
    if let Err(e) = create_netkit(NAME) {
        let why = if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
            format!("{}: no netkit driver in this kernel", errno_text(&e))
        } else {
            errno_text(&e)
        };
        return fails("creating a netkit device (rtnetlink)", why);
    }
    let ifindex = match nix::net::if_::if_nametoindex(NAME) {
        Ok(i) => i as i32,
        Err(e) => return fails("finding the netkit device", e),
    };
    let prog = match load_as(
        libbpf_sys::BPF_PROG_TYPE_SCHED_CLS,
        libbpf_sys::BPF_NETKIT_PRIMARY,
    ) {
        Ok(p) => p,
        Err(e) => return fails("loading a netkit program", errno_text(&e)),
    };
    match attach::link_create(prog.as_fd(), ifindex, libbpf_sys::BPF_NETKIT_PRIMARY) {
        Ok(_) => works("attached a netkit link to a netkit device in a private network namespace"),
        Err(e) => fails("creating a netkit link", errno_text(&e)),
    }
}

/// Create a netkit pair named `name` (the peer gets a kernel-chosen name) in this thread's
/// network namespace, and wait for the kernel's answer.
fn create_netkit(name: &str) -> io::Result<()> {
    use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol};
    const RTM_NEWLINK: u16 = 16;
    const FLAGS: u16 = 0x1 | 0x4 | 0x200 | 0x400; // REQUEST | ACK | EXCL | CREATE
    const IFLA_IFNAME: u16 = 3;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_INFO_KIND: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    let attr = |kind: u16, payload: &[u8]| -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(payload);
        a.resize(a.len().div_ceil(4) * 4, 0);
        a
    };
    let mut body = vec![0u8; 16]; // struct ifinfomsg, all zero
    body.extend(attr(IFLA_IFNAME, format!("{name}\0").as_bytes()));
    body.extend(attr(IFLA_LINKINFO, &attr(IFLA_INFO_KIND, b"netkit\0")));
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&FLAGS.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
    msg.extend(body);
    let sock = socket::socket(
        AddressFamily::Netlink,
        socket::SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(io::Error::from)?;
    socket::sendto(
        sock.as_raw_fd(),
        &msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let mut reply = [0u8; 1024];
    let n =
        socket::recv(sock.as_raw_fd(), &mut reply, MsgFlags::empty()).map_err(io::Error::from)?;
    let kind = reply.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let code = reply
        .get(16..20)
        .filter(|_| n >= 20)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    match (kind, code) {
        (Some(NLMSG_ERROR), Some(0)) => Ok(()),
        (Some(NLMSG_ERROR), Some(err)) => Err(io::Error::from_raw_os_error(-err)),
        _ => Err(io::Error::other("unexpected rtnetlink answer")),
    }
}

fn xdp_link(ifindex: i32) -> Check {
    let prog = match load_as(libbpf_sys::BPF_PROG_TYPE_XDP, libbpf_sys::BPF_XDP) {
        Ok(p) => p,
        Err(e) => return fails("loading an XDP program", errno_text(&e)),
    };
    match attach::link_create(prog.as_fd(), ifindex, libbpf_sys::BPF_XDP) {
        Ok(_) => works("attached an XDP link to lo in a private network namespace"),
        Err(e) => fails("creating an XDP link", errno_text(&e)),
    }
}

/// Program types whose load checks the expected attach type, so that a load answers
/// whether the kernel knows the attach type.
const CHECKED_AT_LOAD: &[(u32, &[&str])] = &[
    (
        libbpf_sys::BPF_PROG_TYPE_CGROUP_SKB,
        &["cgroup_inet_ingress", "cgroup_inet_egress"],
    ),
    (
        libbpf_sys::BPF_PROG_TYPE_CGROUP_SOCK,
        &[
            "cgroup_inet_sock_create",
            "cgroup_inet_sock_release",
            "cgroup_inet4_post_bind",
            "cgroup_inet6_post_bind",
        ],
    ),
    (
        libbpf_sys::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
        &[
            "cgroup_inet4_bind",
            "cgroup_inet6_bind",
            "cgroup_inet4_connect",
            "cgroup_inet6_connect",
            "cgroup_udp4_sendmsg",
            "cgroup_udp6_sendmsg",
            "cgroup_udp4_recvmsg",
            "cgroup_udp6_recvmsg",
            "cgroup_inet4_getpeername",
            "cgroup_inet6_getpeername",
            "cgroup_inet4_getsockname",
            "cgroup_inet6_getsockname",
            "cgroup_unix_connect",
            "cgroup_unix_sendmsg",
            "cgroup_unix_recvmsg",
            "cgroup_unix_getpeername",
            "cgroup_unix_getsockname",
        ],
    ),
    (
        libbpf_sys::BPF_PROG_TYPE_CGROUP_SOCKOPT,
        &["cgroup_getsockopt", "cgroup_setsockopt"],
    ),
    (libbpf_sys::BPF_PROG_TYPE_SK_LOOKUP, &["sk_lookup"]),
    (
        libbpf_sys::BPF_PROG_TYPE_SK_REUSEPORT,
        &["sk_reuseport_select", "sk_reuseport_select_or_migrate"],
    ),
    (libbpf_sys::BPF_PROG_TYPE_NETFILTER, &["netfilter"]),
];

/// The attach types whose support a program load answers, each with the answer.
pub fn attach_types_by_load() -> Vec<(&'static str, bool)> {
    let known = probe::attach_types();
    let mut out = Vec::new();
    for (prog_type, names) in CHECKED_AT_LOAD {
        for name in *names {
            if let Some((t, n)) = known.iter().find(|(_, n)| n == name) {
                out.push((*n, load_as(*prog_type, *t).is_ok()));
            }
        }
    }
    out
}
