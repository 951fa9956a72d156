// What `net attach` and `net detach` will do on each interface, decided and checked for
// every interface before anything changes; the `Change` records they report; choosing PROG.

use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::words::{AttachRequest, AttachType, Relative, Words, XdpMode};
use crate::bpf::net::{self as kn, Direction, TcSlot};
use crate::bpf::net_netlink::{self, TcFilter};
use crate::bpf::{self, link_pin, Kind};
use crate::error::{hinted, usage};
use crate::handle::{self, Handle, Resolved};
use crate::output::{Output, Tabular};

/// One interface's outcome, as `--dry-run` lists it.
#[derive(Debug, Serialize)]
pub struct Change {
    pub devname: String,
    pub ifindex: u32,
    #[serde(rename = "type")]
    pub attach_type: String,
    pub prog_id: u32,
    /// attach | replace | none (already attached) | detach
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<u32>,
    #[serde(skip)]
    pub message: String,
}

impl Tabular for Change {
    fn header() -> &'static [&'static str] {
        &["DEV", "TYPE", "PROG", "ACTION"]
    }
    fn row(&self) -> Vec<String> {
        vec![
            format!("{}({})", self.devname, self.ifindex),
            self.attach_type.clone(),
            self.prog_id.to_string(),
            match self.replaces {
                Some(old) => format!("{} (id {old})", self.action),
                None => self.action.clone(),
            },
        ]
    }
}

/// The plan as JSON under `--dry-run -j`, else one message line per interface.
pub fn report(dry_run: bool, changes: &[Change], out: &mut Output) -> Result<()> {
    if dry_run && out.is_json() {
        return Ok(out.list(changes)?);
    }
    let text: Vec<&str> = changes.iter().map(|c| c.message.as_str()).collect();
    out.done(Some(&text.join("\n")))?;
    Ok(())
}

/// The named interfaces with their ifindex: every one must exist before anything changes.
pub fn targets(devs: &[String]) -> Result<Vec<(String, u32)>> {
    devs.iter()
        .map(|dev| Ok((dev.clone(), kn::ifindex(dev)?)))
        .collect()
}

// ---- the program ----

pub fn program_label(info: &bpf::prog::ProgInfo) -> String {
    format!("{} (id {})", info.name, info.id)
}

/// Check the program's type fits; a wrong type is a clear error naming both.
pub fn check_prog_type(t: AttachType, fd: &OwnedFd) -> Result<bpf::prog::ProgInfo> {
    let info = bpf::prog::info(fd.as_fd())?;
    if !t.prog_types().contains(&info.type_name.as_str()) {
        return Err(hinted(
            format!(
                "program {} is a {} program; {} needs a {} program",
                program_label(&info),
                info.type_name,
                t.word(),
                t.prog_types().join(" or ")
            ),
            "check the program with `rbt prog show id N`",
        ));
    }
    Ok(info)
}

/// Every program id attached to an interface of the current namespace without a link.
fn attached_ids() -> HashSet<u32> {
    let mut ids = HashSet::new();
    for (ifindex, _) in kn::interfaces().unwrap_or_default() {
        if let Ok(x) = kn::xdp_query(ifindex) {
            ids.extend([x.skb, x.drv, x.hw].into_iter().filter(|&i| i != 0));
        }
        for dir in [Direction::Ingress, Direction::Egress] {
            for f in net_netlink::tc_filters(ifindex, dir).unwrap_or_default() {
                ids.insert(f.prog_id);
            }
            for e in kn::tcx_query(ifindex, dir).unwrap_or_default() {
                ids.insert(e.prog_id);
            }
        }
    }
    ids
}

/// PROG as named, or the one unattached program of the right type.
pub fn resolve_prog(t: AttachType, w: &Words) -> Result<(Resolved, bpf::prog::ProgInfo)> {
    let prog = match &w.prog {
        Some(h) => handle::resolve_one(Kind::Prog, h)?,
        None => handle::pick_unattached(t.prog_types(), &attached_ids())?.1,
    };
    let info = check_prog_type(t, &prog.fd)?;
    Ok((prog, info))
}

/// The PROG words to repeat in a hint.
fn handle_words(h: Option<&Handle>, id: u32) -> String {
    match h {
        Some(h) => h.to_string(),
        None => format!("id {id}"),
    }
}

// ---- XDP state ----

pub fn xdp_mode_of(state: kn::XdpState, id: u32) -> Option<XdpMode> {
    if id == 0 {
        None
    } else if state.drv == id {
        Some(XdpMode::Driver)
    } else if state.skb == id {
        Some(XdpMode::Generic)
    } else if state.hw == id {
        Some(XdpMode::Offload)
    } else {
        None
    }
}

/// The program attached in `mode` (for Auto: whichever mode has one).
fn xdp_current(state: kn::XdpState, mode: XdpMode) -> (u32, XdpMode) {
    match mode {
        XdpMode::Generic => (state.skb, mode),
        XdpMode::Driver => (state.drv, mode),
        XdpMode::Offload => (state.hw, mode),
        XdpMode::Auto => [
            (state.drv, XdpMode::Driver),
            (state.skb, XdpMode::Generic),
            (state.hw, XdpMode::Offload),
        ]
        .into_iter()
        .find(|(id, _)| *id != 0)
        .unwrap_or((0, XdpMode::Auto)),
    }
}

// ---- attach ----

/// What attach has to work with on every interface.
pub struct AttachCtx<'a> {
    pub req: &'a AttachRequest,
    pub prog: &'a Resolved,
    pub info: &'a bpf::prog::ProgInfo,
    /// `--before` / `--after`, resolved.
    pub relative: Option<Resolved>,
}

/// The one kernel step attach will take on an interface.
#[derive(Debug)]
pub enum AttachStep {
    /// Already attached, or a dry run.
    Nothing,
    XdpLink {
        mode: XdpMode,
        pin: PathBuf,
    },
    XdpReplace {
        mode: XdpMode,
        old: u32,
        old_mode: XdpMode,
    },
    Xdp {
        mode: XdpMode,
    },
    Tc {
        dir: Direction,
        slot: TcSlot,
        replaces: Option<u32>,
    },
    TcxLink {
        dir: Direction,
        flags: u32,
        place: String,
        pin: PathBuf,
    },
    Tcx {
        dir: Direction,
        flags: u32,
        place: String,
    },
}

#[derive(Debug)]
pub struct AttachPlan {
    pub change: Change,
    pub step: AttachStep,
}

impl AttachCtx<'_> {
    /// The plain attach of this program to `dev`, before looking at what is attached there.
    fn planned_attach(&self, dev: &str, ifindex: u32) -> Change {
        Change {
            devname: dev.to_string(),
            ifindex,
            attach_type: self.req.t.word().to_owned(),
            prog_id: self.prog.id,
            action: "attach".into(),
            replaces: None,
            message: String::new(),
        }
    }

    fn link_pin(&self, dev: &str) -> PathBuf {
        self.req.link_pin.clone().unwrap_or_else(|| {
            link_pin::net_default(self.req.netns.as_deref(), dev, self.req.t.word())
        })
    }

    /// Look at `dev` and decide the step; conflicts fail here, before anything changes.
    pub fn plan(&self, dev: &str, ifindex: u32) -> Result<AttachPlan> {
        let mut change = self.planned_attach(dev, ifindex);
        let step = match self.req.t {
            AttachType::Xdp(mode) => self.plan_xdp(mode, &mut change)?,
            AttachType::Tc(dir) => self.plan_tc(dir, &mut change)?,
            AttachType::Tcx(dir) => self.plan_tcx(dir, &mut change)?,
        };
        Ok(AttachPlan { change, step })
    }

    fn plan_xdp(&self, mode: XdpMode, change: &mut Change) -> Result<AttachStep> {
        let (dev, ifindex) = (change.devname.clone(), change.ifindex);
        let state = kn::xdp_query(ifindex)?;
        let (current, current_mode) = xdp_current(state, mode);
        let label = program_label(self.info);
        if current == self.prog.id {
            change.action = "none".into();
            change.message = format!(
                "{label} is already attached to {dev} ({} mode); nothing changed",
                current_mode.word()
            );
            return Ok(AttachStep::Nothing);
        }
        if current != 0 && !self.req.w.overwrite {
            return Err(hinted(
                format!(
                    "{dev} already has XDP program id {current} ({} mode)",
                    current_mode.word()
                ),
                format!(
                    "add `overwrite` to replace it atomically: rbt net attach {} {} dev {dev} overwrite",
                    self.req.t.word(),
                    handle_words(self.req.w.prog.as_ref(), self.prog.id)
                ),
            ));
        }
        if current != 0 {
            change.action = "replace".into();
            change.replaces = Some(current);
        }
        if self.req.dry_run {
            change.message = match change.replaces {
                Some(old) => format!("would replace XDP program id {old} on {dev} with {label}"),
                None => format!("would attach {label} to {dev} ({})", self.req.t.word()),
            };
            return Ok(AttachStep::Nothing);
        }
        if self.req.link {
            if current != 0 {
                return Err(usage(
                    "--link cannot replace an attached XDP program: detach it first",
                ));
            }
            let pin = self.link_pin(&dev);
            link_pin::check_free(&pin)?;
            return Ok(AttachStep::XdpLink { mode, pin });
        }
        if current != 0 {
            return Ok(AttachStep::XdpReplace {
                mode,
                old: current,
                old_mode: current_mode,
            });
        }
        Ok(AttachStep::Xdp { mode })
    }

    fn plan_tc(&self, dir: Direction, change: &mut Change) -> Result<AttachStep> {
        let (dev, ifindex) = (change.devname.clone(), change.ifindex);
        let w = &self.req.w;
        let label = program_label(self.info);
        let filters = net_netlink::tc_filters(ifindex, dir)?;
        let in_slot = |f: &TcFilter| {
            w.prio.is_none_or(|p| p == f.priority) && w.handle.is_none_or(|h| h == f.handle)
        };
        if let Some(f) = filters
            .iter()
            .find(|f| f.prog_id == self.prog.id && in_slot(f))
        {
            change.action = "none".into();
            change.message = format!(
                "{label} is already attached to {dev} clsact/{} (prio {} handle {:#x}); nothing changed",
                dir.word(),
                f.priority,
                f.handle
            );
            return Ok(AttachStep::Nothing);
        }
        let occupant = match (w.prio, w.handle) {
            (Some(p), Some(h)) => filters.iter().find(|f| f.priority == p && f.handle == h),
            _ => None,
        };
        if let Some(old) = occupant {
            if !w.overwrite {
                return Err(hinted(
                    format!(
                        "{dev} clsact/{} prio {} handle {:#x} holds program id {} already",
                        dir.word(),
                        old.priority,
                        old.handle,
                        old.prog_id
                    ),
                    "add `overwrite` to replace it, or choose another prio/handle",
                ));
            }
            change.action = "replace".into();
            change.replaces = Some(old.prog_id);
        }
        if w.overwrite && (w.prio.is_none() || w.handle.is_none()) {
            return Err(usage(
                "tc overwrite needs `prio P handle H` (the filter to replace)",
            ));
        }
        if self.req.dry_run {
            change.message = format!(
                "would attach {label} to {dev} clsact/{} (prio {}, handle {})",
                dir.word(),
                w.prio.map_or("auto".into(), |p| p.to_string()),
                w.handle.map_or("auto".into(), |h| format!("{h:#x}"))
            );
            return Ok(AttachStep::Nothing);
        }
        Ok(AttachStep::Tc {
            dir,
            slot: TcSlot {
                priority: w.prio.unwrap_or(0),
                handle: w.handle.unwrap_or(0),
            },
            replaces: change.replaces,
        })
    }

    fn plan_tcx(&self, dir: Direction, change: &mut Change) -> Result<AttachStep> {
        let (dev, ifindex) = (change.devname.clone(), change.ifindex);
        let label = program_label(self.info);
        let chain = kn::tcx_query(ifindex, dir)?;
        if chain.iter().any(|e| e.prog_id == self.prog.id) {
            change.action = "none".into();
            change.message = format!(
                "{label} is already attached to {dev} tcx/{}; nothing changed",
                dir.word()
            );
            return Ok(AttachStep::Nothing);
        }
        let before = matches!(self.req.relative, Some(Relative::Before(_)));
        let (flags, place) = match (&self.relative, before, self.req.w.prepend) {
            (Some(r), true, _) => (kn::BPF_F_BEFORE, format!("before id {}", r.id)),
            (Some(r), false, _) => (kn::BPF_F_AFTER, format!("after id {}", r.id)),
            (None, _, true) => (kn::BPF_F_BEFORE, "first".to_string()),
            (None, _, false) => (0, "last".to_string()),
        };
        if let Some(r) = &self.relative {
            if !chain.iter().any(|e| e.prog_id == r.id) {
                return Err(anyhow::anyhow!(
                    "program id {} is not in the tcx/{} chain of {dev}",
                    r.id,
                    dir.word()
                ));
            }
        }
        if self.req.dry_run {
            change.message = format!("would attach {label} to {dev} tcx/{} ({place})", dir.word());
            return Ok(AttachStep::Nothing);
        }
        if self.req.link {
            let pin = self.link_pin(&dev);
            link_pin::check_free(&pin)?;
            return Ok(AttachStep::TcxLink {
                dir,
                flags,
                place,
                pin,
            });
        }
        Ok(AttachStep::Tcx { dir, flags, place })
    }
}

// ---- detach ----

#[derive(Debug)]
pub enum DetachWhat {
    Xdp {
        mode: XdpMode,
        prog: u32,
    },
    Tc {
        dir: Direction,
        filter: TcFilter,
    },
    Tcx {
        dir: Direction,
        prog: u32,
        link: u32,
    },
}

#[derive(Debug)]
pub struct DetachPlan {
    pub dev: String,
    pub ifindex: u32,
    pub t: AttachType,
    pub what: DetachWhat,
}

impl DetachPlan {
    fn prog_id(&self) -> u32 {
        match &self.what {
            DetachWhat::Xdp { prog, .. } | DetachWhat::Tcx { prog, .. } => *prog,
            DetachWhat::Tc { filter, .. } => filter.prog_id,
        }
    }

    pub fn change(&self, dry_run: bool) -> Change {
        let verb = if dry_run { "would detach" } else { "detached" };
        let place = match &self.what {
            DetachWhat::Xdp { mode, .. } => format!("XDP ({} mode)", mode.word()),
            DetachWhat::Tc { dir, filter } => format!(
                "clsact/{} (prio {} handle {:#x})",
                dir.word(),
                filter.priority,
                filter.handle
            ),
            DetachWhat::Tcx { dir, .. } => format!("tcx/{}", dir.word()),
        };
        Change {
            devname: self.dev.clone(),
            ifindex: self.ifindex,
            attach_type: self.t.word().to_owned(),
            prog_id: self.prog_id(),
            action: "detach".into(),
            replaces: None,
            message: format!(
                "{verb} program id {} from {} {place}",
                self.prog_id(),
                self.dev
            ),
        }
    }
}

fn nothing_attached(what: String, dev: &str) -> anyhow::Error {
    hinted(
        format!("nothing to detach: no {what} program is attached to {dev}"),
        format!("see what is attached with `rbt net show dev {dev}`"),
    )
}

pub fn plan_detach(
    t: AttachType,
    w: &Words,
    wanted: Option<u32>,
    dev: &str,
    ifindex: u32,
) -> Result<DetachPlan> {
    let what = match t {
        AttachType::Xdp(mode) => {
            let state = kn::xdp_query(ifindex)?;
            let (prog, mode) = xdp_current(state, mode);
            if prog == 0 {
                return Err(nothing_attached(t.word().to_owned(), dev));
            }
            if let Some(want) = wanted.filter(|&w| w != prog) {
                anyhow::bail!(
                    "{dev} has XDP program id {prog} ({} mode), not id {want}",
                    mode.word()
                );
            }
            DetachWhat::Xdp { mode, prog }
        }
        AttachType::Tc(dir) => {
            let all = net_netlink::tc_filters(ifindex, dir)?;
            let fits: Vec<TcFilter> = all
                .into_iter()
                .filter(|f| {
                    wanted.is_none_or(|p| p == f.prog_id)
                        && w.prio.is_none_or(|p| p == f.priority)
                        && w.handle.is_none_or(|h| h == f.handle)
                })
                .collect();
            match fits.as_slice() {
                [] => return Err(nothing_attached(format!("matching tc_{}", dir.word()), dev)),
                [one] => DetachWhat::Tc {
                    dir,
                    filter: one.clone(),
                },
                several => {
                    let list: Vec<String> = several
                        .iter()
                        .map(|f| {
                            format!(
                                "id {} (prio {} handle {:#x})",
                                f.prog_id, f.priority, f.handle
                            )
                        })
                        .collect();
                    return Err(hinted(
                        format!(
                            "{dev} clsact/{} has several programs: {}",
                            dir.word(),
                            list.join(", ")
                        ),
                        "say which: add PROG, or `prio P handle H`",
                    ));
                }
            }
        }
        AttachType::Tcx(dir) => {
            let chain = kn::tcx_query(ifindex, dir)?;
            let fits: Vec<_> = chain
                .into_iter()
                .filter(|e| wanted.is_none_or(|p| p == e.prog_id))
                .collect();
            match fits.as_slice() {
                [] => return Err(nothing_attached(t.word().to_owned(), dev)),
                [one] => DetachWhat::Tcx {
                    dir,
                    prog: one.prog_id,
                    link: one.link_id,
                },
                several => {
                    let ids: Vec<String> = several
                        .iter()
                        .map(|e| format!("id {}", e.prog_id))
                        .collect();
                    return Err(hinted(
                        format!(
                            "{dev} tcx/{} has several programs: {}",
                            dir.word(),
                            ids.join(", ")
                        ),
                        "say which: add PROG (id N)",
                    ));
                }
            }
        }
    };
    Ok(DetachPlan {
        dev: dev.to_string(),
        ifindex,
        t,
        what,
    })
}
