// `net` verbs: attach, replace and detach XDP / tc (clsact) / tcx programs on interfaces,
// optionally in another network namespace, and show what is attached (bpftool's JSON shape).

use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::bpf::net::{self as kn, Direction, LinkTarget, TcSlot};
use crate::bpf::net_netlink::{self, TcFilter};
use crate::bpf::net_ns::{self, NetnsGuard};
use crate::bpf::{self, bpffs, Kind};
use crate::cli::{Globals, NetAttachArgs, NetDetachArgs, NetVerb};
use crate::error::{hinted, usage};
use crate::handle::{self, Handle, Resolved};
use crate::output::{Output, Tabular};

pub fn run(verb: Option<NetVerb>, g: &Globals, out: &mut Output) -> Result<()> {
    match verb.unwrap_or(NetVerb::Show {
        words: Vec::new(),
        netns: None,
    }) {
        NetVerb::Show { words, netns } => show(&words, netns.as_deref(), out),
        NetVerb::Attach(args) => attach(&args, g, out),
        NetVerb::Detach(args) => detach(&args, out),
    }
}

// ---- attach types and the words after them ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    Auto,
    Generic,
    Driver,
    Offload,
}

impl XdpMode {
    fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Generic => kn::XDP_FLAGS_SKB_MODE,
            XdpMode::Driver => kn::XDP_FLAGS_DRV_MODE,
            XdpMode::Offload => kn::XDP_FLAGS_HW_MODE,
        }
    }

    /// bpftool's mode word in `net show`.
    fn word(self) -> &'static str {
        match self {
            XdpMode::Auto => "auto",
            XdpMode::Generic => "generic",
            XdpMode::Driver => "driver",
            XdpMode::Offload => "offload",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachType {
    Xdp(XdpMode),
    Tc(Direction),
    Tcx(Direction),
}

const TYPES: &str =
    "xdp, xdpgeneric, xdpdrv, xdpoffload, tc_ingress, tc_egress, tcx_ingress, tcx_egress";

impl AttachType {
    pub fn parse(word: &str) -> Result<AttachType> {
        Ok(match word {
            "xdp" => AttachType::Xdp(XdpMode::Auto),
            "xdpgeneric" => AttachType::Xdp(XdpMode::Generic),
            "xdpdrv" => AttachType::Xdp(XdpMode::Driver),
            "xdpoffload" => AttachType::Xdp(XdpMode::Offload),
            "tc_ingress" => AttachType::Tc(Direction::Ingress),
            "tc_egress" => AttachType::Tc(Direction::Egress),
            "tcx_ingress" => AttachType::Tcx(Direction::Ingress),
            "tcx_egress" => AttachType::Tcx(Direction::Egress),
            other => {
                return Err(usage(format!(
                    "unknown attach type `{other}`: expected one of {TYPES}"
                )))
            }
        })
    }

    fn word(self) -> String {
        match self {
            AttachType::Xdp(XdpMode::Auto) => "xdp".into(),
            AttachType::Xdp(XdpMode::Generic) => "xdpgeneric".into(),
            AttachType::Xdp(XdpMode::Driver) => "xdpdrv".into(),
            AttachType::Xdp(XdpMode::Offload) => "xdpoffload".into(),
            AttachType::Tc(d) => format!("tc_{}", d.word()),
            AttachType::Tcx(d) => format!("tcx_{}", d.word()),
        }
    }

    /// The program types that fit this attach type.
    fn prog_types(self) -> &'static [&'static str] {
        match self {
            AttachType::Xdp(_) => &["xdp"],
            AttachType::Tc(_) | AttachType::Tcx(_) => &["sched_cls"],
        }
    }
}

/// `[PROG] dev IF [dev IF].. [overwrite|prepend] [prio P] [handle H]`.
#[derive(Debug, Default, PartialEq)]
struct Words {
    prog: Option<Handle>,
    devs: Vec<String>,
    overwrite: bool,
    prepend: bool,
    prio: Option<u32>,
    handle: Option<u32>,
}

fn parse_number(word: &str, what: &str) -> Result<u32> {
    let parsed = match word.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => word.parse(),
    };
    parsed.map_err(|_| usage(format!("{what} `{word}`: expected a number")))
}

fn parse_words(words: &[String]) -> Result<Words> {
    let mut w = Words::default();
    let mut i = 0;
    if let Some(first) = words.first() {
        if first != "dev" {
            let (h, used) = handle::parse(Kind::Prog, words)?;
            w.prog = Some(h);
            i = used;
        }
    }
    let value = |i: usize, what: &str| {
        words
            .get(i)
            .ok_or_else(|| usage(format!("`{what}` needs a value")))
    };
    while i < words.len() {
        match words[i].as_str() {
            "dev" => {
                w.devs.push(value(i + 1, "dev")?.clone());
                i += 2;
            }
            "overwrite" => {
                w.overwrite = true;
                i += 1;
            }
            "prepend" => {
                w.prepend = true;
                i += 1;
            }
            "prio" => {
                let p = parse_number(value(i + 1, "prio")?, "prio")?;
                if p == 0 || p > 0xffff {
                    return Err(usage(format!("prio {p}: expected 1..65535")));
                }
                w.prio = Some(p);
                i += 2;
            }
            "handle" => {
                let h = parse_number(value(i + 1, "handle")?, "handle")?;
                if h == 0 {
                    return Err(usage("handle 0: expected a non-zero handle"));
                }
                w.handle = Some(h);
                i += 2;
            }
            other if w.prog.is_none() && is_handle_start(other) => {
                let (h, used) = handle::parse(Kind::Prog, &words[i..])?;
                w.prog = Some(h);
                i += used;
            }
            other => {
                return Err(usage(format!(
                    "unexpected `{other}`: expected dev IF, overwrite, prepend, prio P or handle H"
                )))
            }
        }
    }
    if w.devs.is_empty() {
        return Err(usage("expected `dev IF` (the interface)"));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = w.devs.iter().find(|d| !seen.insert(d.as_str())) {
        return Err(usage(format!("interface `{dup}` is named twice")));
    }
    Ok(w)
}

/// Whether `word` starts a PROG handle (`net detach TYPE dev IF PROG`).
fn is_handle_start(word: &str) -> bool {
    matches!(word, "id" | "pinned" | "name" | "tag") || word.starts_with('/')
}

/// A PROG given in one word (`--before id=7`, `--after /sys/fs/bpf/p`).
fn parse_one_word_handle(word: &str) -> Result<Handle> {
    let parts: Vec<String> = word
        .split(|c: char| c == '=' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    handle::parse_all(Kind::Prog, &parts)
}

fn check_words_fit(t: AttachType, w: &Words, link: bool) -> Result<()> {
    let tc = matches!(t, AttachType::Tc(_));
    let tcx = matches!(t, AttachType::Tcx(_));
    if (w.prio.is_some() || w.handle.is_some()) && !tc {
        return Err(usage(format!(
            "prio and handle are for tc_ingress/tc_egress, not {}",
            t.word()
        )));
    }
    if w.prepend && !tcx {
        return Err(usage(format!(
            "prepend is for tcx_ingress/tcx_egress, not {}",
            t.word()
        )));
    }
    if w.overwrite && tcx {
        return Err(usage(
            "overwrite is not for tcx (a chain holds several programs): detach the old one, or use --before/--after",
        ));
    }
    if link && tc {
        return Err(usage(
            "tc filters cannot be held by a bpf_link: use tcx_ingress/tcx_egress with --link",
        ));
    }
    Ok(())
}

fn program_label(info: &bpf::prog::ProgInfo) -> String {
    format!("{} (id {})", info.name, info.id)
}

/// Check the program's type fits; a wrong type is a clear error naming both.
fn check_prog_type(t: AttachType, fd: &OwnedFd) -> Result<bpf::prog::ProgInfo> {
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

// ---- what is attached (shared by show, attach, detach and the PROG-left-out rule) ----

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

fn resolve_prog(t: AttachType, w: &Words) -> Result<(Resolved, bpf::prog::ProgInfo)> {
    let prog = match &w.prog {
        Some(h) => handle::resolve_one(Kind::Prog, h)?,
        None => handle::pick_unattached(t.prog_types(), &attached_ids())?.1,
    };
    let info = check_prog_type(t, &prog.fd)?;
    Ok((prog, info))
}

// ---- durable state: which clsact qdiscs rbt created ----

const STATE_DIR: &str = "/run/rbt/clsact";

/// /run/rbt/clsact/<netns inode>-<ifindex>: present while a clsact rbt created is there.
fn clsact_marker(ifindex: u32) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{}-{ifindex}", net_ns::current_netns_inode()))
}

fn mark_clsact_created(ifindex: u32, dev: &str) -> Result<()> {
    std::fs::create_dir_all(STATE_DIR).with_context(|| format!("creating {STATE_DIR}"))?;
    let path = clsact_marker(ifindex);
    std::fs::write(&path, format!("{dev}\n")).with_context(|| format!("writing {}", path.display()))
}

/// Whether rbt created the clsact on this interface (the marker names the same device).
fn clsact_created_by_rbt(ifindex: u32, dev: &str) -> bool {
    std::fs::read_to_string(clsact_marker(ifindex)).is_ok_and(|s| s.trim() == dev)
}

/// Remove the clsact qdisc if rbt created it and no filter is left on it.
fn remove_clsact_if_ours_and_empty(ifindex: u32, dev: &str) -> Result<bool> {
    if !clsact_created_by_rbt(ifindex, dev) {
        return Ok(false);
    }
    for dir in [Direction::Ingress, Direction::Egress] {
        if !net_netlink::tc_filters(ifindex, dir)?.is_empty() {
            return Ok(false);
        }
    }
    kn::clsact_destroy(ifindex)?;
    let _ = std::fs::remove_file(clsact_marker(ifindex));
    Ok(true)
}

// ---- links ----

/// The default pin of a link rbt creates: /sys/fs/bpf/rbt/net/<netns>/<dev>-<type> (bpffs refuses dots in names).
fn default_link_pin(netns: Option<&str>, dev: &str, t: AttachType) -> PathBuf {
    let ns = netns
        .map(|n| {
            Path::new(n)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| n.to_string())
        })
        .unwrap_or_else(|| "default".into());
    Path::new(bpffs::DEFAULT_ROOT)
        .join("rbt/net")
        .join(ns)
        .join(format!("{dev}-{}", t.word()))
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
fn detach_link(link_id: u32, fd: &OwnedFd) -> Result<Vec<PathBuf>> {
    kn::link_detach(fd.as_fd()).with_context(|| format!("detaching link id {link_id}"))?;
    let mut removed = Vec::new();
    for (path, kind, id) in bpffs::walk_pins(Path::new(bpffs::DEFAULT_ROOT)) {
        if kind == Kind::Link && id == link_id && std::fs::remove_file(&path).is_ok() {
            remove_empty_dirs(&path);
            removed.push(path);
        }
    }
    Ok(removed)
}

/// A link pin must not exist yet; its directory is created under the bpffs root if needed.
fn check_link_pin(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_ok() {
        return Err(hinted(
            format!("{}: already exists", path.display()),
            "detach what is attached there first, or choose another path with --link-pin",
        ));
    }
    match path.parent() {
        Some(dir) if dir.exists() || dir.starts_with(bpffs::DEFAULT_ROOT) => Ok(()),
        _ => bpffs::check_pin_path(path),
    }
}

/// Remove the directories rbt made for link pins (under /sys/fs/bpf/rbt) once empty.
fn remove_empty_dirs(pin: &Path) {
    let top = Path::new(bpffs::DEFAULT_ROOT).join("rbt");
    let mut dir = pin.parent();
    while let Some(d) = dir {
        if !d.starts_with(&top) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn pin_link(fd: &OwnedFd, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.exists() && dir.starts_with(bpffs::DEFAULT_ROOT) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    bpf::obj_pin(fd.as_fd(), path)
}

// ---- attach ----

/// What was done on one interface, to report it or roll it back.
#[derive(Debug)]
enum Undo {
    Nothing,
    XdpDetach {
        ifindex: u32,
        mode_flags: u32,
        new: u32,
    },
    XdpRestore {
        ifindex: u32,
        mode_flags: u32,
        old: u32,
        new: u32,
    },
    XdpReattach {
        ifindex: u32,
        mode_flags: u32,
        prog: u32,
    },
    Link {
        fd: OwnedFd,
        pin: PathBuf,
    },
    Tc {
        ifindex: u32,
        dev: String,
        dir: Direction,
        slot: TcSlot,
        created_clsact: bool,
    },
    TcRestore {
        ifindex: u32,
        dir: Direction,
        slot: TcSlot,
        old: u32,
    },
    Tcx {
        ifindex: u32,
        dir: Direction,
        prog: u32,
    },
    TcxReattach {
        ifindex: u32,
        dir: Direction,
        prog: u32,
    },
}

impl Undo {
    fn run(self) {
        // Best effort: each step is independent; a failure leaves the rest to be tried.
        match self {
            Undo::Nothing => {}
            Undo::XdpDetach {
                ifindex,
                mode_flags,
                new,
            } => {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, new) {
                    let _ = kn::xdp_detach(ifindex, mode_flags, Some(fd.as_fd()));
                }
            }
            Undo::XdpRestore {
                ifindex,
                mode_flags,
                old,
                new,
            } => {
                if let (Ok(o), Ok(n)) = (
                    bpf::fd_by_id(Kind::Prog, old),
                    bpf::fd_by_id(Kind::Prog, new),
                ) {
                    let _ = kn::xdp_attach(ifindex, o.as_fd(), mode_flags, Some(n.as_fd()));
                }
            }
            Undo::XdpReattach {
                ifindex,
                mode_flags,
                prog,
            } => {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog) {
                    let flags = mode_flags | kn::XDP_FLAGS_UPDATE_IF_NOEXIST;
                    let _ = kn::xdp_attach(ifindex, fd.as_fd(), flags, None);
                }
            }
            Undo::Link { fd, pin } => {
                let _ = kn::link_detach(fd.as_fd());
                if std::fs::remove_file(&pin).is_ok() {
                    remove_empty_dirs(&pin);
                }
            }
            Undo::Tc {
                ifindex,
                dev,
                dir,
                slot,
                created_clsact,
            } => {
                let _ = kn::tc_detach(ifindex, dir, slot);
                if created_clsact {
                    let _ = remove_clsact_if_ours_and_empty(ifindex, &dev);
                }
            }
            Undo::TcRestore {
                ifindex,
                dir,
                slot,
                old,
            } => {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, old) {
                    // A detach may have removed an empty clsact rbt had created.
                    let _ = kn::clsact_create(ifindex);
                    let _ = kn::tc_attach(ifindex, dir, fd.as_fd(), slot, true);
                }
            }
            Undo::TcxReattach { ifindex, dir, prog } => {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog) {
                    let _ = kn::tcx_attach(ifindex, dir, fd.as_fd(), 0, None);
                }
            }
            Undo::Tcx { ifindex, dir, prog } => {
                if let Ok(fd) = bpf::fd_by_id(Kind::Prog, prog) {
                    let _ = kn::tcx_detach(ifindex, dir, fd.as_fd());
                }
            }
        }
    }
}

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
    message: String,
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

struct AttachCtx<'a> {
    t: AttachType,
    w: &'a Words,
    prog: &'a Resolved,
    info: &'a bpf::prog::ProgInfo,
    args: &'a NetAttachArgs,
    relative: Option<(u32, Resolved)>,
}

impl AttachCtx<'_> {
    /// The plain attach of this program to `dev`, before looking at what is attached there.
    fn planned_attach(&self, dev: &str, ifindex: u32) -> Change {
        Change {
            devname: dev.to_string(),
            ifindex,
            attach_type: self.t.word(),
            prog_id: self.prog.id,
            action: "attach".into(),
            replaces: None,
            message: String::new(),
        }
    }
}

fn xdp_mode_of(state: kn::XdpState, id: u32) -> Option<XdpMode> {
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

fn xdp_error(err: std::io::Error, dev: &str, mode: XdpMode, what: &str) -> anyhow::Error {
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

fn attach_xdp(c: &AttachCtx<'_>, mode: XdpMode, dev: &str, ifindex: u32) -> Result<(Change, Undo)> {
    let state = kn::xdp_query(ifindex)?;
    let (current, current_mode) = xdp_current(state, mode);
    let mut change = c.planned_attach(dev, ifindex);
    let label = program_label(c.info);
    if current == c.prog.id {
        change.action = "none".into();
        change.message = format!(
            "{label} is already attached to {dev} ({} mode); nothing changed",
            current_mode.word()
        );
        return Ok((change, Undo::Nothing));
    }
    if current != 0 && !c.w.overwrite {
        return Err(hinted(
            format!(
                "{dev} already has XDP program id {current} ({} mode)",
                current_mode.word()
            ),
            format!(
                "add `overwrite` to replace it atomically: rbt net attach {} {} dev {dev} overwrite",
                c.t.word(),
                handle_words(c.w.prog.as_ref(), c.prog.id)
            ),
        ));
    }
    if current != 0 {
        change.action = "replace".into();
        change.replaces = Some(current);
    }
    if c.args.dry_run {
        change.message = match change.replaces {
            Some(old) => format!("would replace XDP program id {old} on {dev} with {label}"),
            None => format!("would attach {label} to {dev} ({})", c.t.word()),
        };
        return Ok((change, Undo::Nothing));
    }
    let what = format!("attaching {label} to {dev} ({})", c.t.word());
    if c.args.link {
        if current != 0 {
            return Err(usage(
                "--link cannot replace an attached XDP program: detach it first",
            ));
        }
        let pin = link_pin_path(c, dev);
        check_link_pin(&pin)?;
        let fd = kn::link_create(
            ifindex,
            c.prog.fd.as_fd(),
            LinkTarget::Xdp(mode.flags()),
            None,
        )
        .map_err(|e| xdp_error(e, dev, mode, &what))?;
        if let Err(e) = pin_link(&fd, &pin) {
            let _ = kn::link_detach(fd.as_fd());
            remove_empty_dirs(&pin);
            return Err(e);
        }
        let landed = kn::xdp_query(ifindex)
            .ok()
            .and_then(|s| xdp_mode_of(s, c.prog.id))
            .unwrap_or(mode);
        change.message = format!(
            "attached {label} to {dev} ({} mode) through a bpf_link pinned at {}",
            landed.word(),
            pin.display()
        );
        return Ok((change, Undo::Link { fd, pin }));
    }
    if current != 0 {
        let old = bpf::fd_by_id(Kind::Prog, current)
            .with_context(|| format!("opening the attached program id {current}"))?;
        let mode_flags = current_mode.flags();
        kn::xdp_attach(ifindex, c.prog.fd.as_fd(), mode_flags, Some(old.as_fd()))
            .map_err(|e| xdp_error(e, dev, mode, &what))?;
        change.message = format!(
            "replaced XDP program id {current} on {dev} with {label} ({} mode)",
            current_mode.word()
        );
        return Ok((
            change,
            Undo::XdpRestore {
                ifindex,
                mode_flags,
                old: current,
                new: c.prog.id,
            },
        ));
    }
    kn::xdp_attach(
        ifindex,
        c.prog.fd.as_fd(),
        mode.flags() | kn::XDP_FLAGS_UPDATE_IF_NOEXIST,
        None,
    )
    .map_err(|e| xdp_error(e, dev, mode, &what))?;
    let landed = kn::xdp_query(ifindex)
        .ok()
        .and_then(|s| xdp_mode_of(s, c.prog.id))
        .unwrap_or(mode);
    change.message = format!("attached {label} to {dev} ({} mode)", landed.word());
    Ok((
        change,
        Undo::XdpDetach {
            ifindex,
            mode_flags: landed.flags(),
            new: c.prog.id,
        },
    ))
}

/// The PROG words to repeat in a hint.
fn handle_words(h: Option<&Handle>, id: u32) -> String {
    match h {
        Some(h) => h.to_string(),
        None => format!("id {id}"),
    }
}

fn link_pin_path(c: &AttachCtx<'_>, dev: &str) -> PathBuf {
    c.args
        .link_pin
        .clone()
        .unwrap_or_else(|| default_link_pin(c.args.netns.as_deref(), dev, c.t))
}

fn attach_tc(c: &AttachCtx<'_>, dir: Direction, dev: &str, ifindex: u32) -> Result<(Change, Undo)> {
    let label = program_label(c.info);
    let mut change = c.planned_attach(dev, ifindex);
    let filters = net_netlink::tc_filters(ifindex, dir)?;
    let in_slot = |f: &TcFilter| {
        c.w.prio.is_none_or(|p| p == f.priority) && c.w.handle.is_none_or(|h| h == f.handle)
    };
    if let Some(f) = filters
        .iter()
        .find(|f| f.prog_id == c.prog.id && in_slot(f))
    {
        change.action = "none".into();
        change.message = format!(
            "{label} is already attached to {dev} clsact/{} (prio {} handle {:#x}); nothing changed",
            dir.word(),
            f.priority,
            f.handle
        );
        return Ok((change, Undo::Nothing));
    }
    let occupant = match (c.w.prio, c.w.handle) {
        (Some(p), Some(h)) => filters
            .iter()
            .find(|f| f.priority == p && f.handle == h)
            .cloned(),
        _ => None,
    };
    if let Some(old) = &occupant {
        if !c.w.overwrite {
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
    if c.w.overwrite && (c.w.prio.is_none() || c.w.handle.is_none()) {
        return Err(usage(
            "tc overwrite needs `prio P handle H` (the filter to replace)",
        ));
    }
    if c.args.dry_run {
        change.message = format!(
            "would attach {label} to {dev} clsact/{} (prio {}, handle {})",
            dir.word(),
            c.w.prio.map_or("auto".into(), |p| p.to_string()),
            c.w.handle.map_or("auto".into(), |h| format!("{h:#x}"))
        );
        return Ok((change, Undo::Nothing));
    }
    let created = kn::clsact_create(ifindex)?;
    if created {
        if let Err(e) = mark_clsact_created(ifindex, dev) {
            let _ = kn::clsact_destroy(ifindex);
            return Err(e);
        }
    }
    let slot = TcSlot {
        priority: c.w.prio.unwrap_or(0),
        handle: c.w.handle.unwrap_or(0),
    };
    let what = format!("attaching {label} to {dev} clsact/{}", dir.word());
    let used = match kn::tc_attach(ifindex, dir, c.prog.fd.as_fd(), slot, occupant.is_some()) {
        Ok(s) => s,
        Err(e) => {
            if created {
                let _ = remove_clsact_if_ours_and_empty(ifindex, dev);
            }
            if e.raw_os_error() == Some(libc::EEXIST) {
                return Err(hinted(
                    format!("{what}: that prio/handle is taken ({e})"),
                    "add `overwrite` to replace it, or choose another prio/handle",
                ));
            }
            return Err(bpf::kernel_error(e, what));
        }
    };
    change.message = format!(
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
    if let Some(old) = occupant {
        change.message = format!("{} replacing program id {}", change.message, old.prog_id);
        // Rolling back a replace puts the old program back in the same slot.
        return Ok((
            change,
            Undo::TcRestore {
                ifindex,
                dir,
                slot: used,
                old: old.prog_id,
            },
        ));
    }
    Ok((
        change,
        Undo::Tc {
            ifindex,
            dev: dev.to_string(),
            dir,
            slot: used,
            created_clsact: created,
        },
    ))
}

fn attach_tcx(
    c: &AttachCtx<'_>,
    dir: Direction,
    dev: &str,
    ifindex: u32,
) -> Result<(Change, Undo)> {
    let label = program_label(c.info);
    let mut change = c.planned_attach(dev, ifindex);
    let chain = kn::tcx_query(ifindex, dir)?;
    if chain.iter().any(|e| e.prog_id == c.prog.id) {
        change.action = "none".into();
        change.message = format!(
            "{label} is already attached to {dev} tcx/{}; nothing changed",
            dir.word()
        );
        return Ok((change, Undo::Nothing));
    }
    let (flags, relative, place) = match (&c.relative, c.args.before.is_some(), c.w.prepend) {
        (Some((_, r)), true, _) => (
            kn::BPF_F_BEFORE,
            Some(r.fd.as_fd()),
            format!("before id {}", r.id),
        ),
        (Some((_, r)), false, _) => (
            kn::BPF_F_AFTER,
            Some(r.fd.as_fd()),
            format!("after id {}", r.id),
        ),
        (None, _, true) => (kn::BPF_F_BEFORE, None, "first".to_string()),
        (None, _, false) => (0, None, "last".to_string()),
    };
    if let Some((_, r)) = &c.relative {
        if !chain.iter().any(|e| e.prog_id == r.id) {
            return Err(anyhow::anyhow!(
                "program id {} is not in the tcx/{} chain of {dev}",
                r.id,
                dir.word()
            ));
        }
    }
    if c.args.dry_run {
        change.message = format!("would attach {label} to {dev} tcx/{} ({place})", dir.word());
        return Ok((change, Undo::Nothing));
    }
    let what = format!("attaching {label} to {dev} tcx/{}", dir.word());
    if c.args.link {
        let pin = link_pin_path(c, dev);
        check_link_pin(&pin)?;
        let fd = kn::link_create(
            ifindex,
            c.prog.fd.as_fd(),
            LinkTarget::Tcx(dir, flags),
            relative,
        )
        .map_err(|e| bpf::kernel_error(e, what.clone()))?;
        if let Err(e) = pin_link(&fd, &pin) {
            let _ = kn::link_detach(fd.as_fd());
            remove_empty_dirs(&pin);
            return Err(e);
        }
        change.message = format!(
            "attached {label} to {dev} tcx/{} ({place}) through a bpf_link pinned at {}",
            dir.word(),
            pin.display()
        );
        return Ok((change, Undo::Link { fd, pin }));
    }
    kn::tcx_attach(ifindex, dir, c.prog.fd.as_fd(), flags, relative)
        .map_err(|e| bpf::kernel_error(e, what))?;
    change.message = format!("attached {label} to {dev} tcx/{} ({place})", dir.word());
    Ok((
        change,
        Undo::Tcx {
            ifindex,
            dir,
            prog: c.prog.id,
        },
    ))
}

fn attach(args: &NetAttachArgs, _g: &Globals, out: &mut Output) -> Result<()> {
    let t = AttachType::parse(&args.attach_type)?;
    let w = parse_words(&args.rest)?;
    check_words_fit(t, &w, args.link)?;
    if (args.before.is_some() || args.after.is_some()) && !matches!(t, AttachType::Tcx(_)) {
        return Err(usage("--before/--after are for tcx_ingress/tcx_egress"));
    }
    if args.link_pin.is_some() && w.devs.len() > 1 {
        return Err(usage("--link-pin names one pin: give one `dev IF`"));
    }
    let relative = match args.before.as_deref().or(args.after.as_deref()) {
        Some(word) => {
            let h = parse_one_word_handle(word)?;
            let r = handle::resolve_one(Kind::Prog, &h)?;
            Some((r.id, r))
        }
        None => None,
    };
    if args.link {
        bpffs::ensure_mounted(false)?;
    }
    // Explicit programs are resolved before entering the namespace; a PROG left out needs
    // the namespace's attachments, so it is picked inside.
    let explicit = match &w.prog {
        Some(h) => {
            let r = handle::resolve_one(Kind::Prog, h)?;
            let info = check_prog_type(t, &r.fd)?;
            Some((r, info))
        }
        None => None,
    };
    let _ns = match &args.netns {
        Some(n) => Some(NetnsGuard::enter(n)?),
        None => None,
    };
    let (prog, info) = match explicit {
        Some(p) => p,
        None => resolve_prog(t, &w)?,
    };
    // Every interface must exist before anything changes.
    let mut targets = Vec::new();
    for dev in &w.devs {
        targets.push((dev.clone(), kn::ifindex(dev)?));
    }
    let ctx = AttachCtx {
        t,
        w: &w,
        prog: &prog,
        info: &info,
        args,
        relative,
    };
    let mut done: Vec<Undo> = Vec::new();
    let mut changes = Vec::new();
    for (dev, ifindex) in &targets {
        let result = match t {
            AttachType::Xdp(mode) => attach_xdp(&ctx, mode, dev, *ifindex),
            AttachType::Tc(dir) => attach_tc(&ctx, dir, dev, *ifindex),
            AttachType::Tcx(dir) => attach_tcx(&ctx, dir, dev, *ifindex),
        };
        match result {
            Ok((change, undo)) => {
                changes.push(change);
                done.push(undo);
            }
            Err(e) => {
                let rolled = done.len();
                for undo in done.into_iter().rev() {
                    undo.run();
                }
                let e = if rolled > 0 {
                    e.context(format!(
                        "{dev}: attach failed; rolled back the {rolled} interface(s) done before it"
                    ))
                } else {
                    e
                };
                return Err(e);
            }
        }
    }
    report(args.dry_run, &changes, out)
}

fn report(dry_run: bool, changes: &[Change], out: &mut Output) -> Result<()> {
    if dry_run && out.is_json() {
        return Ok(out.list(changes)?);
    }
    let text: Vec<&str> = changes.iter().map(|c| c.message.as_str()).collect();
    out.done(Some(&text.join("\n")))?;
    Ok(())
}

// ---- detach ----

fn detach(args: &NetDetachArgs, out: &mut Output) -> Result<()> {
    let t = AttachType::parse(&args.attach_type)?;
    let w = parse_words(&args.rest)?;
    if w.overwrite || w.prepend {
        return Err(usage("overwrite and prepend are for attach"));
    }
    if (w.prio.is_some() || w.handle.is_some()) && !matches!(t, AttachType::Tc(_)) {
        return Err(usage("prio and handle are for tc_ingress/tc_egress"));
    }
    let wanted = match &w.prog {
        Some(h) => Some(handle::resolve_one(Kind::Prog, h)?.id),
        None => None,
    };
    let _ns = match &args.netns {
        Some(n) => Some(NetnsGuard::enter(n)?),
        None => None,
    };
    let mut targets = Vec::new();
    for dev in &w.devs {
        targets.push((dev.clone(), kn::ifindex(dev)?));
    }
    // Find every interface's attachment first: a missing one fails before anything changes.
    let mut plans = Vec::new();
    for (dev, ifindex) in &targets {
        plans.push(plan_detach(t, &w, wanted, dev, *ifindex)?);
    }
    let mut changes = Vec::new();
    let mut done: Vec<Undo> = Vec::new();
    for plan in plans {
        if args.dry_run {
            changes.push(plan.change(true));
            continue;
        }
        match run_detach(&plan) {
            Ok(undo) => {
                changes.push(plan.change(false));
                done.push(undo);
            }
            Err(e) => {
                for undo in done.into_iter().rev() {
                    undo.run();
                }
                return Err(e);
            }
        }
    }
    report(args.dry_run, &changes, out)
}

#[derive(Debug)]
enum DetachWhat {
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
struct DetachPlan {
    dev: String,
    ifindex: u32,
    t: AttachType,
    what: DetachWhat,
}

impl DetachPlan {
    fn prog_id(&self) -> u32 {
        match &self.what {
            DetachWhat::Xdp { prog, .. } | DetachWhat::Tcx { prog, .. } => *prog,
            DetachWhat::Tc { filter, .. } => filter.prog_id,
        }
    }

    fn change(&self, dry_run: bool) -> Change {
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
            attach_type: self.t.word(),
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

fn plan_detach(
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
                return Err(nothing_attached(t.word(), dev));
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
                [] => return Err(nothing_attached(t.word(), dev)),
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

fn run_detach(plan: &DetachPlan) -> Result<Undo> {
    let dev = &plan.dev;
    let ifindex = plan.ifindex;
    match &plan.what {
        DetachWhat::Xdp { mode, prog } => {
            let fd = bpf::fd_by_id(Kind::Prog, *prog)?;
            let what = format!("detaching XDP program id {prog} from {dev}");
            match kn::xdp_detach(ifindex, mode.flags(), Some(fd.as_fd())) {
                Ok(()) => Ok(Undo::XdpReattach {
                    ifindex,
                    mode_flags: mode.flags(),
                    prog: *prog,
                }),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // Held by a bpf_link: detach the link and remove its pins.
                    let links = find_links(kn::LINK_TYPE_XDP, ifindex, *prog);
                    let Some((id, lfd)) = links.first() else {
                        return Err(xdp_error(e, dev, *mode, &what));
                    };
                    detach_link(*id, lfd)?;
                    Ok(Undo::Nothing)
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
            remove_clsact_if_ours_and_empty(ifindex, dev)?;
            Ok(Undo::TcRestore {
                ifindex,
                dir: *dir,
                slot,
                old: filter.prog_id,
            })
        }
        DetachWhat::Tcx { dir, prog, link } => {
            if *link != 0 {
                let lfd = bpf::fd_by_id(Kind::Link, *link)?;
                detach_link(*link, &lfd)?;
                return Ok(Undo::Nothing);
            }
            let fd = bpf::fd_by_id(Kind::Prog, *prog)?;
            kn::tcx_detach(ifindex, *dir, fd.as_fd()).map_err(|e| {
                bpf::kernel_error(
                    e,
                    format!("detaching program id {prog} from {dev} tcx/{}", dir.word()),
                )
            })?;
            Ok(Undo::TcxReattach {
                ifindex,
                dir: *dir,
                prog: *prog,
            })
        }
    }
}

// ---- show ----

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

#[derive(Debug, Serialize)]
pub struct NetDoc {
    pub xdp: Vec<XdpRecord>,
    pub tc: Vec<TcRecord>,
    pub flow_dissector: Vec<serde_json::Value>,
    pub netfilter: Vec<serde_json::Value>,
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
        doc.flow_dissector.push(serde_json::json!({ "id": id }));
    }
    doc.netfilter = netfilter_links();
    Ok(doc)
}

/// Netfilter links, as bpftool lists them: sorted by pf, hook, prio.
fn netfilter_links() -> Vec<serde_json::Value> {
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
            found.push(((pf, hook, prio, flags), prog_id));
        }
    }
    found.sort_by_key(|((pf, hook, prio, _), _)| (*pf, *hook, *prio));
    found
        .into_iter()
        .map(|((pf, hook, prio, flags), id)| {
            serde_json::json!({ "pf": pf, "hook": hook, "prio": prio, "flags": flags, "id": id })
        })
        .collect()
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
        let id = f["id"].as_u64().unwrap_or(0) as u32;
        rows.push(NetRow {
            dev: "-".into(),
            attach: "flow_dissector".into(),
            prog_id: id,
            name: prog_name(id),
            detail: String::new(),
        });
    }
    for n in &doc.netfilter {
        let id = n["id"].as_u64().unwrap_or(0) as u32;
        rows.push(NetRow {
            dev: "-".into(),
            attach: "netfilter".into(),
            prog_id: id,
            name: prog_name(id),
            detail: format!("pf {} hook {} prio {}", n["pf"], n["hook"], n["prio"]),
        });
    }
    rows
}

fn show(words: &[String], netns: Option<&str>, out: &mut Output) -> Result<()> {
    let dev = match words {
        [] => None,
        [d, name] if d == "dev" => Some(name.as_str()),
        _ => return Err(usage("net show: expected nothing or `dev IF`")),
    };
    let doc = {
        let _ns = match netns {
            Some(n) => Some(NetnsGuard::enter(n)?),
            None => None,
        };
        collect(dev)?
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

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn attach_words_parse() {
        let w = parse_words(&words("id 7 dev a dev b overwrite")).unwrap_or_default();
        assert_eq!(w.prog, Some(Handle::Id(7)));
        assert_eq!(w.devs, ["a", "b"]);
        assert!(w.overwrite);
        let w = parse_words(&words("dev a prio 3 handle 0x10")).unwrap_or_default();
        assert_eq!(w.prog, None);
        assert_eq!((w.prio, w.handle), (Some(3), Some(16)));
        let w = parse_words(&words("/sys/fs/bpf/p dev a")).unwrap_or_default();
        assert_eq!(w.prog, Some(Handle::Pinned("/sys/fs/bpf/p".into())));
        let w = parse_words(&words("dev a id 9")).unwrap_or_default();
        assert_eq!(
            (w.prog, w.devs),
            (Some(Handle::Id(9)), vec!["a".to_string()])
        );
        assert!(parse_words(&words("id 1 dev a id 2")).is_err());
    }

    #[test]
    fn bad_attach_words_are_usage_errors() {
        for bad in [
            "id 7",
            "dev",
            "id 7 dev a bogus",
            "dev a dev a",
            "dev a prio x",
            "dev a prio 0",
        ] {
            let err = parse_words(&words(bad)).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
        assert!(AttachType::parse("xdpx").is_err());
    }

    #[test]
    fn one_word_handles() {
        assert_eq!(parse_one_word_handle("id=7").ok(), Some(Handle::Id(7)));
        assert_eq!(
            parse_one_word_handle("/sys/fs/bpf/x").ok(),
            Some(Handle::Pinned("/sys/fs/bpf/x".into()))
        );
        assert!(parse_one_word_handle("id").is_err());
    }

    #[test]
    fn type_words_round_trip() {
        for w in TYPES.split(", ") {
            assert_eq!(
                AttachType::parse(w).map(|t| t.word()).ok().as_deref(),
                Some(w)
            );
        }
    }
}
