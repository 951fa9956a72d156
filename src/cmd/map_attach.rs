// `prog attach PROG ATTACH_TYPE MAP` and `prog detach PROG ATTACH_TYPE MAP`: bpftool's
// map-attached types (sk_msg / sk_skb programs on a sockmap or sockhash) and the flow
// dissector (on the current network namespace), attached the classic way (BPF_PROG_ATTACH).

use std::os::fd::{AsFd, OwnedFd};

use anyhow::Result;

use crate::bpf::{self, cgroup as k, Kind};
use crate::cli::AttachArgs;
use crate::error::{hinted, usage};
use crate::grammar::words::{MapAttachType, Word};
use crate::grammar::{self};
use crate::handle::{self, Handle, Resolved};
use crate::output::Output;

/// A resolved attachment: the program, and the fd it attaches to (a map or the netns).
struct Plan {
    prog: Resolved,
    prog_name: String,
    /// The map; None for the current network namespace.
    target: Option<OwnedFd>,
    /// "map sock_map (id 7)" or "the current network namespace".
    target_text: String,
}

fn plan(prog: &Handle, attach_type: MapAttachType, map: Option<&Handle>) -> Result<Plan> {
    let word = attach_type.word();
    let prog = handle::resolve_one(Kind::Prog, prog)?;
    let info = bpf::prog::info(prog.fd.as_fd())?;
    let want = attach_type.prog_type();
    if info.type_name != want {
        return Err(hinted(
            format!(
                "program {} (id {}) is of type {}, which cannot attach as {word}",
                info.name, info.id, info.type_name
            ),
            format!("{word} takes a program of type {want}"),
        ));
    }
    let (target, target_text) = match (attach_type, map) {
        (MapAttachType::FlowDissector, None) => (None, "the current network namespace".to_owned()),
        (MapAttachType::FlowDissector, Some(_)) => {
            return Err(usage(
                "flow_dissector takes no MAP: it attaches to the current network namespace",
            ))
        }
        (_, None) => return Err(usage(format!("{word}: expected MAP after it"))),
        (_, Some(h)) => {
            let map = handle::resolve_one(Kind::Map, h)?;
            let mi = bpf::map::info(map.fd.as_fd())?;
            let map_type = bpf::map::type_name(mi.map_type);
            if !matches!(map_type.as_str(), "sockmap" | "sockhash") {
                return Err(hinted(
                    format!(
                        "map {} (id {}) is a {}, not a sockmap or sockhash",
                        mi.name, mi.id, map_type
                    ),
                    format!("{word} attaches to a BPF_MAP_TYPE_SOCKMAP or SOCKHASH"),
                ));
            }
            (Some(map.fd), format!("map {} (id {})", mi.name, mi.id))
        }
    };
    Ok(Plan {
        prog,
        prog_name: info.name,
        target,
        target_text,
    })
}

pub fn attach(
    prog: &Handle,
    attach_type: MapAttachType,
    map: Option<&Handle>,
    args: &AttachArgs,
    out: &mut Output,
) -> Result<()> {
    if args.pin.is_some() {
        return Err(usage(format!(
            "--pin: {} attaches the classic way (no link to pin)",
            attach_type.word()
        )));
    }
    let p = plan(prog, attach_type, map)?;
    let what = format!(
        "program {} (id {}) to {} as {}",
        p.prog_name,
        p.prog.id,
        p.target_text,
        attach_type.word()
    );
    k::prog_attach(
        p.prog.fd.as_fd(),
        p.target.as_ref().map(|t| t.as_fd()),
        attach_type.code(),
        0,
        None,
    )
    .map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL | libc::EEXIST) if attach_type == MapAttachType::FlowDissector => {
            match bpf::net::flow_dissector_id() {
                Ok(Some(id)) if id == p.prog.id => {
                    anyhow::anyhow!("attaching {what}: it is attached there already")
                }
                Ok(Some(id)) => hinted(
                    format!("attaching {what}: program id {id} is attached there"),
                    format!("detach it first: rbt prog detach id {id} flow_dissector"),
                ),
                _ => hinted(
                    format!("attaching {what}: the kernel refused ({e})"),
                    "a flow dissector in the root network namespace rules out one in any other",
                ),
            }
        }
        Some(libc::EEXIST) | Some(libc::EBUSY) => hinted(
            format!("attaching {what}: another program is already attached there"),
            format!(
                "detach it first: rbt prog detach PROG {} ...",
                attach_type.word()
            ),
        ),
        _ => bpf::kernel_error(e, format!("attaching {what}")),
    })?;
    out.done(Some(&format!("attached {what}")))?;
    Ok(())
}

pub fn detach(words: &[String], out: &mut Output) -> Result<()> {
    let m = grammar::parse("prog", "detach", words)?;
    let prog = m
        .handle("PROG")?
        .ok_or_else(|| usage("prog detach: expected PROG"))?;
    let given = m
        .which("HOOK")
        .ok_or_else(|| usage("prog detach: expected ATTACH_TYPE after PROG"))?;
    let attach_type = MapAttachType::from_word(given.slot.name)
        .ok_or_else(|| usage(format!("unknown attach type `{}`", given.slot.name)))?;
    let map = if given.slot.values.is_empty() {
        None
    } else {
        m.handle(given.slot.name)?
    };
    let p = plan(&prog, attach_type, map.as_ref())?;
    let what = format!(
        "program {} (id {}) from {} as {}",
        p.prog_name,
        p.prog.id,
        p.target_text,
        attach_type.word()
    );
    k::prog_detach(
        p.prog.fd.as_fd(),
        p.target.as_ref().map(|t| t.as_fd()),
        attach_type.code(),
    ).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::EINVAL) => hinted(
                format!("detaching {what}: it is not attached there"),
                "`rbt prog show` and `rbt map show` list what is loaded; a link is detached with `rbt link detach`",
            ),
            _ => bpf::kernel_error(e, format!("detaching {what}")),
        }
    })?;
    out.done(Some(&format!("detached {what}")))?;
    Ok(())
}
