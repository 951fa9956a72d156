// `net attach`: plan every interface, then run the plans; a failure part way rolls back the
// interfaces already done, so several interfaces are attached all or nothing.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

use super::plan::{self, AttachCtx, AttachPlan, AttachStep};
use super::words::{self, Relative, XdpMode};
use crate::bpf::net::{self as kn, Direction, LinkTarget, TcSlot};
use crate::bpf::net_ns::NetnsGuard;
use crate::bpf::{self, bpffs, link_pin, net_clsact, stream, Kind};
use crate::cli::NetAttachArgs;
use crate::error::hinted;
use crate::handle;
use crate::output::Output;
use crate::rollback::Rollback;

pub fn attach(args: &NetAttachArgs, out: &mut Output) -> Result<()> {
    let req = words::attach(args)?;
    let relative = match &req.relative {
        Some(Relative::Before(h) | Relative::After(h)) => Some(handle::resolve_one(Kind::Prog, h)?),
        None => None,
    };
    if req.link {
        bpffs::ensure_mounted(false)?;
    }
    // Explicit programs are resolved before entering the namespace; a PROG left out needs
    // the namespace's attachments, so it is picked inside.
    let explicit = match &req.w.prog {
        Some(h) => {
            let r = handle::resolve_one(Kind::Prog, h)?;
            let info = plan::check_prog_type(req.t, &r.fd)?;
            Some((r, info))
        }
        None => None,
    };
    let _ns = match &req.netns {
        Some(n) => Some(NetnsGuard::enter(n)?),
        None => None,
    };
    let (prog, info) = match explicit {
        Some(p) => p,
        None => plan::resolve_prog(req.t, &req.w)?,
    };
    let ctx = AttachCtx {
        req: &req,
        prog: &prog,
        info: &info,
        relative,
    };
    // Plan every interface first: a missing interface or a conflict on any of them fails
    // before anything changes.
    let mut plans = Vec::new();
    for (dev, ifindex) in plan::targets(&req.w.devs)? {
        plans.push(ctx.plan(&dev, ifindex)?);
    }
    // Declared after `_ns`, so the undos run inside the namespace. A signal from here on
    // stops at the next step and rolls back.
    stream::defer_interrupts()?;
    let mut rollback = Rollback::new();
    let mut changes = Vec::new();
    for (done, mut p) in plans.into_iter().enumerate() {
        if let Err(e) = stream::interrupted().and_then(|()| run(&ctx, &mut p, &mut rollback)) {
            return Err(if done > 0 {
                e.context(format!(
                    "{}: attach failed; rolled back the {done} interface(s) done before it",
                    p.change.devname
                ))
            } else {
                e
            });
        }
        changes.push(p.change);
    }
    stream::interrupted()?;
    rollback.commit();
    plan::report(req.dry_run, &changes, out)
}

/// Take the planned step, push its undo and write the change's message.
fn run(c: &AttachCtx<'_>, p: &mut AttachPlan, rollback: &mut Rollback<'_>) -> Result<()> {
    let dev = p.change.devname.clone();
    let ifindex = p.change.ifindex;
    let label = plan::program_label(c.info);
    let prog = c.prog.fd.as_fd();
    let prog_id = c.prog.id;
    p.change.message = match &p.step {
        AttachStep::Nothing => return Ok(()),
        AttachStep::XdpLink { mode, pin } => {
            let what = format!("attaching {label} to {dev} ({})", c.req.t.word());
            let fd = kn::link_create(ifindex, prog, LinkTarget::Xdp(mode.flags()), None)
                .map_err(|e| xdp_error(e, &dev, *mode, &what))?;
            pin_link(fd, pin, rollback)?;
            format!(
                "attached {label} to {dev} ({} mode) through a bpf_link pinned at {}",
                landed_mode(ifindex, prog_id, *mode).word(),
                pin.display()
            )
        }
        AttachStep::XdpReplace {
            mode,
            old,
            old_mode,
        } => {
            let what = format!("attaching {label} to {dev} ({})", c.req.t.word());
            let old_fd = bpf::fd_by_id(Kind::Prog, *old)
                .with_context(|| format!("opening the attached program id {old}"))?;
            let mode_flags = old_mode.flags();
            kn::xdp_attach(ifindex, prog, mode_flags, Some(old_fd.as_fd()))
                .map_err(|e| xdp_error(e, &dev, *mode, &what))?;
            let old = *old;
            rollback.push(move || {
                // Put the old program back, if the new one is still the one attached.
                if let (Ok(o), Ok(n)) = (
                    bpf::fd_by_id(Kind::Prog, old),
                    bpf::fd_by_id(Kind::Prog, prog_id),
                ) {
                    let _ = kn::xdp_attach(ifindex, o.as_fd(), mode_flags, Some(n.as_fd()));
                }
            });
            format!(
                "replaced XDP program id {old} on {dev} with {label} ({} mode)",
                old_mode.word()
            )
        }
        AttachStep::Xdp { mode } => {
            let what = format!("attaching {label} to {dev} ({})", c.req.t.word());
            let flags = mode.flags() | kn::XDP_FLAGS_UPDATE_IF_NOEXIST;
            kn::xdp_attach(ifindex, prog, flags, None)
                .map_err(|e| xdp_error(e, &dev, *mode, &what))?;
            let landed = landed_mode(ifindex, prog_id, *mode);
            rollback.push(move || {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog_id) {
                    let _ = kn::xdp_detach(ifindex, landed.flags(), Some(fd.as_fd()));
                }
            });
            format!("attached {label} to {dev} ({} mode)", landed.word())
        }
        AttachStep::Tc {
            dir,
            slot,
            replaces,
        } => run_tc(c, &dev, ifindex, *dir, *slot, *replaces, rollback)?,
        AttachStep::TcxLink {
            dir,
            flags,
            place,
            pin,
        } => {
            let what = format!("attaching {label} to {dev} tcx/{}", dir.word());
            let relative = c.relative.as_ref().map(|r| r.fd.as_fd());
            let fd = kn::link_create(ifindex, prog, LinkTarget::Tcx(*dir, *flags), relative)
                .map_err(|e| bpf::kernel_error(e, what))?;
            pin_link(fd, pin, rollback)?;
            format!(
                "attached {label} to {dev} tcx/{} ({place}) through a bpf_link pinned at {}",
                dir.word(),
                pin.display()
            )
        }
        AttachStep::Tcx { dir, flags, place } => {
            let what = format!("attaching {label} to {dev} tcx/{}", dir.word());
            let relative = c.relative.as_ref().map(|r| r.fd.as_fd());
            kn::tcx_attach(ifindex, *dir, prog, *flags, relative)
                .map_err(|e| bpf::kernel_error(e, what))?;
            let dir = *dir;
            rollback.push(move || {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog_id) {
                    let _ = kn::tcx_detach(ifindex, dir, fd.as_fd());
                }
            });
            format!("attached {label} to {dev} tcx/{} ({place})", dir.word())
        }
    };
    Ok(())
}

/// Pin a new link; its undo detaches it and removes the pin and the directories made for it.
fn pin_link(fd: OwnedFd, pin: &Path, rollback: &mut Rollback<'_>) -> Result<()> {
    let pinned = link_pin::pin(&fd, pin);
    let (pin, ok) = (pin.to_path_buf(), pinned.is_ok());
    rollback.push(move || {
        let _ = kn::link_detach(fd.as_fd());
        if ok {
            let _ = std::fs::remove_file(&pin);
        }
        link_pin::remove_empty_dirs(&pin);
    });
    pinned
}

/// The mode the kernel put the program in (Auto lands in driver or generic mode).
fn landed_mode(ifindex: u32, prog_id: u32, asked: XdpMode) -> XdpMode {
    kn::xdp_query(ifindex)
        .ok()
        .and_then(|s| plan::xdp_mode_of(s, prog_id))
        .unwrap_or(asked)
}

fn run_tc(
    c: &AttachCtx<'_>,
    dev: &str,
    ifindex: u32,
    dir: Direction,
    slot: TcSlot,
    replaces: Option<u32>,
    rollback: &mut Rollback<'_>,
) -> Result<String> {
    let label = plan::program_label(c.info);
    let created = net_clsact::ensure(ifindex, dev)?;
    if created {
        let dev = dev.to_string();
        rollback.push(move || {
            let _ = net_clsact::remove_if_ours_and_empty(ifindex, &dev);
        });
    }
    let what = format!("attaching {label} to {dev} clsact/{}", dir.word());
    let used =
        kn::tc_attach(ifindex, dir, c.prog.fd.as_fd(), slot, replaces.is_some()).map_err(|e| {
            if e.raw_os_error() == Some(libc::EEXIST) {
                hinted(
                    format!("{what}: that prio/handle is taken ({e})"),
                    "add `overwrite` to replace it, or choose another prio/handle",
                )
            } else {
                bpf::kernel_error(e, what)
            }
        })?;
    let mut message = format!(
        "attached {label} to {dev} clsact/{} (prio {} handle {:#x}){}",
        dir.word(),
        used.priority,
        used.handle,
        if created {
            "; created the clsact qdisc"
        } else {
            ""
        }
    );
    match replaces {
        Some(old) => {
            message = format!("{message} replacing program id {old}");
            // Rolling back a replace puts the old program back in the same slot.
            rollback.push(move || {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, old) {
                    let _ = kn::clsact_create(ifindex);
                    let _ = kn::tc_attach(ifindex, dir, fd.as_fd(), used, true);
                }
            });
        }
        None => rollback.push(move || {
            let _ = kn::tc_detach(ifindex, dir, used);
        }),
    }
    Ok(message)
}

/// An XDP attach or detach error, with what to do for the usual causes.
pub fn xdp_error(err: std::io::Error, dev: &str, mode: XdpMode, what: &str) -> anyhow::Error {
    let code = err.raw_os_error().unwrap_or(0);
    match (mode, code) {
        (XdpMode::Offload, libc::EINVAL | libc::EOPNOTSUPP | libc::ENODEV) => hinted(
            format!("{what}: {dev} cannot run XDP programs in offload mode ({err})"),
            "offload needs a NIC and driver with XDP hardware offload; use xdpdrv or xdpgeneric",
        ),
        (XdpMode::Driver, libc::EOPNOTSUPP | libc::EINVAL) => hinted(
            format!("{what}: the driver of {dev} has no native XDP ({err})"),
            "use xdpgeneric",
        ),
        (_, libc::EBUSY) => hinted(
            format!("{what}: the XDP program on {dev} is held by a bpf_link ({err})"),
            format!("detach it first: rbt net detach xdp dev {dev}"),
        ),
        (_, libc::EEXIST) => hinted(
            format!(
                "{what}: the XDP program on {dev} changed while rbt was working, or another mode holds one ({err}); nothing was replaced"
            ),
            format!("look again with `rbt net show dev {dev}`"),
        ),
        _ => bpf::kernel_error(err, what.to_string()),
    }
}
