// `net detach`: find every interface's attachment first, then detach them; a failure part
// way puts back what was already detached.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};

use super::attach::xdp_error;
use super::plan::{self, DetachPlan, DetachWhat};
use super::words;
use crate::bpf::net::{self as kn, TcSlot};
use crate::bpf::net_ns::NetnsGuard;
use crate::bpf::{self, link_pin, net_clsact, stream, Kind};
use crate::cli::NetWords;
use crate::handle;
use crate::output::Output;
use crate::rollback::Rollback;

pub fn detach(args: &NetWords, out: &mut Output) -> Result<()> {
    let req = words::detach(args)?;
    let wanted = match &req.w.prog {
        Some(h) => Some(handle::resolve_one(Kind::Prog, h)?.id),
        None => None,
    };
    let _ns = match &req.netns {
        Some(n) => Some(NetnsGuard::enter(n)?),
        None => None,
    };
    let targets = plan::targets(&req.w.devs)?;
    // Find every interface's attachment first: a missing one fails before anything changes.
    let mut plans = Vec::new();
    for (dev, ifindex) in &targets {
        plans.push(plan::plan_detach(req.t, &req.w, wanted, dev, *ifindex)?);
    }
    // Declared after `_ns`, so the undos run inside the namespace. A signal from here on
    // stops at the next step and puts back what was detached.
    stream::defer_interrupts()?;
    let mut rollback = Rollback::new();
    let mut changes = Vec::new();
    for p in plans {
        if !req.dry_run {
            stream::interrupted().context("put back what was already detached")?;
            run(&p, &mut rollback)?;
        }
        changes.push(p.change(req.dry_run));
    }
    stream::interrupted().context("put back what was already detached")?;
    rollback.commit();
    plan::report(req.dry_run, &changes, out)
}

/// Detach one planned attachment and push how to put it back.
fn run(plan: &DetachPlan, rollback: &mut Rollback<'_>) -> Result<()> {
    let dev = &plan.dev;
    let ifindex = plan.ifindex;
    match &plan.what {
        DetachWhat::Xdp { mode, prog } => {
            let fd = bpf::fd_by_id(Kind::Prog, *prog)?;
            let what = format!("detaching XDP program id {prog} from {dev}");
            match kn::xdp_detach(ifindex, mode.flags(), Some(fd.as_fd())) {
                Ok(()) => {
                    let (flags, prog) = (mode.flags(), *prog);
                    rollback.push(move || {
                        if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog) {
                            let flags = flags | kn::XDP_FLAGS_UPDATE_IF_NOEXIST;
                            let _ = kn::xdp_attach(ifindex, fd.as_fd(), flags, None);
                        }
                    });
                    Ok(())
                }
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // Held by a bpf_link: detach the link and remove its pins.
                    let links = find_links(kn::LINK_TYPE_XDP, ifindex, *prog);
                    let Some((id, lfd)) = links.first() else {
                        return Err(xdp_error(e, dev, *mode, &what));
                    };
                    detach_link(*id, lfd)?;
                    Ok(())
                }
                Err(e) => Err(xdp_error(e, dev, *mode, &what)),
            }
        }
        DetachWhat::Tc { dir, filter } => {
            let slot = TcSlot {
                priority: filter.priority,
                handle: filter.handle,
            };
            kn::tc_detach(ifindex, *dir, slot).map_err(|e| {
                bpf::kernel_error(
                    e,
                    format!("detaching the tc filter from {dev} clsact/{}", dir.word()),
                )
            })?;
            let (dir, old) = (*dir, filter.prog_id);
            rollback.push(move || {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, old) {
                    // The detach may have removed an empty clsact rbt had created.
                    let _ = kn::clsact_create(ifindex);
                    let _ = kn::tc_attach(ifindex, dir, fd.as_fd(), slot, true);
                }
            });
            net_clsact::remove_if_ours_and_empty(ifindex, dev)?;
            Ok(())
        }
        DetachWhat::Tcx { dir, prog, link } => {
            if *link != 0 {
                let lfd = bpf::fd_by_id(Kind::Link, *link)?;
                detach_link(*link, &lfd)?;
                return Ok(());
            }
            let fd = bpf::fd_by_id(Kind::Prog, *prog)?;
            kn::tcx_detach(ifindex, *dir, fd.as_fd()).map_err(|e| {
                bpf::kernel_error(
                    e,
                    format!("detaching program id {prog} from {dev} tcx/{}", dir.word()),
                )
            })?;
            let (dir, prog) = (*dir, *prog);
            rollback.push(move || {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog) {
                    let _ = kn::tcx_attach(ifindex, dir, fd.as_fd(), 0, None);
                }
            });
            Ok(())
        }
    }
}

/// The links of `link_type` on `ifindex` holding `prog_id`.
fn find_links(link_type: u32, ifindex: u32, prog_id: u32) -> Vec<(u32, OwnedFd)> {
    let mut found = Vec::new();
    for id in bpf::ids(Kind::Link).unwrap_or_default() {
        let Ok(fd) = bpf::fd_by_id(Kind::Link, id) else {
            continue;
        };
        if let Ok(info) = bpf::link::info(fd.as_fd()) {
            if info.link_type == link_type
                && info.target.ifindex() == Some(ifindex)
                && info.prog_id == prog_id
            {
                found.push((id, fd));
            }
        }
    }
    found
}

/// Detach a link and remove its pins under the bpffs root.
fn detach_link(link_id: u32, fd: &OwnedFd) -> Result<()> {
    kn::link_detach(fd.as_fd()).with_context(|| format!("detaching link id {link_id}"))?;
    link_pin::unpin_all_of(link_id);
    Ok(())
}
