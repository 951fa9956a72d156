// `cgroup attach` and `cgroup detach`: a program on a cgroup v2 directory, the classic way
// (BPF_PROG_ATTACH with multi / override / replace) or as a pinned link (--link).

use std::os::fd::AsFd;

use anyhow::Result;

use crate::bpf::cgroup::{self as cg, Cgroup};
use crate::bpf::{self, bpffs, link_pin, Kind};
use crate::cli::{CgroupAttachArgs, Globals};
use crate::cmd::attach::default_link_pin;
use crate::error::{hinted, usage};
use crate::grammar::words::{CgroupAttachFlag, CgroupAttachType, Word};
use crate::grammar::{self, Matches};
use crate::handle::{self, Resolved};
use crate::output::Output;

/// The parts both verbs read: the cgroup, the attach type and the program.
struct Target {
    cgroup: Cgroup,
    attach_type: CgroupAttachType,
    prog: Resolved,
    prog_name: String,
}

fn target(m: &Matches, verb: &str) -> Result<Target> {
    let path = m
        .path("CGROUP")
        .ok_or_else(|| usage(format!("cgroup {verb}: expected CGROUP")))?;
    let attach_type = m
        .choice::<CgroupAttachType>("ATTACH_TYPE")?
        .ok_or_else(|| usage(format!("cgroup {verb}: expected ATTACH_TYPE")))?;
    let handle = m
        .handle("PROG")?
        .ok_or_else(|| usage(format!("cgroup {verb}: expected PROG")))?;
    let cgroup = cg::open(&path)?;
    let prog = handle::resolve_one(Kind::Prog, &handle)?;
    let info = bpf::prog::info(prog.fd.as_fd())?;
    let want = attach_type.prog_type();
    if verb == "attach" && info.type_name != want {
        return Err(hinted(
            format!(
                "program {} (id {}) is of type {}, which cannot attach as {}",
                info.name,
                info.id,
                info.type_name,
                attach_type.word()
            ),
            format!(
                "{} takes a program of type {want} (e.g. section \"{}\")",
                attach_type.word(),
                section_example(attach_type)
            ),
        ));
    }
    Ok(Target {
        cgroup,
        attach_type,
        prog,
        prog_name: info.name,
    })
}

/// The libbpf section name that loads a program for `t`.
fn section_example(t: CgroupAttachType) -> &'static str {
    use CgroupAttachType::*;
    match t {
        Ingress => "cgroup_skb/ingress",
        Egress => "cgroup_skb/egress",
        SockCreate => "cgroup/sock_create",
        SockRelease => "cgroup/sock_release",
        SockOps => "sockops",
        Device => "cgroup/dev",
        Bind4 => "cgroup/bind4",
        Bind6 => "cgroup/bind6",
        Connect4 => "cgroup/connect4",
        Connect6 => "cgroup/connect6",
        PostBind4 => "cgroup/post_bind4",
        PostBind6 => "cgroup/post_bind6",
        Sendmsg4 => "cgroup/sendmsg4",
        Sendmsg6 => "cgroup/sendmsg6",
        Recvmsg4 => "cgroup/recvmsg4",
        Recvmsg6 => "cgroup/recvmsg6",
        Sysctl => "cgroup/sysctl",
        Getsockopt => "cgroup/getsockopt",
        Setsockopt => "cgroup/setsockopt",
        Getpeername4 => "cgroup/getpeername4",
        Getpeername6 => "cgroup/getpeername6",
        Getsockname4 => "cgroup/getsockname4",
        Getsockname6 => "cgroup/getsockname6",
        LsmCgroup => "lsm_cgroup/FUNC",
        UnixConnect => "cgroup/connect_unix",
        UnixSendmsg => "cgroup/sendmsg_unix",
        UnixRecvmsg => "cgroup/recvmsg_unix",
        UnixGetpeername => "cgroup/getpeername_unix",
        UnixGetsockname => "cgroup/getsockname_unix",
    }
}

pub fn attach(args: &CgroupAttachArgs, g: &Globals, out: &mut Output) -> Result<()> {
    let m = grammar::parse("cgroup", "attach", &args.words)?;
    let flag = m.which("ATTACH_FLAGS").map(|o| o.slot.name);
    if args.link && flag.is_some() {
        return Err(usage(
            "--link: multi, override and replace are for classic attachments (links always share the hook)",
        ));
    }
    let t = target(&m, "attach")?;
    let what = format!(
        "program {} (id {}) on cgroup {} as {}",
        t.prog_name,
        t.prog.id,
        t.cgroup.path.display(),
        t.attach_type.word()
    );
    if args.link {
        return attach_link(&t, args, g, out, &what);
    }
    let replace = match m.handle("replace")? {
        Some(h) => Some(handle::resolve_one(Kind::Prog, &h)?),
        None => None,
    };
    let flags = match flag {
        Some(w) if w == CgroupAttachFlag::Multi.word() => libbpf_sys::BPF_F_ALLOW_MULTI,
        Some(w) if w == CgroupAttachFlag::Override.word() => libbpf_sys::BPF_F_ALLOW_OVERRIDE,
        Some(_) => libbpf_sys::BPF_F_ALLOW_MULTI, // replace works in a multi list
        None => 0,
    };
    cg::prog_attach(
        t.prog.fd.as_fd(),
        Some(t.cgroup.dir.as_fd()),
        t.attach_type.code(),
        flags,
        replace.as_ref().map(|r| r.fd.as_fd()),
    )
    .map_err(|e| attach_error(e, &t, &what, replace.as_ref().map(|r| r.id)))?;
    out.done(Some(&format!("attached {what}")))?;
    Ok(())
}

fn attach_link(
    t: &Target,
    args: &CgroupAttachArgs,
    g: &Globals,
    out: &mut Output,
    what: &str,
) -> Result<()> {
    bpffs::ensure_mounted(g.nomount)?;
    let pin = match &args.pin {
        Some(p) => p.clone(),
        None => default_link_pin(&handle::Handle::Id(t.prog.id), t.prog.id)?,
    };
    bpffs::check_pin_path(&pin)?;
    // Until the link is pinned this fd is its only holder: an error drops it, which
    // detaches the program again.
    let link = bpf::attach::link_create(
        t.prog.fd.as_fd(),
        std::os::fd::AsRawFd::as_raw_fd(&t.cgroup.dir),
        t.attach_type.code(),
    )
    .map_err(|e| attach_error(e, t, what, None))?;
    link_pin::pin(link.as_fd(), &pin)?;
    let link_id = bpf::fdinfo_field(link.as_fd(), "link_id").unwrap_or_default();
    out.done(Some(&format!(
        "attached {what}: link id {link_id} pinned at {}",
        pin.display()
    )))?;
    Ok(())
}

fn attach_error(e: std::io::Error, t: &Target, what: &str, replace: Option<u32>) -> anyhow::Error {
    let cgroup = t.cgroup.path.display();
    let word = t.attach_type.word();
    match e.raw_os_error() {
        Some(libc::EPERM) if bpf::caps::missing_hint().is_none() => hinted(
            format!("attaching {what}: the kernel refused (EPERM): the hook is taken without `multi`, or with other flags"),
            format!("see what is there: rbt cgroup show {cgroup}; attach with the flags it has (multi, override), or detach it first"),
        ),
        Some(libc::EEXIST) => hinted(
            format!("attaching {what}: the program is already attached there"),
            format!("rbt cgroup show {cgroup}"),
        ),
        Some(libc::ENOENT) if replace.is_some() => hinted(
            format!("attaching {what}: program id {} is not attached there to replace", replace.unwrap_or_default()),
            format!("rbt cgroup show {cgroup}"),
        ),
        Some(libc::EINVAL) if replace.is_some() => hinted(
            format!("attaching {what}: the kernel refused to replace program id {} (EINVAL)", replace.unwrap_or_default()),
            format!("replace takes a program attached there the classic way with `multi`: rbt cgroup show {cgroup}"),
        ),
        Some(libc::EINVAL) => hinted(
            format!("attaching {what}: the kernel refused (EINVAL)"),
            format!("the program must be loaded for {word} (section \"{}\")", section_example(t.attach_type)),
        ),
        _ => bpf::kernel_error(e, format!("attaching {what}")),
    }
}

pub fn detach(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("cgroup", "detach", words)?;
    let t = target(&m, "detach")?;
    let what = format!(
        "program {} (id {}) from cgroup {} as {}",
        t.prog_name,
        t.prog.id,
        t.cgroup.path.display(),
        t.attach_type.word()
    );
    let code = t.attach_type.code();
    match cg::prog_detach(t.prog.fd.as_fd(), Some(t.cgroup.dir.as_fd()), code) {
        Ok(()) => {
            out.done(Some(&format!("detached {what}")))?;
            return Ok(());
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(bpf::kernel_error(e, format!("detaching {what}"))),
    }
    // Not a classic attachment: a link of this cgroup may hold it.
    let links = cg::links();
    let Some(link_id) = links
        .get(&(t.cgroup.id, code, t.prog.id))
        .and_then(|l| l.first().copied())
    else {
        return Err(hinted(
            format!("{what}: not attached"),
            format!(
                "see what is attached: rbt cgroup show {}",
                t.cgroup.path.display()
            ),
        ));
    };
    let link = bpf::fd_by_id(Kind::Link, link_id)?;
    bpf::link::detach(link.as_fd())
        .map_err(|e| bpf::kernel_error(e, format!("detaching link id {link_id}")))?;
    let pins = link_pin::unpin_all_of(link_id);
    let pins: Vec<String> = pins.iter().map(|p| p.display().to_string()).collect();
    let unpinned = if pins.is_empty() {
        String::new()
    } else {
        format!(", unpinned {}", pins.join(", "))
    };
    out.done(Some(&format!(
        "detached {what} (link id {link_id}{unpinned})"
    )))?;
    Ok(())
}
