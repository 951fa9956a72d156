// The words of `net` verbs: every parse of the command line's Vec<String> into the typed
// requests the verbs run on (attach types, PROG, `dev IF`, options), kept here alone so the
// parser can be swapped without touching what the verbs do.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::bpf::net::{self as kn, Direction};
use crate::bpf::Kind;
use crate::cli::{NetAttachArgs, NetWords};
use crate::error::usage;
use crate::grammar::words::{NetAttachType, Word};
use crate::grammar::{self, Matches};
use crate::handle::{self, Handle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    Auto,
    Generic,
    Driver,
    Offload,
}

impl XdpMode {
    pub fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Generic => kn::XDP_FLAGS_SKB_MODE,
            XdpMode::Driver => kn::XDP_FLAGS_DRV_MODE,
            XdpMode::Offload => kn::XDP_FLAGS_HW_MODE,
        }
    }

    /// bpftool's mode word in `net show`.
    pub fn word(self) -> &'static str {
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

impl AttachType {
    /// The attach type a grammar word names.
    pub fn of(word: NetAttachType) -> AttachType {
        match word {
            NetAttachType::Xdp => AttachType::Xdp(XdpMode::Auto),
            NetAttachType::XdpGeneric => AttachType::Xdp(XdpMode::Generic),
            NetAttachType::XdpDrv => AttachType::Xdp(XdpMode::Driver),
            NetAttachType::XdpOffload => AttachType::Xdp(XdpMode::Offload),
            NetAttachType::TcIngress => AttachType::Tc(Direction::Ingress),
            NetAttachType::TcEgress => AttachType::Tc(Direction::Egress),
            NetAttachType::TcxIngress => AttachType::Tcx(Direction::Ingress),
            NetAttachType::TcxEgress => AttachType::Tcx(Direction::Egress),
        }
    }

    /// The word that names it on the command line (`tc_ingress`).
    pub fn word(self) -> &'static str {
        NetAttachType::ALL
            .iter()
            .find(|w| AttachType::of(**w) == self)
            .map_or("", |w| w.word())
    }

    /// The program types that fit this attach type.
    pub fn prog_types(self) -> &'static [&'static str] {
        match self {
            AttachType::Xdp(_) => &["xdp"],
            AttachType::Tc(_) | AttachType::Tcx(_) => &["sched_cls"],
        }
    }
}

/// `[PROG] dev IF [dev IF].. [overwrite|prepend] [prio P] [handle H]`.
#[derive(Debug, Default, PartialEq)]
pub struct Words {
    pub prog: Option<Handle>,
    pub devs: Vec<String>,
    pub overwrite: bool,
    pub prepend: bool,
    pub prio: Option<u32>,
    pub handle: Option<u32>,
}

/// Where a tcx program goes relative to another (`--before PROG` / `--after PROG`).
#[derive(Debug, PartialEq)]
pub enum Relative {
    Before(Handle),
    After(Handle),
}

/// `net attach`, parsed and checked.
#[derive(Debug)]
pub struct AttachRequest {
    pub t: AttachType,
    pub w: Words,
    pub relative: Option<Relative>,
    pub netns: Option<String>,
    pub link: bool,
    pub link_pin: Option<PathBuf>,
    pub dry_run: bool,
}

/// `net detach`, parsed and checked.
#[derive(Debug)]
pub struct DetachRequest {
    pub t: AttachType,
    pub w: Words,
    pub netns: Option<String>,
    pub dry_run: bool,
}

pub fn attach(args: &NetAttachArgs) -> Result<AttachRequest> {
    let m = grammar::parse("net", "attach", &args.common.words)?;
    let t = attach_type(&m)?;
    let w = parse_words(&m)?;
    check_words_fit(t, &w, args.link)?;
    if (args.before.is_some() || args.after.is_some()) && !matches!(t, AttachType::Tcx(_)) {
        return Err(usage("--before/--after are for tcx_ingress/tcx_egress"));
    }
    if args.link_pin.is_some() && w.devs.len() > 1 {
        return Err(usage("--link-pin names one pin: give one `dev IF`"));
    }
    let relative = match (&args.before, &args.after) {
        (Some(word), _) => Some(Relative::Before(parse_one_word_handle(word)?)),
        (None, Some(word)) => Some(Relative::After(parse_one_word_handle(word)?)),
        (None, None) => None,
    };
    Ok(AttachRequest {
        t,
        w,
        relative,
        netns: args.common.netns.clone(),
        link: args.link,
        link_pin: args.link_pin.clone(),
        dry_run: args.common.dry_run,
    })
}

pub fn detach(args: &NetWords) -> Result<DetachRequest> {
    let m = grammar::parse("net", "detach", &args.words)?;
    let t = attach_type(&m)?;
    let w = parse_words(&m)?;
    if (w.prio.is_some() || w.handle.is_some()) && !matches!(t, AttachType::Tc(_)) {
        return Err(usage("prio and handle are for tc_ingress/tc_egress"));
    }
    Ok(DetachRequest {
        t,
        w,
        netns: args.netns.clone(),
        dry_run: args.dry_run,
    })
}

/// `net show [dev IF]`: the interface, if one is named.
pub fn show(words: &[String]) -> Result<Option<String>> {
    Ok(grammar::parse("net", "show", words)?
        .text("dev")
        .map(str::to_owned))
}

fn attach_type(m: &Matches) -> Result<AttachType> {
    m.choice::<NetAttachType>("ATTACH_TYPE")?
        .map(AttachType::of)
        .ok_or_else(|| usage("expected ATTACH_TYPE"))
}

/// The words after ATTACH_TYPE, checked beyond what the grammar says.
fn parse_words(m: &Matches) -> Result<Words> {
    let w = Words {
        prog: m.handle("PROG")?,
        devs: m.texts("dev"),
        overwrite: m.has("overwrite"),
        prepend: m.has("prepend"),
        prio: m.number::<u32>("prio")?,
        handle: m.number::<u32>("handle")?,
    };
    if let Some(p) = w.prio.filter(|p| *p == 0 || *p > 0xffff) {
        return Err(usage(format!("prio {p}: expected 1..65535")));
    }
    if w.handle == Some(0) {
        return Err(usage("handle 0: expected a non-zero handle"));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = w.devs.iter().find(|d| !seen.insert(d.as_str())) {
        return Err(usage(format!("interface `{dup}` is named twice")));
    }
    Ok(w)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Result<Words> {
        let words: Vec<String> = format!("xdp {line}")
            .split_whitespace()
            .map(String::from)
            .collect();
        parse_words(&grammar::parse("net", "attach", &words)?)
    }

    #[test]
    fn attach_words_parse() {
        let w = words("id 7 dev a dev b overwrite").unwrap_or_default();
        assert_eq!(w.prog, Some(Handle::Id(7)));
        assert_eq!(w.devs, ["a", "b"]);
        assert!(w.overwrite);
        let w = words("dev a prio 3 handle 0x10").unwrap_or_default();
        assert_eq!(w.prog, None);
        assert_eq!((w.prio, w.handle), (Some(3), Some(16)));
        let w = words("/sys/fs/bpf/p dev a").unwrap_or_default();
        assert_eq!(w.prog, Some(Handle::Pinned("/sys/fs/bpf/p".into())));
        let w = words("dev a id 9").unwrap_or_default();
        assert_eq!(
            (w.prog, w.devs),
            (Some(Handle::Id(9)), vec!["a".to_string()])
        );
        assert!(words("id 1 dev a id 2").is_err());
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
            "dev a prio 65536",
            "dev a handle -1",
        ] {
            let err = words(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
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
        for w in NetAttachType::ALL {
            assert_eq!(AttachType::of(*w).word(), w.word());
        }
    }
}
